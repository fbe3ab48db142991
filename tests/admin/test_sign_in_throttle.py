"""Sign-in throttling follows the account, whatever way its name is typed; a second factor for every role."""

from __future__ import annotations

import logging
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from intake import throttle
from intake.actions import create_staff
from intake.errors import InvalidInputError
from intake.models import AttemptThrottle, AuditEntry, StaffRole, StaffSession
from intake.staff import canonical_username
from phananh.web import create_app

from .conftest import BEN_THANH, PASSWORD, committee, csrf_of, login, make_staff, signed_in

VARIANTS = [" cb_lan", "cb_lan\u00a0", "\u3000cb_lan", "CB_LAN", "ｃｂ＿ｌａｎ", "\u200bcb_lan\t"]


def _password_step(client: TestClient, username: str, password: str = PASSWORD) -> str:
    page = client.get("/admin/login")
    r = client.post("/admin/login", data={"username": username, "password": password, "csrf": csrf_of(page.text)}, follow_redirects=False)
    return str(r.headers.get("location", ""))


def test_every_way_of_typing_a_name_is_the_same_account() -> None:
    """NFKC, every kind of space and invisible character trimmed, casefolded."""
    assert {canonical_username(v) for v in VARIANTS} == {"cb_lan"}
    assert canonical_username("cb lan") == "cb lan", "inside the name, a space is kept (and refused at creation)"


def test_padded_names_count_against_the_account_and_cannot_slip_past_its_lock(db: Session) -> None:
    """Seen: " user", "user\\u00a0"… each got five more guesses, and "   user" signed in while "user" was locked."""
    make_staff(db, "cb_lan", BEN_THANH)
    client = TestClient(create_app())
    answers = [_password_step(client, name, "đoán-sai") for name in VARIANTS[:5]]
    assert answers[:4] == ["/admin/login?error=invalid"] * 4 and answers[4].startswith("/admin/login?error=throttled")
    for name in ("   cb_lan", "cb_lan", "CB_LAN\u3000"):
        assert _password_step(client, name).startswith("/admin/login?error=throttled"), name
    assert "staff.login" not in [e.action for e in db.exec(select(AuditEntry)).all()]


def test_the_lock_grows_with_each_lock_and_is_capped(db: Session) -> None:
    """5 minutes, then 10, 20, 40, and never more than an hour; a right sign-in after a lock clears the count."""
    make_staff(db, "cb_lan", BEN_THANH)
    minutes = []
    for _ in range(6):
        for _ in range(throttle.SIGN_IN.max_failures):
            found = throttle.failed(db, throttle.SIGN_IN, "cb_lan")
        minutes.append(found)
        db.commit()
        row = db.exec(select(AttemptThrottle)).one()
        row.locked_until = row.locked_until - timedelta(minutes=found + 1)  # type: ignore[operator]
        db.commit()
    assert minutes == [5, 10, 20, 40, 60, 60]
    assert _password_step(TestClient(create_app()), "cb_lan") == "/admin"
    db.expire_all()
    assert db.exec(select(AttemptThrottle)).all() == [], "the right password, once the lock is over, clears it"


def test_an_unknown_name_is_answered_exactly_like_a_real_one(db: Session) -> None:
    """The lock and its wording do not tell whether an account exists."""
    client = TestClient(create_app())
    answers = [_password_step(client, "khong_ton_tai", "x" * 12) for _ in range(6)]
    assert answers[:4] == ["/admin/login?error=invalid"] * 4 and answers[4] == answers[5] == "/admin/login?error=throttled&minutes=5"


def test_no_budget_is_shared_by_all_accounts(db: Session) -> None:
    """Locking one account (or five other names) never locks another."""
    make_staff(db, "cb_lan", BEN_THANH)
    make_staff(db, "cb_hoa", BEN_THANH)
    client = TestClient(create_app())
    for i in range(5):
        for _ in range(5):
            _password_step(client, f"nguoi_{i}", "x" * 12)
    for _ in range(5):
        _password_step(client, "cb_lan", "x" * 12)
    assert login(TestClient(create_app()), "cb_hoa")


