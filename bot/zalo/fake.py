"""A stand-in for Zalo, for tests, the benchmark and the outbox worker's tests: no network.

`FakeZalo` answers the three things phananh calls, in Zalo's shapes: the OA API v3 send endpoint
(`{"error": 0, "data": {"message_id"}}` or a non-zero `error`), OAuth v4's token refresh (a new
access token and a new, single-use refresh token) and the file servers events point to. It records
what was sent, and can be told to fail: with an error code, an HTTP status, a timeout before or
after the message went through, or Zalo's rate limit. Give `fake.transport` to `ZaloChannel`.
`FakeZaloServer` serves a fake over real HTTP on loopback, for a sender in another process
(`phananh serve` in the load benchmark, the outbox worker in tests). `ZaloUser` writes the webhook
events a person's Zalo app causes, signed as Zalo signs them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from bot.zalo.client import SEND_PATH
from bot.zalo.signature import SIGNATURE_HEADER, mac

APP_ID = "2480331519421234567"
OA_ID = "579745863508352884"
OA_SECRET = "fake-oa-secret-key-0123456789"
APP_SECRET = "fake-app-secret-abcdef"
API_BASE = "https://openapi.zalo.test"
OAUTH_BASE = "https://oauth.zalo.test"
FILES_BASE = "https://files.zalo.test"


@dataclass(frozen=True)
class Sent:
    """One message the OA sent: to whom, the `message` object, and the id Zalo gave it."""

    user_id: str
    message: dict[str, Any]
    message_id: str

    @property
    def text(self) -> str:
        return str(self.message.get("text", ""))

    @property
    def buttons(self) -> list[str]:
        """The titles of the message's buttons, if it has any."""
        attachment = self.message.get("attachment") or {}
        return [b["title"] for b in attachment.get("payload", {}).get("buttons", [])]


@dataclass
class FakeZalo:
    """Zalo's OA API, OAuth and file servers in process, with scripted failures."""

    app_id: str = APP_ID
    app_secret: str = APP_SECRET
    refuse_templates: bool = False  # an OA whose messages with buttons are refused (error -201)
    sent: list[Sent] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # "send", "oauth", "file" in order
    refresh_tokens: set[str] = field(default_factory=set)  # valid, each usable once
    access_tokens: set[str] = field(default_factory=set)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    failures: deque[str] = field(default_factory=deque)  # consumed one per send call
    latency: float = 0.0  # seconds each send takes
    oauth_latency: float = 0.0  # seconds each token refresh takes

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.transport = httpx.MockTransport(self.handle)

    # -- set-up -------------------------------------------------------------------------------

    def issue_refresh_token(self) -> str:
        """A refresh token as an administrator gets it by authorizing the app."""
        token = "rt-" + secrets.token_urlsafe(24)
        self.refresh_tokens.add(token)
        return token

    def expire_access_tokens(self) -> None:
        """Every access token stops working, as after 25 hours."""
        self.access_tokens.clear()

    def host_file(self, data: bytes, content_type: str, name: str = "file") -> str:
        """Puts a file on the fake file server; returns its URL."""
        url = f"{FILES_BASE}/{next(self._ids)}/{name}"
        self.files[url] = (data, content_type)
        return url

    def fail(self, *how: str) -> None:
        """Makes the next send calls fail: "error:<code>", "http:<status>", "timeout", "timeout_after_send", "rate_limit"; "ok" lets one call through."""
        self.failures.extend(how)

    def to(self, user_id: str) -> list[Sent]:
        return [s for s in self.sent if s.user_id == user_id]

    def texts(self, user_id: str) -> list[str]:
        return [s.text for s in self.to(user_id)]

    # -- the HTTP side --------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if request.method == "POST" and request.url.path == SEND_PATH:
            return self._send(request)
        if request.method == "POST" and request.url.path == "/v4/oa/access_token":
            return self._oauth(request)
        if request.method == "GET" and url in self.files:
            with self._lock:
                self.calls.append("file")
            data, content_type = self.files[url]
            return httpx.Response(200, content=data, headers={"Content-Type": content_type})
        return httpx.Response(404, json={"error": -404, "message": "not found"})

    def _send(self, request: httpx.Request) -> httpx.Response:
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.calls.append("send")
            failure = self.failures.popleft() if self.failures else None
        if failure == "ok":
            failure = None
        if failure == "timeout":
            raise httpx.ConnectTimeout("fake: could not connect", request=request)
        if failure == "rate_limit":
            return httpx.Response(200, json={"error": -32, "message": "Your application reached limit call api"})
        if failure and failure.startswith("http:"):
            return httpx.Response(int(failure[5:]), text="fake: server trouble", headers={"Retry-After": "7"})
        if failure and failure.startswith("error:"):
            return httpx.Response(200, json={"error": int(failure[6:]), "message": "fake: refused"})
        if request.headers.get("access_token") not in self.access_tokens:
            return httpx.Response(200, json={"error": -216, "message": "Access token is invalid"})
        body = json.loads(request.content)
        message = body.get("message", {})
        if not isinstance(message.get("text"), str) or not message["text"] or len(message["text"]) > 2000:
            return httpx.Response(200, json={"error": -201, "message": "text is invalid"})
        if self.refuse_templates and "attachment" in message:
            return httpx.Response(200, json={"error": -201, "message": "attachment is invalid"})
        sent = Sent(str(body["recipient"]["user_id"]), message, f"msg{next(self._ids):08d}")
        with self._lock:
            self.sent.append(sent)
        if failure == "timeout_after_send":
            raise httpx.ReadTimeout("fake: no answer", request=request)
        return httpx.Response(200, json={"error": 0, "message": "Success", "data": {"message_id": sent.message_id, "user_id": sent.user_id}})

    def _oauth(self, request: httpx.Request) -> httpx.Response:
        if self.oauth_latency:
            time.sleep(self.oauth_latency)
        with self._lock:
            self.calls.append("oauth")
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if request.headers.get("secret_key") != self.app_secret or form.get("app_id") != self.app_id:
            return httpx.Response(200, json={"error": -14001, "error_name": "Invalid app", "error_description": "fake"})
        token = form.get("refresh_token", "")
        with self._lock:
            if form.get("grant_type") != "refresh_token" or token not in self.refresh_tokens:
                return httpx.Response(200, json={"error": -14014, "error_name": "Invalid refresh token", "error_description": "fake"})
            self.refresh_tokens.discard(token)  # single use
            access, refresh = "at-" + secrets.token_urlsafe(24), "rt-" + secrets.token_urlsafe(24)
            self.access_tokens.add(access)
            self.refresh_tokens.add(refresh)
        return httpx.Response(200, json={"access_token": access, "refresh_token": refresh, "expires_in": "90000"})


