"""Accounts (for the system administrator), one's own password (for everyone), and the committee's reply templates (for the chair)."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from admin.auth import Staff, check_csrf, current_staff, db_session
from admin.views import ROLE_LABELS, qr_svg, redirect, render
from intake import throttle, totp
from intake.casework import accounts, messages
from intake.casework.actions import save_template
from intake.casework.policy import Perm, require
from intake.crypto import decrypt, encrypt
from intake.errors import ConfigurationError, InvalidInputError
from intake.models import Committee
from intake.staff import MIN_PASSWORD_CHARS, change_own_password

router = APIRouter(prefix="/admin")
Csrf = Annotated[str, Form(max_length=64)]


def _accounts_page(request: Request, staff: Staff, db: Session, **context: Any) -> Response:
    users = accounts.list_accounts(db, staff.user)
    ids = {u.committee_id for u in users}
    committees = {c.id: c for c in db.exec(select(Committee).where(Committee.id.in_(ids))).all()}  # type: ignore[union-attr]
    return render(
        request,
        "accounts.html",
        staff,
        users=users,
        committees=committees,
        roles=[(k, staff.t._(v)) for k, v in ROLE_LABELS.items()],
        **context,
    )


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request, staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    """The accounts an admin manages: their committee's and those below it."""
    return _accounts_page(request, staff, db)


