"""Locks across processes and servers: PostgreSQL advisory locks, or a flock beside a SQLite database.

Several `phananh serve` may run on one PostgreSQL. What must happen once — migrating the schema and
setting up the first run, a scheduled job — takes a named lock first. On PostgreSQL that is a
session-level advisory lock on a connection held for the block (released by PostgreSQL if the process
dies); on SQLite, whose servers all run on one machine, an flock on a file beside the database
(released by the kernel if the process dies). A lock's name maps to one 64-bit advisory key.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from intake.db import get_engine

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """The advisory key of a named lock (a signed 64-bit integer, as PostgreSQL takes it)."""
    return int.from_bytes(hashlib.sha256(f"phananh:{name}".encode()).digest()[:8], "big", signed=True)


def _lock_file(engine: Engine, name: str) -> Path | None:
    """The file whose flock stands for the lock on SQLite (None for an in-memory database)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{database}-{name}.lock")


@contextmanager
def exclusive(name: str, *, wait: bool = True, engine: Engine | None = None) -> Iterator[bool]:
    """Holds the lock `name` while the block runs, and yields True.

    With `wait=False` the block runs at once either way: it is told False when another process holds
    the lock (a scheduled job then skips its turn).
    """
    engine = engine or get_engine()
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = _pg_lock(conn, lock_key(name), wait=wait, shared=False)
            try:
                yield got
            finally:
                if got:
                    _pg_unlock(conn, lock_key(name), shared=False)
        return
    path = _lock_file(engine, name)
    if path is None:
        yield True
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            got = True
        except BlockingIOError:
            got = False
        yield got
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _pg_lock(conn: Connection, key: int, *, wait: bool, shared: bool) -> bool:
    fn = {(True, False): "pg_advisory_lock", (False, False): "pg_try_advisory_lock",
          (True, True): "pg_advisory_lock_shared", (False, True): "pg_try_advisory_lock_shared"}[(wait, shared)]
    value = conn.execute(sa.select(getattr(sa.func, fn)(key))).scalar_one()
    conn.commit()  # a session-level lock outlives the transaction; the connection is left idle, not in one
    return True if wait else bool(value)


def _pg_unlock(conn: Connection, key: int, *, shared: bool) -> None:
    try:
        conn.execute(sa.select(getattr(sa.func, "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock")(key)))
        conn.commit()
    except sa.exc.DBAPIError:
        # The connection broke: PostgreSQL ended its session, and the lock with it. Never pooled again.
        conn.invalidate()


class ReplicaLock:
    """What a running `phananh serve` holds for its whole life, on a connection of its own.

    Without a shared store for the rate limits a server counts them in its own memory, so a second
    server would double every limit: it holds the lock alone (exclusive) and a second one is refused.
    With PHANANH_REDIS_URL every server holds it shared, and may run beside others that do too.
    """

    NAME = "serve"

    def __init__(self, *, shared: bool, engine: Engine | None = None) -> None:
        self.shared = shared
        self._engine = engine or get_engine()
        self._conn: Connection | None = None
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Takes the lock without waiting; False when a server that excludes this one runs already."""
        if self._engine.dialect.name == "postgresql":
            # Its own engine, no pool: the connection lives as long as this process, apart from the pool's.
            engine = sa.create_engine(self._engine.url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 10})
            self._conn = engine.connect()
            if _pg_lock(self._conn, lock_key(self.NAME), wait=False, shared=self.shared):
                return True
            self._conn.close()
            self._conn = None
            return False
        path = _lock_file(self._engine, self.NAME)
        if path is None:
            return True
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # ends the session: PostgreSQL lets the lock go
            self._conn = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
