"""`phananh staff` commands for the admin's accounts."""

from __future__ import annotations

import re

import pyotp
import pytest
import typer
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from intake.models import AuditEntry, StaffRole, StaffUser
from phananh.cli import ensure_first_admin
from phananh.commands.staff import register
from phananh.web import create_app
from tests.admin.conftest import BEN_THANH, committee, csrf_of, login, make_staff


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


def test_the_first_admin_signs_in_to_the_accounts_and_staffs_the_system(db: Session, capsys: pytest.CaptureFixture[str]) -> None:
    """`serve`'s first admin enrolls a second factor, lands on the accounts and adds an officer and a chair who can work."""
    ensure_first_admin()
    password = re.search(r"password: (\S+)", capsys.readouterr().out).group(1)  # type: ignore[union-attr]
    client = TestClient(create_app())
    page = client.get("/admin/login")
    r = client.post("/admin/login", data={"username": "admin", "password": password, "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.headers["location"] == "/admin/login/totp"
    page = client.get("/admin/login/totp")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)  # type: ignore[union-attr]
    r = client.post("/admin/login/totp", data={"code": pyotp.TOTP(secret).now(), "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.headers["location"] == "/admin/accounts"
    token = csrf_of(client.get("/admin/accounts").text)
    made = {}
    for username, role in (("can_bo_phuong", "officer"), ("chu_tich_phuong", "chair")):
        r = client.post("/admin/accounts", data={"csrf": token, "username": username, "role": role, "committee": BEN_THANH})
        found = re.search(r"<code>([^<]+)</code>", r.text[r.text.index('id="new-password"'):])
        assert r.status_code == 200 and found, username
        made[username] = found.group(1)
    officer = TestClient(create_app())
    assert login(officer, "can_bo_phuong", made["can_bo_phuong"])
    assert officer.get("/admin", follow_redirects=False).status_code == 200  # the officer's home is the queue
    db.expire_all()
    chair = db.exec(select(StaffUser).where(StaffUser.username == "chu_tich_phuong")).one()
    assert chair.role == StaffRole.CHAIR.value and chair.committee_id == committee(db, BEN_THANH).id
    ensure_first_admin()  # staff exist now: no second admin, no password printed
    assert "password" not in capsys.readouterr().out
    assert len(db.exec(select(StaffUser).where(StaffUser.role == StaffRole.ADMIN.value)).all()) == 1
