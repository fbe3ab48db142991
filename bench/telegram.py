"""Telegram webhook throughput and latency on loopback.

    python -m bench.telegram [--residents 300] [--rate 100 30] [--postgres postgresql://127.0.0.1/tg_bench]

Two processes besides this one: the fake Bot API (bot.telegram.fake, answering over HTTP) and
`phananh serve` with its webhook registered on the fake. Simulated residents post updates to
/webhook/telegram the way Telegram does: at most 40 connections at a time, each answered once the
update is processed. Each resident files a whole report (14 updates: commands, button presses,
free text, the story reader, the classifier, the gazetteer, the filing). Two loads: saturation (every resident posts its
next update as soon as the previous one is answered) and a fixed rate (updates due on a
schedule; latency counted from when an update was due, so queueing shows).

A method the bot returns in its webhook answer (the answer to a press, or a one-message reply) is
Telegram's to carry out, so the generator does not send it on: its cost is not the bot's.

Residents are spread over the report (see `population`): at any moment some are starting, some
describing, a few filing, as in a real population. (Until December 2026 they all walked in step,
so every filing of a load fell in the same two seconds: a burst, not a load.)

Beside rates and latencies, each load prints the bot process's CPU time per update: on a shared
machine whose speed varies from run to run, it is the steadier figure for comparing two versions.
`--calls` measures only what one Bot API call costs through python-telegram-bot's HTTPXRequest,
the client the bot uses.

Targets (issues 5 and 18): p99 <= 100 ms at 100 updates/s; no update lost; on SQLite and on
PostgreSQL (the PostgreSQL database given is emptied).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from bot.telegram.fake import BOT_TOKEN

SECRET = "bench-secret"
CONNECTIONS = 40  # Telegram opens at most this many webhook connections to a bot
STORY = "Ông phó chủ tịch UBND xã đòi 5 triệu mới ký giấy xác nhận đất cho nhà tôi, nói không đưa thì cứ để đó"
REPORT: list[tuple[str, str]] = [
    ("text", "/start"),
    ("press", "menu:report"),
    ("press", "mode:anonymous"),
    ("text", STORY),
    ("text", "đúng"),  # the story named the post and the agency: confirmed
    ("text", "1"),  # the first category offered, as a resident without buttons would answer
    ("press", "skip"),
    ("text", "phường Bến Thành, TP Hồ Chí Minh"),
    ("press", "setting:workplace"),
    ("press", "unknown"),
    ("press", "skip"),
    ("press", "no"),
    ("press", "send"),  # the filing: Argon2 hashes the passphrase here
]


# -- the updates, in Telegram's JSON shapes -------------------------------------------------------


class Updates:
    """Numbers updates and messages like Telegram does, for simulated residents."""

    def __init__(self) -> None:
        self.update_id = 10_000
        self.message_id = 1

    def make(self, chat_id: int, kind: str, value: str, *, question: dict[str, Any] | None = None) -> dict[str, Any]:
        """A text message, or a press of the button whose payload is `value` under the `question` message
        the bot sent (a stand-in question when none is given: the bot then refuses the press)."""
        self.update_id += 1
        self.message_id += 1
        user = {"id": chat_id, "is_bot": False, "first_name": "Cư dân", "language_code": "vi"}
        chat = {"id": chat_id, "type": "private", "first_name": "Cư dân"}
        if kind == "text":
            message: dict[str, Any] = {"message_id": self.message_id, "from": user, "chat": chat, "date": int(time.time()), "text": value}
            if value.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(value.split()[0])}]
            return {"update_id": self.update_id, "message": message}
        question = question or {
            "message_id": self.message_id,
            "from": {"id": int(BOT_TOKEN.split(":")[0]), "is_bot": True, "first_name": "Phản ánh"},
            "chat": chat,
            "date": int(time.time()),
            "text": "…",
            "reply_markup": {"inline_keyboard": [[{"text": value, "callback_data": value}]]},
        }
        query = {"id": str(self.update_id), "from": user, "message": question, "chat_instance": "1", "data": value}
        return {"update_id": self.update_id, "callback_query": query}


@dataclass
class Run:
    """What one load measured."""

    name: str
    latencies: list[float] = field(default_factory=list)
    submit_latencies: list[float] = field(default_factory=list)
    failures: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_ms: float = float("nan")  # the bot process's CPU time per update: steadier than rates on a shared machine

    def record(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.failures += status != 200

    @property
    def count(self) -> int:
        return len(self.latencies)

    def pct(self, p: float, values: list[float] | None = None) -> float:
        data = sorted(values if values is not None else self.latencies)
        return data[min(len(data) - 1, int(len(data) * p))] * 1000 if data else float("nan")

    def without_submit(self) -> list[float]:
        rest = list(self.latencies)
        for x in self.submit_latencies:
            rest.remove(x)
        return rest


async def _post(client: httpx.AsyncClient, slots: asyncio.Semaphore, url: str, update: dict[str, Any]) -> httpx.Response | None:
    """Delivers an update like Telegram: a failed connection is tried again (the bot drops repeats)."""
    # Requests queue on the semaphore rather than in httpx's pool, whose bookkeeping grows with
    # every waiting request and would make this generator, not the bot, the bottleneck.
    async with slots:
        for _attempt in range(3):
            try:
                return await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            except httpx.TransportError:
                # A keep-alive connection closed by the server as the request left: Telegram retries too.
                continue
    return None


class Screens:
    """What each simulated resident has on screen: presses are made on the buttons the bot sent.

    A button's payload names its question (step and token), so a press must carry the one shown.
    Telegram carries out a method the bot returns in its webhook answer; here it is handed to the fake
    Bot API after the answer is timed (its cost is not the bot's), so that the fake holds every message.
    """

    def __init__(self, api: str) -> None:
        self.api = api
        self.pressed: dict[int, int] = {}  # chat -> the message id last pressed on

    async def carry_out(self, client: httpx.AsyncClient, response: httpx.Response | None) -> None:
        if response is None or response.status_code != 200 or not response.headers.get("content-type", "").startswith("application/json"):
            return
        call = dict(response.json())
        await client.post(f"{self.api}/bot{BOT_TOKEN}/{call.pop('method')}", json=call)

    async def update(self, client: httpx.AsyncClient, updates: Updates, chat: int, kind: str, value: str) -> dict[str, Any]:
        """The update for a step; a press waits (as a person reads) for the newest question showing that choice."""
        if kind != "press":
            return updates.make(chat, kind, value)
        deadline = time.monotonic() + 30
        while True:
            try:
                found = await client.get(f"{self.api}/_button/{chat}/{value}")
            except httpx.TransportError:
                # A keep-alive connection the fake closed as the request left (as in _post): ask again.
                await asyncio.sleep(0.02)
                continue
            if found.status_code == 200 and found.json()["message"]["message_id"] > self.pressed.get(chat, 0):
                shown = found.json()
                self.pressed[chat] = shown["message"]["message_id"]
                return updates.make(chat, kind, shown["payload"], question=shown["message"])
            if time.monotonic() > deadline:
                return updates.make(chat, kind, value)  # never shown: the bot refuses the press, and the report is lost
            await asyncio.sleep(0.02)


Step = tuple[int, str, str]  # chat, kind, value
FRESH_CHATS = 50_000_000  # added to a resident's chat id for the report it begins after its first


def population(script: list[tuple[str, str]], chats: range) -> list[tuple[list[Step], list[Step]]]:
    """Each resident's updates before the measurement and during it, so that the measured mix is a
    population's: resident n has already written the first n mod len(script) steps of its report
    when the measurement starts, finishes it, then begins a new one in a new chat. Without this,
    every resident would be at the same step at the same moment (all filing in the same two seconds)."""
    plans = []
    for n, chat in enumerate(chats):
        p = n % len(script)
        before = [(chat, kind, value) for kind, value in script[:p]]
        measured = [(chat, kind, value) for kind, value in script[p:]] + [(chat + FRESH_CHATS, kind, value) for kind, value in script[:p]]
        plans.append((before, measured))
    return plans


async def _walk_before(url: str, plans: list[tuple[list[Step], list[Step]]], updates: Updates, screens: Screens) -> None:
    """Posts the steps residents had taken before the measurement (not measured)."""
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    slots = asyncio.Semaphore(CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client, httpx.AsyncClient(timeout=120) as side:

        async def resident(steps: list[Step]) -> None:
            for chat, kind, value in steps:
                update = await screens.update(side, updates, chat, kind, value)
                await screens.carry_out(side, await _post(client, slots, url, update))

        await asyncio.gather(*(resident(before) for before, _ in plans))


def _is_filing(script: list[tuple[str, str]], kind: str, value: str) -> bool:
    return script is REPORT and (kind, value) == REPORT[-1]


async def saturate(url: str, script: list[tuple[str, str]], chats: range, updates: Updates, screens: Screens) -> Run:
    """Every resident posts its next update as soon as the previous one is answered (a press, as soon as its question is shown)."""
    run = Run("saturation")
    plans = population(script, chats)
    await _walk_before(url, plans, updates, screens)
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    slots = asyncio.Semaphore(CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client, httpx.AsyncClient(timeout=120) as side:

        async def resident(steps: list[Step]) -> None:
            for chat_id, kind, value in steps:
                update = await screens.update(side, updates, chat_id, kind, value)
                t0 = time.perf_counter()
                response = await _post(client, slots, url, update)
                took = time.perf_counter() - t0
                await screens.carry_out(side, response)
                run.latencies.append(took)
                if _is_filing(script, kind, value):
                    run.submit_latencies.append(took)
                run.record(response.status_code if response is not None else 0)

        start = time.perf_counter()
        await asyncio.gather(*(resident(measured) for _, measured in plans))
        run.seconds = time.perf_counter() - start
    return run


async def fixed_rate(url: str, script: list[tuple[str, str]], chats: range, rate: float, updates: Updates, screens: Screens) -> Run:
    """Updates fall due at `rate` per second in all; latency counts from when each was due."""
    run = Run(f"{rate:g}/s")
    plans = population(script, chats)
    await _walk_before(url, plans, updates, screens)
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    interval = len(chats) / rate  # each resident's own spacing
    slots = asyncio.Semaphore(CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client, httpx.AsyncClient(timeout=120) as side:
        loop = asyncio.get_running_loop()
        begin = loop.time() + 0.2

        async def resident(n: int, steps: list[Step]) -> None:
            due = begin + n / rate
            for chat_id, kind, value in steps:
                await asyncio.sleep(max(0.0, due - loop.time()))
                update = await screens.update(side, updates, chat_id, kind, value)  # shown by now at this rate
                response = await _post(client, slots, url, update)
                took = loop.time() - due
                await screens.carry_out(side, response)
                run.latencies.append(took)
                if _is_filing(script, kind, value):
                    run.submit_latencies.append(took)
                run.record(response.status_code if response is not None else 0)
                due += interval

        start = time.perf_counter()
        await asyncio.gather(*(resident(n, measured) for n, (_, measured) in enumerate(plans)))
        run.seconds = time.perf_counter() - start
    return run


# -- processes ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def serve_fake(port: int) -> None:
    """The fake Bot API in this process, until killed."""
    from bot.telegram.fake import FakeBotAPIServer

    FakeBotAPIServer(port=port).start()
    gc.freeze()  # as phananh.heap does in serve: the fake's full collections would be counted as the bot's latency
    while True:
        time.sleep(3600)


def bench_calls(api: str, calls: int = 2000) -> None:
    """CPU and wall time per `send_message` through python-telegram-bot's HTTPXRequest, one call after another."""
    import uvloop
    from telegram import Bot
    from telegram.request import BaseRequest, HTTPXRequest

    async def measure(request: BaseRequest) -> tuple[float, float]:
        async with Bot(BOT_TOKEN, base_url=f"{api}/bot", request=request) as bot:
            for _ in range(50):  # connections made, code paths warm
                await bot.send_message(1, "chào")
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(calls):
                await bot.send_message(1, "Xin chào <b>Anh/Chị</b>", parse_mode="HTML")
            return (time.process_time() - cpu) * 1000 / calls, (time.perf_counter() - wall) * 1000 / calls

    print(f"{'request class':<15} {'cpu ms/call':>11} {'wall ms/call':>12}  ({calls} calls one after another, uvloop)")
    cpu, wall = uvloop.run(measure(HTTPXRequest(connection_pool_size=8)))
    print(f"{'HTTPXRequest':<15} {cpu:>11.3f} {wall:>12.3f}")


# -- the benchmark --------------------------------------------------------------------------------


def _reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def _receipts(api: str, chats: range) -> int:
    """How many residents got their receipt from the fake Bot API."""
    got = 0
    with httpx.Client(timeout=30) as client:
        for chat in chats:
            texts = client.get(f"{api}/_texts/{chat}").json()
            got += any("Mã tiếp nhận" in t or "Receipt code" in t for t in texts)
    return got


def _row(bot: str, db: str, run: Run, lost: int) -> str:
    rest = run.pct(0.99, run.without_submit()) if run.submit_latencies else float("nan")
    submit = run.pct(0.5, run.submit_latencies) if run.submit_latencies else float("nan")
    return (
        f"{bot:<12} {db:<10} {run.name:<10} {run.count:>7} {run.count / run.seconds:>9.1f} {run.pct(0.5):>7.1f} "
        f"{run.pct(0.99):>7.1f} {rest:>14.1f} {submit:>10.1f} {run.cpu_ms:>8.2f} {lost:>5}"
    )


def _cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its threads (user and system)."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def bench_phananh(db_name: str, db_url: str, api: str, tmp: Path, args: argparse.Namespace, next_chat: list[int]) -> float:
    """Runs the loads against `phananh serve` on one database; returns the saturation throughput."""
    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "PHANANH_ENV": "development",
            "PHANANH_VAR_DIR": str(tmp / db_name),
            "PHANANH_DATABASE_URL": db_url,
            "PHANANH_TELEGRAM_TOKEN": BOT_TOKEN,
            "PHANANH_TELEGRAM_API_URL": api,
            "PHANANH_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "PHANANH_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PHANANH_TELEGRAM_SENDS_PER_SECOND": str(args.sends_per_second),
            "PHANANH_LOG_LEVEL": "WARNING",
        }
    )
    env.setdefault("PHANANH_CLASSIFIER_MODEL_PATH", str(Path(__file__).resolve().parent.parent / "var" / "models" / "classifier.joblib"))
    proc = _start(["-m", "phananh.cli", "serve", "--port", str(port)], env, tmp / f"serve-{db_name}.log")
    try:
        _wait_http(f"http://127.0.0.1:{port}/")
        return _loads("phananh", db_name, f"http://127.0.0.1:{port}/webhook/telegram", REPORT, api, args, next_chat, proc.pid)
    finally:
        _stop(proc)


