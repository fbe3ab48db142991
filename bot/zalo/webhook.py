"""The webhook: POST /webhook/zalo, answered at once, the event processed afterwards.

Zalo waits at most two seconds for a 200 and otherwise sends the event again (and, after repeated
failures, turns the webhook off); once answered 200, it never sends the event again. So the route
checks the signature and the age, writes the event to the channel's inbox (encrypted) in one short
transaction, and only then answers 200; the event is processed in a task. When the database cannot
take it the answer is 503, and Zalo sends it again. At start, and every half minute, what is still
in the inbox (left by a crash) is processed. `phananh.web` includes this router only when Zalo is
configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response

from bot.zalo.channel import RECOVER_AFTER, RECOVER_EVERY, ZaloChannel
from bot.zalo.signature import SIGNATURE_HEADER
from bot.zalo.tokens import ZaloAuthError
from intake.config import Settings, get_settings
from intake.metrics import WEBHOOK_SECONDS

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook/zalo"
MAX_EVENT_BYTES = 256 * 1024  # an event is a few kilobytes; files come by URL
TOKEN_CHECK_EVERY = 6 * 3600.0  # seconds between checks that the OA's tokens are fresh


def enabled(settings: Settings) -> bool:
    """Whether Zalo is configured: the app id and the OA secret key that signs events."""
    return bool(settings.zalo_app_id and settings.zalo_oa_secret_key.get_secret_value())


def install(app: FastAPI, channel: ZaloChannel) -> None:
    """Serves the webhook with this channel (tests and the benchmark; serve builds one from settings)."""
    app.state.zalo = channel


def _channel(app: FastAPI) -> ZaloChannel | None:
    found = getattr(app.state, "zalo", None)
    if found is None and enabled(get_settings()):
        found = ZaloChannel(get_settings())
        app.state.zalo = found
    return found


async def _keep_tokens_fresh(channel: ZaloChannel, every: float) -> None:
    """Refreshes the OA's tokens before they lapse, even when no one writes for weeks."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(channel.client.tokens.current)
        except ZaloAuthError as err:
            log.warning("zalo tokens could not be refreshed (%s): replies cannot be sent until the app is re-authorized", err.code)


async def _warm(channel: ZaloChannel) -> None:
    """Starts the worker processes while the server starts, not when the first resident writes."""
    try:
        await channel.warm()
    except Exception as err:  # noqa: BLE001 - the first event will try again
        log.warning("zalo worker processes could not be started ahead: %s", type(err).__name__)


async def _warm_and_recover(channel: ZaloChannel, every: float) -> None:
    """Warms up, processes what the last run left in the inbox, then what fails meanwhile, every `every` seconds."""
    await _warm(channel)
    older_than = 0.0  # at start: everything there, whatever its age (this process has taken nothing yet)
    while True:
        try:
            chats = await channel.recover(older_than=older_than)
            if chats and not older_than:
                log.warning("zalo inbox: events of %s chats were left unprocessed by the last run; processing them", chats)
        except Exception as err:  # noqa: BLE001 - the database is down: the next pass tries again
            log.warning("zalo inbox could not be read: %s", type(err).__name__)
        older_than = RECOVER_AFTER
        await asyncio.sleep(every)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    channel = _channel(app)
    background: list[asyncio.Task[None]] = []
    if channel is not None:
        background = [
            asyncio.create_task(_keep_tokens_fresh(channel, TOKEN_CHECK_EVERY)),
            asyncio.create_task(_warm_and_recover(channel, RECOVER_EVERY)),
        ]
    try:
        yield
    finally:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        found = getattr(app.state, "zalo", None)
        if found is not None:
            await found.shutdown()


router = APIRouter(lifespan=_lifespan)


@router.post(WEBHOOK_PATH, include_in_schema=False)
async def zalo_webhook(request: Request) -> Response:
    """Checks the event's signature and age, keeps it in the inbox, and answers at once."""
    channel = _channel(request.app)
    if channel is None:
        return Response(status_code=404)
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_EVENT_BYTES:  # "²".isdigit() is True too
        return Response(status_code=413)
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        return Response(status_code=413)
    with WEBHOOK_SECONDS.labels("zalo").time():
        return Response(status_code=await channel.accept(body, request.headers.get(SIGNATURE_HEADER)))
