"""Staff's category corrections as training material: (report text, category) pairs."""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import Session, select

from intake.models import Case, CategoryCorrection


def iter_corrections(session: Session) -> Iterator[tuple[str, int]]:
    """The latest correction of each case, with the case's text; older corrections are superseded."""
    latest: dict[int, int] = {}
    for correction in session.exec(select(CategoryCorrection).order_by(CategoryCorrection.id)):  # type: ignore[arg-type]
        latest[correction.case_id] = correction.new_category
    if not latest:
        return
    for case in session.exec(select(Case).where(Case.id.in_(list(latest)))):  # type: ignore[union-attr]
        if case.description.strip():
            yield case.description, latest[case.id]  # type: ignore[index]
