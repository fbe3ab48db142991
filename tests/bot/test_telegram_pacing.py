"""An update costs one transaction, and Telegram's pace in a chat never holds an update's answer up."""

from __future__ import annotations

import asyncio

import time
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select
from telegram import Update

from bot.telegram.channel import TelegramChannel
from bot.telegram.fake import Call, FakeTelegram, RecordingRequest, Resident, plain
from bot.telegram.setup import make_bot
from bot.telegram.throttle import Throttle
from intake import conversation, receipts
from intake.crypto import decrypt
from intake.db import _WRITE_LOCKS, get_engine
from intake.dialog.types import Draft
from intake.models import Case, DialogSession, ProcessedUpdate, RateEvent
from intake.ratelimit import Limiter, Rate, make_storage
from tests.bot.test_telegram import telegram_settings, walk_report


def _channel(fake: FakeTelegram, throttle: Throttle) -> TelegramChannel:
    settings = telegram_settings()
    bot = make_bot(settings, request=RecordingRequest(fake), updates_request=RecordingRequest(fake), throttle=throttle)
    return TelegramChannel(bot, settings=settings, typing_after=5.0)


async def test_a_message_is_admitted_stepped_and_marked_in_one_transaction(db: Session) -> None:
    """The duplicate check, the per-minute count, the step and the processed mark commit together."""
    fake = FakeTelegram()
    channel = _channel(fake, Throttle.lifted())
    resident = Resident(fake, 4440001)
    await channel.process(Update.de_json(resident.text("/start"), channel.bot))  # first contact creates the dialog
    commits: list[object] = []

    def count(conn: Any) -> None:
        commits.append(conn)

    sa.event.listen(get_engine(), "commit", count)
    try:
        update = resident.press("menu:report")
        await channel.process(Update.de_json(update, channel.bot))
        assert len(commits) == 1
        key = f"{channel.bot_id}:{update['update_id']}"
        assert db.exec(select(ProcessedUpdate).where(ProcessedUpdate.update_key == key)).one()
        assert len(db.exec(select(RateEvent)).all()) == 2, "both messages counted against the chat's minute"
        await channel.process(Update.de_json(update, channel.bot))
        assert len(db.exec(select(RateEvent)).all()) == 2, "a redelivery is refused before it counts"
        assert len(fake.sent("sendMessage", resident.chat_id)) == 2, "and answered nothing"
    finally:
        sa.event.remove(get_engine(), "commit", count)
    await channel.shutdown()


async def test_answers_over_the_chat_pace_are_queued_in_order_without_holding_the_update(db: Session) -> None:
    """At one message a second in a chat, an update whose answer must wait is answered at once (the
    webhook connection freed); its messages follow in order, after the chat's earlier ones."""
    script = ("/start", "/trogiup", "/huy", "/trogiup")
    quick_fake = FakeTelegram()
    quick = _channel(quick_fake, Throttle.lifted())
    for text in script:
        await quick.process(Update.de_json(Resident(quick_fake, 4440002).text(text), quick.bot))
    await quick.shutdown()
    in_order = [plain(c.params["text"]) for c in quick_fake.sent("sendMessage", 4440002)]

    fake = FakeTelegram()
    channel = _channel(fake, Throttle(per_second=1000, chat=Rate("chat-2", 1, 1), limiter=Limiter(make_storage(telegram_settings()))))
    resident = Resident(fake, 4440002)
    began = time.monotonic()
    for text in script:
        await channel.process(Update.de_json(resident.text(text), channel.bot))
    handled = time.monotonic() - began
    queued = len(fake.sent("sendMessage", resident.chat_id))
    await channel.drain()
    sent = fake.sent("sendMessage", resident.chat_id)
    paced = time.monotonic() - began
    assert len(sent) >= 5 and queued < len(sent), "some answers were still queued when the updates were done"
    assert handled < paced - 0.4, "the updates did not wait for the chat's pace"
    assert paced >= (len(sent) - 1) / 1.0 - 0.1, "the chat's pace was kept"
    assert [plain(c.params["text"]) for c in sent] == in_order, "the same messages, in the same order"
    await channel.shutdown()


async def test_queued_answers_are_sent_before_shutdown(db: Session) -> None:
    """Stopping the server sends what is queued first."""
    fake = FakeTelegram()
    channel = _channel(fake, Throttle(per_second=1000, chat=Rate("chat-1", 1, 1), limiter=Limiter(make_storage(telegram_settings()))))
    resident = Resident(fake, 4440003)
    for text in ("/start", "/trogiup", "/trogiup"):
        await channel.process(Update.de_json(resident.text(text), channel.bot))
    await channel.shutdown()
    assert len(fake.sent("sendMessage", resident.chat_id)) >= 3


