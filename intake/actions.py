"""Every change of state goes through here: each action writes its audit row in the same transaction.

Routes and bot handlers parse input, call one action, and render; they never add rows themselves.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from sqlmodel import Session, select

from intake import audit, notices, throttle
from intake.clock import received_on, start_first_handling
from intake.conflict import remember_barrier
from intake.committees import committee_by_code
from intake.crypto import encrypt, hash_password, keyed_hash
from intake.dates import format_date, format_datetime
from intake.dialog.types import Draft, FrontMessage, LookupResult
from intake.errors import InvalidInputError, NotFoundError
from intake.models import (
    Anonymity,
    Attachment,
    Case,
    CaseMessage,
    ChatLink,
    Committee,
    ReporterIdentity,
    StaffRole,
    StaffUser,
    utcnow,
)
from intake.receipts import Credentials, check_passphrase, hash_passphrase, new_credentials, new_passphrase, receipt_hash
from intake.search import fold_for_search

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filed:
    """A report filed: the case, and what the resident must keep (shown once, never stored)."""

    case: Case
    committee: Committee
    receipt: str
    passphrase: str


def chat_handle_hash(channel: str, handle: str) -> str:
    """The keyed hash that finds a chat's links and dialog without storing the chat id."""
    return keyed_hash("chat", f"{channel}:{handle}")


def submit_report(
    session: Session,
    *,
    draft: Draft,
    channel: str,
    chat_handle: str | None = None,
    dialog_id: int | None = None,
    language: str = "vi",
    credentials: Credentials | None = None,
) -> Filed:
    """Files a complete draft as a case routed to the right committee (with `credentials` made
    beforehand, outside the transaction, or new ones)."""
    from intake.routing import route

    if not draft.description.strip() or draft.mode is None or draft.province_code is None:
        raise InvalidInputError("draft incomplete")
    if draft.mode != Anonymity.ANONYMOUS.value and not (draft.reporter_name and draft.reporter_phone):
        raise InvalidInputError("identity required for this mode")
    decision = route(
        province_code=draft.province_code,
        commune_code=draft.commune_code,
        role=" ".join(x for x in (draft.accused_position, draft.accused_agency) if x),
        setting=draft.setting or "workplace",  # type: ignore[arg-type]
    )
    committee = committee_by_code(session, decision.committee_code)
    if committee is None:
        raise NotFoundError(f"committee {decision.committee_code} not loaded")
    receipt, passphrase, passphrase_hash = credentials or new_credentials()
    now = utcnow()
    case = Case(
        receipt_hash=receipt_hash(receipt),
        passphrase_hash=passphrase_hash,
        channel=channel,
        anonymity=draft.mode,
        language=language,
        committee_id=committee.id,  # type: ignore[arg-type]
        category=draft.category,
        suggestion=draft.suggestion or {},
        description=draft.description,
        accused_name=draft.accused_name or "",
        accused_position=draft.accused_position or "",
        accused_agency=draft.accused_agency or "",
        place_text=draft.place_text or "",
        province_code=draft.province_code,
        commune_code=draft.commune_code,
        setting=draft.setting or "workplace",
        occurred=draft.occurred or "",
        routing_reasons=[r.to_json() for r in decision.reasons],
        needs_review=decision.needs_review,
        escalated=decision.escalated,
        received_at=now,
        created_at=now,
        updated_at=now,
    )
    case.search_text = fold_for_search(case)
    session.add(case)
    session.flush()
    remember_barrier(session, case)
    start_first_handling(session, case, since=received_on(case))
    notices.case_arrived(session, case)
    if draft.mode != Anonymity.ANONYMOUS.value:
        session.add(
            ReporterIdentity(
                case_id=case.id,  # type: ignore[arg-type]
                name_enc=encrypt(draft.reporter_name or ""),
                phone_enc=encrypt(draft.reporter_phone or ""),
            )
        )
    if draft.notify and chat_handle:
        session.add(
            ChatLink(
                case_id=case.id,  # type: ignore[arg-type]
                channel=channel,
                handle_hash=chat_handle_hash(channel, chat_handle),
                handle_enc=encrypt(chat_handle),
            )
        )
    if draft.attachments:
        for att in session.exec(select(Attachment).where(Attachment.id.in_(draft.attachments))):  # type: ignore[union-attr]
            if att.case_id is None and (dialog_id is None or att.dialog_id == dialog_id):
                att.case_id = case.id
                att.dialog_id = None
    audit.record_at_commit(
        session,
        "case.submitted",
        actor_kind="resident",
        case_id=case.id,
        details={
            "channel": channel,
            "committee": committee.code,
            "anonymity": draft.mode,
            "category": draft.category,
            "attachments": len(draft.attachments),
        },
    )
    log.info("case %s filed via %s, routed to %s", case.id, channel, committee.code)
    return Filed(case=case, committee=committee, receipt=receipt, passphrase=passphrase)


