"""Notifications: the account's unread new cases and information reporters added, its e-mail address and which mails it wants."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from admin.auth import Staff, check_csrf, current_staff, db_session
from admin.views import redirect, render
from intake import notices
from intake.config import get_settings
from intake.errors import InvalidInputError
from intake.i18n import N_

router = APIRouter(prefix="/admin")
Csrf = Annotated[str, Form(max_length=64)]
EMAIL_ERROR = N_("E-mail address: please write a full address such as ten@mttq.example.vn, or leave it empty.")


def _page(request: Request, staff: Staff, db: Session, **context: Any) -> Response:
    items = notices.recent(db, staff.user)
    t = staff.t
    statuses = notices.case_statuses(db, items)
    return render(
        request,
        "notifications.html",
        staff,
        items=items,
        added_information=lambda n: notices.added_information(t, int(n.case_id), statuses.get(int(n.case_id), "")),
        mail_enabled=get_settings().mail_enabled,
        **context,
    )


@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(request: Request, done: str = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    """New cases that reached the account's queue and information reporters added, newest first; and its e-mail settings."""
    return _page(request, staff, db, done=done, values={})


@router.post("/notifications/read")
def read_all(csrf: Csrf, staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    """Marks every notice of the account read."""
    check_csrf(staff, csrf)
    notices.mark_all_read(db, staff.user)
    db.commit()
    return redirect("/admin/notifications", done="read")


@router.post("/notifications/settings", response_class=HTMLResponse)
def save_settings(
    request: Request,
    csrf: Csrf,
    email: Annotated[str, Form(max_length=254)] = "",
    new_cases: Annotated[str, Form(max_length=4)] = "",
    digest: Annotated[str, Form(max_length=4)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """The account's own address and the mails it wants (each can be turned off)."""
    check_csrf(staff, csrf)
    try:
        notices.set_preferences(staff.user, email=email, new_cases=bool(new_cases), digest=bool(digest))
    except InvalidInputError:
        db.rollback()
        values = {"email": email, "new_cases": new_cases, "digest": digest}
        return _page(request, staff, db, values=values, error=staff.t._(EMAIL_ERROR), status_code=400)
    db.add(staff.user)
    db.commit()
    return redirect("/admin/notifications", done="saved")
