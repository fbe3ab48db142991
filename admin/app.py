"""The Front staff's admin: sign-in and the committee's queue."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, select

from admin.auth import COOKIE, Staff, check_csrf, current_staff, db_session, throttle
from intake.categories import CATEGORIES
from intake.crypto import token
from intake.i18n import normalize_language, translator
from intake.labels import ANONYMITY_LABELS, CHANNEL_LABELS, STATUS_LABELS
from intake.models import Case, CaseStatus
from intake.staff import authenticate, close_session, open_session

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(prefix="/admin")
LOGIN_CSRF_COOKIE = "pa_login_csrf"
PAGE_SIZE = 50


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str = "") -> Response:
    """The sign-in form, with a CSRF token bound to a cookie (double submit)."""
    lang = normalize_language(request.query_params.get("lang"))
    csrf = token(24)
    response = templates.TemplateResponse(
        request, "login.html", {"_": translator(lang)._, "lang": lang, "csrf": csrf, "error": error}
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=_secure(request), path="/admin")
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=64)],
    db: Session = Depends(db_session),
) -> Response:
    """Signs an officer in; failures are throttled and audited."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf):
        return RedirectResponse("/admin/login?error=expired", status_code=303)
    if throttle.blocked(username):
        return RedirectResponse("/admin/login?error=throttled", status_code=303)
    user = authenticate(db, username, password)
    if user is None:
        throttle.failed(username)
        return RedirectResponse("/admin/login?error=invalid", status_code=303)
    throttle.succeeded(username)
    new = open_session(db, user)
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(COOKIE, new.token, httponly=True, samesite="lax", secure=_secure(request), path="/admin")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")
    return response


@router.post("/logout")
def logout(
    request: Request,
    csrf: Annotated[str, Form(max_length=64)],
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    check_csrf(staff, csrf)
    close_session(db, request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


@router.get("", response_class=HTMLResponse)
def queue(
    request: Request,
    status: str = "",
    page: int = 1,
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """The committee's queue, newest first, with counts per status."""
    t = staff.t
    base = select(Case).where(Case.committee_id == staff.committee.id)
    if status in STATUS_LABELS:
        base = base.where(Case.status == status)
    page = max(1, page)
    cases = db.exec(base.order_by(Case.received_at.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()  # type: ignore[attr-defined]
    counts = dict(
        db.exec(  # type: ignore[call-overload]
            select(Case.status, sa.func.count()).where(Case.committee_id == staff.committee.id).group_by(Case.status)
        ).all()
    )
    return templates.TemplateResponse(
        request,
        "queue.html",
        {
            "_": t._,
            "lang": t.lang,
            "staff": staff,
            "cases": cases,
            "counts": counts,
            "status": status,
            "page": page,
            "page_size": PAGE_SIZE,
            "statuses": [(s.value, t._(STATUS_LABELS[s.value])) for s in CaseStatus],
            "status_label": lambda s: t._(STATUS_LABELS.get(s, s)),
            "category_label": lambda c: t._(CATEGORIES[c].short) if c is not None else "—",
            "channel_label": lambda c: t._(CHANNEL_LABELS.get(c, c)),
            "anonymity_label": lambda a: t._(ANONYMITY_LABELS.get(a, a)),
            "committee_name": staff.committee.name(t.lang),
        },
    )

