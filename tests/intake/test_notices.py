"""Staff hear of new and due cases: notices counted in the admin, mailed over SMTP with STARTTLS to a local server."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from intake import casework, notices
from intake.config import Settings, get_settings
from intake.dates import VIETNAM_TZ
from intake.deadlines import add_working_days, local_today
from intake.mail import SmtpMailer
from intake.models import MailState, NoticeKind, StaffNotice, StaffRole, StaffUser
from tests.admin.conftest import BEN_THANH, HOAN_KIEM, committee, csrf_for, file_case, make_staff, quick_case, signed_in
from tests.mailserver import MailServer, mail  # noqa: F401 - the fixture


def _with_email(db: Session, username: str, code: str = BEN_THANH, role: StaffRole = StaffRole.OFFICER, **prefs: bool) -> int:
    account = make_staff(db, username, code, role)
    account.user.email = f"{username}@mttq.example.vn"
    for name, value in prefs.items():
        setattr(account.user, name, value)
    db.commit()
    return int(account.user.id)  # type: ignore[arg-type]


def test_a_new_case_notifies_every_reader_of_its_committee(db: Session, mail: MailServer) -> None:
    """Officers, the chair and viewers of the committee get a notice; the administrator and other committees do not."""
    officer = _with_email(db, "cb")
    quiet = _with_email(db, "cb_tat", notify_new_cases=False)
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR).user.id  # no address: counted unread, not mailed
    make_staff(db, "qt", BEN_THANH, StaffRole.ADMIN)
    make_staff(db, "hk", HOAN_KIEM)
    filed = file_case(db)
    rows = {n.user_id: n for n in db.exec(select(StaffNotice).where(StaffNotice.case_id == filed.case.id)).all()}
    assert set(rows) == {officer, quiet, chair}
    assert {u: rows[u].mail_state for u in rows} == {officer: "pending", quiet: "skipped", chair: "skipped"}
    assert rows[officer].due_on == add_working_days(local_today(), 10) and rows[officer].kind == NoticeKind.NEW_CASE.value


def test_the_mail_goes_over_starttls_and_carries_only_number_deadline_and_link(db: Session, mail: MailServer) -> None:
    """The local server receives one mail per wanting account, after STARTTLS and sign-in; no report text, place or name in it."""
    _with_email(db, "cb")
    filed = file_case(db, description="Cán bộ địa chính phường đòi 5 triệu đồng mới làm sổ đỏ", accused_name="Lê Văn Tám", mode="confidential")
    assert notices.send_pending(db, SmtpMailer(get_settings())) == 1
    (msg,) = mail.received.messages
    assert mail.received.secure == [True]
    body = msg.get_content()
    due = add_working_days(local_today(), 10).strftime("%d/%m/%Y")
    assert msg["To"] == "cb@mttq.example.vn" and f"#{filed.case.id}" in msg["Subject"]
    assert f"#{filed.case.id}" in body and due in body and f"/admin/cases/{filed.case.id}" in body
    for secret in ("5 triệu", "sổ đỏ", "Lê Văn Tám", "Bến Thành", "Nguyễn Văn A", "0912345678"):
        assert secret not in body and secret not in str(msg["Subject"])
    db.expire_all()
    assert db.exec(select(StaffNotice.mail_state)).all() == ["sent"]
    assert notices.send_pending(db, SmtpMailer(get_settings())) == 0  # never twice


def test_a_server_that_cannot_be_reached_keeps_the_mail_for_the_next_try(db: Session, mail: MailServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection leaves the mail waiting; the next run sends it."""
    _with_email(db, "cb")
    file_case(db)
    broken = Settings(**{**get_settings().model_dump(), "smtp_port": 1})
    assert notices.send_pending(db, SmtpMailer(broken)) == 0
    assert db.exec(select(StaffNotice.mail_state)).all() == ["pending"]
    assert notices.send_pending(db, SmtpMailer(get_settings())) == 1 and len(mail.received.messages) == 1


def test_a_wrong_certificate_is_refused(db: Session, mail: MailServer, tmp_path: Path) -> None:
    """STARTTLS checks the server's certificate: with the system's CAs only, the test server is not trusted and nothing is sent."""
    _with_email(db, "cb")
    file_case(db)
    untrusted = Settings(**{**get_settings().model_dump(), "smtp_ca_file": None})
    assert notices.send_pending(db, SmtpMailer(untrusted)) == 0
    assert mail.received.messages == []


def _vn(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=VIETNAM_TZ).astimezone(UTC)


