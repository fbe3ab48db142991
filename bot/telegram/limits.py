"""Safety on a messaging channel: each update processed once, and per-chat limits.

Counted events carry a keyed hash of the chat (a different key from the dialog's), never the chat
id, and are kept only as long as a limit needs them: a message two minutes, a filed report a day,
its time rounded down to the hour so that it cannot be matched to the case filed at that second.
Nothing here is Telegram-specific; the Zalo channel can use it as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from intake.crypto import keyed_hash
from intake.db import get_engine, session_scope
from intake.models import ProcessedUpdate, RateEvent, UTCDateTime, utcnow

MESSAGE, REPORT = "msg", "report"
KEEP_MESSAGES = timedelta(minutes=2)
KEEP_REPORTS = timedelta(hours=24)
KEEP_UPDATES = timedelta(days=3)  # Telegram gives up redelivering an update after a day
SWEEP_EVERY = 60.0  # seconds between deletions of expired rows

_next_sweep = 0.0
T = TypeVar("T")


@dataclass(frozen=True)
class Admission:
    """Whether to process an update: `duplicate` (seen before), `limited` (too many), `warn` (say so once)."""

    duplicate: bool = False
    limited: bool = False
    warn: bool = False
    recent: int = 0  # the chat's messages counted in the last minute, before this one


def rate_key(channel: str, chat_id: str) -> str:
    """The keyed hash a chat's counted events are filed under."""
    return keyed_hash("rate", f"{channel}:{chat_id}")


# The hot path runs as prepared Core statements: one small transaction per update.
_UPDATES = ProcessedUpdate.__table__  # type: ignore[attr-defined]
_EVENTS = RateEvent.__table__  # type: ignore[attr-defined]
_MARK = _UPDATES.insert().values(channel=sa.bindparam("channel"), update_key=sa.bindparam("key"), processed_at=sa.bindparam("now", type_=UTCDateTime()))
_RECENT = (
    sa.select(sa.func.count())
    .select_from(_EVENTS)
    .where(_EVENTS.c.key_hash == sa.bindparam("key_hash"), _EVENTS.c.kind == MESSAGE, _EVENTS.c.at > sa.bindparam("since", type_=UTCDateTime()))
)
_COUNT = _EVENTS.insert().values(key_hash=sa.bindparam("key_hash"), kind=MESSAGE, at=sa.bindparam("now", type_=UTCDateTime()))


_SEEN = sa.select(_UPDATES.c.id).where(_UPDATES.c.channel == sa.bindparam("channel"), _UPDATES.c.update_key == sa.bindparam("key"))


def mark_processed(conn: sa.Connection | Session, channel: str, update_key: str) -> None:
    """Records an update as processed, in the caller's transaction (a second mark raises IntegrityError)."""
    conn.execute(_MARK, {"channel": channel, "key": update_key[:64], "now": utcnow()})


def admit(channel: str, update_key: str, chat_id: str | None, *, per_minute: int, mark: bool = True) -> Admission:
    """Counts an update against its chat's minute and says whether it was seen before; one transaction.

    With `mark`, the update is recorded as processed here. Without it, the caller records it in
    the transaction that does the work (`mark_processed`), so that a crash between the two cannot
    leave an update marked done that was never done: Telegram's redelivery is then processed.
    """
    try:
        with get_engine().begin() as conn:
            if mark:
                mark_processed(conn, channel, update_key)  # a redelivery fails here
            admission = look(conn, channel, None if mark else update_key, chat_id, per_minute=per_minute)
            if not admission.duplicate:
                record(conn, channel, None, chat_id, admission, per_minute=per_minute)
            return admission
    except IntegrityError:
        return Admission(duplicate=True)


def look(conn: sa.Connection | Session, channel: str, update_key: str | None, chat_id: str | None, *, per_minute: int) -> Admission:
    """Whether an update was processed before, and whether its chat is over its minute: reads only.

    With `record` after the work, an update that steps the conversation is admitted, stepped and
    marked in one transaction, and on SQLite that transaction takes the write lock only for its
    writes at the end, not while the step computes.
    """
    if update_key is not None and conn.execute(_SEEN, {"channel": channel, "key": update_key[:64]}).first() is not None:
        return Admission(duplicate=True)
    if chat_id is None:
        return Admission()
    since = utcnow() - timedelta(minutes=1)
    recent = int(conn.execute(_RECENT, {"key_hash": rate_key(channel, chat_id), "since": since}).scalar_one())
    return Admission(limited=recent >= per_minute, warn=recent == per_minute, recent=recent)


