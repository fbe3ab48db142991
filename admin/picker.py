"""The committee picker: pick, don't type codes. One field wherever a committee is chosen.

With JavaScript (admin/static/picker.js) the field lists committees as the officer types, from
`/admin/committees/search`; without it, the form is a plain search form: "Tìm" (or submitting with a
name typed) comes back with the matching committees to choose from, everything typed kept. The
field's value is the committee's code, in a hidden input; the visible text is its name.

What may be offered is decided here, on the server, per purpose (`scope`): the JSON answer and the
form's check read the same rule, so a committee the picker must not offer cannot be sent either.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlmodel import Session

from admin.auth import Staff, current_staff, db_session
from intake.casework.policy import Perm, can, scope_committee_ids, visible_case
from intake.casework.queries import transfer_exclusions
from intake.committee_search import Choice, committee_index
from intake.errors import PermissionDeniedError
from intake.i18n import N_
from intake.models import CommitteeLevel

router = APIRouter(prefix="/admin")

SCOPES = ("accounts", "transfer", "commune", "filter")


@dataclass(frozen=True)
class Scope:
    """The committees a picker may offer: those `within` (None: all), less those excluded, of some levels."""

    within: frozenset[int] | None
    exclude: frozenset[int] = frozenset()
    levels: frozenset[str] | None = None

    def filters(self) -> dict[str, Collection[int] | Collection[str] | None]:
        return {"within": self.within, "exclude": self.exclude, "levels": self.levels}


def scope_for(db: Session, staff: Staff, scope: str, case_id: int | None = None) -> Scope:
    """What the account may pick for a purpose; refused when the role has nothing to pick there."""
    own = staff.committee
    if scope == "accounts" and can(staff.user, Perm.MANAGE_ACCOUNTS):
        managed = scope_committee_ids(db, own)
        return Scope(None if managed is None else frozenset(managed))
    if scope == "transfer" and can(staff.user, Perm.REQUEST_TRANSFER) and case_id is not None:
        case = visible_case(db, staff.user, case_id)  # 404 for a case of another committee
        # Never the committee that holds it, nor one the person it accuses leads (the conflict rule).
        return Scope(None, transfer_exclusions(db, case))
    if scope == "commune" and can(staff.user, Perm.RECORD):
        return Scope(None, levels=frozenset({CommitteeLevel.COMMUNE.value}))
    if scope == "filter" and can(staff.user, Perm.VIEW):
        below = scope_committee_ids(db, own)
        ids: frozenset[int] | None = frozenset(below) - {own.id} if below is not None else None
        level = CommitteeLevel.PROVINCE.value if own.level == CommitteeLevel.CENTRAL.value else CommitteeLevel.COMMUNE.value
        return Scope(ids, levels=frozenset({level}))
    raise PermissionDeniedError(f"picker {scope}")


@dataclass
class Picked:
    """A picker field as the form came back: what was typed, what it names, what to choose from, and why not."""

    name: str
    label: str
    scope: str
    text: str = ""
    chosen: Choice | None = None
    choices: list[Choice] = field(default_factory=list)
    error: str = ""
    case_id: int | None = None

    @property
    def code(self) -> str:
        return self.chosen.code if self.chosen else ""


NOT_FOUND = N_("{field}: no committee has this name. Please type part of its name, without diacritics if you like.")
AMBIGUOUS = N_("{field}: several committees match. Please choose one below.")
MISSING = N_("{field}: please choose a committee.")


def pick(
    db: Session,
    staff: Staff,
    *,
    name: str,
    label: str,
    scope: str,
    code: str,
    text: str,
    case_id: int | None = None,
    required: bool = True,
    finding: bool = False,
) -> Picked:
    """Reads a picker field: the code chosen if it is allowed, else what the text can only mean, else choices.

    `label` is the field's name as shown (already translated): errors name it. `finding`: the officer
    pressed "Tìm": the matches are listed even when the text names one committee.
    """
    t = staff.t
    allowed = scope_for(db, staff, scope, case_id)
    index = committee_index(db)
    picked = Picked(name=name, label=label, scope=scope, text=text.strip()[:200], case_id=case_id)
    if code.strip() and not finding:
        chosen = index.by_code_within(code, **allowed.filters())  # type: ignore[arg-type]
        if chosen is not None:
            picked.chosen = chosen
            picked.text = picked.text or chosen.label(staff.user.language)
            return picked
    if not picked.text:
        if required:
            picked.error = t._(MISSING, field=label)
        return picked
    one, candidates = index.resolve(picked.text, lang=staff.user.language, **allowed.filters())  # type: ignore[arg-type]
    if one is not None and not finding:
        picked.chosen = one
        return picked
    picked.choices = candidates
    if not candidates:
        picked.error = t._(NOT_FOUND, field=label)
    elif not finding:
        picked.error = t._(AMBIGUOUS, field=label)
    return picked


@router.get("/committees/search")
def search(
    q: Annotated[str, Query(max_length=200)] = "",
    scope: Annotated[str, Query(max_length=16)] = "",
    case: Annotated[str, Query(max_length=12)] = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> JSONResponse:
    """The committees matching what was typed, for the picker: code and name, at most 20."""
    if scope not in SCOPES:
        raise PermissionDeniedError("picker scope")
    allowed = scope_for(db, staff, scope, int(case) if case.isdigit() else None)
    lang = staff.user.language
    found = committee_index(db).search(q, **allowed.filters())  # type: ignore[arg-type]
    return JSONResponse([{"code": ch.code, "label": ch.label(lang)} for ch in found])
