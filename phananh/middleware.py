"""Pure ASGI middleware for the web app: security headers on every answer, and request size limits.

Pure ASGI (not BaseHTTPMiddleware) so that a body over its limit is refused before it is read: a
declared Content-Length is checked before the app runs, and a chunked body is counted as it arrives.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake.config import Settings
from intake.i18n import N_, normalize_language, translator

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"
NO_STORE_PREFIXES = ("/admin", "/api")
TOO_LARGE = N_("This message is too large to be received. Please shorten it, or send files one at a time.")
KIB, MIB = 1024, 1024 * 1024
MULTIPART_OVERHEAD = 64 * KIB  # boundaries, part headers and the small fields beside a file


class SecurityHeaders:
    """Adds the security headers to every response (pages, JSON, static files, errors, redirects)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        extra = dict(SECURITY_HEADERS)
        if hsts:
            extra["Strict-Transport-Security"] = HSTS
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = str(scope.get("path", "")).startswith(NO_STORE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": with_headers(list(message.get("headers", [])), self.headers, no_store=no_store)}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def with_headers(headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]], *, no_store: bool) -> list[tuple[bytes, bytes]]:
    """The response's headers with the security headers added where the route did not set its own."""
    present = {name.lower() for name, _ in headers}
    out = headers + [(name, value) for name, value in extra if name not in present]
    if no_store:
        out = [(n, v) for n, v in out if n.lower() != b"cache-control"] + [(b"cache-control", b"no-store")]
    return out


def body_limits(settings: Settings) -> Callable[[str], int]:
    """The largest body (bytes) each path accepts: uploads carry files, webhooks updates, the rest a form."""
    attachment = settings.max_attachment_mb * MIB
    admin_form = settings.max_admin_form_kb * KIB

    def limit(path: str) -> int:
        if path == "/api/chat/upload":
            return attachment + MULTIPART_OVERHEAD
        if path == "/admin/record":
            return max(1, settings.max_attachments_per_report) * (attachment + MULTIPART_OVERHEAD) + admin_form
        if path.startswith("/webhook/"):
            return settings.max_webhook_body_kb * KIB
        if path.startswith("/admin"):
            return admin_form
        return settings.max_body_kb * KIB

    return limit


class _BodyTooLarge(Exception):
    """Raised into the app when a streamed body passes its limit."""


class BodyLimit:
    """Refuses (413) a request body over its path's limit, without reading more of it than the limit."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope.get("path", "")))
        declared = _header(scope, b"content-length")
        if declared is not None and not (declared.isascii() and declared.isdigit() and int(declared) <= limit):
            await _refuse(scope, send)
            return
        received = 0
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise _BodyTooLarge()
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the app's answer to the cut-off body (often a 400) is replaced by the 413 below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except _BodyTooLarge:
            pass
        if refused and not started:
            await _refuse(scope, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None


def _query_lang(scope: Scope) -> str:
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    pairs: Mapping[str, str] = dict(p.split("=", 1) for p in query.split("&") if p.startswith("lang="))
    return normalize_language(pairs.get("lang"))


async def _refuse(scope: Scope, send: Send) -> None:
    """Answers 413 in the shape the web chat shows (its replies), closing the connection."""
    log.warning("request body over the limit refused on %s", str(scope.get("path", ""))[:64])
    message = translator(_query_lang(scope))._(TOO_LARGE)
    body = json.dumps({"error": "too_large", "message": message, "replies": [{"text": message, "buttons": []}]},
                      ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