def test_the_morning_digest_is_written_once_even_by_two_servers(db: Session, mail: MailServer) -> None:
    """From 07:00 on a working day, one digest per account that wants it, listing due-soon and overdue cases only."""
    day = date(2026, 12, 8)  # a Tuesday
    late = quick_case(db, BEN_THANH, status="forwarded", due_on=day - timedelta(days=2), forwarded_on=day - timedelta(days=40))
    soon = quick_case(db, BEN_THANH, first_due_on=add_working_days(day, 2))
    quick_case(db, BEN_THANH, first_due_on=add_working_days(day, 9))  # not due soon: not listed
    quick_case(db, BEN_THANH, status="closed")
    wants = _with_email(db, "cb")
    _with_email(db, "cb_tat", notify_digest=False)
    _with_email(db, "hk", HOAN_KIEM)  # nothing due there: no digest
    mailer = SmtpMailer(get_settings())
    assert notices.mail_job(db, mailer, now=_vn(day, 6)) == 0  # before the digest hour
    assert notices.make_digests(db, day) == 1
    db.commit()
    assert notices.make_digests(db, day) == 0  # a second server, the same morning: already there
    db.commit()
    assert notices.mail_job(db, mailer, now=_vn(day, 7)) == 1
    (digest,) = db.exec(select(StaffNotice).where(StaffNotice.kind == NoticeKind.DIGEST.value)).all()
    assert digest.user_id == wants and digest.case_ids == [late.id, soon.id] and digest.mail_state == MailState.SENT.value
    (msg,) = mail.received.messages
    body = msg.get_content()
    assert re.findall(r"#(\d+) · hạn", body) == [str(late.id), str(soon.id)] and "2 vụ việc" in msg["Subject"]
    assert notices.unread_count(db, _user(db, wants)) == 0  # a digest is mail only: not counted unread


def _user(db: Session, user_id: int) -> StaffUser:
    user = db.get(StaffUser, user_id)
    assert user is not None
    return user


def test_no_digest_on_a_day_off(db: Session, mail: MailServer) -> None:
    """Saturdays, Sundays and Tết bring no morning digest."""
    quick_case(db, BEN_THANH, first_due_on=date(2026, 2, 16))
    _with_email(db, "cb")
    assert notices.make_digests(db, date(2026, 2, 17)) == 0  # Tết
    assert notices.make_digests(db, date(2026, 12, 12)) == 0  # a Saturday


def test_two_senders_never_claim_the_same_mail(db: Session, mail: MailServer) -> None:
    """What one server claimed (pending → sending) another does not take."""
    from intake.db import get_engine
    from intake.notices import _claim

    _with_email(db, "cb")
    file_case(db)
    with Session(get_engine()) as first, Session(get_engine()) as second:
        assert len(_claim(first, 10)) == 1
        assert _claim(second, 10) == []


def test_the_admin_counts_unread_notices_until_the_case_is_opened(db: Session) -> None:
    """The header shows unread new cases; opening the case reads its notice; the page lists them."""
    officer = make_staff(db, "cb", BEN_THANH)
    client = signed_in(officer)
    first, second = file_case(db), file_case(db, description="Trưởng thôn đánh bạc ở nhà văn hóa")
    page = client.get("/admin").text
    assert re.search(r'id="unread-count"[^>]*>2<', page)
    client.get(f"/admin/cases/{first.case.id}")
    assert re.search(r'id="unread-count"[^>]*>1<', client.get("/admin").text)
    listing = client.get("/admin/notifications").text
    assert f'/admin/cases/{second.case.id}"' in listing and "chưa đọc" in listing
    client.post("/admin/notifications/read", data={"csrf": csrf_for(client)})
    assert 'id="unread-count"' not in client.get("/admin").text


def test_a_case_passed_on_notifies_the_receiving_committee(db: Session) -> None:
    """A transfer is a new case in the receiving committee's queue, and no longer news in the one it left."""
    receiver = make_staff(db, "hk", HOAN_KIEM).user
    sender = make_staff(db, "cb", BEN_THANH).user
    filed = file_case(db)
    assert notices.unread_count(db, sender) == 1
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR).user
    casework.transfer_case(db, case=filed.case, actor=chair, to_committee=committee(db, HOAN_KIEM), reason="Đúng thẩm quyền Hoàn Kiếm")
    db.commit()
    assert notices.unread_count(db, receiver) == 1 and [n.case_id for n in notices.recent(db, receiver)] == [filed.case.id]
    assert notices.unread_count(db, sender) == 0 and notices.recent(db, sender) == []


