"""Outbox drain rate: N queued staff messages to N opted-in chats, W worker processes, a local fake channel.

    python -m bench.outbox [--database-url URL] [--messages 10000] [--workers 2] [--batch 50] [--latency-ms 0]

Use a database of its own (the schema is migrated there; its rows are removed afterwards unless
--keep). Without --database-url a fresh SQLite file is used, where one worker is the rule.
Each worker process runs the real claim/send/record loop (`intake.outbox.deliver`) with a sender
that stands for the chat platform: it appends "delivery key <tab> chat" to a file of its own
(a write per message, as a platform's answer would be one round trip), optionally after a delay.
The clock runs from the moment all workers are ready until the database shows every row sent;
then the files are read: a key seen twice is a duplicate, a key never seen is lost, and a key
seen in the wrong chat is misdelivered.

Issue 7's target: >= 500 messages/s on PostgreSQL with two workers, no duplicate, none lost.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

TAG = "bench-outbox"  # the description of the bench's cases, to find and remove them


class RecordingSender:
    """The fake platform: each message shown is a line in this worker's file."""

    def __init__(self, path: Path, latency: float) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.latency = latency

    def __call__(self, handle: str, text: str, key: str) -> None:
        if self.latency:
            time.sleep(self.latency)
        os.write(self.fd, f"{key}\t{handle}\n".encode())


class _Anything(set[str]):
    """A token set that takes every token: each worker process has its own fake, the tokens are shared."""

    def __contains__(self, _item: object) -> bool:
        return True


def _zalo_sender(recording: RecordingSender) -> Any:
    """The production Zalo adapter (`bot.senders.ZaloOutboxSender`, marks per part included) on a fake Zalo."""
    import httpx
    from pydantic import SecretStr

    from bot.senders import ZaloOutboxSender
    from bot.zalo import fake as z
    from intake.config import get_settings

    fake = z.FakeZalo()
    fake.access_tokens, fake.refresh_tokens = _Anything(), _Anything()

    def handle(request: httpx.Request) -> httpx.Response:
        answer = fake.handle(request)
        if request.url.path == "/v3.0/oa/message/cs" and answer.json().get("error") == 0:
            body = json.loads(request.content)
            recording(body["recipient"]["user_id"], body["message"]["text"], body["message"]["text"].rsplit(" ", 1)[-1])
        return answer

    settings = get_settings().model_copy(
        update={
            "zalo_app_id": z.APP_ID, "zalo_oa_secret_key": SecretStr(z.OA_SECRET), "zalo_app_secret": SecretStr(z.APP_SECRET),
            "zalo_api_base": z.API_BASE, "zalo_oauth_base": z.OAUTH_BASE, "zalo_initial_refresh_token": SecretStr("rt-bench"),
        }
    )  # fmt: skip
    return ZaloOutboxSender(settings, transport=httpx.MockTransport(handle))


def _worker(index: int, out_dir: str, batch: int, latency: float, channel: str, ready: Any, go: Any, stop: Any) -> None:
    """One worker process: warms its connection, waits for the start, delivers until told to stop."""
    import sqlalchemy as sa

    from intake.db import get_engine
    from intake.outbox import deliver

    with get_engine().connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    recording = RecordingSender(Path(out_dir) / f"worker-{index}.tsv", latency)
    sender = recording if channel == "telegram" else _zalo_sender(recording)
    ready.release()
    go.wait()
    senders = {channel: sender}
    while not stop.is_set():
        claimed, _settled = deliver(senders, limit=batch)
        if not claimed:
            time.sleep(0.005)


def _queue(n: int, channel: str) -> dict[str, str]:
    """Writes N cases, each with an opted-in chat and one message owed; returns key -> chat."""
    from sqlmodel import Session, select

    from intake.actions import chat_handle_hash
    from intake.crypto import encrypt
    from intake.db import get_engine
    from intake.models import Case, ChatLink, Committee, OutboxMessage, utcnow

    expected: dict[str, str] = {}
    run = secrets.token_hex(4)
    with Session(get_engine()) as session:
        committee_id = session.exec(select(Committee.id).order_by(Committee.id).limit(1)).one()  # type: ignore[arg-type]
        for start in range(0, n, 1000):
            cases = [
                Case(
                    receipt_hash=secrets.token_hex(32), passphrase_hash="x", status="verifying", channel=channel,
                    anonymity="anonymous", committee_id=committee_id, description=TAG,  # type: ignore[arg-type]
                )
                for _ in range(start, min(n, start + 1000))
            ]
            session.add_all(cases)
            session.flush()
            now = utcnow()
            for case in cases:
                chat = str(7_000_000_000 + int(case.id))  # type: ignore[arg-type]
                key = f"bench-{run}-{case.id}"
                expected[key] = chat
                session.add(ChatLink(case_id=case.id, channel=channel, handle_hash=chat_handle_hash(channel, chat), handle_enc=encrypt(chat)))  # type: ignore[arg-type]
                # The key ends the text, so that the fake Zalo (which sees only the text) can record it.
                body = f"Mặt trận đã tiếp nhận phản ánh của Anh/Chị. {key}"
                session.add(OutboxMessage(case_id=case.id, channel=channel, body=body, delivery_key=key, next_attempt_at=now))  # type: ignore[arg-type]
            session.commit()
    return expected


