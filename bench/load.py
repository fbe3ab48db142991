"""Many residents at once through `phananh serve` for a set time; with --crash, a SIGKILL in the middle.

    python -m bench.load [--channel telegram|web|zalo|both|all] [--residents 200] [--seconds 60] [--think 1]
                         [--database-url URL] [--crash] [--sends-per-second 1000]

`phananh serve` runs as a child process on a free loopback port with a fresh var dir and database
(SQLite by default; a PostgreSQL URL given is emptied first). The fake Bot API (and, with Zalo, the
fake Zalo OA API) runs in this process, and the simulated residents post to /webhook/telegram the
way Telegram does (at most 40 connections, an update redelivered until it is answered 200), to the
web chat's /api/chat with their cookie, or signed events to /webhook/zalo (answered by the OA API
later). "both" is Telegram and the web chat; "all" adds Zalo. Each resident files report after
report, each from a new chat, for the set time: /start, the menu, anonymity, what happened,
what the story said confirmed, category, who, where, setting, when, no evidence, notifications, send, and the receipt. A resident takes --think seconds to read each answer and write
the next message (a person takes far longer; at 0, Telegram's pace of one message a second per chat,
which the bot keeps, is what the latency shows).

It prints throughput (updates/s, reports filed/s), latency p50/p99 (Telegram and Zalo: from the
post to the bot's last answer seen at the fake API; web: the HTTP answer), errors, and the RSS of
the server and its worker processes at start (after warm-up), peak and end. docs/PERFORMANCE.md
explains the columns and holds the figures.

With --crash the server is killed (SIGKILL) half-way and started again on the same database. A
resident whose update got no answer does what a person would: asks the bot where it stands
(/trogiup on Telegram and Zalo, a page reload on the web) and sends the message again only if the
bot still asks the same question. At the end every receipt a resident got must be in the database
exactly once, there must be one case per report filed (none twice, none lost), every
conversation cut by the crash must have been completed, and no Zalo event answered 200 may be lost
(Zalo never sends it again: the server's inbox must have it processed after the restart).
tests/phananh/test_crash.py runs the same at a small scale.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.telegram import CONNECTIONS, REPORT, SECRET, Updates
from bench.zalo import REPORT as ZALO_REPORT
from bot.admission import proof_for
from bot.telegram.fake import BOT_TOKEN, FakeBotAPIServer, FakeTelegram, plain
from bot.zalo import fake as zalo
from bot.zalo.fake import FakeZaloServer
from intake.config import get_settings

ROOT = Path(__file__).resolve().parent.parent
ANSWER_WAIT = 5.0  # seconds a Telegram resident waits for a queued answer before asking where the bot stands
PACE_PAUSE = 1.3  # a pause longer than the bot's one message a second in a chat: its queued answer is complete
RECEIPT = re.compile(r"\b([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\b")
RECEIPT_WORDS = ("Mã tiếp nhận", "Receipt code")
HELP = "/trogiup"
# The bot's answer to a button of a question no longer asked (intake.dialog.context.Context.refuse_button).
REFUSED = "Nút này thuộc một câu hỏi trước"
# The web chat cannot push status updates, so it never asks about notifications.
WEB_REPORT = [s for s in REPORT if s != ("press", "no")]
CHAT_BASE = {"telegram": 7_000_000, "web": 0, "zalo": 0}
ZALO_ANSWER_WAIT = 15.0  # seconds a Zalo resident waits for an answer before asking where it stands
ZALO_SETTLE = 0.15  # an answer of several messages is taken as complete when none followed for this long


# -- the fake Bot API, with the time each answer arrived ------------------------------------------


class TimedFake(FakeTelegram):
    """The fake Bot API, remembering when each message to a chat arrived (this process's clock)."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[int, list[tuple[float, str]]] = {}

    def answer(self, method: str, params: dict[str, Any]) -> Any:
        result = super().answer(method, params)
        if method == "sendMessage":
            chat = int(params["chat_id"])
            with self._lock:
                self.answers.setdefault(chat, []).append((time.perf_counter(), plain(str(params.get("text", "")))))
        return result

    def seen(self, chat: int) -> list[tuple[float, str]]:
        """The messages a chat has received so far."""
        with self._lock:
            return list(self.answers.get(chat, ()))

    def forget(self, chat: int) -> None:
        with self._lock:
            self.answers.pop(chat, None)
            self.calls = [c for c in self.calls if int(c.params.get("chat_id", 0) or 0) != chat]
            self.messages = {k: v for k, v in self.messages.items() if k[0] != chat}


class TimedZalo(zalo.FakeZalo):
    """The fake Zalo, remembering when each message to a user arrived (this process's clock)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.answers: dict[str, list[tuple[float, str]]] = {}
        self._timing = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._timing:
            before = len(self.sent)
            response = super().handle(request)
            for sent in self.sent[before:]:
                self.answers.setdefault(sent.user_id, []).append((time.perf_counter(), sent.text))
            del self.sent[:]  # the run keeps only the timed answers
        return response

    def seen(self, user: str) -> list[tuple[float, str]]:
        with self._timing:
            return list(self.answers.get(user, ()))

    def forget(self, user: str) -> None:
        with self._timing:
            self.answers.pop(user, None)


# -- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reset_postgres(url: str) -> None:
    """Empties a PostgreSQL database given for a run."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@dataclass
class Server:
    """`phananh serve` as a child process, which can be killed and started again on its database."""

    database_url: str
    var_dir: Path
    api_url: str
    sends_per_second: int = 1000
    zalo_fake: TimedZalo | None = None  # set: Zalo is configured, on this fake served at zalo_url
    zalo_url: str = ""
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    peak_rss: int = 0
    _sampler: threading.Thread | None = None
    _stop_sampling: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PHANANH_ENV": env.get("PHANANH_ENV") if env.get("PHANANH_ENV") in ("development", "test") else "development",
                "PHANANH_VAR_DIR": str(self.var_dir),
                # The checks look receipts up by their keyed hash: the server must hash with this process's key.
                "PHANANH_SECRET_KEY": get_settings().secret_key.get_secret_value(),
                "PHANANH_DATABASE_URL": self.database_url,
                "PHANANH_TELEGRAM_TOKEN": BOT_TOKEN,
                "PHANANH_TELEGRAM_API_URL": self.api_url,
                "PHANANH_TELEGRAM_WEBHOOK_SECRET": SECRET,
                "PHANANH_PUBLIC_URL": self.url,
                "PHANANH_TELEGRAM_SENDS_PER_SECOND": str(self.sends_per_second),
                # Simulated residents answer at once; a person's pace stays far below this.
                "PHANANH_CHAT_MESSAGES_PER_MINUTE": "120",
                "PHANANH_WEB_CHAT_MESSAGES_PER_MINUTE": "120",
                # The web chat's cap on all chats together would otherwise be what is measured.
                "PHANANH_WEB_CHAT_POW_BITS": "8",  # the load is the conversation, not the new chats' puzzle
                "PHANANH_WEB_CHAT_NEW_CHATS_PER_MINUTE": "1000000",
                "PHANANH_LOG_LEVEL": "WARNING",
            }
        )
        if self.zalo_fake is not None:
            env.update(
                {
                    "PHANANH_ZALO_APP_ID": zalo.APP_ID,
                    "PHANANH_ZALO_OA_ID": zalo.OA_ID,
                    "PHANANH_ZALO_OA_SECRET_KEY": zalo.OA_SECRET,
                    "PHANANH_ZALO_APP_SECRET": zalo.APP_SECRET,
                    "PHANANH_ZALO_INITIAL_REFRESH_TOKEN": self.zalo_fake.issue_refresh_token(),
                    "PHANANH_ZALO_API_BASE": self.zalo_url,
                    "PHANANH_ZALO_OAUTH_BASE": self.zalo_url,
                }
            )
        env.setdefault("PHANANH_CLASSIFIER_MODEL_PATH", str(ROOT / "var" / "models" / "classifier.joblib"))
        return env

    def start(self, timeout: float = 180.0) -> float:
        """Starts serve and waits until the web chat answers; returns the seconds it took."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        log = (self.var_dir / f"serve-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "phananh.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"phananh serve exited with {self.proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{self.url}/", timeout=2).status_code == 200:
                    self._sample()
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"phananh serve did not answer within {timeout:.0f} s; see {log.name}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, requests in hand cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        self._stop_sampling.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss(self) -> int:
        """The server's resident memory now, in bytes (0 when it is not running)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0
        try:
            proc = psutil.Process(self.proc.pid)
            return int(proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True)))
        except psutil.Error:
            return 0

    def _sample(self) -> None:
        if self._sampler is not None:
            return

        def run() -> None:
            while not self._stop_sampling.wait(0.25):
                self.peak_rss = max(self.peak_rss, self.rss())

        self._sampler = threading.Thread(target=run, name="rss", daemon=True)
        self._sampler.start()


