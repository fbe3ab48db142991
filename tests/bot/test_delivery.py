"""Staff replies reach residents: Telegram and Zalo pushed by the outbox worker, the web chat at look-up;
the resident's answer comes back into the case's thread; a worker killed mid-send shows nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.senders import ZaloOutboxSender, build_senders, close_senders
from bot.telegram.fake import FakeBotAPIServer, FakeTelegram, plain
from bot.zalo.fake import APP_ID, APP_SECRET, OA_ID, OA_SECRET, FakeZalo, FakeZaloServer
from bot.zalo.render import split_text
from intake.actions import chat_handle_hash
from intake.config import get_settings
from intake.crypto import encrypt
from intake.models import Case, ChatLink, Committee, OutboxMessage, OutboxStatus, utcnow
from intake.outbox import DeliveryError, deliver_batch
from phananh.web import create_app
from tests.chat import chat_post
from tests.admin.conftest import Account, csrf_for, file_case, make_staff, signed_in
from tests.bot import test_telegram as tgt
from tests.bot import test_zalo as zt
from tests.bot.test_zalo import USER, _zalo_tokens_table, classifier, zalo_settings  # noqa: F401 - fixtures used here

REPLY = "Mặt trận đã làm việc với UBND xã. Đề nghị Anh/Chị cho biết thêm thời gian cụ thể xảy ra việc này."
ANSWER = "Việc này xảy ra vào sáng thứ Hai, ngày 3 tháng 11, tại bộ phận một cửa."


def _officer(db: Session, case: Case) -> tuple[Account, TestClient]:
    """An officer of the committee the case was routed to, signed in to the admin."""
    committee = db.get(Committee, case.committee_id)
    assert committee is not None
    officer = make_staff(db, "canbo", committee.code)
    return officer, signed_in(officer)


def _reply(client: TestClient, case_id: int, text: str = REPLY) -> None:
    """Staff write to the resident through the case page's reply form."""
    r = client.post(f"/admin/cases/{case_id}/reply", data={"text": text, "csrf": csrf_for(client)}, follow_redirects=False)
    assert r.status_code == 303 and "done=reply" in r.headers["location"]


def _status(db: Session) -> set[str]:
    db.expire_all()
    return {row.status for row in db.exec(select(OutboxMessage)).all()}


# -- one resident per channel, end to end ---------------------------------------------------------


async def test_a_staff_reply_reaches_an_opted_in_telegram_resident_and_the_answer_comes_back(db: Session, classifier: None) -> None:
    """Filed on Telegram with updates on; the admin's reply is a sendMessage to that chat; «Bổ sung» lands in the thread."""
    fake = FakeTelegram()
    bot = tgt.Harness(tgt.telegram_settings(), fake)
    try:
        await tgt.walk_report(bot.resident, bot.deliver, notify="yes")
        case = db.exec(select(Case)).one()
        _officer_account, client = _officer(db, case)
        _reply(client, case.id)  # type: ignore[arg-type]
        server = FakeBotAPIServer(fake).start()
        senders = build_senders(tgt.telegram_settings(telegram_api_url=server.url))
        try:
            assert set(senders) == {"telegram"}
            assert await asyncio.to_thread(deliver_batch, senders) == 1
        finally:
            await asyncio.to_thread(close_senders, senders)
            server.stop()
        assert _status(db) == {OutboxStatus.SENT.value}
        pushed = [plain(c.params["text"]) for c in fake.sent("sendMessage", tgt.USER_ID)]
        assert pushed[-1] == REPLY

        await bot.deliver(bot.resident.text("/tracuu"))  # the chat is linked: no receipt needed
        await bot.deliver(bot.resident.press("followup"))
        await bot.deliver(bot.resident.text(ANSWER))
        page = client.get(f"/admin/cases/{case.id}").text
        assert ANSWER in page
        assert 'data-delivery="seen"' in page  # sent, then seen: the reporter looked the case up since
    finally:
        await bot.channel.shutdown()


