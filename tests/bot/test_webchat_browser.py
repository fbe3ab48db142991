"""The web chat page in a real headless Chromium: a refused message keeps what was typed, under the strict CSP."""

from __future__ import annotations

from typing import Any

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
    monkeypatch.setattr(webchat.pace, "admit", lambda *a, **k: "chat")
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
