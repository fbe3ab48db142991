"""The Front staff's actions on a case: each checks the policy, changes the case, writes the audit row and,
where the resident should know, a thread message with its outbox row, all in the caller's transaction.

Audit details hold ids, codes and dates only; reasons and replies live in the case's own tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlmodel import Session, select

from intake import audit, notices
from intake.actions import Filed, submit_report
from intake.attachments import read_attachment, store_attachment
from intake.casework import messages
from intake.casework.policy import Perm, can, check_action, require, visible_case
from intake.categories import CATEGORIES
from intake.clock import start_first_handling
from intake.conflict import ensure_allowed
from intake.crypto import decrypt
from intake.deadlines import VIETNAM_TZ, answer_due, local_today
from intake.dialog.types import Draft
from intake.errors import InvalidInputError, InvalidTransitionError, NotFoundError
from intake.i18n import N_
from intake.validation import clean_text
from intake.models import (
    FIRST_HANDLING_STATUSES,
    Anonymity,
    Attachment,
    Case,
    CaseMessage,
    CaseStatus,
    CaseTransfer,
    CategoryCorrection,
    Channel,
    Committee,
    ReplyTemplate,
    ReporterIdentity,
    Setting,
    StaffUser,
    TransferState,
    utcnow,
)

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 1000
MAX_REPLY_CHARS = 4000
MAX_RESULT_CHARS = 5000
MAX_IDENTITY_REASON_CHARS = 300

# Competent bodies a case is forwarded to ("cơ quan có thẩm quyền").
FORWARD_BODIES: dict[str, str] = {
    "party_committee": N_("Party committee"),
    "inspection_commission": N_("Party inspection commission"),
    "inspectorate": N_("Government inspectorate"),
    "police": N_("Police"),
    "peoples_committee": N_("People's Committee"),
    "procuracy": N_("Procuracy"),
    "other": N_("Other competent body"),
}

# Reports that reach the Front without a chat, recorded by staff.
OFFLINE_CHANNELS: tuple[str, ...] = (
    Channel.IN_PERSON.value,
    Channel.HOTLINE.value,
    Channel.LETTER.value,
    Channel.EMAIL.value,
    Channel.SUGGESTION_BOX.value,
)


def _text(value: str | None, limit: int, what: str) -> str:
    """Staff input cleaned as residents' is (no control, invisible or bidirectional characters); empty or too long is refused."""
    text = clean_text(value or "")
    if not text:
        raise InvalidInputError(f"{what} empty")
    if len(text) > limit:
        raise InvalidInputError(f"{what} too long")
    return text


def _committee(session: Session, committee_id: int) -> Committee:
    committee = session.get(Committee, committee_id)
    if committee is None:
        raise NotFoundError("committee not found")
    return committee


def _record(session: Session, action: str, case: Case, actor: StaffUser, **details: object) -> None:
    case.updated_at = utcnow()
    audit.record(session, action, actor_kind="staff", actor_id=actor.id, case_id=case.id, details=dict(details))


def _received_on(case: Case) -> date:
    return case.received_at.astimezone(VIETNAM_TZ).date()


def accept_case(session: Session, *, case: Case, actor: StaffUser) -> None:
    """Accepts a new case for handling (thụ lý) and tells the resident it is being verified."""
    check_action(actor, case, "accept")
    case.status = CaseStatus.VERIFYING.value
    case.accepted_at = case.accepted_at or utcnow()
    _record(session, "case.accepted", case, actor)
    messages.notify(session, case, _committee(session, case.committee_id), actor=actor, kind="verifying")
    log.info("case %s accepted by staff %s", case.id, actor.id)


def mark_out_of_scope(session: Session, *, case: Case, actor: StaffUser, reason: str) -> None:
    """Decides that a case is outside the Front's remit; the resident is told why."""
    check_action(actor, case, "out_of_scope")
    reason = _text(reason, MAX_REASON_CHARS, "reason")
    case.status = CaseStatus.OUT_OF_SCOPE.value
    case.handled_at = case.handled_at or utcnow()
    _record(session, "case.out_of_scope", case, actor)
    messages.notify(session, case, _committee(session, case.committee_id), actor=actor, kind="out_of_scope", reason=reason)


