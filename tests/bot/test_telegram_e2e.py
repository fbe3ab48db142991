"""End to end over real HTTP: a fake Bot API server on loopback, the bot polling it or taking its webhook."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image
from pydantic import SecretStr
from sqlmodel import Session, select

from bot.telegram.channel import TelegramChannel
from bot.telegram.fake import FakeBotAPIServer, Resident, tcp_socket
from bot.telegram.polling import poll
from bot.telegram.setup import WEBHOOK_PATH, make_bot, start_with_serve, webhook_secret
from bot.telegram.throttle import Throttle
from bot.telegram.webhook import install
from intake.attachments import read_attachment
from intake.config import Settings
from intake.models import Attachment, Case
from phananh.web import create_app
from tests.bot.test_telegram import USER_ID, gps_jpeg, telegram_settings, walk_report

RECEIPT = re.compile(r"<code>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</code>")
PASSPHRASE = re.compile(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>")
# Methods the bot must have called on the server in either mode.
COMMON = {"getMe", "setMyCommands", "sendMessage", "editMessageText", "answerCallbackQuery", "sendChatAction", "getFile", "download"}


@pytest.fixture()
def api() -> Iterator[FakeBotAPIServer]:
    server = FakeBotAPIServer().start()
    yield server
    server.stop()


def _settings(api: FakeBotAPIServer, **changes: Any) -> Settings:
    return telegram_settings(telegram_api_url=api.url, telegram_webhook_secret=SecretStr("e2e-secret"), **changes)


def _channel(settings: Settings) -> TelegramChannel:
    # Steps follow each other at once here; a resident's pace would not meet the per-chat limit.
    bot = make_bot(settings, throttle=Throttle.lifted())
    return TelegramChannel(bot, settings=settings, typing_after=0.0)


async def _file_and_look_up(api: FakeBotAPIServer, deliver: Any, db: Session) -> None:
    """Walks a report with a GPS-tagged photo, then looks its status up with the receipt."""
    resident = Resident(api.fake, USER_ID, username="lan_hanoi_1990", first_name="Nguyễn Thị Lan")
    original = gps_jpeg()
    await walk_report(resident, deliver, evidence=lambda: resident.document(original, mime_type="image/jpeg", file_name="IMG_1.jpg"))
    receipt_html = next(c.params["text"] for c in reversed(api.fake.sent("sendMessage", USER_ID)) if "<code>" in c.params["text"])
    receipt, passphrase = RECEIPT.search(receipt_html), PASSPHRASE.search(receipt_html)
    assert receipt and passphrase, "the receipt reached the fake server"
    case = db.exec(select(Case)).one()
    assert case.channel == "telegram"
    attachment = db.exec(select(Attachment)).one()
    assert attachment.case_id == case.id and attachment.sha256_original == hashlib.sha256(original).hexdigest()
    assert not Image.open(io.BytesIO(read_attachment(attachment))).getexif()
    await deliver(resident.text(f"/tracuu {receipt.group(1)} {passphrase.group(1)}"))
    assert "Mới tiếp nhận" in api.fake.texts(USER_ID)[-1]


async def test_polling_end_to_end(api: FakeBotAPIServer, db: Session) -> None:
    """`bot --polling` against the fake: webhook removed, updates fetched, a report with a photo filed and looked up."""
    channel = _channel(_settings(api))
    ready = threading.Event()
    control: dict[str, Any] = {}

    def run() -> None:
        async def main() -> None:
            control["loop"], control["stop"] = asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            await poll(channel, control["stop"], poll_timeout=1)

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    api.wait_until(lambda: bool(api.fake.sent("getUpdates")))

    def deliver_sync(update: dict[str, Any]) -> None:
        before = channel.processed
        assert api.deliver(update) is None, "queued for getUpdates"
        api.wait_until(lambda: channel.processed > before)

    async def deliver(update: dict[str, Any]) -> None:
        await asyncio.to_thread(deliver_sync, update)

    try:
        await _file_and_look_up(api, deliver, db)
    finally:
        control["loop"].call_soon_threadsafe(control["stop"].set)
        thread.join(20)
    methods = {c.method for c in api.fake.calls}
    assert COMMON | {"deleteWebhook", "getUpdates"} <= methods
    assert "setWebhook" not in methods
    assert not thread.is_alive(), "polling stops cleanly"


class _AppServer:
    """The phananh web app under uvicorn on a loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.sock = tcp_socket(0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True)

    def __enter__(self) -> _AppServer:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            assert time.time() < deadline, "app server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)


@pytest.mark.parametrize("local", [False, True], ids=["public-api", "local-server"])
async def test_webhook_end_to_end(api: FakeBotAPIServer, db: Session, local: bool, tmp_path: Path) -> None:
    """`serve` registers the webhook on the fake, which posts updates with the secret token; a report is filed.

    As a self-hosted server in --local mode, the fake hands files over by their path on disk."""
    if local:
        api.fake.local_dir = tmp_path
    app = create_app()
    with _AppServer(app) as server:
        settings = _settings(api, public_url=server.url, telegram_local_mode=local)
        channel = _channel(settings)
        install(app, channel, webhook_secret(settings))
        assert await asyncio.to_thread(start_with_serve, settings) is True
        assert api.fake.webhook == (server.url + WEBHOOK_PATH, "e2e-secret")
        async with httpx.AsyncClient() as client:
            forged = await client.post(server.url + WEBHOOK_PATH, json=Resident(api.fake, 1).text("/start"))
        assert forged.status_code == 403

        async def deliver(update: dict[str, Any]) -> None:
            assert await asyncio.to_thread(api.deliver, update) == 200

        await _file_and_look_up(api, deliver, db)
    methods = {c.method for c in api.fake.calls}
    assert (COMMON - {"download"} if local else COMMON) | {"setWebhook"} <= methods
    assert "getUpdates" not in methods
    if local:
        assert "download" not in methods and list(tmp_path.rglob("*.bin")) == [], "read from disk, the server's copy deleted"
