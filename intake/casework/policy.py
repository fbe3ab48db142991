"""Who may do what to which case: the one place where role × committee is decided (default deny).

A staff account belongs to one committee and works that committee's cases only; a case of another
committee is answered as if it did not exist (NotFoundError, a 404 at the edge). Reports are counts
and reach down the tree: a province sees its communes' figures, the central committee everyone's.
"""

from __future__ import annotations

from sqlmodel import Session, select

from intake.errors import InvalidTransitionError, NotFoundError, PermissionDeniedError
from intake.models import Case, CaseStatus, Committee, CommitteeLevel, StaffRole, StaffUser, StrEnum


class Perm(StrEnum):
    """What a role may do within its own committee."""

    VIEW = "view"  # the queue, a case (without identity), the dashboard and reports
    DOWNLOAD = "download"  # evidence files (each download audited)
    WORK = "work"  # every handling action on a case
    RECORD = "record"  # record a report received in person, by phone, letter, e-mail, suggestion box
    EXPORT = "export"  # periodic report as CSV/XLSX
    REQUEST_TRANSFER = "request_transfer"
    DECIDE_TRANSFER = "decide_transfer"  # Ban Thường trực approves transfers and escalations
    VIEW_IDENTITY = "view_identity"  # confidential identities: the chair only, with a reason
    EDIT_TEMPLATES = "edit_templates"
    MANAGE_ACCOUNTS = "manage_accounts"
    COMMITTEE_SECURITY = "committee_security"  # require a second factor of the committee's officers and viewers
    DELIVERIES = "deliveries"  # counts per delivery state and the dead letters: case numbers, no content
    RETRY_DELIVERY = "retry_delivery"  # put a dead letter back in the queue (technical, audited)


_OFFICER = frozenset({
    Perm.VIEW, Perm.DOWNLOAD, Perm.WORK, Perm.RECORD, Perm.EXPORT, Perm.REQUEST_TRANSFER, Perm.DELIVERIES, Perm.RETRY_DELIVERY,
})
ROLE_PERMS: dict[str, frozenset[Perm]] = {
    StaffRole.VIEWER.value: frozenset({Perm.VIEW, Perm.DELIVERIES}),
    StaffRole.OFFICER.value: _OFFICER,
    # Reply templates are what the committee tells every reporter: casework content, decided by the
    # standing board that signs the committee's words (DOMAIN.md), not by whoever runs the system.
    StaffRole.CHAIR.value: _OFFICER | {Perm.DECIDE_TRANSFER, Perm.VIEW_IDENTITY, Perm.EDIT_TEMPLATES, Perm.COMMITTEE_SECURITY},
    # Least privilege: the system administrator runs accounts and deliveries, and reads no report,
    # no evidence, no figures and no template (SECURITY.md, "a curious or hostile insider").
    StaffRole.ADMIN.value: frozenset({Perm.MANAGE_ACCOUNTS, Perm.DELIVERIES, Perm.RETRY_DELIVERY}),
}

# Roles that must sign in with a second factor.
TOTP_ROLES = frozenset({StaffRole.CHAIR.value, StaffRole.ADMIN.value})

S = CaseStatus
_OPEN = frozenset({S.NEW, S.VERIFYING, S.FORWARDED, S.RESULT, S.ANSWERED})
_EARLY = frozenset({S.NEW, S.VERIFYING})

