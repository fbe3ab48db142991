"""The clock from the first day: a first-handling deadline from receipt, then the answer deadline; the queue by deadline."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, select

from intake import casework
from intake.casework import queries
from intake.clock import clock_of, start_missing_clocks
from intake.dates import VIETNAM_TZ
from intake.deadlines import DeadlineStatus, add_working_days, answer_due, first_handling_due, local_today
from intake.models import AuditEntry, Case, StaffRole
from tests.admin.conftest import BEN_THANH, HOAN_KIEM, committee, csrf_for, file_case, make_staff, quick_case, signed_in


def _ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-case="(\d+)"', html)]


def _vn(day: date) -> datetime:
    return datetime.combine(day, time(9, 0), VIETNAM_TZ).astimezone(UTC)


def test_first_handling_is_due_ten_working_days_after_receipt_across_tet() -> None:
    """Received Monday 9 February 2026: four working days, Tết (16–20 February) off, then five and one: Monday 2 March."""
    assert first_handling_due(date(2026, 2, 9)) == date(2026, 3, 2)
    assert first_handling_due(date(2026, 2, 9), 15) == date(2026, 3, 9)


def test_a_filed_case_works_against_its_first_handling_deadline_from_the_day_it_arrives(db: Session) -> None:
    """A new case shows a deadline at once (it showed "—" until forwarded): 10 working days after receipt."""
    filed = file_case(db)
    today = local_today()
    assert filed.case.first_due_on == add_working_days(today, 10)
    assert filed.case.next_due_on == filed.case.first_due_on and filed.case.is_open
    clock = clock_of(filed.case, today)
    assert (clock.age, clock.due_on, clock.mark) == (0, add_working_days(today, 10), DeadlineStatus.ON_TIME)


def test_running_deadline_follows_the_status(db: Session) -> None:
    """First handling while new or verifying, the legal answer deadline once forwarded, none once answered; closed is not open."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH).user
    case = filed.case
    first = case.first_due_on
    casework.accept_case(db, case=case, actor=officer)
    db.commit()
    assert (case.status, case.next_due_on, case.is_open) == ("verifying", first, True)
    today = local_today()
    casework.record_forwarding(db, case=case, actor=officer, body_kind="police", body_name="Công an phường", forwarded_on=today)
    db.commit()
    assert case.next_due_on == answer_due(today) == case.due_on
    casework.record_result(db, case=case, actor=officer, result_on=today, text="Đã xử lý kỷ luật")
    db.commit()
    assert (case.status, case.next_due_on, case.is_open) == ("result", None, True)
    casework.reply_to_resident(db, case=case, actor=officer, text="Kết quả: đã xử lý.", tells_result=True)
    casework.close_case(db, case=case, actor=officer)
    db.commit()
    db.expire_all()
    stored = db.get(Case, case.id)
    assert stored is not None and (stored.status, stored.next_due_on, stored.is_open) == ("closed", None, False)


def test_a_recorded_letter_counts_from_the_day_it_arrived(db: Session) -> None:
    """A letter received on Monday 9 February 2026 and typed in later is due for first handling on Monday 2 March."""
    officer = make_staff(db, "cb", BEN_THANH).user
    filed = casework.record_report(db, actor=officer, report=casework.OfflineReport(
        channel="letter", received_on=date(2026, 2, 9), mode="anonymous",
        description="Cán bộ địa chính phường đòi tiền mới làm sổ đỏ", place_text="", commune_code=BEN_THANH,
    ))
    db.commit()
    assert filed.case.first_due_on == date(2026, 3, 2)


def test_a_transfer_gives_the_receiving_committee_its_own_first_handling(db: Session) -> None:
    """Passed on while new, the case is due for first handling by the receiving committee's rule, from the transfer day."""
    target = committee(db, HOAN_KIEM)
    target.first_handling_days = 5
    db.commit()
    filed = file_case(db)
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR).user
    casework.transfer_case(db, case=filed.case, actor=chair, to_committee=target, reason="Người bị phản ánh công tác ở Hoàn Kiếm")
    db.commit()
    assert filed.case.first_due_on == add_working_days(local_today(), 5) == filed.case.next_due_on


