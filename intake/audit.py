"""The append-only audit log, each row chained to the one before by a hash, so an edit shows."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from intake.files import write_private
from intake.models import AuditEntry, utcnow

log = logging.getLogger(__name__)

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
    return _append(session, AuditEntry(actor_kind=actor_kind, actor_id=actor_id, action=action, case_id=case_id, details=details or {}))


def record_at_commit(
    session: Session,
    action: str,
    *,
    actor_kind: str = "system",
    actor_id: int | None = None,
    case_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Like `record`, but the row is appended when the transaction commits, as its last write.

    Appending takes the chain's lock (an advisory lock on PostgreSQL) until the commit; a busy
    path such as filing a report would otherwise hold it through the rest of its transaction and
    make every other append wait for that.
    """
    pending: list[AuditEntry] = session.info.setdefault(_PENDING, [])
    pending.append(AuditEntry(actor_kind=actor_kind, actor_id=actor_id, action=action, case_id=case_id, details=details or {}))


_PENDING = "audit_pending"


@sa.event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    for entry in session.info.pop(_PENDING, []):
        _append(session, entry)


@sa.event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _append(session: Session, entry: AuditEntry) -> AuditEntry:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.exec(sa.text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_PG_LOCK_KEY))  # type: ignore[call-overload]
    last = session.exec(select(AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    prev = last or GENESIS
    entry.at = utcnow().replace(microsecond=0)
    entry.prev_hash = prev
    entry.row_hash = _row_hash(prev, entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Checkpoint:
    """A row of the chain and its hash, kept outside the table: rows up to it cannot vanish or be re-hashed unseen."""

    id: int
    row_hash: str

    def __str__(self) -> str:
        return f"{self.id}:{self.row_hash}"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Reads "ID:HASH" as `str()` writes it."""
        row_id, _, row_hash = text.strip().partition(":")
        if not row_id.isdigit() or len(row_hash) != 64 or any(c not in "0123456789abcdef" for c in row_hash):
            raise ValueError("a checkpoint is ID:HASH (a row id and 64 hex digits)")
        return cls(int(row_id), row_hash)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""
    head: Checkpoint | None = None  # the last row checked


def verify(session: Session, *, checkpoints: tuple[Checkpoint, ...] = ()) -> VerifyResult:
    """Walks the chain; reports the first row that was edited, or after which rows were removed.

    The chain alone cannot see rows removed from its end, nor a chain re-hashed from an edited row
    on (the hash has no key). A checkpoint taken earlier and kept elsewhere closes both gaps up to it.
    """
    prev = GENESIS
    checked = 0
    head: Checkpoint | None = None
    pending = {cp.id: cp for cp in checkpoints}
    # Streamed in chunks: the log grows without end and need not fit in memory.
    rows = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)  # type: ignore[arg-type]
    for entry in session.exec(rows):
        if entry.prev_hash != prev:
            return VerifyResult(False, checked, entry.id, "chain broken: a row before it was removed or changed", head)
        if _row_hash(prev, entry) != entry.row_hash:
            return VerifyResult(False, checked, entry.id, "row content does not match its hash", head)
        cp = pending.pop(entry.id, None)  # type: ignore[arg-type]
        if cp is not None and cp.row_hash != entry.row_hash:
            return VerifyResult(False, checked, entry.id, "row differs from the checkpoint: the chain was rewritten up to here", head)
        prev = entry.row_hash
        head = Checkpoint(entry.id, entry.row_hash)  # type: ignore[arg-type]
        checked += 1
    if pending:
        missing = min(pending)
        return VerifyResult(False, checked, missing, "the checkpointed row is gone: rows were removed from the end", head)
    return VerifyResult(True, checked, head=head)


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint saved by the last successful verification, if any."""
    try:
        return Checkpoint.parse(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        return None


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Saves the head of a verified chain (atomically, owner-only) for the next verification to hold the log to."""
    write_private(path, f"{checkpoint}\n".encode("ascii"))


def checkpoint_path(var_dir: Path) -> Path:
    return var_dir / "audit" / "checkpoint"


def verify_and_checkpoint(session: Session, var_dir: Path, *, extra: tuple[Checkpoint, ...] = ()) -> VerifyResult:
    """Verifies against the saved checkpoint (and any given), and on success moves the checkpoint to the head."""
    path = checkpoint_path(var_dir)
    saved = read_checkpoint(path)
    result = verify(session, checkpoints=(*([saved] if saved else []), *extra))
    if result.ok and result.head is not None:
        write_checkpoint(path, result.head)
    return result


def verify_job(var_dir: Path | None = None) -> VerifyResult:
    """One scheduled verification: holds the log to the saved checkpoint, moves it on, logs a tamper loudly."""
    from intake.config import get_settings
    from intake.db import session_scope

    with session_scope() as session:
        result = verify_and_checkpoint(session, var_dir or get_settings().var_dir)
    if result.ok:
        log.info("audit log verified: %s rows, head %s", result.checked, result.head)
    else:
        log.error("audit log TAMPERED at row %s: %s", result.first_bad_id, result.problem)
    return result
