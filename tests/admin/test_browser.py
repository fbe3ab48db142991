"""The admin in a real headless Chromium (Debian's, driven by Playwright): the work of an officer end to end.

Each page met is checked with axe-core (axe-playwright-python; a serious or critical finding fails the
test), for sideways scrolling at a phone's 390 px, and photographed (full page) into
var/screenshots/admin/ (or $PHANANH_SCREENSHOTS) for a person to look at.
Skipped, saying why, when Playwright or a Chromium binary is missing (`apt-get install chromium`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlmodel import Session, select

from intake.config import get_settings
from intake.deadlines import answer_due, local_today
from intake.models import Case, StaffRole, StaffUser
from phananh.web import create_app
from tests.admin.conftest import BEN_THANH, HOAN_KIEM, PASSWORD, committee, file_case, make_staff, quick_case
from tests.mailserver import MailServer, mail  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser

LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("PHANANH_SCREENSHOTS", ROOT / "var" / "screenshots" / "admin"))
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}
BLOCKING = ("serious", "critical")  # axe impacts that fail a test


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


@dataclass
class Visit:
    """One browser context at one width: records console errors and failed requests, and checks each page it is shown."""

    page: Any
    width: str
    base: str
    problems: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    def check(self, name: str) -> None:
        """axe finds nothing serious or critical; no sideways scroll on a phone; a full-page screenshot is kept."""
        from axe_playwright_python.sync_playwright import Axe

        self.page.wait_for_load_state("load")
        results = Axe().run(self.page)
        bad = [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
               for v in results.response["violations"] if v.get("impact") in BLOCKING]
        assert bad == [], f"axe on {name} at {self.width}:\n" + "\n".join(bad)
        if self.width == "phone":
            scroll = self.page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= WIDTHS["phone"]["width"], f"{name}: the page scrolls sideways ({scroll} px wide)"
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}-{self.width}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)


def _page(browser: Any, problems: list[str], width: str = "desktop") -> Any:
    """A fresh browser context (its own cookies) that records console errors (CSP violations among them) and failed requests."""
    page = browser.new_context(locale="vi-VN", viewport=WIDTHS[width]).new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return page


def _visit(browser: Any, base: str, width: str = "desktop") -> Visit:
    """A page at a width, with the checks each screen gets."""
    problems: list[str] = []
    return Visit(_page(browser, problems, width), width, base, problems)


def _sign_in(visit: Visit, username: str, secret: str | None = None, home: str = "/admin") -> None:
    page = visit.page
    page.goto(f"{visit.base}/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    if secret is not None:
        page.wait_for_url("**/admin/login/totp")
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("form[action='/admin/login/totp'] button[type=submit]")
    page.wait_for_url(f"{visit.base}{home}")


def _queue_ids(page: Any) -> list[int]:
    return [int(x) for x in page.eval_on_selector_all("tr[data-case]", "rows => rows.map(r => r.dataset.case)")]


def _status(page: Any) -> str:
    return str(page.get_attribute("#case-status", "data-status"))


def test_chair_works_a_case_and_transfers_it(db: Session, server: str, browser: Any) -> None:
    """Log in with TOTP, filter, open, reclassify, forward, reply, transfer through the committee picker; the case changes queue."""
    target = file_case(db)  # "Cán bộ địa chính ... sổ đỏ ..."
    other = file_case(db, description="Trưởng thôn tổ chức đánh bạc tại nhà văn hóa")
    chair = make_staff(db, "chu_tich", BEN_THANH, StaffRole.CHAIR)
    make_staff(db, "can_bo_hk", HOAN_KIEM)
    visit = _visit(browser, server)
    page = visit.page

    _sign_in(visit, "chu_tich", chair.secret)
    assert set(_queue_ids(page)) == {target.case.id, other.case.id}

    # Filter: words typed without diacritics find the report written with them.
    page.fill("input[name=q]", "so do dia chinh")
    page.click("#apply-filters")
    page.wait_for_url("**/admin?q=*")
    assert _queue_ids(page) == [target.case.id]

    page.click(f"tr[data-case='{target.case.id}'] a.case-link")
    page.wait_for_url(f"**/admin/cases/{target.case.id}")
    assert _status(page) == "new"

    page.click("#more > summary")
    page.select_option("#reclassify-category", "8")
    page.click("#reclassify")
    page.wait_for_url("**done=reclassify")
    assert page.get_attribute("#case-category", "data-category") == "8"

    page.click("#accept")
    page.wait_for_url("**done=accept")
    today = local_today()
    page.fill("#body-name", "Ủy ban Kiểm tra Đảng ủy phường Bến Thành")
    page.select_option("#body-kind", "inspection_commission")
    page.fill("#forwarded-on", today.isoformat())
    page.check("#complex-case")
    page.click("#forward-submit")
    page.wait_for_url("**done=forward")
    assert _status(page) == "forwarded"
    assert page.inner_text("#due-on").strip() == answer_due(today, complex_case=True).strftime("%d/%m/%Y")

    page.click("#more > summary")
    staff_messages = page.locator(".msg.staff").count()
    assert page.locator("#reply-text").input_value() == ""  # the forwarding's message is queued already: not offered again
    page.fill("#reply-text", "Chúng tôi đã chuyển phản ánh của Anh/Chị đến Ủy ban Kiểm tra. Xin cảm ơn.")
    page.click("#send-reply")
    page.wait_for_url("**done=reply")
    assert page.locator(".msg.staff").count() == staff_messages + 1

    # The committee picker: typed without diacritics, chosen from the list the app serves.
    page.click("#more > summary")
    page.fill("#to-q", "hoan kiem")
    page.wait_for_selector("#to-list [role=option]")
    assert "Hoàn Kiếm" in page.inner_text("#to-list [role=option] >> nth=0")
    page.keyboard.press("Enter")
    assert page.input_value("input[type=hidden][name=to]") == HOAN_KIEM
    page.fill("#transfer-reason", "Người bị phản ánh công tác tại phường Hoàn Kiếm, Hà Nội.")
    page.click("#transfer-submit")
    page.wait_for_url("**/admin?done=transfer")
    assert page.is_visible("#notice")
    assert target.case.id not in _queue_ids(page) and other.case.id in _queue_ids(page)

    # The other committee's officer finds it in their queue.
    visit2 = _visit(browser, server)
    _sign_in(visit2, "can_bo_hk")
    assert _queue_ids(visit2.page) == [target.case.id]
    visit2.page.click(f"tr[data-case='{target.case.id}'] a.case-link")
    assert _status(visit2.page) == "forwarded"
    assert "Hoàn Kiếm" in visit2.page.inner_text("#case-committee")
    assert visit.problems == [] and visit2.problems == [], visit.problems + visit2.problems


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_a_case_from_arrival_to_closing_with_the_next_step_only(db: Session, server: str, browser: Any, width: str) -> None:
    """new → accept → forward → result → reply → close, pressing only what "Bước tiếp theo" offers; each state checked and photographed."""
    filed = file_case(db)
    make_staff(db, "can_bo", BEN_THANH)
    visit = _visit(browser, server, width)
    page = visit.page
    _sign_in(visit, "can_bo")
    visit.check("queue")
    page.click(f"tr[data-case='{filed.case.id}'] a.case-link")
    page.wait_for_url(f"**/admin/cases/{filed.case.id}")
    step = "#next-step"
    visit.check("case-1-new")
    page.click(f"{step} #accept")
    page.wait_for_url("**done=accept")
    assert _status(page) == "verifying"
    visit.check("case-2-verifying")
    page.fill(f"{step} #body-name", "Công an phường Bến Thành")
    page.select_option(f"{step} #body-kind", "police")
    page.click(f"{step} #forward-submit")
    page.wait_for_url("**done=forward")
    assert _status(page) == "forwarded"
    visit.check("case-3-forwarded")
    page.fill(f"{step} #result-text", "Cán bộ địa chính bị kỷ luật khiển trách, đã trả lại tiền.")
    page.click(f"{step} #result-submit")
    page.wait_for_url("**done=result")
    assert _status(page) == "result"
    assert page.is_checked(f"{step} #tells-result")
    assert "kỷ luật khiển trách" in page.locator(f"{step} #reply-text").input_value()
    visit.check("case-4-result")
    page.click(f"{step} #send-reply")
    page.wait_for_url("**done=reply")
    assert _status(page) == "answered"
    visit.check("case-5-answered")
    page.click(f"{step} #close-case")
    page.wait_for_url(f"**/admin/cases/{filed.case.id}/close")
    visit.check("case-6-confirm-close")
    page.click("#confirm-yes")
    page.wait_for_url("**done=close")
    assert _status(page) == "closed"
    assert page.locator("#timeline li").count() >= 6
    visit.check("case-7-closed")
    assert visit.problems == [], visit.problems


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_an_account_is_created_through_the_committee_picker(db: Session, server: str, browser: Any, width: str) -> None:
    """The central administrator types "hung nguyen nghe an", picks xã Hưng Nguyên from the list and adds an officer there."""
    admin = make_staff(db, "quan_tri", "TW", StaffRole.ADMIN)
    visit = _visit(browser, server, width)
    page = visit.page
    _sign_in(visit, "quan_tri", admin.secret, home="/admin/accounts")
    page.fill("#new-username", "can.bo.hung.nguyen")
    page.fill("#new-name", "Nguyễn Thị Hằng")
    page.fill("#committee-q", "hung nguyen nghe an")
    page.wait_for_selector("#committee-list [role=option]")
    options = page.locator("#committee-list [role=option]")
    assert "xã Hưng Nguyên – tỉnh Nghệ An" in options.nth(0).inner_text()
    visit.check("accounts-picker-open")
    options.nth(0).click()
    assert page.input_value("input[type=hidden][name=committee]") == "18001"
    page.click("#add-account-submit")
    page.wait_for_selector("#new-password")
    visit.check("accounts-created")
    db.expire_all()
    user = db.exec(select(StaffUser).where(StaffUser.username == "can.bo.hung.nguyen")).one()
    assert user.committee_id == committee(db, "18001").id
    assert visit.problems == [], visit.problems


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_a_case_is_found_by_its_receipt_code(db: Session, server: str, browser: Any, width: str) -> None:
    """A resident on the phone reads out the receipt code; typed into the search box, it opens the case."""
    filed = file_case(db)
    file_case(db, description="Trưởng thôn tổ chức đánh bạc tại nhà văn hóa")
    make_staff(db, "can_bo", BEN_THANH)
    visit = _visit(browser, server, width)
    page = visit.page
    _sign_in(visit, "can_bo")
    page.fill("input[name=q]", filed.receipt.lower().replace("-", " "))
    visit.check("search-receipt")
    page.click("#apply-filters")
    page.wait_for_url(f"**/admin/cases/{filed.case.id}")
    visit.check("search-receipt-found")
    assert visit.problems == [], visit.problems


def test_a_notification_mail_reaches_the_local_smtp_server(db: Session, mail: MailServer, server: str, browser: Any) -> None:
    """An officer gives an address under «Thông báo»; a new case in the queue is mailed (STARTTLS) with its number and link, and counted unread."""
    from intake import notices
    from intake.mail import SmtpMailer

    make_staff(db, "can_bo", BEN_THANH)
    visit = _visit(browser, server)
    page = visit.page
    _sign_in(visit, "can_bo")
    page.click("#nav-notifications")
    page.fill("#email", "can.bo@mttq.example.vn")
    page.click("#save-mail")
    page.wait_for_url("**done=saved")
    filed = file_case(db)
    assert notices.send_pending(db, SmtpMailer(get_settings())) == 1  # what the mail job of `serve` runs
    (msg,) = mail.received.messages
    assert mail.received.secure == [True] and msg["To"] == "can.bo@mttq.example.vn"
    link = re.search(r"http://\S+/admin/cases/(\d+)", msg.get_content())
    assert link and int(link.group(1)) == filed.case.id and "sổ đỏ" not in msg.get_content()
    page.goto(f"{server}/admin/notifications")
    assert page.inner_text("#unread-count") == "1"
    visit.check("notifications")
    page.click(f"#new-cases a[href='/admin/cases/{filed.case.id}']")
    page.wait_for_url(f"**/admin/cases/{filed.case.id}")
    assert page.locator("#unread-count").count() == 0
    assert visit.problems == [], visit.problems


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_every_page_passes_axe_and_fits_a_phone(db: Session, server: str, browser: Any, width: str) -> None:
    """Queue (with overdue and due-soon rows), dashboard, report, record form, templates, settings, notifications, deliveries."""
    today = local_today()
    for k in range(6):
        quick_case(db, BEN_THANH, days_ago=3 * k, first_due_on=today if k % 2 else None, commune_code=BEN_THANH, category=k + 1,
                   accused_position="chủ tịch UBND phường", accused_agency="UBND phường Bến Thành", place_text="phường Bến Thành")
    quick_case(db, BEN_THANH, status="forwarded", forwarded_on=today, due_on=answer_due(today), commune_code=BEN_THANH)
    quick_case(db, "79", commune_code=BEN_THANH)
    chair = make_staff(db, "chu_tich", BEN_THANH, StaffRole.CHAIR)
    visit = _visit(browser, server, width)
    page = visit.page
    _sign_in(visit, "chu_tich", chair.secret)
    visit.check("queue-chair")
    for path, name in (("/admin/dashboard", "dashboard"), ("/admin/reports", "reports"), ("/admin/record", "record"),
                       ("/admin/templates", "templates"), ("/admin/settings", "settings"), ("/admin/notifications", "notifications-empty"),
                       ("/admin/deliveries", "deliveries"), ("/admin/password", "password")):
        page.goto(f"{server}{path}")
        visit.check(name)
    case = db.exec(select(Case).where(Case.status == "forwarded")).first()
    assert case is not None
    page.goto(f"{server}/admin/cases/{case.id}")
    page.click("#more > summary")
    visit.check("case-more-open")
    province = make_staff(db, "tinh", "79")
    visit2 = _visit(browser, server, width)
    _sign_in(visit2, "tinh")
    visit2.page.goto(f"{server}/admin/dashboard")
    visit2.check("dashboard-province")
    admin = make_staff(db, "quan_tri", BEN_THANH, StaffRole.ADMIN)
    visit3 = _visit(browser, server, width)
    _sign_in(visit3, "quan_tri", admin.secret, home="/admin/accounts")
    visit3.check("accounts")
    assert province.user.id and visit.problems == [] and visit2.problems == [] and visit3.problems == []


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_information_a_reporter_adds_reaches_the_officer(db: Session, server: str, browser: Any, width: str) -> None:
    """The notice, its mark in the queue, the timeline, «đã xem», the name correction and «Không, quay lại» keeping the reason."""
    from intake import casework
    from intake.actions import add_resident_message, describe_case

    officer = make_staff(db, "can_bo", BEN_THANH)
    officer.user.display_name = "Nguyễn Thị Lan"
    closed = quick_case(db, BEN_THANH, status="closed")
    filed = file_case(db)
    casework.accept_case(db, case=filed.case, actor=officer.user)
    casework.record_forwarding(db, case=filed.case, actor=officer.user, body_kind="peoples_committee",
                               body_name="UBND phường Bến Thành", forwarded_on=local_today())
    describe_case(db, filed.case, language="vi")
    for case_id in (closed.id, filed.case.id):
        add_resident_message(db, case_id=int(case_id), text="Tôi gửi thêm ảnh biên lai")  # type: ignore[arg-type]
    db.commit()
    visit = _visit(browser, server, width)
    page = visit.page
    _sign_in(visit, "can_bo")
    assert page.locator(f"#added-{filed.case.id}").count() == 1
    visit.check("added-queue")
    page.goto(f"{server}/admin/notifications")
    assert "vụ việc đã đóng" in page.inner_text("#new-cases")
    visit.check("added-notifications")
    page.goto(f"{server}/admin/cases/{filed.case.id}")
    assert "Người phản ánh đã xem ngày" in page.inner_text("#thread")
    assert " :" not in page.inner_text("#timeline")
    page.click("#more > summary")
    page.fill("#correct-name", "Lê Văn Tám")
    page.click("#correct-submit")
    page.wait_for_url("**done=correct")
    assert "Lê Văn Tám" in page.inner_text("#report")
    visit.check("added-case")
    new = file_case(db, description="Trưởng thôn tổ chức đánh bạc tại nhà văn hóa")
    page.goto(f"{server}/admin/cases/{new.case.id}")
    page.fill("#next-step #oos-reason", "Tranh chấp dân sự giữa hai hộ, thuộc thẩm quyền Tòa án")
    page.click("#next-step #out-of-scope")
    page.wait_for_url(f"**/admin/cases/{new.case.id}/out-of-scope")
    visit.check("added-confirm")
    page.click("#confirm-no")
    page.wait_for_load_state("load")
    assert page.locator("#next-step #oos-reason").input_value() == "Tranh chấp dân sự giữa hai hộ, thuộc thẩm quyền Tòa án"
    visit.check("added-back")
    assert visit.problems == [], visit.problems
