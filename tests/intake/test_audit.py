"""The audit log is chained: an edited or deleted row is found."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from intake import audit
from intake.models import AuditEntry


def _fill(db: Session) -> list[AuditEntry]:
    rows = [audit.record(db, f"test.{i}", details={"n": i}) for i in range(5)]
    db.commit()
    return rows


def test_untouched_chain_verifies(db: Session) -> None:
    """A log written only through `record` verifies."""
    _fill(db)
    result = audit.verify(db)
    assert result.ok and result.checked == 5


def test_edited_row_is_found(db: Session) -> None:
    """Changing a row's details behind the app's back breaks the chain at that row."""
    rows = _fill(db)
    db.execute(sa.update(AuditEntry).where(AuditEntry.id == rows[2].id).values(details={"n": 99}))  # type: ignore[arg-type]
    db.commit()
    db.expire_all()
    result = audit.verify(db)
    assert not result.ok and result.first_bad_id == rows[2].id


def test_deleted_row_is_found(db: Session) -> None:
    """Removing a row breaks the link of the row after it."""
    rows = _fill(db)
    db.execute(sa.delete(AuditEntry).where(AuditEntry.id == rows[1].id))  # type: ignore[arg-type]
    db.commit()
    db.expire_all()
    result = audit.verify(db)
    assert not result.ok and result.first_bad_id == rows[2].id


def test_rows_recorded_at_commit_are_appended_last_and_chained(db: Session) -> None:
    """`record_at_commit` holds its row until the commit (the chain's lock is taken only then); a
    rollback drops it."""
    audit.record_at_commit(db, "test.late", details={"n": 1})
    audit.record(db, "test.early")
    assert list(db.exec(sa.select(AuditEntry.action)).scalars()) == ["test.early"]  # type: ignore[call-overload]
    db.commit()
    assert [r for r in db.exec(sa.select(AuditEntry.action).order_by(AuditEntry.id)).scalars()] == ["test.early", "test.late"]  # type: ignore[call-overload]
    audit.record_at_commit(db, "test.rolled_back")
    db.rollback()
    audit.record(db, "test.after")
    db.commit()
    actions = [r for r in db.exec(sa.select(AuditEntry.action).order_by(AuditEntry.id)).scalars()]  # type: ignore[call-overload]
    assert actions == ["test.early", "test.late", "test.after"]
    assert audit.verify(db).ok
