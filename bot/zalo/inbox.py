"""The inbox: webhook events acknowledged but not yet processed, kept so that a crash loses none.

Zalo sends an event once and never again after our 200, so the event is written here (its body
encrypted: it carries the user id and what they wrote) before the 200, and deleted in the
transaction of the conversation step it causes. Rows left by a crash are processed at the next
start. A chat is filed under a keyed hash of its own purpose, which matches neither the dialog's nor
the rate limits' hash. Blocking functions over prepared Core statements: run them off the event loop.

Made for one server process per database, as `phananh serve` runs: a second one's recovery pass
could take up an event the first still holds, out of its chat's order (the processed mark, written
with the step, still lets only one of them step the conversation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.telegram import limits
from intake.crypto import decrypt_bytes, encrypt_bytes, keyed_hash
from intake.db import get_engine
from intake.models import InboundEvent, ProcessedUpdate, UTCDateTime, utcnow

KEEP = timedelta(days=1)  # a row still here after a day is purged: its conversation has moved on

_INBOX = InboundEvent.__table__  # type: ignore[attr-defined]
_PUT = _INBOX.insert().values(
    channel=sa.bindparam("channel"),
    event_key=sa.bindparam("key"),
    chat_hash=sa.bindparam("chat"),
    body_enc=sa.bindparam("body"),
    received_at=sa.bindparam("now", type_=UTCDateTime()),
    attempts=0,
)
_PENDING = (
    sa.select(_INBOX.c.id, _INBOX.c.event_key, _INBOX.c.body_enc, _INBOX.c.attempts, _INBOX.c.last_error)
    .where(_INBOX.c.chat_hash == sa.bindparam("chat"), _INBOX.c.channel == sa.bindparam("channel"))
    .order_by(_INBOX.c.id)
)
_REMOVE = _INBOX.delete().where(_INBOX.c.id == sa.bindparam("row_id"))
_MARKS = ProcessedUpdate.__table__  # type: ignore[attr-defined]
_SEEN = sa.select(_MARKS.c.id).where(_MARKS.c.channel == sa.bindparam("channel"), _MARKS.c.update_key == sa.bindparam("key"))


@dataclass(frozen=True)
class Pending:
    """One event in the inbox: its row, its key (the processed mark), its verified body, and its history."""

    id: int
    key: str
    body: bytes
    attempts: int
    last_error: str | None


def chat_key(channel: str, user_id: str) -> str:
    """The keyed hash a chat's inbox rows are filed under."""
    return keyed_hash("inbox", f"{channel}:{user_id}")


def put(channel: str, key: str, chat: str, body: bytes) -> int | None:
    """Keeps one verified event; returns its row id, or None when it is in the inbox already (a redelivery)."""
    try:
        with get_engine().begin() as conn:
            result = conn.execute(_PUT, {"channel": channel, "key": key[:64], "chat": chat, "body": encrypt_bytes(body), "now": utcnow()})
            return int(result.inserted_primary_key[0])  # type: ignore[index]
    except IntegrityError:
        return None


def pending(channel: str, chat: str) -> list[Pending]:
    """The chat's events still in the inbox, oldest first."""
    with get_engine().connect() as conn:
        rows = conn.execute(_PENDING, {"channel": channel, "chat": chat}).all()
    return [Pending(int(r.id), r.event_key, decrypt_bytes(bytes(r.body_enc)), int(r.attempts), r.last_error) for r in rows]


def stale_chats(channel: str, before: datetime) -> list[str]:
    """The chats with events received before `before` still in the inbox, the one waiting longest first."""
    query = (
        sa.select(_INBOX.c.chat_hash)
        .where(_INBOX.c.channel == channel, _INBOX.c.received_at < before)
        .group_by(_INBOX.c.chat_hash)
        .order_by(sa.func.min(_INBOX.c.id))
    )
    with get_engine().connect() as conn:
        return [str(c) for c in conn.execute(query).scalars().all()]


def claim(row_id: int) -> int | None:
    """Counts one more processing of an event seen before; returns its count, or None if it is gone."""
    with get_engine().begin() as conn:
        done = conn.execute(_INBOX.update().where(_INBOX.c.id == row_id).values(attempts=_INBOX.c.attempts + 1))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return int(conn.execute(sa.select(_INBOX.c.attempts).where(_INBOX.c.id == row_id)).scalar_one())


def failed(row_id: int, error: str) -> None:
    """Notes why an event's processing failed (the exception's class name); it stays for a retry."""
    with get_engine().begin() as conn:
        conn.execute(_INBOX.update().where(_INBOX.c.id == row_id).values(last_error=error[:64]))


def remove(conn: sa.Connection | Session, row_id: int) -> None:
    """Deletes an event from the inbox, in the caller's transaction (the step it caused)."""
    conn.execute(_REMOVE, {"row_id": row_id})


def finish(channel: str, row_id: int, key: str | None) -> None:
    """Deletes an event that stepped no conversation, and marks it processed (`key`) in the same transaction."""
    with get_engine().begin() as conn:
        if key is not None and conn.execute(_SEEN, {"channel": channel, "key": key[:64]}).first() is None:
            limits.mark_processed(conn, channel, key)
        remove(conn, row_id)


def purge(now: datetime | None = None) -> int:
    """Deletes events left in the inbox longer than `KEEP` (a channel no longer configured); returns how many."""
    cutoff = (now or utcnow()) - KEEP
    with get_engine().begin() as conn:
        return int(conn.execute(_INBOX.delete().where(_INBOX.c.received_at < cutoff)).rowcount)  # type: ignore[attr-defined]
