"""Making the bot from the settings, registering its commands and its webhook.

Telegram's public Bot API is the default; `PHANANH_TELEGRAM_API_URL` and `PHANANH_TELEGRAM_FILE_URL`
point the bot at a self-hosted telegram-bot-api server instead, `PHANANH_TELEGRAM_LOCAL_MODE` when
that server runs with --local. `phananh serve`, `phananh bot --polling` and the outbox delivery all
build their bot here.
"""

from __future__ import annotations

import asyncio
import logging
import re

from telegram import BotCommand
from telegram.error import TelegramError
from telegram.ext import ExtBot
from telegram.request import BaseRequest, HTTPXRequest

from bot.telegram.convert import ALLOWED_UPDATES
from bot.telegram.throttle import Throttle
from intake.config import Settings, get_settings
from intake.crypto import keyed_hash
from intake.errors import ConfigurationError
from intake.i18n import LANGUAGES, N_, translator

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook/telegram"
PUBLIC_API_URL = "https://api.telegram.org"
PUBLIC_DOWNLOAD_LIMIT_MB = 20  # getFile refuses larger files on Telegram's own servers
WEBHOOK_CONNECTIONS = 40
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Start")),
    ("baocao", N_("Send a new report")),
    ("tracuu", N_("Check the status of a report")),
    ("huy", N_("Cancel the report you are writing")),
    ("trogiup", N_("How to use this bot")),
    ("ngonngu", N_("Switch between Vietnamese and English")),
)


def api_urls(settings: Settings) -> tuple[str, str]:
    """The Bot API and file base URLs, to which python-telegram-bot appends the token."""
    api = (settings.telegram_api_url or PUBLIC_API_URL).rstrip("/")
    files = (settings.telegram_file_url or f"{api}/file").rstrip("/")
    return f"{api}/bot", f"{files}/bot"


def attachment_limit(settings: Settings) -> int:
    """The largest file the bot accepts, in bytes: 20 MB on Telegram's servers, more on a local one."""
    if settings.telegram_local_mode:
        return settings.max_local_attachment_mb * 2**20
    return min(settings.max_attachment_mb, PUBLIC_DOWNLOAD_LIMIT_MB) * 2**20


def bot_id(token: str) -> int:
    """The bot's numeric id, which is the token's first part (no getMe needed)."""
    head = token.split(":", 1)[0]
    if not head.isdigit():
        raise ConfigurationError("PHANANH_TELEGRAM_TOKEN does not look like a bot token")
    return int(head)


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram sends back in X-Telegram-Bot-Api-Secret-Token; derived when not set."""
    given = settings.telegram_webhook_secret.get_secret_value()
    if given:
        if not _SECRET_RE.match(given):
            raise ConfigurationError("PHANANH_TELEGRAM_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and - (at most 256)")
        return given
    # Derived from the secret key, so that every process of a deployment agrees without a setting.
    return keyed_hash("telegram-webhook", settings.telegram_token.get_secret_value())


def make_bot(
    settings: Settings | None = None,
    *,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    throttle: Throttle | None = None,
) -> ExtBot[int]:
    """A bot for the configured Bot API server, its outgoing calls throttled to Telegram's limits."""
    settings = settings or get_settings()
    token = settings.telegram_token.get_secret_value()
    if not token:
        raise ConfigurationError("PHANANH_TELEGRAM_TOKEN is not set")
    bot_id(token)
    base_url, base_file_url = api_urls(settings)
    return ExtBot(
        token,
        base_url=base_url,
        base_file_url=base_file_url,
        # python-telegram-bot's own client on httpx (which honours HTTPS_PROXY and NO_PROXY).
        request=request or HTTPXRequest(connection_pool_size=8, read_timeout=30.0, pool_timeout=10.0, media_write_timeout=60.0),
        get_updates_request=updates_request or HTTPXRequest(connection_pool_size=2, read_timeout=40.0),
        local_mode=settings.telegram_local_mode,
        rate_limiter=throttle or Throttle(per_second=settings.telegram_sends_per_second),
    )


async def set_commands(bot: ExtBot[int], default_language: str = "vi") -> None:
    """Registers the command menu in Vietnamese and English (and the default for other clients)."""
    for lang in (*LANGUAGES, None):
        t = translator(lang or default_language)
        commands = [BotCommand(name, t._(description)) for name, description in COMMANDS]
        await bot.set_my_commands(commands, language_code=lang)


async def register_webhook(bot: ExtBot[int], settings: Settings) -> str:
    """Points Telegram at this server's webhook, with its secret token; returns the URL."""
    url = settings.public_url.rstrip("/") + WEBHOOK_PATH
    if not url.startswith("https://") and not settings.telegram_local_mode:
        log.warning("Telegram only delivers webhooks to https addresses; PHANANH_PUBLIC_URL is not https")
    await bot.set_webhook(
        url,
        secret_token=webhook_secret(settings),
        allowed_updates=list(ALLOWED_UPDATES),
        max_connections=WEBHOOK_CONNECTIONS,
    )
    await set_commands(bot, settings.default_language)
    return url


def scrub(text: str, settings: Settings) -> str:
    """An error message fit for the log: without the bot token."""
    token = settings.telegram_token.get_secret_value()
    return text.replace(token, "<token>") if token else text


def start_with_serve(settings: Settings | None = None, *, request: BaseRequest | None = None) -> bool:
    """At `phananh serve` start: registers the webhook, or says once why Telegram is off."""
    settings = settings or get_settings()
    if not settings.telegram_token.get_secret_value():
        log.info("Telegram is off: PHANANH_TELEGRAM_TOKEN is not set")
        return False
    if not settings.public_url:
        log.warning("Telegram webhook not registered: PHANANH_PUBLIC_URL is not set (without a public address, run `phananh bot --polling`)")
        return False

    async def _register() -> str:
        async with make_bot(settings, request=request) as bot:
            return await register_webhook(bot, settings)

    try:
        url = asyncio.run(_register())
    except (TelegramError, ConfigurationError) as err:
        # The web chat and the admin still run; the operator reads why Telegram does not.
        log.error("Telegram webhook registration failed: %s: %s", type(err).__name__, scrub(str(err), settings))
        return False
    log.info("Telegram webhook registered at %s", url)
    return True
