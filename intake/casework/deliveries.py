"""Deliveries to residents as staff see them: counts per state, the dead letters, and putting one back.

Staff see a committee's own cases only, and never a chat handle: a dead letter is shown by case,
channel, attempts and the platform's error code. Retrying is technical, not casework (its own
permission, which the system administrator has too, on a case of one's own committee) and is written
to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from intake import audit, outbox
from intake.casework.policy import Perm, require
from intake.errors import InvalidTransitionError, NotFoundError
from intake.models import Case, OutboxMessage, OutboxStatus, StaffUser

STATES: tuple[str, ...] = tuple(s.value for s in OutboxStatus)
MESSAGE_KEY = "case-message:"  # the delivery key `messages.tell_resident` gives a thread message


@dataclass(frozen=True)
class DeadLetter:
    """A message that could not be delivered, as the deliveries page lists it."""

    id: int
    case_id: int
    channel: str
    attempts: int
    last_error: str
    created_at: datetime
    failed_at: datetime


def counts(session: Session, user: StaffUser) -> dict[str, int]:
    """How many messages of the committee's cases are in each state (every state listed, zeros included)."""
    require(user, Perm.DELIVERIES)
    rows = session.execute(
        sa.select(OutboxMessage.status, sa.func.count())  # type: ignore[call-overload]
        .join(Case, Case.id == OutboxMessage.case_id)
        .where(Case.committee_id == user.committee_id)
        .group_by(OutboxMessage.status)
    ).all()
    found = {state: 0 for state in STATES}
    found.update({status: int(n) for status, n in rows})
    return found


def dead_letters(session: Session, user: StaffUser, *, limit: int = 200) -> list[DeadLetter]:
    """The committee's dead letters, the newest failure first."""
    require(user, Perm.DELIVERIES)
    rows = session.exec(
        select(OutboxMessage)
        .join(Case, Case.id == OutboxMessage.case_id)  # type: ignore[arg-type]
        .where(Case.committee_id == user.committee_id, OutboxMessage.status == OutboxStatus.DEAD.value)
        .order_by(OutboxMessage.next_attempt_at.desc(), OutboxMessage.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(limit)
    ).all()
    # A dead letter's next_attempt_at is when its last attempt failed (plus the backoff it would have had).
    return [DeadLetter(r.id, r.case_id, r.channel, r.attempts, r.last_error, r.created_at, r.next_attempt_at) for r in rows]  # type: ignore[arg-type]


def message_states(session: Session, case_id: int) -> dict[int, str]:
    """The delivery state of each staff message of a case's thread, by thread message id."""
    rows = session.exec(
        select(OutboxMessage.delivery_key, OutboxMessage.status).where(
            OutboxMessage.case_id == case_id,
            OutboxMessage.delivery_key.startswith(MESSAGE_KEY),
        )
    ).all()
    states: dict[int, str] = {}
    for key, status in rows:
        tail = key.removeprefix(MESSAGE_KEY)
        if tail.isdigit():
            states[int(tail)] = status
    return states


def retry_dead_letter(session: Session, *, outbox_id: int, actor: StaffUser) -> OutboxMessage:
    """Puts a dead letter back in the queue, with its attempts counted afresh; audited."""
    row = session.get(OutboxMessage, outbox_id)
    if row is None:
        raise NotFoundError("delivery not found")
    # Another committee's message does not exist for this account. The case is not opened for reading:
    # an administrator may retry without the VIEW permission.
    case = session.get(Case, row.case_id)
    if case is None or case.committee_id != actor.committee_id:
        raise NotFoundError("delivery not found")
    require(actor, Perm.RETRY_DELIVERY)
    if row.status != OutboxStatus.DEAD.value:
        raise InvalidTransitionError(f"retry not allowed from {row.status}")
    previous = row.attempts
    outbox.retry_dead(session, outbox_id)
    audit.record(
        session,
        "outbox.retried",
        actor_kind="staff",
        actor_id=actor.id,
        case_id=case.id,
        details={"outbox": row.id, "channel": row.channel, "attempts": previous},
    )
    return row