def _clean() -> None:
    """Removes the bench's cases and everything hanging from them, and the fake Zalo's tokens."""
    import sqlalchemy as sa

    from bot.zalo.fake import APP_ID
    from intake.db import get_engine
    from intake.models import Case, ChatLink, OutboxMessage, ZaloToken

    cases = sa.select(Case.id).where(Case.description == TAG)  # type: ignore[call-overload]
    with get_engine().begin() as conn:
        conn.execute(sa.delete(OutboxMessage).where(OutboxMessage.case_id.in_(cases)))  # type: ignore[attr-defined]
        conn.execute(sa.delete(ChatLink).where(ChatLink.case_id.in_(cases)))  # type: ignore[attr-defined]
        conn.execute(sa.delete(Case).where(Case.description == TAG))  # type: ignore[arg-type]
        # Sealed with this run's key, which the next run does not have.
        conn.execute(sa.delete(ZaloToken).where(ZaloToken.oa_id == f"app:{APP_ID}"))  # type: ignore[arg-type]


def _sent_count(first_id: int, last_id: int) -> int:
    """How many of the bench's rows (an id range: the primary key answers it) are sent."""
    import sqlalchemy as sa

    from intake.db import get_engine
    from intake.models import OutboxMessage

    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    query = sa.select(sa.func.count()).where(table.c.id.between(first_id, last_id), table.c.status == "sent")
    with get_engine().connect() as conn:
        return int(conn.execute(query).scalar_one())


def _id_range() -> tuple[int, int]:
    import sqlalchemy as sa

    from intake.db import get_engine
    from intake.models import Case, OutboxMessage

    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    ours = sa.select(Case.id).where(Case.description == TAG)  # type: ignore[call-overload]
    with get_engine().connect() as conn:
        low, high = conn.execute(sa.select(sa.func.min(table.c.id), sa.func.max(table.c.id)).where(table.c.case_id.in_(ours))).one()
    return int(low), int(high)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="", help="a database of its own (default: a fresh SQLite file)")
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=50, help="rows claimed at a time")
    parser.add_argument(
        "--channel", choices=("telegram", "zalo"), default="telegram",
        help="telegram: a bare recording sender; zalo: the real Zalo adapter (per-part marks) on a fake Zalo in process",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="time the fake platform takes per message")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--keep", action="store_true", help="leave the bench's rows in the database")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="phananh-bench-outbox-"))
    os.environ["PHANANH_DATABASE_URL"] = args.database_url or f"sqlite:///{tmp / 'outbox.sqlite3'}"
    os.environ.setdefault("PHANANH_LOG_LEVEL", "WARNING")
    # The bench's chats are encrypted with a key of its own, not the project's development key.
    os.environ.setdefault("PHANANH_VAR_DIR", str(tmp / "var"))
    from intake.config import get_settings
    from intake.migrate import upgrade

    settings = get_settings()
    kind = "sqlite" if settings.is_sqlite else "postgresql"
    upgrade()
    _clean()
    print(f"queueing {args.messages} messages on {kind} ...", flush=True)
    began = time.perf_counter()
    expected = _queue(args.messages, args.channel)
    first_id, last_id = _id_range()
    print(f"  queued in {time.perf_counter() - began:.1f} s", flush=True)

    context = multiprocessing.get_context("spawn")
    ready, go, stop = context.Semaphore(0), context.Event(), context.Event()
    procs = [
        context.Process(target=_worker, args=(i, str(tmp), args.batch, args.latency_ms / 1000, args.channel, ready, go, stop), daemon=True)
        for i in range(args.workers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    began = time.perf_counter()
    go.set()
    sent = 0
    while sent < args.messages and time.perf_counter() - began < args.timeout:
        time.sleep(0.05)
        sent = _sent_count(first_id, last_id)
    elapsed = time.perf_counter() - began
    stop.set()
    for proc in procs:
        proc.join(30)

    shown: Counter[str] = Counter()
    wrong_chat = 0
    for path in tmp.glob("worker-*.tsv"):
        for line in path.read_text().splitlines():
            key, chat = line.split("\t")
            shown[key] += 1
            wrong_chat += expected.get(key) != chat
    duplicates = sum(c - 1 for c in shown.values() if c > 1)
    lost = sum(1 for key in expected if key not in shown)
    print(f"{kind}, {args.channel} sender, {args.workers} worker process(es), batch {args.batch}, platform latency {args.latency_ms:g} ms")
    print(f"  {sent}/{args.messages} sent in {elapsed:.2f} s: {sent / elapsed:.0f} messages/s")
    print(f"  duplicates: {duplicates}   lost: {lost}   wrong chat: {wrong_chat}")
    if not args.keep:
        _clean()
    ok = sent == args.messages and not duplicates and not lost and not wrong_chat
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