def reclassify_case(session: Session, *, case: Case, actor: StaffUser, category: int) -> CategoryCorrection:
    """Changes a case's category and keeps the change as training material for the classifier."""
    check_action(actor, case, "reclassify")
    if category not in CATEGORIES:
        raise InvalidInputError("unknown category")
    if category == case.category:
        raise InvalidInputError("category unchanged")
    correction = CategoryCorrection(case_id=case.id, old_category=case.category, new_category=category, actor_id=actor.id)  # type: ignore[arg-type]
    session.add(correction)
    old, case.category = case.category, category
    _record(session, "case.reclassified", case, actor, old=old, new=category)
    return correction


def assign_case(session: Session, *, case: Case, actor: StaffUser, assignee_id: int | None) -> None:
    """Gives a case to an officer of the committee, or takes it back (None)."""
    check_action(actor, case, "assign")
    if assignee_id is not None:
        assignee = session.get(StaffUser, assignee_id)
        if assignee is None or assignee.committee_id != case.committee_id or not can(assignee, Perm.WORK):
            raise InvalidInputError("assignee cannot work this case")
        ensure_allowed(session, case, _committee(session, assignee.committee_id), action="assign")
    case.assignee_id = assignee_id
    _record(session, "case.assigned", case, actor, assignee=assignee_id)


MAX_BULK = 200


def assign_cases(session: Session, *, case_ids: list[int], actor: StaffUser, assignee_id: int | None) -> int:
    """Gives several cases of the queue to one officer at once; each is checked and audited as one assignment."""
    require(actor, Perm.WORK)
    ids = list(dict.fromkeys(case_ids))
    if not ids or len(ids) > MAX_BULK:
        raise InvalidInputError("no cases chosen")
    for case_id in ids:
        assign_case(session, case=visible_case(session, actor, case_id), actor=actor, assignee_id=assignee_id)
    return len(ids)


def ask_for_information(session: Session, *, case: Case, actor: StaffUser, question: str) -> None:
    """Asks the resident to add information; the question reaches them through their channel."""
    check_action(actor, case, "ask_info")
    question = _text(question, MAX_REASON_CHARS, "question")
    sent = messages.notify(
        session, case, _committee(session, case.committee_id), actor=actor, kind="info_request", question=question
    )
    _record(session, "case.info_requested", case, actor, messages=[m.id for m in sent])


def add_note(session: Session, *, case: Case, actor: StaffUser, text: str) -> CaseMessage:
    """An internal note on the case: staff see it, the resident never does."""
    check_action(actor, case, "note")
    note = CaseMessage(case_id=case.id, direction="note", body=_text(text, MAX_REPLY_CHARS, "note"), author_id=actor.id)  # type: ignore[arg-type]
    session.add(note)
    session.flush()
    _record(session, "case.note_added", case, actor, message=note.id)
    return note


def _pending_transfer(session: Session, case: Case) -> CaseTransfer | None:
    return session.exec(
        select(CaseTransfer).where(CaseTransfer.case_id == case.id, CaseTransfer.state == TransferState.PENDING.value)
    ).first()


def _open_transfer(
    session: Session, *, case: Case, actor: StaffUser, kind: str, target: Committee, reason: str
) -> CaseTransfer:
    """Records a transfer request; it takes effect at once when the actor may decide transfers."""
    reason = _text(reason, MAX_REASON_CHARS, "reason")
    if not target.active or target.id == case.committee_id:
        raise InvalidInputError("target committee not valid")
    ensure_allowed(session, case, target, action=kind)
    if _pending_transfer(session, case) is not None:
        raise InvalidTransitionError("a transfer is already waiting for a decision")
    transfer = CaseTransfer(
        case_id=case.id,  # type: ignore[arg-type]
        kind=kind,
        from_committee_id=case.committee_id,
        to_committee_id=target.id,  # type: ignore[arg-type]
        reason=reason,
        requested_by=actor.id,
    )
    session.add(transfer)
    session.flush()
    if can(actor, Perm.DECIDE_TRANSFER):
        _apply_transfer(session, case=case, transfer=transfer, actor=actor)
    else:
        _record(session, f"case.{kind}_requested", case, actor, transfer=transfer.id, to=target.code)
    return transfer


