"""Logging set-up: one line per event, ids only (never names, phones, chat ids or report text)."""

from __future__ import annotations

import logging

from intake.config import get_settings


def configure(level: str | None = None) -> None:
    logging.basicConfig(
        level=(level or get_settings().log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Libraries that log request URLs would leak a bot token or a chat id; keep them quiet.
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
