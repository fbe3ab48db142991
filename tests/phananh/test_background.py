"""Background work of `phananh serve`: jobs stop cleanly, periodic jobs survive a failure, serve delivers the outbox."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from sqlmodel import Session, select

from bot.telegram.fake import BOT_TOKEN, FakeBotAPIServer, FakeTelegram, plain
from intake.actions import chat_handle_hash
from intake.committees import committee_by_code
from intake.config import get_settings
from intake.crypto import encrypt
from intake.models import Case, ChatLink, OutboxMessage, OutboxStatus
from phananh.background import Background, Job, periodic, serve_background


def test_jobs_stop_when_asked_and_cleanups_run_after_them() -> None:
    """stop() sets the event, waits for each job to return, then runs the clean-ups in that order."""
    order: list[str] = []

    def job(stop: threading.Event) -> None:
        stop.wait()
        order.append("job returned")

    background = Background(jobs=[Job("test-job", job)], cleanups=[lambda: order.append("cleaned up")]).start()
    time.sleep(0.05)
    assert order == []
    background.stop(timeout=5)
    assert order == ["job returned", "cleaned up"]


def test_a_periodic_job_keeps_running_after_a_failure() -> None:
    """A run that raises is logged and the next period runs again; stop ends the job between runs."""
    runs: list[int] = []

    def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("first run fails")

    background = Background(jobs=[periodic("flaky", 0.02, flaky, first_after=0)]).start()
    deadline = time.monotonic() + 5
    while len(runs) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    background.stop(timeout=5)
    assert len(runs) >= 3
    count = len(runs)
    time.sleep(0.1)
    assert len(runs) == count, "no run after stop"


def test_serve_runs_no_worker_when_told_not_to() -> None:
    """PHANANH_OUTBOX_IN_SERVE=false: serve starts no delivery thread (a `phananh worker` runs apart)."""
    periodic_jobs = ["purge", "expire-drafts", "audit-verify"]
    assert [j.name for j in serve_background(get_settings().model_copy(update={"outbox_in_serve": False})).jobs] == periodic_jobs
    assert [j.name for j in serve_background(get_settings()).jobs] == ["outbox-worker", *periodic_jobs]
    no_purge = get_settings().model_copy(update={"outbox_in_serve": False, "purge_interval_hours": 0})
    assert [j.name for j in serve_background(no_purge).jobs] == ["expire-drafts", "audit-verify"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`phananh serve` on a free port in a child process, its log on stderr (a pipe)."""
    return subprocess.Popen(
        [sys.executable, "-m", "phananh.cli", "serve", "--port", str(_free_port()), "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_serve_delivers_the_outbox_and_stops_cleanly_on_ctrl_c(db: Session) -> None:
    """`phananh serve` pushes a queued message to an opted-in Telegram chat, and exits 0 on SIGINT."""
    committee = committee_by_code(db, "26743")
    assert committee is not None
    case = Case(receipt_hash="serve-1", passphrase_hash="x", channel="telegram", anonymity="anonymous", committee_id=committee.id, description="...")  # type: ignore[arg-type]
    db.add(case)
    db.flush()
    db.add(ChatLink(case_id=case.id, channel="telegram", handle_hash=chat_handle_hash("telegram", "4242"), handle_enc=encrypt("4242")))  # type: ignore[arg-type]
    db.add(OutboxMessage(case_id=case.id, channel="telegram", body="Phản ánh của Anh/Chị đã được thụ lý.", delivery_key="serve-1"))  # type: ignore[arg-type]
    db.commit()
    fake = FakeTelegram()
    api = FakeBotAPIServer(fake).start()
    env = {
        **os.environ,
        "PHANANH_TELEGRAM_TOKEN": BOT_TOKEN,
        "PHANANH_TELEGRAM_API_URL": api.url,
        "PHANANH_OUTBOX_POLL_SECONDS": "0.1",
        "PHANANH_ZALO_APP_ID": "",
    }
    serve = _serve(env)
    try:
        deadline = time.monotonic() + 60
        while not fake.sent("sendMessage", 4242) and time.monotonic() < deadline and serve.poll() is None:
            time.sleep(0.05)
        assert [plain(c.params["text"]) for c in fake.sent("sendMessage", 4242)] == ["Phản ánh của Anh/Chị đã được thụ lý."]
        serve.send_signal(signal.SIGINT)
        _out, err = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
        api.stop()
    log = err.decode()
    assert serve.returncode == 0, log
    assert "pushed on: telegram" in log and "outbox worker stopped" in log
    db.expire_all()
    assert db.exec(select(OutboxMessage.status)).one() == OutboxStatus.SENT.value


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "after"),
    [(signal.SIGINT, b"outbox worker started"), (signal.SIGTERM, b"outbox worker started"), (signal.SIGTERM, b"Uvicorn running")],
    ids=["ctrl-c-while-starting", "sigterm-while-starting", "sigterm-while-serving"],
)
def test_a_stop_signal_at_any_moment_stops_serve_cleanly(db: Session, sig: signal.Signals, after: bytes) -> None:
    """SIGINT or SIGTERM before the web server listens, or while it serves: exit 0, background stopped, no traceback."""
    env = {**os.environ, "PHANANH_TELEGRAM_TOKEN": "", "PHANANH_ZALO_APP_ID": ""}
    serve = _serve(env)
    try:
        assert serve.stderr is not None
        seen = b""
        while after not in seen and serve.poll() is None:
            seen += serve.stderr.readline()
        serve.send_signal(sig)
        _out, rest = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
    log = (seen + rest).decode()
    assert serve.returncode == 0, log
    assert "outbox worker stopped" in log and "Traceback" not in log


def test_a_scheduled_job_runs_once_a_period_for_all_servers(db: Session) -> None:
    """Two servers looking at once run a due job once; within its period nobody runs it again; a failed run is due again."""
    from concurrent.futures import ThreadPoolExecutor

    from phananh.background import run_if_due

    runs: list[int] = []

    def job() -> None:
        time.sleep(0.3)  # long enough for the other server to look meanwhile
        runs.append(1)

    with ThreadPoolExecutor(2) as pool:
        ran = list(pool.map(lambda _: run_if_due("test-job", 3600, job), range(2)))
    assert sorted(ran) == [False, True] and runs == [1]
    assert run_if_due("test-job", 3600, job) is False and runs == [1], "not again within the period"

    def broken() -> None:
        raise RuntimeError("fails")

    with pytest.raises(RuntimeError):
        run_if_due("test-broken", 3600, broken)
    assert run_if_due("test-broken", 3600, job) is True, "a failed run leaves the job due"
