"""Deliveries to residents: how many messages are in each state, and the dead letters with a retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from admin.auth import Staff, check_csrf, current_staff, db_session
from admin.views import ERROR_MESSAGES, redirect, render
from intake.casework import deliveries
from intake.casework.policy import Perm
from intake.errors import InvalidTransitionError
from intake.i18n import N_

router = APIRouter(prefix="/admin")
Csrf = Annotated[str, Form(max_length=64)]

STATE_LABELS: dict[str, str] = {
    "pending": N_("Waiting to be sent"),
    "sending": N_("Being sent"),
    "held": N_("Kept for the reporter's look-up"),
    "sent": N_("Delivered to the chat"),
    "dead": N_("Not delivered"),
}


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries_page(
    request: Request, done: str = "", error: str = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session)
) -> Response:
    """Counts per delivery state and the dead letters of the committee's cases; never a chat handle."""
    return render(
        request,
        "deliveries.html",
        staff,
        counts=deliveries.counts(db, staff.user),
        dead=deliveries.dead_letters(db, staff.user),
        state_labels=STATE_LABELS,
        can_retry=Perm.RETRY_DELIVERY in staff.perms,
        can_open=Perm.VIEW in staff.perms,
        done=done,
        error_message=staff.t._(ERROR_MESSAGES[error]) if error in ERROR_MESSAGES else "",
    )


@router.post("/deliveries/{outbox_id}/retry")
def retry(outbox_id: int, csrf: Csrf, staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    """Puts a dead letter back in the queue (audited); the worker sends it on its next round."""
    check_csrf(staff, csrf)
    try:
        deliveries.retry_dead_letter(db, outbox_id=outbox_id, actor=staff.user)
    except InvalidTransitionError as err:
        db.rollback()
        return redirect("/admin/deliveries", error=err.code)
    db.commit()
    return redirect("/admin/deliveries", done="retry")
