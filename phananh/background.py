"""Work `phananh serve` does beside answering requests: the outbox delivery worker, and periodic jobs.

Each job is a thread that runs until a shared stop event is set. `serve` starts them before the
web server and stops them after it returns (Ctrl-C, SIGTERM): the worker finishes the batch in
hand, the senders are closed, and a batch cut short is claimed again when its lease ends.
A periodic job (a purge, say) is a function run every so often: add it with `periodic`.

Several servers may run on one database, each with these threads. The outbox shares its work
row by row (`FOR UPDATE SKIP LOCKED`); a scheduled job (`scheduled`) runs once a period for all of
them: whichever server looks first when it is due takes the job's lock, records the run in
`job_runs` and does it, and the others find it done.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from intake.config import Settings

log = logging.getLogger(__name__)

STOP_TIMEOUT = 30.0  # seconds to wait for a job to finish what it holds at shutdown
LOOK_EVERY = 300.0  # seconds between a server's looks at whether a scheduled job is due


@dataclass(frozen=True)
class Job:
    """A named piece of background work: `run(stop)` returns soon after `stop` is set."""

    name: str
    run: Callable[[threading.Event], None]


def periodic(name: str, every_seconds: float, fn: Callable[[], object], *, first_after: float | None = None) -> Job:
    """A job that calls `fn` every `every_seconds` (first after `first_after`, default one period)."""

    def run(stop: threading.Event) -> None:
        wait = every_seconds if first_after is None else first_after
        while not stop.wait(wait):
            wait = every_seconds
            try:
                fn()
            except sa.exc.OperationalError as err:
                log.warning("%s: database unavailable (%s); trying again next time", name, type(err).__name__)
            except Exception as err:  # noqa: BLE001 - a failed run must not end the job: it is tried next period
                log.error("%s failed: %s", name, type(err).__name__)

    return Job(name, run)


def run_if_due(name: str, every_seconds: float, fn: Callable[[], object]) -> bool:
    """Runs `fn` when no server ran job `name` in the last `every_seconds`, under the job's lock; True if it ran."""
    from intake.db import get_engine
    from intake.locks import exclusive
    from intake.models import JobRun, utcnow

    runs = JobRun.__table__  # type: ignore[attr-defined]
    with exclusive(f"job:{name}", wait=False) as mine:
        if not mine:
            return False  # another server runs it now
        now = utcnow()
        with get_engine().begin() as conn:
            last = conn.execute(sa.select(runs.c.started_at).where(runs.c.name == name)).scalar()
            if last is not None and now - last < timedelta(seconds=every_seconds):
                return False
            if last is None:
                conn.execute(runs.insert().values(name=name, started_at=now))
            else:
                conn.execute(runs.update().where(runs.c.name == name).values(started_at=now, finished_at=None))
        try:
            fn()
        except BaseException:
            # Not done: due again at the next look (the previous start is put back).
            with get_engine().begin() as conn:
                if last is None:
                    conn.execute(runs.delete().where(runs.c.name == name))
                else:
                    conn.execute(runs.update().where(runs.c.name == name).values(started_at=last))
            raise
        with get_engine().begin() as conn:
            conn.execute(runs.update().where(runs.c.name == name).values(finished_at=utcnow()))
    return True


def scheduled(name: str, every_seconds: float, fn: Callable[[], object], *, first_after: float | None = None) -> Job:
    """A job run once every `every_seconds` for all servers on the database (see `run_if_due`).

    Each server looks every LOOK_EVERY seconds (or the period, if shorter), first after
    `first_after`; a restart does not move the schedule, which lives in the database.
    """
    look = min(every_seconds, LOOK_EVERY)
    return periodic(name, look, functools.partial(run_if_due, name, every_seconds, fn), first_after=first_after)


@dataclass
class Background:
    """Runs jobs in threads; `stop` ends them and then runs the clean-ups (closing senders)."""

    jobs: list[Job]
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Background:
        for job in self.jobs:
            # Daemon threads: a second Ctrl-C during shutdown still ends the process.
            thread = threading.Thread(target=self._guard, args=(job,), name=job.name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _guard(self, job: Job) -> None:
        try:
            job.run(self.stop_event)
        except Exception as err:  # noqa: BLE001 - logged: a dead job must be visible in the logs
            log.error("background job %s stopped: %s", job.name, type(err).__name__)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Asks every job to stop, waits for them (up to `timeout` each), then cleans up."""
        self.stop_event.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("background job %s did not stop in %.0f s", thread.name, timeout)
        self._threads.clear()
        for cleanup in self.cleanups:
            cleanup()
        self.cleanups.clear()


def outbox_job(settings: Settings) -> tuple[Job, Callable[[], None]]:
    """The delivery worker over the configured channels, and what closes its senders."""
    from bot.senders import build_senders, close_senders
    from intake.outbox import run_worker

    senders = build_senders(settings)
    pushed = ", ".join(sorted(senders)) or "none"
    log.info("outbox: residents who opted in are pushed on: %s; other staff messages wait for their look-up", pushed)

    def run(stop: threading.Event) -> None:
        run_worker(senders, stop, poll_seconds=settings.outbox_poll_seconds, max_attempts=settings.outbox_max_attempts)

    return Job("outbox-worker", run), lambda: close_senders(senders)


def _expire_drafts() -> None:
    """Deletes unfinished reports idle past the draft lifetime (hourly, so the promised 24 h holds),
    and webhook events left unprocessed in the inbox for a day (a channel no longer served)."""
    from bot.zalo.inbox import purge
    from intake.conversation import expire_dialogs
    from intake.db import session_scope

    with session_scope() as session:
        expire_dialogs(session)
    if purged := purge():
        log.warning("inbox: %s webhook events left unprocessed for a day were deleted", purged)


def serve_background(settings: Settings) -> Background:
    """The jobs `phananh serve` runs, per the settings; not started yet."""
    background = Background(jobs=[])
    if settings.outbox_in_serve:
        job, cleanup = outbox_job(settings)
        background.jobs.append(job)
        background.cleanups.append(cleanup)
    else:
        log.info("outbox: not delivered by this server (PHANANH_OUTBOX_IN_SERVE=false): run `phananh worker`")
    if settings.purge_interval_hours > 0:
        from intake.retention import purge_job

        first = settings.background_delay_seconds
        background.jobs.append(scheduled("purge", settings.purge_interval_hours * 3600, functools.partial(purge_job, settings), first_after=first))
    background.jobs.append(scheduled("expire-drafts", 3600, _expire_drafts, first_after=2 * settings.background_delay_seconds))
    from intake.audit import verify_job

    background.jobs.append(scheduled("audit-verify", 86400, verify_job, first_after=5 * settings.background_delay_seconds))
    return background
