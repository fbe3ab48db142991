"""The web chat page and its API, including a server killed mid-conversation."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session, select

from intake.dialog.buttons import read_payload
from intake.models import Attachment, Case
from phananh.web import create_app
from tests.intake.security_helpers import sealed
from tests.chat import chat_post


@pytest.fixture()
def client(db: Session) -> TestClient:
    return TestClient(create_app())


def _say(client: TestClient | httpx.Client, **body: object) -> list[dict[str, object]]:
    """Posts what the resident types or presses; a button named by its choice is pressed where the last replies offered it."""
    last: list[dict[str, Any]] = getattr(client, "last_replies", [])
    button = body.get("button")
    if isinstance(button, str) and read_payload(button) is None:
        offered = [b["payload"] for r in last for b in r["buttons"] if read_payload(b["payload"]) and b["payload"].endswith(":" + button)]
        body["button"] = offered[-1] if offered else button
    response = chat_post(client, **body)
    assert response.status_code == 200
    client.last_replies = response.json()["replies"]  # type: ignore[union-attr]
    return client.last_replies  # type: ignore[union-attr, no-any-return]


# What a resident answers to each question while filing whatever report (the step is in the payloads).
_PLAIN_ANSWERS: dict[str, dict[str, object]] = {
    "facts": {"text": "đúng"},
    "not_report": {"button": "continue"},
    "accused_name": {"button": "skip"},
    "accused_position": {"button": "unknown"},
    "accused_agency": {"button": "unknown"},
    "setting": {"button": "setting:workplace"},
    "when": {"button": "unknown"},
    "evidence": {"button": "skip"},
    "review": {"button": "send"},
}


def plain_answer(last: list[dict[str, Any]], place: str = "phường Bến Thành, TP Hồ Chí Minh") -> dict[str, object]:
    """What a resident answers to the question the replies ask, plainly (the first type suggested), as a
    message body with the payload of the button shown; {} once the receipt is there."""
    if any(r.get("receipt") for r in last):
        return {}
    payloads = [b["payload"] for r in last for b in r["buttons"]]
    step = payloads[-1].split(":", 1)[0] if payloads else "place"
    if step == "category":
        return {"button": next(p for p in payloads if p.rsplit(":", 1)[-1].isdigit())}
    if step == "place":
        return {"text": place}
    if step == "place_choice":
        return {"button": payloads[0]}
    body = dict(_PLAIN_ANSWERS[step])
    if "button" in body:
        body["button"] = next(p for p in payloads if p.endswith(f":{body['button']}"))
    return body


def file_the_rest(client: TestClient | httpx.Client) -> list[dict[str, object]]:
    """Answers whatever is asked after the story, plainly, until the receipt comes."""
    for _ in range(20):
        body = plain_answer(getattr(client, "last_replies", []))
        if not body:
            return client.last_replies  # type: ignore[union-attr, no-any-return]
        _say(client, **body)
    raise AssertionError("no receipt")


def test_page_is_vietnamese_self_contained_and_strict(client: TestClient) -> None:
    """The page is in Vietnamese, loads only its own script and style, under a strict CSP."""
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert 'lang="vi"' in html and "Phản ánh tới Mặt trận Tổ quốc" in html
    assert "http://" not in html and "https://" not in html and "<script>" not in html
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert client.get("/static/chat/chat.js").status_code == 200


def test_static_files_are_compressed_cached_and_the_page_has_an_icon_and_a_description(client: TestClient) -> None:
    """For residents on slow mobile data: gzip, a year's cache for the page's versioned URLs (a new version
    is a new URL), revalidation for any other; an icon link and a meta description in the page."""
    import re

    html = client.get("/").text
    assert re.search(r'<meta name="description" content="[^"]{40,}">', html)
    icon = re.search(r'<link rel="icon" href="(/static/chat/favicon\.svg\?v=\w+)"', html)
    script = re.search(r'<script src="(/static/chat/chat\.js\?v=\w+)" defer>', html)
    assert icon and script and client.get(icon.group(1)).headers["content-type"].startswith("image/svg")
    versioned = client.get(script.group(1), headers={"Accept-Encoding": "gzip"})
    assert versioned.status_code == 200 and versioned.headers["content-encoding"] == "gzip"
    assert int(versioned.headers["content-length"]) < len(versioned.content) / 2, "sent compressed"
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = client.get("/static/chat/chat.js")
    assert plain.headers["cache-control"] == "no-cache" and plain.headers.get("etag")
    assert client.get("/static/chat/chat.js?v=old").headers["cache-control"] == "no-cache"
    assert client.get("/api/chat/nothing").headers.get("content-encoding") is None, "only static files are compressed"


def test_the_page_has_landmarks_a_log_and_a_real_file_button(client: TestClient) -> None:
    """The form is a named landmark, the transcript a log, and files are chosen with a labelled button."""
    import re

    html = client.get("/").text
    assert re.search(r'<form id="composer"[^>]*aria-label="Nhắn tin cho Mặt trận"', html)
    assert re.search(r'<div id="log"[^>]*role="log"', html)
    assert re.search(r'<button type="button" id="attach"', html) and "Gửi ảnh, tài liệu" in html
    assert re.search(r'<input type="file" id="file"[^>]*tabindex="-1"', html), "the input itself stays out of the Tab order"
    assert "📎" not in html, "no emoji that shows as an empty box without an emoji font"


# A web report from the page's first load to its last question (the «send» left to each test).
WEB_REPORT: list[dict[str, object]] = [
    {"resume": True},
    {"button": "menu:report"},
    {"button": "mode:anonymous"},
    {"text": "Cán bộ địa chính xã gây khó dễ, bắt đi lại 5 lần mới nhận hồ sơ, nói năng hỗn láo với dân"},
    {"text": "đúng"},  # the story named the post: confirmed
    {"text": "Quan liêu, xa dân, vô cảm"},  # typed: any of the nine types answers, suggested or not
    {"button": "skip"},
    {"text": "UBND phường"},
    {"text": "phường Bến Thành, TP Hồ Chí Minh"},
    {"button": "setting:workplace"},
    {"button": "unknown"},
    {"button": "skip"},
]


def test_a_report_through_the_web_chat(client: TestClient, db: Session) -> None:
    """The cookie carries the conversation; the last reply carries receipt and passphrase."""
    assert "Mặt trận" in str(_say(client, resume=True)[0]["text"])
    assert client.cookies.get("pa_chat")
    replies: list[dict[str, object]] = []
    for body in [*WEB_REPORT[1:], {"button": "send"}]:
        replies = _say(client, **dict(body))
    assert replies[0]["receipt"] and replies[0]["passphrase"]
    case = db.exec(select(Case)).one()
    assert case.channel == "web" and case.category == 5


def test_an_intent_typed_at_the_web_menu_starts_the_report(client: TestClient) -> None:
    """The tester's «Tôi muốn phản ánh» typed at the web chat's menu asks how to send the report, not the menu again."""
    _say(client, resume=True)
    replies = _say(client, text="Tôi muốn phản ánh")
    assert [b["label"] for b in replies[-1]["buttons"]] == ["Ẩn danh", "Bảo mật danh tính", "Công khai"]  # type: ignore[index]


def test_evidence_photo_is_stored_without_metadata(client: TestClient, db: Session) -> None:
    """A photo uploaded at the evidence step loses its EXIF and is stored encrypted."""
    _say(client, resume=True)
    for body in (
        {"button": "menu:report"},
        {"button": "mode:anonymous"},
        {"text": "Trưởng thôn thu tiền sai quy định của các hộ nghèo"},
        {"text": "đúng"},
        {"button": "cat:7"},
        {"button": "skip"},
        {"text": "thôn 3"},
        {"text": "phường Bến Thành, TP Hồ Chí Minh"},
        {"button": "setting:workplace"},
        {"button": "unknown"},
    ):
        _say(client, **body)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 10)).save(buf, "JPEG", exif=exif.tobytes())
    response = client.post("/api/chat/upload", files={"file": ("a.jpg", buf.getvalue(), "image/jpeg")})
    assert response.status_code == 200 and "vị trí" in response.json()["replies"][0]["text"]
    att = db.exec(select(Attachment)).one()
    assert att.metadata_removed and att.kind == "photo"
    stored = sealed(att)
    assert b"PhoneMaker" not in stored and b"\xff\xd8" not in stored[:4]


def test_oversized_and_malformed_requests_get_clear_answers(client: TestClient) -> None:
    """A body that is not the API's shape gets a JSON error, never a trace or an echo."""
    response = client.post("/api/chat", json={"text": 5})
    assert response.status_code == 422 and "không hợp lệ" in response.json()["message"]
    response = client.post("/api/chat", content=b"not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "phananh.cli", "serve", "--port", str(port), "--no-migrate"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start")