def transfer_case(session: Session, *, case: Case, actor: StaffUser, to_committee: Committee, reason: str) -> CaseTransfer:
    """Passes a case to another committee with a reason; the chair's decision makes it effective."""
    check_action(actor, case, "transfer")
    return _open_transfer(session, case=case, actor=actor, kind="transfer", target=to_committee, reason=reason)


def escalate_case(session: Session, *, case: Case, actor: StaffUser, reason: str) -> CaseTransfer:
    """Sends a case one level up (the committee above), with a reason; the chair decides."""
    check_action(actor, case, "escalate")
    current = _committee(session, case.committee_id)
    if current.parent_id is None:
        raise InvalidTransitionError("no committee above this one")
    return _open_transfer(
        session, case=case, actor=actor, kind="escalate", target=_committee(session, current.parent_id), reason=reason
    )


def decide_transfer(session: Session, *, transfer_id: int, actor: StaffUser, approve: bool) -> CaseTransfer:
    """The chair approves or refuses a waiting transfer or escalation of their committee's case."""
    transfer = session.get(CaseTransfer, transfer_id)
    if transfer is None:
        raise NotFoundError("transfer not found")
    case = visible_case(session, actor, transfer.case_id)
    check_action(actor, case, "decide_transfer")
    if transfer.state != TransferState.PENDING.value or transfer.from_committee_id != case.committee_id:
        raise InvalidTransitionError("transfer already decided")
    if approve:
        _apply_transfer(session, case=case, transfer=transfer, actor=actor)
    else:
        transfer.state = TransferState.REJECTED.value
        transfer.decided_by, transfer.decided_at = actor.id, utcnow()
        _record(session, f"case.{transfer.kind}_rejected", case, actor, transfer=transfer.id)
    return transfer


def _apply_transfer(session: Session, *, case: Case, transfer: CaseTransfer, actor: StaffUser) -> None:
    """Moves the case; the receiving committee's queue has it now, and the resident is told who holds it."""
    source = _committee(session, transfer.from_committee_id)
    target = _committee(session, transfer.to_committee_id)
    # Checked again at the decision: a correction or a merge since the request may have moved the barrier.
    ensure_allowed(session, case, target, action=transfer.kind)
    transfer.state = TransferState.APPROVED.value
    transfer.decided_by, transfer.decided_at = actor.id, utcnow()
    case.committee_id = target.id  # type: ignore[assignment]
    case.assignee_id = None
    if transfer.kind == "escalate":
        case.escalated = True
    if case.status in FIRST_HANDLING_STATUSES:
        # The receiving committee's own first handling runs from the day it received the case.
        start_first_handling(session, case, since=local_today())
    action = {"escalate": "case.escalated", "reroute": "case.rerouted"}.get(transfer.kind, "case.transferred")
    _record(session, action, case, actor, transfer=transfer.id, **{"from": source.code, "to": target.code})
    messages.notify(session, case, target, actor=actor, kind="transferred")
    notices.case_left(session, case.id, source.id)  # type: ignore[arg-type]
    notices.case_arrived(session, case)
    log.info("case %s moved from %s to %s (%s)", case.id, source.code, target.code, transfer.kind)


