"""The web chat page in a real headless Chromium: a refused message keeps what was typed, under the strict CSP."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlmodel import Session

import bot.webchat as webchat
from intake.i18n import translator
from tests.admin.test_browser import _page, browser, server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_a_429_shows_the_polite_message_and_leaves_the_draft_in_the_box(
    db: Session, server: str, browser: Any, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """Over the pace, the page shows the server's words and the typed text is back in the box to send again."""
    webchat.pace.clear()
    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(server + "/")
    page.wait_for_selector(".msg.bot")
    typed = "Chủ tịch xã đòi 5 triệu mới ký giấy xác nhận đất"
    monkeypatch.setattr(webchat.pace, "admit", lambda *a, **k: False)
    page.fill("#text", typed)
    page.press("#text", "Enter")
    page.wait_for_selector(".msg.error")
    assert page.inner_text(".msg.error") == translator("vi")._(webchat.TOO_FAST)
    assert page.input_value("#text") == typed
    assert page.locator(".msg.me").count() == 0, "the refused message is not shown as sent"
    monkeypatch.undo()
    page.press("#text", "Enter")
    page.wait_for_selector(".msg.me")
    assert page.input_value("#text") == ""
    page.locator(".msg.bot").nth(1).wait_for()  # the answer (wait_for_function would need 'unsafe-eval')
    # CSP violations and script errors show as console errors; the only failed answer is the 429 itself
    # (the browser's own favicon.ico request is a 404 it reports without a URL).
    assert [p for p in problems if not p.startswith(("Failed to load resource", "429 "))] == [], problems
    assert [p for p in problems if p.startswith("429 ")] == [f"429 {server}/api/chat"]


def test_the_page_acknowledges_the_receipt_it_shows(db: Session, server: str, browser: Any) -> None:  # noqa: F811
    """A report walked to its last question, sent in the page: the receipt appears, and the page's
    acknowledgement makes the server forget it (until then it would come again with the next message)."""
    import time

    import httpx

    from tests.bot.test_webchat import WEB_REPORT, _pending_receipt, _say

    webchat.pace.clear()
    with httpx.Client(base_url=server) as client:  # the report's first steps, as the same resident
        for body in WEB_REPORT:
            _say(client, **dict(body))
        cookie = client.cookies[webchat.COOKIE]
    problems: list[str] = []
    page = _page(browser, problems)
    page.context.add_cookies([{"name": webchat.COOKIE, "value": cookie, "url": server}])
    page.goto(server + "/")
    send = translator("vi")._("Send this report")
    page.get_by_role("button", name=send).last.click()
    page.wait_for_selector(".receipt")
    deadline = time.monotonic() + 10
    while _pending_receipt(db) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pending_receipt(db) is None, "the page acknowledged the receipt it showed"
    assert [p for p in problems if not p.startswith("Failed to load resource")] == [], problems


# -- a page that looks like a product: items 4 and 6 of issue 16 ---------------------------------------

SCREENS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 768}}


