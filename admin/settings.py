"""The committee's own rules, set by its chair: the working days allowed for a case's first handling."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from admin.auth import Staff, check_csrf, current_staff, db_session
from admin.views import redirect, render
from intake import audit
from intake.casework.policy import Perm, require
from intake.clock import set_first_handling_days
from intake.deadlines import MAX_FIRST_HANDLING_DAYS
from intake.errors import InvalidInputError
from intake.i18n import N_
from intake.models import Committee

router = APIRouter(prefix="/admin")
DAYS_ERROR = N_("Working days for a first handling: a whole number from 1 to {max}.")


def _page(request: Request, staff: Staff, **context: Any) -> Response:
    return render(request, "settings.html", staff, max_days=MAX_FIRST_HANDLING_DAYS, **context)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, done: str = "", staff: Staff = Depends(current_staff)) -> Response:
    """The committee's settings, for its chair."""
    require(staff.user, Perm.SETTINGS)
    return _page(request, staff, done=done, days=str(staff.committee.first_handling_days))


@router.post("/settings", response_class=HTMLResponse)
def save(
    request: Request,
    csrf: Annotated[str, Form(max_length=64)],
    first_handling_days: Annotated[str, Form(max_length=8)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """Sets the working days for a first handling; cases that reach the committee from now on get that deadline."""
    check_csrf(staff, csrf)
    require(staff.user, Perm.SETTINGS)
    committee = db.get(Committee, staff.user.committee_id)
    assert committee is not None
    text = first_handling_days.strip()
    try:
        set_first_handling_days(committee, int(text) if text.isdigit() else 0)
    except InvalidInputError:
        db.rollback()
        return _page(request, staff, days=text, error=staff.t._(DAYS_ERROR, max=MAX_FIRST_HANDLING_DAYS), status_code=400)
    audit.record(
        db, "committee.settings_changed", actor_kind="staff", actor_id=staff.user.id,
        details={"committee": committee.code, "first_handling_days": committee.first_handling_days},
    )
    db.commit()
    return redirect("/admin/settings", done="saved")
