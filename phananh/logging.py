"""Logging set-up: one line per event, ids only (never names, phones, chat ids or report text).

It is also the first thing every long-running command does, so it is where refused settings and
missing or malformed encryption keys end the process with a plain message instead of a traceback.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import NoReturn

from pydantic import ValidationError

from intake.config import Settings, get_settings
from intake.errors import ConfigurationError

EXIT_CONFIGURATION = 2
# Libraries that log request URLs or call parameters would leak a bot token, a chat id or what a
# resident wrote (python-telegram-bot logs every call's parameters at DEBUG), and Pillow logs every
# EXIF tag it reads at DEBUG (the camera owner, the GPS position of a photo): kept at WARNING.
NOISY = ("httpx", "httpcore", "telegram", "apscheduler", "PIL", "alembic.runtime.plugins")


def configure(level: str | None = None) -> None:
    settings = settings_or_exit()
    logging.basicConfig(
        level=(level or settings.log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    withhold_exception_messages()
    _keys_or_exit()


class WithholdExceptionMessages(logging.Filter):
    """Keeps a logged exception's traceback (files, lines, types) but not its messages, which may quote data.

    A database error's message holds the failing row (PostgreSQL's DETAIL), and the web server logs
    the traceback of any request that fails unexpectedly.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = frames_only(record.exc_info[1])
        return True


def frames_only(exc: BaseException) -> str:
    """A traceback of an exception and its causes, each message replaced by its type's name."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    parts = [
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_tb(e.__traceback__))
        + f"{type(e).__module__}.{type(e).__qualname__}: (message withheld)"
        for e in reversed(chain)
    ]
    return "\n\nDuring handling of the above, another exception occurred:\n\n".join(parts)


_WITHHOLD = WithholdExceptionMessages()


def withhold_exception_messages() -> None:
    """Installs the filter on the loggers that log tracebacks: uvicorn's, and every handler of the root logger."""
    for name in ("uvicorn.error", "uvicorn", "asyncio", "concurrent.futures"):
        logger = logging.getLogger(name)
        if _WITHHOLD not in logger.filters:
            logger.addFilter(_WITHHOLD)
    for handler in logging.getLogger().handlers:
        if _WITHHOLD not in handler.filters:
            handler.addFilter(_WITHHOLD)


def refuse(reason: str) -> NoReturn:
    """Ends a command that cannot start: one line on stderr, exit status 2, no traceback."""
    sys.stderr.write(f"phananh cannot start: {reason}\n")
    raise SystemExit(EXIT_CONFIGURATION)


def settings_or_exit() -> Settings:
    """The settings, or exit status 2 with what is wrong (never the values, which may be secrets)."""
    try:
        return get_settings()
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = ".".join(str(x) for x in e.get("loc", ()))
            message = e["msg"].removeprefix("Value error, ")
            problems.append(f"PHANANH_{where.upper()}: {message}" if where else message)
        refuse("; ".join(problems))


def _keys_or_exit() -> None:
    """Loads the encryption keys now, so that a missing or malformed key is found at start, not at the first report."""
    from intake.crypto import check_keys

    try:
        check_keys()
    except ConfigurationError as err:
        refuse(err.detail)
