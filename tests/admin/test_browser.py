"""The admin in a real headless Chromium (Debian's, driven by Playwright): the work of an officer end to end.

Skipped, saying why, when Playwright or a Chromium binary is missing (`apt-get install chromium`).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from sqlmodel import Session

from intake.deadlines import answer_due, local_today
from intake.models import StaffRole
from phananh.web import create_app
from tests.admin.conftest import BEN_THANH, HOAN_KIEM, PASSWORD, file_case, make_staff

pytestmark = pytest.mark.browser

LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _chromium() -> str | None:
    for candidate in (os.environ.get("PHANANH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def server(db: Session) -> Iterator[str]:
    """The whole app served by uvicorn on a loopback port, in a thread."""
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture()
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless; the test is skipped with the reason when it cannot run."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    path = _chromium()
    if path is None:
        pytest.skip("no Chromium found at /usr/bin/chromium (apt-get install chromium, or set PHANANH_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


def _page(browser: Any, problems: list[str]) -> Any:
    """A fresh browser context (its own cookies) that records console errors (CSP violations among them)."""
    page = browser.new_context(locale="vi-VN").new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return page


def _sign_in(page: Any, base: str, username: str, secret: str | None = None) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    if secret is not None:
        page.wait_for_url("**/admin/login/totp")
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("form[action='/admin/login/totp'] button[type=submit]")
    page.wait_for_url(f"{base}/admin")


def _queue_ids(page: Any) -> list[int]:
    return [int(x) for x in page.eval_on_selector_all("tr[data-case]", "rows => rows.map(r => r.dataset.case)")]


def test_chair_works_a_case_and_transfers_it(db: Session, server: str, browser: Any) -> None:
    """Log in with TOTP, filter, open, reclassify, forward with a deadline, reply, transfer; the case changes queue."""
    target = file_case(db)  # "Cán bộ địa chính ... sổ đỏ ..."
    other = file_case(db, description="Trưởng thôn tổ chức đánh bạc tại nhà văn hóa")
    chair = make_staff(db, "chu_tich", BEN_THANH, StaffRole.CHAIR)
    make_staff(db, "can_bo_hk", HOAN_KIEM)
    problems: list[str] = []
    page = _page(browser, problems)

    _sign_in(page, server, "chu_tich", chair.secret)
    assert set(_queue_ids(page)) == {target.case.id, other.case.id}

    # Filter: words typed without diacritics find the report written with them.
    page.fill("input[name=q]", "so do dia chinh")
    page.click("#apply-filters")
    page.wait_for_url("**/admin?q=*")
    assert _queue_ids(page) == [target.case.id]

    page.click(f"tr[data-case='{target.case.id}'] a.case-link")
    page.wait_for_url(f"**/admin/cases/{target.case.id}")
    assert page.get_attribute("#case-status", "data-status") == "new"

    page.select_option("#reclassify-category", "8")
    page.click("#reclassify")
    page.wait_for_url("**done=reclassify")
    assert page.get_attribute("#case-category", "data-category") == "8"

    today = local_today()
    page.fill("#body-name", "Ủy ban Kiểm tra Đảng ủy phường Bến Thành")
    page.select_option("#body-kind", "inspection_commission")
    page.fill("#forwarded-on", today.isoformat())
    page.check("#complex-case")
    page.click("#forward-submit")
    page.wait_for_url("**done=forward")
    assert page.get_attribute("#case-status", "data-status") == "forwarded"
    assert page.inner_text("#due-on").strip() == answer_due(today, complex_case=True).strftime("%d/%m/%Y")

    staff_messages = page.locator(".msg.staff").count()
    reply = page.locator("#reply textarea[name=text]")
    assert "Ủy ban Kiểm tra Đảng ủy phường Bến Thành" in reply.input_value()  # the template, filled
    reply.fill("Chúng tôi đã chuyển phản ánh của Anh/Chị đến Ủy ban Kiểm tra. Xin cảm ơn.")
    page.click("#send-reply")
    page.wait_for_url("**done=reply")
    assert page.locator(".msg.staff").count() == staff_messages + 1

    page.fill("#transfer-code", HOAN_KIEM)
    page.fill("#transfer-reason", "Người bị phản ánh công tác tại phường Hoàn Kiếm, Hà Nội.")
    page.click("#transfer-submit")
    page.wait_for_url("**/admin?done=transfer")
    assert page.is_visible("#notice")
    assert target.case.id not in _queue_ids(page) and other.case.id in _queue_ids(page)

    # The other committee's officer finds it in their queue.
    page2 = _page(browser, problems)
    _sign_in(page2, server, "can_bo_hk")
    assert _queue_ids(page2) == [target.case.id]
    page2.click(f"tr[data-case='{target.case.id}'] a.case-link")
    assert page2.get_attribute("#case-status", "data-status") == "forwarded"
    assert "Hoàn Kiếm" in page2.inner_text("#case-committee")
    assert problems == [], problems


def test_officer_takes_a_case_from_arrival_to_closing(db: Session, server: str, browser: Any) -> None:
    """An officer accepts, forwards, records the result, tells the reporter and closes, all in the browser."""
    filed = file_case(db)
    make_staff(db, "can_bo", BEN_THANH)
    problems: list[str] = []
    page = _page(browser, problems)
    _sign_in(page, server, "can_bo")
    page.goto(f"{server}/admin/cases/{filed.case.id}")
    page.click("#accept")
    page.wait_for_url("**done=accept")
    assert page.get_attribute("#case-status", "data-status") == "verifying"
    page.fill("#body-name", "Công an phường Bến Thành")
    page.select_option("#body-kind", "police")
    page.click("#forward-submit")
    page.wait_for_url("**done=forward")
    page.fill("form[action$='/result'] textarea[name=text]", "Cán bộ địa chính bị kỷ luật khiển trách, đã trả lại tiền.")
    page.click("#result-submit")
    page.wait_for_url("**done=result")
    assert page.get_attribute("#case-status", "data-status") == "result"
    assert page.is_checked("input[name=tells_result]")
    assert "kỷ luật khiển trách" in page.locator("#reply textarea[name=text]").input_value()
    page.click("#send-reply")
    page.wait_for_url("**done=reply")
    assert page.get_attribute("#case-status", "data-status") == "answered"
    page.click("#close-case")
    page.wait_for_url("**done=close")
    assert page.get_attribute("#case-status", "data-status") == "closed"
    assert page.locator("#timeline li").count() >= 6
    assert problems == [], problems
