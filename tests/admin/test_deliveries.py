"""The deliveries page: counts per state, dead letters without chat handles, an audited retry for those allowed."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.senders import ZaloOutboxSender
from bot.zalo.fake import FakeZalo
from intake.actions import chat_handle_hash
from intake.crypto import encrypt
from intake.models import AuditEntry, Case, ChatLink, Committee, OutboxMessage, OutboxStatus, StaffRole, utcnow
from intake.outbox import deliver_batch
from tests.admin.conftest import BEN_THANH, HOAN_KIEM, csrf_for, file_case, make_staff, quick_case, signed_in
from tests.bot.test_zalo import _zalo_tokens_table, zalo_settings  # noqa: F401 - the fixture is used here too

USER = "7020499988877766655"  # a Zalo user id: must never appear on a page
REPLY = "Mặt trận đề nghị Anh/Chị cho biết thêm thời gian cụ thể."


def _link(db: Session, case: Case, handle: str = USER, channel: str = "zalo") -> None:
    """The reporter opted in to updates in this chat."""
    db.add(ChatLink(case_id=case.id, channel=channel, handle_hash=chat_handle_hash(channel, handle), handle_enc=encrypt(handle)))  # type: ignore[arg-type]
    db.commit()


def _row(db: Session) -> OutboxMessage:
    db.expire_all()
    return db.exec(select(OutboxMessage)).one()


def _make_due(db: Session) -> None:
    db.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
    db.commit()


def test_failures_back_off_then_die_show_in_the_admin_and_a_retry_delivers(db: Session) -> None:
    """Zalo fails three times: retried later each time (5 s, then 10 s), then dead and listed; Retry sends it once."""
    filed = file_case(db)
    case = filed.case
    _link(db, case)
    committee = db.get(Committee, case.committee_id)
    assert committee is not None
    officer = make_staff(db, "canbo", committee.code)
    client = signed_in(officer)
    r = client.post(f"/admin/cases/{case.id}/reply", data={"text": REPLY, "csrf": csrf_for(client)}, follow_redirects=False)
    assert r.status_code == 303

    fake = FakeZalo()
    sender = ZaloOutboxSender(zalo_settings(fake), transport=fake.transport)
    try:
        fake.fail("error:-50", "error:-50", "error:-50")  # a failure Zalo gives no wait for: exponential backoff
        for attempt, base in ((1, 5.0), (2, 10.0)):
            assert deliver_batch({"zalo": sender}, max_attempts=3) == 0
            row = _row(db)
            wait = (row.next_attempt_at - utcnow()).total_seconds()
            assert row.status == OutboxStatus.PENDING.value and row.attempts == attempt
            assert base * 0.75 < wait <= base * 1.2, wait
            assert deliver_batch({"zalo": sender}, max_attempts=3) == 0, "not retried before its time"
            _make_due(db)
        assert deliver_batch({"zalo": sender}, max_attempts=3) == 1
        row = _row(db)
        assert row.status == OutboxStatus.DEAD.value and row.attempts == 3 and "failed" in row.last_error

        page = client.get("/admin/deliveries").text
        assert f'data-outbox="{row.id}"' in page and f"#{case.id}" in page and "fake: refused" in page
        assert 'data-state="dead"><td>' in page and USER not in page and "Nguyễn" not in page
        assert 'data-delivery="dead"' in client.get(f"/admin/cases/{case.id}").text

        r = client.post(f"/admin/deliveries/{row.id}/retry", data={"csrf": csrf_for(client)}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/admin/deliveries?done=retry"
        row = _row(db)
        assert row.status == OutboxStatus.PENDING.value and row.attempts == 0
        entry = db.exec(select(AuditEntry).where(AuditEntry.action == "outbox.retried")).one()
        assert entry.actor_id == officer.user.id and entry.case_id == case.id and USER not in str(entry.details)

        assert deliver_batch({"zalo": sender}, max_attempts=3) == 1
        assert _row(db).status == OutboxStatus.SENT.value and fake.texts(USER) == [REPLY]
    finally:
        sender.close()
    page = client.get("/admin/deliveries").text
    assert f'data-outbox="{row.id}"' not in page
    assert 'data-state="sent"><td>' in page and 'data-delivery="sent"' in client.get(f"/admin/cases/{case.id}").text


def _dead_letter(db: Session, code: str) -> OutboxMessage:
    case = quick_case(db, code)
    _link(db, case)
    row = OutboxMessage(
        case_id=case.id,  # type: ignore[arg-type]
        channel="zalo",
        body=REPLY,
        delivery_key=f"case-message:{case.id}",
        status=OutboxStatus.DEAD.value,
        attempts=8,
        last_error="zalo: refused: fake (code -213)",
        next_attempt_at=utcnow() - timedelta(minutes=5),
    )
    db.add(row)
    db.commit()
    return row


def _counts(page: str, state: str) -> str:
    cell = page.split(f'data-state="{state}">', 1)[1]
    return cell.split('class="num">', 1)[1].split("<", 1)[0]


def test_another_committee_neither_sees_nor_retries_a_dead_letter(db: Session) -> None:
    """A dead letter of Bến Thành does not exist for Hoàn Kiếm's officer: not listed, not counted, retry is a 404."""
    row = _dead_letter(db, BEN_THANH)
    client = signed_in(make_staff(db, "hoankiem", HOAN_KIEM))
    page = client.get("/admin/deliveries").text
    assert f'data-outbox="{row.id}"' not in page and _counts(page, "dead") == "0"
    r = client.post(f"/admin/deliveries/{row.id}/retry", data={"csrf": csrf_for(client)}, follow_redirects=False)
    assert r.status_code == 404 and _row(db).status == OutboxStatus.DEAD.value


