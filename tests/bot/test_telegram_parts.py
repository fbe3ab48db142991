"""The Telegram channel's pure parts: rendering, update reading, and the outgoing throttle."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.error import RetryAfter

from bot.telegram.convert import read_update
from bot.telegram.fake import FakeTelegram, Resident, plain
from bot.telegram.render import TEXT_LIMIT, keyboard, render, split_text, utf16_len, with_choice
from bot.telegram.throttle import Throttle
from intake.dialog.types import Button, Reply
from intake.ratelimit import Limiter, Rate, make_storage
from intake.config import get_settings


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12000))
def test_long_texts_are_split_under_the_limit_losing_nothing(text: str) -> None:
    """Every piece fits Telegram's limit, and the pieces put together hold every visible character."""
    pieces = split_text(text, limit=1000)
    assert all(utf16_len(p) <= 1000 for p in pieces)
    assert "".join(pieces).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")


def test_a_long_reply_carries_its_keyboard_on_the_last_message() -> None:
    """A reply over 4,096 characters becomes several messages; only the last has the buttons."""
    reply = Reply("dòng\n" * 2000, buttons=(Button("Xong", "done"),))
    out = render(reply)
    assert len(out) > 1 and all(o.markup is None for o in out[:-1]) and out[-1].markup is not None


def test_keyboard_layout_and_payload_limit() -> None:
    """Short labels pair up, long ones get a row; a payload over 64 bytes is left out rather than refused."""
    markup = keyboard((Button("Có", "yes"), Button("Không", "no"), Button("Xã Tân Phú, tỉnh Đồng Nai", "place:0"), Button("x", "p" * 65)))
    assert markup is not None
    rows = [[b.callback_data for b in row] for row in markup.inline_keyboard]
    assert rows == [["yes", "no"], ["place:0"]]


def test_receipt_is_tap_to_copy_and_choice_is_escaped() -> None:
    """The receipt and passphrase are in <code>; a chosen label with markup characters is escaped."""
    out = render(Reply("Mã: K7M2-P9XA-3FQT\nMật khẩu: k7m2-p9xa-3fqt", receipt="K7M2-P9XA-3FQT", passphrase="k7m2-p9xa-3fqt"))
    assert "<code>K7M2-P9XA-3FQT</code>" in out[0].html and "<code>k7m2-p9xa-3fqt</code>" in out[0].html
    edited = with_choice("Câu hỏi <i>?</i>", "A & <b>")
    assert edited == "Câu hỏi &lt;i&gt;?&lt;/i&gt;\n\n<b>✓ A &amp; &lt;b&gt;</b>"
    assert utf16_len(plain(with_choice("x" * 5000, "Có"))) <= TEXT_LIMIT


def _update(data: dict[str, Any]) -> Update:
    return Update.de_json(data, None)  # type: ignore[arg-type]


def test_reading_updates() -> None:
    """Texts, GIFs, inline-mode buttons and other bots' commands in groups are read as they should be."""
    fake = FakeTelegram()
    r = Resident(fake, 42)
    assert read_update(_update(r.text("xin chào"))).inbound.text == "xin chào"  # type: ignore[union-attr]
    gif = r.document(b"GIF89a", mime_type="video/mp4")
    gif["message"]["animation"] = {**gif["message"]["document"], "width": 1, "height": 1, "duration": 1}
    assert read_update(_update(gif)).inbound.unsupported == "animation"  # type: ignore[union-attr]
    voice = read_update(_update(r.voice(b"OggS")))
    assert voice.kind == "media" and voice.media is not None and voice.media.kind == "voice"
    inline = {"update_id": 1, "callback_query": {"id": "9", "from": r.user, "chat_instance": "1", "inline_message_id": "x", "data": "yes"}}
    assert read_update(_update(inline)).kind == "ignore"
    group = Resident(fake, 42, chat={"id": -5, "type": "group", "title": "g"})
    assert read_update(_update(group.text("/start")), bot_username="phananh_test_bot").kind == "group"
    assert read_update(_update(group.text("/start@other_bot")), bot_username="phananh_test_bot").kind == "ignore"
    assert read_update(_update({"update_id": 2, "my_chat_member": None})).kind == "ignore"


async def _timed_sends(throttle: Throttle, chats: list[int]) -> list[float]:
    start = time.monotonic()
    times: list[float] = []

    async def call() -> bool:
        times.append(time.monotonic() - start)
        return True

    await asyncio.gather(*(throttle.process_request(call, (), {}, "sendMessage", {"chat_id": c}, None) for c in chats))
    return sorted(times)


def _own() -> Limiter:
    """A limiter of the test's own (the process-wide one keeps other tests' counts)."""
    return Limiter(make_storage(get_settings()))


async def test_throttle_paces_a_chat_and_the_whole_bot() -> None:
    """One chat: 3 messages in any window of its own; many chats: the overall rate; a group: its rate."""
    per_chat = await _timed_sends(Throttle(per_second=1000, chat=Rate("c", 3, 1), limiter=_own()), [7] * 6)
    burst, paced = per_chat[2] - per_chat[0], per_chat[3] - per_chat[0]
    assert burst < 0.2 and paced >= 0.95, "three at once, the fourth when the first leaves the window"
    overall = await _timed_sends(Throttle(per_second=50, limiter=_own()), list(range(1, 101)))
    assert overall[-1] >= 0.95
    groups = await _timed_sends(Throttle(per_second=1000, group=Rate("g", 2, 1), limiter=_own()), [-100] * 3)
    assert groups[2] >= 0.95


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_throttle_waits_when_telegram_asks_and_retries() -> None:
    """A RetryAfter pauses sending for the time asked, then the call goes through."""
    attempts: list[float] = []
    start = time.monotonic()

    async def flaky() -> bool:
        attempts.append(time.monotonic() - start)
        if len(attempts) == 1:
            raise RetryAfter(1)
        return True

    assert await Throttle(limiter=_own()).process_request(flaky, (), {}, "sendMessage", {"chat_id": 1}, None) is True
    assert len(attempts) == 2 and attempts[1] >= 1.0

    async def always() -> bool:
        raise RetryAfter(0)

    with pytest.raises(RetryAfter):
        await Throttle(max_retries=1, limiter=_own()).process_request(always, (), {}, "sendMessage", {"chat_id": 1}, None)
