"""The conflict-of-interest rule, in one place.

A case never lands in, and its identity and evidence are never visible to, a queue run by or below
the person it accuses (DOMAIN.md, "Where a report goes"). Routing applies it when a report is filed;
this module applies it to everything that happens afterwards: transfers (direct, requested and
approved), escalations, merges, assignments, staff-entered reports, re-routing after a correction,
identity views and evidence downloads, and the committee pickers that offer targets.

Who the accused leads is read from the case (position, unit, province and commune), with the routing
rules' conflict lists, and from the place the unit's own name gives ("UBND phường Bến Thành" leads
Bến Thành wherever the case says it happened). A barrier once drawn stays: the committees barred when
the case was filed and before every correction are kept on the case (`Case.conflict_barrier`), so that
correcting a place or a role can bar more committees, never fewer (seen: a province officer changed the
commune, and the province chair could then send the case to the accused's own commune). A committee is
barred when the accused leads it or a committee above it:

- leads a commune (its Front, party committee or People's Committee): that commune's committee; all
  communes of the province when the commune is not known;
- leads a province: the province's committee and every commune committee in it;
- leads the central committee: every provincial and commune committee (the central one still holds
  the case, without them: the routing flags it for review).

A case merged into another follows the case handled for both, so a case's barrier includes those of
the duplicates merged into it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlmodel import Session, col, select

from intake import audit
from intake.errors import InvalidInputError
from intake.i18n import N_
from intake.models import Case, Committee, CommitteeLevel, StaffUser
from intake.routing import Level, RoutingRules, default_rules

log = logging.getLogger(__name__)

class ConflictOfInterestError(InvalidInputError):
    """A committee was asked to hold or see a case about someone who leads it or a committee above it."""

    code = "conflict_of_interest"
    message = N_(
        "This committee cannot receive or see the case: the person it accuses leads it or a committee above it."
    )

    def __init__(self, detail: str = "", *, case_id: int | None, committee_code: str, action: str) -> None:
        super().__init__(detail or f"{action} refused: conflict of interest")
        self.case_id = case_id
        self.committee_code = committee_code
        self.action = action


@dataclass(frozen=True)
class Led:
    """The level and place of the unit the accused leads, as read from a case."""

    level: Level
    position_id: str
    province_code: str
    commune_code: str | None


def role_text(case: Case) -> str:
    """The role as routing reads it: the accused's position and unit together."""
    return " ".join(x for x in (case.accused_position, case.accused_agency) if x)


def led_unit(
    *, role: str, province_code: str | None, commune_code: str | None, rules: RoutingRules | None = None
) -> Led | None:
    """The unit the accused leads, when their role is in a conflict list of the routing rules."""
    if not role.strip() or not province_code:
        return None
    rules = rules or default_rules()
    match = rules.match_position(role, province_code)
    level = rules.led_level(match, province_code)
    if match is None or level is None:
        return None
    return Led(level, match.position.id, province_code, commune_code)


def _ids(session: Session, *conditions: object) -> frozenset[int]:
    return frozenset(i for i in session.exec(select(Committee.id).where(*conditions)).all() if i is not None)  # type: ignore[arg-type]


def committees_barred_by(session: Session, led: Led | None) -> frozenset[int]:
    """Committees run by, or below, the unit the accused leads."""
    if led is None:
        return frozenset()
    if led.level == "central":
        return _ids(session, Committee.level != CommitteeLevel.CENTRAL.value)
    province = _ids(session, Committee.code == led.province_code, Committee.level == CommitteeLevel.PROVINCE.value)
    if led.level == "province":
        return province | _ids(session, col(Committee.parent_id).in_(province))
    if led.commune_code:
        return _ids(session, Committee.code == led.commune_code, Committee.level == CommitteeLevel.COMMUNE.value)
    # The commune is not known: any commune of the province may be the one the accused leads.
    return _ids(session, col(Committee.parent_id).in_(province))


def _unit_place(agency: str, province_code: str | None) -> tuple[str | None, str | None]:
    """The province and commune a unit's name gives ("UBND phường Bến Thành", "UBND tỉnh Đồng Nai"),
    when it spells the name out; (None, None) otherwise. The resolver proposes, and a place counts only
    when its name stands in the unit's name as whole words (fuzzy readings such as "Trạm y tế" for
    "Trà My" bar nothing)."""
    from intake.places import fold, resolve_place

    if not agency.strip():
        return None, None
    words = f" {fold(agency).lower()} "
    found = resolve_place(agency)
    if found.commune is None and province_code:
        within = resolve_place(agency, province_code=province_code)
        found = within if within.commune is not None else found
    spelled = [m for m in (found, *found.candidates) if m.commune is not None and f" {fold(_bare(m.commune.name)).lower()} " in words]
    if spelled:
        best = spelled[0]
        return (best.province.code if best.province else None), best.commune.code  # type: ignore[union-attr]
    if found.province is not None and f" {fold(_bare(found.province.name)).lower()} " in words:
        return found.province.code, None
    return None, None


_UNIT_KIND = re.compile(r"^(xã|phường|đặc khu|tỉnh|thành phố)\s+", re.IGNORECASE)


def _bare(name: str) -> str:
    """A unit's name without its kind ("Phường Bến Thành" → "Bến Thành")."""
    return _UNIT_KIND.sub("", name)


def _own_barrier(session: Session, case: Case, rules: RoutingRules | None) -> frozenset[int]:
    role = role_text(case)
    barred = committees_barred_by(
        session, led_unit(role=role, province_code=case.province_code, commune_code=case.commune_code, rules=rules)
    )
    unit_province, unit_commune = _unit_place(case.accused_agency, case.province_code)
    if unit_province is not None and (unit_province, unit_commune) != (case.province_code, case.commune_code):
        barred |= committees_barred_by(session, led_unit(role=role, province_code=unit_province, commune_code=unit_commune, rules=rules))
    return barred | frozenset(case.conflict_barrier or ())


def barred_committee_ids(session: Session, case: Case, *, rules: RoutingRules | None = None) -> frozenset[int]:
    """Committees that must never hold or see this case (its duplicates' barriers and its past ones included)."""
    barred = _own_barrier(session, case, rules)
    if case.id is not None:
        for duplicate in session.exec(select(Case).where(Case.merged_into_id == case.id)).all():
            barred |= _own_barrier(session, duplicate, rules)
    return barred


def remember_barrier(session: Session, case: Case, *, also: frozenset[int] = frozenset()) -> None:
    """Keeps the committees barred now (and `also`, those barred before a correction) on the case for good."""
    case.conflict_barrier = sorted(barred_committee_ids(session, case) | also)


def is_barred(session: Session, case: Case, committee_id: int | None) -> bool:
    """Whether a committee may not hold or see the case."""
    return committee_id is not None and committee_id in barred_committee_ids(session, case)


def ensure_allowed(session: Session, case: Case, committee: Committee, *, action: str) -> None:
    """Refuses an action that would put the case in, or show it to, a barred committee."""
    if is_barred(session, case, committee.id):
        log.warning("case %s: %s to committee %s refused (conflict of interest)", case.id, action, committee.code)
        raise ConflictOfInterestError(case_id=case.id, committee_code=committee.code, action=action)


def record_refusal(session: Session, error: ConflictOfInterestError, *, actor: StaffUser | None) -> None:
    """Audits a refused attempt, in a transaction of its own after the action's was rolled back."""
    audit.record(
        session,
        "case.conflict_refused",
        actor_kind="staff" if actor is not None else "system",
        actor_id=actor.id if actor is not None else None,
        case_id=error.case_id,
        details={"action": error.action, "committee": error.committee_code},
    )
