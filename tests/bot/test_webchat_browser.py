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
