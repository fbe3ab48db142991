"""Staff accounts and their browser sessions."""

from __future__ import annotations

import hashlib
import logging
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from intake import audit, throttle
from intake.crypto import hash_password, token, verify_password
from intake.errors import InvalidInputError
from intake.models import StaffSession, StaffUser, utcnow

log = logging.getLogger(__name__)

# A hash that verification runs against when the user does not exist, so timing reveals nothing.
_DUMMY_HASH = hash_password("not-a-real-password")


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


# Spaces, and the invisible characters that pass for nothing: zero-width spaces and joiners, BOM.
_EDGES = re.compile(r"^[\s\u200b-\u200f\u2060\ufeff]+|[\s\u200b-\u200f\u2060\ufeff]+$")


def canonical_username(typed: str) -> str:
    """The one form of a user name that sign-in, the throttle and account creation all use.

    Unicode NFKC (full-width letters, the ideographic and no-break spaces become plain ones), every
    kind of space and invisible character trimmed from both ends, then casefolded: " user",
    "user\u00a0", "\u3000User" and "ｕｓｅｒ" are all "user".
    """
    return _EDGES.sub("", unicodedata.normalize("NFKC", typed)).casefold()


def find_staff(session: Session, username: str) -> StaffUser | None:
    return session.exec(select(StaffUser).where(StaffUser.username == canonical_username(username))).first()


def sign_in_locked_minutes(session: Session, username: str) -> int:
    """Minutes before this account may be tried again (0: now); the right password does not shorten it."""
    return throttle.locked_minutes(session, throttle.SIGN_IN, canonical_username(username))


SPREAD_ALERT_ACCOUNTS = 10  # accounts with failed sign-ins in ten minutes that look like guessing
_spread_logged = [0.0]


def sign_in_failed(session: Session, username: str) -> int:
    """Counts a failed sign-in against the account named (known or not); returns the lock's minutes if one began.

    Failures spread over many accounts are counted and logged, without the names typed, so operators
    see someone guessing across the staff list.
    """
    minutes = throttle.failed(session, throttle.SIGN_IN, canonical_username(username))
    spread = throttle.spread(session, throttle.SIGN_IN)
    if spread.targets >= SPREAD_ALERT_ACCOUNTS and time.monotonic() - _spread_logged[0] > 60:
        _spread_logged[0] = time.monotonic()
        log.warning("failed sign-ins on %s accounts in the last 10 minutes (%s locked): possible guessing", spread.targets, spread.locked)
    return minutes


def sign_in_succeeded(session: Session, username: str) -> None:
    throttle.succeeded(session, throttle.SIGN_IN, canonical_username(username))


def authenticate(session: Session, username: str, password: str) -> StaffUser | None:
    """The active account for these credentials, or None."""
    user = find_staff(session, username)
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


def end_sessions(session: Session, user: StaffUser) -> int:
    """Signs an account out of every browser; returns how many sessions ended."""
    result = session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))  # type: ignore[arg-type]
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
