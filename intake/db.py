"""Engine and sessions for SQLite (embedded default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import fcntl
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from intake.config import Settings, get_settings

# Connections a Zalo worker process (or a `phananh worker`) keeps: it runs one step at a time.
WORKER_CONNECTIONS = 2
LOCK_CONNECTIONS = 1  # held by `serve` outside its pool for its whole life (intake.locks.ReplicaLock)
_pool_role = "serve"

_READS = ("SELECT", "PRAGMA", "EXPLAIN")
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITER_FILES: dict[str, tuple[int, int]] = {}  # database path -> (pid, descriptor of its "-writer.lock" file)
# As long as SQLite's own busy timeout: past it, the writer gets "database is locked" as before.
_WRITE_WAIT_SECONDS = 30.0


class _QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose writes queue on a lock in this process instead of SQLite's retries.

    SQLite lets one writer in at a time and makes the others wait by sleeping and retrying (1, 2,
    5 … 100 ms), so with a few threads writing, a request can sleep far longer than the write it
    waits for. Here the first write of a transaction takes a process-wide lock, given back at
    commit or rollback: the next writer wakes the moment the previous one is done. Writers in other
    processes on the same file (Zalo's workers, a separate `phananh worker`) queue on a flock of a
    "-writer.lock" file beside it, taken after that lock, instead of SQLite's sleeping retries.
    """

    # A plain lock, not an RLock: a transaction may end on another thread than the one that
    # began it (FastAPI runs a dependency's set-up and tear-down in different worker threads).
    write_lock: threading.Lock
    db_path: str
    _holds_lock = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _QueuedWriterCursor)

    def before(self, sql: str) -> None:
        """Takes the write lock before this transaction's first statement that is not a read."""
        if not self._holds_lock and not sql.lstrip()[:7].upper().startswith(_READS):
            deadline = time.monotonic() + _WRITE_WAIT_SECONDS
            if not self.write_lock.acquire(timeout=_WRITE_WAIT_SECONDS):
                raise sqlite3.OperationalError("database is locked")
            try:
                _lock_writer_file(self.db_path, deadline)
            except BaseException:
                self.write_lock.release()
                raise
            self._holds_lock = True

    def _release(self) -> None:
        if self._holds_lock:
            self._holds_lock = False
            _unlock_writer_file(self.db_path)
            self.write_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


class _QueuedWriterCursor(sqlite3.Cursor):
    connection: _QueuedWriterConnection

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection.before(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection.before(sql)
        return super().executemany(sql, parameters)


def _connection_class(path: str) -> type[_QueuedWriterConnection]:
    """The connection class for one database file, sharing that file's write lock in this process."""
    lock = _WRITE_LOCKS.setdefault(path, threading.Lock())
    return type("QueuedWriterConnection", (_QueuedWriterConnection,), {"write_lock": lock, "db_path": path})


def _writer_file(path: str) -> int | None:
    """This process's descriptor of the database's "-writer.lock" file (None for an in-memory database)."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    found = _WRITER_FILES.get(path)
    if found is None or found[0] != os.getpid():  # a forked child needs its own open file (flock is per open file)
        fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        found = _WRITER_FILES[path] = (os.getpid(), fd)
    return found[1]


def _lock_writer_file(path: str, deadline: float) -> None:
    """Queues this process's writer behind other processes' (the Zalo workers, `phananh worker`).

    SQLite makes a writer from another process wait by sleeping 1, 2, 5 … 100 ms between tries, so
    a short insert could wait 100 ms behind a commit of a millisecond. A flock on a file beside the
    database, tried every fraction of a millisecond, hands the write over almost at once.
    """
    fd = _writer_file(path)
    if fd is None:
        return
    pause = 0.0001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError("database is locked") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.001)


def _unlock_writer_file(path: str) -> None:
    fd = _writer_file(path)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def pool_size(settings: Settings, role: str = "serve") -> int:
    """How many PostgreSQL connections a process of this role keeps, all from PHANANH_DATABASE_CONNECTIONS.

    One `phananh serve` opens at most PHANANH_DATABASE_CONNECTIONS in all: each of its Zalo worker
    processes keeps WORKER_CONNECTIONS, its replica lock one, and the server's threads share the rest.
    """
    if role != "serve":
        return WORKER_CONNECTIONS
    workers = settings.zalo_worker_processes if settings.zalo_app_id and settings.zalo_oa_secret_key.get_secret_value() else 0
    return max(2, settings.database_connections - WORKER_CONNECTIONS * workers - LOCK_CONNECTIONS)


def use_pool_of(role: str) -> None:
    """Sizes this process's pool for its role ("serve", "worker"); a pool made before (a forked parent's) is let go unclosed."""
    global _pool_role
    _pool_role = role
    if get_engine.cache_info().currsize:
        # A forked child shares its parent's connections: it must neither use nor close them.
        get_engine().dispose(close=False)
        get_engine.cache_clear()


def _private_file(path: str) -> None:
    """Creates the database file readable by its owner only (SQLite gives its -wal and -shm files the same mode)."""
    from pathlib import Path

    from intake.files import private_dir

    file = Path(path)
    private_dir(file.parent)
    if not file.exists():
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT, 0o600))


def make_engine(url: str, *, pool: int | None = None) -> Engine:
    """An engine tuned for this app: WAL and foreign keys on SQLite, pre-ping on PostgreSQL."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            _private_file(path)
        # hide_parameters: a failed statement's message (logged with the server's traceback) would
        # otherwise carry the values bound to it, such as a report's text.
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "factory": _connection_class(path or ":memory:")},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # psycopg prepares a statement after a few runs and PostgreSQL may then switch it to a generic
    # plan; the queue's filters are skewed (one province holds most cases, most are closed), so
    # a plan made for the actual parameters is worth its planning time.
    # A fixed pool (no overflow): PHANANH_DATABASE_CONNECTIONS bounds what a server asks of PostgreSQL.
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool or pool_size(get_settings()),
        max_overflow=0,
        connect_args={"options": "-c plan_cache_mode=force_custom_plan", "connect_timeout": 10},
        hide_parameters=True,
    )


@functools.cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database, its pool sized for this process's role."""
    settings = get_settings()
    return make_engine(settings.effective_database_url, pool=pool_size(settings, _pool_role))


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on error."""
    session = Session(engine or get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
