"""The append-only audit log, each row chained to the one before by a hash, so an edit shows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from intake.models import AuditEntry, utcnow

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x70686E61  # one advisory lock serializes appends on PostgreSQL


def _row_hash(prev_hash: str, entry: AuditEntry) -> str:
    payload = json.dumps(
        {
            "prev": prev_hash,
            "at": entry.at.isoformat(),
            "actor_kind": entry.actor_kind,
            "actor_id": entry.actor_id,
            "action": entry.action,
            "case_id": entry.case_id,
            "details": entry.details,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(
    session: Session,
    action: str,
    *,
    actor_kind: str = "system",
    actor_id: int | None = None,
    case_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Appends one row in the caller's transaction. Details must hold no names, phones or report text."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.exec(sa.text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_PG_LOCK_KEY))  # type: ignore[call-overload]
    last = session.exec(select(AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    prev = last or GENESIS
    entry = AuditEntry(
        at=utcnow().replace(microsecond=0),
        actor_kind=actor_kind,
        actor_id=actor_id,
        action=action,
        case_id=case_id,
        details=details or {},
        prev_hash=prev,
        row_hash="",
    )
    entry.row_hash = _row_hash(prev, entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""


def verify(session: Session) -> VerifyResult:
    """Walks the chain; reports the first row that was edited, or after which rows were removed."""
    prev = GENESIS
    checked = 0
    for entry in session.exec(select(AuditEntry).order_by(AuditEntry.id)):  # type: ignore[arg-type]
        if entry.prev_hash != prev:
            return VerifyResult(False, checked, entry.id, "chain broken: a row before it was removed or changed")
        if _row_hash(prev, entry) != entry.row_hash:
            return VerifyResult(False, checked, entry.id, "row content does not match its hash")
        prev = entry.row_hash
        checked += 1
    return VerifyResult(True, checked)
