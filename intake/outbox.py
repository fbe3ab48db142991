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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from intake.crypto import decrypt
from intake.db import session_scope
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


def claim(session: Session, *, limit: int = 50, now: datetime | None = None) -> list[Claimed]:
    """Takes up to `limit` due rows for this worker (pending, or sending with an expired lease)."""
    now = now or utcnow()
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]),  # type: ignore[attr-defined]
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.exec(query).all()
    claimed = []
    for row in rows:
        row.status = OutboxStatus.SENDING.value
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        claimed.append(Claimed(row.id, row.case_id, row.channel, row.body, row.delivery_key, row.attempts))  # type: ignore[arg-type]
    session.commit()
    return claimed


def _handles(session: Session, case_id: int, channel: str) -> list[str]:
    links = session.exec(
        select(ChatLink).where(ChatLink.case_id == case_id, ChatLink.channel == channel, ChatLink.deleted_at.is_(None))  # type: ignore[union-attr]
    ).all()
    return [decrypt(link.handle_enc) for link in links if link.handle_enc]


def _finish(session: Session, row_id: int, **values: object) -> None:
    session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))  # type: ignore[arg-type]
    session.commit()


def deliver_batch(senders: Mapping[str, Sender], *, limit: int = 50, max_attempts: int = 8) -> int:
    """Claims and sends one batch; returns how many rows it settled (sent, held or dead)."""
    with session_scope() as session:
        batch = claim(session, limit=limit)
        settled = 0
        for item in batch:
            now = utcnow()
            handles = _handles(session, item.case_id, item.channel)
            sender = senders.get(item.channel)
            if not handles or sender is None:
                # No chat to push to (no opt-in, or a web/terminal report): the resident reads it at look-up.
                _finish(session, item.id, status=OutboxStatus.HELD.value, sent_at=now, last_error="")
                settled += 1
                continue
            try:
                for handle in handles:
                    sender(handle, item.body, item.delivery_key)
            except DeliveryError as err:
                dead = not err.retryable or item.attempts >= max_attempts
                delay = timedelta(seconds=err.retry_after) if err.retry_after else backoff(item.attempts)
                _finish(
                    session,
                    item.id,
                    status=(OutboxStatus.DEAD if dead else OutboxStatus.PENDING).value,
                    next_attempt_at=now + delay,
                    last_error=err.code[:500],
                )
                log.warning("outbox %s attempt %s failed: %s%s", item.id, item.attempts, err.code, " (dead)" if dead else "")
                settled += int(dead)
                continue
            _finish(session, item.id, status=OutboxStatus.SENT.value, sent_at=now, last_error="")
            settled += 1
        return settled


def run_worker(senders: Mapping[str, Sender], stop: threading.Event, *, poll_seconds: float = 1.0, max_attempts: int = 8) -> None:
    """Delivers until `stop` is set; sleeps when there is nothing due."""
    log.info("outbox worker started (%s)", ", ".join(sorted(senders)) or "no push channels")
    while not stop.is_set():
        try:
            busy = deliver_batch(senders, max_attempts=max_attempts)
        except sa.exc.OperationalError as err:
            log.warning("outbox worker: database unavailable (%s)", type(err).__name__)
            busy = 0
        if not busy:
            stop.wait(poll_seconds)


def retry_dead(session: Session, row_id: int) -> None:
    """Puts a dead letter back in the queue (staff action from the admin)."""
    row = session.get(OutboxMessage, row_id)
    if row is not None and row.status == OutboxStatus.DEAD.value:
        row.status = OutboxStatus.PENDING.value
        row.next_attempt_at = utcnow()
        row.attempts = 0
