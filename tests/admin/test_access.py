"""Access rules for every admin route × role × committee (own and other), CSRF on every form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from intake.attachments import store_attachment
from intake.casework.policy import ROLE_PERMS, Perm
from intake.crypto import encrypt
from intake.deadlines import local_today
from intake.models import AuditEntry, Case, CaseTransfer, OutboxMessage, ReporterIdentity, StaffRole
from phananh.web import create_app
from tests.admin.conftest import (
    BEN_THANH, HOAN_KIEM, PASSWORD, Account, committee, csrf_for, csrf_of, make_staff, quick_case, signed_in,
)

ROLES = (StaffRole.VIEWER, StaffRole.OFFICER, StaffRole.CHAIR, StaffRole.ADMIN)


@dataclass
class Who:
    role: StaffRole
    own: bool
    account: Account
    client: TestClient
    csrf: str

    def __str__(self) -> str:
        return f"{self.role.value}@{'own' if self.own else 'other'}"


def _everyone(db: Session) -> list[Who]:
    people = []
    for role in ROLES:
        for own, code in ((True, BEN_THANH), (False, HOAN_KIEM)):
            account = make_staff(db, f"{role.value}_{'own' if own else 'other'}", code, role)
            client = signed_in(account)
            people.append(Who(role, own, account, client, csrf_for(client)))
    return people


@dataclass
class CaseRoute:
    """A route on one case: how to prepare the case, the request, the permission and the audit it leaves."""

    name: str
    method: str
    path: str  # {id}, {att}, {tid} filled in
    perm: Perm
    audit: str | None
    status: str = "new"
    form: Callable[[Session, Case], dict[str, Any]] = lambda db, c: {}
    prepare: Callable[[Session, Case], dict[str, Any]] = lambda db, c: {}
    ok: int = 303


def _attachment(db: Session, case: Case) -> dict[str, Any]:
    att = store_attachment(db, data=b"bien ban lam viec", content_type="text/plain", kind="document", case_id=case.id)
    db.commit()
    return {"att": att.id}


def _identity(db: Session, case: Case) -> dict[str, Any]:
    case.anonymity = "confidential"
    db.add(ReporterIdentity(case_id=case.id, name_enc=encrypt("Lê Văn C"), phone_enc=encrypt("0901234567")))  # type: ignore[arg-type]
    db.commit()
    return {}


def _pending_transfer(db: Session, case: Case) -> dict[str, Any]:
    t = CaseTransfer(case_id=case.id, kind="transfer", from_committee_id=case.committee_id,  # type: ignore[arg-type]
                     to_committee_id=committee(db, HOAN_KIEM).id, reason="thẩm quyền")  # type: ignore[arg-type]
    db.add(t)
    db.commit()
    return {"tid": t.id}


def _forwarded(db: Session, case: Case) -> dict[str, Any]:
    case.forwarded_on = local_today()
    case.due_on = local_today()
    db.commit()
    return {}


def _officer_id(db: Session, case: Case) -> dict[str, Any]:
    from intake.models import StaffUser

    officer = db.exec(select(StaffUser).where(StaffUser.username == "officer_own")).one()
    return {"assignee": str(officer.id)}


def _primary(db: Session, case: Case) -> dict[str, Any]:
    return {"primary": str(quick_case(db, BEN_THANH).id)}


TODAY = local_today().isoformat()
CASE_ROUTES = [
    CaseRoute("case page", "GET", "/admin/cases/{id}", Perm.VIEW, None, ok=200),
    CaseRoute("download", "GET", "/admin/cases/{id}/attachments/{att}", Perm.DOWNLOAD, "attachment.downloaded", prepare=_attachment, ok=200),
    CaseRoute("accept", "POST", "/admin/cases/{id}/accept", Perm.WORK, "case.accepted"),
    CaseRoute("out of scope", "POST", "/admin/cases/{id}/out-of-scope", Perm.WORK, "case.out_of_scope", form=lambda db, c: {"reason": "Tranh chấp dân sự", "confirm": "1"}),
    CaseRoute("reclassify", "POST", "/admin/cases/{id}/reclassify", Perm.WORK, "case.reclassified", form=lambda db, c: {"category": "3"}),
    CaseRoute("assign", "POST", "/admin/cases/{id}/assign", Perm.WORK, "case.assigned", form=_officer_id),
    CaseRoute("ask info", "POST", "/admin/cases/{id}/ask-info", Perm.WORK, "case.info_requested", form=lambda db, c: {"question": "Khi nào?"}),
    CaseRoute("note", "POST", "/admin/cases/{id}/note", Perm.WORK, "case.note_added", form=lambda db, c: {"text": "ghi chú"}),
    CaseRoute("transfer", "POST", "/admin/cases/{id}/transfer", Perm.REQUEST_TRANSFER, None, form=lambda db, c: {"to": HOAN_KIEM, "reason": "thẩm quyền"}),
    CaseRoute("escalate", "POST", "/admin/cases/{id}/escalate", Perm.REQUEST_TRANSFER, None, form=lambda db, c: {"reason": "lãnh đạo phường"}),
    CaseRoute("decide transfer", "POST", "/admin/transfers/{tid}/decide", Perm.DECIDE_TRANSFER, "case.transferred", prepare=_pending_transfer, form=lambda db, c: {"decision": "approve"}),
    CaseRoute("merge", "POST", "/admin/cases/{id}/merge", Perm.WORK, "case.merged", form=lambda db, c: {**_primary(db, c), "confirm": "1"}),
    CaseRoute("forward", "POST", "/admin/cases/{id}/forward", Perm.WORK, "case.forwarded",
              form=lambda db, c: {"body_kind": "police", "body_name": "Công an phường", "forwarded_on": TODAY}),
    CaseRoute("result", "POST", "/admin/cases/{id}/result", Perm.WORK, "case.result_recorded", status="forwarded", prepare=_forwarded,
              form=lambda db, c: {"result_on": TODAY, "text": "Đã kỷ luật"}),
    CaseRoute("reply", "POST", "/admin/cases/{id}/reply", Perm.WORK, "case.replied", status="verifying", form=lambda db, c: {"text": "Chào Anh/Chị"}),
    CaseRoute("close", "POST", "/admin/cases/{id}/close", Perm.WORK, "case.closed", status="verifying", form=lambda db, c: {"confirm": "1"}),
    CaseRoute("reopen", "POST", "/admin/cases/{id}/reopen", Perm.REOPEN, "case.reopened", status="closed", form=lambda db, c: {"reason": "Có thông tin mới"}),
    CaseRoute("identity", "POST", "/admin/cases/{id}/identity", Perm.VIEW_IDENTITY, "identity.viewed", prepare=_identity,
              form=lambda db, c: {"reason": "xác minh theo đơn"}, ok=200),
]


def _audited(db: Session, case_id: int, action: str) -> bool:
    db.expire_all()
    return db.exec(select(AuditEntry).where(AuditEntry.case_id == case_id, AuditEntry.action == action)).first() is not None


def test_case_routes_for_every_role_and_committee(db: Session) -> None:
    """Own committee: allowed by role (the action happens) or 404; another committee: always 404."""
    people = _everyone(db)
    for route in CASE_ROUTES:
        for who in people:
            case = quick_case(db, BEN_THANH, status=route.status)
            ids = {"id": case.id, **route.prepare(db, case)}
            path = route.path.format(**ids)
            if route.method == "GET":
                r = who.client.get(path, follow_redirects=False)
            else:
                r = who.client.post(path, data={"csrf": who.csrf, **route.form(db, case)}, follow_redirects=False)
            allowed = who.own and route.perm in ROLE_PERMS[who.role.value]
            expected = route.ok if allowed else 404
            assert r.status_code == expected, f"{route.name} by {who}: {r.status_code}, expected {expected}"
            if route.audit:
                assert _audited(db, case.id, route.audit) == allowed, f"{route.name} by {who}: audit row wrong"  # type: ignore[arg-type]
            if route.name in ("transfer", "escalate") and allowed:
                db.expire_all()
                moved = db.get(Case, case.id).committee_id != committee(db, BEN_THANH).id  # type: ignore[union-attr]
                # The chair's transfer takes effect; anyone else's waits for the chair.
                assert moved == (Perm.DECIDE_TRANSFER in ROLE_PERMS[who.role.value]), f"{route.name} by {who}"


@dataclass
class PageRoute:
    name: str
    method: str
    path: str
    perm: Perm
    form: dict[str, str]
    ok: int = 200


def _user_id(db: Session, username: str) -> int:
    from intake.models import StaffUser

    return db.exec(select(StaffUser.id).where(StaffUser.username == username)).one()  # type: ignore[return-value]


def test_committee_routes_for_every_role(db: Session) -> None:
    """Queue, dashboard, reports, exports, recording, templates and accounts follow the role; accounts also the committee."""
    people = _everyone(db)
    quick_case(db, BEN_THANH)
    target = make_staff(db, "someone_own", BEN_THANH).user
    routes = [
        PageRoute("queue", "GET", "/admin", Perm.VIEW, {}),
        PageRoute("dashboard", "GET", "/admin/dashboard", Perm.VIEW, {}),
        PageRoute("report", "GET", "/admin/reports?kind=year&year=2025", Perm.VIEW, {}),
        PageRoute("export", "GET", "/admin/reports/export?kind=year&year=2025&format=csv", Perm.EXPORT, {}),
        PageRoute("record form", "GET", "/admin/record", Perm.RECORD, {}),
        PageRoute("templates", "GET", "/admin/templates", Perm.EDIT_TEMPLATES, {}),
        PageRoute("save template", "POST", "/admin/templates", Perm.EDIT_TEMPLATES, {"kind": "closed", "lang": "vi", "body": "Cảm ơn."}, ok=303),
        PageRoute("accounts", "GET", "/admin/accounts", Perm.MANAGE_ACCOUNTS, {}),
    ]
    for route in routes:
        for who in people:
            if route.method == "GET":
                r = who.client.get(route.path, follow_redirects=False)
            else:
                r = who.client.post(route.path, data={"csrf": who.csrf, **route.form}, follow_redirects=False)
            if route.name == "queue" and who.role is StaffRole.ADMIN:
                # No queue for the administrator: the home page sends them on to the accounts.
                assert (r.status_code, r.headers.get("location")) == (303, "/admin/accounts"), f"queue by {who}"
                continue
            expected = route.ok if route.perm in ROLE_PERMS[who.role.value] else 404
            assert r.status_code == expected, f"{route.name} by {who}: {r.status_code}, expected {expected}"
    # Managing one account: only an admin of its committee (or above it).
    for action in ("password", "totp", "disable"):
        for who in people:
            r = who.client.post(f"/admin/accounts/{target.id}/{action}", data={"csrf": who.csrf}, follow_redirects=False)
            allowed = who.own and who.role is StaffRole.ADMIN
            assert (r.status_code in (200, 303)) == allowed and (allowed or r.status_code == 404), f"account {action} by {who}: {r.status_code}"


def test_province_admin_manages_its_communes_accounts(db: Session) -> None:
    """A provincial admin sees and manages accounts of its communes; a commune admin not the province's."""
    province_admin = make_staff(db, "admin_tinh", "79", StaffRole.ADMIN)
    commune_admin = make_staff(db, "admin_xa", BEN_THANH, StaffRole.ADMIN)
    commune_officer = make_staff(db, "can_bo_xa", BEN_THANH)
    client = signed_in(province_admin)
    page = client.get("/admin/accounts")
    assert page.status_code == 200 and "admin_xa" in page.text and "can_bo_xa" in page.text
    r = client.post(f"/admin/accounts/{commune_officer.user.id}/password", data={"csrf": csrf_for(client)})
    assert r.status_code == 200 and 'id="new-password"' in r.text
    other = signed_in(commune_admin)
    assert "admin_tinh" not in other.get("/admin/accounts").text
    r = other.post(f"/admin/accounts/{province_admin.user.id}/password", data={"csrf": csrf_for(other)}, follow_redirects=False)
    assert r.status_code == 404
    r = other.post("/admin/accounts", data={"csrf": csrf_for(other), "username": "moi_tinh", "role": "officer", "committee": "79"})
    assert r.status_code == 400 and 'id="committee-error"' in r.text and 'value="moi_tinh"' in r.text


