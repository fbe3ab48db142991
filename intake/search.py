"""Search that works without diacritics: a folded copy of a case's searchable text."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from intake.models import Case


def fold(text: str) -> str:
    """Lower-case, 'đ' to 'd', diacritics removed, spaces collapsed."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return " ".join("".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn").split())


def fold_for_search(case: Case) -> str:
    """The folded text staff search over: the report and who and where it concerns."""
    parts = (case.description, case.accused_name, case.accused_position, case.accused_agency, case.place_text, case.occurred)
    return fold(" \n ".join(p for p in parts if p))
