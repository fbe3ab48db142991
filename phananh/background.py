"""Work `phananh serve` does beside answering requests: the outbox delivery worker, and periodic jobs.

Each job is a thread that runs until a shared stop event is set. `serve` starts them before the
web server and stops them after it returns (Ctrl-C, SIGTERM): the worker finishes the batch in
hand, the senders are closed, and a batch cut short is claimed again when its lease ends.
A periodic job (a purge, say) is a function run every so often: add it with `periodic`.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from intake.config import Settings

log = logging.getLogger(__name__)

STOP_TIMEOUT = 30.0  # seconds to wait for a job to finish what it holds at shutdown


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

        # First a minute after start: a server restarted daily would otherwise never purge.
        background.jobs.append(periodic("purge", settings.purge_interval_hours * 3600, functools.partial(purge_job, settings), first_after=60))
    background.jobs.append(periodic("expire-drafts", 3600, _expire_drafts, first_after=120))
    from intake.audit import verify_job

    background.jobs.append(periodic("audit-verify", 86400, verify_job, first_after=300))
    if settings.mail_enabled:
        # Safe in every replica at once: a digest is written once (unique key), a mail claimed before it is sent.
        background.jobs.append(periodic("staff-mail", settings.mail_poll_seconds, functools.partial(_staff_mail, settings), first_after=30))
    else:
        log.info("mail: no mail server configured (PHANANH_SMTP_HOST, PHANANH_MAIL_FROM): staff notices stay in the admin")
    return background


def _staff_mail(settings: Settings) -> None:
    """Writes the morning digests when it is time, and mails what waits (intake.notices.mail_job)."""
    from intake.db import session_scope
    from intake.mail import SmtpMailer
    from intake.notices import mail_job

    with session_scope() as session:
        mail_job(session, SmtpMailer(settings), settings)