def test_guessing_over_many_accounts_is_counted_and_logged_without_names(db: Session, caplog: pytest.LogCaptureFixture) -> None:
    """Operators see spraying: one warning with the number of accounts, none of the names typed."""
    from intake import staff

    staff._spread_logged[0] = 0.0
    client = TestClient(create_app())
    with caplog.at_level(logging.WARNING, logger="intake.staff"):
        for i in range(12):
            _password_step(client, f"ten_doan_{i}", "x" * 12)
    warnings = [r.getMessage() for r in caplog.records if "possible guessing" in r.getMessage()]
    assert len(warnings) == 1 and "10 accounts" in warnings[0]
    assert not any("ten_doan" in r.getMessage() for r in caplog.records)
    assert throttle.spread(db, throttle.SIGN_IN).targets == 12


def test_names_that_collide_after_canonicalisation_are_refused(db: Session) -> None:
    """"cb_lan" exists: " CB_LAN", "ｃｂ＿ｌａｎ" and "cb_lan\\u00a0" are the same name, refused everywhere."""
    make_staff(db, "cb_lan", BEN_THANH)
    for name in (" CB_LAN", "ｃｂ＿ｌａｎ", "cb_lan\u00a0"):
        with pytest.raises(InvalidInputError):
            create_staff(db, username=name, password=PASSWORD, role=StaffRole.OFFICER, committee=committee(db, BEN_THANH))
        db.rollback()
    user = create_staff(db, username="  Cb_Hoa ", password=PASSWORD, role=StaffRole.OFFICER, committee=committee(db, BEN_THANH))
    assert user.username == "cb_hoa"


def test_an_officer_turns_on_two_step_sign_in_and_then_needs_the_code(db: Session) -> None:
    """Every role may add a second factor; the next sign-in asks for it."""
    officer = make_staff(db, "cb_lan", BEN_THANH)
    client = signed_in(officer)
    page = client.get("/admin/totp").text
    secret = page.split('id="totp-secret">')[1].split("<")[0]
    sealed = page.split('name="sealed" value="')[1].split('"')[0]
    r = client.post("/admin/totp", data={"csrf": csrf_of(page), "sealed": sealed, "code": "000000"})
    assert r.status_code == 400
    r = client.post("/admin/totp", data={"csrf": csrf_of(page), "sealed": sealed, "code": pyotp.TOTP(secret).now()}, follow_redirects=False)
    assert r.headers["location"] == "/admin/totp?done=enrolled"
    assert "totp-on" in client.get("/admin/totp").text
    fresh = TestClient(create_app())
    assert _password_step(fresh, "cb_lan") == "/admin/login/totp"


def test_a_chair_can_require_a_second_factor_of_the_committee(db: Session) -> None:
    """The officers without one are signed out, and their next sign-in sets it up; the change is audited."""
    chair = make_staff(db, "ct_lan", BEN_THANH, StaffRole.CHAIR)
    officer = make_staff(db, "cb_lan", BEN_THANH)
    officer_client = signed_in(officer)
    chair_client = signed_in(chair)
    page = chair_client.get("/admin/security").text
    r = chair_client.post("/admin/security", data={"csrf": csrf_of(page), "required": "on"}, follow_redirects=False)
    assert r.headers["location"] == "/admin/security?done=saved"
    db.expire_all()
    assert committee(db, BEN_THANH).require_totp
    assert not db.exec(select(StaffSession).where(StaffSession.user_id == officer.user.id)).all()
    assert officer_client.get("/admin", follow_redirects=False).status_code == 303
    assert _password_step(TestClient(create_app()), "cb_lan") == "/admin/login/totp"
    audit = db.exec(select(AuditEntry).where(AuditEntry.action == "committee.totp_required")).one()
    assert audit.details == {"committee": BEN_THANH, "required": True, "signed_out": 1}


def test_only_the_chair_sets_the_committee_s_sign_in_rule(db: Session) -> None:
    """An officer opening the page is refused (as if it did not exist)."""
    officer = make_staff(db, "cb_lan", BEN_THANH)
    client = signed_in(officer)
    assert client.get("/admin/security").status_code == 404