def merge_cases(session: Session, *, duplicate: Case, primary_id: int, actor: StaffUser) -> None:
    """Merges a duplicate into the case handled for both; each resident still gets the updates."""
    check_action(actor, duplicate, "merge")
    primary = visible_case(session, actor, primary_id)
    if primary.id == duplicate.id or primary.merged_into_id is not None or primary.status == CaseStatus.DUPLICATE.value:
        raise InvalidInputError("cannot merge into this case")
    now = utcnow()
    moved = [duplicate, *messages.merged_cases(session, duplicate)]
    committee = _committee(session, primary.committee_id)
    for case in (primary, *moved):
        # The primary is handled for all of them: its committee must be free to hold every one.
        ensure_allowed(session, case, committee, action="merge")
    for case in moved:
        case.merged_into_id = primary.id
        case.status = CaseStatus.DUPLICATE.value
        case.handled_at = case.handled_at or now
        case.assignee_id = None
    # Duplicates merged earlier into this one were told already; they now follow the primary.
    messages.tell_resident(session, duplicate, messages.render(session, duplicate, committee, "duplicate"), actor=actor)
    for case in moved:
        _record(session, "case.merged", case, actor, into=primary.id)
    _record(session, "case.duplicates_added", primary, actor, cases=[c.id for c in moved])


def record_forwarding(
    session: Session,
    *,
    case: Case,
    actor: StaffUser,
    body_kind: str,
    body_name: str,
    forwarded_on: date,
    complex_case: bool = False,
) -> date:
    """Records that the case went to a competent body; the answer is due 20 working days later (30 if complex)."""
    check_action(actor, case, "forward")
    if body_kind not in FORWARD_BODIES:
        raise InvalidInputError("unknown body")
    body_name = _text(body_name, 255, "body name")
    if forwarded_on > local_today() or forwarded_on < _received_on(case):
        raise InvalidInputError("forwarding date out of range")
    first = case.status != CaseStatus.FORWARDED.value
    due = answer_due(forwarded_on, complex_case=complex_case)
    case.status = CaseStatus.FORWARDED.value
    case.accepted_at = case.accepted_at or utcnow()
    case.forwarded_to, case.forwarded_to_name = body_kind, body_name
    case.forwarded_on, case.complex_case, case.due_on = forwarded_on, complex_case, due
    _record(
        session,
        "case.forwarded",
        case,
        actor,
        body=body_kind,
        forwarded_on=forwarded_on.isoformat(),
        complex=complex_case,
        due_on=due.isoformat(),
    )
    if first:
        messages.notify(session, case, _committee(session, case.committee_id), actor=actor, kind="forwarded")
    return due


def record_result(session: Session, *, case: Case, actor: StaffUser, result_on: date, text: str) -> None:
    """Records the competent body's answer and the result; the resident is told by a reply."""
    check_action(actor, case, "record_result")
    text = _text(text, MAX_RESULT_CHARS, "result")
    if result_on > local_today() or (case.forwarded_on is not None and result_on < case.forwarded_on):
        raise InvalidInputError("result date out of range")
    case.status = CaseStatus.RESULT.value
    case.result_on, case.result_text = result_on, text
    case.handled_at = case.handled_at or utcnow()
    on_time = case.due_on is None or result_on <= case.due_on
    _record(session, "case.result_recorded", case, actor, result_on=result_on.isoformat(), on_time=on_time)


def reply_to_resident(session: Session, *, case: Case, actor: StaffUser, text: str, tells_result: bool = False) -> None:
    """Sends the resident a reply; when it tells the result, the case counts as answered."""
    check_action(actor, case, "reply")
    text = _text(text, MAX_REPLY_CHARS, "reply")
    if tells_result and case.status not in (CaseStatus.RESULT.value, CaseStatus.ANSWERED.value):
        raise InvalidTransitionError("no result to tell yet")
    sent = messages.notify(session, case, _committee(session, case.committee_id), actor=actor, text=text)
    if tells_result:
        now = utcnow()
        case.status = CaseStatus.ANSWERED.value
        for target in [case, *messages.merged_cases(session, case)]:
            target.notified_at = target.notified_at or now
    _record(session, "case.replied", case, actor, messages=[m.id for m in sent], tells_result=tells_result)


def close_case(session: Session, *, case: Case, actor: StaffUser) -> None:
    """Closes a case whose handling is over, and thanks the resident."""
    check_action(actor, case, "close")
    now = utcnow()
    case.status = CaseStatus.CLOSED.value
    case.closed_at = now
    case.handled_at = case.handled_at or now
    _record(session, "case.closed", case, actor)
    messages.notify(session, case, _committee(session, case.committee_id), actor=actor, kind="closed")


