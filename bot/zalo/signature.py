"""Checking the signature Zalo puts on every webhook event, and the event's age.

Zalo signs an event as `mac=` + SHA-256 (plain, not HMAC) over the app id, the raw body, the event's
timestamp and the OA secret key, concatenated, and sends it in `X-ZEvent-Signature`. The timestamp
(milliseconds) is inside the signed body, so an old event cannot be given a new one.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import Enum

SIGNATURE_HEADER = "X-ZEvent-Signature"


class Verdict(str, Enum):
    """What the check found; only OK events are processed."""

    OK = "ok"
    MISSING = "missing"  # no signature header
    BAD = "bad"  # the signature does not match (or the app id is not ours)
    NO_TIMESTAMP = "no_timestamp"  # signed, but no usable timestamp in the body
    STALE = "stale"  # signed, but older (or further ahead) than the allowed age


def mac(app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    """The signature Zalo sends for this body: `mac=` and the SHA-256 hex digest."""
    digest = hashlib.sha256(app_id.encode("utf-8") + body + timestamp.encode("utf-8") + secret.encode("utf-8"))
    return "mac=" + digest.hexdigest()


def timestamp_of(event: dict[str, object]) -> str | None:
    """The event's timestamp as Zalo wrote it (digits, milliseconds), or None."""
    value = event.get("timestamp")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        return value
    return None


def check(
    body: bytes,
    header: str | None,
    event: dict[str, object],
    *,
    app_id: str,
    secret: str,
    max_age_seconds: int,
    now_ms: int,
) -> Verdict:
    """Verifies an event's signature, then its age; the signature first, so a stranger learns nothing more."""
    if not header:
        return Verdict.MISSING
    # The body must name our app: a signature made for another app's events is not for us.
    if "app_id" in event and str(event["app_id"]) != app_id:
        return Verdict.BAD
    raw = event.get("timestamp")
    expected = mac(app_id, body, "" if raw is None else str(raw), secret)
    given = header.strip().lower().encode("ascii", "replace")
    if not hmac.compare_digest(given, expected.encode("ascii")):
        return Verdict.BAD
    stamp = timestamp_of(event)
    if stamp is None:
        return Verdict.NO_TIMESTAMP
    if abs(now_ms - int(stamp)) > max_age_seconds * 1000:
        return Verdict.STALE
    return Verdict.OK
