"""Who is signed in: one dependency that every admin route goes through (default deny)."""

from __future__ import annotations

import hmac
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from intake.config import get_settings
from intake.db import get_engine
from intake.i18n import Translator, translator
from intake.models import Committee, StaffSession, StaffUser
from intake.staff import current_session

COOKIE = "pa_admin"


class LoginRequired(Exception):
    """Raised by the dependency; the app turns it into a redirect to the login page."""


def db_session() -> object:
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


def current_staff(request: Request, db: Session = Depends(db_session)) -> Staff:
    """The signed-in officer, or a redirect to the login page."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise LoginRequired()
    found = current_session(db, raw, idle=timedelta(minutes=get_settings().admin_idle_minutes))
    if found is None:
        raise LoginRequired()
    row, user = found
    committee = db.get(Committee, user.committee_id)
    if committee is None:
        raise LoginRequired()
    return Staff(user=user, committee=committee, session_row=row)


def check_csrf(staff: Staff, submitted: str | None) -> None:
    """Refuses a form whose CSRF token is not this session's."""
    if not submitted or not hmac.compare_digest(submitted, staff.csrf):
        raise HTTPException(status_code=403, detail="csrf")


class LoginThrottle:
    """Counts failed sign-ins per user name in memory; too many in the window blocks for a while."""

    def __init__(self, limit: int = 5, window_seconds: float = 900) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and q[0] < now - self.window:
            q.popleft()
        return q

    def blocked(self, key: str) -> bool:
        return len(self._recent(key.lower(), time.monotonic())) >= self.limit

    def failed(self, key: str) -> None:
        self._recent(key.lower(), time.monotonic()).append(time.monotonic())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key.lower(), None)


throttle = LoginThrottle()
