"""The queue, the case page, the actions on a case, and reports recorded by staff."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from admin.auth import Staff, check_csrf, current_staff, db_session
from admin.deliveries import STATE_LABELS as DELIVERY_LABELS
from admin.picker import Picked, pick
from admin.views import ERROR_MESSAGES, landing_page, redirect, render
from intake import casework
from intake import notices
from intake.casework import deliveries, messages, queries
from intake.casework.policy import Perm, allowed_actions, can, require
from intake.categories import CATEGORIES
from intake.config import get_settings
from intake.conflict import ConflictOfInterestError, record_refusal
from intake.deadlines import DEADLINE_LABELS, local_today
from intake.errors import InvalidInputError, InvalidTransitionError, NotFoundError
from intake.i18n import N_
from intake.labels import ANONYMITY_LABELS, CHANNEL_LABELS, STATUS_LABELS
from intake.models import Case, Committee, CommitteeLevel, NoticeKind

router = APIRouter(prefix="/admin")
Csrf = Annotated[str, Form(max_length=64)]
Text = Annotated[str, Form(max_length=20000)]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
DOWNLOAD_TYPES = frozenset(
    {
        "image/jpeg", "image/png", "image/webp", "application/pdf", "text/plain",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "audio/ogg", "audio/mpeg", "video/mp4",
    }
)


def _int(value: str, default: int | None = None) -> int | None:
    return int(value) if value.strip().isdigit() and len(value.strip()) < 10 else default


def _date(value: str) -> date:
    """A date from a form field (YYYY-MM-DD, as the browser's date input sends it)."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError as err:
        raise InvalidInputError("date not valid") from err


@router.get("", response_class=HTMLResponse)
def queue_page(
    request: Request,
    status: str = "",
    category: str = "",
    commune: str = "",
    commune_q: str = "",
    deadline: str = "",
    channel: str = "",
    anonymity: str = "",
    assignee: str = "",
    q: str = "",
    sort: str = "due",
    page: str = "1",
    find: str = "",
    done: str = "",
    error: str = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """The committee's queue: open cases by deadline, filters, search (a receipt code opens its case), pages."""
    home = landing_page(staff.perms)
    if home != "/admin":
        return redirect(home)  # an administrator reads no case: their home is the accounts page
    q = q.strip()[:200]
    found = queries.receipt_match(db, staff.user, q)
    if isinstance(found, Case):
        return redirect(f"/admin/cases/{found.id}")  # a resident on the phone reads out their receipt code
    t = staff.t
    place = None
    if commune or commune_q.strip() or find == "commune":
        place = pick(
            db, staff, name="commune", label=t._(PLACE_FILTER_LABEL), scope="filter",
            code=commune, text=commune_q, required=False, finding=find == "commune",
        )
    status = status if status in STATUS_LABELS or status == queries.ALL_STATUSES else ""
    if q and found is not None and not status:
        # Words typed on the open tab look through every case: the one asked for may be closed already.
        status = queries.ALL_STATUSES
    f = queries.QueueFilter(
        status=status,
        category=c if (c := _int(category)) in CATEGORIES else None,
        commune=place.code if place else "",
        deadline=deadline if deadline in DEADLINE_LABELS else "",
        channel=channel if channel in CHANNEL_LABELS else "",
        anonymity=anonymity if anonymity in ANONYMITY_LABELS else "",
        assignee=assignee if assignee in ("me", "none") or (assignee.isdigit() and len(assignee) < 10) else "",
        q="" if found is None else q,
        sort=sort if sort in queries.SORTS else "due",
        page=_int(page, 1) or 1,
    )
    today = local_today()
    result = queries.queue(db, staff.user, f, today=today)
    params = {k: v for k, v in (
        ("status", f.status), ("category", "" if f.category is None else str(f.category)), ("commune", f.commune),
        ("deadline", f.deadline), ("channel", f.channel), ("anonymity", f.anonymity), ("assignee", f.assignee),
        ("q", f.q), ("sort", f.sort if f.sort != "due" else ""),
    ) if v}
    staff_list = queries.committee_staff(db, staff.committee.id)  # type: ignore[arg-type]
    below = staff.committee.level != CommitteeLevel.COMMUNE.value
    return render(
        request,
        "queue.html",
        staff,
        result=result,
        f=f,
        rows=result.rows,
        counts=result.counts,
        status=f.status,
        page=result.page,
        query_without=lambda *keys: urlencode({k: v for k, v in params.items() if k not in keys}),
        page_link=lambda n: "/admin?" + urlencode({**params, "page": n}),
        back=request.url.path + ("?" + request.url.query if request.url.query else ""),
        place=place or (Picked(name="commune", label=t._(PLACE_FILTER_LABEL), scope="filter") if below else None),
        staff_list=staff_list,
        workers=[u for u in staff_list if can(u, Perm.WORK)],
        names={u.id: u.display_name or u.username for u in staff_list},
        receipt_not_found=found is None,
        more_filters=sum(1 for v in (f.category, f.commune, f.deadline, f.channel, f.anonymity, f.assignee) if v not in ("", None))
        + (f.sort != "due"),
        # Cases where the reporter added information this account has not read yet: marked in the list.
        added=notices.unread_case_ids(db, staff.user, NoticeKind.RESIDENT_MESSAGE, [int(r.case.id) for r in result.rows if r.case.id]),
        today=today,
        done_message=_done(staff, done, LEFT_QUEUE_MESSAGES),
        error_message=staff.t._(ERROR_MESSAGES[error]) if error in ERROR_MESSAGES else "",
    )


PLACE_FILTER_LABEL = N_("Commune or province")


@router.post("/cases/assign")
def assign_many(
    csrf: Csrf,
    cases: Annotated[list[str] | None, Form()] = None,
    assignee: Annotated[str, Form(max_length=12)] = "",
    back: Annotated[str, Form(max_length=500)] = "/admin",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """Bulk assignment from the queue: the ticked cases go to one officer (or to nobody)."""
    check_csrf(staff, csrf)
    back = back if back.startswith("/admin") and "//" not in back and "\\" not in back else "/admin"
    sep = "&" if "?" in back else "?"
    ids = [int(x) for x in cases or [] if x.isdigit() and len(x) < 10]
    try:
        casework.assign_cases(db, case_ids=ids, actor=staff.user, assignee_id=_int(assignee))
    except (InvalidInputError, InvalidTransitionError, NotFoundError) as err:
        db.rollback()
        return RedirectResponse(f"{back}{sep}error={err.code}", status_code=303)
    db.commit()
    queries.forget_counts(staff.user.committee_id)
    return RedirectResponse(f"{back}{sep}done=assign", status_code=303)


# Refused input on a case page, by the action's own words: the message names the field.
CASE_ERRORS: dict[str, str] = {
    "reason empty": N_("Reason: please write the reason."),
    "reason too long": N_("Reason: please keep it under 1,000 characters."),
    "question empty": N_("Question: please write what you want to ask the reporter."),
    "question too long": N_("Question: please keep it under 1,000 characters."),
    "note empty": N_("Note: please write the note."),
    "note too long": N_("Note: please keep it under 4,000 characters."),
    "reply empty": N_("Reply: please write the reply."),
    "reply too long": N_("Reply: please keep it under 4,000 characters."),
    "result empty": N_("Result: please write the result."),
    "result too long": N_("Result: please keep it under 5,000 characters."),
    "body name empty": N_("Name of the body: please write which body the case went to."),
    "unknown body": N_("Body: please choose the kind of body."),
    "date not valid": N_("Date: please give the date as day, month and year."),
    "forwarding date out of range": N_("Date forwarded: it cannot be before the case arrived or in the future."),
    "result date out of range": N_("Date the answer arrived: it cannot be before the forwarding or in the future."),
    "category missing": N_("Type: please choose a type."),
    "category unchanged": N_("Type: this is already the case's type."),
    "case number missing": N_("Case no.: please give the number of the case to merge into."),
    "no such case in this queue": N_("Case no.: there is no such case in this queue."),
    "cannot merge into this case": N_("Case no.: this case cannot take duplicates (it is itself merged, or it is this case)."),
    "assignee cannot work this case": N_("Assigned to: this account cannot handle cases of this committee."),
    "target committee not valid": N_("Committee: this committee cannot take the case."),
    "committee not found": N_("Committee: please choose a committee."),
}


def _case_response(
    request: Request,
    db: Session,
    staff: Staff,
    case_id: int,
    *,
    done: str = "",
    error_message: str = "",
    form: str = "",
    values: dict[str, str] | None = None,
    target: Picked | None = None,
    place: Picked | None = None,
    status_code: int = 200,
) -> Response:
    """The case page; after a refused action, with that form's typed values and a message naming the field."""
    lang = staff.user.language
    today = local_today()
    view = queries.case_view(db, staff.user, case_id, today=today, lang=lang)
    if notices.mark_case_read(db, staff.user, case_id):
        db.commit()
    actions = allowed_actions(staff.user, view.case)
    if target is None:
        target = Picked(name="to", label=staff.t._(TRANSFER_TARGET_LABEL), scope="transfer", case_id=case_id)
    if place is None and "correct" in actions:
        place = pick(
            db, staff, name="commune_code", label=staff.t._(COMMUNE_LABEL), scope="commune", code=view.case.commune_code or "",
            text="", required=False,
        )
    return render(
        request,
        "case.html",
        staff,
        status_code=status_code,
        v=view,
        c=view.case,
        actions=actions,
        next_steps=next_steps(view.case.status, actions),
        reply_draft=messages.reply_draft(db, view.case, view.committee, view.thread, view.case.language),
        delivery=deliveries.message_states(db, case_id),
        delivery_labels=DELIVERY_LABELS,
        target=target,
        place=place,
        today=today,
        done_message=_done(staff, done, DONE_MESSAGES),
        error_message=error_message,
        form=form,
        values=values or {},
    )


TRANSFER_TARGET_LABEL = N_("Committee to take the case")

# The next step for a case in each status, first on its page; every other action is under "Thao tác khác".
NEXT_STEPS: dict[str, tuple[str, ...]] = {
    "new": ("accept", "out_of_scope"),
    "verifying": ("forward", "out_of_scope"),
    "forwarded": ("record_result",),
    "result": ("reply",),
    "answered": ("close",),
    "closed": ("reopen",),
    "out_of_scope": ("reopen",),
}


def next_steps(status: str, actions: frozenset[str]) -> tuple[str, ...]:
    """The next-step actions this account may take on a case in this status, main one first."""
    return tuple(a for a in NEXT_STEPS.get(status, ()) if a in actions)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request,
    case_id: int,
    done: str = "",
    error: str = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """A case: its next step first, then the report, evidence, thread and timeline; other actions folded away."""
    message = staff.t._(ERROR_MESSAGES[error]) if error in ERROR_MESSAGES else ""
    return _case_response(request, db, staff, case_id, done=done, error_message=message)


def _refuse(db: Session, staff: Staff, err: Exception) -> None:
    """Undoes a refused action; an attempt against the conflict rule is audited on its own."""
    db.rollback()
    if isinstance(err, ConflictOfInterestError):
        record_refusal(db, err, actor=staff.user)
        db.commit()


def _act(
    request: Request,
    db: Session,
    staff: Staff,
    case_id: int,
    csrf: str,
    name: str,
    work: Callable[[Case], object],
    values: dict[str, str] | None = None,
) -> Response:
    """Runs one action on a visible case; refused input comes back on the case page with what was typed."""
    check_csrf(staff, csrf)
    case = casework.visible_case(db, staff.user, case_id)
    try:
        work(case)
    except (InvalidInputError, InvalidTransitionError) as err:
        _refuse(db, staff, err)
        t = staff.t
        if isinstance(err, InvalidInputError) and err.detail in CASE_ERRORS:
            message = t._(CASE_ERRORS[err.detail])
        else:
            message = t._(ERROR_MESSAGES.get(err.code, ERROR_MESSAGES["invalid_input"]))
        return _case_response(request, db, staff, case_id, error_message=message, form=name, values=values, status_code=400)
    db.commit()
    queries.forget_counts(staff.user.committee_id, case.committee_id)
    if case.committee_id != staff.user.committee_id:
        # Transferred or escalated: the case has left this committee's queue.
        return redirect("/admin", done=name)
    return redirect(f"/admin/cases/{case_id}", done=name)


# What staff are told after each action on a case page: what was done, never a bare "done".
DONE_MESSAGES: dict[str, str] = {
    "accept": N_("The case has been accepted for handling."),
    "out_of_scope": N_("The case has been found outside the Front's remit; the reporter is sent the reason."),
    "reclassify": N_("The type has been changed."),
    "assign": N_("The assignment has been saved."),
    "ask_info": N_("The question has been sent to the reporter."),
    "note": N_("The internal note has been added."),
    "transfer": N_("The transfer has been requested; the chair decides."),
    "escalate": N_("The escalation has been requested; the chair decides."),
    "transfer_rejected": N_("The transfer has been refused; the case stays in this queue."),
    "correct": N_("The correction has been saved and the case routed again."),
    "merge": N_("The case has been merged as a duplicate."),
    "forward": N_("The forwarding to the competent body has been recorded."),
    "result": N_("The result has been recorded."),
    "reply": N_("The reply has been sent."),
    "close": N_("The case has been closed."),
    "reopen": N_("The case has been reopened."),
}

# After an action that took the case out of this committee's queue, on the queue page.
LEFT_QUEUE_MESSAGES: dict[str, str] = {
    "transfer": N_("The case has been passed on and has left this queue."),
    "escalate": N_("The case has been passed on and has left this queue."),
    "correct": N_("After the correction, the rules name another committee: the case has moved there and left this queue."),
    "assign": N_("The cases have been assigned."),
}


def _done(staff: Staff, done: str, table: dict[str, str]) -> str:
    """The sentence that confirms an action, in the account's language (empty for none, or a word no action sends)."""
    return staff.t._(table[done]) if done in table else ""


# Actions that end something and ask "are you sure?" first, on a page of their own (no script needed).
CONFIRMS: dict[str, tuple[str, str, str]] = {
    "close": (N_("Close case #{id}?"), N_("The reporter is thanked and the case leaves the open queue. Only the chair can reopen it."), N_("Yes, close the case")),
    "out_of_scope": (
        N_("Find case #{id} outside the Front's remit?"),
        N_("The reporter is sent the reason below and the case leaves the open queue. Only the chair can reopen it."),
        N_("Yes, it is outside the remit"),
    ),
    "merge": (
        N_("Merge case #{id} into case #{primary}?"),
        N_("Case #{id} is then handled as part of case #{primary}, and its reporter is told so. A merge cannot be undone."),
        N_("Yes, merge"),
    ),
}


def _confirm(
    request: Request, db: Session, staff: Staff, case_id: int, csrf: str, action: str, fields: dict[str, str], **params: str
) -> Response:
    """The page that asks before an action that ends something (if the account may take it); it posts the same fields with confirm=1."""
    check_csrf(staff, csrf)
    casework.check_action(staff.user, casework.visible_case(db, staff.user, case_id), action)
    path = f"/admin/cases/{case_id}/{action.replace('_', '-')}"
    title, text, button = CONFIRMS[action]
    t = staff.t
    return render(
        request,
        "confirm.html",
        staff,
        case_id=case_id,
        title=t._(title, id=case_id, **params),
        text=t._(text, id=case_id, **params),
        button=t._(button),
        action_path=path,
        fields=fields,
    )


Confirm = Annotated[str, Form(max_length=4)]
Back = Annotated[str, Form(max_length=4)]


def _back(request: Request, db: Session, staff: Staff, case_id: int, csrf: str, action: str, values: dict[str, str]) -> Response:
    """«Không, quay lại» on a confirmation: the case page again, with what was typed still in the form."""
    check_csrf(staff, csrf)
    if not values:
        return redirect(f"/admin/cases/{case_id}")
    return _case_response(request, db, staff, case_id, form=action, values=values)


@router.post("/cases/{case_id}/accept")
def accept(request: Request, case_id: int, csrf: Csrf, staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    return _act(request, db, staff, case_id, csrf, "accept", lambda c: casework.accept_case(db, case=c, actor=staff.user))


@router.post("/cases/{case_id}/out-of-scope")
def out_of_scope(
    request: Request, case_id: int, csrf: Csrf, reason: Text = "", confirm: Confirm = "", back: Back = "",
    staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    values = {"reason": reason}
    if back:
        return _back(request, db, staff, case_id, csrf, "out_of_scope", values)
    if not confirm and reason.strip():
        return _confirm(request, db, staff, case_id, csrf, "out_of_scope", values)
    return _act(
        request, db, staff, case_id, csrf, "out_of_scope",
        lambda c: casework.mark_out_of_scope(db, case=c, actor=staff.user, reason=reason), values,
    )


@router.post("/cases/{case_id}/reclassify")
def reclassify(
    request: Request, case_id: int, csrf: Csrf, category: Annotated[str, Form(max_length=4)] = "",
    staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    def work(c: Case) -> object:
        code = _int(category)
        if code is None:
            raise InvalidInputError("category missing")
        return casework.reclassify_case(db, case=c, actor=staff.user, category=code)

    return _act(request, db, staff, case_id, csrf, "reclassify", work, {"category": category})


@router.post("/cases/{case_id}/assign")
def assign(
    request: Request, case_id: int, csrf: Csrf, assignee: Annotated[str, Form(max_length=12)] = "",
    staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    return _act(
        request, db, staff, case_id, csrf, "assign",
        lambda c: casework.assign_case(db, case=c, actor=staff.user, assignee_id=_int(assignee)), {"assignee": assignee},
    )


@router.post("/cases/{case_id}/ask-info")
def ask_info(
    request: Request, case_id: int, csrf: Csrf, question: Text = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session)
) -> Response:
    return _act(
        request, db, staff, case_id, csrf, "ask_info",
        lambda c: casework.ask_for_information(db, case=c, actor=staff.user, question=question), {"question": question},
    )


@router.post("/cases/{case_id}/note")
def note(
    request: Request, case_id: int, csrf: Csrf, text: Text = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session)
) -> Response:
    return _act(request, db, staff, case_id, csrf, "note", lambda c: casework.add_note(db, case=c, actor=staff.user, text=text), {"text": text})


@router.post("/cases/{case_id}/transfer")
def transfer(
    request: Request,
    case_id: int,
    csrf: Csrf,
    reason: Text = "",
    to: Annotated[str, Form(max_length=16)] = "",
    to_q: Annotated[str, Form(max_length=200)] = "",
    find: Annotated[str, Form(max_length=16)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """Passes the case to the committee picked (never one the case must not reach); "Tìm" lists the matches."""
    check_csrf(staff, csrf)
    casework.check_action(staff.user, casework.visible_case(db, staff.user, case_id), "transfer")
    values = {"reason": reason}
    # A code sent is the action's to judge (a barred committee is refused there, and the attempt audited);
    # a name typed without a pick is resolved by the picker, which offers only committees that may take the case.
    chosen = db.exec(select(Committee).where(Committee.code == to.strip())).first() if to.strip() and not find else None
    if chosen is None:
        target = pick(
            db, staff, name="to", label=staff.t._(TRANSFER_TARGET_LABEL), scope="transfer", code="", text=to_q,
            case_id=case_id, finding=find == "to",
        )
        if target.chosen is None:
            return _case_response(
                request, db, staff, case_id, error_message=target.error, form="transfer", values=values, target=target,
                status_code=200 if find else 400,
            )
        chosen = db.get(Committee, target.chosen.id)
    assert chosen is not None
    return _act(
        request, db, staff, case_id, csrf, "transfer",
        lambda c: casework.transfer_case(db, case=c, actor=staff.user, to_committee=chosen, reason=reason), values,
    )


@router.post("/cases/{case_id}/correct")
def correct(
    request: Request,
    case_id: int,
    csrf: Csrf,
    accused_name: Annotated[str | None, Form(max_length=255)] = None,  # absent: left as it is
    accused_position: Annotated[str, Form(max_length=255)] = "",
    accused_agency: Annotated[str, Form(max_length=255)] = "",
    place_text: Annotated[str, Form(max_length=500)] = "",
    commune_code: Annotated[str, Form(max_length=8)] = "",
    commune_code_q: Annotated[str, Form(max_length=200)] = "",
    setting: Annotated[str, Form(max_length=16)] = "workplace",
    find: Annotated[str, Form(max_length=16)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """Corrects the accused's name, role or the place (the commune picked); the case is routed again (and moved if the rule requires)."""
    check_csrf(staff, csrf)
    values = {"accused_name": accused_name or "", "accused_position": accused_position, "accused_agency": accused_agency, "place_text": place_text, "setting": setting}
    place = pick(
        db, staff, name="commune_code", label=staff.t._(COMMUNE_LABEL), scope="commune", code=commune_code, text=commune_code_q,
        required=False, finding=find == "commune_code",
    )
    if place.error or find:
        return _case_response(
            request, db, staff, case_id, error_message=place.error, form="correct", values=values, place=place,
            status_code=200 if find else 400,
        )
    correction = casework.Correction(
        accused_name=accused_name,
        accused_position=accused_position,
        accused_agency=accused_agency,
        place_text=place_text,
        commune_code=place.code or None,
        setting=setting,
    )
    return _act(
        request, db, staff, case_id, csrf, "correct",
        lambda c: casework.correct_case(db, case=c, actor=staff.user, correction=correction), values,
    )


@router.post("/cases/{case_id}/escalate")
def escalate(
    request: Request, case_id: int, csrf: Csrf, reason: Text = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session)
) -> Response:
    return _act(
        request, db, staff, case_id, csrf, "escalate", lambda c: casework.escalate_case(db, case=c, actor=staff.user, reason=reason),
        {"escalate_reason": reason},
    )


@router.post("/transfers/{transfer_id}/decide")
def decide(
    transfer_id: int,
    csrf: Csrf,
    decision: Annotated[str, Form(max_length=8)],
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """The chair approves or refuses a waiting transfer."""
    check_csrf(staff, csrf)
    try:
        t = casework.decide_transfer(db, transfer_id=transfer_id, actor=staff.user, approve=decision == "approve")
    except (InvalidInputError, InvalidTransitionError) as err:
        _refuse(db, staff, err)
        return redirect("/admin", error=err.code)
    db.commit()
    queries.forget_counts(t.from_committee_id, t.to_committee_id)
    if decision == "approve":
        return redirect("/admin", done="transfer")
    return redirect(f"/admin/cases/{t.case_id}", done="transfer_rejected")


@router.post("/cases/{case_id}/merge")
def merge(
    request: Request, case_id: int, csrf: Csrf, primary: Annotated[str, Form(max_length=12)] = "", confirm: Confirm = "",
    back: Back = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    if back:
        return _back(request, db, staff, case_id, csrf, "merge", {"primary": primary})
    target = _int(primary.strip().lstrip("#"))

    def work(c: Case) -> object:
        if target is None:
            raise InvalidInputError("case number missing")
        try:
            casework.merge_cases(db, duplicate=c, primary_id=target, actor=staff.user)
        except NotFoundError as err:
            raise InvalidInputError("no such case in this queue") from err
        return None

    if not confirm and target is not None:
        return _confirm(request, db, staff, case_id, csrf, "merge", {"primary": str(target)}, primary=str(target))
    return _act(request, db, staff, case_id, csrf, "merge", work, {"primary": primary})


@router.post("/cases/{case_id}/forward")
def forward(
    request: Request,
    case_id: int,
    csrf: Csrf,
    body_kind: Annotated[str, Form(max_length=32)] = "",
    body_name: Annotated[str, Form(max_length=255)] = "",
    forwarded_on: Annotated[str, Form(max_length=10)] = "",
    complex_case: Annotated[str, Form(max_length=4)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    values = {"body_kind": body_kind, "body_name": body_name, "forwarded_on": forwarded_on, "complex_case": complex_case}
    return _act(
        request, db, staff, case_id, csrf, "forward",
        lambda c: casework.record_forwarding(
            db, case=c, actor=staff.user, body_kind=body_kind, body_name=body_name,
            forwarded_on=_date(forwarded_on), complex_case=bool(complex_case),
        ),
        values,
    )


@router.post("/cases/{case_id}/result")
def result(
    request: Request, case_id: int, csrf: Csrf, text: Text = "", result_on: Annotated[str, Form(max_length=10)] = "",
    staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    return _act(
        request, db, staff, case_id, csrf, "result",
        lambda c: casework.record_result(db, case=c, actor=staff.user, result_on=_date(result_on), text=text),
        {"result_text": text, "result_on": result_on},
    )


@router.post("/cases/{case_id}/reply")
def reply(
    request: Request, case_id: int, csrf: Csrf, text: Text = "", tells_result: Annotated[str, Form(max_length=4)] = "",
    staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    return _act(
        request, db, staff, case_id, csrf, "reply",
        lambda c: casework.reply_to_resident(db, case=c, actor=staff.user, text=text, tells_result=bool(tells_result)),
        {"reply": text, "tells_result": tells_result},
    )


@router.post("/cases/{case_id}/close")
def close(
    request: Request, case_id: int, csrf: Csrf, confirm: Confirm = "", back: Back = "",
    staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    if back:
        return _back(request, db, staff, case_id, csrf, "close", {})
    if not confirm:
        return _confirm(request, db, staff, case_id, csrf, "close", {})
    return _act(request, db, staff, case_id, csrf, "close", lambda c: casework.close_case(db, case=c, actor=staff.user))


@router.post("/cases/{case_id}/reopen")
def reopen(
    request: Request, case_id: int, csrf: Csrf, reason: Text = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session)
) -> Response:
    """The chair reopens a closed case, with a reason; audited, and the resident is told."""
    return _act(
        request, db, staff, case_id, csrf, "reopen", lambda c: casework.reopen_case(db, case=c, actor=staff.user, reason=reason),
        {"reopen_reason": reason},
    )


@router.get("/cases/{case_id}/attachments/{attachment_id}")
def attachment(case_id: int, attachment_id: int, staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    """An evidence file, as a download (never shown inline); the download is audited."""
    case = casework.visible_case(db, staff.user, case_id)
    try:
        att, data = casework.download_attachment(db, case=case, actor=staff.user, attachment_id=attachment_id)
    except ConflictOfInterestError as err:
        _refuse(db, staff, err)
        return redirect(f"/admin/cases/{case_id}", error=err.code)
    db.commit()
    ext = att.content_type.split("/")[-1].split(";")[0][:10]
    name = _SAFE_NAME.sub("_", f"case-{case.id}-evidence-{att.id}.{ext}")
    return Response(
        content=data,
        # Anything but the types evidence usually has is sent as bytes: never rendered as a page.
        media_type=att.content_type if att.content_type in DOWNLOAD_TYPES else "application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"},
    )


@router.post("/cases/{case_id}/identity", response_class=HTMLResponse)
def identity(
    request: Request,
    case_id: int,
    csrf: Csrf,
    reason: Annotated[str, Form(max_length=1000)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """The reporter's identity, for the chair, after a stated reason (written to the audit log)."""
    check_csrf(staff, csrf)
    case = casework.visible_case(db, staff.user, case_id)
    try:
        who = casework.view_identity(db, case=case, actor=staff.user, reason=reason)
    except InvalidInputError as err:
        _refuse(db, staff, err)
        return redirect(f"/admin/cases/{case_id}", error=err.code)
    db.commit()
    return render(request, "identity.html", staff, c=case, who=who)


RECORD_ERRORS: dict[str, str] = {
    "place not found": N_("Place: it was not recognised. Please write the commune and the province, or choose the commune below."),
    "unknown commune": N_("Commune: please choose the commune from the list."),
    "identity required for this mode": N_(
        "A confidential or open report needs the reporter's name and a phone number or other contact."
    ),
    "description empty": N_("Content of the report: please write what was reported."),
    "description too long": N_("Content of the report: it is too long."),
    "date not valid": N_("Date of receipt: please give the date."),
    "date of receipt out of range": N_("Date of receipt: it cannot be in the future."),
    "attachment empty or too large": N_("A file is empty or too large."),
    "not a readable image": N_("A photo could not be read."),
    "not a readable document": N_("A document could not be read."),
}


COMMUNE_LABEL = N_("Commune where it happened (if known)")


def _record_form(
    request: Request, staff: Staff, *, values: dict[str, str], place: Picked, error: str = "", status_code: int = 200
) -> Response:
    if error:
        error = staff.t._(RECORD_ERRORS.get(error, ERROR_MESSAGES["invalid_input"]))
    return render(
        request,
        "record.html",
        staff,
        status_code=status_code,
        values=values,
        place=place,
        error=error,
        offline_channels=[(c, staff.t._(CHANNEL_LABELS[c])) for c in casework.OFFLINE_CHANNELS],
        today=local_today(),
    )


@router.get("/record", response_class=HTMLResponse)
def record_page(request: Request, staff: Staff = Depends(current_staff)) -> Response:
    """The form for a report received in person, by phone, letter, e-mail or from the suggestion box."""
    require(staff.user, Perm.RECORD)
    place = Picked(name="commune", label=staff.t._(COMMUNE_LABEL), scope="commune")
    return _record_form(request, staff, values={"received_on": local_today().isoformat(), "mode": "anonymous"}, place=place)


class RecordForm(BaseModel):
    """The fields of the recording form, all optional here: intake decides what is missing."""

    csrf: str = Field(default="", max_length=64)
    channel: str = Field(default="", max_length=24)
    received_on: str = Field(default="", max_length=10)
    mode: str = Field(default="", max_length=16)
    description: str = Field(default="", max_length=20000)
    place_text: str = Field(default="", max_length=500)
    commune: str = Field(default="", max_length=8)  # the picker's code
    commune_q: str = Field(default="", max_length=200)  # the picker's text
    find: str = Field(default="", max_length=16)  # "commune": list the communes matching the text
    setting: str = Field(default="workplace", max_length=16)
    accused_name: str = Field(default="", max_length=255)
    accused_position: str = Field(default="", max_length=255)
    accused_agency: str = Field(default="", max_length=255)
    occurred: str = Field(default="", max_length=255)
    category: str = Field(default="", max_length=2)
    reporter_name: str = Field(default="", max_length=255)
    reporter_contact: str = Field(default="", max_length=255)


def _uploads(files: list[UploadFile] | None) -> list[tuple[bytes, str]]:
    """The files chosen in the form, read with a cap: too many or too large is refused before storing."""
    settings = get_settings()
    chosen = [f for f in files or [] if f.filename]
    if len(chosen) > settings.max_attachments_per_report:
        raise InvalidInputError("attachment empty or too large")
    limit = settings.max_attachment_mb * 2**20
    out = []
    for up in chosen:
        data = up.file.read(limit + 1)
        if len(data) > limit:
            raise InvalidInputError("attachment empty or too large")
        out.append((data, up.content_type or "application/octet-stream"))
    return out


@router.post("/record", response_class=HTMLResponse)
def record_submit(
    request: Request,
    form: Annotated[RecordForm, Form()],
    files: Annotated[list[UploadFile] | None, File()] = None,
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """Files the report through the same intake as the chats, and shows the receipt to hand over."""
    check_csrf(staff, form.csrf)
    require(staff.user, Perm.RECORD)
    values = form.model_dump(exclude={"csrf", "find", "commune", "commune_q"})
    place = pick(
        db, staff, name="commune", label=staff.t._(COMMUNE_LABEL), scope="commune", code=form.commune, text=form.commune_q,
        required=False, finding=form.find == "commune",
    )
    if place.error or form.find:
        return _record_form(request, staff, values=values, place=place, status_code=200 if form.find else 400)
    try:
        report = casework.OfflineReport(
            channel=form.channel,
            received_on=_date(form.received_on),
            mode=form.mode,
            description=form.description,
            place_text=form.place_text,
            commune_code=place.code or None,
            setting=form.setting,
            accused_name=form.accused_name,
            accused_position=form.accused_position,
            accused_agency=form.accused_agency,
            occurred=form.occurred,
            category=_int(form.category) if form.category else None,
            reporter_name=form.reporter_name,
            reporter_contact=form.reporter_contact,
            files=_uploads(files),
        )
        filed = casework.record_report(db, actor=staff.user, report=report)
    except InvalidInputError as err:
        _refuse(db, staff, err)
        return _record_form(request, staff, values=values, place=place, error=err.detail or "invalid", status_code=400)
    db.commit()
    queries.forget_counts(filed.case.committee_id)
    return render(
        request,
        "receipt.html",
        staff,
        filed=filed,
        own=filed.case.committee_id == staff.user.committee_id,
        committee_label=filed.committee.name(staff.user.language),
    )
