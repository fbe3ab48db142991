"""Pick, don't type codes: the committee picker over every committee, by name without diacritics, with or without script."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from intake.committee_search import committee_index
from intake.models import AuditEntry, Case, StaffRole, StaffUser
from tests.admin.conftest import BEN_THANH, HOAN_KIEM, committee, csrf_for, make_staff, quick_case, signed_in

HUNG_NGUYEN = "18001"  # xã Hưng Nguyên, tỉnh Nghệ An (40)
HUNG_NGUYEN_NAM = "18028"


def test_search_by_name_without_diacritics_words_in_any_order(db: Session) -> None:
    """"hung nguyen nghe an" finds xã Hưng Nguyên first; the province by name or code; a typo still finds it."""
    index = committee_index(db)
    assert [c.code for c in index.search("hung nguyen nghe an")][:2] == [HUNG_NGUYEN, HUNG_NGUYEN_NAM]
    assert index.search("nghe an hung nguyen")[0].code == HUNG_NGUYEN
    assert index.search("Nghệ An")[0].code == "40"
    assert index.search("40")[0].code == "40"
    assert index.search("ha noi")[0].label() == "Ủy ban MTTQ Việt Nam thành phố Hà Nội"
    assert HUNG_NGUYEN in [c.code for c in index.search("hung nguyn nghe an")]
    assert index.search("ben thanh")[0].label() == "Ủy ban MTTQ Việt Nam phường Bến Thành – thành phố Hồ Chí Minh"
    assert len(index.choices) == 3356
    one, _ = index.resolve("hung nguyen nghe an")
    assert one is not None and one.code == HUNG_NGUYEN  # every word of its name typed, and no other's


def test_the_picker_answers_only_within_what_the_account_may_choose(db: Session) -> None:
    """An admin of Hồ Chí Minh City is offered its own committees; an officer cannot use the accounts picker at all."""
    admin = signed_in(make_staff(db, "qt", "79", StaffRole.ADMIN))
    found = admin.get("/admin/committees/search?scope=accounts&q=ben thanh").json()
    assert found[0] == {"code": BEN_THANH, "label": "Ủy ban MTTQ Việt Nam phường Bến Thành – thành phố Hồ Chí Minh"}
    assert admin.get("/admin/committees/search?scope=accounts&q=hoan kiem").json() == []
    officer = signed_in(make_staff(db, "cb", BEN_THANH))
    assert officer.get("/admin/committees/search?scope=accounts&q=ben").status_code == 404
    assert officer.get("/admin/committees/search?scope=nonsense&q=ben").status_code == 404
    communes = officer.get("/admin/committees/search?scope=commune&q=nghe an").json()
    assert communes and all(c["code"] != "40" for c in communes)  # a place is a commune, not the province


def test_the_transfer_picker_never_offers_the_holder_or_a_case_of_another_committee(db: Session) -> None:
    """The committee holding the case is not offered; another committee's case answers 404."""
    case = quick_case(db, BEN_THANH)
    foreign = quick_case(db, HOAN_KIEM)
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    codes = [c["code"] for c in client.get(f"/admin/committees/search?scope=transfer&case={case.id}&q=ben thanh").json()]
    assert BEN_THANH not in codes
    assert HOAN_KIEM in [c["code"] for c in client.get(f"/admin/committees/search?scope=transfer&case={case.id}&q=hoan kiem").json()]
    assert client.get(f"/admin/committees/search?scope=transfer&case={foreign.id}&q=ben").status_code == 404


def test_an_account_is_made_by_picking_its_committee_without_script(db: Session) -> None:
    """The central admin types "hung nguyen nghe an" and presses Add: the account is made in xã Hưng Nguyên."""
    client = signed_in(make_staff(db, "qt", "TW", StaffRole.ADMIN))
    page = client.get("/admin/accounts").text
    assert 'name="committee_q"' in page and 'role="combobox"' in page and 'name="committee" value="TW"' in page
    r = client.post("/admin/accounts", data={"csrf": csrf_for(client), "username": "can.bo.hn", "role": "officer",
                                             "committee": "", "committee_q": "hung nguyen nghe an"})
    assert r.status_code == 200 and 'id="new-password"' in r.text
    user = db.exec(select(StaffUser).where(StaffUser.username == "can.bo.hn")).one()
    assert user.committee_id == committee(db, HUNG_NGUYEN).id