class _LosesReceipts(RecordingRequest):
    """A Bot API whose answer to the receipt message is lost (the resident never sees it)."""

    lose = True

    async def do_request(self, url: str, method: str, request_data: Any = None, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        params = dict(request_data.parameters) if request_data else {}
        if self.lose and url.endswith("/sendMessage") and "<code>" in str(params.get("text", "")):
            self.fake.calls.append(Call("lostMessage", params))
            return 502, b'{"ok": false, "error_code": 502, "description": "Bad Gateway"}'
        return await super().do_request(url, method, request_data, *args, **kwargs)


async def test_a_receipt_comes_with_every_message_until_a_send_of_it_succeeds(db: Session) -> None:
    """The filing commits before the receipt is sent; if that send fails, and the next one too, each
    message of the resident brings the receipt first. Once a send succeeds, the dialog no longer holds it."""
    fake = FakeTelegram()
    request = _LosesReceipts(fake)
    settings = telegram_settings()
    quick = Throttle.lifted()
    channel = TelegramChannel(make_bot(settings, request=request, updates_request=request, throttle=quick), settings=settings, typing_after=5.0)
    resident = Resident(fake, 4440004)

    async def deliver(update: dict[str, Any]) -> None:
        await channel.process(Update.de_json(update, channel.bot))

    def pending() -> object:
        db.expire_all()
        return Draft.model_validate_json(decrypt(db.exec(select(DialogSession)).one().draft_enc)).pending_receipt

    await walk_report(resident, deliver)
    await deliver(resident.text("xin chào"))  # the receipt comes again, and is lost again
    lost = [c for c in fake.calls if c.method == "lostMessage"]
    assert len(lost) == 2 and db.exec(select(Case)).one()
    assert pending() is not None, "never shown: still pending"
    request.lose = False
    await deliver(resident.text("xin chào"))
    again = [plain(c.params["text"]) for c in fake.sent("sendMessage", resident.chat_id)]
    receipt = plain(lost[0].params["text"]).split("Mã tiếp nhận: ", 1)[1][:14]
    assert receipt in again[-2] or receipt in again[-1]
    for _ in range(100):  # the confirmation runs behind the update
        if pending() is None:
            break
        await asyncio.sleep(0.02)
    assert pending() is None
    before = len(fake.sent("sendMessage", resident.chat_id))
    await deliver(resident.text("/trogiup"))
    assert not any(receipt in plain(c.params["text"]) for c in fake.sent("sendMessage", resident.chat_id)[before:])
    await channel.shutdown()


async def test_a_filing_hashes_its_passphrase_and_steps_without_holding_the_sqlite_write_lock(db: Session, monkeypatch: Any) -> None:
    """On SQLite one writer goes at a time: the slow parts of a step (the engine, the passphrase's
    Argon2 hash) run before the step's transaction writes, so other chats' writes are not held up."""
    engine = get_engine()
    if engine.dialect.name != "sqlite":
        return
    lock = _WRITE_LOCKS[engine.url.database or ""]
    held: dict[str, list[bool]] = {"hash": [], "step": []}
    real_hash, real_step = receipts.hash_passphrase, conversation.step

    def hash_watched(passphrase: str) -> str:
        held["hash"].append(lock.locked())
        return real_hash(passphrase)

    def step_watched(state: Any, draft: Any, message: Any, *args: Any, **kwargs: Any) -> Any:
        if message.event is None:  # the step that tells the engine an effect's outcome comes after its writes
            held["step"].append(lock.locked())
        return real_step(state, draft, message, *args, **kwargs)

    monkeypatch.setattr(receipts, "hash_passphrase", hash_watched)
    monkeypatch.setattr(conversation, "step", step_watched)
    fake = FakeTelegram()
    channel = _channel(fake, Throttle.lifted())
    resident = Resident(fake, 4440005)

    async def deliver(update: dict[str, Any]) -> None:
        await channel.process(Update.de_json(update, channel.bot))

    await walk_report(resident, deliver)
    await channel.shutdown()
    assert db.exec(select(Case)).one()
    assert held["hash"] == [False], "the passphrase was hashed once, outside the write lock"
    # The first contact creates the chat's dialog row before its (short) greeting step; no step after it
    # computes while holding the lock.
    assert len(held["step"]) >= 13 and not any(held["step"][1:]), "no step computed while holding the write lock"
