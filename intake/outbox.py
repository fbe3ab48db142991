"""Delivery of messages owed to residents: claim, send through the resident's chat, retry, dead-letter.

Rows are written by the staff's actions in the same transaction as the change they report.
Workers claim due rows (FOR UPDATE SKIP LOCKED on PostgreSQL, so several can share the work),
send each through the channel's sender, and record the outcome. A claim is a lease: a worker
that dies mid-send leaves its rows to be claimed again when the lease ends, and the row's
delivery key lets the channel drop a message it has already shown.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from intake.crypto import decrypt
from intake.db import session_scope
from intake.errors import ConfigurationError
from intake.models import ChatLink, OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0


class DeliveryError(Exception):
    """A channel could not deliver; `retryable` False sends the row straight to the dead letters."""

    def __init__(self, code: str, *, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after


# A sender shows `text` in the chat `handle`; `key` is stable across retries of the same message.
Sender = Callable[[str, str, str], None]


@dataclass(frozen=True)
class Claimed:
    id: int
    case_id: int
    channel: str
    body: str
    delivery_key: str
    attempts: int


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: 5 s, 10 s, 20 s … capped at an hour."""
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]
PENDING, SENDING = OutboxStatus.PENDING.value, OutboxStatus.SENDING.value
_clock = time.monotonic  # a module attribute, so that a test can make a batch slow
UNREADABLE = "\x00unreadable"  # stands for a chat handle that no configured key decrypts