def _loads(
    bot: str, db: str, url: str, script: list[tuple[str, str]], api: str, args: argparse.Namespace, next_chat: list[int], pid: int
) -> float:
    """Warm-up, saturation, then each fixed rate, each with new residents; returns the saturation throughput."""
    updates = Updates()
    screens = Screens(api)

    def chats(n: int) -> range:
        start = next_chat[0]
        next_chat[0] += n
        return range(start, start + n)

    asyncio.run(saturate(url, script, chats(10), updates, screens))  # warm-up: classifier, gazetteer, connections
    throughput = 0.0
    for load in (None, *args.rate):
        run_chats = chats(args.residents if load is None else args.rate_residents)
        cpu = _cpu_seconds(pid)  # the residents' earlier steps (see `population`) are counted too
        posted = updates.update_id
        if load is None:
            run = asyncio.run(saturate(url, script, run_chats, updates, screens))
            throughput = run.count / run.seconds
        else:
            run = asyncio.run(fixed_rate(url, script, run_chats, load, updates, screens))
        run.cpu_ms = (_cpu_seconds(pid) - cpu) * 1000 / (updates.update_id - posted)
        missing = 0
        if script is REPORT:
            deadline = time.time() + 15  # an answer the chat's pace queued may still be on its way
            while (missing := len(run_chats) - _receipts(api, run_chats)) and time.time() < deadline:
                time.sleep(1)
        lost = run.failures + missing
        if lost:
            print(f"  answers by HTTP status: {run.statuses}; residents without a receipt: {missing}")
        print(_row(bot, db, run, lost), flush=True)
    return throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=300, help="simulated residents in the saturation load")
    parser.add_argument("--rate", type=float, nargs="+", default=[100.0], help="updates per second in the fixed-rate loads")
    parser.add_argument("--rate-residents", type=int, default=200, help="simulated residents sharing the fixed rate")
    parser.add_argument("--postgres", default="", help="also run on this PostgreSQL database (it is emptied)")
    parser.add_argument("--sends-per-second", type=int, default=1000, help="PHANANH_TELEGRAM_SENDS_PER_SECOND for the run")
    parser.add_argument("--calls", action="store_true", help="only measure the CPU cost of one Bot API call")
    parser.add_argument("--serve-fake", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake(args.serve_fake)
        return

    gc.freeze()  # this generator's own full collections (up to 80 ms) would be counted as the bots' latency
    tmp = Path(tempfile.mkdtemp(prefix="phananh-tg-bench-"))
    fake_port = _free_port()
    api = f"http://127.0.0.1:{fake_port}"
    fake = _start(["-m", "bench.telegram", "--serve-fake", str(fake_port)], dict(os.environ), tmp / "fake.log")
    next_chat = [1_000_000]
    try:
        _wait_http(f"{api}/_texts/1")
        if args.calls:
            bench_calls(api)
            return
        print(f"cores: {os.cpu_count()}; webhook connections at most {CONNECTIONS}; outgoing cap {args.sends_per_second} msg/s; logs in {tmp}")
        print(f"{'bot':<12} {'db':<10} {'load':<10} {'updates':>7} {'updates/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'p99 w/o filing':>14} {'filing p50':>10} {'cpu ms/upd':>8} {'lost':>5}")
        dbs = [("sqlite", f"sqlite:///{tmp / 'bench.sqlite3'}")]
        if args.postgres:
            _reset_postgres(args.postgres)
            dbs.append(("postgresql", args.postgres))
        ours: dict[str, float] = {}
        for name, url in dbs:
            ours[name] = bench_phananh(name, url, api, tmp, args, next_chat)
    finally:
        _stop(fake)
    print(json.dumps({f"phananh_{k}_updates_per_s": round(v, 1) for k, v in ours.items()}))


if __name__ == "__main__":
    main()