def add_resident_message(session: Session, *, case_id: int, text: str) -> CaseMessage:
    """Adds what the resident sent ("bổ sung thông tin") to the case's thread, and tells staff (even on an ended case)."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("case")
    message = CaseMessage(case_id=case_id, direction="resident", body=text)
    session.add(message)
    case.updated_at = utcnow()
    session.flush()
    audit.record(session, "case.resident_message", actor_kind="resident", case_id=case_id, details={"message": message.id})
    notices.resident_wrote(session, case)
    return message


def linked_case_id(session: Session, *, channel: str, handle: str) -> int | None:
    """The newest open case whose reporter opted in to updates in this very chat."""
    from intake.models import CaseStatus

    return session.exec(
        select(Case.id)
        .join(ChatLink, ChatLink.case_id == Case.id)  # type: ignore[arg-type]
        .where(
            ChatLink.handle_hash == chat_handle_hash(channel, handle),
            ChatLink.channel == channel,
            ChatLink.deleted_at.is_(None),  # type: ignore[union-attr]
            Case.status != CaseStatus.CLOSED.value,
        )
        .order_by(Case.id.desc())  # type: ignore[union-attr]
    ).first()


def describe_case(session: Session, case: Case, *, language: str, receipt: str = "", show_all: bool = False) -> LookupResult:
    """What a resident who holds a case is told about it: every message from the Front, newest first.

    Messages not shown at an earlier look-up are marked new (and from now on seen); none is ever left out.
    """
    committee = session.get(Committee, case.committee_id)
    thread = session.exec(
        select(CaseMessage)
        .where(CaseMessage.case_id == case.id, CaseMessage.direction == "staff")
        .order_by(CaseMessage.created_at.desc(), CaseMessage.id.desc())  # type: ignore[attr-defined, union-attr]
    ).all()
    now = utcnow()
    messages = tuple(FrontMessage(format_datetime(m.created_at), m.body, new=m.seen_by_resident_at is None) for m in thread)
    for m in thread:
        if m.seen_by_resident_at is None:
            m.seen_by_resident_at = now
    audit.record(session, "case.looked_up", actor_kind="resident", case_id=case.id)
    return LookupResult(
        found=True,
        case_id=case.id,
        receipt=receipt,
        status=case.status,
        committee_name=committee.name(language) if committee else "",
        received_on=format_date(case.received_at),
        messages=messages,
        forwarded_on=format_date(case.forwarded_on, empty=""),
        due_on=format_date(case.due_on, empty=""),
        show_all=show_all,
    )


@functools.cache
def _dummy_passphrase_hash() -> str:
    """An Argon2 hash of a passphrase no case has: verified when no case matches, so both take as long."""
    return hash_passphrase(new_passphrase())


def look_up_case(session: Session, *, receipt: str, passphrase: str, language: str = "vi") -> LookupResult:
    """Finds a case by receipt and passphrase; says nothing of which was wrong when it fails.

    Equal work either way: with no case for the receipt, the passphrase is checked against a dummy
    hash. Failures are counted per receipt (unknown receipts alike, intake/throttle.py): after five
    the receipt is locked for 15 minutes, doubling with each lock, at most a day.
    """
    try:
        rhash = receipt_hash(receipt)
    except ValueError:
        return LookupResult(found=False)
    if (minutes := throttle.locked_minutes(session, throttle.LOOKUP, rhash)) > 0:
        return LookupResult(found=False, locked_minutes=minutes)
    case = session.exec(select(Case).where(Case.receipt_hash == rhash)).first()
    matched = check_passphrase(case.passphrase_hash if case is not None else _dummy_passphrase_hash(), passphrase)
    if case is not None and matched:
        throttle.succeeded(session, throttle.LOOKUP, rhash)
        return describe_case(session, case, language=language, receipt=receipt)
    return LookupResult(found=False, locked_minutes=throttle.failed(session, throttle.LOOKUP, rhash))


def create_staff(
    session: Session,
    *,
    username: str,
    password: str,
    role: StaffRole,
    committee: Committee,
    display_name: str = "",
    actor_id: int | None = None,
) -> StaffUser:
    """Creates a staff account in a committee; its name is kept in canonical form (intake.staff)."""
    from intake.staff import canonical_username

    username = canonical_username(username)
    if not username or session.exec(select(StaffUser).where(StaffUser.username == username)).first():
        raise InvalidInputError("username taken")
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role.value,
        committee_id=committee.id,  # type: ignore[arg-type]
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        "staff.created",
        actor_kind="staff" if actor_id else "system",
        actor_id=actor_id,
        details={"user": user.id, "role": role.value, "committee": committee.code},
    )
    return user
