"""Outgoing Bot API calls kept under Telegram's limits: about 30 messages a second, 1 a second per chat.

Token buckets that hand out reservations: a caller whose slot is in the future sleeps until then,
so requests leave in order without a lock. A private chat may burst a few messages (a question
often comes with a line before it) and then gets one a second; a group gets 20 a minute. A
`RetryAfter` from Telegram pauses everything for the time it asks, then the call is retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

JSON = bool | dict[str, Any] | list[dict[str, Any]]

# Calls that put a new message in a chat count for the chat and overall; edits count overall; the
# rest (answers to button presses, the typing indicator, getFile) are not messages and go at once.
_NEW_MESSAGE = ("send", "copy", "forward")
_EDIT = ("edit",)


class Bucket:
    """A token bucket: `reserve()` says how long to wait for the next slot and takes it."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic()

    def reserve(self, now: float | None = None) -> float:
        """Takes one slot and returns the seconds until it is due (0 when free now)."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def idle(self, now: float) -> bool:
        """Whether the bucket has refilled completely, so that forgetting it changes nothing."""
        return self.tokens + (now - self.stamp) * self.rate >= self.capacity


class Throttle(BaseRateLimiter[int]):
    """Spreads outgoing calls to stay under the overall and per-chat limits; retries on flood waits."""

    def __init__(
        self,
        *,
        per_second: float = 30.0,
        chat_per_second: float = 1.0,
        chat_burst: int = 3,
        group_per_minute: float = 20.0,
        max_retries: int = 3,
    ) -> None:
        self.overall = Bucket(per_second, max(1.0, per_second))
        self.chat_per_second = chat_per_second
        self.chat_burst = chat_burst
        self.group_per_minute = group_per_minute
        self.max_retries = max_retries
        self.chats: dict[str, Bucket] = {}
        self._resume_at = 0.0  # monotonic time before which nothing is sent (Telegram asked to wait)
        self._sweep_at = 0.0

    async def initialize(self) -> None:
        """Nothing to set up: the buckets are created as chats appear."""

    async def shutdown(self) -> None:
        """Forgets the buckets."""
        self.chats.clear()

    def _new_bucket(self, key: str) -> Bucket:
        """A full bucket for a chat: a group's 20 a minute, or a private chat's burst and one a second."""
        return Bucket(self.group_per_minute / 60, 1.0) if _is_group(key) else Bucket(self.chat_per_second, float(self.chat_burst))

    def _chat_bucket(self, chat_id: object, now: float) -> Bucket:
        key = str(chat_id)
        bucket = self.chats.get(key)
        if bucket is None:
            bucket = self.chats[key] = self._new_bucket(key)
        if now >= self._sweep_at:
            # Forget chats whose bucket is full again; keeps memory flat with many residents.
            self._sweep_at = now + 60
            for k in [k for k, b in self.chats.items() if k != key and b.idle(now)]:
                del self.chats[k]
        return bucket

    def wait_for(self, chat_id: object, messages: int) -> float:
        """Seconds before `messages` new messages could all have gone to the chat (nothing is taken)."""
        now = time.monotonic()
        bucket = self.chats.get(str(chat_id)) or self._new_bucket(str(chat_id))
        waits = [max(0.0, self._resume_at - now)]
        for b in (bucket, self.overall):
            tokens = min(b.capacity, b.tokens + (now - b.stamp) * b.rate)
            waits.append(max(0.0, (messages - tokens) / b.rate))
        return max(waits)

    def take(self, chat_id: object) -> None:
        """Counts a message sent another way (carried by a webhook's answer) against the chat and overall."""
        now = time.monotonic()
        self._chat_bucket(chat_id, now).reserve(now)
        self.overall.reserve(now)

    async def _wait_turn(self, endpoint: str, data: dict[str, Any]) -> None:
        now = time.monotonic()
        name = endpoint.lower()
        new_message = name.startswith(_NEW_MESSAGE) and name != "sendchataction"
        chat_id = data.get("chat_id")
        if new_message and chat_id is not None:
            delay = self._chat_bucket(chat_id, now).reserve(now)
            if delay > 0:
                await asyncio.sleep(delay)
                now = time.monotonic()
        delay = self._resume_at - now
        if new_message or name.startswith(_EDIT):
            delay = max(delay, self.overall.reserve(now))
        if delay > 0:
            await asyncio.sleep(delay)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSON:
        """Waits for the request's turn, sends it, and retries after a flood wait."""
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        for attempt in range(retries + 1):
            await self._wait_turn(endpoint, data)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as err:
                if attempt == retries:
                    raise
                wait = retry_seconds(err)
                log.warning("Telegram asked to wait %.1f s before %s", wait, endpoint)
                self._resume_at = max(self._resume_at, time.monotonic() + wait + 0.1)
        raise AssertionError("unreachable")  # pragma: no cover


def _is_group(chat_key: str) -> bool:
    """Group and channel chats have negative ids (or a public @username)."""
    return chat_key.startswith("-") or not chat_key.lstrip("-").isdigit()


def retry_seconds(err: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds."""
    value: object = err._retry_after  # the public property warns while PTB migrates to timedelta
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)  # type: ignore[arg-type]
