"""The SQLite engine: writers in one process queue on a lock instead of SQLite's sleeping retries."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from intake.db import make_engine


def _engine(tmp_path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    return engine


def _writer(engine: sa.Engine, value: str, errors: list[str], done: threading.Event) -> threading.Thread:
    """A thread that inserts `value` with SQLite's own wait turned off (it would answer "database
    is locked" at once): an error is noted in `errors`, and `done` is set either way."""

    def write() -> None:
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA busy_timeout=0")
                conn.exec_driver_sql(f"INSERT INTO t (v) VALUES ('{value}')")
        except sa.exc.OperationalError as err:
            errors.append(str(err.orig))
        done.set()

    return threading.Thread(target=write)


def test_a_second_writer_waits_for_the_first_commit_not_for_sqlite(tmp_path: Path) -> None:
    """With SQLite's own wait turned off, a writer arriving mid-transaction still succeeds once the first commits."""
    engine = _engine(tmp_path)
    second_done = threading.Event()
    errors: list[str] = []
    thread = _writer(engine, "second", errors, second_done)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (v) VALUES ('first')")
        thread.start()  # after this transaction's write: it arrives mid-transaction
        assert not second_done.wait(0.3)  # queued behind this transaction
    thread.join(5)
    assert errors == []
    with engine.connect() as conn:
        assert [r[0] for r in conn.exec_driver_sql("SELECT v FROM t ORDER BY id")] == ["first", "second"]


def test_a_failed_transaction_gives_the_lock_back(tmp_path: Path) -> None:
    """A write that fails and rolls back lets the next writer in."""
    engine = _engine(tmp_path)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (v) VALUES ('lost')")
        raise RuntimeError("boom")
    done = threading.Event()

    def writer() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t (v) VALUES ('kept')")
        done.set()

    threading.Thread(target=writer).start()
    assert done.wait(5)
    with engine.connect() as conn:
        assert [r[0] for r in conn.exec_driver_sql("SELECT v FROM t")] == ["kept"]


def test_a_transaction_may_end_on_another_thread(tmp_path: Path) -> None:
    """A write begun on one thread and committed on another (as FastAPI's dependencies do) frees the queue."""
    engine = _engine(tmp_path)
    conn = engine.connect()
    conn.exec_driver_sql("INSERT INTO t (v) VALUES ('begun here')")
    finisher = threading.Thread(target=conn.commit)
    finisher.start()
    finisher.join(5)
    conn.close()
    done = threading.Event()

    def next_writer() -> None:
        with engine.begin() as other:  # would wait on a lock still owned by the first thread
            other.exec_driver_sql("INSERT INTO t (v) VALUES ('next')")
        done.set()

    threading.Thread(target=next_writer, daemon=True).start()
    assert done.wait(5)
    with engine.connect() as check:
        assert check.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 2


def test_a_writer_in_another_process_is_queued_behind_on_the_writer_lock_file(tmp_path: Path) -> None:
    """Writers in other processes (Zalo's workers, `phananh worker`) queue on a flock beside the file:
    while another process holds it, a write here waits, with SQLite's own wait turned off, and then
    goes through once it is let go."""
    import subprocess
    import sys

    engine = _engine(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()", f"{tmp_path / 'queue.sqlite3'}-writer.lock"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done, errors = threading.Event(), []
        thread = _writer(engine, "waited", errors, done)
        thread.start()
        assert not done.wait(0.5), "the write went ahead while another process held the writer lock"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()  # the holder exits, and its lock goes with it
        holder.wait(10)
    assert done.wait(10) and errors == []
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT v FROM t").scalars().all() == ["waited"]
