"""Signing in: password, then a one-time code for chair and admin; CSRF, throttling, idle timeout."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from admin.auth import COOKIE, PENDING_COOKIE
from intake import totp
from intake.models import AuditEntry, StaffRole, StaffSession, StaffUser, utcnow
from phananh.web import create_app
from tests.admin.conftest import BEN_THANH, PASSWORD, csrf_of, login, make_staff, signed_in


def _password_step(client: TestClient, username: str, password: str = PASSWORD) -> str:
    page = client.get("/admin/login")
    r = client.post("/admin/login", data={"username": username, "password": password, "csrf": csrf_of(page.text)}, follow_redirects=False)
    return r.headers.get("location", "")


def test_officer_signs_in_with_password_only(db: Session) -> None:
    """An officer without a second factor goes straight to the queue; the cookie is HttpOnly and SameSite."""
    make_staff(db, "cb", BEN_THANH)
    client = TestClient(create_app())
    page = client.get("/admin/login")
    r = client.post("/admin/login", data={"username": "cb", "password": PASSWORD, "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.headers["location"] == "/admin"
    cookie = r.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/admin").status_code == 200


def test_chair_needs_the_one_time_code(db: Session) -> None:
    """A chair's right password leads to the code step, not into the admin; a wrong code stays out."""
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR)
    client = TestClient(create_app())
    assert _password_step(client, "ct") == "/admin/login/totp"
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"
    page = client.get("/admin/login/totp")
    r = client.post("/admin/login/totp", data={"code": "000000", "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.headers["location"] == "/admin/login/totp?error=code"
    assert client.get("/admin", follow_redirects=False).status_code == 303
    assert login(client, chair)
    assert client.get("/admin").status_code == 200
    assert db.exec(select(AuditEntry).where(AuditEntry.action == "staff.totp_failed")).first() is not None


def test_a_code_is_accepted_once(db: Session) -> None:
    """The same one-time code cannot sign in twice (a code seen over a shoulder is useless)."""
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR)
    assert chair.secret
    code = pyotp.TOTP(chair.secret).now()
    results = []
    for _ in range(2):
        client = TestClient(create_app())
        assert _password_step(client, "ct") == "/admin/login/totp"
        page = client.get("/admin/login/totp")
        r = client.post("/admin/login/totp", data={"code": code, "csrf": csrf_of(page.text)}, follow_redirects=False)
        results.append(r.headers["location"])
    assert results == ["/admin", "/admin/login/totp?error=code"]


def test_drift_of_one_step_is_tolerated_and_two_is_not() -> None:
    """A phone 30 s off still works; 90 s off does not."""
    secret = pyotp.random_base32()
    now = time.time()
    otp = pyotp.TOTP(secret)
    assert totp.matching_step(secret, otp.at(now - 30), at=now) is not None
    assert totp.matching_step(secret, otp.at(now + 30), at=now) is not None
    assert totp.matching_step(secret, otp.at(now - 90), at=now) is None
    assert totp.matching_step(secret, "12345", at=now) is None and totp.matching_step(secret, "abcdef", at=now) is None


def test_admin_without_a_second_factor_enrolls_one(db: Session) -> None:
    """An admin with no TOTP yet is shown a new key; a valid code stores it encrypted and signs in."""
    make_staff(db, "qt", BEN_THANH, StaffRole.ADMIN, totp=False)
    client = TestClient(create_app())
    assert _password_step(client, "qt") == "/admin/login/totp"
    page = client.get("/admin/login/totp")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)  # type: ignore[union-attr]
    assert "otpauth://totp/" in page.text
    qr = re.search(r'<svg[^>]*class="qr".*?</svg>', page.text, re.S)
    assert qr is not None and "<script" not in qr.group(0)  # the set-up key as a QR code, drawn on the server
    again = client.get("/admin/login/totp")  # a reload shows the same key
    assert secret in again.text
    r = client.post("/admin/login/totp", data={"code": pyotp.TOTP(secret).now(), "csrf": csrf_of(again.text)}, follow_redirects=False)
    assert r.headers["location"] == "/admin/accounts"  # an administrator's home: no queue to read
    db.expire_all()
    user = db.exec(select(StaffUser).where(StaffUser.username == "qt")).one()
    assert user.totp_secret_enc is not None and secret.encode() not in user.totp_secret_enc
    assert db.exec(select(AuditEntry).where(AuditEntry.action == "staff.totp_enrolled")).first() is not None


