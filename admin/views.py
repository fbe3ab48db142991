"""Rendering for the admin: one template environment, and the context every page shares."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import segno
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlmodel import Session

from admin.auth import Staff
from intake import notices
from intake.casework.actions import FORWARD_BODIES
from intake.casework.policy import Perm, can
from intake.categories import CATEGORIES
from intake.dates import format_date, format_datetime
from intake.db import get_engine
from intake.deadlines import DEADLINE_LABELS
from intake.i18n import N_, Translator, translator
from intake.labels import ANONYMITY_LABELS, CHANNEL_LABELS, SETTING_LABELS, STATUS_LABELS
from intake.models import StaffRole
from intake.places import get_gazetteer

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

ROLE_LABELS: dict[str, str] = {
    StaffRole.VIEWER.value: N_("Viewer"),
    StaffRole.OFFICER.value: N_("Officer"),
    StaffRole.CHAIR.value: N_("Chair (standing board)"),
    StaffRole.ADMIN.value: N_("Administrator"),
}

TEMPLATE_KIND_LABELS: dict[str, str] = {
    "verifying": N_("Accepted, being verified"),
    "forwarded": N_("Forwarded to the competent body"),
    "answered": N_("Result told to the reporter"),
    "closed": N_("Closed"),
    "out_of_scope": N_("Outside the Front's remit"),
    "duplicate": N_("Merged with another report"),
    "transferred": N_("Passed to another committee"),
    "info_request": N_("Request for more information"),
    "reopened": N_("Reopened"),
}

# Kinds of evidence file, as the case page names them.
ATTACHMENT_KIND_LABELS: dict[str, str] = {
    "photo": N_("photo"),
    "document": N_("document"),
    "voice": N_("voice message"),
    "video": N_("video"),
}

ACTION_LABELS: dict[str, str] = {
    "case.submitted": N_("Report filed"),
    "case.recorded": N_("Report recorded by staff"),
    "case.looked_up": N_("The reporter looked the case up"),
    "case.accepted": N_("Accepted for handling"),
    "case.out_of_scope": N_("Found outside the Front's remit"),
    "case.reclassified": N_("Category changed"),
    "case.assigned": N_("Assigned"),
    "case.info_requested": N_("More information asked of the reporter"),
    "case.note_added": N_("Internal note added"),
    "case.transfer_requested": N_("Transfer requested"),
    "case.escalate_requested": N_("Escalation requested"),
    "case.transferred": N_("Transferred to another committee"),
    "case.escalated": N_("Escalated to the committee above"),
    "case.transfer_rejected": N_("Transfer refused"),
    "case.escalate_rejected": N_("Escalation refused"),
    "case.merged": N_("Merged into another case"),
    "case.duplicates_added": N_("Duplicate reports merged into this case"),
    "case.forwarded": N_("Forwarded to the competent body"),
    "case.result_recorded": N_("Result recorded"),
    "case.replied": N_("Reply sent to the reporter"),
    "case.closed": N_("Closed"),
    "case.reopened": N_("Reopened by the chair"),
    "case.resident_message": N_("The reporter added information"),
    "case.corrected": N_("Accused's name, position or place corrected"),
    "case.rerouted": N_("Moved to the committee the rules name"),
    "attachment.downloaded": N_("Evidence file downloaded"),
    "identity.viewed": N_("Reporter's identity viewed"),
    "outbox.retried": N_("Undelivered message to the reporter sent again"),
}

ERROR_MESSAGES: dict[str, str] = {
    "busy": N_("The system is busy right now. Please wait a moment and try again: nothing has been changed."),
    "conflict_of_interest": N_(
        "This committee cannot receive or see the case: the person it accuses leads it or a committee above it. "
        "The attempt was recorded."
    ),
    "invalid_input": N_("Please check what you entered: something is missing or not valid."),
    "invalid_transition": N_("This action is not possible in the case's current status."),
    "not_found": N_("Not found."),
    "permission_denied": N_("You do not have permission to do this."),
}


def _label(t: Translator, table: dict[str, str], key: str) -> str:
    """A code's label in the reader's language; an unknown code is shown as it is."""
    return t._(table[key]) if key in table else str(key)


def place_name(case: Any) -> str:
    """Where a case is, as the gazetteer names it ("Xã Hưng Nguyên, Nghệ An"), else as the resident wrote it."""
    gazetteer = get_gazetteer()
    try:
        if case.commune_code:
            return f"{gazetteer.commune(case.commune_code).name}, {gazetteer.commune_province(case.commune_code).name}"
        if case.province_code:
            return gazetteer.province(case.province_code).name
    except KeyError:  # a code from an older structure: what was written still says it
        pass
    return str(case.place_text or "")


def base_context(lang: str) -> dict[str, Any]:
    """Labels and helpers every template may use, in one language."""
    t = translator(lang)
    return {
        "_": t._,
        "lang": lang,
        "status_label": lambda s: _label(t, STATUS_LABELS, s),
        "category_label": lambda c: t._(CATEGORIES[c].short) if c is not None and c in CATEGORIES else "—",
        "channel_label": lambda c: _label(t, CHANNEL_LABELS, c),
        "anonymity_label": lambda a: _label(t, ANONYMITY_LABELS, a),
        "setting_label": lambda s: _label(t, SETTING_LABELS, s),
        "deadline_label": lambda d: _label(t, DEADLINE_LABELS, str(d)),
        "body_label": lambda b: _label(t, FORWARD_BODIES, b) if b else "—",
        "role_label": lambda r: _label(t, ROLE_LABELS, r),
        "action_label": lambda a: _label(t, ACTION_LABELS, a),
        "kind_label": lambda k: _label(t, TEMPLATE_KIND_LABELS, k),
        "file_kind_label": lambda k: _label(t, ATTACHMENT_KIND_LABELS, k),
        "pgettext": t.pgettext,
        "iso_date": lambda text: date.fromisoformat(text) if text else None,  # a date kept in an audit row
        "local": format_datetime,
        "place_name": place_name,
        "day": format_date,
        "categories": [(code, t._(c.short)) for code, c in sorted(CATEGORIES.items())],
        "statuses": [(k, t._(v)) for k, v in STATUS_LABELS.items()],
        "channels": [(k, t._(v)) for k, v in CHANNEL_LABELS.items()],
        "anonymities": [(k, t._(v)) for k, v in ANONYMITY_LABELS.items()],
        "deadlines": [(k, t._(v)) for k, v in DEADLINE_LABELS.items()],
        "bodies": [(k, t._(v)) for k, v in FORWARD_BODIES.items()],
        "settings_list": [(k, t._(v)) for k, v in SETTING_LABELS.items()],
        "Perm": Perm,
        "can": can,
    }


def render(request: Request, name: str, staff: Staff | None, status_code: int = 200, **context: Any) -> Response:
    """A page for a signed-in officer (or the sign-in pages when staff is None)."""
    lang = staff.user.language if staff else str(context.pop("lang", "vi"))
    ctx = base_context(lang)
    if staff is not None:
        ctx.update(staff=staff, committee_name=staff.committee.name(lang), perms=staff.perms, unread=_unread(staff))
    ctx.update(context)
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers["X-Robots-Tag"] = "noindex, nofollow"  # the admin is for staff, never for search engines
    return response


def _unread(staff: Staff) -> int:
    """The account's unread notices, for the header (a read of its own, beside the request's session)."""
    with Session(get_engine()) as db:
        return notices.unread_count(db, staff.user)


# Where each kind of account starts: casework roles at the queue, the system administrator at the accounts.
LANDINGS: tuple[tuple[Perm, str], ...] = (
    (Perm.VIEW, "/admin"),
    (Perm.MANAGE_ACCOUNTS, "/admin/accounts"),
    (Perm.DELIVERIES, "/admin/deliveries"),
)


def landing_page(perms: frozenset[Perm]) -> str:
    """The first page an account's role may open, where sign-in (and the brand link) take it."""
    return next((path for perm, path in LANDINGS if perm in perms), "/admin")


def qr_svg(uri: str) -> Markup:
    """The set-up address as a QR code for the phone's camera: inline SVG, no script, no image request."""
    code = segno.make(uri, error="m")
    return Markup(code.svg_inline(scale=4, border=4, title="QR", svgclass="qr", lineclass="qr-line", dark="#000", light="#fff"))


def redirect(path: str, **params: Any) -> RedirectResponse:
    """A 303 to another admin page (after a form), with query parameters."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return RedirectResponse(path + ("?" + query if query else ""), status_code=303)


def error_page(request: Request, code: str, status_code: int) -> HTMLResponse:
    """An error as a page, in the admin's look (the message only, nothing of the input)."""
    lang = "vi"
    ctx = base_context(lang)
    ctx.update(message=ctx["_"](ERROR_MESSAGES.get(code, N_("Something went wrong. Please try again."))), code=status_code)
    response = templates.TemplateResponse(request, "error.html", ctx, status_code=status_code)
    assert isinstance(response, HTMLResponse)
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
