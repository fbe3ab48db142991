"""`phananh staff` commands for the admin's accounts."""

from __future__ import annotations

import typer
from sqlmodel import Session, select
from typer.testing import CliRunner

from intake.models import AuditEntry, StaffRole, StaffUser
from phananh.commands.staff import register
from tests.admin.conftest import BEN_THANH, make_staff


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_reset_totp_forgets_the_second_factor(db: Session) -> None:
    """`staff reset-totp` removes the secret and audits it; an unknown name exits with an error."""
    account = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR)
    assert account.user.totp_secret_enc is not None
    runner = CliRunner()
    result = runner.invoke(_app(), ["reset-totp", "ct"])
    assert result.exit_code == 0, result.output
    db.expire_all()
    assert db.exec(select(StaffUser).where(StaffUser.username == "ct")).one().totp_secret_enc is None
    assert db.exec(select(AuditEntry).where(AuditEntry.action == "staff.totp_reset")).first() is not None
    assert runner.invoke(_app(), ["reset-totp", "khong-co"]).exit_code == 2
