"""The admin's pages through HTTP: queue filters and search, the case page, recording a report, downloads."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from PIL import Image
from sqlmodel import Session, select

from intake.deadlines import add_working_days, local_today
from intake.models import AuditEntry, Case, CaseMessage, OutboxMessage, StaffRole
from tests.admin.conftest import BEN_THANH, HOAN_KIEM, csrf_for, file_case, make_staff, quick_case, signed_in


def _ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-case="(\d+)"', html)]


def test_queue_filters_search_and_counts(db: Session) -> None:
    """Each filter narrows the queue; search ignores diacritics; counts cover the whole queue."""
    today = local_today()
    a = quick_case(db, BEN_THANH, description="Trưởng công an phường đánh bạc", category=9, channel="hotline")
    b = quick_case(db, BEN_THANH, description="Cán bộ địa chính đòi tiền sổ đỏ", category=7, anonymity="confidential")
    late = quick_case(db, BEN_THANH, status="forwarded", description="Lãng phí nhà văn hóa", category=6,
                      forwarded_on=today - timedelta(days=60), due_on=today - timedelta(days=5))
    soon = quick_case(db, BEN_THANH, status="forwarded", description="Xe công đi việc riêng", category=6,
                      forwarded_on=today - timedelta(days=20), due_on=add_working_days(today, 2))
    fine = quick_case(db, BEN_THANH, status="forwarded", description="Chạy chức", category=8,
                      forwarded_on=today, due_on=add_working_days(today, 20))
    other = quick_case(db, HOAN_KIEM, description="Trưởng công an phường đánh bạc")
    officer = make_staff(db, "cb", BEN_THANH)
    quick_case(db, BEN_THANH, assignee_id=officer.user.id, description="Được giao cho tôi")
    client = signed_in(officer)

    page = client.get("/admin").text
    assert set(_ids(page)) >= {a.id, b.id, late.id, soon.id, fine.id} and other.id not in _ids(page)
    total = re.search(r'id="tab-all"[^>]*>[^<]*\((\d+)\)', page)
    assert total and total.group(1) == "6"  # "All": every case of the committee, whatever the filter
    open_count = re.search(r'id="tab-open"[^>]*>[^<]*\((\d+)\)', page)
    assert open_count and open_count.group(1) == "6"
    assert _ids(client.get("/admin?q=danh bac").text) == [a.id]  # no diacritics typed
    assert _ids(client.get("/admin?q=ĐÁNH BẠC").text) == [a.id]
    assert _ids(client.get("/admin?q=so do dia chinh").text) == [b.id]
    assert _ids(client.get("/admin?category=9").text) == [a.id]
    assert _ids(client.get("/admin?channel=hotline").text) == [a.id]
    assert _ids(client.get("/admin?anonymity=confidential").text) == [b.id]
    assert _ids(client.get("/admin?deadline=overdue").text) == [late.id]
    assert _ids(client.get("/admin?deadline=due_soon").text) == [soon.id]
    assert _ids(client.get("/admin?deadline=on_time").text) == [fine.id]
    assert sorted(_ids(client.get("/admin?status=forwarded").text)) == sorted(c.id or 0 for c in (late, soon, fine))
    assert len(_ids(client.get("/admin?assignee=me").text)) == 1
    assert _ids(client.get("/admin?status=forwarded&sort=due").text) == [late.id, soon.id, fine.id]
    assert _ids(client.get("/admin?q=%25").text) == []  # a LIKE wildcard is searched for, not obeyed
    # The overdue row stands out.
    row = re.search(rf'<tr class="([^"]*)" data-case="{late.id}"', page)
    assert row and "overdue" in row.group(1)
    row = re.search(rf'<tr class="([^"]*)" data-case="{soon.id}"', page)
    assert row and "due-soon" in row.group(1)
    # Nonsense filter values are ignored, never an error.
    assert client.get("/admin?category=abc&page=-3&sort=x&deadline=y&assignee=;drop").status_code == 200


def test_queue_pages(db: Session) -> None:
    """Fifty cases per page, oldest first when no deadline runs, with a link to the next page."""
    for k in range(55):
        quick_case(db, BEN_THANH, days_ago=k)
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    first = client.get("/admin")
    assert len(_ids(first.text)) == 50 and 'rel="next"' in first.text
    second = client.get("/admin?page=2")
    assert len(_ids(second.text)) == 5 and 'rel="next"' not in second.text
    assert min(_ids(first.text)) > max(_ids(second.text))  # older cases (filed with later ids here) come first


def test_case_page_shows_what_the_officer_needs(db: Session) -> None:
    """Report, suggestion with confidence and terms, routing reasons, similar cases, thread and timeline."""
    filed = file_case(db, accused_name="Nguyễn Văn Bình")
    twin = file_case(db, description="Cán bộ địa chính phường đòi 5 triệu đồng mới làm sổ đỏ cho dân ạ", accused_name="nguyen van binh")
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    html = client.get(f"/admin/cases/{filed.case.id}").text
    assert "đòi 5 triệu đồng" in html and "62%" in html and "sổ đỏ" in html
    assert 'id="similar"' in html and f'href="/admin/cases/{twin.case.id}"' in html
    routing = html[html.index('id="routing"'):]
    assert routing.index("<li>") < routing.index("</section>")  # at least one routing reason shown
    token = csrf_for(client)
    client.post(f"/admin/cases/{filed.case.id}/note", data={"csrf": token, "text": "Đã liên hệ tổ dân phố"})
    client.post(f"/admin/cases/{filed.case.id}/accept", data={"csrf": token})
    html = client.get(f"/admin/cases/{filed.case.id}").text
    assert "Đã liên hệ tổ dân phố" in html and 'class="msg note"' in html and 'class="msg staff"' in html
    assert html.count('<span class="when">') >= 3  # submitted, note, accepted
    assert 'data-status="verifying"' in html


def test_case_page_offers_only_permitted_actions(db: Session) -> None:
    """A viewer sees no action forms; the chair sees the identity form on a confidential case."""
    filed = file_case(db, mode="confidential")
    viewer = signed_in(make_staff(db, "xem", BEN_THANH, StaffRole.VIEWER))
    html = viewer.get(f"/admin/cases/{filed.case.id}").text
    assert "/accept" not in html and "/reply" not in html and "/identity" not in html
    chair = signed_in(make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR))
    html = chair.get(f"/admin/cases/{filed.case.id}").text
    assert "/identity" in html and "/accept" in html
    r = chair.post(f"/admin/cases/{filed.case.id}/identity", data={"csrf": csrf_for(chair), "reason": "Xác minh theo đơn"})
    assert r.status_code == 200 and "Nguyễn Văn A" in r.text and "0912345678" in r.text
    assert r.headers["cache-control"] == "no-store"


def test_refused_input_comes_back_with_a_message(db: Session) -> None:
    """A forwarding dated in the future is refused on the case page naming the field, what was typed kept, the case unchanged."""
    filed = file_case(db)
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    future = (local_today() + timedelta(days=3)).isoformat()
    r = client.post(
        f"/admin/cases/{filed.case.id}/forward",
        data={"csrf": csrf_for(client), "body_kind": "police", "body_name": "Công an phường Bến Thành", "forwarded_on": future},
        follow_redirects=False,
    )
    assert r.status_code == 400 and 'id="error"' in r.text
    assert "Ngày chuyển" in r.text and 'value="Công an phường Bến Thành"' in r.text and f'value="{future}"' in r.text
    db.expire_all()
    assert db.get(Case, filed.case.id).status == "new"  # type: ignore[union-attr]
    r = client.post(f"/admin/cases/{filed.case.id}/forward", data={"csrf": csrf_for(client), "forwarded_on": "hôm qua"}, follow_redirects=False)
    assert r.status_code == 400 and 'id="error"' in r.text


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_record_a_letter_through_the_form_and_download_its_scan(db: Session) -> None:
    """A letter with a scan is filed from the form; the receipt is shown; the download is audited."""
    officer = make_staff(db, "cb", BEN_THANH)
    client = signed_in(officer)
    form = client.get("/admin/record")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    r = client.post(
        "/admin/record",
        data={
            "csrf": csrf_for(client), "channel": "letter", "received_on": (local_today() - timedelta(days=2)).isoformat(),
            "mode": "anonymous", "description": "Cán bộ địa chính phường Bến Thành đòi tiền khi làm thủ tục đất đai.",
            "accused_position": "cán bộ địa chính", "place_text": "phường Bến Thành, TP Hồ Chí Minh", "setting": "workplace",
        },
        files=[("files", ("thu.png", _png(), "image/png"))],
    )
    assert r.status_code == 200
    receipt = re.search(r'id="receipt">([A-Z0-9-]+)<', r.text)
    assert receipt and re.search(r'id="passphrase">([a-z0-9-]+)<', r.text)
    case = db.exec(select(Case).where(Case.channel == "letter")).one()
    assert case.commune_code == BEN_THANH
    page = client.get(f"/admin/cases/{case.id}").text
    link = re.search(rf'href="(/admin/cases/{case.id}/attachments/\d+)"', page)
    assert link
    download = client.get(link.group(1))
    assert download.status_code == 200 and download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert Image.open(io.BytesIO(download.content)).size == (8, 8)
    entry = db.exec(select(AuditEntry).where(AuditEntry.action == "attachment.downloaded")).one()
    assert entry.actor_id == officer.user.id and entry.case_id == case.id


def test_record_form_keeps_what_was_typed_when_refused(db: Session) -> None:
    """A place nobody can find sends the form back with the text kept and a message."""
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    r = client.post(
        "/admin/record",
        data={"csrf": csrf_for(client), "channel": "hotline", "received_on": local_today().isoformat(), "mode": "anonymous",
              "description": "Nội dung phản ánh rất dài về cán bộ xã", "place_text": "qwerty zzz"},
    )
    assert r.status_code == 400 and "Nội dung phản ánh rất dài về cán bộ xã" in r.text and 'id="error"' in r.text
    assert db.exec(select(Case)).first() is None


def test_templates_page_edits_what_residents_receive(db: Session) -> None:
    """The chair edits the 'closed' template; closing a case then sends that text."""
    chair = signed_in(make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR))
    page = chair.get("/admin/templates")
    assert page.status_code == 200 and page.text.count("<textarea") == 18
    r = chair.post("/admin/templates", data={"csrf": csrf_for(chair), "kind": "closed", "lang": "vi", "body": "Hồ sơ đã đóng. {committee}"},
                   follow_redirects=False)
    assert r.status_code == 303
    case = quick_case(db, BEN_THANH, status="answered")
    chair.post(f"/admin/cases/{case.id}/close", data={"csrf": csrf_for(chair), "confirm": "1"})
    (row,) = db.exec(select(OutboxMessage).where(OutboxMessage.case_id == case.id)).all()
    assert row.body == "Hồ sơ đã đóng. Ủy ban MTTQ Việt Nam phường Bến Thành"
    assert db.exec(select(CaseMessage).where(CaseMessage.case_id == case.id)).one().body == row.body


def test_accounts_page_creates_an_account_with_a_one_time_password(db: Session) -> None:
    """An admin adds an officer; the password is shown once and works."""
    admin = signed_in(make_staff(db, "qt", BEN_THANH, StaffRole.ADMIN))
    r = admin.post("/admin/accounts", data={"csrf": csrf_for(admin), "username": "can_bo_moi", "role": "officer", "committee": BEN_THANH})
    password = re.search(r"<code>([^<]+)</code>", r.text[r.text.index('id="new-password"'):])
    assert password
    from tests.admin.conftest import login
    from fastapi.testclient import TestClient
    from phananh.web import create_app

    assert login(TestClient(create_app()), "can_bo_moi", password.group(1))
    bad = admin.post("/admin/accounts", data={"csrf": csrf_for(admin), "username": "X", "role": "officer", "committee": BEN_THANH})
    assert 'class="error"' in bad.text


def _count(html: str, status: str) -> int:
    found = re.search(rf'data-count="(\d+)" data-status="{status}"', html)
    assert found, status
    return int(found.group(1))


def test_counts_follow_an_action_at_once(db: Session) -> None:
    """Counts per status are remembered for a while, but an action of this officer shows at once."""
    case = quick_case(db, BEN_THANH)
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    page = client.get("/admin").text
    assert (_count(page, "new"), _count(page, "verifying")) == (1, 0)
    client.post(f"/admin/cases/{case.id}/accept", data={"csrf": csrf_for(client)})
    page = client.get("/admin").text
    assert (_count(page, "new"), _count(page, "verifying")) == (0, 1)


def test_a_file_of_unexpected_type_is_downloaded_as_bytes(db: Session) -> None:
    """An HTML file sent as evidence is never served as a page, only as an attachment of bytes."""
    from intake.attachments import store_attachment

    case = quick_case(db, BEN_THANH)
    att = store_attachment(db, data=b"<script>alert(1)</script>", content_type="text/html", kind="document", case_id=case.id)
    db.commit()
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    r = client.get(f"/admin/cases/{case.id}/attachments/{att.id}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment;") and r.headers["x-content-type-options"] == "nosniff"
