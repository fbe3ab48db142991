"""The second factor: time-based one-time codes (RFC 6238), required for the chair and admin roles.

The secret is kept encrypted; a code is accepted once only (the last accepted time step is stored),
and one step of clock drift either way is tolerated.
"""

from __future__ import annotations

import logging
import time

import pyotp
from sqlmodel import Session

from intake import audit
from intake.crypto import decrypt, encrypt
from intake.models import StaffUser

log = logging.getLogger(__name__)

ISSUER = "Phản ánh MTTQ"
STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    """A fresh base32 secret (160 bits) for an authenticator app."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// address an authenticator app reads (typed in, or from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, *, at: float | None = None, after: int | None = None) -> int | None:
    """The time step a code belongs to, within the allowed drift and later than `after`; else None."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    now_step = int((time.time() if at is None else at) // STEP_SECONDS)
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if after is not None and step <= after:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def enroll(session: Session, user: StaffUser, secret: str, code: str, *, at: float | None = None) -> bool:
    """Stores a new secret once the officer proves their app holds it (a valid code)."""
    step = matching_step(secret, code, at=at)
    if step is None:
        audit.record(session, "staff.totp_failed", actor_kind="staff", actor_id=user.id, details={"stage": "enroll"})
        return False
    user.totp_secret_enc = encrypt(secret)
    user.totp_last_step = step
    audit.record(session, "staff.totp_enrolled", actor_kind="staff", actor_id=user.id)
    log.info("staff %s enrolled a second factor", user.id)
    return True


def verify(session: Session, user: StaffUser, code: str, *, at: float | None = None) -> bool:
    """Checks a sign-in code against the stored secret; a code already used is refused."""
    if user.totp_secret_enc is None:
        return False
    step = matching_step(decrypt(user.totp_secret_enc), code, at=at, after=user.totp_last_step)
    if step is None:
        audit.record(session, "staff.totp_failed", actor_kind="staff", actor_id=user.id, details={"stage": "login"})
        return False
    user.totp_last_step = step
    return True


def reset(session: Session, user: StaffUser, *, actor_id: int | None = None) -> None:
    """Forgets an account's second factor (a lost phone); the next sign-in enrolls a new one."""
    user.totp_secret_enc = None
    user.totp_last_step = None
    audit.record(
        session, "staff.totp_reset", actor_kind="staff" if actor_id else "system", actor_id=actor_id, details={"user": user.id}
    )
