"""Polling: `phananh bot --polling`, for a small deployment without a public address.

python-telegram-bot's Application fetches updates with getUpdates (removing any webhook first)
and hands each one to the same channel the webhook uses; updates of different chats are
processed concurrently, those of one chat in order.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from telegram import Update
from telegram.ext import Application, ContextTypes, ExtBot, TypeHandler

from bot.telegram.channel import TelegramChannel
from bot.telegram.convert import ALLOWED_UPDATES
from bot.telegram.setup import set_commands

log = logging.getLogger(__name__)

CONCURRENT_UPDATES = 64


def build_application(channel: TelegramChannel) -> Application:  # type: ignore[type-arg]
    """An Application on the channel's bot whose only handler is the channel."""
    bot: ExtBot[int] = channel.bot  # type: ignore[assignment]
    app = Application.builder().bot(bot).concurrent_updates(CONCURRENT_UPDATES).build()
    app.add_handler(TypeHandler(Update, channel.on_update))
    app.add_error_handler(_log_error)
    return app


async def _log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Logs what failed, never the update's content."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed: %s", update_id, type(context.error).__name__)


async def poll(channel: TelegramChannel, stop: asyncio.Event, *, poll_timeout: int = 30) -> None:
    """Fetches and processes updates until `stop` is set."""
    app = build_application(channel)
    async with app:
        await channel.initialize()
        await set_commands(app.bot, channel.settings.default_language)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(allowed_updates=list(ALLOWED_UPDATES), timeout=poll_timeout, poll_interval=0.0)
        log.info("Telegram polling started for @%s", app.bot.username)
        try:
            await stop.wait()
        finally:
            await app.updater.stop()
            await app.stop()
    await channel.shutdown()


def run(channel: TelegramChannel) -> None:
    """Polls until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await poll(channel, stop)

    asyncio.run(main())
    log.info("Telegram polling stopped")
