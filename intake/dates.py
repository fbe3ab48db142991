"""Dates as people in Vietnam read them: the one place that turns a stored time into text.

Every time in the database is UTC (SQLite hands it back without a zone: it is UTC all the same).
A resident, an officer or an export reads it in Vietnam's time, day first: a report filed at
23:30 UTC on 7 December was received on 08/12 in Vietnam, and says so everywhere.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

VIETNAM_TZ = timezone(timedelta(hours=7))  # no daylight saving time in Vietnam

DATE_FORMAT = "%d/%m/%Y"
DATETIME_FORMAT = "%d/%m/%Y %H:%M"
EMPTY = "—"


def as_utc(moment: datetime) -> datetime:
    """A stored time with its zone: a naive value (SQLite) is UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def local_date(value: datetime | date) -> date:
    """The calendar day in Vietnam of a stored time; a date is already a day and stays as it is."""
    if isinstance(value, datetime):
        return as_utc(value).astimezone(VIETNAM_TZ).date()
    return value


def format_date(value: datetime | date | None, *, empty: str = EMPTY) -> str:
    """dd/mm/yyyy in Vietnam's time: the date people see in chats, the admin, exports and messages."""
    if value is None:
        return empty
    return local_date(value).strftime(DATE_FORMAT)


def format_datetime(value: datetime | date | None, *, empty: str = EMPTY) -> str:
    """dd/mm/yyyy HH:MM in Vietnam's time (a bare date is shown as a date)."""
    if value is None:
        return empty
    if not isinstance(value, datetime):
        return value.strftime(DATE_FORMAT)
    return as_utc(value).astimezone(VIETNAM_TZ).strftime(DATETIME_FORMAT)
