"""Random JSON and mutated real payloads through the Telegram and Zalo parsers and webhooks: never an error."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlmodel import Session

from bot.telegram.channel import TelegramChannel
from bot.telegram.convert import parse_update, read_update
from bot.telegram.fake import FakeTelegram, RecordingRequest, Resident
from bot.telegram.setup import WEBHOOK_PATH, make_bot, webhook_secret
from bot.telegram.throttle import Throttle
from bot.telegram.webhook import SECRET_HEADER
from bot.telegram.webhook import install as install_telegram
from bot.zalo.channel import ZaloChannel
from bot.zalo.events import read_event, update_key
from bot.zalo.fake import FakeZalo, ZaloUser
from bot.zalo.signature import SIGNATURE_HEADER, mac
from bot.zalo.webhook import WEBHOOK_PATH as ZALO_PATH
from bot.zalo.webhook import install as install_zalo
from bot.zalo.webhook import router as zalo_router
from intake.classify import get_classifier
from phananh.web import create_app
from tests.bot.test_telegram import telegram_settings
from tests.bot.test_zalo import zalo_settings

SECRET = "fuzz-secret-Token_for-tests"
UNICODE = st.characters(codec=None, exclude_categories=("Cs",))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False, allow_infinity=False),
    st.text(UNICODE, max_size=30),
    st.sampled_from(["private", "group", "supergroup", "channel", "bot_command", "mention", "photo", "/start", "", "0",
                     "user_send_text", "user_send_image", "user_send_file", "follow", "https://x.test/a.jpg", "²"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(UNICODE, max_size=12), inner, max_size=6)),
    max_leaves=30,
)
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value where a mutation can land."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _mutate(value: Any, path: tuple[Any, ...], how: str, new: Any) -> Any:
    """The value with one place replaced, deleted or given an extra key."""
    if not path:
        return new if how != "add" or not isinstance(value, dict) else {**value, "extra": new}
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if how == "delete" and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _mutate(value[head], rest, how, new)
        return copy
    copy_list = list(value)
    if how == "delete" and not rest:
        copy_list.pop(head)
    else:
        copy_list[head] = _mutate(value[head], rest, how, new)
    return copy_list


@st.composite
def mutated(draw: st.DrawFn, bases: list[dict[str, Any]]) -> Any:
    """A real payload with one to four places replaced by random JSON, deleted, or given extra keys."""
    value: Any = draw(st.sampled_from(bases))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(value))
        value = _mutate(value, draw(st.sampled_from(paths)), draw(st.sampled_from(["replace", "delete", "add"])), draw(JSON))
    return value


def _telegram_bases() -> list[dict[str, Any]]:
    fake = FakeTelegram()
    me = Resident(fake, 5550001)
    group = Resident(fake, 5550002, chat={"id": -100123, "type": "supergroup", "title": "Tổ dân phố"})
    press = {"update_id": 900001, "callback_query": {
        "id": "q1", "from": me.user, "chat_instance": "ci", "data": "menu:report",
        "message": {"message_id": 5, "date": 1, "chat": me.chat, "text": "Chọn",
                    "reply_markup": {"inline_keyboard": [[{"text": "Gửi phản ánh", "callback_data": "menu:report"}]]}},
    }}
    return [me.text("/start"), me.text("Chủ tịch xã đòi tiền"), me.edit("sửa"), me.sticker(), me.location(), me.contact(),
            me.document(b"%PDF-1.4", mime_type="application/pdf"), group.text("/start@phananh_bot"), press]


def _zalo_bases() -> list[dict[str, Any]]:
    user = ZaloUser("7020412345678901234")
    return [user.text("Chủ tịch xã đòi tiền"), user.image("https://zalo.test/a.jpg", "ảnh"), user.file("https://zalo.test/b.pdf", "b.pdf", 2000),
            user.sticker(), user.location(), user.event("follow"), user.event("unfollow"), user.event("user_send_link", {"attachments": [{"type": "link", "payload": {"url": "https://x.vn"}}]})]


TELEGRAM_BASES = _telegram_bases()
ZALO_BASES = _zalo_bases()
TELEGRAM_INPUT = st.one_of(
    JSON,
    mutated(TELEGRAM_BASES),
    # With an update id the webhook accepts; a fresh one each time, so that no redelivery check hides a failure.
    st.tuples(mutated(TELEGRAM_BASES), st.integers(1, 2**40)).map(lambda p: {**p[0], "update_id": p[1]} if isinstance(p[0], dict) else p[0]),
)
ZALO_INPUT = st.one_of(JSON, mutated(ZALO_BASES))


@pytest.fixture(scope="module")
def offline_bot() -> Any:
    fake = FakeTelegram()
    return make_bot(telegram_settings(), request=RecordingRequest(fake), updates_request=RecordingRequest(fake))


@FAST
@given(data=TELEGRAM_INPUT)
def test_telegram_parser_reads_any_update(offline_bot: Any, data: Any) -> None:
    """Any JSON is parsed into an Update or refused as unreadable, and an Update is read into an Incoming, never raising."""
    if not isinstance(data, dict):
        return
    update = parse_update(data, offline_bot)
    if update is None:
        return  # the webhook acknowledges and drops these
    incoming = read_update(update, bot_username="phananh_bot", bot_id=1)
    assert incoming.kind in ("engine", "media", "group", "ignore")
    if incoming.kind in ("engine", "media", "group"):
        assert isinstance(incoming.chat_id, str)


@pytest.fixture(scope="module")
def telegram_client() -> Iterator[TestClient]:
    get_classifier().suggest("Cán bộ xã nhận tiền của dân")
    fake = FakeTelegram()
    settings_ = telegram_settings(telegram_webhook_secret=SecretStr(SECRET))
    quick = Throttle.lifted()
    bot = make_bot(settings_, request=RecordingRequest(fake), updates_request=RecordingRequest(fake), throttle=quick)
    app = create_app()
    install_telegram(app, TelegramChannel(bot, settings=settings_), webhook_secret(settings_))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@SLOW
@given(data=TELEGRAM_INPUT)
def test_telegram_webhook_never_answers_500(db: Session, telegram_client: TestClient, data: Any) -> None:
    """Random JSON or a mutated real update posted with the secret: 200 (handled or dropped) or 400, never 500."""
    r = telegram_client.post(WEBHOOK_PATH, content=json.dumps(data), headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"})
    assert r.status_code in (200, 400), f"{r.status_code}: {r.text[:200]}"


@FAST
@given(data=ZALO_INPUT)
def test_zalo_parser_reads_any_event(data: Any) -> None:
    """read_event takes any dict; what it makes of it names a user only as a string."""
    if not isinstance(data, dict):
        return
    event = read_event(data)
    assert event.kind in ("message", "follow", "unfollow", "ignore")
    assert event.user_id is None or isinstance(event.user_id, str)
    assert all(f.url.lower().startswith(("https://", "http://")) for f in event.files)
    assert len(update_key(event, json.dumps(data).encode())) == 64


@pytest.fixture(scope="module")
def zalo_app() -> Iterator[tuple[ZaloChannel, FakeZalo]]:
    get_classifier().suggest("Cán bộ xã nhận tiền của dân")
    fake = FakeZalo()
    channel = ZaloChannel(zalo_settings(fake), transport=fake.transport)
    channel.reply_pauses = (0.0, 0.0)
    yield channel, fake


@SLOW
@given(data=ZALO_INPUT, sign=st.booleans())
def test_zalo_webhook_never_fails_on_any_body(
    db: Session, zalo_app: tuple[ZaloChannel, FakeZalo], caplog: pytest.LogCaptureFixture, data: Any, sign: bool
) -> None:
    """Signed or not, any JSON gets 200, 400 or 401 at once, and processing it logs no failure."""
    channel, _fake = zalo_app
    body = json.dumps(data).encode()
    headers = {"Content-Type": "application/json"}
    if sign and isinstance(data, dict):
        ts = data.get("timestamp")
        stamp = str(ts) if isinstance(ts, (int, str)) and not isinstance(ts, bool) else ""
        headers[SIGNATURE_HEADER] = mac(str(data.get("app_id", "")), body, stamp, ZaloUser("x").secret)
    app = FastAPI()
    app.include_router(zalo_router)
    install_zalo(app, channel)

    async def post() -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://phananh.test") as http:
            r = await http.post(ZALO_PATH, content=body, headers=headers)
            await channel.idle(timeout=60)
            return r.status_code

    caplog.clear()
    with caplog.at_level(logging.ERROR):
        status = asyncio.run(post())
    assert status in (200, 400, 401)
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, failures


UNREADABLE_UPDATES = [
    {"update_id": 7001, "message": False},  # the library's de_json raised AttributeError: a 500, retried for ever
    {"update_id": 7002, "message": {"message_id": 1, "date": 1, "chat": {"id": [1], "type": "private"}, "text": "hi"}},
    {"update_id": 7003, "callback_query": {"id": "q", "from": {"id": 1, "is_bot": False, "first_name": "A"}, "chat_instance": "c",
                                           "data": "menu:report", "message": {"message_id": "x", "date": 1, "chat": {"id": "1", "type": "private"}}}},
    {"update_id": 7004, "message": {"message_id": 1, "date": 10**30, "chat": {"id": 1, "type": "private"}, "text": "hi"}},
]


@pytest.mark.parametrize("data", UNREADABLE_UPDATES)
def test_telegram_updates_found_by_the_fuzzer_are_dropped_politely(db: Session, telegram_client: TestClient, data: dict[str, Any]) -> None:
    """Updates the fuzzer found (a field of the wrong type deep inside) are acknowledged with 200, not a 500."""
    r = telegram_client.post(WEBHOOK_PATH, json=data, headers={SECRET_HEADER: SECRET})
    assert r.status_code == 200


@pytest.mark.parametrize("size", ["²", "①", "1" * 40, "12"])
def test_zalo_file_sizes_in_other_scripts_are_ignored(size: str) -> None:
    """A file size Zalo would never send ("²" made int() raise) is read as unknown, not as an error."""
    user = ZaloUser("7020412345678901234")
    data = user.file("https://zalo.test/b.pdf", "b.pdf", 1)
    data["message"]["attachments"][0]["payload"]["size"] = size
    event = read_event(data)
    assert event.files and event.files[0].size == (12 if size == "12" else None)
