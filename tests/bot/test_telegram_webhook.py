"""The webhook route and its registration at `phananh serve` start."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select

from bot.telegram.channel import TelegramChannel
from bot.telegram.fake import FakeTelegram, RecordingRequest, Resident
from bot.telegram.setup import WEBHOOK_PATH, make_bot, start_with_serve, webhook_secret
from bot.telegram.webhook import install
from intake.errors import ConfigurationError
from intake.models import DialogSession, ProcessedUpdate
from phananh.web import create_app
from tests.bot.test_telegram import telegram_settings

SECRET = "s3cr3t-Token_for-tests"


@pytest.fixture()
def webhook(db: Session) -> Any:
    fake = FakeTelegram()
    settings = telegram_settings(telegram_webhook_secret=SecretStr(SECRET))
    bot = make_bot(settings, request=RecordingRequest(fake), updates_request=RecordingRequest(fake))
    app = create_app()
    install(app, TelegramChannel(bot, settings=settings), webhook_secret(settings))
    with TestClient(app) as client:
        yield client, fake, Resident(fake, 5550001)


def _as_telegram(client: Any, fake: FakeTelegram, update: dict[str, Any], headers: dict[str, str]) -> Any:
    """Posts an update and, as Telegram does, carries out a method given in the webhook's answer."""
    r = client.post(WEBHOOK_PATH, json=update, headers=headers)
    fake.carry_out(r)
    return r


def test_webhook_refuses_requests_without_the_secret_token(webhook: Any, db: Session) -> None:
    """No header or a wrong one: 403 and nothing processed; the right one: 200 and an answer."""
    client, fake, resident = webhook
    update = resident.text("/start")
    assert client.post(WEBHOOK_PATH, json=update).status_code == 403
    wrong = {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1] + "x"}
    assert client.post(WEBHOOK_PATH, json=update, headers=wrong).status_code == 403
    assert fake.sent("sendMessage") == [] and db.exec(select(ProcessedUpdate)).all() == []
    right = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    assert _as_telegram(client, fake, update, right).status_code == 200
    assert len(fake.sent("sendMessage", 5550001)) == 1
    again = _as_telegram(client, fake, update, right)
    assert again.status_code == 200 and not again.content
    assert len(fake.sent("sendMessage", 5550001)) == 1, "a redelivery is not processed again"


def test_webhook_rejects_bodies_that_are_not_updates(webhook: Any, db: Session) -> None:
    """Garbage, a JSON list and a huge body are refused with a 4xx and never reach the engine."""
    client, fake, _resident = webhook
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    assert client.post(WEBHOOK_PATH, content=b"\xff\xfe not json", headers=headers).status_code == 400
    assert client.post(WEBHOOK_PATH, json=[1, 2], headers=headers).status_code == 400
    assert client.post(WEBHOOK_PATH, content=b"{" + b" " * (2 * 2**20) + b"}", headers=headers).status_code == 413
    assert db.exec(select(DialogSession)).all() == [] and fake.sent("sendMessage") == []


def test_webhook_is_404_without_a_token(db: Session) -> None:
    """Without PHANANH_TELEGRAM_TOKEN the route does not exist for callers."""
    with TestClient(create_app()) as client:
        assert client.post(WEBHOOK_PATH, json={"update_id": 1}).status_code == 404


def test_serve_without_a_token_says_telegram_is_off(caplog: pytest.LogCaptureFixture) -> None:
    """`serve` start with no token: one log line, no Bot API call."""
    caplog.set_level(logging.INFO, logger="bot.telegram")
    assert start_with_serve(telegram_settings(telegram_token=SecretStr(""))) is False
    assert [r.getMessage() for r in caplog.records] == ["Telegram is off: PHANANH_TELEGRAM_TOKEN is not set"]


def test_serve_registers_the_webhook_with_its_secret(db: Session) -> None:
    """With a token and a public URL: setWebhook with the secret token and allowed updates, then the commands."""
    fake = FakeTelegram()
    settings = telegram_settings(public_url="https://phananh.example.vn/")
    assert start_with_serve(settings, request=RecordingRequest(fake)) is True
    hook = next(c for c in fake.calls if c.method == "setWebhook")
    assert hook.params["url"] == "https://phananh.example.vn/webhook/telegram"
    assert hook.params["secret_token"] == webhook_secret(settings) and len(hook.params["secret_token"]) == 64
    assert hook.params["allowed_updates"] == ["message", "edited_message", "callback_query"]
    assert [c.params.get("language_code") for c in fake.calls if c.method == "setMyCommands"] == ["vi", "en", None]


def test_registration_failure_is_logged_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    """A Bot API that refuses the call: serve goes on, the log says why, and never shows the token."""

    class Refusing(RecordingRequest):
        async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
            return 401, b'{"ok": false, "error_code": 401, "description": "Unauthorized"}'

    caplog.set_level(logging.INFO, logger="bot.telegram")
    settings = telegram_settings(public_url="https://phananh.example.vn")
    assert start_with_serve(settings, request=Refusing()) is False
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "registration failed" in logged and settings.telegram_token.get_secret_value() not in logged


def test_bad_settings_are_refused() -> None:
    """A malformed token or webhook secret is a configuration error, said plainly."""
    with pytest.raises(ConfigurationError):
        make_bot(telegram_settings(telegram_token=SecretStr("not-a-token")))
    with pytest.raises(ConfigurationError):
        webhook_secret(telegram_settings(telegram_webhook_secret=SecretStr("has spaces!")))


def test_a_button_press_is_answered_in_the_webhook_response(webhook: Any) -> None:
    """The answer to a press rides on the webhook's HTTP response: no separate answerCallbackQuery call."""
    client, fake, resident = webhook
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    _as_telegram(client, fake, resident.text("/start"), headers)
    press = resident.press("menu:report")
    response = client.post(WEBHOOK_PATH, json=press, headers=headers)
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": press["callback_query"]["id"]}
    assert not fake.sent("answerCallbackQuery") and fake.sent("editMessageText", 5550001)


def test_a_single_message_answer_rides_on_the_webhook_response(webhook: Any, db: Session) -> None:
    """A text update answered by one message: the answer is the webhook's response (one Bot API call
    fewer), escaped HTML with its keyboard; a receipt is never carried that way (it must be confirmed)."""
    client, fake, resident = webhook
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    r = client.post(WEBHOOK_PATH, json=resident.text("/start"), headers=headers)
    call = r.json()
    assert call["method"] == "sendMessage" and call["chat_id"] == 5550001 and call["parse_mode"] == "HTML"
    assert call["reply_markup"]["inline_keyboard"] and call["link_preview_options"] == {"is_disabled": True}
    assert not fake.sent("sendMessage"), "not sent by a call as well"