def _status_before_end(case: Case) -> str:
    """Where the handling of an ended case had reached, read from its milestones."""
    if case.notified_at is not None:
        return CaseStatus.ANSWERED.value
    if case.result_on is not None:
        return CaseStatus.RESULT.value
    if case.forwarded_on is not None:
        return CaseStatus.FORWARDED.value
    if case.accepted_at is not None:
        return CaseStatus.VERIFYING.value
    return CaseStatus.NEW.value


def reopen_case(session: Session, *, case: Case, actor: StaffUser, reason: str) -> None:
    """The chair reopens a closed case (or one found outside the remit) where its handling had reached.

    The reason is kept as an internal note, the reopening is audited, and the resident is told.
    """
    check_action(actor, case, "reopen")
    reason = _text(reason, MAX_REASON_CHARS, "reason")
    previous = case.status
    case.status = _status_before_end(case)
    case.closed_at = None
    if case.status in FIRST_HANDLING_STATUSES:
        start_first_handling(session, case, since=local_today())
    note = CaseMessage(case_id=case.id, direction="note", body=reason, author_id=actor.id)  # type: ignore[arg-type]
    session.add(note)
    session.flush()
    _record(session, "case.reopened", case, actor, **{"from": previous, "to": case.status, "note": note.id})
    messages.notify(session, case, _committee(session, case.committee_id), actor=actor, kind="reopened")
    log.info("case %s reopened by staff %s", case.id, actor.id)


def download_attachment(session: Session, *, case: Case, actor: StaffUser, attachment_id: int) -> tuple[Attachment, bytes]:
    """An evidence file of the case, decrypted; every download is audited."""
    check_action(actor, case, "download")
    ensure_allowed(session, case, _committee(session, actor.committee_id), action="download")
    att = session.get(Attachment, attachment_id)
    if att is None or att.case_id != case.id or att.purged_at is not None:
        raise NotFoundError("attachment not found")
    data = read_attachment(att)
    audit.record(session, "attachment.downloaded", actor_kind="staff", actor_id=actor.id, case_id=case.id, details={"attachment": att.id})
    return att, data


@dataclass(frozen=True)
class Identity:
    name: str
    phone: str


def view_identity(session: Session, *, case: Case, actor: StaffUser, reason: str) -> Identity:
    """The reporter's identity, for the chair only, with a reason written to the audit log."""
    check_action(actor, case, "view_identity")
    ensure_allowed(session, case, _committee(session, actor.committee_id), action="view_identity")
    reason = _text(reason, MAX_IDENTITY_REASON_CHARS, "reason")
    if len(reason) < 5:
        raise InvalidInputError("reason too short")
    row = session.exec(select(ReporterIdentity).where(ReporterIdentity.case_id == case.id)).first()
    if case.anonymity == Anonymity.ANONYMOUS.value or row is None or row.purged_at is not None:
        raise NotFoundError("no identity kept")
    # The reason is the chair's statement of purpose: it belongs in the audit log by design.
    audit.record(session, "identity.viewed", actor_kind="staff", actor_id=actor.id, case_id=case.id, details={"reason": reason})
    return Identity(name=decrypt(row.name_enc), phone=decrypt(row.phone_enc))


@dataclass(frozen=True)
class Correction:
    """What staff found the accused's name, role or the place really is."""

    accused_position: str
    accused_agency: str
    place_text: str
    province_code: str | None = None
    commune_code: str | None = None
    setting: str = Setting.WORKPLACE.value
    accused_name: str | None = None  # None: left as it is


