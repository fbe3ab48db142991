"""The clock from the first day: every case works against a deadline from the day its committee received it.

First the committee's own handling (accept and forward, or find it outside the remit) within the
committee's `first_handling_days` working days (10 unless its chair sets another figure); once
forwarded, the competent body's legal answer deadline (20 or 30 working days, `intake.deadlines`).
`Case.sync_clock` keeps the running deadline (`next_due_on`) and the open flag in step with the
status at every flush; this module starts the first deadline, and reads ages and marks for screens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from intake.dates import local_date
from intake.deadlines import (
    FIRST_HANDLING_DAYS,
    MAX_FIRST_HANDLING_DAYS,
    DeadlineStatus,
    deadline_status,
    first_handling_due,
    working_days_between,
)
from intake.errors import InvalidInputError
from intake.models import FIRST_HANDLING_STATUSES, Case, Committee

log = logging.getLogger(__name__)


def received_on(case: Case) -> date:
    """The day in Vietnam a case was received."""
    return local_date(case.received_at)


def handling_days(session: Session, committee_id: int) -> int:
    """The committee's working days for a first handling (the default when it is unknown)."""
    committee = session.get(Committee, committee_id)
    return committee.first_handling_days if committee is not None else FIRST_HANDLING_DAYS


def start_first_handling(session: Session, case: Case, *, since: date) -> None:
    """Starts the first-handling deadline of the case's committee, counted from `since`."""
    case.first_due_on = first_handling_due(since, handling_days(session, case.committee_id))
    case.sync_clock()


def set_first_handling_days(committee: Committee, days: int) -> None:
    """Sets a committee's rule for first handling; it applies to cases that reach the committee from now on."""
    if not 1 <= days <= MAX_FIRST_HANDLING_DAYS:
        raise InvalidInputError("first handling days out of range")
    committee.first_handling_days = days


def start_missing_clocks(session: Session) -> int:
    """Gives cases still awaiting a first handling, filed before the clock existed, their deadline from receipt."""
    waiting = session.exec(
        select(Case).where(Case.status.in_(sorted(FIRST_HANDLING_STATUSES)), Case.first_due_on.is_(None))  # type: ignore[attr-defined,union-attr]
    ).all()
    days: dict[int, int] = {}
    for case in waiting:
        n = days.setdefault(case.committee_id, handling_days(session, case.committee_id))
        case.first_due_on = first_handling_due(received_on(case), n)
        case.sync_clock()
    if waiting:
        log.info("clock: first-handling deadlines given to %s cases filed before it existed", len(waiting))
    return len(waiting)


@dataclass(frozen=True)
class Clock:
    """What a screen shows of a case's clock: its age and the deadline it works against now."""

    age: int | None  # working days since receipt, for an open case
    due_on: date | None
    mark: DeadlineStatus | None


def clock_of(case: Case, today: date) -> Clock:
    """The case's age in working days and its running deadline with its mark (none once it has ended)."""
    if not case.is_open:
        return Clock(None, None, None)
    age = max(0, working_days_between(received_on(case), today))
    due = case.next_due_on
    return Clock(age, due, deadline_status(due, today) if due is not None else None)
