"""Words and screens: named landmarks, the active filter marked, headers never empty, charts with their figures as text, no indexing."""

from __future__ import annotations

import re

from sqlmodel import Session

from intake.models import StaffRole
from tests.admin.conftest import BEN_THANH, make_staff, quick_case, signed_in


def test_the_admin_asks_search_engines_not_to_index_it(db: Session) -> None:
    """Every admin page says noindex twice: in a header and in the page itself (the sign-in page too)."""
    from fastapi.testclient import TestClient

    from phananh.web import create_app

    login = TestClient(create_app()).get("/admin/login")
    assert login.headers["X-Robots-Tag"] == "noindex, nofollow" and '<meta name="robots" content="noindex, nofollow">' in login.text
    page = signed_in(make_staff(db, "cb", BEN_THANH)).get("/admin")
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"


def test_every_nav_is_named_and_the_active_filter_is_marked(db: Session) -> None:
    """The menu, the queue's status filter and the pages are named; the filter in use carries aria-current."""
    quick_case(db, BEN_THANH)
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    html = client.get("/admin?status=new").text
    navs = re.findall(r"<nav([^>]*)>", html)
    assert len(navs) == 3 and all("aria-label=" in n for n in navs)
    current = re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]*)<', html)
    assert "Danh sách phản ánh" in current and any(c.startswith("Mới tiếp nhận") for c in current)
    assert not any(c.startswith("Đang xử lý") for c in current)


def test_no_table_header_is_empty(db: Session) -> None:
    """The accounts table's action column and the queue's tick column have a header a screen reader can say."""
    quick_case(db, BEN_THANH)
    for html in (
        signed_in(make_staff(db, "qt", BEN_THANH, StaffRole.ADMIN)).get("/admin/accounts").text,
        signed_in(make_staff(db, "cb", BEN_THANH)).get("/admin").text,
    ):
        headers = re.findall(r"<th[^>]*>(.*?)</th>", html, re.S)
        assert headers and all(re.sub(r"<[^>]+>", "", h).strip() for h in headers)


def test_charts_give_their_figures_as_text_with_full_names(db: Session) -> None:
    """The bars are tables of names and figures (no name cut into a tooltip); the drawing of the weeks is hidden, its figures listed."""
    quick_case(db, BEN_THANH, category=8, commune_code=BEN_THANH)
    html = signed_in(make_staff(db, "cb", BEN_THANH)).get("/admin/dashboard").text
    assert 'role="img"' not in html
    row = re.search(r'<th scope="row" class="label">Chạy chức, chạy quyền, thao túng công tác cán bộ</th>.*?<td class="value num">1</td>', html, re.S)
    assert row is not None
    assert re.search(r'<svg class="chart columns" aria-hidden="true"', html) and 'class="figures-table"' in html
    assert "Đang xử lý" in signed_in(make_staff(db, "tinh", "79")).get("/admin/dashboard").text  # "Open" as cases, not "Công khai"


def test_the_text_is_readable_on_a_phone(db: Session) -> None:
    """A 16 px base; nothing set below 14 px (0.875rem) in the admin's style sheet."""
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "admin" / "static" / "admin.css").read_text()
    assert re.search(r"body \{[^}]*font: 16px", css)
    sizes = [float(x) for x in re.findall(r"font-size: ([0-9.]+)rem", css)]
    assert sizes and min(sizes) >= 0.875
    assert not re.findall(r"font-size: (?:1[0-3]|[0-9])px", css)
