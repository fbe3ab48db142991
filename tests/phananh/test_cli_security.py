"""`phananh keys`, `phananh purge`, `phananh audit verify`, and a clear refusal to start without keys."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import Session, select
from typer.testing import CliRunner

from intake import audit
from intake.models import AuditEntry, Case, ChatLink, utcnow
from phananh.cli import app
from tests.intake.security_helpers import Keys, file_full_report, keys  # noqa: F401

runner = CliRunner()
STRONG = "Zq3vN8rT1xLw5yB0cF7hJ2kM9pS4dG6uA_e-QiRoYt0"  # 43 url-safe characters: 32 random bytes
ROOT = Path(__file__).resolve().parents[2]


def _run_serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`phananh serve` in a clean environment (no .env) with the given settings."""
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PHANANH_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "phananh.cli", "serve", "--no-migrate"],
        env={**base, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "PHANANH_SECRET_KEY"),
        ({"PHANANH_SECRET_KEY": STRONG}, "PHANANH_ENCRYPTION_KEYS"),
        ({"PHANANH_SECRET_KEY": STRONG, "PHANANH_ENCRYPTION_KEYS": "not-a-key"}, "not a valid Fernet key"),
        ({"PHANANH_SECRET_KEY": STRONG, "PHANANH_ENCRYPTION_KEY_FILE": "/nonexistent/keys"}, "key file unreadable"),
    ],
)
def test_serve_in_production_without_keys_exits_with_a_message(tmp_path: Path, env: dict[str, str], says: str) -> None:
    """No secret, no key, a malformed key or a missing key file: exit status 2, one plain line, no traceback."""
    done = _run_serve(tmp_path, PHANANH_ENV="production", **env)
    assert done.returncode == 2
    assert "phananh cannot start" in done.stderr and says in done.stderr
    assert "Traceback" not in done.stderr and "not-a-key" not in done.stderr


def test_keys_generate_prints_a_fernet_key() -> None:
    """The printed key is accepted by Fernet, and two runs differ."""
    first, second = (runner.invoke(app, ["keys", "generate"]) for _ in range(2))
    assert first.exit_code == 0 and first.stdout != second.stdout
    Fernet(first.stdout.strip().encode())


def test_keys_rotate_reports_counts_and_is_harmless_twice(db: Session, keys: Keys) -> None:
    """Under "B,A" the command re-encrypts what A sealed and says so; run again, it re-encrypts nothing."""
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys.use(key_a)
    file_full_report(db)
    keys.use(key_b, key_a)
    first = runner.invoke(app, ["keys", "rotate", "--batch-size", "1"])
    assert first.exit_code == 0, first.output
    assert "reporter_identities.name_enc: 1 re-encrypted" in first.stdout
    assert "chat_links.handle_enc: 1 re-encrypted" in first.stdout
    assert "evidence_chunks.data_enc: 1 re-encrypted" in first.stdout and "reporter_identities: 1/1" in first.stdout
    keys.use(key_b)
    second = runner.invoke(app, ["keys", "rotate"])
    assert second.exit_code == 0 and "reporter_identities.name_enc: 0 re-encrypted" in second.stdout
    assert "evidence_chunks.data_enc: 0 re-encrypted" in second.stdout and "Done" in second.stdout


def test_keys_rotate_fails_loudly_when_a_value_cannot_be_opened(db: Session, keys: Keys) -> None:
    """A value under a key that is no longer configured: exit status 1, and the advice to keep the old keys."""
    keys.use(Fernet.generate_key().decode())
    file_full_report(db)
    keys.use(Fernet.generate_key().decode())
    done = runner.invoke(app, ["keys", "rotate", "--quiet"])
    assert done.exit_code == 1 and "could not be decrypted" in done.output and "Keep the old keys" in done.output


def test_purge_dry_run_then_purge(db: Session) -> None:
    """--dry-run reports and leaves the handle; the real run removes it; --days overrides the setting."""
    full = file_full_report(db)
    case = db.get(Case, full.filed.case.id)
    assert case is not None
    case.status, case.closed_at = "closed", utcnow() - timedelta(days=5)
    db.commit()
    kept = runner.invoke(app, ["purge", "--days", "30"])
    assert kept.exit_code == 0 and "purged: 0 cases" in kept.stdout
    dry = runner.invoke(app, ["purge", "--dry-run", "--days", "3"])
    assert dry.exit_code == 0 and "would purge: 1 cases" in dry.stdout and "1 chat handles" in dry.stdout
    assert db.exec(select(ChatLink)).first() is not None
    real = runner.invoke(app, ["purge", "--days", "3"])
    assert real.exit_code == 0 and "purged: 1 cases" in real.stdout and "1 evidence files, 1 phone numbers" in real.stdout
    db.expire_all()
    assert db.exec(select(ChatLink)).first() is None


def _chain(db: Session, n: int = 5) -> list[AuditEntry]:
    rows = [audit.record(db, f"test.{i}", details={"n": i}) for i in range(n)]
    db.commit()
    return rows


def _sql(db: Session, statement: sa.Executable) -> None:
    db.execute(statement)  # type: ignore[call-overload]
    db.commit()
    db.expire_all()


def test_audit_verify_ok_then_an_edited_row(db: Session, keys: Keys) -> None:
    """An intact log prints OK with the count; an edit made in the database is named by row, exit status 1."""
    rows = _chain(db)
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and ok.stdout.startswith("OK: 5 rows verified; head ") and str(rows[-1].row_hash) in ok.stdout
    _sql(db, sa.update(AuditEntry).where(AuditEntry.id == rows[2].id).values(action="test.other"))  # type: ignore[arg-type]
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1 and f"TAMPERED: row {rows[2].id}: row content does not match its hash" in bad.stdout


def test_audit_verify_finds_a_deleted_middle_row(db: Session, keys: Keys) -> None:
    """Deleting a row in the middle breaks the link of the next one."""
    rows = _chain(db)
    _sql(db, sa.delete(AuditEntry).where(AuditEntry.id == rows[1].id))  # type: ignore[arg-type]
    bad = runner.invoke(app, ["audit", "verify", "--no-checkpoint"])
    assert bad.exit_code == 1 and f"row {rows[2].id}: chain broken" in bad.stdout


def test_audit_verify_finds_a_deleted_last_row_only_with_a_checkpoint(db: Session, keys: Keys) -> None:
    """The last row deleted: the bare chain passes; the checkpoint from the previous run (or --expect) does not."""
    rows = _chain(db)
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0  # saves the head
    head = f"{rows[-1].id}:{rows[-1].row_hash}"
    _sql(db, sa.delete(AuditEntry).where(AuditEntry.id == rows[-1].id))  # type: ignore[arg-type]
    assert runner.invoke(app, ["audit", "verify", "--no-checkpoint"]).exit_code == 0
    expect = runner.invoke(app, ["audit", "verify", "--no-checkpoint", "--expect", head])
    assert expect.exit_code == 1 and "removed from the end" in expect.stdout
    saved = runner.invoke(app, ["audit", "verify"])
    assert saved.exit_code == 1 and f"row {rows[-1].id}" in saved.stdout
    assert runner.invoke(app, ["audit", "verify", "--expect", "nonsense"]).exit_code == 2