async def test_a_staff_reply_reaches_an_opted_in_zalo_resident_and_the_answer_comes_back(db: Session, classifier: None) -> None:
    """Filed on Zalo with updates on; the reply goes out as /v3.0/oa/message/cs to that user; the answer lands in the thread."""
    fake = FakeZalo()
    zalo = zt.Harness(zalo_settings(fake), fake)
    try:
        await zt.walk_report(zalo, notify=True)
        case = db.exec(select(Case)).one()
        _officer_account, client = _officer(db, case)
        _reply(client, case.id)  # type: ignore[arg-type]
        server = FakeZaloServer(fake).start()
        # build_senders as `serve` calls it; the fake answers on loopback over real HTTP.
        senders = build_senders(zalo_settings(fake, zalo_api_base=server.url, zalo_oauth_base=server.url))
        sends_before = fake.calls.count("send")
        try:
            assert set(senders) == {"zalo"}
            assert await asyncio.to_thread(deliver_batch, senders) == 1
        finally:
            await asyncio.to_thread(close_senders, senders)
            server.stop()
        assert fake.calls.count("send") == sends_before + 1
        assert fake.to(USER)[-1].text == REPLY and _status(db) == {OutboxStatus.SENT.value}

        await zalo.say("/tracuu")
        await zalo.say(zt.vi._("Add information"))
        await zalo.say(ANSWER)
        page = client.get(f"/admin/cases/{case.id}").text
        assert ANSWER in page
        assert 'data-delivery="seen"' in page  # sent, then seen: the reporter looked the case up since
    finally:
        await zalo.close()


def test_a_staff_reply_to_a_web_chat_resident_waits_for_the_look_up(db: Session) -> None:
    """The web chat cannot be pushed: the reply is held, shown at the look-up, and the answer reaches the thread."""
    filed = file_case(db, channel="web")
    _officer_account, client = _officer(db, filed.case)
    _reply(client, filed.case.id)  # type: ignore[arg-type]
    assert deliver_batch(build_senders(get_settings())) == 1
    assert _status(db) == {OutboxStatus.HELD.value}

    chat = TestClient(create_app())
    looked = chat_post(chat, text=f"/tracuu {filed.receipt} {filed.passphrase}").json()["replies"]
    assert REPLY in "\n".join(r["text"] for r in looked)
    followup = next(b["payload"] for r in looked for b in r["buttons"] if b["payload"].endswith(":followup"))
    chat.post("/api/chat", json={"button": followup})
    chat.post("/api/chat", json={"text": ANSWER})
    page = client.get(f"/admin/cases/{filed.case.id}").text
    assert ANSWER in page
    assert 'data-delivery="seen"' in page  # held for the look-up, then seen there
    again = chat.post("/api/chat", json={"text": f"/tracuu {filed.receipt} {filed.passphrase}"}).json()["replies"]
    shown = "\n".join(r["text"] for r in again)
    assert REPLY in shown and "· mới" not in shown, "shown at every look-up, marked new only the first time"


# -- the Zalo adapter ----------------------------------------------------------------------------


@pytest.fixture()
def zalo_sender(db: Session) -> Any:
    fake = FakeZalo()
    sender = ZaloOutboxSender(zalo_settings(fake), transport=fake.transport)
    yield sender, fake
    sender.close()


def test_a_long_message_failing_half_way_is_resumed_without_showing_a_part_twice(zalo_sender: Any) -> None:
    """Part 2 of 3 fails (HTTP 502): the retry sends parts 2 and 3 only; the resident sees each part once."""
    sender, fake = zalo_sender
    text = "\n".join(f"Đoạn {i}: " + "nội dung trả lời của Mặt trận " * 20 for i in range(9))
    parts = split_text(text)
    assert len(parts) == 3
    fake.fail("ok", "http:502")
    with pytest.raises(DeliveryError) as caught:
        sender(USER, text, "case-message:7")
    assert caught.value.retryable and caught.value.retry_after == 7  # Zalo's Retry-After
    assert fake.texts(USER) == parts[:1]
    sender(USER, text, "case-message:7")
    sender(USER, text, "case-message:7")  # a worker that died before recording "sent" tries once more
    assert fake.texts(USER) == parts


@pytest.mark.parametrize(
    ("failure", "retryable", "retry_after", "says"),
    [
        ("rate_limit", True, 60.0, "rate limited"),
        ("error:-50", True, None, "failed"),
        ("error:-213", False, None, "refused"),
        ("timeout_after_send", False, None, "may have reached"),
    ],
)
def test_zalo_failures_say_whether_to_retry(zalo_sender: Any, failure: str, retryable: bool, retry_after: float | None, says: str) -> None:
    """Rate limits wait as Zalo asks; a refusal is final; a send that may have arrived is never repeated on its own."""
    sender, fake = zalo_sender
    fake.fail(failure)
    with pytest.raises(DeliveryError) as caught:
        sender(USER, "Tin nhắn", "case-message:8")
    assert caught.value.retryable is retryable and caught.value.retry_after == retry_after and says in caught.value.code


