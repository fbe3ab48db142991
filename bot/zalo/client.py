"""A small client for the Zalo OA API v3, written here (the PyPI Zalo packages are unofficial or unfinished).

Zalo answers HTTP 200 with `{"error": 0, "data": {...}}` on success and a non-zero `error` with a
`message` on failure; every answer is read that way. Failures come out as `ZaloError`, which says
whether trying again can help (`retryable`), after how long (`retry_after`), and whether the message
may have reached the user anyway (`maybe_sent`: the request left but no answer came back), so the
outbox worker can decide between a retry, a dead letter and a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from bot.zalo.tokens import TokenStore, ZaloAuthError
from intake.config import Settings

log = logging.getLogger(__name__)

SEND_PATH = "/v3.0/oa/message/cs"

RATE_LIMITED = -32  # too many calls a minute for this app
AUTH_CODES = frozenset({-216, -220, -124})  # access token invalid, expired or removed: refresh and try once more
QUOTA_CODES = frozenset({-211, -218})  # the OA's or this user's quota is used up for now
# Trying again cannot help: the user left, is out of the 7-day window, blocked this kind of message,
# or the request itself is wrong.
PERMANENT_CODES = frozenset({-201, -210, -213, -227, -230, -232, -233, -244, -248})
TEMPLATE_REFUSED = frozenset({-201, -210, -233})  # the buttons template was not accepted: send plain text
RATE_LIMIT_WAIT = 60.0
QUOTA_WAIT = 3600.0


@dataclass(eq=False)
class ZaloError(Exception):
    """A call to Zalo did not succeed."""

    reason: str
    code: int | None = None  # Zalo's `error`, or the HTTP status for transport failures
    retryable: bool = True
    retry_after: float | None = None  # seconds; set when Zalo said how long, or for rate and quota limits
    maybe_sent: bool = False  # no answer came back after the request left: the user may have it
    parts_sent: int = 0  # of a long message split in parts, how many had been sent before this failure

    def __str__(self) -> str:
        return f"{self.reason} (code {self.code})" if self.code is not None else self.reason


def classify(code: int, message: str) -> ZaloError:
    """The failure an `error != 0` answer means, and what to do about it."""
    text = message[:200]
    if code == RATE_LIMITED:
        return ZaloError(f"rate limited: {text}", code, retryable=True, retry_after=RATE_LIMIT_WAIT)
    if code in QUOTA_CODES:
        return ZaloError(f"quota used up: {text}", code, retryable=True, retry_after=QUOTA_WAIT)
    if code in PERMANENT_CODES:
        return ZaloError(f"refused: {text}", code, retryable=False)
    return ZaloError(f"failed: {text}", code, retryable=True)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class OAClient:
    """Sends customer-service messages for one OA, with the access token kept fresh by a `TokenStore`."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.MockTransport | None = None,
        timeout: float = 10.0,
        tokens: TokenStore | None = None,
    ) -> None:
        self.settings = settings
        self.base = settings.zalo_api_base.rstrip("/")
        # In production both are httpx's own; tests and the benchmark pass a fake Zalo in process.
        self.http = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(timeout, connect=5.0))
        self.tokens = tokens or TokenStore(settings, transport=transport, timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()
        self.tokens.close()

    async def send(self, user_id: str, message: dict[str, Any]) -> str:
        """Sends one message to a user; returns Zalo's message id. A refused token is refreshed once."""
        token = await asyncio.to_thread(self._token, None)
        try:
            return await self._post(user_id, message, token)
        except ZaloError as err:
            if err.code not in AUTH_CODES:
                raise
        log.info("zalo access token refused; refreshing")
        token = await asyncio.to_thread(self._token, token)
        return await self._post(user_id, message, token)

    def _token(self, rejected: str | None) -> str:
        try:
            return self.tokens.current() if rejected is None else self.tokens.rejected(rejected)
        except ZaloAuthError as err:
            # Without a token nothing can be sent until an administrator acts; retrying later may find one.
            raise ZaloError(f"no access token: {err}", err.code, retryable=True, retry_after=QUOTA_WAIT) from err

    async def _post(self, user_id: str, message: dict[str, Any], token: str) -> str:
        body = {"recipient": {"user_id": user_id}, "message": message}
        try:
            response = await self.http.post(self.base + SEND_PATH, json=body, headers={"access_token": token})
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
            raise ZaloError(f"could not connect: {type(err).__name__}") from err
        except httpx.HTTPError as err:
            # The request may have been read and acted on before the connection failed.
            raise ZaloError(f"no answer: {type(err).__name__}", maybe_sent=True) from err
        if response.status_code == 429:
            raise ZaloError("rate limited (HTTP 429)", 429, retry_after=_retry_after(response) or RATE_LIMIT_WAIT)
        if response.status_code >= 500:
            raise ZaloError(f"server error (HTTP {response.status_code})", response.status_code, retry_after=_retry_after(response))
        try:
            data: Any = response.json()
        except ValueError as err:
            raise ZaloError(f"unreadable answer (HTTP {response.status_code})", response.status_code) from err
        if not isinstance(data, dict) or not isinstance(data.get("error"), int):
            raise ZaloError(f"unexpected answer (HTTP {response.status_code})", response.status_code)
        if data["error"] != 0:
            raise classify(data["error"], str(data.get("message", "")))
        result = data.get("data")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return str(message_id or "")

    async def download(self, url: str, max_bytes: int) -> tuple[bytes, str]:
        """Fetches a file the user sent from Zalo's servers, refusing more than `max_bytes`."""
        try:
            async with self.http.stream("GET", url, follow_redirects=True) as response:
                if response.status_code != 200:
                    raise ZaloError(f"file download failed (HTTP {response.status_code})", response.status_code)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FileTooLarge()
                chunks: list[bytes] = []
                total = 0
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise FileTooLarge()  # stops reading: a huge file is never held in memory
                    chunks.append(chunk)
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        except httpx.HTTPError as err:
            raise ZaloError(f"file download failed: {type(err).__name__}") from err
        return b"".join(chunks), content_type


class FileTooLarge(Exception):
    """The file is larger than the channel accepts."""
