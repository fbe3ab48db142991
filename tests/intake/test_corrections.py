"""Corrections stored by staff become training pairs."""

from __future__ import annotations

from sqlmodel import Session

from intake.committees import committee_by_code
from intake.corrections import iter_corrections
from intake.models import Case, CategoryCorrection


def test_latest_correction_per_case_with_its_text(db: Session) -> None:
    """Each corrected case yields its text once, with the category of its newest correction."""
    committee = committee_by_code(db, "26743")
    case = Case(receipt_hash="r1", passphrase_hash="p", channel="web", anonymity="anonymous",
                committee_id=committee.id, description="Bí thư xã đánh bạc ăn tiền", category=7)  # type: ignore[union-attr,arg-type]
    db.add(case)
    db.flush()
    db.add(CategoryCorrection(case_id=case.id, old_category=7, new_category=1))  # type: ignore[arg-type]
    db.add(CategoryCorrection(case_id=case.id, old_category=1, new_category=9))  # type: ignore[arg-type]
    db.commit()
    assert list(iter_corrections(db)) == [("Bí thư xã đánh bạc ăn tiền", 9)]
