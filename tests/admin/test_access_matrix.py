"""The access-control matrix, generated from the admin app's route table.

Every admin route and method × every staff role × staff of a commune, a province and the central
committee × a resource in each of six committees (the staff's own, a neighbouring commune of the same
province, the province, a commune and the committee of another province, the central committee),
plus a visitor with no session. A route the table below does not know, or whose path parameter the
test cannot fill, fails the test: a new route is covered the day it is added.

The expected outcome comes from the policy written here, from DOMAIN.md and the rules the project
states in words (not from intake.casework.policy, which would check the code against itself):

- a staff account works the cases of its own committee only; a case of any other committee (a
  commune's for a province, a province's for the centre) answers 404, like one that does not exist;
- viewers read; officers and the chair handle cases, record reports and export; only the chair
  decides transfers, sees a confidential reporter's identity (after stating a reason) and edits the
  reply templates (the committee's words to every reporter);
- the system administrator does technical administration only (DOMAIN.md: "accounts, committees,
  keys, retention"): they manage the accounts of their own committee and of the committees below it
  (a province's communes; the centre: all), see the delivery counts and dead letters and put a dead
  letter back, and read nothing of a case: no queue (it sends them to the accounts page), no case
  page, no evidence, no dashboard, no periodic report or export, no templates, not even a link to a case.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from admin.auth import COOKIE
from intake.attachments import store_attachment
from intake.crypto import encrypt
from intake.deadlines import local_today
from intake.models import AuditEntry, Case, CaseTransfer, Committee, OutboxMessage, ReporterIdentity, StaffRole, StaffUser
from intake.staff import open_session
from phananh.web import create_app
from tests.admin.conftest import BEN_THANH, HOAN_KIEM, quick_case

V, O, C, A = StaffRole.VIEWER, StaffRole.OFFICER, StaffRole.CHAIR, StaffRole.ADMIN
KNOWN_ROLES = frozenset({V, O, C, A})
STAFF = frozenset({V, O, C, A})  # every signed-in account
READ = frozenset({V, O, C})  # casework roles: the queue, cases, figures
HANDLE = frozenset({O, C})  # officers and the chair: handling, recording, exporting
RETRY = frozenset({O, C, A})  # a dead letter put back: technical, so the administrator too
CHAIR = frozenset({C})
TEMPLATES = frozenset({C})
ADMIN = frozenset({A})
HOMES = {A: "/admin/accounts"}  # where the queue sends a role that reads no case
NOBODY: frozenset[StaffRole] = frozenset()

# The committees resources live in, and where staff sit (commune, province, central).
PLACES = ("commune", "neighbour", "province", "other_commune", "other_province", "central")
STAFF_AT = ("commune", "province", "central")
# For staff at each level, where the resources they try are: their own committee, another of the same
# province (above, beside or below), another province's, and the central committee.
TRIED = {
    "commune": ("commune", "neighbour", "province", "other_commune", "central"),
    "province": ("province", "commune", "other_province", "other_commune", "central"),
    "central": ("central", "province", "commune", "other_commune"),
}
SECRET_NAME, SECRET_PHONE = "Lê Thị Bí Mật", "0987654321"
TODAY = local_today().isoformat()


@dataclass
class World:
    """The committees, the signed-in staff and helpers that make the resources a route acts on."""

    db: Session
    app: FastAPI
    committees: dict[str, Committee]
    staff: dict[tuple[str, StaffRole], tuple[StaffUser, TestClient, str]] = field(default_factory=dict)
    shared: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # resources only refused requests touch

    def committee_at(self, place: str) -> Committee:
        return self.committees[place]

    def place_of(self, committee_id: int) -> str:
        return next(p for p, c in self.committees.items() if c.id == committee_id)

    def case(self, place: str, status: str = "new", **fields: Any) -> Case:
        return quick_case(self.db, self.committee_at(place).code, status=status, **fields)

    def account(self, username: str, place: str, role: StaffRole) -> StaffUser:
        """An account written straight to the table: no Argon2, since nobody signs in with its password here."""
        user = StaffUser(username=username, display_name=username, password_hash="not-a-hash-" + secrets.token_hex(8),
                         role=role.value, committee_id=self.committee_at(place).id)  # type: ignore[arg-type]
        self.db.add(user)
        self.db.commit()
        return user


def _users_below(staff_place: str) -> set[str]:
    """The places whose accounts an admin at staff_place manages: its own, and the committees below it."""
    return {"commune": {"commune"}, "province": {"province", "commune", "neighbour"}, "central": set(PLACES)}[staff_place]


# -- what a route needs, made per request ---------------------------------------------------------


def _confidential(world: World, case: Case) -> dict[str, Any]:
    case.anonymity = "confidential"
    world.db.add(ReporterIdentity(case_id=case.id, name_enc=encrypt(SECRET_NAME), phone_enc=encrypt(SECRET_PHONE)))  # type: ignore[arg-type]
    world.db.commit()
    return {}


def _attachment(world: World, case: Case) -> dict[str, Any]:
    att = store_attachment(world.db, data=b"bien ban lam viec", content_type="text/plain", kind="document", case_id=case.id)
    world.db.commit()
    return {"attachment_id": att.id}


def _pending_transfer(world: World, case: Case) -> dict[str, Any]:
    target = world.committee_at("other_commune" if world.place_of(case.committee_id) != "other_commune" else "commune")
    t = CaseTransfer(case_id=case.id, kind="transfer", from_committee_id=case.committee_id, to_committee_id=target.id, reason="thẩm quyền")  # type: ignore[arg-type]
    world.db.add(t)
    world.db.commit()
    return {"transfer_id": t.id}


def _dead_letter(world: World, case: Case) -> dict[str, Any]:
    row = OutboxMessage(case_id=case.id, channel="telegram", body="Kết quả xử lý", status="dead",  # type: ignore[arg-type]
                        delivery_key=secrets.token_hex(16), attempts=8, last_error="Forbidden: bot was blocked")
    world.db.add(row)
    world.db.commit()
    return {"outbox_id": row.id}


def _forwarded(world: World, case: Case) -> dict[str, Any]:
    case.forwarded_on = local_today()
    case.due_on = local_today()
    world.db.commit()
    return {}


def _primary(world: World, case: Case) -> dict[str, str]:
    return {"primary": str(world.case(world.place_of(case.committee_id)).id)}


def _assignee(world: World, case: Case) -> dict[str, str]:
    # An active officer: the account routes disable some (PostgreSQL returns rows in no set order).
    officer = world.db.exec(select(StaffUser).where(StaffUser.committee_id == case.committee_id, StaffUser.role == O.value,
                                                    StaffUser.active.is_(True)).order_by(StaffUser.id)).first()  # type: ignore[attr-defined,arg-type]
    return {"assignee": str(officer.id if officer else 1)}


def _transfer_form(world: World, case: Case) -> dict[str, str]:
    target = "other_commune" if world.place_of(case.committee_id) != "other_commune" else "commune"
    return {"to_code": world.committee_at(target).code, "reason": "không thuộc thẩm quyền"}


def _record_form(world: World, _case: Case | None) -> dict[str, str]:
    return {"channel": "hotline", "received_on": TODAY, "mode": "anonymous", "commune_code": BEN_THANH, "setting": "workplace",
            "description": "Người dân gọi điện phản ánh cán bộ địa chính đòi tiền mới làm sổ đỏ", "category": "7"}


def _form(**values: str) -> Callable[[World, Case | None], dict[str, str]]:
    return lambda _world, _case: dict(values)


@dataclass(frozen=True)
class Rule:
    """Who may use a route, over what, and what a permitted request does."""

    roles: frozenset[StaffRole]
    scope: str  # public | session | committee (no resource) | case | account
    ok: int = 303
    status: str = "new"  # the case status the action starts from
    prepare: Callable[[World, Case], dict[str, Any]] = lambda world, case: {}
    form: Callable[[World, Case | None], dict[str, str]] = _form()
    query: str = ""
    audit: tuple[str, ...] = ()  # one of these is written when the request is allowed, none when refused
    lists: bool = False  # a list of cases: only the own committee's may appear
    impossible: frozenset[str] = frozenset()  # staff places where the action cannot be done (the centre has no one above)
    last: bool = False
    homes: dict[StaffRole, str] = field(default_factory=dict)  # roles sent on to their own home page instead of refused


POLICY: dict[tuple[str, str], Rule] = {
    # Sign-in: for everyone, signed in or not.
    ("GET", "/admin/login"): Rule(NOBODY, "public"),
    ("POST", "/admin/login"): Rule(NOBODY, "public"),
    ("GET", "/admin/login/totp"): Rule(NOBODY, "public"),
    ("POST", "/admin/login/totp"): Rule(NOBODY, "public"),
    ("POST", "/admin/language"): Rule(STAFF, "session", form=_form(lang="vi", back="/admin")),
    ("POST", "/admin/logout"): Rule(STAFF, "session", last=True),
    ("GET", "/admin/password"): Rule(STAFF, "session", ok=200),
    ("GET", "/admin/totp"): Rule(STAFF, "session", ok=200),
    # A code without the set-up form's sealed key: refused with the form again.
    ("POST", "/admin/totp"): Rule(STAFF, "session", ok=400, form=_form(code="000000", sealed="")),
    # A wrong current password: refused with the form again (a right one would end the session).
    ("POST", "/admin/password"): Rule(STAFF, "session", ok=400, form=_form(current="not-the-password", new="x" * 16, confirm="x" * 16)),
    # The committee's own pages.
    ("GET", "/admin"): Rule(READ, "committee", ok=200, lists=True, homes=HOMES),
    ("GET", "/admin/dashboard"): Rule(READ, "committee", ok=200),
    ("GET", "/admin/reports"): Rule(READ, "committee", ok=200, query="?kind=year&year=2025"),
    ("GET", "/admin/reports/export"): Rule(HANDLE, "committee", ok=200, query="?kind=year&year=2025&format=csv", audit=("report.exported",)),
    ("GET", "/admin/record"): Rule(HANDLE, "committee", ok=200),
    ("POST", "/admin/record"): Rule(HANDLE, "committee", ok=200, form=_record_form, audit=("case.recorded",)),
    ("GET", "/admin/templates"): Rule(TEMPLATES, "committee", ok=200),
    ("POST", "/admin/templates"): Rule(TEMPLATES, "committee", form=_form(kind="closed", lang="vi", body="Cảm ơn Anh/Chị."), audit=("template.saved",)),
    ("GET", "/admin/security"): Rule(CHAIR, "committee", ok=200),
    # Saved as it is (off): turning it on would sign out the matrix's officers and viewers.
    ("POST", "/admin/security"): Rule(CHAIR, "committee", form=_form(required=""), audit=("committee.totp_required",)),
    ("GET", "/admin/accounts"): Rule(ADMIN, "committee", ok=200),
    ("POST", "/admin/accounts"): Rule(ADMIN, "committee", ok=200, form=lambda w, c: {"username": "moi_" + secrets.token_hex(4), "role": "officer"}, audit=("staff.created",)),
    ("GET", "/admin/deliveries"): Rule(STAFF, "committee", ok=200, lists=True),
    # One case (or what hangs on it) of some committee.
    ("GET", "/admin/cases/{case_id}"): Rule(READ, "case", ok=200, prepare=_confidential),
    ("GET", "/admin/cases/{case_id}/attachments/{attachment_id}"): Rule(HANDLE, "case", ok=200, prepare=_attachment, audit=("attachment.downloaded",)),
    ("POST", "/admin/cases/{case_id}/accept"): Rule(HANDLE, "case", audit=("case.accepted",)),
    ("POST", "/admin/cases/{case_id}/out-of-scope"): Rule(HANDLE, "case", form=_form(reason="Tranh chấp dân sự"), audit=("case.out_of_scope",)),
    ("POST", "/admin/cases/{case_id}/reclassify"): Rule(HANDLE, "case", form=_form(category="3"), audit=("case.reclassified",)),
    ("POST", "/admin/cases/{case_id}/assign"): Rule(HANDLE, "case", form=_assignee, audit=("case.assigned",)),
    ("POST", "/admin/cases/{case_id}/ask-info"): Rule(HANDLE, "case", form=_form(question="Việc xảy ra khi nào?"), audit=("case.info_requested",)),
    ("POST", "/admin/cases/{case_id}/note"): Rule(HANDLE, "case", form=_form(text="ghi chú nội bộ"), audit=("case.note_added",)),
    ("POST", "/admin/cases/{case_id}/transfer"): Rule(HANDLE, "case", form=_transfer_form, audit=("case.transfer_requested", "case.transferred")),
    ("POST", "/admin/cases/{case_id}/correct"): Rule(HANDLE, "case", form=_form(accused_position="cán bộ tư pháp", commune_code=BEN_THANH, setting="workplace"),
                                                     audit=("case.corrected",)),
    ("POST", "/admin/cases/{case_id}/escalate"): Rule(HANDLE, "case", form=_form(reason="liên quan lãnh đạo"), audit=("case.escalate_requested", "case.escalated"),
                                                      impossible=frozenset({"central"})),
    ("POST", "/admin/transfers/{transfer_id}/decide"): Rule(CHAIR, "case", prepare=_pending_transfer, form=_form(decision="approve"), audit=("case.transferred",)),
    ("POST", "/admin/cases/{case_id}/merge"): Rule(HANDLE, "case", form=_primary, audit=("case.merged",)),
    ("POST", "/admin/cases/{case_id}/forward"): Rule(HANDLE, "case", form=_form(body_kind="police", body_name="Công an", forwarded_on=TODAY), audit=("case.forwarded",)),
    ("POST", "/admin/cases/{case_id}/result"): Rule(HANDLE, "case", status="forwarded", prepare=_forwarded, form=_form(result_on=TODAY, text="Đã kỷ luật"),
                                                    audit=("case.result_recorded",)),
    ("POST", "/admin/cases/{case_id}/reply"): Rule(HANDLE, "case", status="verifying", form=_form(text="Kính gửi Anh/Chị"), audit=("case.replied",)),
    ("POST", "/admin/cases/{case_id}/close"): Rule(HANDLE, "case", status="verifying", audit=("case.closed",)),
    ("POST", "/admin/cases/{case_id}/identity"): Rule(CHAIR, "case", ok=200, prepare=_confidential, form=_form(reason="xác minh theo đơn tố cáo"),
                                                      audit=("identity.viewed",)),
    ("POST", "/admin/deliveries/{outbox_id}/retry"): Rule(RETRY, "case", prepare=_dead_letter, audit=("outbox.retried",)),
    # One staff account of some committee.
    ("POST", "/admin/accounts/{user_id}/disable"): Rule(ADMIN, "account", audit=("staff.disabled",)),
    ("POST", "/admin/accounts/{user_id}/password"): Rule(ADMIN, "account", ok=200, audit=("staff.password_reset",)),
    ("POST", "/admin/accounts/{user_id}/totp"): Rule(ADMIN, "account", audit=("staff.totp_reset",)),
}
# The path parameters the test knows how to fill, and from what.
FILLABLE = {"case_id", "attachment_id", "transfer_id", "outbox_id", "user_id"}


def admin_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves under /admin, read from its route table."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI ≥ 0.130 includes routers lazily

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI: the routes are flat
        routes = list(app.routes)
    found = set()
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path and methods and (path == "/admin" or path.startswith("/admin/")):
            found.update((m, path) for m in methods if m != "HEAD")
    return sorted(found)


def uncovered(routes: list[tuple[str, str]]) -> list[str]:
    """What the matrix cannot check: routes missing from POLICY, path parameters it cannot fill."""
    unknown = [f"new route {m} {p}: add it to the access matrix (POLICY in {__name__})" for m, p in routes if (m, p) not in POLICY]
    unfillable = [
        f"new route {m} {p}: the matrix cannot fill {{{name}}}: add it to the access matrix"
        for m, p in routes
        for name in re.findall(r"{(\w+)}", p)
        if name not in FILLABLE
    ]
    return unknown + unfillable


def _world(db: Session, clients: ExitStack) -> World:
    def by_code(code: str) -> Committee:
        found = db.exec(select(Committee).where(Committee.code == code)).one()
        return found

    commune, province = by_code(BEN_THANH), by_code("79")
    neighbour = db.exec(select(Committee).where(Committee.parent_id == province.id, Committee.code != BEN_THANH).order_by(Committee.code)).first()
    other_commune = by_code(HOAN_KIEM)
    assert neighbour is not None and other_commune.parent_id is not None
    committees = {
        "commune": commune, "neighbour": neighbour, "province": province,
        "other_commune": other_commune, "other_province": db.get(Committee, other_commune.parent_id), "central": by_code("TW"),
    }
    world = World(db, create_app(), committees)  # type: ignore[arg-type]
    for place in STAFF_AT:
        for role in sorted(KNOWN_ROLES):
            user = world.account(f"{role.value}_{place}", place, role)
            # A session opened as the sign-in does (tests/admin/test_login.py covers the sign-in itself).
            new = open_session(db, user)
            db.commit()
            # Entered: one event loop thread per client for all its requests, not one per request.
            client = clients.enter_context(TestClient(world.app, cookies={COOKIE: new.token}))
            world.staff[(place, role)] = (user, client, new.csrf)
    return world


def _audit_count(db: Session, actions: tuple[str, ...], *, case_id: int | None = None, actor_id: int | None = None) -> int:
    db.expire_all()
    query = select(AuditEntry.id).where(AuditEntry.action.in_(actions))  # type: ignore[attr-defined]
    if case_id is not None:
        query = query.where(AuditEntry.case_id == case_id)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    return len(db.exec(query).all())


def _request(client: TestClient, method: str, url: str, data: dict[str, str], csrf: str) -> Any:
    if method == "GET":
        return client.get(url, follow_redirects=False)
    return client.post(url, data={"csrf": csrf, **data}, follow_redirects=False)


def _url(path: str, params: dict[str, Any], query: str = "") -> str:
    return re.sub(r"{(\w+)}", lambda m: str(params[m.group(1)]), path) + query


@dataclass
class Matrix:
    """Runs the requests and collects every mismatch, so one run reports them all."""

    world: World
    failures: list[str] = field(default_factory=list)
    checked: int = 0

    def expect(self, ok: bool, what: str) -> None:
        self.checked += 1
        if not ok:
            self.failures.append(what)

    def case_route(self, method: str, path: str, rule: Rule) -> None:
        db = self.world.db
        for (staff_place, role), (_user, client, csrf) in self.world.staff.items():
            for place in TRIED[staff_place]:
                allowed = role in rule.roles and place == staff_place
                if allowed:
                    case = self.world.case(place, rule.status)
                    params = {"case_id": case.id, **rule.prepare(self.world, case)}
                else:
                    # Refused requests share one resource per place: none of them may leave a trace on it.
                    key = (f"{method} {path}", place)
                    if key not in self.world.shared:
                        case = self.world.case(place, rule.status)
                        self.world.shared[key] = {"case": case, "case_id": case.id, **rule.prepare(self.world, case)}
                    params = self.world.shared[key]
                    case = params["case"]
                r = _request(client, method, _url(path, params, rule.query), rule.form(self.world, case), csrf)
                who = f"{method} {path} by {role.value} of the {staff_place} on a case of the {place}"
                possible = staff_place not in rule.impossible
                expected = (rule.ok if possible else 303) if allowed else 404
                self.expect(r.status_code == expected, f"{who}: {r.status_code}, expected {expected}")
                if allowed and not possible:
                    self.expect("error=" in r.headers.get("location", ""), f"{who}: impossible action not refused in place")
                if rule.audit and allowed:
                    self.expect(_audit_count(db, rule.audit, case_id=case.id) == int(possible), f"{who}: audit row wrong")
                if SECRET_NAME in r.text or SECRET_PHONE in r.text:
                    shown = allowed and path.endswith("/identity")
                    self.expect(shown, f"{who}: the confidential reporter's identity was shown")
                elif allowed and path.endswith("/identity"):
                    self.expect(False, f"{who}: the chair was not shown the identity")

    def account_route(self, method: str, path: str, rule: Rule) -> None:
        for (staff_place, role), (account, client, csrf) in self.world.staff.items():
            for place in TRIED[staff_place]:
                allowed = role in rule.roles and place in _users_below(staff_place)
                key = (f"{method} {path}", place)
                if allowed or key not in self.world.shared:
                    target = self.world.account(f"t_{secrets.token_hex(5)}", place, O)
                    if not allowed:
                        self.world.shared[key] = {"user_id": target.id, "hash": target.password_hash}
                params = {"user_id": target.id} if allowed else self.world.shared[key]
                before = _audit_count(self.world.db, rule.audit, actor_id=account.id)
                r = _request(client, method, _url(path, params), {}, csrf)
                who = f"{method} {path} by {role.value} of the {staff_place} on an account of the {place}"
                expected = rule.ok if allowed else 404
                self.expect(r.status_code == expected, f"{who}: {r.status_code}, expected {expected}")
                after = _audit_count(self.world.db, rule.audit, actor_id=account.id)
                self.expect(after - before == int(allowed), f"{who}: {after - before} audit rows")

    def committee_route(self, method: str, path: str, rule: Rule, markers: dict[str, int]) -> None:
        for (staff_place, role), (account, client, csrf) in self.world.staff.items():
            allowed = role in rule.roles
            before = _audit_count(self.world.db, rule.audit, actor_id=account.id)
            r = _request(client, method, path + rule.query, rule.form(self.world, None), csrf)
            who = f"{method} {path} by {role.value} of the {staff_place}"
            if role in rule.homes:
                where = r.headers.get("location")
                self.expect(r.status_code == 303 and where == rule.homes[role], f"{who}: {r.status_code} to {where}, expected {rule.homes[role]}")
            else:
                expected = rule.ok if allowed else 404
                self.expect(r.status_code == expected, f"{who}: {r.status_code}, expected {expected}")
            if role not in READ:
                self.expect("/admin/cases/" not in r.text, f"{who}: a link to a case shown to a role that reads none")
            if rule.audit:
                after = _audit_count(self.world.db, rule.audit, actor_id=account.id)
                self.expect(after - before == int(allowed), f"{who}: {after - before} audit rows")
            if rule.lists and allowed:
                for place, case_id in markers.items():
                    listed = any(mark in r.text for mark in (f'/admin/cases/{case_id}"', f"/admin/cases/{case_id}#", f'data-case="{case_id}"'))
                    self.expect(listed == (place == staff_place), f"{who}: the case of the {place} listed={listed}")
            self.expect(SECRET_NAME not in r.text, f"{who}: the confidential reporter's identity was shown")

    def session_route(self, method: str, path: str, rule: Rule) -> None:
        for (staff_place, role), (_account, client, csrf) in self.world.staff.items():
            r = _request(client, method, path, rule.form(self.world, None), csrf)
            self.expect(r.status_code == rule.ok, f"{method} {path} by {role.value} of the {staff_place}: {r.status_code}")


def test_every_admin_route_follows_the_written_policy(db: Session) -> None:
    """Each admin route × method × role × staff level × resource committee answers as the policy says."""
    assert set(StaffRole) == KNOWN_ROLES, "a new staff role: add it to the access matrix's policy"
    with ExitStack() as clients:
        _run_matrix(db, _world(db, clients))


def _run_matrix(db: Session, world: World) -> None:
    """Checks every route against the policy, then that refused requests changed nothing."""
    routes = admin_routes(world.app)
    missing = uncovered(routes)
    assert not missing, "\n".join(missing)
    stale = sorted(set(POLICY) - set(routes))
    assert not stale, f"the matrix lists routes the app no longer has: {stale}"

    # One marked case per committee, each with a dead letter: lists must show the own committee's only.
    markers = {place: world.case(place).id for place in PLACES}
    for case_id in markers.values():
        _dead_letter(world, db.get(Case, case_id))  # type: ignore[arg-type]
        _confidential(world, db.get(Case, case_id))  # type: ignore[arg-type]
    matrix = Matrix(world)
    for method, path in sorted(routes, key=lambda mp: POLICY[mp].last):
        rule = POLICY[(method, path)]
        if rule.scope == "case":
            matrix.case_route(method, path, rule)
        elif rule.scope == "account":
            matrix.account_route(method, path, rule)
        elif rule.scope == "committee":
            matrix.committee_route(method, path, rule, markers)
        elif rule.scope == "session":
            matrix.session_route(method, path, rule)
    # The resources only refused requests touched are as they were made: no audit row, no move, no change.
    db.expire_all()
    for (route, place), params in world.shared.items():
        if "case" in params:
            case = db.get(Case, params["case_id"])
            assert case is not None
            matrix.expect(world.place_of(case.committee_id) == place, f"{route}: a refused request moved a case of the {place}")
            trail = db.exec(select(AuditEntry.action).where(AuditEntry.case_id == case.id)).all()
            matrix.expect(not trail, f"{route}: refused requests left audit rows {trail} on a case of the {place}")
        else:
            user = db.get(StaffUser, params["user_id"])
            assert user is not None
            matrix.expect(user.active and user.password_hash == params["hash"], f"{route}: a refused request changed an account of the {place}")
    assert not matrix.failures, f"{len(matrix.failures)} of {matrix.checked} checks failed:\n" + "\n".join(matrix.failures)
    assert matrix.checked > 2000
    # Signed out by the last route: the session no longer opens anything.
    for _account, client, _csrf in world.staff.values():
        assert client.get("/admin", follow_redirects=False).headers["location"].startswith("/admin/login")


def test_every_admin_route_sends_a_visitor_without_a_session_to_sign_in(db: Session) -> None:
    """With no session, every admin route but the sign-in pages redirects to /admin/login, and does nothing."""
    app = create_app()
    client = TestClient(app)
    case = quick_case(db, BEN_THANH)
    params = {name: case.id for name in FILLABLE}
    # Every field any admin form asks for, so that nothing is refused for a missing field before the session check.
    data = {"reason": "x", "text": "x", "decision": "approve", "lang": "vi", "kind": "closed", "body": "x", "username": "moi",
            "password": "x", "code": "123456", "category": "3", "primary": "1", "question": "x"}
    before = len(db.exec(select(AuditEntry)).all())
    for method, path in admin_routes(app):
        rule = POLICY.get((method, path))
        assert rule is not None, f"new route {method} {path}: add it to the access matrix"
        r = _request(client, method, _url(path, params, rule.query), data, "x")
        if rule.scope == "public":
            assert r.status_code in (200, 303), f"{method} {path}: {r.status_code}"
        else:
            assert r.status_code == 303 and r.headers["location"] == "/admin/login", f"{method} {path}: {r.status_code}"
    db.expire_all()
    assert len(db.exec(select(AuditEntry).where(AuditEntry.action != "staff.login_failed")).all()) == before



def test_a_new_admin_route_fails_the_matrix_until_it_is_added() -> None:
    """A route added to the admin is found in the route table and named, with its unfillable parameter."""
    app = create_app()

    @app.post("/admin/cases/{case_id}/archive")
    def archive(case_id: int) -> None:
        """A route the matrix does not know yet."""

    @app.get("/admin/committees/{committee_code}")
    def committee_page(committee_code: str) -> None:
        """A route with a parameter the matrix cannot fill."""

    missing = uncovered(admin_routes(app))
    assert any("new route POST /admin/cases/{case_id}/archive" in m for m in missing)
    assert any("cannot fill {committee_code}" in m for m in missing)
    assert uncovered(admin_routes(create_app())) == []