# -- a worker killed mid-send ------------------------------------------------------------------


def _queue_zalo_messages(db: Session, bodies: list[str]) -> dict[str, tuple[str, list[str]]]:
    """One case per body, its reporter opted in on Zalo; returns delivery key -> (Zalo user, parts)."""
    committee = db.exec(select(Committee).limit(1)).one()
    expected: dict[str, tuple[str, list[str]]] = {}
    for i, body in enumerate(bodies):
        user = f"70204000000000{i:05d}"
        case = Case(receipt_hash=f"kill-{i}", passphrase_hash="x", channel="zalo", anonymity="anonymous", committee_id=committee.id, description="...")  # type: ignore[arg-type]
        db.add(case)
        db.flush()
        db.add(ChatLink(case_id=case.id, channel="zalo", handle_hash=chat_handle_hash("zalo", user), handle_enc=encrypt(user)))  # type: ignore[arg-type]
        key = f"case-message:{9000 + i}"
        # Spaced so that the batch is sent in this order (the claim takes the oldest due first).
        due = utcnow() - timedelta(seconds=len(bodies) - i)
        db.add(OutboxMessage(case_id=case.id, channel="zalo", body=body, delivery_key=key, next_attempt_at=due))  # type: ignore[arg-type]
        expected[key] = (user, split_text(body))
    db.commit()
    return expected


def _worker_env(server: FakeZaloServer, fake: FakeZalo) -> dict[str, str]:
    """The environment of a `phananh worker` process: this test's database, Zalo on the loopback fake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHANANH_TELEGRAM")}
    env.update(
        PHANANH_ZALO_APP_ID=APP_ID,
        PHANANH_ZALO_OA_ID=OA_ID,
        PHANANH_ZALO_OA_SECRET_KEY=OA_SECRET,
        PHANANH_ZALO_APP_SECRET=APP_SECRET,
        PHANANH_ZALO_API_BASE=server.url,
        PHANANH_ZALO_OAUTH_BASE=server.url,
        PHANANH_ZALO_INITIAL_REFRESH_TOKEN=fake.issue_refresh_token(),
        PHANANH_OUTBOX_POLL_SECONDS="0.1",
        PHANANH_LOG_LEVEL="WARNING",
    )
    return env


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)


@pytest.mark.slow
def test_a_worker_killed_mid_send_and_a_new_one_show_each_message_exactly_once(db: Session) -> None:
    """SIGKILL while part 2 of a 3-part message is on its way: the next worker sends parts 2 and 3 and the rest, each once.

    What this cannot cover, and nothing can: Zalo takes no idempotency key, so a worker killed
    after Zalo accepted a part but before the part's mark is written (one database write after the
    answer) would show that part again. The kill here lands while the request is still on its way,
    which the fake models by a delay after which a vanished client's request is dropped.
    """
    fake = FakeZalo()
    server = FakeZaloServer(fake, delay=0.5).start()
    long_body = "\n".join(f"Đoạn {i}: " + "nội dung trả lời của Mặt trận " * 20 for i in range(9))
    expected = _queue_zalo_messages(db, [long_body, "Tin thứ hai.", "Tin thứ ba.", "Tin thứ tư."])
    assert len(expected["case-message:9000"][1]) == 3
    env = _worker_env(server, fake)
    command = [sys.executable, "-m", "phananh.cli", "worker", "--batch", "10"]
    try:
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            # Part 1 shown and marked; part 2 on its way: now the worker dies.
            _wait(lambda: server.arrived >= 2 or first.poll() is not None, 60, "the first worker never sent")
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        _wait(lambda: server.dropped == 1, 10, "the cut-off request was not seen")
        assert len(fake.sent) == 1, "only part 1 reached Zalo before the kill"
        assert _status(db) == {OutboxStatus.SENDING.value}, "the whole batch was in hand"

        # The lease ends (two minutes in production; here at once), and another worker takes over.
        db.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.commit()
        second = subprocess.run([*command, "--once"], env=env, capture_output=True, timeout=120)
        assert second.returncode == 0, second.stderr.decode()
    finally:
        server.stop()

    assert _status(db) == {OutboxStatus.SENT.value}
    shown = Counter((s.user_id, s.text) for s in fake.sent)
    assert all(n == 1 for n in shown.values()), [k for k, n in shown.items() if n > 1]
    for user, parts in expected.values():
        assert fake.texts(user) == parts