POST_ROUTES = [
    "/admin/cases/{id}/accept", "/admin/cases/{id}/out-of-scope", "/admin/cases/{id}/reclassify", "/admin/cases/{id}/assign",
    "/admin/cases/{id}/ask-info", "/admin/cases/{id}/note", "/admin/cases/{id}/transfer", "/admin/cases/{id}/escalate",
    "/admin/cases/{id}/merge", "/admin/cases/{id}/forward", "/admin/cases/{id}/result", "/admin/cases/{id}/reply",
    "/admin/cases/{id}/close", "/admin/cases/{id}/identity", "/admin/transfers/1/decide", "/admin/record",
    "/admin/templates", "/admin/accounts", "/admin/accounts/{uid}/disable", "/admin/accounts/{uid}/password",
    "/admin/accounts/{uid}/totp", "/admin/language", "/admin/logout", "/admin/cases/{id}/reopen", "/admin/cases/assign",
    "/admin/settings", "/admin/notifications/read", "/admin/notifications/settings",
]


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_every_form_refuses_a_missing_or_wrong_csrf_token(db: Session, token: str) -> None:
    """Every POST route answers 403 to a bad CSRF token, and nothing is audited."""
    admin = make_staff(db, "qt", BEN_THANH, StaffRole.ADMIN)
    client = signed_in(admin)
    case = quick_case(db, BEN_THANH)
    before = len(db.exec(select(AuditEntry)).all())
    data = {"csrf": token, "reason": "x", "text": "x", "decision": "approve", "lang": "en", "kind": "closed", "body": "x",
            "username": "moi", "category": "3", "primary": "1"}
    for route in POST_ROUTES:
        r = client.post(route.format(id=case.id, uid=admin.user.id), data=data, follow_redirects=False)
        assert r.status_code in (403, 422), f"{route}: {r.status_code}"
        if r.status_code == 422:
            assert token == "", route  # FastAPI refuses a missing required field before the check
    db.expire_all()
    assert len(db.exec(select(AuditEntry)).all()) == before


