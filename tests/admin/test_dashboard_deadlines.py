"""The dashboard's "Trả lời đúng hạn": every answer deadline met so far and every one missed so far, across Tết."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from intake import reports
from intake.deadlines import answer_due
from tests.admin.conftest import BEN_THANH, committee, make_staff, quick_case, signed_in

TODAY = date(2026, 3, 10)  # a Tuesday, three weeks after Tết Bính Ngọ (16–20 February 2026 off)


def _forwarded(db: Session, forwarded_on: date, due_on: date, result_on: date | None = None) -> None:
    quick_case(db, BEN_THANH, status="result" if result_on else "forwarded", forwarded_on=forwarded_on, due_on=due_on,
               result_on=result_on, result_text="Đã xử lý" if result_on else "", commune_code=BEN_THANH)


def test_hand_computed_deadlines_across_tet(db: Session) -> None:
    """Two met (one answered on its first day, one on its due day) and two missed (none yet, one a day late); one not due yet.

    Due dates counted by hand, 20 working days after forwarding, skipping weekends and 16–20 February:
    - forwarded Mon 9 Feb: 10–13 Feb (4), 23–27 Feb (9), 2–6 Mar (14), 9–13 Mar (19), Mon 16 Mar (20);
    - forwarded Mon 12 Jan: 13–16 Jan (4), 19–23 (9), 26–30 (14), 2–6 Feb (19), Mon 9 Feb (20);
    - forwarded Mon 26 Jan: 27–30 Jan (4), 2–6 Feb (9), 9–13 Feb (14), 23–27 Feb (19), Mon 2 Mar (20);
    - forwarded Fri 13 Feb: 23–27 Feb (5), 2–6 Mar (10), 9–13 Mar (15), 16–20 Mar (20): Fri 20 Mar.
    """
    dues = {date(2026, 2, 9): date(2026, 3, 16), date(2026, 1, 12): date(2026, 2, 9), date(2026, 1, 26): date(2026, 3, 2),
            date(2026, 2, 13): date(2026, 3, 20)}
    assert all(answer_due(f) == d for f, d in dues.items())
    _forwarded(db, date(2026, 2, 9), date(2026, 3, 16), result_on=date(2026, 2, 10))  # answered on its first day: met
    _forwarded(db, date(2026, 1, 12), date(2026, 2, 9))  # no answer, due 9 Feb: missed
    _forwarded(db, date(2026, 1, 26), date(2026, 3, 2), result_on=date(2026, 3, 3))  # a day late: missed
    _forwarded(db, date(2026, 1, 26), date(2026, 3, 2), result_on=date(2026, 3, 2))  # on the due day itself: met
    _forwarded(db, date(2026, 2, 13), date(2026, 3, 20))  # not due yet, no answer: neither
    d = reports.dashboard(db, committee(db, BEN_THANH), today=TODAY)
    assert (d.on_time, d.late, d.on_time_rate) == (2, 2, 0.5)
    province = reports.dashboard(db, committee(db, "79"), today=TODAY)  # the province counts its communes too
    assert (province.on_time, province.late) == (2, 2)


def test_a_case_answered_on_its_first_day_counts_at_once(db: Session) -> None:
    """It showed 0/0: a deadline met before it came was not counted until the due day had passed."""
    _forwarded(db, date(2026, 3, 9), date(2026, 4, 7), result_on=date(2026, 3, 9))
    d = reports.dashboard(db, committee(db, BEN_THANH), today=date(2026, 3, 9))
    assert (d.on_time, d.late) == (1, 0)


def test_the_dashboard_says_how_many_were_met_and_missed(db: Session) -> None:
    """The figure is written out as text beside the bar: met and missed, not only a percentage in a drawing."""
    _forwarded(db, date(2026, 1, 12), date(2026, 2, 9))
    html = signed_in(make_staff(db, "cb", BEN_THANH)).get("/admin/dashboard").text
    assert "0 lượt đúng hạn, 1 lượt trễ hạn" in html