@pytest.mark.slow
def test_killed_server_resumes_the_conversation(db: Session) -> None:
    """SIGKILL mid-report, start again: the same cookie continues at the same question."""
    port = _free_port()
    proc = _start(port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as web:
            _say(web, resume=True)
            _say(web, button="menu:report")
            _say(web, button="mode:anonymous")
            _say(web, text="Chủ tịch xã nhận phong bì của doanh nghiệp để cấp phép")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            proc = _start(port)
            replies = _say(web, resume=True)
            assert "tiếp tục từ chỗ đang dừng" in str(replies[0]["text"])
            replies = _say(web, text="đúng")
            assert any(":cat:" in b["payload"] for r in replies for b in r["buttons"])  # type: ignore[attr-defined]
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture()
def paced(db: Session, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """The web chat with a pace of 3 messages a minute per chat."""
    import bot.webchat as webchat
    from intake.config import get_settings

    webchat.pace.clear()
    low = get_settings().model_copy(update={"web_chat_messages_per_minute": 3})
    monkeypatch.setattr(webchat, "get_settings", lambda: low)
    yield TestClient(create_app())
    webchat.pace.clear()


def test_a_flooding_chat_gets_a_polite_429_and_keeps_its_draft(paced: TestClient, db: Session) -> None:
    """Over the per-chat pace: 429 with the polite message in the chat's language; nothing is stepped or lost."""
    import bot.webchat as webchat
    from intake.i18n import translator
    from intake.models import DialogSession

    _say(paced, resume=True)
    _say(paced, button="menu:report")
    _say(paced, button="mode:anonymous")
    before = db.exec(select(DialogSession)).one()
    r = paced.post("/api/chat", json={"text": "Chủ tịch xã đòi tiền mới ký giấy tờ cho dân", "lang": "vi"})
    assert r.status_code == 429 and r.headers["retry-after"] == "60"
    assert r.json()["replies"][0]["text"] == r.json()["message"] == translator("vi")._(webchat.TOO_FAST)
    assert "Traceback" not in r.text and "Chủ tịch" not in r.text
    db.expire_all()
    after = db.exec(select(DialogSession)).one()
    assert (after.version, after.draft_enc) == (before.version, before.draft_enc), "the refused message changed nothing"
    r = paced.post("/api/chat/upload", files={"file": ("a.pdf", b"%PDF-1.4", "application/pdf")})
    assert r.status_code == 429
    webchat.pace.clear()  # a minute later
    replies = _say(paced, text="Chủ tịch xã đòi tiền mới ký giấy tờ cho dân, không đưa thì không ký")
    assert replies, "the same message goes through once the minute has passed"




def _pending_receipt(db: Session) -> object:
    from intake.crypto import decrypt
    from intake.dialog.types import Draft
    from intake.models import DialogSession

    db.expire_all()
    return Draft.model_validate_json(decrypt(db.exec(select(DialogSession)).one().draft_enc)).pending_receipt


def test_a_web_receipt_is_forgotten_once_the_page_says_it_showed_it(client: TestClient, db: Session) -> None:
    """The receipt stays pending until the page acknowledges it; a wrong code acknowledges nothing."""
    for body in WEB_REPORT:
        _say(client, **dict(body))
    replies = _say(client, button="send")
    receipt = replies[0]["receipt"]
    assert receipt and _pending_receipt(db) is not None
    assert client.post("/api/chat/receipt", json={"receipt": "AAAA-BBBB-CCCC"}).status_code == 204
    assert _pending_receipt(db) is not None
    assert client.post("/api/chat/receipt", json={"receipt": receipt}).status_code == 204
    assert _pending_receipt(db) is None
    assert not any("receipt" in r for r in _say(client, resume=True))


def test_a_web_receipt_never_acknowledged_is_shown_with_every_answer_until_it_is(client: TestClient, db: Session) -> None:
    """A response lost on its way (or a server killed before it left, or a page closed first): no
    acknowledgement came, so every answer, a reload included, shows the receipt until the page acknowledges it."""
    for body in WEB_REPORT:
        _say(client, **dict(body))
    lost = _say(client, button="send")[0]
    assert _pending_receipt(db) is not None
    for _ in range(2):
        first, *rest = _say(client, resume=True)
        assert first["receipt"] == lost["receipt"] and first["passphrase"] == lost["passphrase"]
        assert str(lost["passphrase"]) in str(first["text"]) and not first["buttons"]
        assert rest and "Mặt trận" in str(rest[0]["text"])
        assert _pending_receipt(db) is not None
    assert client.post("/api/chat/receipt", json={"receipt": lost["receipt"]}).status_code == 204
    assert _pending_receipt(db) is None
    assert all("receipt" not in r for r in _say(client, resume=True))


def test_the_web_chat_length_limit_is_the_engines(client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The box's maxlength is PHANANH_MAX_MESSAGE_CHARS; longer text posted anyway gets the polite refusal and the same question."""
    import re

    import intake.dialog.types as dialog_types
    from intake.config import get_settings

    limit = get_settings().max_message_chars
    assert re.search(rf'<textarea[^>]*maxlength="{limit}"', client.get("/").text)
    for body in WEB_REPORT[:3]:
        _say(client, **dict(body))
    replies = client.post("/api/chat", json={"text": "Cán bộ nhận tiền. " * 1500})  # 27,000 characters: over 20,000 too
    assert replies.status_code == 200
    said = replies.json()["replies"]
    assert "tối đa 5.000 ký tự" in said[0]["text"] and "kể lại" in said[-1]["text"]
    low = get_settings().model_copy(update={"max_message_chars": 300})
    monkeypatch.setattr(dialog_types, "get_settings", lambda: low)
    monkeypatch.setattr("bot.webchat.get_settings", lambda: low)
    assert 'maxlength="300"' in client.get("/").text
    said = _say(client, text="Cán bộ nhận tiền. " * 20)
    assert "tối đa 300 ký tự" in said[0]["text"]


def test_serve_loads_the_models_at_start_not_at_the_first_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16, item 6: the first report after a fresh start waited for the classifier (19.9 s). `serve` loads
    the classifier, the gazetteer and the story reader before it answers (bench.conversation times the first report)."""
    from intake.dialog.tools import Tools
    from phananh import startup

    calls: list[Tools] = []
    monkeypatch.setattr(Tools, "warm", lambda self: calls.append(self))
    startup.load_models()
    assert len(calls) == 1