def test_an_ambiguous_name_lists_the_committees_and_keeps_what_was_typed(db: Session) -> None:
    """"tan phu" matches communes of several provinces: the form comes back naming the field, everything kept, to choose one."""
    client = signed_in(make_staff(db, "qt", "TW", StaffRole.ADMIN))
    r = client.post("/admin/accounts", data={"csrf": csrf_for(client), "username": "can.bo.tp", "display_name": "Trần Văn Phú",
                                             "role": "chair", "committee_q": "tan phu"})
    assert r.status_code == 400
    assert "Ủy ban: có nhiều Ủy ban khớp" in r.text and 'id="committee-error"' in r.text
    assert 'value="can.bo.tp"' in r.text and 'value="Trần Văn Phú"' in r.text and 'value="tan phu"' in r.text
    assert re.search(r'<option value="chair"\s+selected', r.text)
    choices = re.findall(r'<input type="radio" name="committee" value="(\d+)"', r.text)
    assert "26116" in choices and len(choices) > 2  # xã Tân Phú, Đồng Nai among them
    assert db.exec(select(StaffUser).where(StaffUser.username == "can.bo.tp")).first() is None
    r = client.post("/admin/accounts", data={"csrf": csrf_for(client), "username": "can.bo.tp", "role": "chair",
                                             "committee": "26116", "committee_q": "tan phu"})
    assert 'id="new-password"' in r.text
    assert db.exec(select(StaffUser).where(StaffUser.username == "can.bo.tp")).one().committee_id == committee(db, "26116").id


def test_find_lists_matches_and_a_wrong_name_says_so(db: Session) -> None:
    """"Tìm" is the plain search without script: it lists matches and makes nothing; a name that matches nothing is named as such."""
    client = signed_in(make_staff(db, "qt", "TW", StaffRole.ADMIN))
    r = client.post("/admin/accounts", data={"csrf": csrf_for(client), "username": "moi", "committee_q": "hung nguyen", "find": "committee"})
    assert r.status_code == 200 and f'value="{HUNG_NGUYEN}"' in r.text and 'id="committee-error"' not in r.text
    assert db.exec(select(StaffUser).where(StaffUser.username == "moi")).first() is None
    r = client.post("/admin/accounts", data={"csrf": csrf_for(client), "username": "moi", "committee_q": "qqqq xxxx"})
    assert r.status_code == 400 and "không có Ủy ban nào có tên này" in r.text and 'value="qqqq xxxx"' in r.text
    r = client.post("/admin/accounts", data={"csrf": csrf_for(client), "username": "Có Dấu", "committee": "TW"})
    assert r.status_code == 400 and "Tên đăng nhập:" in r.text and 'value="Có Dấu"' in r.text


def test_a_case_is_transferred_to_a_committee_typed_by_name(db: Session) -> None:
    """The chair types "hoan kiem ha noi" without choosing from a list: the case goes to phường Hoàn Kiếm."""
    case = quick_case(db, BEN_THANH)
    chair = signed_in(make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR))
    page = chair.get(f"/admin/cases/{case.id}").text
    assert 'name="to_q"' in page and 'data-scope="transfer"' in page and "<optgroup" not in page
    r = chair.post(f"/admin/cases/{case.id}/transfer", data={"csrf": csrf_for(chair), "to": "", "to_q": "hoan kiem ha noi",
                                                            "reason": "Người bị phản ánh công tác ở Hoàn Kiếm"}, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Case, case.id).committee_id == committee(db, HOAN_KIEM).id  # type: ignore[union-attr]
    r = chair.post(f"/admin/cases/{quick_case(db, BEN_THANH).id}/transfer",
                   data={"csrf": csrf_for(chair), "to_q": "tan phu", "reason": "Lý do chuyển đi"})
    assert r.status_code == 400 and "Ủy ban nhận vụ việc: có nhiều Ủy ban khớp" in r.text and "Lý do chuyển đi" in r.text


def test_the_queue_filters_by_a_commune_picked_by_name(db: Session) -> None:
    """A province filters its queue by a commune typed by name (the place of the cases), no code needed."""
    here = quick_case(db, "79", commune_code=BEN_THANH, province_code="79")
    quick_case(db, "79", commune_code="26740", province_code="79")
    client = signed_in(make_staff(db, "tinh", "79"))
    html = client.get("/admin?commune_q=ben thanh").text
    assert re.findall(r'data-case="(\d+)"', html) == [str(here.id)]
    assert 'name="commune" value="26743"' in html


def test_a_recorded_report_s_commune_is_picked_by_name(db: Session) -> None:
    """Recording a phoned-in report: the commune typed by name is the report's place."""
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    page = client.get("/admin/record").text
    assert 'name="commune_q"' in page and 'name="commune_code"' not in page
    r = client.post("/admin/record", data={"csrf": csrf_for(client), "channel": "hotline", "received_on": "2026-12-01", "mode": "anonymous",
                                           "description": "Cán bộ địa chính đòi tiền làm sổ đỏ", "commune_q": "ben thanh ho chi minh"})
    assert r.status_code == 200 and 'id="receipt"' in r.text
    case = db.exec(select(Case)).one()
    assert case.commune_code == BEN_THANH
    assert db.exec(select(AuditEntry).where(AuditEntry.action == "case.recorded")).first() is not None