def claim(session: Session, *, limit: int = 50, now: datetime | None = None) -> list[Claimed]:
    """Takes up to `limit` due rows for this worker (pending, or sending with an expired lease); commits.

    One statement: the due rows are picked (skipping rows another worker holds, on PostgreSQL),
    leased and counted as an attempt, and returned.
    """
    now = now or utcnow()
    due = (
        sa.select(_TABLE.c.id)
        .where(_TABLE.c.status.in_((PENDING, SENDING)), _TABLE.c.next_attempt_at <= now)
        .order_by(_TABLE.c.next_attempt_at, _TABLE.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    taken = session.execute(
        sa.update(_TABLE)
        .where(_TABLE.c.id.in_(due.scalar_subquery()))
        .values(status=SENDING, attempts=_TABLE.c.attempts + 1, next_attempt_at=now + LEASE)
        .returning(_TABLE.c.id, _TABLE.c.case_id, _TABLE.c.channel, _TABLE.c.body, _TABLE.c.delivery_key, _TABLE.c.attempts)
    ).all()
    session.commit()
    return sorted((Claimed(*row) for row in taken), key=lambda c: c.id)


def _handles(session: Session, batch: list[Claimed]) -> dict[tuple[int, str], list[str]]:
    """The chats each (case, channel) of a batch pushes to, decrypted; one query for the batch."""
    cases = {item.case_id for item in batch}
    links = session.execute(
        sa.select(ChatLink.case_id, ChatLink.channel, ChatLink.handle_enc).where(  # type: ignore[call-overload]
            ChatLink.case_id.in_(cases),  # type: ignore[attr-defined]
            ChatLink.deleted_at.is_(None),  # type: ignore[union-attr]
            ChatLink.handle_enc.is_not(None),  # type: ignore[union-attr]
        ).order_by(ChatLink.id)
    ).all()
    found: dict[tuple[int, str], list[str]] = {}
    for case_id, channel, handle_enc in links:
        try:
            handle = decrypt(handle_enc)
        except ConfigurationError:
            # A key removed too early: this chat cannot be reached, and saying so beats holding silently.
            handle = UNREADABLE
        found.setdefault((case_id, channel), []).append(handle)
    return found


@dataclass
class _Outcomes:
    """What a batch came to, written back in a few statements rather than one per row."""

    sent: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def write(self, session: Session, now: datetime) -> None:
        for ids, status in ((self.sent, OutboxStatus.SENT), (self.held, OutboxStatus.HELD)):
            if ids:
                session.execute(
                    sa.update(_TABLE).where(_TABLE.c.id.in_(ids)).values(status=status.value, sent_at=now, last_error="")
                )
        if self.failed:
            session.execute(
                sa.update(_TABLE)
                .where(_TABLE.c.id == sa.bindparam("row_id"))
                .values(status=sa.bindparam("new_status"), next_attempt_at=sa.bindparam("due"), last_error=sa.bindparam("error")),
                self.failed,
            )
        session.commit()


def _send(item: Claimed, handles: list[str], sender: Sender, max_attempts: int, now: datetime, out: _Outcomes) -> bool:
    """Sends one claimed row to each of its chats; returns whether the row is settled."""
    try:
        for handle in handles:
            if handle == UNREADABLE:
                raise DeliveryError("the chat handle cannot be decrypted with the configured keys", retryable=False)
            sender(handle, item.body, item.delivery_key)
    except Exception as caught:  # noqa: BLE001 - a sender's bug must not stop the batch: it is retried, then dead
        err = caught if isinstance(caught, DeliveryError) else DeliveryError(f"unexpected {type(caught).__name__}")
        if not isinstance(caught, DeliveryError):
            log.error("outbox %s: the %s sender failed unexpectedly: %s", item.id, item.channel, type(caught).__name__)
        dead = not err.retryable or item.attempts >= max_attempts
        delay = timedelta(seconds=err.retry_after) if err.retry_after else backoff(item.attempts)
        status = OutboxStatus.DEAD.value if dead else PENDING
        out.failed.append({"row_id": item.id, "new_status": status, "due": now + delay, "error": err.code[:500]})
        log.warning("outbox %s attempt %s failed: %s%s", item.id, item.attempts, err.code, " (dead)" if dead else "")
        return dead
    out.sent.append(item.id)
    return True


def deliver(senders: Mapping[str, Sender], *, limit: int = 50, max_attempts: int = 8) -> tuple[int, int]:
    """Claims and sends one batch; returns how many rows it claimed and how many it settled (sent, held or dead).

    The outcomes are written once, at the end of the batch: a worker that dies mid-batch leaves
    its rows leased, and their retry carries the same delivery keys, which the senders use to
    show nothing twice. No new row of a batch is started past a third of its lease (a send times
    out within a minute), so that no other worker can claim a row this one is still sending.
    """
    # Short transactions on either side of the sends: no connection sits idle in a transaction
    # while the platforms answer.
    with session_scope() as session:
        batch = claim(session, limit=limit)
        if not batch:
            return 0, 0
        claimed_at = _clock()
        chats = _handles(session, batch)
    out = _Outcomes()
    settled = 0
    for done, item in enumerate(batch):
        if _clock() - claimed_at > LEASE.total_seconds() / 3:
            log.warning("outbox batch slow: %s rows left for a later claim", len(batch) - done)
            break
        handles = chats.get((item.case_id, item.channel), [])
        sender = senders.get(item.channel)
        if not handles or sender is None:
            # No chat to push to (no opt-in, or a web/terminal report): the resident reads it at look-up.
            out.held.append(item.id)
            settled += 1
            continue
        settled += _send(item, handles, sender, max_attempts, utcnow(), out)
    with session_scope() as session:
        out.write(session, utcnow())
    return len(batch), settled


def deliver_batch(senders: Mapping[str, Sender], *, limit: int = 50, max_attempts: int = 8) -> int:
    """Claims and sends one batch; returns how many rows it settled (sent, held or dead)."""
    return deliver(senders, limit=limit, max_attempts=max_attempts)[1]


def run_worker(
    senders: Mapping[str, Sender], stop: threading.Event, *, poll_seconds: float = 1.0, max_attempts: int = 8, batch: int = 50
) -> None:
    """Delivers until `stop` is set (checked between batches); sleeps when there is nothing due."""
    log.info("outbox worker started (%s)", ", ".join(sorted(senders)) or "no push channels")
    while not stop.is_set():
        try:
            claimed, _settled = deliver(senders, limit=batch, max_attempts=max_attempts)
        except sa.exc.OperationalError as err:
            log.warning("outbox worker: database unavailable (%s)", type(err).__name__)
            claimed = 0
        except Exception as err:  # noqa: BLE001 - the worker must outlive one bad batch; its rows are leased
            log.error("outbox worker: batch failed: %s", type(err).__name__)
            claimed = 0
        if not claimed:
            stop.wait(poll_seconds)
    log.info("outbox worker stopped")


def retry_dead(session: Session, row_id: int) -> None:
    """Puts a dead letter back in the queue; staff do it through `casework.deliveries.retry_dead_letter`, which audits."""
    row = session.get(OutboxMessage, row_id)
    if row is not None and row.status == OutboxStatus.DEAD.value:
        row.status = OutboxStatus.PENDING.value
        row.next_attempt_at = utcnow()
        row.attempts = 0