def test_forged_or_missing_pending_cookie_goes_back_to_login(db: Session) -> None:
    """The code step without a password-checked cookie (or with a forged one) is refused."""
    make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR)
    client = TestClient(create_app())
    assert client.get("/admin/login/totp", follow_redirects=False).headers["location"] == "/admin/login?error=expired"
    client.cookies.set(PENDING_COOKIE, "gAAAAAforged", path="/admin")
    assert client.get("/admin/login/totp", follow_redirects=False).headers["location"] == "/admin/login?error=expired"


def test_login_throttled_after_five_failures(db: Session) -> None:
    """Five wrong passwords lock the account for a while (the page says how long), even against the right password."""
    make_staff(db, "cb", BEN_THANH)
    client = TestClient(create_app())
    for _ in range(4):
        assert _password_step(client, "cb", "sai-mat-khau") == "/admin/login?error=invalid"
    assert _password_step(client, "cb", "sai-mat-khau") == "/admin/login?error=throttled&minutes=5"
    assert _password_step(client, "cb") == "/admin/login?error=throttled&minutes=5"
    page = client.get("/admin/login?error=throttled&minutes=5").text
    assert "5 phút" in page


def test_code_step_throttled_too(db: Session) -> None:
    """Guessing one-time codes is blocked after five wrong ones."""
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR)
    client = TestClient(create_app())
    _password_step(client, "ct")
    for _ in range(5):
        page = client.get("/admin/login/totp")
        client.post("/admin/login/totp", data={"code": "000000", "csrf": csrf_of(page.text)})
    page = client.get("/admin/login/totp")
    assert chair.secret
    r = client.post("/admin/login/totp", data={"code": pyotp.TOTP(chair.secret).now(), "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.headers["location"] == "/admin/login?error=throttled&minutes=5"


def test_idle_session_times_out(db: Session) -> None:
    """After 30 minutes without a request the session ends and the login page says why."""
    account = make_staff(db, "cb", BEN_THANH)
    client = signed_in(account)
    row = db.exec(select(StaffSession).where(StaffSession.user_id == account.user.id)).one()
    row.last_seen_at = utcnow() - timedelta(minutes=31)
    db.add(row)
    db.commit()
    r = client.get("/admin", follow_redirects=False)
    assert r.headers["location"] == "/admin/login?error=timeout"
    assert 'class="error"' in client.get("/admin/login?error=timeout").text
    db.expire_all()
    assert db.exec(select(StaffSession).where(StaffSession.user_id == account.user.id)).first() is None


def test_logout_needs_csrf_and_ends_the_session(db: Session) -> None:
    """Sign-out without the token is refused; with it, the session row is gone."""
    account = make_staff(db, "cb", BEN_THANH)
    client = signed_in(account)
    assert client.post("/admin/logout", data={"csrf": "wrong"}).status_code == 403
    token = csrf_of(client.get("/admin").text)
    assert client.post("/admin/logout", data={"csrf": token}, follow_redirects=False).headers["location"] == "/admin/login"
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_language_switch(db: Session) -> None:
    """An officer can switch the admin to English and back; only admin paths are accepted as 'back'."""
    account = make_staff(db, "cb", BEN_THANH)
    client = signed_in(account)
    token = csrf_of(client.get("/admin").text)
    r = client.post("/admin/language", data={"csrf": token, "lang": "en", "back": "https://evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/admin"
    assert '<html lang="en">' in client.get("/admin").text
    client.post("/admin/language", data={"csrf": token, "lang": "vi", "back": "/admin/dashboard"})
    assert '<html lang="vi">' in client.get("/admin").text