# -- what the residents saw -----------------------------------------------------------------------


@dataclass
class Tally:
    """Counts and timings over a run."""

    updates: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0  # answers other than 200 (the server was up but refused or failed)
    statuses: dict[int, int] = field(default_factory=dict)
    redelivered: int = 0  # an update posted again after no answer (as Telegram does)
    unanswered: int = 0  # answered 200 but nothing shown to the resident
    resent: int = 0  # an update sent again as new because the bot had not taken it
    lost: int = 0  # Zalo: answered 200, and the bot still asked the same question when asked where it stood
    receipts: list[str] = field(default_factory=list)
    receipt_lost: int = 0  # the bot moved past the filing without the resident seeing a receipt
    reports_started: int = 0
    interrupted: int = 0  # reports during which the server was killed
    completed_after_crash: int = 0  # of those, completed with the receipt shown
    filed_after_crash: int = 0  # of those, filed but the receipt not shown (it was lost with the server)
    stuck: int = 0  # reports abandoned because the bot did not answer at all

    def error(self, status: int) -> None:
        self.errors += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def pct(self, p: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(len(data) * p))] * 1000 if data else float("nan")


class Stopped(Exception):
    """The run's time is up, or the server never came back for this resident."""


@dataclass
class Load:
    """The shared state of one run: the server, the fake, the clock and the tallies."""

    server: Server
    fake: TimedFake
    until: float
    zalo_fake: TimedZalo | None = None
    think: float = 0.0  # seconds a resident takes to read an answer and write the next one
    crash_epoch: int = 0  # raised by each kill, so a resident knows its report was cut
    tallies: dict[str, Tally] = field(default_factory=lambda: {"telegram": Tally(), "web": Tally(), "zalo": Tally()})
    next_chat: dict[str, int] = field(default_factory=lambda: dict(CHAT_BASE))
    updates: Updates = field(default_factory=Updates)

    def new_chat(self, channel: str) -> int:
        self.next_chat[channel] += 1
        return self.next_chat[channel]


