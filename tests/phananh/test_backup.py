"""`phananh backup` of a running instance, `phananh restore` on a fresh database and var dir (issue 18, part 3)."""

from __future__ import annotations

import io
import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from tests.bot.test_webchat import _say
from tests.servers import ROOT, command_env, phananh, serving

PG_URL = os.environ.get("PHANANH_TEST_DATABASE_URL", "")
PASSPHRASE = "mật khẩu sao lưu của Ủy ban 2026"
NAME, PHONE = "Lê Thị Sao Lưu", "0909123456"


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database for the running instance and an empty one to restore into."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old' / 'db.sqlite3'}", f"sqlite:///{tmp_path / 'new' / 'db.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip("needs PostgreSQL (PHANANH_TEST_DATABASE_URL)")
    base = sa.engine.make_url(PG_URL).set(drivername="postgresql+psycopg")
    names = [f"{base.database}_backup_{side}_{secrets.token_hex(4)}" for side in ("old", "new")]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        urls = [base.set(database=name).set(drivername="postgresql").render_as_string(hide_password=False) for name in names]
        yield urls[0], urls[1]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _confidential_report(url: str) -> tuple[str, str]:
    """A confidential report with a photo through the running server's web chat; its receipt and passphrase."""
    photo = io.BytesIO()
    Image.new("RGB", (20, 14), (10, 80, 160)).save(photo, "JPEG")
    with httpx.Client(base_url=url, timeout=60) as client:
        # The story names the post and the agency: confirmed with «đúng»; buttons pressed where they were shown.
        steps = [{"resume": True}, {"button": "menu:report"}, {"button": "mode:confidential"},
                 {"text": "Chủ tịch UBND phường nhận tiền của doanh nghiệp để cấp phép xây dựng"}, {"text": "đúng"},
                 {"button": "cat:7"}, {"button": "skip"}, {"text": "phường Bến Thành, TP Hồ Chí Minh"},
                 {"button": "setting:workplace"}, {"button": "unknown"}]  # fmt: skip
        for body in steps:
            _say(client, **body)
        upload = client.post("/api/chat/upload", files={"file": ("a.jpg", photo.getvalue(), "image/jpeg")})
        assert upload.status_code == 200
        client.last_replies = upload.json()["replies"]  # type: ignore[attr-defined]
        for body in ({"button": "done"}, {"text": NAME}, {"text": PHONE}, {"button": "send"}):
            replies = _say(client, **body)
    filed = next(r for r in replies if r.get("receipt"))
    return str(filed["receipt"]), str(filed["passphrase"])


def check_restored(receipt: str) -> None:
    """Run in a child process on the restored settings: prints what the chair and the evidence store give back."""
    from sqlmodel import Session, select

    from intake.attachments import read_attachment
    from intake.casework.actions import view_identity
    from intake.db import get_engine
    from intake.models import Attachment, Case, StaffUser
    from intake.receipts import receipt_hash

    with Session(get_engine()) as session:
        case = session.exec(select(Case).where(Case.receipt_hash == receipt_hash(receipt))).one()
        chair = session.exec(select(StaffUser).where(StaffUser.username == "chu_tich")).one()
        identity = view_identity(session, case=case, actor=chair, reason="Xác minh sau khi khôi phục")
        photo = read_attachment(session.exec(select(Attachment).where(Attachment.case_id == case.id)).one(), session)
        session.commit()
        print(json.dumps({"name": identity.name, "phone": identity.phone, "photo": photo[:2].hex()}))


def test_a_backup_of_a_running_instance_restores_on_a_fresh_database(databases: tuple[str, str], tmp_path: Path) -> None:
    """Backed up while serving, restored into an empty database and var dir: the receipt looks up, the photo
    decrypts, the chair opens the identity, and the audit chain verifies; a wrong passphrase restores nothing."""
    old_url, new_url = databases
    old = command_env(tmp_path / "old", PHANANH_DATABASE_URL=old_url, PHANANH_SECRET_KEY="backup-test-secret-" + "x7Kq2" * 6)
    new = command_env(tmp_path / "new", PHANANH_DATABASE_URL=new_url, PHANANH_SECRET_KEY=old["PHANANH_SECRET_KEY"])
    archive = tmp_path / "phananh.backup"
    with serving(old, tmp_path / "serve.log") as server:
        receipt, passphrase = _confidential_report(server.url)
        engine = sa.create_engine(old_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            code = conn.execute(sa.text("SELECT c.code FROM cases JOIN committees c ON c.id = cases.committee_id")).scalar()
        engine.dispose()
        added = phananh("staff", "add", "chu_tich", "--committee", str(code), "--role", "chair", env=old)
        assert added.returncode == 0, added.stderr
        assert phananh("audit", "verify", env=old).returncode == 0  # a checkpoint to carry over
        done = phananh("backup", str(archive), "--passphrase-stdin", env=old, stdin=PASSPHRASE + "\n")
        assert done.returncode == 0, done.stderr[-2000:]
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert NAME.encode() not in archive.read_bytes() and PHONE.encode() not in archive.read_bytes()

    wrong = phananh("restore", str(archive), "--passphrase-stdin", env=new, stdin="not the passphrase\n")
    assert wrong.returncode == 2 and "wrong passphrase" in wrong.stderr
    assert not (tmp_path / "new" / "keys").exists(), "nothing restored"

    done = phananh("restore", str(archive), "--passphrase-stdin", env=new, stdin=PASSPHRASE + "\n")
    assert done.returncode == 0, done.stderr[-2000:]
    again = phananh("restore", str(archive), "--passphrase-stdin", env=new, stdin=PASSPHRASE + "\n")
    assert again.returncode == 2 and "not empty" in again.stderr, "a restore never overwrites a database in use"

    verified = phananh("audit", "verify", env=new)
    assert verified.returncode == 0 and verified.stdout.startswith("OK"), verified.stdout + verified.stderr
    looked_up = phananh("chat", "--json", env=new, stdin=f"/tracuu {receipt} {passphrase}\n")
    assert looked_up.returncode == 0, looked_up.stderr[-2000:]
    assert receipt in looked_up.stdout and "không tìm thấy" not in looked_up.stdout.lower(), looked_up.stdout
    check = subprocess.run([sys.executable, "-c", f"from tests.phananh.test_backup import check_restored; check_restored({receipt!r})"],
                           env=new, cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert check.returncode == 0, check.stderr[-3000:]
    assert json.loads(check.stdout.strip().splitlines()[-1]) == {"name": NAME, "phone": PHONE, "photo": "ffd8"}