@dataclass
class ZaloUser:
    """A person writing to the OA from their Zalo app: the events it sends, signed like Zalo's."""

    user_id: str
    app_id: str = APP_ID
    oa_id: str = OA_ID
    secret: str = OA_SECRET
    _msgs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def event(self, name: str, message: dict[str, Any] | None = None, *, at_ms: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "app_id": self.app_id,
            "user_id_by_app": "55" + self.user_id[-8:],
            "event_name": name,
            "timestamp": str(int(time.time() * 1000) if at_ms is None else at_ms),
        }
        if name in ("follow", "unfollow"):
            data.update({"oa_id": self.oa_id, "source": "oa_profile", "follower": {"id": self.user_id}})
            return data
        data.update({"sender": {"id": self.user_id}, "recipient": {"id": self.oa_id}})
        data["message"] = {"msg_id": f"{secrets.token_hex(10)}{next(self._msgs):04d}", **(message or {})}
        return data

    def text(self, text: str, **kw: Any) -> dict[str, Any]:
        return self.event("user_send_text", {"text": text}, **kw)

    def image(self, url: str, caption: str = "", **kw: Any) -> dict[str, Any]:
        payload = {"thumbnail": url + "?thumb=1", "url": url}
        return self.event("user_send_image", {"text": caption, "attachments": [{"type": "image", "payload": payload}]}, **kw)

    def file(self, url: str, name: str, size: int, **kw: Any) -> dict[str, Any]:
        payload = {"url": url, "size": str(size), "name": name, "checksum": secrets.token_hex(16), "type": name.rsplit(".", 1)[-1]}
        return self.event("user_send_file", {"attachments": [{"type": "file", "payload": payload}]}, **kw)

    def sticker(self, **kw: Any) -> dict[str, Any]:
        payload = {"id": "bfe458bf64fa8da4d4eb", "url": "https://zalo-api.zadn.vn/api/emoticon/sticker/webpc?eid=1&size=130"}
        return self.event("user_send_sticker", {"attachments": [{"type": "sticker", "payload": payload}]}, **kw)

    def location(self, **kw: Any) -> dict[str, Any]:
        payload = {"coordinates": {"latitude": "21.0285", "longitude": "105.8542"}}
        return self.event("user_send_location", {"attachments": [{"type": "location", "payload": payload}]}, **kw)

    def follow(self, **kw: Any) -> dict[str, Any]:
        return self.event("follow", **kw)

    def unfollow(self, **kw: Any) -> dict[str, Any]:
        return self.event("unfollow", **kw)

    def signed(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """The body and headers Zalo would POST for this event."""
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return body, {SIGNATURE_HEADER: mac(self.app_id, body, str(event.get("timestamp", "")), self.secret), "Content-Type": "application/json"}


class FakeZaloServer:
    """A FakeZalo on 127.0.0.1 over HTTP, in a thread; counts sends that arrived and those whose sender died on the way.

    A send may be given a `delay` that stands for the request still being on its way to Zalo: a
    client that is gone when the delay ends (its process killed) never reached Zalo, and nothing is
    shown. Once the fake has taken a message, it is shown, whatever becomes of the client afterwards.
    """

    def __init__(self, fake: FakeZalo, *, delay: float = 0.0) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.routing import Route

        from bot.telegram.fake import tcp_socket

        self.fake = fake
        self.delay = delay
        self.arrived = 0  # send requests received (counted only with a delay)
        self.dropped = 0  # of those, the ones whose client had gone when the delay ended
        self._sock = tcp_socket(0)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        app = Starlette(routes=[Route("/{path:path}", self._any, methods=["GET", "POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])), daemon=True)

    def start(self) -> FakeZaloServer:
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("fake Zalo server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _any(self, request: Any) -> Any:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response

        body = await request.body()
        if request.url.path == SEND_PATH and self.delay:
            self.arrived += 1
            await asyncio.sleep(self.delay)
            if await request.is_disconnected():
                self.dropped += 1
                return Response(status_code=499)
        forwarded = httpx.Request(request.method, str(request.url), headers=dict(request.headers), content=body)
        answer = await run_in_threadpool(self.fake.handle, forwarded)
        return Response(answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type", "application/json"))
