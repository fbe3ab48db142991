"""The Front staff's admin: sign-in (password, then a one-time code for chair and admin), and its pages."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from admin import accounts, cases, deliveries, reports
from admin.auth import (
    COOKIE,
    PENDING_COOKIE,
    PENDING_SECONDS,
    Staff,
    check_csrf,
    current_staff,
    db_session,
    open_pending,
    seal_pending,
)
from admin.views import landing_page, qr_svg, redirect, render
from intake import throttle, totp
from intake.casework.accounts import set_language
from intake.casework.policy import perms, requires_totp
from intake.crypto import token
from intake.errors import InvalidInputError
from intake.i18n import normalize_language
from intake.models import Committee, StaffUser
from intake.staff import authenticate, close_session, open_session, sign_in_failed, sign_in_locked_minutes, sign_in_succeeded

_auth = APIRouter(prefix="/admin")
router = APIRouter()  # everything under /admin: sign-in here, the pages in their modules
LOGIN_CSRF_COOKIE = "pa_login_csrf"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_form(request: Request, template: str, lang: str, **context: Any) -> Response:
    """A sign-in step's page with a fresh CSRF token bound to a cookie (double submit)."""
    csrf = token(24)
    response = render(request, template, None, lang=lang, csrf=csrf, **context)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=_secure(request), path="/admin")
    return response


def _login_csrf_ok(request: Request, submitted: str) -> bool:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(expected) and hmac.compare_digest(expected, submitted)


def _signed_in(request: Request, db: Session, user: StaffUser) -> Response:
    """Opens the session and sets its cookie, and goes to the role's first page; the sign-in cookies are dropped."""
    new = open_session(db, user)
    db.commit()
    response = redirect(landing_page(perms(user)))
    response.set_cookie(COOKIE, new.token, httponly=True, samesite="lax", secure=_secure(request), path="/admin")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")
    response.delete_cookie(PENDING_COOKIE, path="/admin")
    return response


@_auth.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str = "", done: str = "", minutes: str = "") -> Response:
    """The sign-in form."""
    lang = normalize_language(request.query_params.get("lang"))
    wait = int(minutes) if minutes.isdigit() and len(minutes) <= 4 else 15
    return _login_form(request, "login.html", lang, error=error, done=done[:16], minutes=wait)


@_auth.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=64)],
    db: Session = Depends(db_session),
) -> Response:
    """Checks the password; chair and admin (and anyone enrolled) go on to the one-time code."""
    if not _login_csrf_ok(request, csrf):
        return redirect("/admin/login", error="expired")
    # Per account, in the database: while it lasts, even the right password is not checked.
    if (minutes := sign_in_locked_minutes(db, username)) > 0:
        return redirect("/admin/login", error="throttled", minutes=minutes)
    user = authenticate(db, username, password)
    if user is None:
        minutes = sign_in_failed(db, username)
        return redirect("/admin/login", error="throttled" if minutes else "invalid", minutes=minutes or None)
    if requires_totp(user, db.get(Committee, user.committee_id)):
        response = redirect("/admin/login/totp")
        response.set_cookie(
            PENDING_COOKIE, seal_pending(user.id), httponly=True, samesite="strict",  # type: ignore[arg-type]
            secure=_secure(request), path="/admin", max_age=PENDING_SECONDS,
        )
        return response
    sign_in_succeeded(db, username)
    return _signed_in(request, db, user)


def _pending_user(request: Request, db: Session) -> tuple[StaffUser, str | None] | None:
    found = open_pending(request.cookies.get(PENDING_COOKIE))
    if found is None:
        return None
    user = db.get(StaffUser, found[0])
    if user is None or not user.active:
        return None
    return user, found[1]


@_auth.get("/login/totp", response_class=HTMLResponse)
def totp_page(request: Request, error: str = "", db: Session = Depends(db_session)) -> Response:
    """Asks for the one-time code; an account without one first sets up its authenticator app."""
    pending = _pending_user(request, db)
    if pending is None:
        return redirect("/admin/login", error="expired")
    user, secret = pending
    lang = user.language
    if user.totp_secret_enc is not None:
        return _login_form(request, "totp.html", lang, error=error, enroll=False)
    secret = secret or totp.new_secret()
    uri = totp.provisioning_uri(secret, user.username)
    response = _login_form(request, "totp.html", lang, error=error, enroll=True, secret=secret, uri=uri, qr=qr_svg(uri))
    response.set_cookie(
        PENDING_COOKIE, seal_pending(user.id, secret), httponly=True, samesite="strict",  # type: ignore[arg-type]
        secure=_secure(request), path="/admin", max_age=PENDING_SECONDS,
    )
    return response


@_auth.post("/login/totp")
def totp_submit(
    request: Request,
    code: Annotated[str, Form(max_length=16)],
    csrf: Annotated[str, Form(max_length=64)],
    db: Session = Depends(db_session),
) -> Response:
    """Checks the one-time code (or enrolls the new secret) and signs in."""
    pending = _pending_user(request, db)
    if pending is None or not _login_csrf_ok(request, csrf):
        return redirect("/admin/login", error="expired")
    user, secret = pending
    key = str(user.id)
    if (minutes := throttle.locked_minutes(db, throttle.TOTP, key)) > 0:
        return redirect("/admin/login", error="throttled", minutes=minutes)
    if user.totp_secret_enc is None:
        ok = secret is not None and totp.enroll(db, user, secret, code)
    else:
        ok = totp.verify(db, user, code)
    if not ok:
        minutes = throttle.failed(db, throttle.TOTP, key)
        db.commit()  # the failure's audit row and count stay
        if minutes:
            return redirect("/admin/login", error="throttled", minutes=minutes)
        return redirect("/admin/login/totp", error="code")
    throttle.succeeded(db, throttle.TOTP, key)
    sign_in_succeeded(db, user.username)
    return _signed_in(request, db, user)


@_auth.post("/logout")
def logout(
    request: Request,
    csrf: Annotated[str, Form(max_length=64)],
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    check_csrf(staff, csrf)
    close_session(db, request.cookies.get(COOKIE, ""))
    db.commit()
    response = redirect("/admin/login")
    response.delete_cookie(COOKIE, path="/admin")
    return response


@_auth.post("/language")
def language(
    lang: Annotated[str, Form(max_length=8)],
    csrf: Annotated[str, Form(max_length=64)],
    back: Annotated[str, Form(max_length=500)] = "/admin",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """Switches the admin's language for this officer."""
    check_csrf(staff, csrf)
    try:
        set_language(staff.user, lang)
    except InvalidInputError:
        pass
    db.commit()
    # Only a path inside the admin: never an open redirect.
    return redirect(back if back.startswith("/admin") and "//" not in back and "\\" not in back else "/admin")


router.include_router(_auth)
router.include_router(cases.router)
router.include_router(reports.router)
router.include_router(accounts.router)
router.include_router(deliveries.router)