def record(
    conn: sa.Connection | Session, channel: str, update_key: str | None, chat_id: str | None, admission: Admission, *, per_minute: int
) -> None:
    """Writes what `look` decided: the message counted, the update marked processed (a second
    mark raises IntegrityError), and expired rows swept now and then."""
    if chat_id is not None and admission.recent < 3 * per_minute:
        # A flood stays counted (so it stays limited) but cannot grow the table without bound.
        conn.execute(_COUNT, {"key_hash": rate_key(channel, chat_id), "now": utcnow()})
    if update_key is not None:
        mark_processed(conn, channel, update_key)
    _sweep(conn)


def step_once(
    conn: sa.Connection | Session,
    channel: str,
    update_key: str,
    chat_id: str,
    step: Callable[[], list[T]],
    *,
    per_minute: int | None,
) -> tuple[Admission, list[T]]:
    """Runs `step` for an update in the caller's transaction, and marks the update processed with it.

    With `per_minute`, the update is first admitted in the same transaction (a duplicate is not
    stepped; a chat over its minute is counted and marked, not stepped); without, the caller has
    admitted it already. Either way the step and its mark commit together, or (a crash) neither does.
    """
    admission = Admission()
    if per_minute is not None:
        admission = look(conn, channel, update_key, chat_id, per_minute=per_minute)
        if admission.duplicate:
            return admission, []
        if admission.limited:
            record(conn, channel, update_key, chat_id, admission, per_minute=per_minute)
            return admission, []
    replies = step()
    if per_minute is not None:
        record(conn, channel, update_key, chat_id, admission, per_minute=per_minute)
    else:
        mark_processed(conn, channel, update_key)
    return admission, replies


def reports_left(session: Session, channel: str, chat_id: str, *, per_day: int) -> tuple[int, timedelta]:
    """How many more reports the chat may file now, and when the oldest counted one stops counting."""
    now = utcnow()
    key = rate_key(channel, chat_id)
    times = session.exec(
        select(RateEvent.at).where(RateEvent.key_hash == key, RateEvent.kind == REPORT, RateEvent.at > now - KEEP_REPORTS).order_by(RateEvent.at)  # type: ignore[arg-type]
    ).all()
    wait = (times[0] + KEEP_REPORTS - now) if times else timedelta(0)
    return max(0, per_day - len(times)), wait


def reserve_report(session: Session, channel: str, chat_id: str, *, per_day: int) -> RateEvent | None:
    """Takes one of the chat's reports for the day before filing; None when none is left.

    Writing first also makes the filing's transaction a writer from its start, so that on SQLite
    two filings cannot both pass the check, nor fail on a stale read after the long passphrase hash.
    """
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    event = RateEvent(key_hash=rate_key(channel, chat_id), kind=REPORT, at=hour)
    session.add(event)
    session.flush()
    left, _wait = reports_left(session, channel, chat_id, per_day=per_day + 1)
    if left > 0:
        return event
    session.delete(event)
    session.flush()
    return None


def release_report(session: Session, event: RateEvent) -> None:
    """Gives back a report taken by `reserve_report` when the filing did not happen."""
    session.delete(event)
    session.flush()


def _sweep(conn: sa.Connection | Session) -> None:
    """Deletes counted events and processed-update marks that no limit needs any more."""
    global _next_sweep
    clock = time.monotonic()
    if clock < _next_sweep:
        return
    _next_sweep = clock + SWEEP_EVERY
    now = utcnow()
    conn.execute(sa.delete(_EVENTS).where(_EVENTS.c.kind == MESSAGE, _EVENTS.c.at < now - KEEP_MESSAGES))
    conn.execute(sa.delete(_EVENTS).where(_EVENTS.c.kind == REPORT, _EVENTS.c.at < now - KEEP_REPORTS))
    conn.execute(sa.delete(_UPDATES).where(_UPDATES.c.processed_at < now - KEEP_UPDATES))


def already_sent(channel: str, key: str) -> bool:
    """Whether an outgoing message with this key was shown already (the outbox may retry it)."""
    with session_scope() as session:
        query = select(ProcessedUpdate.id).where(ProcessedUpdate.channel == channel, ProcessedUpdate.update_key == key[:64])
        return session.exec(query).first() is not None


def mark_sent(channel: str, key: str) -> None:
    """Records an outgoing message as shown, so that a retry skips it."""
    try:
        with session_scope() as session:
            session.add(ProcessedUpdate(channel=channel, update_key=key[:64]))
    except IntegrityError:
        pass  # marked by an earlier attempt that died before it could say so
