"""Working days on Vietnam's calendar, and the legal answer deadline that follows a forwarding.

The competent body answers "chậm nhất 20 ngày làm việc" after receiving the Front's report, 30 for
a complex case (seed 002, III.2.1). Working days skip weekends and Vietnam's public holidays (Tết
included) as the `holidays` package knows them, and count the Saturdays the government turns into
working days to make a bridge (e.g. 26 April 2025).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import holidays

from intake.dates import VIETNAM_TZ, as_utc
from intake.i18n import N_
from intake.models import StrEnum

ANSWER_DAYS = 20
COMPLEX_ANSWER_DAYS = 30
FIRST_HANDLING_DAYS = 10  # a committee's default; each committee's chair may set its own
MAX_FIRST_HANDLING_DAYS = 60
DUE_SOON_DAYS = 3
_MAX_SPAN = 3660  # working days one call may count: ten years, far beyond any legal deadline


class DeadlineStatus(StrEnum):
    """Where a forwarded case stands against its answer deadline."""

    ON_TIME = "on_time"
    DUE_SOON = "due_soon"  # due within DUE_SOON_DAYS working days
    OVERDUE = "overdue"


DEADLINE_LABELS: dict[str, str] = {
    DeadlineStatus.ON_TIME.value: N_("On time"),
    DeadlineStatus.DUE_SOON.value: N_("Due within 3 working days"),
    DeadlineStatus.OVERDUE.value: N_("Overdue"),
}


@dataclass(frozen=True)
class _Year:
    days_off: frozenset[date]
    weekend_workdays: frozenset[date]


@functools.cache
def _year(year: int) -> _Year:
    """One year's holidays and bridge Saturdays, read once (a cached frozen value is safe across threads)."""
    cal = holidays.country_holidays("VN", years=year)
    return _Year(frozenset(cal.keys()), frozenset(getattr(cal, "weekend_workdays", ()) or ()))


def is_working_day(day: date) -> bool:
    """Whether offices work on this day: not a weekend (unless a bridge Saturday), not a holiday."""
    info = _year(day.year)
    if day in info.days_off:
        return False
    if day.weekday() >= 5:
        return day in info.weekend_workdays
    return True


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after `start` (start itself not counted); n = 0 gives start back."""
    if n < 0 or n > _MAX_SPAN:
        raise ValueError(f"n must be between 0 and {_MAX_SPAN}")
    day = start
    left = n
    while left:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


@functools.cache
def _running_totals(year: int) -> tuple[int, ...]:
    """For each day of a year (0 = 1 January), the working days from 1 January up to and including it."""
    totals: list[int] = []
    count = 0
    day = date(year, 1, 1)
    while day.year == year:
        count += is_working_day(day)
        totals.append(count)
        day += timedelta(days=1)
    return tuple(totals)


def _working_index(day: date) -> int:
    """Working days from 1 January of the day's year up to and including the day."""
    return _running_totals(day.year)[day.timetuple().tm_yday - 1]


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (negative when end is before start)."""
    if end < start:
        return -working_days_between(end, start)
    if (end - start).days > _MAX_SPAN * 2:
        raise ValueError("span too long")
    # Read from per-year running totals (the queue counts an age for every row it shows).
    total = _working_index(end) - _working_index(start)
    for year in range(start.year, end.year):
        total += _running_totals(year)[-1]
    return total


def first_handling_due(received_on: date, days: int = FIRST_HANDLING_DAYS) -> date:
    """When the committee's first handling (accept and forward, or out of scope) is due: `days` working days on."""
    return add_working_days(received_on, days)


def answer_due(forwarded_on: date, *, complex_case: bool = False) -> date:
    """The legal answer deadline: 20 working days after forwarding, 30 for a complex case."""
    return add_working_days(forwarded_on, COMPLEX_ANSWER_DAYS if complex_case else ANSWER_DAYS)


def due_soon_limit(today: date) -> date:
    """The last due date that still counts as "due soon" today."""
    return add_working_days(today, DUE_SOON_DAYS)


def deadline_status(due_on: date, today: date) -> DeadlineStatus:
    """On time, due within 3 working days, or overdue (the due day itself is still in time)."""
    if today > due_on:
        return DeadlineStatus.OVERDUE
    if due_on <= due_soon_limit(today):
        return DeadlineStatus.DUE_SOON
    return DeadlineStatus.ON_TIME


def local_today(now: datetime | None = None) -> date:
    """Today's date in Vietnam, where the working day is counted."""
    return as_utc(now or datetime.now(timezone.utc)).astimezone(VIETNAM_TZ).date()
