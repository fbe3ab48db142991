"""A report filed at 23:30 UTC was received the next day in Vietnam, and every place that shows its date says so."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from intake.models import Case, CaseMessage, OutboxMessage
from phananh.web import create_app
from tests.admin.conftest import csrf_for, file_case, make_staff, signed_in
from tests.chat import chat_post

LATE_EVENING_UTC = datetime(2026, 12, 7, 23, 30, tzinfo=timezone.utc)  # 06:30 on 8 December in Vietnam
VIETNAM_DAY, UTC_DAY = "08/12/2026", "07/12/2026"


def _dates(text: str) -> set[str]:
    return set(re.findall(r"\b\d{2}/\d{2}/\d{4}\b", text))


def test_a_case_filed_at_23_30_utc_shows_the_vietnamese_day_everywhere(db: Session) -> None:
    """Issue 16: the look-up said 07/12 (UTC) while the message under it said 08/12. Chat look-up, the
    Front's message and its time, the outbox text, the admin's case page and queue: all say 08/12/2026."""
    filed = file_case(db)
    case = db.get(Case, filed.case.id)
    assert case is not None
    case.received_at = case.created_at = LATE_EVENING_UTC
    db.add(case)
    db.commit()
    officer = make_staff(db, "canbo", filed.committee.code)
    admin = signed_in(officer)
    accepted = admin.post(f"/admin/cases/{case.id}/accept", data={"csrf": csrf_for(admin)}, follow_redirects=False)
    assert accepted.status_code == 303
    db.expire_all()
    message = db.exec(select(CaseMessage).where(CaseMessage.case_id == case.id, CaseMessage.direction == "staff")).one()
    outbox = db.exec(select(OutboxMessage)).one()
    # The Front's message (a template with {received_on}) and the outbox's copy of it.
    for text in (message.body, outbox.body):
        assert VIETNAM_DAY in text and UTC_DAY not in text, text
    message.created_at = datetime(2026, 12, 7, 23, 45, tzinfo=timezone.utc)
    db.add(message)
    db.commit()

    chat = TestClient(create_app())
    replies = chat_post(chat, text=f"/tracuu {filed.receipt} {filed.passphrase}").json()["replies"]
    shown = "\n".join(r["text"] for r in replies)
    assert f"Ngày tiếp nhận: {VIETNAM_DAY}" in shown
    assert f"{VIETNAM_DAY} 06:45" in shown, "the message's own time, in Vietnam"
    assert UTC_DAY not in shown

    for page in (f"/admin/cases/{case.id}", "/admin"):
        html = admin.get(page).text
        assert VIETNAM_DAY in _dates(html) and UTC_DAY not in _dates(html), page
