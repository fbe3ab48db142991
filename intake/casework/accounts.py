"""Staff accounts managed from the admin: an admin looks after their committee's accounts and those below."""

from __future__ import annotations

import re
import secrets

from sqlmodel import Session, select

from intake import audit, totp
from intake.actions import create_staff
from intake.casework.policy import Perm, manageable_committee, require, scope_committee_ids
from intake.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from intake.i18n import LANGUAGES
from intake.models import Committee, StaffRole, StaffUser
from intake.staff import canonical_username, disable_staff, end_sessions, set_password

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MAX_LISTED = 500


def _managed(session: Session, actor: StaffUser, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    committee = session.get(Committee, user.committee_id) if user else None
    if user is None or committee is None or not manageable_committee(session, actor, committee):
        raise NotFoundError("account not found")
    return user


def list_accounts(session: Session, actor: StaffUser) -> list[StaffUser]:
    """Accounts the admin manages, by committee then name."""
    own = session.get(Committee, actor.committee_id)
    if own is None or not manageable_committee(session, actor, own):
        raise PermissionDeniedError("accounts")
    ids = scope_committee_ids(session, own)
    stmt = select(StaffUser)
    if ids is not None:
        stmt = stmt.where(StaffUser.committee_id.in_(ids))  # type: ignore[attr-defined]
    return list(session.exec(stmt.order_by(StaffUser.committee_id, StaffUser.username).limit(MAX_LISTED)).all())  # type: ignore[arg-type]


def new_password() -> str:
    return secrets.token_urlsafe(12)


def create_account(
    session: Session, *, actor: StaffUser, username: str, role: str, committee_code: str, display_name: str = ""
) -> tuple[StaffUser, str]:
    """Creates an account in a committee the admin manages; returns it with its first password (shown once)."""
    username = canonical_username(username)
    if not _USERNAME.match(username):
        raise InvalidInputError("user name not valid")
    if role not in {r.value for r in StaffRole}:
        raise InvalidInputError("unknown role")
    committee = session.exec(select(Committee).where(Committee.code == committee_code.strip())).first()
    if committee is None or not manageable_committee(session, actor, committee):
        raise InvalidInputError("committee not managed")
    password = new_password()
    user = create_staff(
        session,
        username=username,
        password=password,
        role=StaffRole(role),
        committee=committee,
        display_name=display_name.strip()[:255],
        actor_id=actor.id,
    )
    return user, password


def disable_account(session: Session, *, actor: StaffUser, user_id: int) -> None:
    """Disables an account and signs it out everywhere; an admin cannot lock themselves out."""
    user = _managed(session, actor, user_id)
    if user.id == actor.id:
        raise InvalidInputError("cannot disable yourself")
    disable_staff(session, user=user, actor_id=actor.id)


def reset_account_password(session: Session, *, actor: StaffUser, user_id: int) -> str:
    """Sets a new random password (shown once) and signs the account out."""
    user = _managed(session, actor, user_id)
    password = new_password()
    set_password(session, user=user, password=password, actor_id=actor.id)
    return password


def reset_account_totp(session: Session, *, actor: StaffUser, user_id: int) -> None:
    """Forgets an account's second factor, so that it enrolls a new one at next sign-in."""
    totp.reset(session, _managed(session, actor, user_id), actor_id=actor.id)


def set_language(user: StaffUser, lang: str) -> None:
    """The language the admin speaks to this officer."""
    if lang not in LANGUAGES:
        raise InvalidInputError("unknown language")
    user.language = lang


def set_committee_totp(session: Session, *, actor: StaffUser, required: bool) -> int:
    """The chair requires (or stops requiring) a second factor of the committee's officers and viewers.

    Turning it on signs out those of them who have none yet: their next sign-in sets one up.
    Returns how many were signed out.
    """
    require(actor, Perm.COMMITTEE_SECURITY)
    committee = session.get(Committee, actor.committee_id)
    if committee is None:
        raise NotFoundError("committee not found")
    signed_out = 0
    if required and not committee.require_totp:
        for user in session.exec(
            select(StaffUser).where(StaffUser.committee_id == committee.id, StaffUser.totp_secret_enc.is_(None))  # type: ignore[union-attr]
        ).all():
            signed_out += end_sessions(session, user)
    committee.require_totp = required
    audit.record(session, "committee.totp_required", actor_kind="staff", actor_id=actor.id,
                 details={"committee": committee.code, "required": required, "signed_out": signed_out})
    return signed_out