@router.post("/accounts", response_class=HTMLResponse)
def add_account(
    request: Request,
    csrf: Csrf,
    username: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=16)] = "officer",
    committee: Annotated[str, Form(max_length=16)] = "",
    display_name: Annotated[str, Form(max_length=255)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """Creates an account and shows its first password once."""
    check_csrf(staff, csrf)
    try:
        user, password = accounts.create_account(
            db, actor=staff.user, username=username, role=role, committee_code=committee or staff.committee.code,
            display_name=display_name,
        )
    except InvalidInputError:
        db.rollback()
        return _accounts_page(request, staff, db, error=True)
    db.commit()
    return _accounts_page(request, staff, db, shown_user=user.username, shown_password=password)


@router.post("/accounts/{user_id}/disable")
def disable(user_id: int, csrf: Csrf, staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    check_csrf(staff, csrf)
    try:
        accounts.disable_account(db, actor=staff.user, user_id=user_id)
    except InvalidInputError:
        db.rollback()
        return redirect("/admin/accounts", error="invalid_input")
    db.commit()
    return redirect("/admin/accounts", done="disabled")


@router.post("/accounts/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    request: Request, user_id: int, csrf: Csrf, staff: Staff = Depends(current_staff), db: Session = Depends(db_session)
) -> Response:
    check_csrf(staff, csrf)
    password = accounts.reset_account_password(db, actor=staff.user, user_id=user_id)
    db.commit()
    user = next(u for u in accounts.list_accounts(db, staff.user) if u.id == user_id)
    return _accounts_page(request, staff, db, shown_user=user.username, shown_password=password)


@router.post("/accounts/{user_id}/totp")
def reset_totp(user_id: int, csrf: Csrf, staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    check_csrf(staff, csrf)
    accounts.reset_account_totp(db, actor=staff.user, user_id=user_id)
    db.commit()
    return redirect("/admin/accounts", done="totp_reset")


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, staff: Staff = Depends(current_staff)) -> Response:
    """The form to choose one's own password (every signed-in account)."""
    return render(request, "password.html", staff, min_chars=MIN_PASSWORD_CHARS)


@router.post("/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    csrf: Csrf,
    current: Annotated[str, Form(max_length=256)] = "",
    new: Annotated[str, Form(max_length=256)] = "",
    confirm: Annotated[str, Form(max_length=256)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """Changes the account's password and ends all its sessions: the next page is the sign-in."""
    check_csrf(staff, csrf)
    # Guessing the current password from a session left open is throttled like signing in.
    key = str(staff.user.id)
    if (minutes := throttle.locked_minutes(db, throttle.PASSWORD, key)) > 0:
        return render(request, "password.html", staff, status_code=429, min_chars=MIN_PASSWORD_CHARS, error="throttled", minutes=minutes)
    try:
        change_own_password(db, user=staff.user, current=current, new=new, confirm=confirm)
    except InvalidInputError as err:
        minutes = throttle.failed(db, throttle.PASSWORD, key) if str(err) == "current" else 0
        db.commit()  # a wrong current password is audited and counted
        if minutes:
            return render(request, "password.html", staff, status_code=429, min_chars=MIN_PASSWORD_CHARS, error="throttled", minutes=minutes)
        return render(request, "password.html", staff, status_code=400, min_chars=MIN_PASSWORD_CHARS, error=str(err))
    throttle.succeeded(db, throttle.PASSWORD, key)
    db.commit()
    return redirect("/admin/login", done="password")


@router.get("/templates", response_class=HTMLResponse)
def templates_page(request: Request, done: str = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    """The committee's reply templates, per status and language, with the placeholders they may use."""
    require(staff.user, Perm.EDIT_TEMPLATES)
    rows = [
        (kind, lang, messages.template_text(db, staff.user.committee_id, kind, lang), messages.DEFAULT_TEMPLATES[lang][kind])
        for kind in messages.TEMPLATE_KINDS
        for lang in messages.DEFAULT_TEMPLATES
    ]
    return render(request, "templates.html", staff, rows=rows, placeholders=messages.PLACEHOLDERS, done=done)


@router.post("/templates")
def save(
    csrf: Csrf,
    kind: Annotated[str, Form(max_length=24)],
    lang: Annotated[str, Form(max_length=8)],
    body: Annotated[str, Form(max_length=5000)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """Saves one template; an empty text goes back to the default."""
    check_csrf(staff, csrf)
    try:
        save_template(db, actor=staff.user, kind=kind, lang=lang, body=body)
    except InvalidInputError:
        db.rollback()
        return redirect("/admin/templates", error="invalid_input")
    db.commit()
    return redirect("/admin/templates", done=f"{kind}-{lang}")


def _sealed_secret(user_id: int, secret: str) -> str:
    """The new secret carried by the set-up form, encrypted and short-lived (nothing stored before the code proves it)."""
    return encrypt(json.dumps({"u": user_id, "s": secret, "exp": int(time.time()) + 600})).decode("ascii")


def _unsealed_secret(user_id: int, sealed: str) -> str | None:
    try:
        payload = json.loads(decrypt(sealed.encode("ascii")))
    except (ConfigurationError, ValueError, UnicodeError):
        return None
    if not isinstance(payload, dict) or payload.get("u") != user_id or int(payload.get("exp", 0)) < time.time():
        return None
    return str(payload.get("s") or "") or None


def _totp_page(request: Request, staff: Staff, *, status_code: int = 200, error: str = "", done: str = "", minutes: int = 0) -> Response:
    context: dict[str, Any] = {"enrolled": staff.user.totp_secret_enc is not None, "error": error, "done": done, "minutes": minutes}
    if not context["enrolled"]:
        secret = totp.new_secret()
        uri = totp.provisioning_uri(secret, staff.user.username)
        context.update(secret=secret, uri=uri, qr=qr_svg(uri), sealed=_sealed_secret(staff.user.id, secret))  # type: ignore[arg-type]
    return render(request, "totp_setup.html", staff, status_code=status_code, **context)


@router.get("/totp", response_class=HTMLResponse)
def totp_setup_page(request: Request, done: str = "", staff: Staff = Depends(current_staff)) -> Response:
    """A second factor for one's own account, whatever the role (required for chair and admin)."""
    return _totp_page(request, staff, done=done[:16])


@router.post("/totp", response_class=HTMLResponse)
def totp_setup(
    request: Request,
    csrf: Csrf,
    code: Annotated[str, Form(max_length=16)] = "",
    sealed: Annotated[str, Form(max_length=2000)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """Turns the second factor on once the app shows a right code."""
    check_csrf(staff, csrf)
    if staff.user.totp_secret_enc is not None:
        return redirect("/admin/totp")
    key = str(staff.user.id)
    if (minutes := throttle.locked_minutes(db, throttle.TOTP, key)) > 0:
        return _totp_page(request, staff, status_code=429, error="throttled", minutes=minutes)
    secret = _unsealed_secret(staff.user.id, sealed)  # type: ignore[arg-type]
    if secret is None or not totp.enroll(db, staff.user, secret, code):
        minutes = throttle.failed(db, throttle.TOTP, key)
        db.commit()
        if minutes:
            return _totp_page(request, staff, status_code=429, error="throttled", minutes=minutes)
        return _totp_page(request, staff, status_code=400, error="code")
    throttle.succeeded(db, throttle.TOTP, key)
    db.commit()
    return redirect("/admin/totp", done="enrolled")


@router.get("/security", response_class=HTMLResponse)
def security_page(request: Request, done: str = "", staff: Staff = Depends(current_staff)) -> Response:
    """The chair's choice of a second factor for the committee's officers and viewers."""
    require(staff.user, Perm.COMMITTEE_SECURITY)
    return render(request, "security.html", staff, required=staff.committee.require_totp, done=done[:16])


@router.post("/security")
def security_save(
    csrf: Csrf,
    required: Annotated[str, Form(max_length=4)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    check_csrf(staff, csrf)
    accounts.set_committee_totp(db, actor=staff.user, required=required == "on")
    db.commit()
    return redirect("/admin/security", done="saved")
