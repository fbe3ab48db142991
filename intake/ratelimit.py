"""Rate limits counted once for the whole deployment, on the `limits` library.

One `phananh serve` counts in its own memory. Several servers behind a load balancer must count
together, or every limit becomes N times looser: with `PHANANH_REDIS_URL` set, every count lives in
Redis, and a server refuses to start beside another without it (`phananh.startup`).

A limit is a `Rate`: so many events in a moving window of so many seconds, under a name. It can be
one budget for everyone (`limiter.hit(NEW_CHATS)`) or one per key (`limiter.hit(PER_CHAT, chat_id)`).
Keys are hashed with the deployment's secret before they reach the store, so Redis never holds a
chat id or a cookie. `pause` holds everything under a name for a while (Telegram's "retry after"),
for every server at once.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from intake.config import Settings, get_settings
from intake.crypto import keyed_hash

log = logging.getLogger(__name__)

PREFIX = "phananh"


@dataclass(frozen=True)
class Rate:
    """At most `amount` events in any `seconds` seconds, counted under `name` (and a key, if given)."""

    name: str
    amount: int
    seconds: int = 60

    @functools.cached_property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.amount, self.seconds, namespace=self.name)

    def __str__(self) -> str:
        return f"{self.name}: {self.amount} per {self.seconds} s"


class _Memory(MemoryStorage):
    """limits' memory store, which also forgets a key when its last event has expired.

    Upstream keeps an empty list for every key it ever counted, so fresh web-chat cookies would
    grow the table without end; here a key is dropped on the store's own expiry pass. That pass may
    drop a new key between the moment a hit creates its empty list and the moment it adds the event
    (upstream then raised KeyError: seen once in the test suite); the hit, which counted nothing yet,
    is made again.
    """

    def _MemoryStorage__expire_events(self) -> None:
        super()._MemoryStorage__expire_events()  # type: ignore[misc]
        for key in [k for k, events in list(self.events.items()) if not events]:
            if self.events.get(key) == []:
                self.events.pop(key, None)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        while True:
            try:
                return super().acquire_entry(key, limit, expiry, amount)
            except KeyError:  # the key forgotten by the expiry pass before its first event was added
                continue


class Limiter:
    """Moving-window limits over one store (memory or Redis); every method is safe from any thread."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._window = MovingWindowRateLimiter(storage)

    @staticmethod
    def _key(key: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(keyed_hash("ratelimit", part)[:32] for part in key)

    def hit(self, rate: Rate, *key: str, cost: int = 1) -> bool:
        """Counts `cost` events when they fit under the rate; False (and nothing counted) when they do not."""
        return self._window.hit(rate.item, *self._key(key), cost=cost)

    def test(self, rate: Rate, *key: str, cost: int = 1) -> bool:
        """Whether `cost` more events would fit now (nothing counted)."""
        return self._window.test(rate.item, *self._key(key), cost=cost)

    def remaining(self, rate: Rate, *key: str) -> int:
        """How many more events fit now."""
        return max(0, self._window.get_window_stats(rate.item, *self._key(key)).remaining)

    def wait(self, rate: Rate, *key: str, cost: int = 1) -> float:
        """Seconds until `cost` more events would fit (0 when they fit now), at most the window."""
        stats = self._window.get_window_stats(rate.item, *self._key(key))
        if stats.remaining >= cost:
            return 0.0
        return min(float(rate.seconds), max(0.0, stats.reset_time - time.time()))

    def admit(self, *checks: tuple[Rate, tuple[str, ...]]) -> Rate | None:
        """Counts one event under each (rate, key) when all of them have room; else the first without room, nothing counted.

        Between the look and the count another server may take the last slot: the count is then
        refused and that rate returned, so a limit is never exceeded, only now and then hit early.
        """
        for rate, key in checks:
            if not self.test(rate, *key):
                return rate
        for done, (rate, key) in enumerate(checks):
            if not self.hit(rate, *key):
                for undo_rate, undo_key in checks[:done]:
                    self._undo(undo_rate, undo_key)
                return rate
        return None

    def _undo(self, rate: Rate, key: tuple[str, ...]) -> None:
        """Takes back an event counted a moment ago (best effort: the store may not allow it)."""
        storage_key = rate.item.key_for(*self._key(key))
        if isinstance(self.storage, MemoryStorage):
            with self.storage.locks[storage_key]:
                events = self.storage.events.get(storage_key)
                if events:
                    events.pop(0)
        elif isinstance(self.storage, RedisStorage):
            self.storage.get_connection().lpop(self.storage.prefixed_key(storage_key))  # type: ignore[attr-defined]

    def pause(self, name: str, seconds: float) -> None:
        """Holds everything under `name` for `seconds` (a longer pause already set stands)."""
        if seconds <= 0:
            return
        if self.paused_for(name) >= seconds:
            return
        key = f"{PREFIX}-pause/{name}"
        self.storage.clear(key)
        self.storage.incr(key, math.ceil(seconds))

    def paused_for(self, name: str) -> float:
        """Seconds left of a pause under `name` (0 when none)."""
        key = f"{PREFIX}-pause/{name}"
        if not self.storage.get(key):
            return 0.0
        return max(0.0, self.storage.get_expiry(key) - time.time())

    def clear(self, rate: Rate, *key: str) -> None:
        """Forgets the events counted under a rate (and key)."""
        self._window.clear(rate.item, *self._key(key))

    def reset(self) -> None:
        """Forgets everything this deployment counted (tests; a memory store only forgets this process's)."""
        self.storage.reset()


def make_storage(settings: Settings) -> Storage:
    """Redis when PHANANH_REDIS_URL is set, else this process's memory."""
    url = settings.redis_url.get_secret_value()
    if url:
        return RedisStorage(url, key_prefix=settings.redis_prefix, socket_timeout=2, socket_connect_timeout=2)
    return _Memory()


def check_store(settings: Settings) -> str:
    """Empty when the configured store answers, else why it does not (never the URL, which may hold a password)."""
    try:
        if make_storage(settings).check():
            return ""
        return "no answer"
    except Exception as err:  # noqa: BLE001 - any failure of the client means the same: not usable
        return type(err).__name__


@functools.cache
def get_limiter() -> Limiter:
    """The process-wide limiter over the configured store."""
    return Limiter(make_storage(get_settings()))
