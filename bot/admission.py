"""Who may start a web chat: a small proof of work, never a client address.

The web chat reads no IP address (the privacy promise), so a flood cannot be told apart by where it
comes from. Instead, as GlobaLeaks does for each new submission, a new chat must present the answer
to a puzzle the server issued: a nonce such that SHA-256(challenge ":" nonce) starts with `bits` zero
bits. The page solves it with the browser's Web Crypto API, which costs a resident's phone about a
second once; an existing chat never pays again and keeps its own per-chat budget, so new chats can
never starve it. While new chats arrive faster than `new_per_minute`, each doubling of the rate
adds a bit (doubles the work), up to `max_extra_bits`.

The chat id is the challenge's own random id (144 bits, issued to the one client that asked), and
the cookie carries it with a MAC: a client cannot name its chat (a made-up or unsigned cookie is
replaced, never adopted), and redeeming one solved challenge twice only gives the same chat again.
Figures and the reasoning: SECURITY.md, "A flood of fake reports".
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass

from intake.crypto import keyed_hash, token
from intake.ratelimit import Limiter, Rate

_ID = r"[A-Za-z0-9_-]{24}"
_COOKIE_RE = re.compile(rf"^({_ID})\.([0-9a-f]{{32}})$")
_CHALLENGE_RE = re.compile(rf"^({_ID})\.(\d{{1,2}})\.(\d{{1,12}})\.([0-9a-f]{{32}})$")
_NONCE_RE = re.compile(r"^\d{1,16}$")
WINDOW = 60.0
SEEN_FOR = 420.0  # a challenge lives at most ttl + 60 s (300 + 60): a replay within that is known


def _mac(purpose: str, value: str) -> str:
    return keyed_hash(purpose, value)[:32]  # 128 bits


def leading_zero_bits(digest: bytes) -> int:
    """How many zero bits a digest starts with."""
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def solve(challenge: str, bits: int) -> int:
    """The first nonce that answers a challenge (what the page does, for tests and benchmarks)."""
    nonce = 0
    while leading_zero_bits(hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()) < bits:
        nonce += 1
    return nonce


@dataclass(frozen=True)
class Challenge:
    """A puzzle as the page receives it: the signed challenge text and the bits it asks for."""

    text: str
    bits: int


class Arrivals:
    """When recent new chats were started, in this process's memory (one server, tests)."""

    def __init__(self) -> None:
        self._started: deque[float] = deque()
        self._seen: dict[str, float] = {}  # challenge id -> until when it could still be redeemed
        self._lock = threading.Lock()

    def first(self, chat_id: str, now: float) -> bool:
        """Whether this solved challenge is redeemed for the first time (a replay starts no new chat)."""
        with self._lock:
            for old in [k for k, until in self._seen.items() if until <= now]:
                del self._seen[old]
            if chat_id in self._seen:
                return False
            self._seen[chat_id] = now + SEEN_FOR
            return True

    def count(self, now: float) -> int:
        """New chats started in the last minute."""
        with self._lock:
            while self._started and self._started[0] <= now - WINDOW:
                self._started.popleft()
            return len(self._started)

    def add(self, now: float, n: int = 1) -> None:
        with self._lock:
            self._started.extend([now] * n)

    def reset(self) -> None:
        with self._lock:
            self._started.clear()
            self._seen.clear()


class SharedArrivals(Arrivals):
    """The same count on the deployment's limiter (intake.ratelimit): every server sees every new chat."""

    def __init__(self, limiter: Limiter, ceiling: int) -> None:
        super().__init__()
        self.limiter = limiter
        # Past this many a minute the puzzle is already at its hardest: no need to count further.
        self.rate = Rate("web-new-chats", ceiling, int(WINDOW))
        self.once = Rate("web-chat-redeemed", 1, int(SEEN_FOR))

    def first(self, chat_id: str, now: float) -> bool:
        return self.limiter.hit(self.once, chat_id)

    def count(self, now: float) -> int:
        return self.rate.amount - self.limiter.remaining(self.rate)

    def add(self, now: float, n: int = 1) -> None:
        self.limiter.hit(self.rate, cost=n)

    def reset(self) -> None:
        self.limiter.clear(self.rate)


