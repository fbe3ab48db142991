"""Who is signed in: one dependency that every admin route goes through (default deny)."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from intake.casework.policy import Perm, perms
from intake.config import get_settings
from intake.crypto import decrypt, encrypt
from intake.db import get_engine
from intake.errors import ConfigurationError
from intake.i18n import Translator, translator
from intake.models import Committee, StaffSession, StaffUser
from intake.staff import current_session

COOKIE = "pa_admin"
PENDING_COOKIE = "pa_mfa"  # between the password and the second factor
PENDING_SECONDS = 300


class LoginRequired(Exception):
    """Raised by the dependency; the app turns it into a redirect to the login page."""

    def __init__(self, location: str = "/admin/login") -> None:
        super().__init__(location)
        self.location = location


def db_session() -> Iterator[Session]:
    """One database session per request, committed at the end."""
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@dataclass
class Staff:
    """The signed-in officer, their committee and their session's CSRF token."""

    user: StaffUser
    committee: Committee
    session_row: StaffSession

    @property
    def t(self) -> Translator:
        return translator(self.user.language)

    @property
    def csrf(self) -> str:
        return self.session_row.csrf_token

    @property
    def perms(self) -> frozenset[Perm]:
        return perms(self.user)


def current_staff(request: Request, db: Session = Depends(db_session)) -> Staff:
    """The signed-in officer, or a redirect to the login page (saying so when the session timed out)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise LoginRequired()
    found = current_session(db, raw, idle=timedelta(minutes=get_settings().admin_idle_minutes))
    if found is None:
        db.commit()  # the expired session row is deleted even though the request stops here
        raise LoginRequired("/admin/login?error=timeout")
    row, user = found
    committee = db.get(Committee, user.committee_id)
    if committee is None:
        raise LoginRequired()
    return Staff(user=user, committee=committee, session_row=row)


def check_csrf(staff: Staff, submitted: str | None) -> None:
    """Refuses a form whose CSRF token is not this session's."""
    if not submitted or not hmac.compare_digest(submitted, staff.csrf):
        raise HTTPException(status_code=403, detail="csrf")


def seal_pending(user_id: int, secret: str | None = None) -> str:
    """The cookie that carries a password-checked sign-in to the second factor (encrypted, short-lived)."""
    payload = {"u": user_id, "exp": int(time.time()) + PENDING_SECONDS, "s": secret or ""}
    return encrypt(json.dumps(payload)).decode("ascii")


def open_pending(raw: str | None) -> tuple[int, str | None] | None:
    """The user id (and enrollment secret) of a pending sign-in; None when absent, forged or expired."""
    if not raw:
        return None
    try:
        payload = json.loads(decrypt(raw.encode("ascii")))
    except (ConfigurationError, ValueError, UnicodeError):
        return None
    if not isinstance(payload, dict) or int(payload.get("exp", 0)) < time.time():
        return None
    return int(payload["u"]), (str(payload.get("s")) or None)
