"""`phananh worker`: the outbox delivery worker on its own, apart from `phananh serve`."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

log = logging.getLogger(__name__)

SQLITE_ONE_WORKER = (
    "SQLite: run only one delivery worker, either the one inside `phananh serve` or this one "
    "with PHANANH_OUTBOX_IN_SERVE=false for the server."
)


def register(app: typer.Typer) -> None:
    """Adds the `worker` command to the phananh CLI."""
    app.command("worker")(worker)


def worker(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit.")] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, max=1000, help="Messages claimed at a time.")] = 50,
    migrate: Annotated[bool, typer.Option(help="Run migrations at start.")] = False,
) -> None:
    """Delivers staff messages to residents' chats; SIGTERM or Ctrl-C stops it after the batch in hand."""
    from phananh.logging import configure

    configure()
    from bot.senders import build_senders, close_senders
    from intake.config import get_settings
    from intake.migrate import upgrade
    from intake.outbox import deliver, run_worker

    settings = get_settings()
    if settings.is_sqlite:
        typer.echo(SQLITE_ONE_WORKER, err=True)
        if settings.outbox_in_serve and not once:
            log.warning("PHANANH_OUTBOX_IN_SERVE is true: a running `phananh serve` delivers too")
    if migrate:
        upgrade()
    senders = build_senders(settings)
    log.info("outbox: pushing on %s; other messages wait for the resident's look-up", ", ".join(sorted(senders)) or "no channel")
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the batch in hand", signum)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    delivered = 0
    try:
        if once:
            while not stop.is_set():
                claimed, settled = deliver(senders, limit=batch, max_attempts=settings.outbox_max_attempts)
                delivered += settled
                if not claimed:
                    break
        else:
            run_worker(senders, stop, poll_seconds=settings.outbox_poll_seconds, max_attempts=settings.outbox_max_attempts, batch=batch)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        close_senders(senders)
    if once:
        typer.echo(f"{delivered} message(s) settled (sent, held for look-up, or dead).")