def _shots(tmp_path: Any) -> Any:
    """Where screenshots go: PHANANH_SCREENSHOT_DIR when set (to look at them), else the test's own folder."""
    import os
    from pathlib import Path

    folder = Path(os.environ.get("PHANANH_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _context(browser: Any, screen: str, problems: list[str]) -> Any:
    """A page of the given screen size that records console errors, with the clipboard allowed."""
    context = browser.new_context(locale="vi-VN", viewport=SCREENS[screen], accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: problems.append(str(err)))
    return page


def _settled(page: Any) -> None:
    """Waits until the page has handled its last answer (it then puts the focus back in the message box)."""
    import time as clock

    deadline = clock.monotonic() + 10
    while page.evaluate("document.activeElement && document.activeElement.id") != "text" and clock.monotonic() < deadline:
        clock.sleep(0.05)


def _axe_serious(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it stands (rule id and count)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ×{len(v['nodes'])}" for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]


@pytest.mark.parametrize("screen", ["phone", "desktop"])
def test_the_receipt_card_the_file_button_and_the_typing_indicator(
    db: Session, server: str, browser: Any, screen: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """A whole report in the page at 390 and 1,366 px: a real file button in the Tab order, «the Front is
    answering» while a slow answer comes, the receipt with a copy button for each secret and «Lưu» that
    downloads a picture made in the page, kept across a reload; no serious accessibility violation."""
    import time as clock

    from tests.bot.test_webchat import WEB_REPORT, _say

    webchat.pace.clear()
    shots = _shots(tmp_path)
    with httpx.Client(base_url=server) as client:  # the report's first steps, as the same resident
        for body in WEB_REPORT[:-1]:
            _say(client, **dict(body))
        cookie = client.cookies[webchat.COOKIE]
    problems: list[str] = []
    page = _context(browser, screen, problems)
    page.context.add_cookies([{"name": webchat.COOKIE, "value": cookie, "url": server}])
    page.goto(server + "/")
    page.wait_for_selector(".buttons button")

    # The file button: a real button with its words, reached with Tab from the message box, opening the picker.
    attach = page.get_by_role("button", name="Gửi ảnh, tài liệu")
    assert attach.is_visible()
    _settled(page)
    page.focus("#text")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "attach", "Tab reaches the file button after «Gửi»"
    page.evaluate("window.picked = 0; document.getElementById('file').addEventListener('click', () => { window.picked++; })")
    page.keyboard.press("Enter")
    assert page.evaluate("window.picked") == 1, "Enter on the button opens the file input"
    # (headless Chromium's chooser event after a key press is unreliable; a tap shows it every time)
    with page.expect_file_chooser() as chooser:
        attach.click()
    assert chooser.value is not None

    # A slow answer shows "the Front is answering", then the answer replaces it.
    real_handle = webchat.conversation.handle

    def slow(*args: Any, **kwargs: Any) -> Any:
        clock.sleep(1.0)
        return real_handle(*args, **kwargs)

    monkeypatch.setattr(webchat.conversation, "handle", slow)
    page.get_by_role("button", name="Không có chứng cứ").click()
    page.wait_for_selector(".msg.typing")
    assert "Mặt trận đang trả lời" in page.inner_text(".msg.typing")
    page.screenshot(path=str(shots / f"chat-typing-{screen}.png"))
    page.wait_for_selector(".msg.typing", state="detached")
    monkeypatch.undo()
    assert _axe_serious(page) == []

    page.get_by_role("button", name=translator("vi")._("Send this report")).click()
    page.wait_for_selector(".receipt")
    receipt = page.inner_text(".receipt code >> nth=0")
    passphrase = page.inner_text(".receipt code >> nth=1")
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", receipt) and re.fullmatch(r"[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4}", passphrase)
    page.get_by_role("button", name="Sao chép Mật khẩu tra cứu").click()
    page.wait_for_selector(".receipt .done:has-text('Đã sao chép')")
    assert page.evaluate("navigator.clipboard.readText()") == passphrase
    with page.expect_download() as saved:
        page.get_by_role("button", name="Lưu").click()
    path = saved.value.path()
    assert saved.value.suggested_filename == f"phan-anh-{receipt}.png"
    png = open(path, "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    page.screenshot(path=str(shots / f"chat-receipt-{screen}.png"))
    assert _axe_serious(page) == []

    # The column: the whole width of a phone; centred and of readable width on a desktop.
    box = page.eval_on_selector(".page", "e => { const r = e.getBoundingClientRect(); return [r.left, r.width] }")
    widest = page.eval_on_selector_all(".msg", "ms => Math.max(...ms.map(m => m.getBoundingClientRect().width))")
    if screen == "desktop":
        assert box[1] <= 740 and abs(box[0] - (1366 - box[0] - box[1])) <= 2, "a centred column"
        assert widest <= 660, "lines of readable width"
    else:
        assert box[1] == 390

    # A reload right after filing still shows the receipt (kept in this tab only).
    page.reload()
    page.wait_for_selector(".receipt")
    assert page.inner_text(".receipt code >> nth=0") == receipt and page.locator(".receipt").count() == 1
    assert [p for p in problems if not p.startswith("Failed to load resource")] == [], problems


def test_a_passphrase_is_masked_in_the_transcript_once_sent(db: Session, server: str, browser: Any) -> None:  # noqa: F811
    """A look-up typed in one line, or the passphrase typed at its question: the resident's bubble shows dots."""
    webchat.pace.clear()
    problems: list[str] = []
    page = _context(browser, "phone", problems)
    page.goto(server + "/")
    page.wait_for_selector(".msg.bot")

    def send(text: str) -> None:
        """Types a message and waits for its answer: the page ignores a message sent while one is on its way."""
        answers = page.locator(".msg.bot:not(.typing)").count()  # the typing indicator is no answer
        page.fill("#text", text)
        page.press("#text", "Enter")
        page.locator(".msg.bot:not(.typing)").nth(answers).wait_for()

    send("/tracuu K7M2-P9XA-3FQT k7m2-p9xa-3fqt")
    mine = page.inner_text(".msg.me >> nth=0")
    assert "k7m2" not in mine and mine.endswith("/tracuu K7M2-P9XA-3FQT ••••-••••-••••")
    send("/tracuu")
    assert "mã tiếp nhận" in page.locator(".msg.bot:not(.typing)").last.inner_text()
    send("K7M2-P9XA-3FQT")
    assert "mật khẩu tra cứu" in page.locator(".msg.bot:not(.typing)").last.inner_text()
    send("k7m2-p9xa-3fqt")
    assert page.inner_text(".msg.me >> nth=2").endswith("K7M2-P9XA-3FQT"), "the code itself is not secret"
    assert page.inner_text(".msg.me >> nth=3").endswith("••••-••••-••••")
    # Each message names its speaker for screen readers; the log is a log.
    assert page.get_attribute("#log", "role") == "log"
    assert page.inner_text(".msg.me >> nth=0 >> .visually-hidden").strip() == "Anh/Chị:"
    assert page.inner_text(".msg.bot >> nth=0 >> .visually-hidden").strip() == "Mặt trận:"
    assert _axe_serious(page) == []
