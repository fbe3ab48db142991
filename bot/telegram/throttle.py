"""Outgoing Bot API calls kept under Telegram's limits: about 30 messages a second, 1 a second per chat.

The limits are counted on the deployment's limiter (`intake.ratelimit`), so several servers behind
one bot share them (with Redis) instead of each sending at the full rate. A private chat may have 3
messages in any 3 seconds (a question often comes with a line before it), a group 20 a minute, the
whole bot `PHANANH_TELEGRAM_SENDS_PER_SECOND` a second. A `RetryAfter` from Telegram pauses every
server's sending for the time it asks, then the call is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from intake.ratelimit import Limiter, Rate, get_limiter

log = logging.getLogger(__name__)

JSON = bool | dict[str, Any] | list[dict[str, Any]]

# Calls that put a new message in a chat count for the chat and overall; edits count overall; the
# rest (answers to button presses, the typing indicator, getFile) are not messages and go at once.
_NEW_MESSAGE = ("send", "copy", "forward")
_EDIT = ("edit",)
PAUSE = "telegram"  # the name every server's sending pauses under when Telegram asks to wait
CHAT = Rate("telegram-chat", 3, 3)
GROUP = Rate("telegram-group", 20, 60)
MIN_POLL = 0.005  # seconds between looks at a full window


class Throttle(BaseRateLimiter[int]):
    """Spreads outgoing calls to stay under the overall and per-chat limits; retries on flood waits."""

    def __init__(
        self,
        *,
        per_second: int = 30,
        chat: Rate = CHAT,
        group: Rate = GROUP,
        max_retries: int = 3,
        limiter: Limiter | None = None,
    ) -> None:
        self.overall = Rate("telegram-all", per_second, 1)
        self.chat = chat
        self.group = group
        self.max_retries = max_retries
        self._limiter = limiter
        self._overall_turn: asyncio.Lock | None = None  # one waiter per process polls the overall window

    @classmethod
    def lifted(cls, limiter: Limiter | None = None) -> Throttle:
        """A throttle that never makes a call wait (tests that answer at once, benchmarks of the server)."""
        return cls(per_second=100_000, chat=Rate("telegram-chat", 100_000, 1), group=Rate("telegram-group", 100_000, 1), limiter=limiter)

    @property
    def limiter(self) -> Limiter:
        return self._limiter or get_limiter()

    async def initialize(self) -> None:
        """Nothing to set up: the counts live in the limiter."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    def _chat_rate(self, key: str) -> Rate:
        return self.group if _is_group(key) else self.chat

    def wait_for(self, chat_id: object, messages: int) -> float:
        """Seconds before `messages` new messages could all go to the chat (nothing is taken)."""
        key = str(chat_id)
        limiter = self.limiter
        return max(
            limiter.paused_for(PAUSE),
            limiter.wait(self._chat_rate(key), key, cost=messages),
            limiter.wait(self.overall, cost=messages),
        )

    def take(self, chat_id: object) -> None:
        """Counts a message sent another way (carried by a webhook's answer) against the chat and overall."""
        key = str(chat_id)
        self.limiter.hit(self._chat_rate(key), key)
        self.limiter.hit(self.overall)

    async def _take(self, rate: Rate, *key: str) -> None:
        """Waits for a slot under the rate and takes it."""
        limiter = self.limiter
        while not limiter.hit(rate, *key):
            await asyncio.sleep(max(MIN_POLL, limiter.wait(rate, *key)))

    async def _wait_turn(self, endpoint: str, data: dict[str, Any]) -> None:
        name = endpoint.lower()
        new_message = name.startswith(_NEW_MESSAGE) and name != "sendchataction"
        if not (new_message or name.startswith(_EDIT)):
            return
        paused = self.limiter.paused_for(PAUSE)
        if paused > 0:
            await asyncio.sleep(paused)
        chat_id = data.get("chat_id")
        if new_message and chat_id is not None:
            key = str(chat_id)
            await self._take(self._chat_rate(key), key)
        if self._overall_turn is None:
            self._overall_turn = asyncio.Lock()
        async with self._overall_turn:
            await self._take(self.overall)

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
                self.limiter.pause(PAUSE, wait)
                await asyncio.sleep(wait + 0.1)
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