def test_every_route_needs_a_session(db: Session) -> None:
    """Signed out, every admin page and form sends the browser to the sign-in page."""
    case = quick_case(db, BEN_THANH)
    client = TestClient(create_app())
    gets = ["/admin", "/admin/cases/{id}", "/admin/cases/{id}/attachments/1", "/admin/record", "/admin/dashboard",
            "/admin/reports", "/admin/reports/export?format=csv", "/admin/accounts", "/admin/templates"]
    for route in gets:
        r = client.get(route.format(id=case.id), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/admin/login", route
    for route in POST_ROUTES:
        if route == "/admin/record":
            continue  # multipart: checked below
        r = client.post(route.format(id=case.id, uid=1), data={"csrf": "x", "reason": "x", "text": "x", "decision": "x",
                                                              "lang": "vi", "kind": "x", "category": "1"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/admin/login", route
    r = client.post("/admin/record", data={"csrf": "x"}, follow_redirects=False)
    assert r.status_code == 303


def test_unknown_case_and_others_case_look_the_same(db: Session) -> None:
    """A case of another committee answers exactly like one that does not exist."""
    officer = make_staff(db, "cb", HOAN_KIEM)
    client = signed_in(officer)
    theirs = quick_case(db, BEN_THANH)
    a = client.get(f"/admin/cases/{theirs.id}")
    b = client.get("/admin/cases/987654")
    assert a.status_code == b.status_code == 404 and a.text == b.text


def test_the_administrator_reads_no_case_and_starts_at_the_accounts(db: Session) -> None:
    """An admin signs in to the accounts page; queue, case, evidence, figures, export and templates stay shut to them."""
    admin = make_staff(db, "qt", BEN_THANH, StaffRole.ADMIN)
    case = quick_case(db, BEN_THANH, description="Chủ tịch phường nhận phong bì của nhà thầu")
    _identity(db, case)
    att = _attachment(db, case)["att"]
    client = TestClient(create_app())
    page = client.get("/admin/login")
    r = client.post("/admin/login", data={"username": "qt", "password": PASSWORD, "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.headers["location"] == "/admin/login/totp"
    page = client.get("/admin/login/totp")
    r = client.post("/admin/login/totp", data={"code": pyotp.TOTP(admin.secret).now(), "csrf": csrf_of(page.text)}, follow_redirects=False)  # type: ignore[arg-type]
    assert (r.status_code, r.headers["location"]) == (303, "/admin/accounts")
    home = client.get("/admin/accounts")
    assert home.status_code == 200 and 'id="nav-accounts"' in home.text and 'id="nav-deliveries"' in home.text
    for hidden in ("nav-queue", "nav-dashboard", "nav-reports", "nav-record", "nav-templates"):
        assert f'id="{hidden}"' not in home.text, hidden
    # The home link and the queue send the administrator back to the accounts, never to an empty or refused page.
    r = client.get("/admin", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/admin/accounts")
    assert client.get("/admin?status=new&q=phong").url.path == "/admin/accounts"
    shut = [f"/admin/cases/{case.id}", f"/admin/cases/{case.id}/attachments/{att}", "/admin/reports/export?kind=year&year=2025&format=csv",
            "/admin/reports/export?kind=year&year=2025&format=xlsx&audience=internal", "/admin/reports?kind=year&year=2025",
            "/admin/dashboard", "/admin/templates", "/admin/record"]
    for path in shut:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 404, f"{path}: {r.status_code}"
        assert "phong bì" not in r.text and "Lê Văn C" not in r.text and "bien ban" not in r.text, path
    token = csrf_for(client)
    for path, form in ((f"/admin/cases/{case.id}/note", {"text": "xem thử"}), (f"/admin/cases/{case.id}/identity", {"reason": "xem thử"}),
                       ("/admin/templates", {"kind": "closed", "lang": "vi", "body": "Gửi tiền vào số tài khoản này."})):
        r = client.post(path, data={"csrf": token, **form}, follow_redirects=False)
        assert r.status_code == 404, f"{path}: {r.status_code}"
    db.expire_all()
    trail = db.exec(select(AuditEntry.action).where(AuditEntry.case_id == case.id)).all()
    assert trail == [], trail
    assert db.exec(select(AuditEntry).where(AuditEntry.action.in_(("report.exported", "template.saved")))).first() is None  # type: ignore[attr-defined]


def test_the_administrator_retries_a_dead_letter_without_reading_the_case(db: Session) -> None:
    """The deliveries page shows the admin a case number, never a link, the message or the chat; the retry works and is audited."""
    client = signed_in(make_staff(db, "qt", BEN_THANH, StaffRole.ADMIN))
    case = quick_case(db, BEN_THANH, description="Chủ tịch phường nhận phong bì của nhà thầu")
    row = OutboxMessage(case_id=case.id, channel="telegram", body="Kết quả xác minh: đã kỷ luật", status="dead",  # type: ignore[arg-type]
                        delivery_key="k-admin-retry", attempts=8, last_error="forbidden")
    db.add(row)
    db.commit()
    page = client.get("/admin/deliveries")
    assert page.status_code == 200 and f'data-outbox="{row.id}"' in page.text and f"#{case.id}" in page.text
    assert "/admin/cases/" not in page.text and "đã kỷ luật" not in page.text and "phong bì" not in page.text
    r = client.post(f"/admin/deliveries/{row.id}/retry", data={"csrf": csrf_for(client)}, follow_redirects=False)
    assert r.headers["location"] == "/admin/deliveries?done=retry"
    db.expire_all()
    assert db.get(OutboxMessage, row.id).status == "pending"  # type: ignore[union-attr]
    assert _audited(db, case.id, "outbox.retried")  # type: ignore[arg-type]
    # A dead letter of another committee does not exist for this administrator.
    other = quick_case(db, HOAN_KIEM)
    elsewhere = OutboxMessage(case_id=other.id, channel="zalo", body="x", status="dead", delivery_key="k-admin-other", attempts=8)  # type: ignore[arg-type]
    db.add(elsewhere)
    db.commit()
    assert client.post(f"/admin/deliveries/{elsewhere.id}/retry", data={"csrf": csrf_for(client)}, follow_redirects=False).status_code == 404
