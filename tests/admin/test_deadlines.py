"""Working days on Vietnam's calendar: weekends, Tết, public holidays and bridge Saturdays."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.deadlines import (
    DeadlineStatus,
    add_working_days,
    answer_due,
    deadline_status,
    is_working_day,
    working_days_between,
)


def test_tet_2025_is_skipped() -> None:
    """The Friday before Tết Ất Tỵ is followed by Monday 3 February: 27 Jan - 2 Feb 2025 are all off."""
    assert add_working_days(date(2025, 1, 24), 1) == date(2025, 2, 3)
    assert not any(is_working_day(date(2025, 1, 27) + timedelta(days=k)) for k in range(7))


def test_twenty_working_days_across_tet_2025() -> None:
    """A case forwarded on Monday 20 January 2025 is due on Monday 24 February (Tết adds a week)."""
    assert answer_due(date(2025, 1, 20)) == date(2025, 2, 24)
    assert working_days_between(date(2025, 1, 20), date(2025, 2, 24)) == 20


def test_complex_case_gets_thirty_working_days() -> None:
    """A complex case forwarded on 20 January 2025 is due 10 working days later than a simple one."""
    due = answer_due(date(2025, 1, 20), complex_case=True)
    assert due == date(2025, 3, 10)
    assert working_days_between(answer_due(date(2025, 1, 20)), due) == 10


def test_tet_2026_is_skipped() -> None:
    """Tết Bính Ngọ: 16-20 February 2026 are off, so Friday 13 February is followed by Monday 23."""
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 23)


def test_public_holidays_and_bridge_saturday() -> None:
    """Hùng Kings' day, 30/4, 1/5 and the bridge day are off; Saturday 26 April 2025 was a working day."""
    assert not is_working_day(date(2025, 4, 7))
    assert is_working_day(date(2025, 4, 26))  # worked to make a bridge for 2 May
    assert add_working_days(date(2025, 4, 25), 1) == date(2025, 4, 26)
    assert add_working_days(date(2025, 4, 29), 1) == date(2025, 5, 5)  # 30/4, 1/5, 2/5 and the weekend
    assert not is_working_day(date(2025, 9, 2))


def test_weekends_are_skipped() -> None:
    """An ordinary Friday plus one working day is the Monday after."""
    assert add_working_days(date(2025, 3, 7), 1) == date(2025, 3, 10)
    assert add_working_days(date(2025, 3, 7), 0) == date(2025, 3, 7)


def test_deadline_status_counts_working_days() -> None:
    """Due within 3 working days is 'due soon', the due day itself included; after it, overdue."""
    due = date(2025, 3, 7)  # a Friday
    assert deadline_status(due, date(2025, 3, 3)) is DeadlineStatus.ON_TIME
    assert deadline_status(due, date(2025, 3, 4)) is DeadlineStatus.DUE_SOON
    assert deadline_status(due, due) is DeadlineStatus.DUE_SOON
    assert deadline_status(due, date(2025, 3, 8)) is DeadlineStatus.OVERDUE


def test_due_soon_reaches_across_tet() -> None:
    """Eleven calendar days before a deadline is still 'due soon' when Tết lies between."""
    assert deadline_status(date(2025, 2, 4), date(2025, 1, 24)) is DeadlineStatus.DUE_SOON


def test_negative_or_absurd_spans_are_refused() -> None:
    """A negative count or one of decades is a programming error, not a date."""
    with pytest.raises(ValueError):
        add_working_days(date(2025, 1, 1), -1)
    with pytest.raises(ValueError):
        add_working_days(date(2025, 1, 1), 100_000)


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)), st.integers(min_value=1, max_value=60))
def test_result_is_a_working_day_n_working_days_later(start: date, n: int) -> None:
    """Whatever the start, the n-th working day after it is a working day, exactly n working days on."""
    end = add_working_days(start, n)
    assert is_working_day(end)
    assert working_days_between(start, end) == n
