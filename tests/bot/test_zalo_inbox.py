"""The Zalo inbox: an event answered 200 is processed exactly once, even when the server dies first."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

import bot.zalo.channel as zalo_channel
from bot.zalo import inbox
from bot.zalo.channel import MAX_RETRIES, ZaloChannel
from bot.zalo.events import read_event, update_key
from bot.zalo.fake import FakeZalo, ZaloUser
from bot.zalo.webhook import install, router
from intake.crypto import decrypt_bytes
from intake.db import get_engine
from intake.errors import PhananhError
from intake.i18n import translator
from intake.models import DialogSession, InboundEvent, ProcessedUpdate, utcnow
from tests.bot.test_zalo import STORY, USER, Harness, _zalo_tokens_table, classifier, zalo_settings  # noqa: F401 - fixtures used here

vi = translator("vi")


def _killed_after_answering(channel: ZaloChannel) -> None:
    """The channel answers 200 and then dies: the task that would process the event never runs."""

    def drop(work: Coroutine[Any, Any, None]) -> None:
        work.close()

    channel._spawn = drop  # type: ignore[method-assign]


def _db_down(*_args: Any, **_kwargs: Any) -> Any:
    raise sa.exc.OperationalError("INSERT", {}, Exception("connection refused"))


def _inbox_rows(db: Session) -> list[InboundEvent]:
    db.expire_all()
    return list(db.exec(select(InboundEvent).order_by(InboundEvent.id)).all())  # type: ignore[arg-type]


async def _restart(fake: FakeZalo) -> Harness:
    """A new channel on the same database, as after a restart; it takes up what the inbox holds."""
    after = Harness(zalo_settings(fake), fake)
    await after.channel.recover(older_than=0)
    await after.channel.idle(timeout=120)
    return after


@pytest.fixture()
async def before(db: Session, classifier: None) -> AsyncIterator[Harness]:
    """The channel that will die after answering."""
    fake = FakeZalo()
    harness = Harness(zalo_settings(fake), fake)
    _killed_after_answering(harness.channel)
    yield harness
    await harness.close()


async def test_an_event_answered_but_never_processed_is_processed_once_after_a_restart(before: Harness, db: Session) -> None:
    """Killed after the 200: the restarted channel answers the event, once, and a redelivery changes nothing."""
    event = before.user.follow()
    assert await before.post(event) == 200
    assert before.fake.sent == [] and len(_inbox_rows(db)) == 1
    after = await _restart(before.fake)
    try:
        assert len(before.fake.to(USER)) == 1 and "Mặt trận" in before.fake.to(USER)[0].text
        assert _inbox_rows(db) == []
        assert len(db.exec(select(ProcessedUpdate).where(ProcessedUpdate.channel == "zalo")).all()) == 1
        assert await after.channel.recover(older_than=0) == 0
        assert await after.post(event) == 200, "Zalo sending it again"
        assert len(before.fake.to(USER)) == 1, "processed once, replied once"
        assert _inbox_rows(db) == []
    finally:
        await after.close()


async def test_a_redelivery_of_an_event_still_in_the_inbox_is_kept_once(before: Harness, db: Session) -> None:
    """The same event twice before it was processed: one row, one step, one reply."""
    event = before.user.text("/trogiup")
    assert await before.post(event) == 200
    assert await before.post(event) == 200
    assert len(_inbox_rows(db)) == 1
    after = await _restart(before.fake)
    try:
        texts = before.fake.texts(USER)
        assert texts and len(set(texts)) == len(texts), "the help, in its parts, once"
        assert len(db.exec(select(ProcessedUpdate).where(ProcessedUpdate.channel == "zalo")).all()) == 1
    finally:
        await after.close()


async def test_inbox_rows_hold_no_user_id_and_no_text_in_clear(before: Harness, db: Session) -> None:
    """The body is encrypted and the chat is a keyed hash: neither the user id nor the words are in the row."""
    words = "Chủ tịch xã Bến Thành đòi tiền"
    assert await before.post(before.user.text(words)) == 200
    with get_engine().connect() as conn:
        raw = conn.execute(sa.text("SELECT * FROM inbound_events")).one()
    cells = [bytes(c) if isinstance(c, (bytes, memoryview)) else str(c).encode() for c in raw]
    for secret in (USER.encode(), words.encode(), "Bến Thành".encode(), USER[-8:].encode()):
        assert not any(secret in cell for cell in cells)
    row = _inbox_rows(db)[0]
    assert words.encode() in decrypt_bytes(row.body_enc) and row.chat_hash != USER and len(row.chat_hash) == 64


async def test_a_chats_events_left_in_the_inbox_are_processed_in_order_before_its_new_one(before: Harness, db: Session) -> None:
    """Three events cut by the kill, then the resident writes again: all four are stepped in the order they came."""
    for event in (before.user.follow(), before.user.text(vi._("New report")), before.user.text(vi._("Anonymous"))):
        assert await before.post(event) == 200
    # The same four events through a channel that never died, for another resident.
    fake = before.fake
    other = ZaloUser("7020499999999999999")
    reference = Harness(zalo_settings(fake), fake)
    reference.user = other
    after = Harness(zalo_settings(fake), fake)  # restarted; its recovery pass has not run yet
    try:
        for text in (None, vi._("New report"), vi._("Anonymous"), STORY):
            assert await reference.post(other.follow() if text is None else other.text(text)) == 200
        assert await after.post(before.user.text(STORY)) == 200, "the resident's next message, to the restarted server"
        assert fake.texts(USER) == fake.texts(other.user_id)
        steps = {d.state["step"] for d in db.exec(select(DialogSession)).all()}
        assert len(steps) == 1 and steps != {"idle"}
        assert _inbox_rows(db) == []
    finally:
        await reference.close()
        await after.close()


async def test_a_failed_processing_stays_in_the_inbox_and_is_done_on_the_next_pass(
    db: Session, classifier: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails during the step: nothing is sent, the event waits, and the next pass answers it once."""
    fake = FakeZalo()
    z = Harness(zalo_settings(fake), fake)
    try:
        monkeypatch.setattr(zalo_channel, "step_job", _db_down)
        assert await z.post(z.user.follow()) == 200
        assert fake.sent == []
        (row,) = _inbox_rows(db)
        assert row.last_error == "OperationalError" and row.attempts == 0
        monkeypatch.undo()
        await z.channel.recover(older_than=0)
        await z.channel.idle()
        assert len(fake.to(USER)) == 1 and "Mặt trận" in fake.to(USER)[0].text
        assert _inbox_rows(db) == [] and z.channel.given_up == 0
    finally:
        await z.close()


