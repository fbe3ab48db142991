"""The inbox: webhook events acknowledged but not yet processed, kept so that a crash loses none.

Zalo sends an event once and never again after our 200, so the event is written here (its body
encrypted: it carries the user id and what they wrote) before the 200, and deleted in the
transaction of the conversation step it causes. Rows left by a crash are processed at the next
start. A chat is filed under a keyed hash of its own purpose, which matches neither the dialog's nor
the rate limits' hash. Blocking functions over prepared Core statements: run them off the event loop.

Several servers may share one inbox. A server processes a chat's events only while it holds the
chat's lease (`lease`, renewed before each event, given back when it is done): another server's
recovery pass leaves that chat alone, so a chat's events are taken in order, by one server at a
time, and each retry is counted once. A server that dies keeps its leases until they run out
(`LEASE`); the same server started again (same name, see `set_server_name`) takes them up at once.
"""

from __future__ import annotations

import os
import socket
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
LEASE = timedelta(seconds=60)  # how long a server holds a chat's events without renewing (each event renews)
_server = f"{socket.gethostname()}:{os.getpid()}"[:64]

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


def set_server_name(name: str) -> None:
    """Names this server on the leases it takes: `serve` uses its host and port, the same across restarts."""
    global _server
    _server = name[:64]


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


def lease(channel: str, chat: str) -> list[Pending]:
    """Takes (or renews) this server's lease on the chat's events and returns them oldest first; [] when another server holds them.

    On PostgreSQL the chat's rows are locked while the lease is decided, so two servers cannot
    both take it; on SQLite one server runs (`intake.locks.ReplicaLock`).
    """
    now = utcnow()
    query = _PENDING.add_columns(_INBOX.c.leased_by, _INBOX.c.leased_until)
    with get_engine().begin() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = conn.execute(query, {"channel": channel, "chat": chat}).all()
        if any(r.leased_by not in (None, _server) and r.leased_until is not None and r.leased_until > now for r in rows):
            return []
        if rows:
            conn.execute(
                _INBOX.update()
                .where(_INBOX.c.id.in_([r.id for r in rows]))
                .values(leased_by=_server, leased_until=now + LEASE)
            )
    return [Pending(int(r.id), r.event_key, decrypt_bytes(bytes(r.body_enc)), int(r.attempts), r.last_error) for r in rows]


def release(channel: str, chat: str) -> None:
    """Gives back this server's lease on the chat (what is left is for the next recovery pass, anyone's)."""
    with get_engine().begin() as conn:
        conn.execute(
            _INBOX.update()
            .where(_INBOX.c.channel == channel, _INBOX.c.chat_hash == chat, _INBOX.c.leased_by == _server)
            .values(leased_by=None, leased_until=None)
        )


def stale_chats(channel: str, before: datetime) -> list[str]:
    """The chats with events received before `before` still in the inbox and held by no other server, the one waiting longest first."""
    now = utcnow()
    free = sa.or_(_INBOX.c.leased_until.is_(None), _INBOX.c.leased_until < now, _INBOX.c.leased_by == _server)
    query = (
        sa.select(_INBOX.c.chat_hash)
        .where(_INBOX.c.channel == channel, _INBOX.c.received_at < before, free)
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
