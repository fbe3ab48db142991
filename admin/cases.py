"""The queue, the case page, the actions on a case, and reports recorded by staff."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from admin.auth import Staff, check_csrf, current_staff, db_session
from admin.deliveries import STATE_LABELS as DELIVERY_LABELS
from admin.views import ERROR_MESSAGES, landing_page, redirect, render
from intake import casework
from intake.casework import deliveries, messages, queries
from intake.casework.policy import Perm, allowed_actions, require
from intake.categories import CATEGORIES
from intake.config import get_settings
from intake.conflict import ConflictOfInterestError, barred_committee_ids, record_refusal
from intake.deadlines import DEADLINE_LABELS, local_today
from intake.errors import InvalidInputError, InvalidTransitionError, NotFoundError
from intake.i18n import N_
from intake.labels import ANONYMITY_LABELS, CHANNEL_LABELS, STATUS_LABELS
from intake.models import Case, Committee

router = APIRouter(prefix="/admin")

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
    deadline: str = "",
    channel: str = "",
    anonymity: str = "",
    assignee: str = "",
    q: str = "",
    sort: str = "new",
    page: str = "1",
    done: str = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """The committee's queue: filters, search without diacritics, sorting, pages, counts per status."""
    home = landing_page(staff.perms)
    if home != "/admin":
        return redirect(home)  # an administrator reads no case: their home is the accounts page
    f = queries.QueueFilter(
        status=status if status in STATUS_LABELS else "",
        category=c if (c := _int(category)) in CATEGORIES else None,
        commune=commune if commune.isdigit() and len(commune) <= 8 else "",
        deadline=deadline if deadline in DEADLINE_LABELS else "",
        channel=channel if channel in CHANNEL_LABELS else "",
        anonymity=anonymity if anonymity in ANONYMITY_LABELS else "",
        assignee=assignee if assignee in ("me", "none") or (assignee.isdigit() and len(assignee) < 10) else "",
        q=q[:200],
        sort=sort if sort in queries.SORTS else "new",
        page=_int(page, 1) or 1,
    )
    today = local_today()
    result = queries.queue(db, staff.user, f, today=today)
    params = {k: v for k, v in (
        ("status", f.status), ("category", "" if f.category is None else str(f.category)), ("commune", f.commune),
        ("deadline", f.deadline), ("channel", f.channel), ("anonymity", f.anonymity), ("assignee", f.assignee),
        ("q", f.q), ("sort", f.sort if f.sort != "new" else ""),
    ) if v}
    staff_list = queries.committee_staff(db, staff.committee.id)  # type: ignore[arg-type]
    return render(
        request,
        "queue.html",
        staff,
        result=result,
        f=f,
        cases=result.cases,
        counts=result.counts,
        status=f.status,
        page=result.page,
        query_without=lambda *keys: urlencode({k: v for k, v in params.items() if k not in keys}),
        page_link=lambda n: "/admin?" + urlencode({**params, "page": n}),
        communes=queries.child_committees(db, staff.committee),
        staff_list=staff_list,
        names={u.id: u.display_name or u.username for u in staff_list},
        today=today,
        done=done,
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request,
    case_id: int,
    done: str = "",
    error: str = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """A case: the report, evidence, suggestion, routing, similar cases, thread, notes, timeline, actions."""
    lang = staff.user.language
    view = queries.case_view(db, staff.user, case_id, today=local_today(), lang=lang)
    kind = messages.reply_kind(view.case.status)
    reply_draft = messages.render(db, view.case, view.committee, kind, lang=view.case.language) if kind else ""
    return render(
        request,
        "case.html",
        staff,
        v=view,
        c=view.case,
        actions=allowed_actions(staff.user, view.case),
        reply_draft=reply_draft,
        delivery=deliveries.message_states(db, case_id),
        delivery_labels=DELIVERY_LABELS,
        targets=queries.transfer_targets(db, view.committee, exclude=barred_committee_ids(db, view.case)),
        today=local_today(),
        done=done,
        error_message=staff.t._(ERROR_MESSAGES[error]) if error in ERROR_MESSAGES else "",
    )


def _refuse(db: Session, staff: Staff, err: Exception) -> None:
    """Undoes a refused action; an attempt against the conflict rule is audited on its own."""
    db.rollback()
    if isinstance(err, ConflictOfInterestError):
        record_refusal(db, err, actor=staff.user)
        db.commit()


def _act(db: Session, staff: Staff, case_id: int, csrf: str, name: str, work: Callable[[Case], object]) -> Response:
    """Runs one action on a visible case; a refused input goes back to the case page with a message."""
    check_csrf(staff, csrf)
    case = casework.visible_case(db, staff.user, case_id)
    try:
        work(case)
    except (InvalidInputError, InvalidTransitionError) as err:
        _refuse(db, staff, err)
        return redirect(f"/admin/cases/{case_id}", error=err.code)
    db.commit()
    queries.forget_counts(staff.user.committee_id, case.committee_id)
    if case.committee_id != staff.user.committee_id:
        # Transferred or escalated: the case has left this committee's queue.
        return redirect("/admin", done=name)
    return redirect(f"/admin/cases/{case_id}", done=name)


Csrf = Annotated[str, Form(max_length=64)]
Text = Annotated[str, Form(max_length=20000)]


@router.post("/cases/{case_id}/accept")
def accept(case_id: int, csrf: Csrf, staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    return _act(db, staff, case_id, csrf, "accept", lambda c: casework.accept_case(db, case=c, actor=staff.user))


@router.post("/cases/{case_id}/out-of-scope")
def out_of_scope(
    case_id: int, csrf: Csrf, reason: Text = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session)
) -> Response:
    return _act(db, staff, case_id, csrf, "out_of_scope", lambda c: casework.mark_out_of_scope(db, case=c, actor=staff.user, reason=reason))


@router.post("/cases/{case_id}/reclassify")
def reclassify(
    case_id: int, csrf: Csrf, category: Annotated[str, Form(max_length=4)] = "",
    staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    def work(c: Case) -> object:
        code = _int(category)
        if code is None:
            raise InvalidInputError("category missing")
        return casework.reclassify_case(db, case=c, actor=staff.user, category=code)

    return _act(db, staff, case_id, csrf, "reclassify", work)


@router.post("/cases/{case_id}/assign")
def assign(
    case_id: int, csrf: Csrf, assignee: Annotated[str, Form(max_length=12)] = "",
    staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    return _act(db, staff, case_id, csrf, "assign", lambda c: casework.assign_case(db, case=c, actor=staff.user, assignee_id=_int(assignee)))


@router.post("/cases/{case_id}/ask-info")
def ask_info(
    case_id: int, csrf: Csrf, question: Text = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session)
) -> Response:
    return _act(db, staff, case_id, csrf, "ask_info", lambda c: casework.ask_for_information(db, case=c, actor=staff.user, question=question))


@router.post("/cases/{case_id}/note")
def note(
    case_id: int, csrf: Csrf, text: Text = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session)
) -> Response:
    return _act(db, staff, case_id, csrf, "note", lambda c: casework.add_note(db, case=c, actor=staff.user, text=text))


def _committee_by(db: Session, committee_id: str, code: str) -> Committee:
    if code.strip():
        found = db.exec(select(Committee).where(Committee.code == code.strip()[:16])).first()
    else:
        cid = _int(committee_id)
        found = db.get(Committee, cid) if cid is not None else None
    if found is None:
        raise InvalidInputError("committee not found")
    return found


@router.post("/cases/{case_id}/transfer")
def transfer(
    case_id: int,
    csrf: Csrf,
    reason: Text = "",
    to_committee: Annotated[str, Form(max_length=12)] = "",
    to_code: Annotated[str, Form(max_length=16)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    return _act(
        db, staff, case_id, csrf, "transfer",
        lambda c: casework.transfer_case(db, case=c, actor=staff.user, to_committee=_committee_by(db, to_committee, to_code), reason=reason),
    )


@router.post("/cases/{case_id}/correct")
def correct(
    case_id: int,
    csrf: Csrf,
    accused_position: Annotated[str, Form(max_length=255)] = "",
    accused_agency: Annotated[str, Form(max_length=255)] = "",
    place_text: Annotated[str, Form(max_length=500)] = "",
    commune_code: Annotated[str, Form(max_length=8)] = "",
    setting: Annotated[str, Form(max_length=16)] = "workplace",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """Corrects the accused's role or the place; the case is routed again (and moved if the rule requires)."""
    correction = casework.Correction(
        accused_position=accused_position,
        accused_agency=accused_agency,
        place_text=place_text,
        commune_code=commune_code.strip() or None,
        setting=setting,
    )
    return _act(db, staff, case_id, csrf, "correct", lambda c: casework.correct_case(db, case=c, actor=staff.user, correction=correction))


@router.post("/cases/{case_id}/escalate")
def escalate(
    case_id: int, csrf: Csrf, reason: Text = "", staff: Staff = Depends(current_staff), db: Session = Depends(db_session)
) -> Response:
    return _act(db, staff, case_id, csrf, "escalate", lambda c: casework.escalate_case(db, case=c, actor=staff.user, reason=reason))


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
    case_id: int, csrf: Csrf, primary: Annotated[str, Form(max_length=12)] = "",
    staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    def work(c: Case) -> object:
        target = _int(primary.lstrip("#"))
        if target is None:
            raise InvalidInputError("case number missing")
        try:
            casework.merge_cases(db, duplicate=c, primary_id=target, actor=staff.user)
        except NotFoundError as err:
            raise InvalidInputError("no such case in this queue") from err
        return None

    return _act(db, staff, case_id, csrf, "merge", work)


@router.post("/cases/{case_id}/forward")
def forward(
    case_id: int,
    csrf: Csrf,
    body_kind: Annotated[str, Form(max_length=32)] = "",
    body_name: Annotated[str, Form(max_length=255)] = "",
    forwarded_on: Annotated[str, Form(max_length=10)] = "",
    complex_case: Annotated[str, Form(max_length=4)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    return _act(
        db, staff, case_id, csrf, "forward",
        lambda c: casework.record_forwarding(
            db, case=c, actor=staff.user, body_kind=body_kind, body_name=body_name,
            forwarded_on=_date(forwarded_on), complex_case=bool(complex_case),
        ),
    )


@router.post("/cases/{case_id}/result")
def result(
    case_id: int, csrf: Csrf, text: Text = "", result_on: Annotated[str, Form(max_length=10)] = "",
    staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    return _act(
        db, staff, case_id, csrf, "result",
        lambda c: casework.record_result(db, case=c, actor=staff.user, result_on=_date(result_on), text=text),
    )


@router.post("/cases/{case_id}/reply")
def reply(
    case_id: int, csrf: Csrf, text: Text = "", tells_result: Annotated[str, Form(max_length=4)] = "",
    staff: Staff = Depends(current_staff), db: Session = Depends(db_session),
) -> Response:
    return _act(
        db, staff, case_id, csrf, "reply",
        lambda c: casework.reply_to_resident(db, case=c, actor=staff.user, text=text, tells_result=bool(tells_result)),
    )


@router.post("/cases/{case_id}/close")
def close(case_id: int, csrf: Csrf, staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    return _act(db, staff, case_id, csrf, "close", lambda c: casework.close_case(db, case=c, actor=staff.user))


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
    "place not found": N_("The place was not recognised. Please write the commune and the province, or give the commune code."),
    "unknown commune": N_("There is no commune with this code."),
    "identity required for this mode": N_(
        "A confidential or open report needs the reporter's name and a phone number or other contact."
    ),
    "description empty": N_("Please write what was reported."),
    "description too long": N_("The report is too long."),
    "date not valid": N_("Please give the date of receipt."),
    "date of receipt out of range": N_("The date of receipt cannot be in the future."),
    "attachment empty or too large": N_("A file is empty or too large."),
    "not a readable image": N_("A photo could not be read."),
    "not a readable document": N_("A document could not be read."),
}


def _record_form(request: Request, staff: Staff, *, values: dict[str, str], error: str = "", status_code: int = 200) -> Response:
    if error:
        error = staff.t._(RECORD_ERRORS.get(error, ERROR_MESSAGES["invalid_input"]))
    return render(
        request,
        "record.html",
        staff,
        status_code=status_code,
        values=values,
        error=error,
        offline_channels=[(c, staff.t._(CHANNEL_LABELS[c])) for c in casework.OFFLINE_CHANNELS],
        today=local_today(),
    )


@router.get("/record", response_class=HTMLResponse)
def record_page(request: Request, staff: Staff = Depends(current_staff)) -> Response:
    """The form for a report received in person, by phone, letter, e-mail or from the suggestion box."""
    require(staff.user, Perm.RECORD)
    return _record_form(request, staff, values={"received_on": local_today().isoformat(), "mode": "anonymous"})


class RecordForm(BaseModel):
    """The fields of the recording form, all optional here: intake decides what is missing."""

    csrf: str = Field(default="", max_length=64)
    channel: str = Field(default="", max_length=24)
    received_on: str = Field(default="", max_length=10)
    mode: str = Field(default="", max_length=16)
    description: str = Field(default="", max_length=20000)
    place_text: str = Field(default="", max_length=500)
    commune_code: str = Field(default="", max_length=8)
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
    values = form.model_dump(exclude={"csrf"})
    try:
        report = casework.OfflineReport(
            channel=form.channel,
            received_on=_date(form.received_on),
            mode=form.mode,
            description=form.description,
            place_text=form.place_text,
            commune_code=form.commune_code.strip() or None,
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
        return _record_form(request, staff, values=values, error=err.detail or "invalid", status_code=400)
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
