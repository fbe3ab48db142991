"""The webhook: POST /webhook/telegram, refused without Telegram's secret token.

The route handles the update before answering, so Telegram's own concurrency (up to 40
connections) is the back-pressure, and an update that could not be recorded (the database is
down) is answered 500 and redelivered by Telegram.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from telegram.error import TelegramError

from bot.telegram.channel import TelegramChannel
from bot.telegram.convert import parse_update
from bot.telegram.setup import WEBHOOK_PATH, make_bot, webhook_secret
from intake.config import get_settings
from intake.errors import PhananhError
from intake.metrics import WEBHOOK_SECONDS

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1 * 2**20  # an update is a few kilobytes; files come by getFile, not in the body


@dataclass
class Installed:
    """The channel serving an app's webhook, and the secret Telegram must send."""

    channel: TelegramChannel
    secret: str


def install(app: FastAPI, channel: TelegramChannel, secret: str) -> None:
    """Serves the webhook with this channel (tests and the benchmark; serve builds one from settings)."""
    app.state.telegram = Installed(channel, secret)


def _installed(app: FastAPI) -> Installed | None:
    found = getattr(app.state, "telegram", None)
    if found is not None:
        return found  # type: ignore[no-any-return]
    settings = get_settings()
    if not settings.telegram_token.get_secret_value():
        return None
    found = Installed(TelegramChannel(make_bot(settings), settings=settings), webhook_secret(settings))
    app.state.telegram = found
    return found


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Gets the bot ready at start (getMe, the classifier loaded), so the first update is not slow."""
    try:
        found = _installed(app)
        if found is not None:
            await found.channel.initialize()
    except (TelegramError, PhananhError) as err:
        # Serving goes on; the first update tries again.
        log.warning("Telegram bot not ready at start: %s", type(err).__name__)
    yield
    found = getattr(app.state, "telegram", None)
    if found is not None:
        await found.channel.shutdown()


router = APIRouter(lifespan=_lifespan)


@router.post(WEBHOOK_PATH, include_in_schema=False)
async def telegram_webhook(request: Request) -> Response:
    """Checks the secret token, reads the update, and processes it."""
    found = _installed(request.app)
    if found is None:
        return Response(status_code=404)
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode("utf-8"), found.secret.encode("utf-8")):
        log.warning("telegram webhook called without the right secret token")
        return Response(status_code=403)
    body = await request.body()
    if len(body) > MAX_UPDATE_BYTES:
        return Response(status_code=413)
    try:
        data = json.loads(body)
    except ValueError:
        return Response(status_code=400)
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return Response(status_code=400)
    update = parse_update(data, found.channel.bot)
    if update is None:
        # Telegram's own update in a shape this library cannot read: acknowledged and dropped, since
        # an error answer would make Telegram retry it forever and hold back every update behind it.
        log.warning("telegram update %s dropped: unreadable", data["update_id"])
        return Response(status_code=200)
    with WEBHOOK_SECONDS.labels("telegram").time():
        reply = await found.channel.process(update, reply_in_response=True)
    # Telegram carries out a method given in the answer, as if the bot had called it.
    return JSONResponse(reply) if reply is not None else Response(status_code=200)