async def _post(client: httpx.AsyncClient, slots: asyncio.Semaphore, url: str, **kw: Any) -> httpx.Response | None:
    """One delivery attempt; None when the connection failed (the server is down or was killed)."""
    async with slots:
        try:
            return await client.post(url, **kw)
        except httpx.TransportError:
            return None


async def _deliver_until_answered(tally: Tally, fn: Any, give_up: float = 120.0) -> httpx.Response:
    """Posts again and again until a 200, as Telegram redelivers an unacknowledged update."""
    deadline = time.monotonic() + give_up
    attempts = 0
    while True:
        response = await fn()
        attempts += 1
        if response is not None and response.status_code == 200:
            tally.redelivered += attempts > 1
            return response
        if response is not None:
            tally.error(response.status_code)
        if time.monotonic() > deadline:
            tally.stuck += 1
            raise Stopped()
        await asyncio.sleep(0.2)


async def _telegram_answer(fake: TimedFake, chat: int, before: int) -> list[tuple[float, str]]:
    """The messages that answered an update. The bot answers its webhook once the step is saved and
    sends at once when the chat's pace (one message a second) allows; otherwise its messages follow
    at that pace. So a resident reads what is there at the 200, or waits for the queued answer to
    begin and then for a pause longer than the pace (its end); nothing for ANSWER_WAIT seconds is no answer."""
    got = fake.seen(chat)[before:]
    if got:
        return got
    deadline = time.monotonic() + ANSWER_WAIT
    while not got and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        got = fake.seen(chat)[before:]
    while got:
        await asyncio.sleep(0.05)
        latest = fake.seen(chat)[before:]
        if len(latest) == len(got) and time.perf_counter() - latest[-1][0] > PACE_PAUSE:
            return latest
        got = latest
    return got


