"""Zalo webhook answer latency on loopback: how long Zalo waits for its 200 while phananh works.

    python -m bench.zalo [--residents 100] [--connections 20] [--rate 40] [--postgres postgresql://127.0.0.1/zalo_bench]

A child process serves the Zalo webhook under uvicorn on 127.0.0.1 (worker processes as under
`phananh serve`, PHANANH_ZALO_WORKER_PROCESSES or BENCH_ZALO_PROCESSES), its OA API calls answered in
process by the fake Zalo (bot.zalo.fake). This process plays Zalo. Saturation: simulated residents each
follow the OA and file a whole report (15 signed events: buttons pressed, free text, the classifier,
the gazetteer, the filing), each posting its next event once the previous one's reply arrived, over a
pool of connections, so phananh works flat out; meanwhile a separate process posts report events ten
times a second and times the answers, as Zalo's own servers would see them (the load generator's
timings include its own queueing and are printed apart). Then a fixed rate: events of reports being
filed, due on a schedule, latency counted from when each was due.

Issue 7's target: the webhook answers in <= 50 ms p99 on loopback; no event lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

STORY = "Ông phó chủ tịch UBND xã đòi 5 triệu mới ký giấy xác nhận đất cho nhà tôi, nói không đưa thì cứ để đó"
# What a resident sends, as the texts Zalo delivers (a pressed button arrives as its label).
REPORT = [
    "Gửi phản ánh mới", "Ẩn danh", STORY, "đúng", "1", "Không rõ tên",
    "phường Bến Thành, TP Hồ Chí Minh", "Tại nơi làm việc", "Không nhớ thời gian", "Không có chứng cứ",
    "Không nhận thông báo", "Gửi phản ánh này",
]  # fmt: skip


# -- the server (child process) -----------------------------------------------------------------


def serve(port: int) -> None:
    """Runs the app with a Zalo channel on the fake Zalo; GET /bench/stats tells what was processed."""
    import uvicorn
    from fastapi import FastAPI
    from pydantic import SecretStr
    from sqlmodel import SQLModel

    from bot.zalo import fake as z
    from bot.zalo.channel import ZaloChannel
    from bot.zalo.webhook import install, router
    from intake.config import get_settings
    from intake.db import get_engine
    from intake.migrate import upgrade
    from phananh import heap

    upgrade()
    from intake.models import ZaloToken

    # Until the migration that adds it lands; a no-op once it has.
    SQLModel.metadata.create_all(get_engine(), tables=[ZaloToken.__table__])  # type: ignore[attr-defined]
    fake = z.FakeZalo()
    settings = get_settings().model_copy(
        update={
            "zalo_app_id": z.APP_ID, "zalo_oa_id": z.OA_ID, "zalo_oa_secret_key": SecretStr(z.OA_SECRET),
            "zalo_app_secret": SecretStr(z.APP_SECRET), "zalo_api_base": z.API_BASE, "zalo_oauth_base": z.OAUTH_BASE,
            "zalo_initial_refresh_token": SecretStr(fake.issue_refresh_token()), "chat_messages_per_minute": 1000,
            "chat_reports_per_day": 1000,
        }  # fmt: skip
    )
    sent_to_user: Counter[str] = Counter()
    arrived: dict[str, asyncio.Event] = {}  # set when the OA sends that user a message
    answer = fake.handle

    def counting(request: httpx.Request) -> httpx.Response:
        before = len(fake.sent)
        response = answer(request)
        if len(fake.sent) > before:
            user = fake.sent[-1].user_id
            sent_to_user[user] += 1
            arrived.pop(user, asyncio.Event()).set()
        return response

    channel = ZaloChannel(settings, transport=httpx.MockTransport(counting), processes=int(os.environ.get("BENCH_ZALO_PROCESSES", "2")))
    app = FastAPI()
    app.include_router(router)
    install(app, channel)

    inside: list[float] = []  # milliseconds from the request's arrival in the app to its answer

    @app.middleware("http")
    async def timed(request: Any, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        if request.url.path == "/webhook/zalo":
            inside.append((time.perf_counter() - started) * 1000)
        return response

    @app.get("/bench/stats")
    async def stats() -> dict[str, Any]:
        p99 = sorted(inside)[int(0.99 * (len(inside) - 1))] if inside else 0.0
        return {
            "processed": channel.processed,
            "pending": len(channel._tasks),
            "sent": len(fake.sent),
            "refused": dict(channel.refused),
            "app_p99_ms": round(p99, 2),
        }

    @app.get("/bench/sent/{user_id}")
    async def sent_to(user_id: str, more_than: int = -1) -> int:
        """How many messages the OA sent this user; with more_than, waits (up to a minute) until there are more."""
        while sent_to_user[user_id] <= more_than:
            event = arrived.setdefault(user_id, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), 60)
            except TimeoutError:
                break
        return sent_to_user[user_id]

    asyncio.run(channel.warm())  # the classifier loaded before the first event, as `phananh serve` does at start
    app.include_router(heap.router())  # what start loaded kept out of full collections, as `phananh serve` does
    # Long keep-alive: a connection closed by the server while the caller reuses it would fail the call.
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, timeout_keep_alive=120)


# -- the caller (this process) ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def _wait_processed(client: httpx.AsyncClient, expected: int, timeout: float = 600.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats: dict[str, Any] = (await client.get("/bench/stats")).json()
        if stats["processed"] >= expected and stats["pending"] == 0 or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.1)


async def saturation(client: httpx.AsyncClient, watcher: httpx.AsyncClient, residents: int, connections: int) -> tuple[list[float], float, int]:
    """Every resident walks a report, each event posted when the previous one's processing is done."""
    from bot.zalo.fake import ZaloUser

    gate = asyncio.Semaphore(connections)
    latencies: list[float] = []
    posted = 0

    async def post(user: ZaloUser, event: dict[str, Any]) -> None:
        nonlocal posted
        body, headers = user.signed(event)
        async with gate:
            started = time.perf_counter()
            response = await client.post("/webhook/zalo", content=body, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        posted += 1

    async def resident(i: int) -> None:
        user = ZaloUser(f"70{i:017d}")
        for event in [user.follow(), *(user.text(text) for text in REPORT)]:
            seen = (await watcher.get(f"/bench/sent/{user.user_id}")).json()
            await post(user, event)
            # A person reads the answer before writing again: wait (on another connection) for this event's reply.
            await watcher.get(f"/bench/sent/{user.user_id}", params={"more_than": seen})

    started = time.perf_counter()
    await asyncio.gather(*(resident(i) for i in range(residents)))
    return latencies, time.perf_counter() - started, posted


def probe(port: int, seconds: float) -> None:
    """A caller apart from the load (Zalo's servers are): posts report events ten times a second and
    prints its answer latencies as JSON. The load generator's own timings include its own queueing."""
    from bot.zalo.fake import ZaloUser

    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    k = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        while time.monotonic() < deadline:
            user = ZaloUser(f"90{k:017d}")
            k += 1
            for event in [user.follow(), *(user.text(text) for text in REPORT)]:
                body, headers = user.signed(event)
                started = time.perf_counter()
                response = client.post("/webhook/zalo", content=body, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
                time.sleep(0.1)
                if time.monotonic() >= deadline:
                    break
    print(json.dumps(latencies))


async def fixed_rate(client: httpx.AsyncClient, rate: int, seconds: int) -> list[float]:
    """`rate` residents each filing a report at one event a second (a quick typist), their events
    spread evenly: `rate` events a second of the real mix. Latency counted from when each was due."""
    from bot.zalo.fake import ZaloUser

    latencies: list[float] = []
    start = time.perf_counter() + 0.5
    steps = min(seconds, len(REPORT) + 1)

    async def resident(k: int) -> None:
        user = ZaloUser(f"80{k:017d}")
        events = [user.follow(), *(user.text(text) for text in REPORT)][:steps]
        for j, event in enumerate(events):
            due = start + j + k / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            body, headers = user.signed(event)
            response = await client.post("/webhook/zalo", content=body, headers=headers)
            latencies.append((time.perf_counter() - due) * 1000)
            assert response.status_code == 200

    await asyncio.gather(*(resident(k) for k in range(rate)))
    return latencies


async def run(args: argparse.Namespace) -> None:
    port = _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="phananh-zalo-bench-"))
    env = dict(os.environ, PHANANH_ENV="development", PHANANH_VAR_DIR=str(tmp / "var"))
    env["PHANANH_DATABASE_URL"] = args.postgres or f"sqlite:///{tmp / 'bench.sqlite3'}"
    env.setdefault("PHANANH_CLASSIFIER_MODEL_PATH", str(Path(__file__).resolve().parent.parent / "var" / "models" / "classifier.joblib"))
    if args.postgres:
        from sqlalchemy import create_engine, text

        engine = create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    command = os.environ.get("BENCH_ZALO_SERVER", "").split() or [sys.executable, "-m", "bench.zalo", "--serve"]
    server = subprocess.Popen([*command, str(port)], env=env)
    try:
        limits = httpx.Limits(max_connections=args.connections + 4, max_keepalive_connections=args.connections + 4)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:
            deadline = time.monotonic() + 180
            while True:
                try:
                    await client.get("/bench/stats")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "server did not start"
                    await asyncio.sleep(0.2)
            prober = subprocess.Popen(
                [sys.executable, "-m", "bench.zalo", "--probe", str(port), "--probe-seconds", str(args.probe_seconds)], stdout=subprocess.PIPE, env=env
            )
            async with httpx.AsyncClient(base_url=client.base_url, timeout=90, limits=httpx.Limits(max_connections=args.residents + 2)) as watcher:
                latencies, elapsed, posted = await saturation(client, watcher, args.residents, args.connections)
            probed: list[float] = json.loads((await asyncio.to_thread(prober.communicate))[0])
            posted += len(probed)
            stats = await _wait_processed(client, posted)
            drained = time.perf_counter()
            print(f"database: {'postgresql' if args.postgres else 'sqlite'}; residents: {args.residents}; connections: {args.connections}")
            print(f"saturation: {posted} events in {elapsed:.1f} s ({posted / elapsed:.0f} events/s)")
            print(
                f"  webhook answer seen by a separate caller (10 events/s, {len(probed)} events): "
                f"p50 {statistics.median(probed):.1f} ms, p99 {_pct(probed, 99):.1f} ms, max {max(probed):.1f} ms"
            )
            print(
                f"  as timed by the load generator itself (includes its own queueing): "
                f"p50 {statistics.median(latencies):.1f} ms, p99 {_pct(latencies, 99):.1f} ms"
            )
            print(
                f"  processed {stats['processed']} of {posted}, OA messages sent {stats['sent']}, "
                f"refused {stats['refused'] or 'none'}; inside the app p99 {stats['app_p99_ms']} ms"
            )
            rated = await fixed_rate(client, args.rate, args.seconds)
            stats = await _wait_processed(client, posted + len(rated))
            print(
                f"fixed rate {args.rate} events/s (reports being filed) for {args.seconds} s: webhook answer p50 {statistics.median(rated):.1f} ms, "
                f"p99 {_pct(rated, 99):.1f} ms, max {max(rated):.1f} ms; processed {stats['processed']} of {posted + len(rated)} "
                f"(drained {time.perf_counter() - drained:.1f} s after the saturation phase)"
            )
            print(json.dumps({"p99_saturation_probe_ms": round(_pct(probed, 99), 1), "p99_rate_ms": round(_pct(rated, 99), 1)}))
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=100)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--rate", type=int, default=40, help="events a second in the fixed-rate phase")
    parser.add_argument("--seconds", type=int, default=15, help="length of the fixed-rate phase (at most 15)")
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL to use (its public schema is emptied)")
    parser.add_argument("--probe-seconds", type=float, default=20.0, help="how long the separate caller posts during saturation")
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--probe", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
    elif args.probe:
        probe(args.probe, args.probe_seconds)
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
