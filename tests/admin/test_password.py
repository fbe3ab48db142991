"""Every signed-in account can choose its own password; the change ends all of its sessions."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from intake.models import AuditEntry, StaffRole
from phananh.web import create_app
from tests.admin.conftest import BEN_THANH, PASSWORD, csrf_of, login, make_staff, signed_in

NEW = "một-mật-khẩu-mới-dài"


def _post(client: TestClient, **form: str) -> object:
    csrf = csrf_of(client.get("/admin/password").text)
    return client.post("/admin/password", data={"csrf": csrf, **form}, follow_redirects=False)


def test_an_officer_changes_their_password_and_signs_in_again(db: Session) -> None:
    """Wrong current password, too short, not the same twice: refused with the reason, audited where
    it matters. Right: every session ends, the old password no longer works, the new one does."""
    account = make_staff(db, "cb_doimk", BEN_THANH, StaffRole.OFFICER)
    client = signed_in(account)
    other = signed_in(account)  # the same account on another computer
    page = client.get("/admin")
    assert 'href="/admin/password"' in page.text
    r = _post(client, current="sai-mật-khẩu-rồi", new=NEW, confirm=NEW)
    assert r.status_code == 400 and "Mật khẩu hiện tại không đúng" in r.text  # type: ignore[attr-defined]
    assert db.exec(select(AuditEntry).where(AuditEntry.action == "staff.password_change_failed")).first() is not None
    assert _post(client, current=PASSWORD, new="ngắn", confirm="ngắn").status_code == 400  # type: ignore[attr-defined]
    assert _post(client, current=PASSWORD, new=NEW, confirm=NEW + "x").status_code == 400  # type: ignore[attr-defined]
    assert _post(client, current=PASSWORD, new=PASSWORD, confirm=PASSWORD).status_code == 400  # type: ignore[attr-defined]
    r = _post(client, current=PASSWORD, new=NEW, confirm=NEW)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?done=password"  # type: ignore[attr-defined]
    assert "đã được đổi" in client.get("/admin/login?done=password").text
    for session in (client, other):
        assert session.get("/admin", follow_redirects=False).status_code in (302, 303, 307), "signed out everywhere"
    assert not login(TestClient(create_app()), account, PASSWORD)
    assert login(TestClient(create_app()), account, NEW)
    db.expire_all()
    changed = db.exec(select(AuditEntry).where(AuditEntry.action == "staff.password_changed")).one()
    assert changed.actor_id == account.user.id and NEW not in str(changed.details)


def test_guessing_the_current_password_from_an_open_session_is_throttled(db: Session) -> None:
    """Five wrong current passwords, then even the right one is refused for a while: a session left
    open on a shared computer does not let someone try passwords at leisure."""
    account = make_staff(db, "cb_doan", BEN_THANH, StaffRole.OFFICER)
    client = signed_in(account)
    for _ in range(4):
        assert _post(client, current="đoán-thử-mật-khẩu", new=NEW, confirm=NEW).status_code == 400  # type: ignore[attr-defined]
    assert _post(client, current="đoán-thử-mật-khẩu", new=NEW, confirm=NEW).status_code == 429  # type: ignore[attr-defined]
    r = _post(client, current=PASSWORD, new=NEW, confirm=NEW)
    assert r.status_code == 429 and "5 phút" in r.text  # type: ignore[attr-defined]
    assert login(TestClient(create_app()), account, PASSWORD), "the password is unchanged"