async def _shown(fake: TimedFake, chat: int, choice: str, after: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The newest question showing a button for the choice, once it is on screen (a question the chat's
    pace still holds back arrives within ANSWER_WAIT); None when none came."""
    deadline = time.monotonic() + ANSWER_WAIT
    while (found := fake.button(chat, choice)) is None or found[0]["message_id"] <= after:
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.02)
    return found


async def telegram_resident(load: Load, client: httpx.AsyncClient, slots: asyncio.Semaphore) -> None:
    """Files reports through the webhook until the time is up, each from a new chat."""
    tally = load.tallies["telegram"]
    url = f"{load.server.url}/webhook/telegram"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    while time.monotonic() < load.until:
        chat = load.new_chat("telegram")
        tally.reports_started += 1
        epoch = load.crash_epoch

        pressed = [0]  # the message last pressed on: a press waits for a newer question

        async def send(kind: str, value: str) -> tuple[float, list[tuple[float, str]]]:
            shown = await _shown(load.fake, chat, value, pressed[0]) if kind == "press" else None
            if shown is not None:  # the button on screen for this choice: its payload names its question
                pressed[0] = shown[0]["message_id"]
                update = load.updates.make(chat, kind, shown[1]["callback_data"], question=shown[0])
            else:
                update = load.updates.make(chat, kind, value)
            before = len(load.fake.seen(chat))
            t0 = time.perf_counter()
            load.fake.carry_out(await _deliver_until_answered(tally, lambda: _post(client, slots, url, json=update, headers=headers)))
            tally.updates += 1
            return t0, await _telegram_answer(load.fake, chat, before)

        question = ""
        for kind, value in REPORT:
            await asyncio.sleep(load.think)
            refused = 0
            while True:
                t0, got = await send(kind, value)
                if got and kind == "press" and refused < 2 and any(REFUSED in text for _, text in got):
                    # Pressed on a question the bot had moved past (its answer was lost with the server):
                    # the resident reads the question asked now, and presses there.
                    refused += 1
                    tally.resent += 1
                    continue
                if got:
                    tally.latencies.append(got[-1][0] - t0)
                    break
                # Answered 200 but nothing shown: ask the bot where it stands, as a person would.
                tally.unanswered += 1
                _t, probe = await send("text", HELP)
                now_asked = probe[-1][1] if probe else ""
                if question and now_asked and now_asked != question:
                    got = probe  # the update had been taken: its answer was lost, the next question is here
                    break
                tally.resent += 1
            question = got[-1][1]
        _finish(load, tally, "\n".join(t for _, t in got), epoch)
        load.fake.forget(chat)


async def web_resident(load: Load, client: httpx.AsyncClient, slots: asyncio.Semaphore) -> None:
    """Files reports through the web chat until the time is up, each with a new cookie."""
    tally = load.tallies["web"]
    url = f"{load.server.url}/api/chat"
    while time.monotonic() < load.until:
        load.new_chat("web")
        cookies: dict[str, str] = {}
        tally.reports_started += 1
        epoch = load.crash_epoch
        question: dict[str, Any] = {}
        replies: list[dict[str, Any]] = []
        for kind, value in WEB_REPORT:
            await asyncio.sleep(load.think)
            # A press sends the payload of the button shown for that choice (it names its question).
            shown = [b["payload"] for r in replies for b in r["buttons"] if b["payload"].endswith(":" + value)]
            body = {"text": value} if kind == "text" else {"button": shown[-1] if shown else value}
            missed = again = False
            while True:
                t0 = time.perf_counter()
                response = await _post(client, slots, url, json=body, headers=_cookie_header(cookies))
                if response is not None and response.status_code == 200 and "challenge" in response.json():
                    body = {**body, "proof": proof_for(response.json())}  # a new chat: the page's puzzle first
                    continue
                if response is not None and response.status_code == 200:
                    cookies.update(dict(response.cookies.items()))
                    replies = response.json()["replies"]
                    tally.updates += 1
                    tally.latencies.append(time.perf_counter() - t0)
                    break
                if response is not None:
                    tally.error(response.status_code)
                # No answer: reload the page once the server is back, and see which question it asks.
                tally.unanswered += not missed
                missed = True
                if not cookies:
                    await asyncio.sleep(0.2)
                    continue  # nothing stored yet for this resident: simply send again
                resumed = await _deliver_until_answered(
                    tally, lambda: _post(client, slots, url, json={"resume": True}, headers=_cookie_header(cookies))
                )
                tally.updates += 1
                replies = resumed.json()["replies"]
                if question and replies and replies[-1]["text"] != question.get("text"):
                    break  # the message had been taken before the answer was lost
                tally.resent += not again
                again = True
            question = replies[-1] if replies else {}
        receipt = next((str(r["receipt"]) for r in replies if r.get("receipt")), "")  # the receipt comes in a message of its own
        _finish(load, tally, f"{RECEIPT_WORDS[0]} {receipt}" if receipt else "", epoch)


async def _zalo_answer(fake: TimedZalo, user: str, before: int, wait: float, settle: float) -> list[tuple[float, str]]:
    """The messages the OA sent the user after the first `before`, once they stopped coming (or `wait` passed)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        got = fake.seen(user)[before:]
        if got and time.perf_counter() - got[-1][0] > settle:
            return got
        await asyncio.sleep(0.02)
    return fake.seen(user)[before:]


async def zalo_resident(load: Load, client: httpx.AsyncClient, slots: asyncio.Semaphore) -> None:
    """Files reports through the Zalo webhook until the time is up, each from a new user.

    Zalo waits for nothing but the 200: the answer comes later, by the OA API, and is timed there.
    """
    tally = load.tallies["zalo"]
    fake = load.zalo_fake
    assert fake is not None
    url = f"{load.server.url}/webhook/zalo"
    while time.monotonic() < load.until:
        user = zalo.ZaloUser(f"70{load.new_chat('zalo'):017d}")
        tally.reports_started += 1
        epoch = load.crash_epoch

        async def send(text: str | None, settle: float = ZALO_SETTLE) -> tuple[float, int, list[tuple[float, str]]]:
            before = len(fake.seen(user.user_id))
            body, headers = user.signed(user.follow() if text is None else user.text(text))
            t0 = time.perf_counter()
            await _deliver_until_answered(tally, lambda: _post(client, slots, url, content=body, headers=headers))
            tally.updates += 1
            return t0, before, await _zalo_answer(fake, user.user_id, before, ZALO_ANSWER_WAIT, settle)

        def texts(start: int) -> list[str]:
            return [t for _, t in fake.seen(user.user_id)[start:]]

        async def answer(text: str | None, question: str) -> int:
            """Sends a message until the bot has taken it; returns where its answer begins among the messages."""
            while True:
                t0, before, got = await send(text)
                if got:
                    tally.latencies.append(got[-1][0] - t0)
                    return before
                # Acknowledged but never answered: ask where the report stands, as a person would.
                tally.unanswered += 1
                _t, start, probe = await send(HELP, settle=1.0)
                if question and probe and question not in texts(start):
                    return len(fake.seen(user.user_id))  # the bot had taken it: it asks something else now
                # Zalo sends nothing twice: an event acknowledged before the probe is processed before it.
                tally.lost += bool(question and probe)
                tally.resent += 1

        question = ""
        for text in [None, *ZALO_REPORT]:
            await asyncio.sleep(load.think)
            # What the resident answers: the last message on the screen (by now the whole answer is there).
            shown = fake.seen(user.user_id)
            question = shown[-1][1] if shown else ""
            start = await answer(text, question)
        await asyncio.sleep(1.0)  # the rest of the last answer
        if not any(w in t for t in texts(start) for w in RECEIPT_WORDS):
            # No receipt: if the bot still shows the review, the report was not taken; send it again.
            _t, probe_start, _probe = await send(HELP, settle=1.0)
            if question in texts(probe_start):
                tally.resent += 1
                start = await answer(ZALO_REPORT[-1], question)
                await asyncio.sleep(1.0)
        _finish(load, tally, "\n".join(texts(start)), epoch)
        fake.forget(user.user_id)


def _cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}


