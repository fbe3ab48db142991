"""Web hardening: security headers on every kind of answer, no inline code, body limits, no resident addresses."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from intake.config import Settings, get_settings
from intake.models import StaffRole
from bot.webchat import pace
from phananh import web
from intake.i18n import translator
from phananh.middleware import HSTS, SECURITY_HEADERS, TOO_LARGE, body_limits
from phananh.web import create_app
from tests.chat import chat_post
from tests.admin.conftest import BEN_THANH, file_case, make_staff, signed_in

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE_DIRS = (ROOT / "admin" / "templates", ROOT / "bot" / "templates")
KIB = 1024


@pytest.fixture(autouse=True)
def _no_pace_carried_over() -> None:
    """Each test starts with the web chat's pace counters empty."""
    pace.clear()


def _app_with(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> FastAPI:
    """The app built with changed settings (the limits and HSTS are read when the app is built)."""
    changed: Settings = get_settings().model_copy(update=changes)
    monkeypatch.setattr(web, "get_settings", lambda: changed)
    return create_app()


def _assert_hardened(response: Any, what: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, f"{what}: {name} is {response.headers.get(name)!r}"
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp, what


@pytest.fixture()
def boom_client(db: Session) -> Iterator[TestClient]:
    """The app with one extra route that fails, to see the 500 answer."""
    app = create_app()

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_every_kind_of_answer_carries_the_security_headers(db: Session, boom_client: TestClient) -> None:
    """Pages, JSON, static files, redirects, 404, 413, 422, 429-shaped and 500 answers all carry every header."""
    client = boom_client
    answers = {
        "chat page": client.get("/"),
        "chat script": client.get("/static/chat/chat.js"),
        "admin style": client.get("/static/admin/admin.css"),
        "sign-in page": client.get("/admin/login"),
        "redirect to sign-in": client.get("/admin", follow_redirects=False),
        "chat API": client.post("/api/chat", json={"resume": True}),
        "not found": client.get("/no-such-page"),
        "invalid input": client.post("/api/chat", json={"text": 5}),
        "too large": client.post("/api/chat", content=b"{" + b" " * (100 * KIB) + b"}", headers={"content-type": "application/json"}),
        "server error": client.get("/api/boom"),
    }
    assert answers["redirect to sign-in"].status_code == 303 and answers["server error"].status_code == 500
    assert answers["too large"].status_code == 413 and answers["not found"].status_code == 404
    for what, response in answers.items():
        _assert_hardened(response, what)
    for what in ("sign-in page", "redirect to sign-in", "chat API", "server error"):
        assert answers[what].headers["cache-control"] == "no-store", what
    officer = make_staff(db, "hardening_officer", BEN_THANH, StaffRole.OFFICER)
    staff = signed_in(officer)
    case = file_case(db)
    for path in ("/admin", f"/admin/cases/{case.case.id}", "/admin/dashboard", "/admin/reports"):
        response = staff.get(path)
        assert response.status_code == 200, path
        _assert_hardened(response, path)
        assert response.headers["cache-control"] == "no-store", path


def test_hsts_only_when_the_public_address_is_https(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict-Transport-Security is sent when PHANANH_PUBLIC_URL is https, and not on plain http."""
    plain = TestClient(_app_with(monkeypatch, public_url="http://127.0.0.1:8000"))
    assert "strict-transport-security" not in plain.get("/").headers
    secure = TestClient(_app_with(monkeypatch, public_url="https://phananh.example.vn"))
    assert secure.get("/").headers["strict-transport-security"] == HSTS
    assert secure.get("/static/chat/chat.css").headers["strict-transport-security"] == HSTS


class _InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts and styles, on* handlers, javascript: links."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k.lower(): (v or "") for k, v in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in names.items():
            if name.startswith("on"):
                self.found.append(f"{name}= handler on <{tag}>")
            if name == "style":
                self.found.append(f"style= attribute on <{tag}>")
            if name in ("href", "src", "action", "formaction") and value.strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL on <{tag}>")


def _inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


def test_no_template_holds_inline_script_style_or_handlers() -> None:
    """Every admin and web chat template would run under script-src/style-src 'self' without 'unsafe-inline'."""
    templates = [p for d in TEMPLATE_DIRS for p in sorted(d.glob("*.html"))]
    assert len(templates) >= 10
    for path in templates:
        assert _inline_code(path.read_text(encoding="utf-8")) == [], path.name
    assert _inline_code('<a href="javascript:x()" onclick="y()" style="color:red">') != []  # the checker can fail


def test_rendered_pages_hold_no_inline_code(db: Session) -> None:
    """The pages as served (charts and all) hold no inline script, style or handler either."""
    client = TestClient(create_app())
    pages = [client.get("/").text, client.get("/?lang=en").text, client.get("/admin/login").text]
    staff = signed_in(make_staff(db, "hardening_chair", BEN_THANH, StaffRole.CHAIR))
    case = file_case(db, mode="confidential")
    pages += [staff.get(p).text for p in ("/admin", f"/admin/cases/{case.case.id}", "/admin/dashboard", "/admin/reports", "/admin/templates")]
    for html in pages:
        assert _inline_code(html) == []


def test_body_limits_per_route(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ordinary routes take 64 KiB, admin forms more, uploads their attachment limit, webhooks their own."""
    limit = body_limits(get_settings().model_copy(update={"max_attachment_mb": 2, "max_attachments_per_report": 3}))
    assert limit("/api/chat") == limit("/") == 64 * KIB
    assert limit("/admin/cases/1/note") == limit("/admin/login") == 512 * KIB
    assert 2 * 1024 * KIB < limit("/api/chat/upload") <= 2 * 1024 * KIB + 128 * KIB
    assert 6 * 1024 * KIB < limit("/admin/record") <= 7 * 1024 * KIB + 512 * KIB
    assert limit("/webhook/telegram") == limit("/webhook/zalo") == 1024 * KIB


def test_an_oversized_body_is_refused_with_413(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the limit with a Content-Length or chunked: 413 with a polite message; just under: handled."""
    client = TestClient(_app_with(monkeypatch, max_body_kb=16))
    big = b'{"text": "' + b"a" * (17 * KIB) + b'"}'
    r = client.post("/api/chat", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["message"] == translator("vi")._(TOO_LARGE) and r.json()["replies"]

    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(40):
            yield b"a" * KIB
        yield b'"}'

    r = client.post("/api/chat", content=chunks(), headers={"content-type": "application/json"})
    assert r.request.headers.get("transfer-encoding") == "chunked" and "content-length" not in r.request.headers
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    r = client.post("/api/chat?lang=en", content=big, headers={"content-type": "application/json"})
    assert r.json()["message"] == translator("en")._(TOO_LARGE) and "too large" in r.json()["message"]
    ok = client.post("/api/chat", json={"text": "a" * (8 * KIB)})
    assert ok.status_code == 200


def test_uploads_and_admin_forms_may_be_larger_than_ordinary_bodies(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 300 KiB file passes the middleware on the upload route; over the attachment limit it is refused."""
    client = TestClient(_app_with(monkeypatch, max_attachment_mb=1))
    chat_post(client, resume=True)
    r = client.post("/api/chat/upload", files={"file": ("a.pdf", b"%PDF-1.4 " + b"x" * (300 * KIB), "application/pdf")})
    assert r.status_code != 413
    r = client.post("/api/chat/upload", files={"file": ("a.pdf", b"x" * (1200 * KIB), "application/pdf")})
    assert r.status_code == 413
    officer = signed_in(make_staff(db, "hardening_form", BEN_THANH, StaffRole.OFFICER))
    case = file_case(db)
    r = officer.post(f"/admin/cases/{case.case.id}/note", data={"csrf": "x", "text": "ồ" * 10_000}, follow_redirects=False)
    assert r.status_code == 403  # past the size check (90 KiB encoded), stopped by the CSRF check
    r = officer.post(f"/admin/cases/{case.case.id}/note", data={"csrf": "x", "text": "ồ" * 70_000}, follow_redirects=False)
    assert r.status_code == 413


def _asgi_post(app: FastAPI, path: str, chunks: list[bytes], *, content_length: int | None) -> tuple[int, int]:
    """Posts body chunks straight through ASGI; returns the status and how many chunks the app pulled."""
    pulled = 0
    sent: list[dict[str, Any]] = []
    headers = [(b"content-type", b"application/json"), (b"host", b"test")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "headers": headers, "client": None, "server": ("test", 80)}

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}
        await asyncio.sleep(3600)  # the client went quiet: a limit must not wait for it
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=30))
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), pulled


