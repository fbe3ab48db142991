"""Dates are shown in Vietnam's time, day first, wherever they come from."""

from __future__ import annotations

from datetime import date, datetime, timezone

from intake.dates import format_date, format_datetime, local_date


def test_a_late_utc_evening_is_the_next_day_in_vietnam() -> None:
    """23:30 UTC on 7 December is 06:30 on 8 December in Vietnam."""
    moment = datetime(2026, 12, 7, 23, 30, tzinfo=timezone.utc)
    assert local_date(moment) == date(2026, 12, 8)
    assert format_date(moment) == "08/12/2026"
    assert format_datetime(moment) == "08/12/2026 06:30"


def test_a_naive_stored_time_is_utc() -> None:
    """SQLite returns times without a zone: they are UTC, not local."""
    assert format_datetime(datetime(2026, 12, 7, 23, 30)) == "08/12/2026 06:30"


def test_a_day_stays_the_day_and_nothing_shows_a_dash() -> None:
    """A calendar date is not shifted; a missing value is an em dash."""
    assert format_date(date(2027, 1, 6)) == "06/01/2027"
    assert format_datetime(date(2027, 1, 6)) == "06/01/2027"
    assert format_date(None) == "—"