def _finish(load: Load, tally: Tally, last: str, epoch: int) -> None:
    """Records how a report ended: with a receipt, or (the database will tell) filed with its receipt lost."""
    found = RECEIPT.search(last) if any(w in last for w in RECEIPT_WORDS) else None
    if found:
        tally.receipts.append(found.group(1))
    else:
        tally.receipt_lost += 1
    if load.crash_epoch != epoch:
        tally.interrupted += 1
        tally.completed_after_crash += found is not None
        tally.filed_after_crash += found is None


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Result:
    """What a run measured, per channel, and the server's memory and restarts."""

    seconds: float
    tallies: dict[str, Tally]
    rss_start: int
    rss_peak: int
    rss_end: int
    restart_seconds: float | None = None
    kill_at: float | None = None
    cases_in_db: int = 0
    receipts_in_db: int = 0
    duplicate_receipts: int = 0
    unheld: dict[str, int] = field(default_factory=dict)  # cases whose receipt no resident holds, per channel


async def drive(load: Load, channels: list[str], residents: int, crash_after: float | None) -> float:
    """Runs the residents until the time is up (and each has finished its report); kills once if asked."""
    limits = httpx.Limits(max_connections=CONNECTIONS * 2, max_keepalive_connections=CONNECTIONS * 2)
    slots = asyncio.Semaphore(CONNECTIONS)
    restart: list[float] = []
    # Each web resident carries its own cookie; a shared jar would hand one resident's chat to the next.
    no_jar = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
    async with httpx.AsyncClient(limits=limits, timeout=120, cookies=no_jar) as client:

        async def crash() -> None:
            assert crash_after is not None
            await asyncio.sleep(crash_after)
            load.crash_epoch += 1
            load.server.kill()
            restart.append(await asyncio.to_thread(load.server.start))

        tasks = []
        per = {c: residents // len(channels) + (i < residents % len(channels)) for i, c in enumerate(channels)}
        for channel, count in per.items():
            who = {"telegram": telegram_resident, "web": web_resident, "zalo": zalo_resident}[channel]
            tasks += [asyncio.create_task(who(load, client, slots)) for _ in range(count)]
        if crash_after is not None:
            tasks.append(asyncio.create_task(crash()))
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Stopped):
                raise outcome
    return restart[0] if restart else float("nan")