def correct_case(session: Session, *, case: Case, actor: StaffUser, correction: Correction) -> bool:
    """Corrects the accused's name, role and the place, and routes the case again (the name is searched, not routed on).

    The case stays where it is unless its committee is now barred by the conflict rule: then it
    moves at once to the committee the routing names (recorded as a transfer). Returns whether it moved.
    """
    from intake.committees import committee_by_code
    from intake.conflict import barred_committee_ids, is_barred, remember_barrier, role_text
    from intake.routing import route
    from intake.search import fold_for_search

    check_action(actor, case, "correct")
    barred_before = barred_committee_ids(session, case)
    if correction.setting not in {s.value for s in Setting}:
        raise InvalidInputError("unknown setting")
    province_code, commune_code = _resolve_place(correction.place_text, correction.province_code, correction.commune_code)
    before = (
        case.accused_name, case.accused_position, case.accused_agency, case.place_text, case.province_code, case.commune_code, case.setting
    )
    if correction.accused_name is not None:
        case.accused_name = correction.accused_name.replace("\x00", "").strip()[:255]
    case.accused_position = correction.accused_position.replace("\x00", "").strip()[:255]
    case.accused_agency = correction.accused_agency.replace("\x00", "").strip()[:255]
    case.place_text = correction.place_text.replace("\x00", "").strip()[:500] or case.place_text
    case.province_code, case.commune_code, case.setting = province_code, commune_code, correction.setting
    after = (
        case.accused_name, case.accused_position, case.accused_agency, case.place_text, case.province_code, case.commune_code, case.setting
    )
    if after == before:
        raise InvalidInputError("nothing changed")
    decision = route(province_code=province_code, commune_code=commune_code, role=role_text(case), setting=correction.setting)  # type: ignore[arg-type]
    case.routing_reasons = [r.to_json() for r in decision.reasons]
    case.needs_review, case.escalated = decision.needs_review, decision.escalated
    case.search_text = fold_for_search(case)
    remember_barrier(session, case, also=barred_before)  # a correction bars more committees, never fewer
    changed = [name for name, old, new in zip(
        ("name", "position", "agency", "place", "province", "commune", "setting"), before, after, strict=True
    ) if old != new]
    _record(session, "case.corrected", case, actor, fields=changed, routed_to=decision.committee_code)
    if not is_barred(session, case, case.committee_id):
        return False
    target = committee_by_code(session, decision.committee_code)
    if target is None:
        raise NotFoundError(f"committee {decision.committee_code} not loaded")
    transfer = CaseTransfer(
        case_id=case.id,  # type: ignore[arg-type]
        kind="reroute",
        from_committee_id=case.committee_id,
        to_committee_id=target.id,  # type: ignore[arg-type]
        reason=" ".join(decision.reason_texts("vi"))[:MAX_REASON_CHARS],
        requested_by=actor.id,
    )
    session.add(transfer)
    session.flush()
    _apply_transfer(session, case=case, transfer=transfer, actor=actor)
    return True


@dataclass
class OfflineReport:
    """A report received without a chat, as the officer wrote it down."""

    channel: str
    received_on: date
    mode: str
    description: str
    place_text: str
    province_code: str | None = None
    commune_code: str | None = None
    setting: str = Setting.WORKPLACE.value
    accused_name: str = ""
    accused_position: str = ""
    accused_agency: str = ""
    occurred: str = ""
    category: int | None = None
    reporter_name: str = ""
    reporter_contact: str = ""
    files: list[tuple[bytes, str]] = field(default_factory=list)  # (data, content type)


def _kind_for(content_type: str) -> str:
    if content_type.startswith("image/"):
        return "photo"
    if content_type.startswith("audio/"):
        return "voice"
    if content_type.startswith("video/"):
        return "video"
    return "document"


def _resolve_place(place_text: str, province_code: str | None, commune_code: str | None) -> tuple[str, str | None]:
    """The province and commune codes: as chosen, else read from the place text."""
    from intake.places import commune_province, get_gazetteer, resolve_place

    gaz = get_gazetteer()
    if commune_code:
        try:
            return commune_province(commune_code).code, gaz.commune(commune_code).code
        except KeyError as err:
            raise InvalidInputError("unknown commune") from err
    if province_code:
        try:
            return gaz.province(province_code).code, None
        except KeyError as err:
            raise InvalidInputError("unknown province") from err
    match = resolve_place(place_text) if place_text.strip() else None
    if match is None or match.province is None:
        raise InvalidInputError("place not found")
    return match.province.code, match.commune.code if match.commune else None


def _place(report: OfflineReport) -> tuple[str, str | None]:
    return _resolve_place(report.place_text, report.province_code, report.commune_code)