def test_the_limit_stops_reading_as_soon_as_it_is_passed(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """A declared length over the limit is refused unread; a chunked one after the chunk that passes it."""
    app = _app_with(monkeypatch, max_body_kb=64)
    chunks = [b"a" * (16 * KIB)] * 100  # 1.6 MiB on offer
    status, pulled = _asgi_post(app, "/api/chat", chunks, content_length=len(chunks) * 16 * KIB)
    assert (status, pulled) == (413, 0)
    status, pulled = _asgi_post(app, "/api/chat", chunks, content_length=None)
    assert status == 413 and pulled == 5
    status, pulled = _asgi_post(app, "/api/chat", [b'{"resume": true}'], content_length=None)
    assert status == 200 and pulled == 1


def test_no_resident_address_is_read_or_logged() -> None:
    """No code reads the client's address or forwarding headers, and `serve` writes no access log; the one
    exception, /metrics, only compares the address with loopback (phananh/health.py, tested there)."""
    pattern = re.compile(r"request\.client|client\.host|scope\[.client.\]|x-forwarded-for|x-real-ip|remote_addr", re.IGNORECASE)
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("intake", "bot", "admin", "phananh")
        for path in (ROOT / folder).rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == ["phananh/health.py"]
    health = (ROOT / "phananh" / "health.py").read_text(encoding="utf-8")
    assert len(pattern.findall(health)) == 2, "the address is read once, in _may_read_metrics"
    assert "log." not in health.split("def _may_read_metrics", 1)[1].split("\ndef ", 1)[0]
    cli = (ROOT / "phananh" / "cli.py").read_text(encoding="utf-8")
    assert "access_log=False" in cli


def test_security_txt_names_the_committees_contact_or_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 9116: Contact and a future Expires when a contact is set; a 404 (not an empty file) otherwise."""
    from datetime import UTC, datetime

    with TestClient(create_app()) as client:
        assert client.get("/.well-known/security.txt").status_code == 404
    monkeypatch.setenv("PHANANH_SECURITY_CONTACT", "mailto:baomat@mattran.example.vn")
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            r = client.get("/.well-known/security.txt")
    finally:
        monkeypatch.delenv("PHANANH_SECURITY_CONTACT")
        get_settings.cache_clear()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    fields = dict(line.split(": ", 1) for line in r.text.strip().splitlines())
    assert fields["Contact"] == "mailto:baomat@mattran.example.vn" and fields["Preferred-Languages"] == "vi, en"
    assert datetime.fromisoformat(fields["Expires"].replace("Z", "+00:00")) > datetime.now(UTC)