def test_a_viewer_sees_dead_letters_but_cannot_retry(db: Session) -> None:
    """A viewer of the committee sees the list and counts, gets no Retry button, and a forged retry changes nothing."""
    row = _dead_letter(db, BEN_THANH)
    client = signed_in(make_staff(db, "xem", BEN_THANH, StaffRole.VIEWER))
    page = client.get("/admin/deliveries").text
    assert f'data-outbox="{row.id}"' in page and _counts(page, "dead") == "1" and "/retry" not in page
    r = client.post(f"/admin/deliveries/{row.id}/retry", data={"csrf": csrf_for(client)}, follow_redirects=False)
    assert r.status_code == 404 and _row(db).status == OutboxStatus.DEAD.value
    assert db.exec(select(AuditEntry).where(AuditEntry.action == "outbox.retried")).first() is None


def test_a_retry_needs_the_sessions_csrf_token_and_a_dead_letter(db: Session) -> None:
    """Without this session's CSRF token the retry is refused; a message that is not dead cannot be retried."""
    row = _dead_letter(db, BEN_THANH)
    client = signed_in(make_staff(db, "canbo", BEN_THANH))
    r = client.post(f"/admin/deliveries/{row.id}/retry", data={"csrf": "not-the-token"}, follow_redirects=False)
    assert r.status_code == 403 and _row(db).status == OutboxStatus.DEAD.value
    db.execute(sa.update(OutboxMessage).values(status=OutboxStatus.SENT.value))
    db.commit()
    r = client.post(f"/admin/deliveries/{row.id}/retry", data={"csrf": csrf_for(client)}, follow_redirects=False)
    assert r.status_code == 303 and "error=invalid_transition" in r.headers["location"]
    assert _row(db).status == OutboxStatus.SENT.value


def test_the_deliveries_page_is_in_the_menu(db: Session) -> None:
    """Every signed-in officer finds the page from the menu."""
    client = signed_in(make_staff(db, "canbo", BEN_THANH))
    assert 'href="/admin/deliveries"' in client.get("/admin").text
