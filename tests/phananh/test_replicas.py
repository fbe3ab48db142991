"""Two `phananh serve` on one PostgreSQL, residents' messages alternating between them (issue 18, part 1).

Both servers start at the same moment on an empty database of the test's own; web, Telegram and
Zalo residents file complete reports, each message going to the other server than the one before;
a web chat floods both; a hundred ended cases wait for the purge; Zalo events wait in the inbox as a
crash would have left them. Every report must be filed once, every job done once, and the limits
counted once (through Redis, PHANANH_TEST_REDIS_URL).
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image
from pydantic import SecretStr
from sqlmodel import Session, select

from bench.load import TimedFake, TimedZalo
from bench.telegram import REPORT as TELEGRAM_REPORT
from bench.telegram import SECRET, Updates
from bench.zalo import REPORT as ZALO_REPORT
from bot.telegram.fake import BOT_TOKEN, FakeBotAPIServer
from bot.zalo import fake as zalo
from bot.zalo.events import read_event, update_key
from bot.zalo.fake import FakeZaloServer, ZaloUser
from bot.zalo.inbox import chat_key
from intake import audit
from intake.attachments import read_attachment
from intake.config import get_settings
from intake.crypto import _dev_key_file, check_keys, encrypt_bytes
from intake.models import Attachment, Case, utcnow
from intake.receipts import receipt_hash
from intake.ratelimit import check_store
from tests.bot.test_webchat import WEB_REPORT
from tests.chat import chat_post
from tests.servers import Serve, command_env, free_port

PG_URL = os.environ.get("PHANANH_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("PHANANH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RECEIPT = re.compile(r"\b([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\b")
SENDS_PER_SECOND = 5
ENDED = 100

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not PG_URL, reason="two servers share one PostgreSQL (PHANANH_TEST_DATABASE_URL)")]


@pytest.fixture()
def database() -> Iterator[str]:
    """An empty database of the test's own beside PHANANH_TEST_DATABASE_URL's, dropped after."""
    base = sa.engine.make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"{base.database}_replicas_{secrets.token_hex(4)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _say(client: httpx.Client, url: str, body: dict[str, object], shown: list[dict[str, Any]] | None = None) -> httpx.Response:
    """Posts a message; a button named by its choice is pressed where the replies `shown` last offered it."""
    button = body.get("button")
    if isinstance(button, str):
        body = {**body, "button": next(b["payload"] for r in shown or [] for b in r["buttons"] if b["payload"].endswith(f":{button}"))}
    return chat_post(client, f"{url}/api/chat", **body)  # type: ignore[no-any-return]


def _web_report(client: httpx.Client, urls: list[str], *, photo: bytes | None = None) -> str:
    """A whole web report, each message to the other server; returns the receipt."""
    steps = [*WEB_REPORT, {"button": "send"}]
    receipt = ""
    shown: list[dict[str, Any]] = []
    for i, body in enumerate(steps):
        if photo is not None and body == {"button": "skip"} and i > 10:  # the evidence question: a photo, then done
            r = client.post(f"{urls[i % 2]}/api/chat/upload", files={"file": ("a.jpg", photo, "image/jpeg")}, timeout=60)
            assert r.status_code == 200, r.text
            shown = r.json()["replies"]
            body = {"button": "done"}
        r = _say(client, urls[(i + 1) % 2], body, shown)
        assert r.status_code == 200, r.text
        shown = r.json()["replies"]
        receipt = next((str(x["receipt"]) for x in shown if x.get("receipt")), receipt)
    assert receipt
    return receipt


def _telegram_report(fake: TimedFake, chat: int, hooks: list[str], updates: Updates) -> str:
    """A whole Telegram report, updates alternating between the servers' webhooks; returns the receipt."""
    with httpx.Client(timeout=60) as client:
        pressed = 0
        for i, (kind, value) in enumerate(TELEGRAM_REPORT):
            update = updates.make(chat, kind, value)
            if kind == "press":  # on the button the bot showed: its payload names the question (wait for it, as a person reads)
                deadline = time.monotonic() + 30
                while (found := fake.button(chat, value)) is None or found[0]["message_id"] <= pressed:
                    assert time.monotonic() < deadline, f"no button {value} shown"
                    time.sleep(0.05)
                pressed = found[0]["message_id"]
                update = updates.make(chat, kind, found[1]["callback_data"], question=found[0])
            r = client.post(hooks[i % 2], json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert r.status_code == 200
            fake.carry_out(r)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [RECEIPT.search(text) for _at, text in fake.seen(chat)]
        if any(found):
            return next(f.group(1) for f in found if f)
        time.sleep(0.2)
    raise AssertionError(f"no receipt for Telegram chat {chat}: {fake.seen(chat)[-3:]}")


def _zalo_report(fake: TimedZalo, user: ZaloUser, hooks: list[str]) -> str:
    """A whole Zalo report, events alternating between the servers, each after the answer to the last."""
    with httpx.Client(timeout=60) as client:
        for i, text in enumerate([None, *ZALO_REPORT]):
            before = len(fake.seen(user.user_id))
            body, headers = user.signed(user.follow() if text is None else user.text(text))
            assert client.post(hooks[i % 2], content=body, headers=headers).status_code == 200
            deadline = time.monotonic() + 60
            while len(fake.seen(user.user_id)) == before and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(fake.seen(user.user_id)) > before, f"no answer to {text!r}"
            settled = len(fake.seen(user.user_id))
            time.sleep(0.3)  # an answer of several messages: all of it before the next event
            while len(fake.seen(user.user_id)) != settled:
                settled = len(fake.seen(user.user_id))
                time.sleep(0.3)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [RECEIPT.search(text) for _at, text in fake.seen(user.user_id)]
        if any(found):
            return next(f.group(1) for f in found if f)
        time.sleep(0.2)
    raise AssertionError(f"no receipt for Zalo user {user.user_id}")


def _busiest_second(times: list[float]) -> int:
    """The most messages sent within any one second."""
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)), default=0)