def test_each_account_sets_its_own_address_and_turns_mails_off(db: Session) -> None:
    """A wrong address is refused naming the field and kept; a right one is saved with the choices."""
    officer = make_staff(db, "cb", BEN_THANH)
    client = signed_in(officer)
    r = client.post("/admin/notifications/settings", data={"csrf": csrf_for(client), "email": "cb at mttq", "new_cases": "1"})
    assert r.status_code == 400 and "Địa chỉ e-mail:" in r.text and 'value="cb at mttq"' in r.text
    r = client.post("/admin/notifications/settings", data={"csrf": csrf_for(client), "email": "cb@mttq.example.vn", "digest": "1"},
                    follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    user = _user(db, int(officer.user.id))  # type: ignore[arg-type]
    assert (user.email, user.notify_new_cases, user.notify_digest) == ("cb@mttq.example.vn", False, True)


def test_serve_mails_staff_only_when_a_mail_server_is_set(mail: MailServer) -> None:
    """`phananh serve` runs the mail job with PHANANH_SMTP_HOST and PHANANH_MAIL_FROM set, and not without them."""
    from phananh.background import serve_background

    quiet = Settings(**{**get_settings().model_dump(), "smtp_host": ""})
    for settings, expected in ((get_settings(), True), (quiet, False)):
        background = serve_background(settings)
        assert ("staff-mail" in {job.name for job in background.jobs}) == expected
        background.stop()  # never started: closes what the outbox job opened


def _added(db: Session, case_id: int, text: str = "Tôi có thêm ảnh chụp biên lai ông Lê Văn Tám nhận tiền") -> None:
    """The reporter's «Bổ sung thông tin», as the conversation files it."""
    from intake.actions import add_resident_message

    add_resident_message(db, case_id=case_id, text=text)
    db.commit()


def _notices_of(db: Session, case_id: int) -> dict[int, StaffNotice]:
    rows = db.exec(select(StaffNotice).where(StaffNotice.case_id == case_id, StaffNotice.kind == NoticeKind.RESIDENT_MESSAGE.value))
    return {n.user_id: n for n in rows.all()}


def test_information_added_to_a_closed_case_tells_every_reader_of_its_committee(db: Session, mail: MailServer) -> None:
    """A closed case with no assignee: each reader of its committee gets an unread notice, mailed if wanted, saying the case is closed."""
    officer = _with_email(db, "cb")
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR).user.id
    make_staff(db, "hk", HOAN_KIEM)
    filed = file_case(db, accused_name="Lê Văn Tám")
    notices.mark_all_read(db, _user(db, officer))
    filed.case.status = "closed"
    db.commit()
    _added(db, int(filed.case.id))  # type: ignore[arg-type]
    rows = _notices_of(db, int(filed.case.id))  # type: ignore[arg-type]
    assert set(rows) == {officer, chair} and rows[officer].mail_state == "pending" and rows[chair].mail_state == "skipped"
    assert notices.unread_count(db, _user(db, officer)) == 1
    notices.send_pending(db, SmtpMailer(get_settings()))
    msg = {str(m["Subject"]): m for m in mail.received.messages}[f"Người phản ánh bổ sung thông tin vào vụ việc #{filed.case.id}"]
    body = msg.get_content()
    assert f"vụ việc #{filed.case.id}, vụ việc đã đóng." in body and f"/admin/cases/{filed.case.id}" in body
    for secret in ("biên lai", "Lê Văn Tám", "5 triệu", "Bến Thành"):
        assert secret not in body and secret not in str(msg["Subject"])


def test_information_added_goes_to_the_assignee_once_until_read(db: Session) -> None:
    """An assigned case tells its assignee only; five messages before they look make one notice; opening the case reads it."""
    officer = make_staff(db, "cb", BEN_THANH)
    other = make_staff(db, "cb2", BEN_THANH).user
    filed = file_case(db)
    casework.assign_case(db, case=filed.case, actor=officer.user, assignee_id=officer.user.id)
    db.commit()
    for _ in range(5):
        _added(db, int(filed.case.id))  # type: ignore[arg-type]
    assert set(_notices_of(db, int(filed.case.id))) == {officer.user.id}  # type: ignore[arg-type]
    assert notices.unread_count(db, other) == 1  # the new case only
    client = signed_in(officer)
    listing = client.get("/admin/notifications").text
    assert f"Người phản ánh bổ sung thông tin vào vụ việc #{filed.case.id}." in listing
    queue = client.get("/admin").text
    assert re.search(rf'data-case="{filed.case.id}".*?id="added-{filed.case.id}"', queue, re.S)
    client.get(f"/admin/cases/{filed.case.id}")
    assert notices.unread_count(db, officer.user) == 0
    assert f'id="added-{filed.case.id}"' not in client.get("/admin").text


def test_an_inactive_assignee_leaves_the_news_to_the_committee(db: Session) -> None:
    """When the assignee's account is disabled, every reader of the committee hears of the added information."""
    officer = make_staff(db, "cb", BEN_THANH).user
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR).user
    filed = file_case(db)
    filed.case.assignee_id = officer.id
    officer.active = False
    db.commit()
    _added(db, int(filed.case.id))  # type: ignore[arg-type]
    assert set(_notices_of(db, int(filed.case.id))) == {chair.id}  # type: ignore[arg-type]
