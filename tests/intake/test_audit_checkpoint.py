"""What the hash chain sees by itself, and what a checkpoint kept outside the table adds."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from intake import audit
from intake.models import AuditEntry


def _fill(db: Session, n: int = 5) -> list[AuditEntry]:
    rows = [audit.record(db, f"test.{i}", details={"n": i}) for i in range(n)]
    db.commit()
    return rows


def _sql(db: Session, statement: sa.Executable) -> None:
    db.execute(statement)  # type: ignore[call-overload]
    db.commit()
    db.expire_all()


def test_removing_the_last_row_escapes_the_chain_but_not_a_checkpoint(db: Session) -> None:
    """The chain alone verifies after its last row is deleted; the head checkpointed before does not."""
    rows = _fill(db)
    head = audit.verify(db).head
    assert head == audit.Checkpoint(rows[-1].id, rows[-1].row_hash)  # type: ignore[arg-type]
    _sql(db, sa.delete(AuditEntry).where(AuditEntry.id == rows[-1].id))  # type: ignore[arg-type]
    assert audit.verify(db).ok  # the limit of a bare chain
    result = audit.verify(db, checkpoints=(head,))  # type: ignore[arg-type]
    assert not result.ok and result.first_bad_id == rows[-1].id and "removed from the end" in result.problem


def test_a_chain_rehashed_after_an_edit_is_caught_by_the_checkpoint(db: Session) -> None:
    """Someone who edits a row and recomputes every hash after it fools the chain, not the checkpoint."""
    rows = _fill(db)
    head = audit.verify(db).head
    _sql(db, sa.update(AuditEntry).where(AuditEntry.id == rows[1].id).values(details={"n": 42}))  # type: ignore[arg-type]
    prev = rows[0].row_hash
    for entry in db.exec(sa.select(AuditEntry).where(AuditEntry.id >= rows[1].id).order_by(AuditEntry.id)).scalars():  # type: ignore[arg-type,operator,call-overload]
        new = audit._row_hash(prev, entry)
        db.execute(sa.update(AuditEntry).where(AuditEntry.id == entry.id).values(prev_hash=prev, row_hash=new))  # type: ignore[arg-type]
        prev = new
    db.commit()
    db.expire_all()
    assert audit.verify(db).ok
    result = audit.verify(db, checkpoints=(head,))  # type: ignore[arg-type]
    assert not result.ok and result.first_bad_id == rows[-1].id and "rewritten" in result.problem


def test_verify_and_checkpoint_moves_the_saved_head_only_when_good(db: Session, tmp_path: Path) -> None:
    """A good run saves the head; the next run holds the log to it; a bad run leaves the saved head alone."""
    rows = _fill(db, 3)
    first = audit.verify_and_checkpoint(db, tmp_path)
    assert first.ok and audit.read_checkpoint(audit.checkpoint_path(tmp_path)) == first.head
    more = _fill(db, 2)
    second = audit.verify_and_checkpoint(db, tmp_path)
    assert second.ok and second.checked == 5 and second.head == audit.Checkpoint(more[-1].id, more[-1].row_hash)  # type: ignore[arg-type]
    _sql(db, sa.delete(AuditEntry).where(AuditEntry.id >= more[0].id))  # type: ignore[arg-type,operator]
    third = audit.verify_and_checkpoint(db, tmp_path)
    assert not third.ok and third.first_bad_id == more[-1].id
    assert audit.read_checkpoint(audit.checkpoint_path(tmp_path)) == second.head
    assert rows[0].id is not None


@pytest.mark.parametrize("text", ["", "12", "x:" + "0" * 64, "3:" + "g" * 64, "3:abc"])
def test_malformed_checkpoints_are_refused(text: str) -> None:
    """A checkpoint is ID:HASH with 64 hex digits; anything else is an error, not a silent pass."""
    with pytest.raises(ValueError):
        audit.Checkpoint.parse(text)


def test_the_scheduled_verification_saves_the_head_and_reports_a_tamper(
    db: Session, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """verify_job checkpoints a good log; after the last row is removed it fails and logs an error."""
    rows = _fill(db, 3)
    assert audit.verify_job(tmp_path).ok
    _sql(db, sa.delete(AuditEntry).where(AuditEntry.id == rows[-1].id))  # type: ignore[arg-type]
    with caplog.at_level("ERROR", logger="intake.audit"):
        assert not audit.verify_job(tmp_path).ok
    assert any("TAMPERED" in r.getMessage() for r in caplog.records)