async def test_an_event_that_keeps_failing_is_given_up_and_the_resident_told(
    db: Session, classifier: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """After its retries an event leaves the inbox, the resident hears that something went wrong, the log names no one."""
    caplog.set_level(logging.INFO)
    fake = FakeZalo()
    z = Harness(zalo_settings(fake), fake)
    try:
        monkeypatch.setattr(zalo_channel, "step_job", _db_down)
        assert await z.post(z.user.text("Chủ tịch xã đòi tiền")) == 200
        for _ in range(MAX_RETRIES):
            await z.channel.recover(older_than=0)
            await z.channel.idle()
            assert len(_inbox_rows(db)) == 1 and fake.sent == []
        assert _inbox_rows(db)[0].attempts == MAX_RETRIES
        await z.channel.recover(older_than=0)
        await z.channel.idle()
        assert _inbox_rows(db) == [] and z.channel.given_up == 1
        assert fake.texts(USER) == [vi._(PhananhError.message)]
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "given up" in logged and USER not in logged and "Chủ tịch" not in logged
    finally:
        await z.close()


async def test_the_webhook_answers_503_when_the_event_cannot_be_kept(zalo: Harness, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database is down: no 200 (Zalo sends the event again), nothing processed; once it is back, one reply."""
    event = zalo.user.follow()
    monkeypatch.setattr(inbox, "put", _db_down)
    assert await zalo.post(event) == 503
    assert zalo.channel.refused["not_kept"] == 1 and zalo.fake.sent == [] and _inbox_rows(db) == []
    monkeypatch.undo()
    assert await zalo.post(event) == 200
    assert len(zalo.fake.to(USER)) == 1


@pytest.fixture()
async def zalo(db: Session, classifier: None) -> AsyncIterator[Harness]:
    fake = FakeZalo()
    harness = Harness(zalo_settings(fake), fake)
    yield harness
    await harness.close()


def test_the_server_takes_up_the_inbox_when_it_starts(db: Session, classifier: None) -> None:
    """What a killed server left in the inbox is answered when the next one starts, with no new event."""
    fake = FakeZalo()
    user = ZaloUser(USER)
    body, _headers = user.signed(user.follow())
    inbox.put("zalo", update_key(read_event(json.loads(body)), body), inbox.chat_key("zalo", USER), body)
    app = FastAPI()
    app.include_router(router)
    install(app, ZaloChannel(zalo_settings(fake), transport=fake.transport, processes=0))
    with TestClient(app):
        deadline = time.monotonic() + 60
        while not fake.sent and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(fake.to(USER)) == 1 and "Mặt trận" in fake.to(USER)[0].text
    assert _inbox_rows(db) == []


def test_rows_left_a_day_are_purged(db: Session) -> None:
    """The purge deletes inbox rows older than a day (a channel no longer served) and keeps newer ones."""
    inbox.put("zalo", "old", inbox.chat_key("zalo", USER), b"{}")
    inbox.put("zalo", "new", inbox.chat_key("zalo", USER), b"{}")
    with get_engine().begin() as conn:
        conn.execute(sa.update(InboundEvent.__table__).where(InboundEvent.__table__.c.event_key == "old").values(received_at=utcnow() - timedelta(days=2)))  # type: ignore[attr-defined]
    assert inbox.purge() == 1
    assert [r.event_key for r in _inbox_rows(db)] == ["new"]


def test_a_chat_is_leased_to_one_server_at_a_time(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """While one server holds a chat's events, another gets none of them and its recovery pass skips the chat;
    once released (or expired), the other takes them, in order."""
    chat = inbox.chat_key("zalo", USER)
    first = inbox.put("zalo", "e1", chat, b"{}")
    second = inbox.put("zalo", "e2", chat, b"{}")
    before = utcnow() + timedelta(seconds=1)
    monkeypatch.setattr(inbox, "_server", "server-a")
    assert [r.id for r in inbox.lease("zalo", chat)] == [first, second]
    monkeypatch.setattr(inbox, "_server", "server-b")
    assert inbox.lease("zalo", chat) == [] and inbox.stale_chats("zalo", before) == []
    monkeypatch.setattr(inbox, "_server", "server-a")
    assert inbox.stale_chats("zalo", before) == [chat], "the holder still sees its own chat"
    inbox.release("zalo", chat)
    monkeypatch.setattr(inbox, "_server", "server-b")
    assert inbox.stale_chats("zalo", before) == [chat]
    assert [r.id for r in inbox.lease("zalo", chat)] == [first, second]
    with get_engine().begin() as conn:  # server-b dies holding it: the lease runs out
        conn.execute(sa.update(InboundEvent.__table__).values(leased_until=utcnow() - timedelta(seconds=1)))  # type: ignore[attr-defined]
    monkeypatch.setattr(inbox, "_server", "server-c")
    assert [r.id for r in inbox.lease("zalo", chat)] == [first, second]