@contextmanager
def running(
    database_url: str | None, *, tmp: Path | None = None, sends_per_second: int = 1000, fresh: bool = True, zalo: bool = False
) -> Iterator[tuple[Server, TimedFake]]:
    """A var dir, a database (a PostgreSQL one emptied when `fresh`), the fakes here, and serve started.

    Zalo is configured only with `zalo`: its worker processes would otherwise count in the memory.
    """
    tmp = tmp or Path(tempfile.mkdtemp(prefix="phananh-load-"))
    if fresh and database_url and database_url.startswith("postgres"):
        reset_postgres(database_url)
    url = database_url or f"sqlite:///{tmp / 'load.sqlite3'}"
    fake = TimedFake()
    api = FakeBotAPIServer(fake).start()
    zalo_fake = TimedZalo() if zalo else None
    zalo_api = FakeZaloServer(zalo_fake).start() if zalo_fake is not None else None
    server = Server(url, tmp / "var", api.url, sends_per_second, zalo_fake, zalo_api.url if zalo_api else "")
    try:
        server.start()
        yield server, fake
    finally:
        server.stop()
        api.stop()
        if zalo_api is not None:
            zalo_api.stop()


def run(
    server: Server,
    fake: TimedFake,
    *,
    channels: list[str],
    residents: int,
    seconds: float,
    crash: bool = False,
    crash_after: float | None = None,
    think: float = 1.0,
    warm_up: bool = True,
) -> Result:
    """Warms the server up, drives the load for `seconds` (a kill half-way with `crash`), and checks the database."""
    zalo_fake = server.zalo_fake
    load = Load(server, fake, until=time.monotonic() + 0.1, zalo_fake=zalo_fake)
    if warm_up:
        asyncio.run(drive(load, channels, len(channels), None))  # one report per channel, before measuring
    load = Load(server, fake, until=time.monotonic() + seconds, zalo_fake=zalo_fake, think=think, next_chat=dict(load.next_chat), updates=load.updates)
    warm_up_cases = count_cases(server.database_url)
    rss_start = server.rss()
    server.peak_rss = rss_start
    t0 = time.perf_counter()
    kill_at = (crash_after if crash_after is not None else seconds / 2) if crash else None
    restart = asyncio.run(drive(load, channels, residents, kill_at))
    took = time.perf_counter() - t0
    result = Result(took, load.tallies, rss_start, server.peak_rss, server.rss(), restart if crash else None, kill_at=kill_at)
    check_database(server.database_url, result)
    result.cases_in_db -= warm_up_cases
    return result


