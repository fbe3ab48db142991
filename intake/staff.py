"""Staff accounts and their browser sessions."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from intake import audit
from intake.crypto import hash_password, token, verify_password
from intake.errors import InvalidInputError
from intake.models import StaffSession, StaffUser, utcnow

log = logging.getLogger(__name__)

# A hash that verification runs against when the user does not exist, so timing reveals nothing.
_DUMMY_HASH = hash_password("not-a-real-password")


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def find_staff(session: Session, username: str) -> StaffUser | None:
    return session.exec(select(StaffUser).where(StaffUser.username == username)).first()


def authenticate(session: Session, username: str, password: str) -> StaffUser | None:
    """The active account for these credentials, or None."""
    user = find_staff(session, username.strip())
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)
        audit.record(session, "staff.login_failed", details={"reason": "unknown_or_disabled"})
        return None
    if not verify_password(user.password_hash, password):
        audit.record(session, "staff.login_failed", actor_kind="staff", actor_id=user.id, details={"reason": "password"})
        return None
    return user


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf: str


def open_session(session: Session, user: StaffUser) -> NewSession:
    """Signs a user in: a random token for the cookie, only its hash stored."""
    raw, csrf = token(32), token(24)
    session.add(StaffSession(token_hash=_token_hash(raw), user_id=user.id, csrf_token=csrf))  # type: ignore[arg-type]
    user.last_login_at = utcnow()
    audit.record(session, "staff.login", actor_kind="staff", actor_id=user.id)
    return NewSession(token=raw, csrf=csrf)


def current_session(session: Session, raw: str, *, idle: timedelta) -> tuple[StaffSession, StaffUser] | None:
    """The signed-in session for a cookie token, refreshed; None when unknown or idle too long."""
    row = session.exec(select(StaffSession).where(StaffSession.token_hash == _token_hash(raw))).first()
    if row is None:
        return None
    now = utcnow()
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active or row.last_seen_at < now - idle:
        session.delete(row)
        return None
    row.last_seen_at = now
    return row, user


def close_session(session: Session, raw: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(raw)))  # type: ignore[arg-type]


def disable_staff(session: Session, *, user: StaffUser, actor_id: int | None = None) -> None:
    user.active = False
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))  # type: ignore[arg-type]
    audit.record(session, "staff.disabled", actor_kind="staff" if actor_id else "system", actor_id=actor_id, details={"user": user.id})


def _replace_password(session: Session, user: StaffUser, password: str) -> None:
    """Stores a new password and ends every session of the account."""
    user.password_hash = hash_password(password)
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))  # type: ignore[arg-type]


def set_password(session: Session, *, user: StaffUser, password: str, actor_id: int | None = None) -> None:
    _replace_password(session, user, password)
    audit.record(session, "staff.password_reset", actor_kind="staff" if actor_id else "system", actor_id=actor_id, details={"user": user.id})


MIN_PASSWORD_CHARS = 12


def change_own_password(session: Session, *, user: StaffUser, current: str, new: str, confirm: str) -> None:
    """A signed-in account chooses its own password: the current one first, then a new one of at
    least MIN_PASSWORD_CHARS, typed twice. Every session of the account ends (sign in again).

    Raises InvalidInputError whose code says what to tell: "current", "short", "mismatch", "same".
    """
    if not verify_password(user.password_hash, current):
        audit.record(session, "staff.password_change_failed", actor_kind="staff", actor_id=user.id, details={"reason": "current"})
        raise InvalidInputError("current")
    if len(new) < MIN_PASSWORD_CHARS:
        raise InvalidInputError("short")
    if new != confirm:
        raise InvalidInputError("mismatch")
    if new == current:
        raise InvalidInputError("same")
    _replace_password(session, user, new)
    audit.record(session, "staff.password_changed", actor_kind="staff", actor_id=user.id, details={"user": user.id})