def record_report(session: Session, *, actor: StaffUser, report: OfflineReport) -> Filed:
    """Files a report received in person, by phone, letter, e-mail or suggestion box, through the same intake."""
    from intake.classify import get_classifier

    require(actor, Perm.RECORD)
    if report.channel not in OFFLINE_CHANNELS:
        raise InvalidInputError("channel not recorded by staff")
    if report.mode not in {a.value for a in Anonymity}:
        raise InvalidInputError("unknown anonymity mode")
    if report.setting not in {s.value for s in Setting}:
        raise InvalidInputError("unknown setting")
    if report.received_on > local_today() or report.received_on < date(2000, 1, 1):
        raise InvalidInputError("date of receipt out of range")
    if report.category is not None and report.category not in CATEGORIES:
        raise InvalidInputError("unknown category")
    description = _text(report.description, 20000, "description")
    province_code, commune_code = _place(report)
    suggestion = get_classifier().suggest(description)
    draft = Draft(
        mode=report.mode,
        description_parts=[description],
        description_done=True,
        suggestion={
            "category": suggestion.category,
            "top": [[int(c), float(s)] for c, s in suggestion.top],
            "scores": {str(k): float(v) for k, v in suggestion.scores.items()},
            "terms": list(suggestion.terms)[:10],
        },
        category=report.category if report.category is not None else suggestion.category,
        accused_name=report.accused_name.strip()[:255],
        accused_position=report.accused_position.strip()[:255],
        accused_agency=report.accused_agency.strip()[:255],
        place_text=report.place_text.strip()[:500],
        province_code=province_code,
        commune_code=commune_code,
        setting=report.setting,
        occurred=report.occurred.strip()[:255],
        reporter_name=report.reporter_name.strip()[:255] or None,
        reporter_phone=report.reporter_contact.strip()[:255] or None,
        notify=False,
    )
    filed = submit_report(session, draft=draft, channel=report.channel, language="vi")
    case = filed.case
    ensure_allowed(session, case, filed.committee, action="record")
    if report.received_on != local_today():
        # A letter opened today may have arrived days ago: the date of receipt is what deadlines count from.
        case.received_at = datetime.combine(report.received_on, time(8, 0), VIETNAM_TZ)
        start_first_handling(session, case, since=report.received_on)
    for data, content_type in report.files:
        store_attachment(session, data=data, content_type=content_type, kind=_kind_for(content_type), case_id=case.id)
    audit.record(
        session,
        "case.recorded",
        actor_kind="staff",
        actor_id=actor.id,
        case_id=case.id,
        details={"channel": report.channel, "received_on": report.received_on.isoformat(), "files": len(report.files)},
    )
    log.info("case %s recorded by staff %s (%s)", case.id, actor.id, report.channel)
    return filed


def save_template(session: Session, *, actor: StaffUser, kind: str, lang: str, body: str | None) -> None:
    """Sets the committee's own text for a reply template; an empty body goes back to the default."""
    require(actor, Perm.EDIT_TEMPLATES)
    if kind not in messages.TEMPLATE_KINDS or lang not in messages.DEFAULT_TEMPLATES:
        raise InvalidInputError("unknown template")
    row = session.exec(
        select(ReplyTemplate).where(
            ReplyTemplate.committee_id == actor.committee_id, ReplyTemplate.status == kind, ReplyTemplate.language == lang
        )
    ).first()
    text = (body or "").replace("\x00", "").strip()
    if not text or text == messages.DEFAULT_TEMPLATES[lang][kind]:
        if row is not None:
            session.delete(row)
    else:
        if len(text) > messages.MAX_TEMPLATE_CHARS:
            raise InvalidInputError("template too long")
        if row is None:
            row = ReplyTemplate(committee_id=actor.committee_id, status=kind, language=lang, body=text)
            session.add(row)
        row.body, row.updated_at = text, utcnow()
    audit.record(
        session, "template.saved", actor_kind="staff", actor_id=actor.id, details={"kind": kind, "lang": lang, "reset": not text}
    )
