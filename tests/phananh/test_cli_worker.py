"""`phananh worker`: one pass with --once, a clean stop on SIGTERM, and the one-worker rule said on SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlmodel import Session, select

from intake.committees import committee_by_code
from intake.config import get_settings
from intake.models import Case, OutboxMessage, OutboxStatus

COMMAND = [sys.executable, "-m", "phananh.cli", "worker"]


def _queue(db: Session, n: int) -> None:
    """Messages owed to residents of a web report (no chat to push to: they are held for the look-up)."""
    committee = committee_by_code(db, "26743")
    assert committee is not None
    case = Case(receipt_hash="cli-worker", passphrase_hash="x", channel="web", anonymity="anonymous", committee_id=committee.id, description="...")  # type: ignore[arg-type]
    db.add(case)
    db.flush()
    for i in range(n):
        db.add(OutboxMessage(case_id=case.id, channel="web", body=f"Tin {i}", delivery_key=f"cli-{i}"))  # type: ignore[arg-type]
    db.commit()


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PHANANH_TELEGRAM", "PHANANH_ZALO"))}


def test_once_settles_what_is_due_in_batches_and_exits(db: Session) -> None:
    """--once --batch 2 takes five due messages in three batches, says how many it settled, and exits 0."""
    _queue(db, 5)
    done = subprocess.run([*COMMAND, "--once", "--batch", "2"], env=_env(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert "5 message(s) settled" in done.stdout.decode()
    if get_settings().is_sqlite:
        assert "only one delivery worker" in done.stderr.decode()
    db.expire_all()
    assert set(db.exec(select(OutboxMessage.status)).all()) == {OutboxStatus.HELD.value}


def test_sigterm_stops_the_worker_cleanly(db: Session) -> None:
    """A running worker delivers, then SIGTERM ends it after the batch in hand, with exit status 0."""
    _queue(db, 1)
    worker = subprocess.Popen([*COMMAND, "--batch", "10"], env={**_env(), "PHANANH_OUTBOX_POLL_SECONDS": "0.1"}, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            db.expire_all()
            if db.exec(select(OutboxMessage.status)).one() == OutboxStatus.HELD.value:
                break
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err.decode()
    assert "outbox worker stopped" in err.decode()
    db.expire_all()
    assert db.exec(select(OutboxMessage.status)).one() == OutboxStatus.HELD.value