def test_two_servers_file_every_report_once_run_every_job_once_and_count_limits_once(database: str, tmp_path: Path) -> None:
    """Two servers started together on an empty database, every message alternating between them."""
    prefix = f"phananh-test-{secrets.token_hex(4)}"
    shared = get_settings().model_copy(update={"redis_url": SecretStr(REDIS_URL), "redis_prefix": prefix})
    if check_store(shared):
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    check_keys()  # this process's key file, which the servers read too
    engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    telegram, zalo_fake = TimedFake(), TimedZalo()
    api, zalo_api = FakeBotAPIServer(telegram).start(), FakeZaloServer(zalo_fake).start()
    refresh = zalo_fake.issue_refresh_token()
    servers: list[Serve] = []
    try:
        ports = [free_port(), free_port()]
        for n, port in enumerate(ports):
            env = command_env(
                tmp_path / f"var-{n}",
                PHANANH_DATABASE_URL=database,
                PHANANH_SECRET_KEY=get_settings().secret_key.get_secret_value(),
                PHANANH_ENCRYPTION_KEY_FILE=str(_dev_key_file(get_settings())),
                PHANANH_REDIS_URL=REDIS_URL,
                PHANANH_REDIS_PREFIX=prefix,
                PHANANH_TELEGRAM_TOKEN=BOT_TOKEN,
                PHANANH_TELEGRAM_API_URL=api.url,
                PHANANH_TELEGRAM_WEBHOOK_SECRET=SECRET,
                PHANANH_PUBLIC_URL=f"http://127.0.0.1:{port}",
                PHANANH_TELEGRAM_SENDS_PER_SECOND=str(SENDS_PER_SECOND),
                PHANANH_CHAT_MESSAGES_PER_MINUTE="120",
                PHANANH_WEB_CHAT_MESSAGES_PER_MINUTE="30",
                PHANANH_ZALO_APP_ID=zalo.APP_ID,
                PHANANH_ZALO_OA_ID=zalo.OA_ID,
                PHANANH_ZALO_OA_SECRET_KEY=zalo.OA_SECRET,
                PHANANH_ZALO_APP_SECRET=zalo.APP_SECRET,
                PHANANH_ZALO_INITIAL_REFRESH_TOKEN=refresh,
                PHANANH_ZALO_API_BASE=zalo_api.url,
                PHANANH_ZALO_OAUTH_BASE=zalo_api.url,
                PHANANH_ZALO_WORKER_PROCESSES="1",
                PHANANH_PURGE_INTERVAL_HOURS="0.001",  # a purge due every 3.6 s
                PHANANH_BACKGROUND_DELAY_SECONDS="1",
                PHANANH_OUTBOX_POLL_SECONDS="0.2",
                PHANANH_LOG_LEVEL="INFO",
            )
            servers.append(Serve(env, tmp_path / f"serve-{n}.log", port))  # both at once: migrations and the first admin race
        for server in servers:
            server.wait_ready()
        logs = [server.text() for server in servers]
        assert sum(log.count("First admin account created") for log in logs) == 1
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM staff_users")).scalar() == 1
        urls = [server.url for server in servers]
        hooks_tg = [f"{url}/webhook/telegram" for url in urls]
        hooks_zalo = [f"{url}/webhook/zalo" for url in urls]

        # Ended cases for the purge, and Zalo events a crash left in the inbox.
        with Session(engine) as session:
            committee = session.exec(sa.text("SELECT id FROM committees WHERE code = '26743'")).scalar()  # type: ignore[call-overload]
            long_ago = utcnow() - timedelta(days=100)
            for i in range(ENDED):
                session.add(Case(receipt_hash=f"ended-{i}", passphrase_hash="x", channel="web", anonymity="anonymous", committee_id=committee,
                                 description="…", status="closed", closed_at=long_ago, handled_at=long_ago))  # fmt: skip
            left_over = [ZaloUser(f"77000000000000{i:02d}") for i in range(3)]
            for user in left_over:
                body, _headers = user.signed(user.text("Xin chào"))
                session.execute(sa.text(
                "INSERT INTO inbound_events (channel, event_key, chat_hash, body_enc, received_at, attempts) "
                "VALUES ('zalo', :key, :chat, :body, :at, 0)"
            ), {"key": update_key(read_event(json.loads(body)), body), "chat": chat_key("zalo", user.user_id),
                "body": encrypt_bytes(body), "at": utcnow() - timedelta(minutes=1)})  # fmt: skip
            session.commit()

        # Complete reports, every message to the other server.
        buf = io.BytesIO()
        Image.new("RGB", (24, 16), (200, 30, 30)).save(buf, "JPEG")
        receipts: list[str] = []
        for n in range(3):
            with httpx.Client(timeout=60) as client:  # one cookie, sent to both servers (same host, other port)
                receipts.append(_web_report(client, urls, photo=buf.getvalue() if n == 0 else None))
        updates = Updates()
        for n in range(3):
            receipts.append(_telegram_report(telegram, 8_100_000 + n, hooks_tg, updates))
        for n in range(2):
            receipts.append(_zalo_report(zalo_fake, ZaloUser(f"88000000000000{n:02d}"), hooks_zalo))

        # One web chat flooding both servers: its limit of 30 a minute holds for the two together.
        with httpx.Client(timeout=60) as client:
            statuses = [_say(client, urls[i % 2], {"text": "/trogiup"}).status_code for i in range(40)]
        assert statuses.count(200) == 30 and statuses.count(429) == 10, statuses

        # Every report filed once, and found by its receipt.
        with Session(engine) as session:
            hashes = [h for (h,) in session.execute(sa.text("SELECT receipt_hash FROM cases WHERE receipt_hash NOT LIKE 'ended-%'"))]
            assert sorted(hashes) == sorted(receipt_hash(r) for r in receipts), "each report once, none lost, none twice"
            photo_case = session.exec(select(Case).where(Case.receipt_hash == receipt_hash(receipts[0]))).one()
            attachment = session.exec(select(Attachment).where(Attachment.case_id == photo_case.id)).one()
            assert read_attachment(attachment, session)[:2] == b"\xff\xd8", "the photo sent to one server is read from the shared store"

        # Telegram's pace: 5 messages a second for the two servers together.
        sent = [at for chat in range(8_100_000, 8_100_003) for at, _text in telegram.seen(chat)]
        assert _busiest_second(sent) <= SENDS_PER_SECOND + 1, "the outgoing pace was counted once"

        # Every job done once: the hundred ended cases purged once (one audit row each), the left-over events answered once.
        deadline = time.monotonic() + 60
        with Session(engine) as session:
            while time.monotonic() < deadline:
                purged = session.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'case.purged'")).scalar()
                if purged == ENDED:
                    break
                time.sleep(0.5)
            time.sleep(8)  # two more periods: nothing is purged again
            assert session.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'case.purged'")).scalar() == ENDED
            assert session.execute(sa.text("SELECT count(*) FROM cases WHERE purged_at IS NOT NULL")).scalar() == ENDED
            assert audit.verify(session).ok
            assert session.execute(sa.text("SELECT count(*) FROM inbound_events")).scalar() == 0
        # What one processing of that event answers, from a resident who sends it now.
        control = ZaloUser("7700000000000099")
        body, headers = control.signed(control.text("Xin chào"))
        assert httpx.post(hooks_zalo[0], content=body, headers=headers, timeout=30).status_code == 200
        time.sleep(3)
        once = [text for _at, text in zalo_fake.seen(control.user_id)]
        assert once, "the control resident was answered"
        assert all([text for _at, text in zalo_fake.seen(u.user_id)] == once for u in left_over), "each left-over event answered once"
        for server in servers:
            assert server.stop() == 0, server.text()[-3000:]
    finally:
        for server in servers:
            server.stop()
        api.stop()
        zalo_api.stop()
        engine.dispose()
        from intake.ratelimit import Limiter, make_storage

        Limiter(make_storage(shared)).reset()