# Each case action: the permission it needs and the statuses it may start from.
ACTIONS: dict[str, tuple[Perm, frozenset[CaseStatus]]] = {
    "accept": (Perm.WORK, frozenset({S.NEW})),
    "out_of_scope": (Perm.WORK, _EARLY),
    "reclassify": (Perm.WORK, _OPEN),
    "correct": (Perm.WORK, _OPEN),
    "assign": (Perm.WORK, _OPEN),
    "ask_info": (Perm.WORK, frozenset({S.NEW, S.VERIFYING, S.FORWARDED})),
    "note": (Perm.WORK, frozenset(CaseStatus)),
    "transfer": (Perm.REQUEST_TRANSFER, frozenset({S.NEW, S.VERIFYING, S.FORWARDED, S.RESULT})),
    "escalate": (Perm.REQUEST_TRANSFER, frozenset({S.NEW, S.VERIFYING, S.FORWARDED, S.RESULT})),
    "decide_transfer": (Perm.DECIDE_TRANSFER, frozenset({S.NEW, S.VERIFYING, S.FORWARDED, S.RESULT})),
    "merge": (Perm.WORK, _EARLY),
    "forward": (Perm.WORK, frozenset({S.NEW, S.VERIFYING, S.FORWARDED})),
    "record_result": (Perm.WORK, frozenset({S.FORWARDED, S.RESULT})),
    "reply": (Perm.WORK, _OPEN),
    "close": (Perm.WORK, frozenset({S.VERIFYING, S.RESULT, S.ANSWERED})),
    "download": (Perm.DOWNLOAD, frozenset(CaseStatus)),
    "view_identity": (Perm.VIEW_IDENTITY, frozenset(CaseStatus)),
}


def perms(user: StaffUser) -> frozenset[Perm]:
    """What an account may do; an inactive account or an unknown role may do nothing."""
    if not user.active:
        return frozenset()
    return ROLE_PERMS.get(user.role, frozenset())


def can(user: StaffUser, perm: Perm) -> bool:
    return perm in perms(user)


def require(user: StaffUser, perm: Perm) -> None:
    """Refuses an account that lacks a permission."""
    if perm not in perms(user):
        raise PermissionDeniedError(f"{perm.value} refused for role {user.role}")


def requires_totp(user: StaffUser, committee: Committee | None = None) -> bool:
    """Chair and admin must use a second factor; so must everyone in a committee whose chair requires it,
    and anyone who enrolled one."""
    return (
        user.role in TOTP_ROLES
        or user.totp_secret_enc is not None
        or (committee is not None and committee.id == user.committee_id and committee.require_totp)
    )


def visible_case(session: Session, user: StaffUser, case_id: int) -> Case:
    """The case if it belongs to the account's committee; otherwise it does not exist for them."""
    require(user, Perm.VIEW)
    case = session.get(Case, case_id)
    if case is None or case.committee_id != user.committee_id:
        raise NotFoundError("case not found")
    return case


def check_action(user: StaffUser, case: Case, action: str) -> None:
    """Refuses an action the account may not take on this case, or that its status does not allow."""
    if case.committee_id != user.committee_id:
        raise NotFoundError("case not found")
    perm, statuses = ACTIONS[action]
    require(user, perm)
    if case.status not in statuses:
        raise InvalidTransitionError(f"{action} not allowed from {case.status}")


def allowed_actions(user: StaffUser, case: Case) -> frozenset[str]:
    """The actions to offer on a case page: the same rule check_action enforces."""
    if case.committee_id != user.committee_id:
        return frozenset()
    mine = perms(user)
    return frozenset(a for a, (perm, statuses) in ACTIONS.items() if perm in mine and case.status in statuses)


def scope_committee_ids(session: Session, committee: Committee) -> list[int] | None:
    """Committees whose counts an account sees: its own and those below it; None means all."""
    if committee.level == CommitteeLevel.CENTRAL.value:
        return None
    ids = [committee.id] if committee.id is not None else []
    if committee.level == CommitteeLevel.PROVINCE.value:
        ids += list(session.exec(select(Committee.id).where(Committee.parent_id == committee.id)).all())  # type: ignore[arg-type]
    return [i for i in ids if i is not None]


def manageable_committee(session: Session, user: StaffUser, committee: Committee) -> bool:
    """Whether an admin may manage accounts of a committee: their own or one below it."""
    if not can(user, Perm.MANAGE_ACCOUNTS):
        return False
    own = session.get(Committee, user.committee_id)
    if own is None:
        return False
    ids = scope_committee_ids(session, own)
    return ids is None or committee.id in ids