def receipt_hashes(database_url: str) -> list[str]:
    """The receipt hash of every case in the database."""
    return [h for h, _channel in _cases(database_url)]


def _cases(database_url: str) -> list[tuple[str, str]]:
    """The receipt hash and channel of every case in the database."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return [(h, c) for h, c in conn.execute(sa.text("SELECT receipt_hash, channel FROM cases")).all()]
    finally:
        engine.dispose()


def count_cases(database_url: str) -> int:
    return len(receipt_hashes(database_url))


def check_database(database_url: str, result: Result) -> None:
    """Counts the cases filed, and the receipts residents hold that match one case each."""
    from intake.receipts import receipt_hash

    rows = _cases(database_url)
    stored: dict[str, int] = {}
    for h, _channel in rows:
        stored[h] = stored.get(h, 0) + 1
    result.cases_in_db = len(rows)
    held = [r for t in result.tallies.values() for r in t.receipts]
    held_hashes = {receipt_hash(r) for r in held}
    result.receipts_in_db = sum(stored.get(receipt_hash(r), 0) == 1 for r in held)
    result.duplicate_receipts = len(held) - len(set(held))
    for _h, channel in (row for row in rows if row[0] not in held_hashes):
        result.unheld[channel] = result.unheld.get(channel, 0) + 1


def report(name: str, result: Result) -> str:
    """The lines a run prints."""
    mb = 2**20
    lines = [f"== {name}: {result.seconds:.1f} s; server RSS start {result.rss_start / mb:.0f} MB, peak {result.rss_peak / mb:.0f} MB, end {result.rss_end / mb:.0f} MB"]
    lines.append(
        f"{'channel':<9} {'updates':>7} {'upd/s':>7} {'reports':>7} {'rep/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'redeliv':>7} {'unansw':>6} {'resent':>6} {'no-rcpt':>7} {'stuck':>5}"
    )
    for channel, t in result.tallies.items():
        if not t.reports_started:
            continue
        lines.append(
            f"{channel:<9} {t.updates:>7} {t.updates / result.seconds:>7.1f} {len(t.receipts):>7} {len(t.receipts) / result.seconds:>6.2f} "
            f"{t.pct(0.5):>7.1f} {t.pct(0.99):>7.1f} {t.errors:>6} {t.redelivered:>7} {t.unanswered:>6} {t.resent:>6} {t.receipt_lost:>7} {t.stuck:>5}"
        )
    for channel, t in result.tallies.items():
        if t.statuses:
            lines.append(f"{channel} error answers by HTTP status: {dict(sorted(t.statuses.items()))}")
    held = sum(len(t.receipts) for t in result.tallies.values())
    lost = sum(t.receipt_lost for t in result.tallies.values())
    lines.append(f"cases in the database: {result.cases_in_db}; receipts held: {held}, each found exactly once: {result.receipts_in_db}; filed without the receipt shown: {lost}")
    if result.unheld:
        lines.append(f"cases whose receipt no resident holds, by channel: {dict(sorted(result.unheld.items()))}")
    if result.restart_seconds is not None:
        cut = sum(t.interrupted for t in result.tallies.values())
        done = sum(t.completed_after_crash for t in result.tallies.values())
        filed = sum(t.filed_after_crash for t in result.tallies.values())
        lines.append(
            f"killed at {result.kill_at:.0f} s; serve answering again after {result.restart_seconds:.1f} s; "
            f"reports cut by the kill: {cut}, completed with a receipt: {done}, filed with the receipt lost: {filed}"
        )
    return "\n".join(lines)


def problems(result: Result) -> list[str]:
    """What breaks the promise: a receipt not in the database once, a duplicate case, a stuck resident."""
    found = []
    held = sum(len(t.receipts) for t in result.tallies.values())
    lost = sum(t.receipt_lost for t in result.tallies.values())
    if result.receipts_in_db != held:
        found.append(f"{held - result.receipts_in_db} receipts held by residents are not in the database exactly once")
    if result.duplicate_receipts:
        found.append(f"{result.duplicate_receipts} receipts given twice")
    if result.cases_in_db > held + lost:
        found.append(f"{result.cases_in_db - held - lost} cases more than reports filed (a redelivery filed twice)")
    if result.cases_in_db < held + lost:
        found.append(f"{held + lost - result.cases_in_db} reports the residents went past are not in the database (lost)")
    stuck = sum(t.stuck for t in result.tallies.values())
    if stuck:
        found.append(f"{stuck} residents never got an answer")
    # Zalo never sends an event again once answered 200: one the bot had not taken when asked was lost.
    if result.tallies["zalo"].lost:
        found.append(f"{result.tallies['zalo'].lost} Zalo events answered 200 were never processed (lost)")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channel", choices=["telegram", "web", "zalo", "both", "all"], default="telegram", help="both: telegram and web")
    parser.add_argument("--residents", type=int, default=200, help="simulated residents at once")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long new reports are started")
    parser.add_argument("--database-url", default="", help="a PostgreSQL database to use (it is emptied); SQLite when empty")
    parser.add_argument("--crash", action="store_true", help="SIGKILL the server half-way and start it again")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between an answer and a resident's next message")
    parser.add_argument("--sends-per-second", type=int, default=1000, help="PHANANH_TELEGRAM_SENDS_PER_SECOND (Telegram allows about 30)")
    args = parser.parse_args()
    # The server's key, also used here to look the receipts up by their keyed hash.
    os.environ.setdefault("PHANANH_SECRET_KEY", "load-bench-secret-key-not-for-production")
    channels = {"both": ["telegram", "web"], "all": ["telegram", "web", "zalo"]}.get(args.channel, [args.channel])
    db = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"cores {os.cpu_count()}; load average before {load_avg}; {db}; channels {'+'.join(channels)}; "
        f"{args.residents} residents thinking {args.think:g} s; {args.seconds:g} s",
        flush=True,
    )
    with running(args.database_url or None, sends_per_second=args.sends_per_second, zalo="zalo" in channels) as (server, fake):
        result = run(server, fake, channels=channels, residents=args.residents, seconds=args.seconds, crash=args.crash, think=args.think)
    print(report(f"{'crash' if args.crash else 'load'} on {db}", result))
    print(f"load average after {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    found = problems(result)
    for problem in found:
        print(f"PROBLEM: {problem}")
    if found:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
