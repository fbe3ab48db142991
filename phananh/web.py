"""The web application: web chat at /, admin at /admin, webhooks; one FastAPI app."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import exc as sa_exc

from admin.app import router as admin_router
from admin.auth import LoginRequired
from admin.views import error_page as admin_error_page
from bot.assets import Assets
from bot.telegram.webhook import router as telegram_router
from bot.webchat import STATIC as chat_static
from bot.webchat import TOO_BUSY
from bot.webchat import router as chat_router
from bot.zalo.webhook import enabled as zalo_enabled
from bot.zalo.webhook import router as zalo_router
from intake.config import get_settings
from intake.errors import NotFoundError, PhananhError
from intake.i18n import normalize_language, translator
from phananh import health, heap
from phananh.middleware import SECURITY_HEADERS, BodyLimit, SecurityHeaders, body_limits

log = logging.getLogger(__name__)
MAX_ID = 2**63 - 1  # the databases' 64-bit integer keys
BUSY_RETRY_SECONDS = 30


# What FastAPI reads as a whole number in a path: spaces, a sign, digit groups, a zero fraction ("-9…9", " 9…9", "9…9.0").
_INTEGRAL = re.compile(r"\s*([+-]?[0-9_]+)(?:\.0*)?\s*")


def ids_in_range(request: Request) -> None:
    """A number in the path past any key the database can hold names nothing: 404, not an overflow's 500."""
    for value in request.path_params.values():
        if not isinstance(value, str) or (found := _INTEGRAL.fullmatch(value)) is None:
            continue
        digits = found.group(1).lstrip("+-").replace("_", "")
        if len(digits.lstrip("0")) > 19 or (digits and int(digits) > MAX_ID):
            raise NotFoundError("id out of range")


def create_app(*, with_chat: bool = True, with_admin: bool = True, settle_heap: bool = False) -> FastAPI:
    """Builds the app; the admin can run alone (with_chat=False) on an internal network.

    `settle_heap` (serve only): after start, what start loaded is kept out of the cycle
    collector's full passes (see phananh.heap)."""
    settings = get_settings()
    app = FastAPI(title="phananh", docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(ids_in_range)])
    # The last added runs first: headers go on every answer, the 413 included.
    app.add_middleware(BodyLimit, limit_for=body_limits(settings))
    app.add_middleware(SecurityHeaders, hsts=settings.public_url.lower().startswith("https://"))
    app.include_router(health.router)
    if with_chat:
        app.mount("/static/chat", chat_static.app(), name="chat-static")
        app.include_router(chat_router)
        app.include_router(telegram_router)  # 404 until PHANANH_TELEGRAM_TOKEN is set
        if zalo_enabled(settings):
            app.include_router(zalo_router)  # only with PHANANH_ZALO_APP_ID and PHANANH_ZALO_OA_SECRET_KEY
    if with_admin:
        app.mount("/static/admin", Assets(Path(__file__).parent.parent / "admin" / "static", "/static/admin").app(), name="admin-static")
        app.include_router(admin_router)
    if settle_heap:
        app.include_router(heap.router())  # last: its start runs after the others'

    @app.get("/.well-known/security.txt", include_in_schema=False)
    def security_txt() -> Response:
        """Where to report a security problem (RFC 9116), when the committee running the service set one."""
        if not settings.security_contact:
            return Response(status_code=404)
        expires = (datetime.now(UTC) + timedelta(days=365)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        lines = [f"Contact: {settings.security_contact}", f"Expires: {expires}", "Preferred-Languages: vi, en"]
        if settings.public_url:
            lines.append(f"Canonical: {settings.public_url.rstrip('/')}/.well-known/security.txt")
        return PlainTextResponse("\n".join(lines) + "\n")

    @app.exception_handler(LoginRequired)
    async def _login(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(PhananhError)
    async def _known(_request: Request, exc: PhananhError) -> Response:
        log.warning("request failed: %s", exc.code)
        status = {"not_found": 404, "permission_denied": 404, "invalid_input": 400, "rate_limited": 429,
                  "invalid_transition": 409}.get(exc.code, 500)
        if _request.url.path.startswith("/admin"):
            return admin_error_page(_request, exc.code, status)
        return JSONResponse({"error": exc.code, "message": translator("vi")._(exc.message)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, _exc: RequestValidationError) -> Response:
        # Never echo the input back: it may be a resident's report.
        return JSONResponse(
            {"error": "invalid_input", "message": translator("vi")._("The input is not valid.")}, status_code=422
        )

    @app.exception_handler(sa_exc.OperationalError)
    @app.exception_handler(sa_exc.TimeoutError)
    async def _busy(request: Request, exc: Exception) -> Response:
        # SQLite's write lock held too long, the pool exhausted, or the database unreachable: not the
        # request's fault. 503 with a time to come back; the page puts the resident's text back in the box.
        log.warning("database busy or unreachable: %s", type(exc).__name__)
        headers = {"Retry-After": str(BUSY_RETRY_SECONDS)}
        if request.url.path.startswith("/admin"):
            response = admin_error_page(request, "busy", 503)
            response.headers.update(headers)
            return response
        text = translator(normalize_language(request.query_params.get("lang")))._(TOO_BUSY)
        return JSONResponse({"error": "busy", "message": text, "replies": [{"text": text, "buttons": []}]}, status_code=503, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        log.error("unexpected %s", type(exc).__name__)
        # Answered outside the middleware stack (Starlette's ServerErrorMiddleware): the headers are set here.
        return JSONResponse(
            {"error": "error", "message": translator("vi")._("Something went wrong. Please try again.")},
            status_code=500,
            headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
        )

    return app