def test_the_chair_sets_the_committee_s_working_days_for_new_cases_only(db: Session) -> None:
    """12 days for cases arriving from now on; a case already there keeps its deadline; a wrong figure names the field."""
    before = file_case(db)
    chair = signed_in(make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR))
    r = chair.post("/admin/settings", data={"csrf": csrf_for(chair), "first_handling_days": "0"})
    assert r.status_code == 400 and "Số ngày làm việc xử lý ban đầu" in r.text and 'value="0"' in r.text
    r = chair.post("/admin/settings", data={"csrf": csrf_for(chair), "first_handling_days": "12"}, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()  # the committee as the request left it
    after = file_case(db)
    db.expire_all()
    assert db.get(Case, after.case.id).first_due_on == add_working_days(local_today(), 12)  # type: ignore[union-attr]
    assert db.get(Case, before.case.id).first_due_on == add_working_days(local_today(), 10)  # type: ignore[union-attr]
    (entry,) = db.exec(select(AuditEntry).where(AuditEntry.action == "committee.settings_changed")).all()
    assert entry.details == {"committee": BEN_THANH, "first_handling_days": 12}
    officer = signed_in(make_staff(db, "cb", BEN_THANH))
    assert officer.get("/admin/settings").status_code == 404


def test_cases_filed_before_the_clock_get_their_deadline_from_receipt(db: Session) -> None:
    """`phananh db upgrade` gives older cases still awaiting first handling a deadline; ended ones get none."""
    waiting = quick_case(db, BEN_THANH, received_at=_vn(date(2026, 2, 9)))
    ended = quick_case(db, BEN_THANH, status="closed", received_at=_vn(date(2026, 2, 9)))
    assert waiting.first_due_on is None
    assert start_missing_clocks(db) == 1
    db.commit()
    assert waiting.first_due_on == date(2026, 3, 2) == waiting.next_due_on and ended.first_due_on is None


def test_age_is_counted_in_working_days_across_tet(db: Session) -> None:
    """Received Friday 13 February 2026, seen Tuesday 24 February: Tết week off, so 2 working days old."""
    case = quick_case(db, BEN_THANH, received_at=_vn(date(2026, 2, 13)), first_due_on=first_handling_due(date(2026, 2, 13)))
    officer = make_staff(db, "cb", BEN_THANH).user
    page = queries.queue(db, officer, queries.QueueFilter(), today=date(2026, 2, 24))
    (row,) = page.rows
    assert row.case.id == case.id and row.clock.age == 2 and row.clock.due_on == date(2026, 3, 6)  # 23–27 Feb, 2–6 Mar


def test_default_queue_is_open_cases_overdue_first_then_by_deadline_then_oldest(db: Session) -> None:
    """Overdue before due soon before later; equal deadlines oldest first; a case with no running deadline after; ended ones not at all."""
    today = local_today()
    due_soon = add_working_days(today, 2)
    late = quick_case(db, BEN_THANH, status="forwarded", days_ago=40, forwarded_on=today - timedelta(days=40), due_on=today - timedelta(days=3))
    soon_new = quick_case(db, BEN_THANH, days_ago=1, first_due_on=due_soon)
    soon_old = quick_case(db, BEN_THANH, status="verifying", days_ago=9, first_due_on=due_soon)
    later = quick_case(db, BEN_THANH, status="forwarded", days_ago=2, forwarded_on=today, due_on=answer_due(today))
    result = quick_case(db, BEN_THANH, status="result", days_ago=60)
    closed = quick_case(db, BEN_THANH, status="closed", days_ago=90)
    other = quick_case(db, HOAN_KIEM, days_ago=5, first_due_on=today - timedelta(days=1))
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    page = client.get("/admin").text
    assert _ids(page) == [late.id, soon_old.id, soon_new.id, later.id, result.id]
    assert closed.id not in _ids(page) and other.id not in _ids(page)
    assert re.search(rf'<tr class="overdue" data-case="{late.id}"', page)
    assert re.search(rf'<tr class="due-soon" data-case="{soon_old.id}"', page)
    # "Tất cả": ended cases too, never before an open one, whatever the sort.
    for sort in ("due", "new", "old"):
        ids = _ids(client.get(f"/admin?status=all&sort={sort}").text)
        assert set(ids) == {late.id, soon_new.id, soon_old.id, later.id, result.id, closed.id}
        assert ids[-1] == closed.id, sort
    assert _ids(client.get("/admin?status=all&sort=new").text)[:2] == [soon_new.id, later.id]
    # The overdue count includes first handlings past their deadline.
    assert re.search(r'id="tab-overdue"[^>]*>[^<]*\(1\)', page)


def test_mine_lists_the_open_cases_assigned_to_me(db: Session) -> None:
    """"Của tôi": open cases assigned to the signed-in officer, with the count in the tab."""
    me = make_staff(db, "cb", BEN_THANH)
    other = make_staff(db, "cb2", BEN_THANH)
    mine = quick_case(db, BEN_THANH, assignee_id=me.user.id)
    quick_case(db, BEN_THANH, status="closed", assignee_id=me.user.id)
    quick_case(db, BEN_THANH, assignee_id=other.user.id)
    client = signed_in(me)
    page = client.get("/admin").text
    assert re.search(r'id="tab-mine"[^>]*>[^<]*\(1\)', page)
    assert _ids(client.get("/admin?assignee=me").text) == [mine.id]


def test_bulk_assignment_from_the_queue(db: Session) -> None:
    """Ticked cases go to one officer, each assignment audited; a case of another committee refuses the whole batch."""
    officer = make_staff(db, "cb", BEN_THANH)
    colleague = make_staff(db, "cb2", BEN_THANH)
    a, b = quick_case(db, BEN_THANH), quick_case(db, BEN_THANH)
    foreign = quick_case(db, HOAN_KIEM)
    client = signed_in(officer)
    page = client.get("/admin").text
    assert 'form="bulk"' in page and f'value="{a.id}"' in page
    r = client.post("/admin/cases/assign", data={"csrf": csrf_for(client), "cases": [str(a.id), str(b.id)],
                                                 "assignee": str(colleague.user.id), "back": "/admin?sort=old"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin?sort=old&done=assign"
    db.expire_all()
    assert {db.get(Case, a.id).assignee_id, db.get(Case, b.id).assignee_id} == {colleague.user.id}  # type: ignore[union-attr]
    assert len(db.exec(select(AuditEntry).where(AuditEntry.action == "case.assigned")).all()) == 2
    r = client.post("/admin/cases/assign", data={"csrf": csrf_for(client), "cases": [str(a.id), str(foreign.id)],
                                                 "assignee": str(officer.user.id)}, follow_redirects=False)
    assert r.status_code == 303 and "error=not_found" in r.headers["location"]
    db.expire_all()
    assert db.get(Case, a.id).assignee_id == colleague.user.id and db.get(Case, foreign.id).assignee_id is None  # type: ignore[union-attr]
    viewer = signed_in(make_staff(db, "xem", BEN_THANH, StaffRole.VIEWER))
    assert viewer.post("/admin/cases/assign", data={"csrf": csrf_for(viewer), "cases": [str(a.id)], "assignee": ""},
                       follow_redirects=False).status_code == 404