class Admission:
    """Issues challenges, checks answers, and signs and reads chat cookies."""

    def __init__(
        self, *, base_bits: int, new_per_minute: int, max_extra_bits: int = 6, ttl: float = 300.0, arrivals: Arrivals | None = None
    ) -> None:
        self.base_bits = base_bits
        self.new_per_minute = new_per_minute
        self.max_extra_bits = max_extra_bits
        self.ttl = ttl
        self.arrivals = arrivals or Arrivals()

    # -- difficulty -----------------------------------------------------------------------------

    def required_bits(self, now: float | None = None) -> int:
        """The work a new chat must show now: the base, plus a bit per doubling of the arrival rate."""
        now = time.time() if now is None else now
        rate = self.arrivals.count(now)
        if rate <= self.new_per_minute:
            return self.base_bits
        extra = math.ceil(math.log2(rate / self.new_per_minute))
        return self.base_bits + min(extra, self.max_extra_bits)

    # -- challenges -----------------------------------------------------------------------------

    def challenge(self, now: float | None = None) -> Challenge:
        """A fresh puzzle at the current difficulty, valid for `ttl` seconds."""
        now = time.time() if now is None else now
        bits = self.required_bits(now)
        body = f"{token(18)}.{bits}.{int(now + self.ttl)}"
        return Challenge(f"{body}.{_mac('chat-challenge', body)}", bits)

    def redeem(self, text: str, nonce: str, now: float | None = None) -> str | None:
        """The new chat's id when the answer is right, signed by us, fresh and hard enough; else None."""
        now = time.time() if now is None else now
        found = _CHALLENGE_RE.match(text or "")
        if found is None or not _NONCE_RE.match(nonce or ""):
            return None
        chat_id, bits, expires, mac = found.group(1), int(found.group(2)), int(found.group(3)), found.group(4)
        if not hmac.compare_digest(mac, _mac("chat-challenge", f"{chat_id}.{bits}.{expires}")):
            return None
        if expires < now or expires > now + self.ttl + 60:
            return None
        # A puzzle fetched just before the difficulty rose still counts; an older, easier one does not.
        if bits < self.required_bits(now) - 1:
            return None
        if leading_zero_bits(hashlib.sha256(f"{text}:{nonce}".encode()).digest()) < bits:
            return None
        # A solution replayed (with its cookie dropped) only reopens the same chat: it is no new arrival, so
        # it cannot raise the difficulty for every resident (seen: 2,400 replays took it from 14 to 20 bits).
        if self.arrivals.first(chat_id, now):
            self.arrivals.add(now)
        return chat_id

    def reset(self) -> None:
        self.arrivals.reset()

    # -- cookies --------------------------------------------------------------------------------

    @staticmethod
    def cookie_for(chat_id: str) -> str:
        """The cookie value naming a chat: its id and a MAC only the server can make."""
        return f"{chat_id}.{_mac('chat-cookie', chat_id)}"

    @staticmethod
    def chat_from_cookie(value: str | None) -> str | None:
        """The chat a cookie names, if the server issued it; None for anything made up."""
        found = _COOKIE_RE.match(value or "")
        if found is None:
            return None
        chat_id, mac = found.group(1), found.group(2)
        return chat_id if hmac.compare_digest(mac, _mac("chat-cookie", chat_id)) else None


def proof_for(answer: dict[str, object]) -> dict[str, str]:
    """The proof a client sends back for a puzzle it was given: what the page does, for tests and benchmarks."""
    challenge, bits = str(answer["challenge"]), int(answer["bits"])  # type: ignore[call-overload]
    return {"challenge": challenge, "nonce": str(solve(challenge, bits))}
