"""The minimal admin: sign-in with CSRF, and a committee's queue."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from intake.actions import create_staff
from intake.committees import committee_by_code
from intake.conversation import Conversation
from tests.dialog_helpers import pressing
from intake.dialog.types import Inbound
from intake.models import StaffRole
from phananh.web import create_app


def _login(client: TestClient, username: str, password: str) -> int:
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/admin/login", data={"username": username, "password": password, "csrf": csrf}, follow_redirects=False
    )
    return response.status_code if response.headers.get("location") == "/admin" else 401


def _staff(db: Session, username: str, code: str) -> None:
    committee = committee_by_code(db, code)
    assert committee is not None
    create_staff(db, username=username, password="mật-khẩu-dài-12345", role=StaffRole.OFFICER, committee=committee)
    db.commit()


def _report(chat: str, place: str) -> None:
    conv = Conversation(channel="web")
    replies = conv.handle(chat, Inbound(resume=True))
    for m in (
        Inbound(button="menu:report"),
        Inbound(button="mode:anonymous"),
        Inbound(text="Cán bộ địa chính đòi tiền mới làm sổ đỏ cho dân"),
        Inbound(text="đúng"),  # the story named the post: confirmed
        Inbound(button="cat:7"),
        Inbound(button="skip"),
        Inbound(text="UBND"),
        Inbound(text=place),
        Inbound(button="setting:workplace"),
        Inbound(button="unknown"),
        Inbound(button="skip"),
        Inbound(button="send"),
    ):
        replies = conv.handle(chat, pressing(replies, m))


def test_queue_needs_sign_in(db: Session) -> None:
    """Without a session the queue redirects to the sign-in page."""
    client = TestClient(create_app())
    response = client.get("/admin", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/login"


def test_wrong_password_and_missing_csrf_are_refused(db: Session) -> None:
    """A wrong password or a form without the CSRF cookie does not sign in."""
    _staff(db, "can_bo_1", "26743")
    client = TestClient(create_app())
    assert _login(client, "can_bo_1", "sai") == 401
    response = TestClient(create_app()).post(
        "/admin/login", data={"username": "can_bo_1", "password": "mật-khẩu-dài-12345", "csrf": "x"}, follow_redirects=False
    )
    assert response.headers["location"] == "/admin/login?error=expired"


def test_officer_sees_own_committee_queue_only(db: Session) -> None:
    """A report routed to Bến Thành shows in its queue, and not in another commune's."""
    _report("c1", "phường Bến Thành, TP Hồ Chí Minh")
    _staff(db, "ben_thanh", "26743")
    _staff(db, "hoan_kiem", "00070")
    client = TestClient(create_app())
    assert _login(client, "ben_thanh", "mật-khẩu-dài-12345") == 303
    page = client.get("/admin")
    assert page.status_code == 200 and "Ủy ban MTTQ Việt Nam phường Bến Thành" in page.text
    assert "Tham ô, tham nhũng" in page.text and "cán bộ địa chính" in page.text
    other = TestClient(create_app())
    assert _login(other, "hoan_kiem", "mật-khẩu-dài-12345") == 303
    assert "cán bộ địa chính" not in other.get("/admin").text
