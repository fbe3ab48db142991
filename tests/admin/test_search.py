"""Find a case the way people ask for it: by the receipt code a resident reads out, by who, by which unit, by words."""

from __future__ import annotations

import re

from sqlmodel import Session

from tests.admin.conftest import BEN_THANH, HOAN_KIEM, file_case, make_staff, quick_case, signed_in


def _ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-case="(\d+)"', html)]


def test_a_receipt_code_read_out_opens_its_case(db: Session) -> None:
    """The exact code, however it is typed (lower case, spaces), opens the case of the officer's committee."""
    filed = file_case(db)
    file_case(db, description="Trưởng thôn đánh bạc ở nhà văn hóa")
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    r = client.get("/admin", params={"q": filed.receipt}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/cases/{filed.case.id}"
    spoken = filed.receipt.lower().replace("-", " ")
    assert client.get("/admin", params={"q": spoken}, follow_redirects=False).headers["location"] == f"/admin/cases/{filed.case.id}"


def test_another_committee_s_receipt_code_finds_nothing(db: Session) -> None:
    """A code held by another committee's case is answered as if it did not exist: no case, no hint of where it is."""
    elsewhere = file_case(db, place=("01", HOAN_KIEM))
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    r = client.get("/admin", params={"q": elsewhere.receipt}, follow_redirects=False)
    assert r.status_code == 200 and 'id="receipt-not-found"' in r.text and _ids(r.text) == []
    assert f"/admin/cases/{elsewhere.case.id}" not in r.text


def test_search_by_accused_name_unit_and_words(db: Session) -> None:
    """The accused's name, the unit and words of the report are found without diacritics."""
    named = quick_case(db, BEN_THANH, accused_name="Nguyễn Văn Bình", accused_agency="Ban quản lý chợ Bến Thành",
                       description="Thu tiền sạp chợ không có biên lai")
    other = quick_case(db, BEN_THANH, accused_name="Trần Thị Hoa", accused_agency="Trạm y tế phường", description="Bán thuốc cấp phát miễn phí")
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    assert _ids(client.get("/admin?q=nguyen van binh").text) == [named.id]
    assert _ids(client.get("/admin?q=tram y te").text) == [other.id]
    assert _ids(client.get("/admin?q=bien lai").text) == [named.id]
    assert 'id="receipt-not-found"' not in client.get("/admin?q=bien lai").text


def test_words_typed_on_the_open_tab_find_ended_cases_too(db: Session) -> None:
    """A resident disputing a result names a case that is closed already: the search looks through every case,
    open ones first; in one status's tab it stays in that tab and offers the search over every case."""
    closed = quick_case(db, BEN_THANH, status="closed", accused_name="Trần Văn Bình", is_open=False)
    open_one = quick_case(db, BEN_THANH, accused_name="Trần Văn Bình", description="Vẫn làm ở bộ phận một cửa")
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    page = client.get("/admin?q=tran van binh").text
    assert _ids(page) == [open_one.id, closed.id]
    assert 'id="tab-all" class="current"' in page
    in_tab = client.get("/admin?status=new&q=tran van binh&category=7").text
    assert _ids(in_tab) == [open_one.id] and 'id="search-all"' not in in_tab
    nothing = client.get("/admin?status=verifying&q=tran van binh").text
    assert _ids(nothing) == []
    link = re.search(r'<a href="([^"]+)" id="search-all"', nothing)
    assert link is not None
    assert _ids(client.get(link.group(1).replace("&amp;", "&")).text) == [open_one.id, closed.id]


def test_the_queue_names_the_place_as_the_gazetteer_does(db: Session) -> None:
    """What the resident typed without diacritics is shown as the place it was resolved to; the case page keeps both."""
    case = quick_case(db, BEN_THANH, place_text="p ben thanh q1 tphcm", province_code="79", commune_code=BEN_THANH)
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    queue = client.get("/admin").text
    assert "Phường Bến Thành, Thành phố Hồ Chí Minh" in queue and "p ben thanh q1 tphcm" not in queue
    page = client.get(f"/admin/cases/{case.id}").text
    assert "Phường Bến Thành, Thành phố Hồ Chí Minh" in page and "p ben thanh q1 tphcm" in page


def test_a_name_the_reporter_gave_later_is_recorded_audited_and_found(db: Session) -> None:
    """«Sửa …» takes the accused's name: the case is found by it, and the audit row names the field, never the name."""
    from sqlmodel import select

    from intake.models import AuditEntry, Case
    from tests.admin.conftest import csrf_for

    case = quick_case(db, BEN_THANH, accused_position="cán bộ địa chính", accused_agency="UBND phường", province_code="79",
                      commune_code=BEN_THANH, place_text="phường Bến Thành")
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    page = client.get(f"/admin/cases/{case.id}").text
    assert 'name="accused_name"' in page
    assert _ids(client.get("/admin", params={"q": "le van tam"}).text) == []
    r = client.post(f"/admin/cases/{case.id}/correct", data={
        "csrf": csrf_for(client), "accused_name": "Lê Văn Tám", "accused_position": "cán bộ địa chính", "accused_agency": "UBND phường",
        "place_text": "phường Bến Thành", "commune_code": BEN_THANH, "setting": "workplace",
    }, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Case, case.id).accused_name == "Lê Văn Tám"  # type: ignore[union-attr]
    assert _ids(client.get("/admin", params={"q": "le van tam"}).text) == [case.id]
    audit = db.exec(select(AuditEntry).where(AuditEntry.case_id == case.id, AuditEntry.action == "case.corrected")).one()
    assert audit.details["fields"] == ["name"] and "Tám" not in str(audit.details)
    # A request without the field (an older form) leaves the name alone.
    client.post(f"/admin/cases/{case.id}/correct", data={
        "csrf": csrf_for(client), "accused_position": "cán bộ tư pháp", "accused_agency": "UBND phường",
        "place_text": "phường Bến Thành", "commune_code": BEN_THANH, "setting": "workplace",
    })
    db.expire_all()
    assert db.get(Case, case.id).accused_name == "Lê Văn Tám"  # type: ignore[union-attr]
