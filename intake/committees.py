"""The committee tree (central → 34 provinces → 3,321 communes), loaded from vietnam-provinces."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select
from vietnam_provinces import Province, Ward

from intake.models import Committee, CommitteeLevel

log = logging.getLogger(__name__)

CENTRAL_CODE = "TW"
CENTRAL_NAME = "Ủy ban Trung ương MTTQ Việt Nam"
_PREFIX_VI = "Ủy ban MTTQ Việt Nam "
_PREFIX_EN = "Vietnam Fatherland Front Committee of "
# The unit's kind as the Front writes it inside a committee's name ("… xã Hưng Nguyên", "… tỉnh Nghệ An").
_KIND_VI = {"tỉnh": "tỉnh", "thành phố trung ương": "thành phố", "xã": "xã", "phường": "phường", "đặc khu": "đặc khu"}
_KIND_EN = {"tỉnh": "Province", "thành phố trung ương": "City", "xã": "Commune", "phường": "Ward", "đặc khu": "Special Zone"}


def province_code(value: object) -> str:
    """An official province code as the two-digit string used everywhere here."""
    return f"{int(getattr(value, 'value', value)):02d}"


def commune_code(value: object) -> str:
    """An official commune (ward) code as the five-digit string used everywhere here."""
    return f"{int(getattr(value, 'value', value)):05d}"


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int
    total: int


def _bare(name: str, kind: str) -> str:
    """A unit's name without its kind ("Thành phố Hà Nội" → "Hà Nội", "Xã Hưng Nguyên" → "Hưng Nguyên")."""
    for prefix in (kind, _KIND_VI.get(kind, kind)):
        if name.lower().startswith(prefix + " "):
            return name[len(prefix) + 1 :]
    return name


def front_names(name: str, kind: str) -> tuple[str, str]:
    """A committee's name as the Front writes it, in Vietnamese and English, from its unit's name and kind.

    "Ủy ban MTTQ Việt Nam xã Hưng Nguyên", "Ủy ban MTTQ Việt Nam tỉnh Nghệ An",
    "Ủy ban MTTQ Việt Nam thành phố Hà Nội": the unit's kind in lower case, then its proper name.
    """
    bare = _bare(name, kind)
    return (
        f"{_PREFIX_VI}{_KIND_VI.get(kind, kind)} {bare}",
        f"{_PREFIX_EN}{bare} {_KIND_EN.get(kind, '')}".rstrip(),
    )


def _desired() -> list[tuple[str, str, str | None, str, str, str]]:
    """(code, level, parent code, name vi, name en, unit name) for every committee."""
    rows: list[tuple[str, str, str | None, str, str, str]] = [
        (
            CENTRAL_CODE,
            CommitteeLevel.CENTRAL.value,
            None,
            CENTRAL_NAME,
            "Central Committee of the Vietnam Fatherland Front",
            "Việt Nam",
        )
    ]
    for p in sorted(Province.iter_all(), key=lambda p: int(p.code)):
        code = province_code(p.code)
        rows.append((code, CommitteeLevel.PROVINCE.value, CENTRAL_CODE, *front_names(p.name, p.division_type.value), p.name))
    for w in sorted(Ward.iter_all(), key=lambda w: int(w.code)):
        rows.append(
            (
                commune_code(w.code),
                CommitteeLevel.COMMUNE.value,
                province_code(w.province_code),
                *front_names(w.name, w.division_type.value),
                w.name,
            )
        )
    return rows


def load_committee_tree(session: Session) -> LoadResult:
    """Creates or refreshes every committee; names are updated, edits to other fields kept."""
    existing = {c.code: c for c in session.exec(select(Committee)).all()}
    created = updated = 0
    pending_parents: list[tuple[Committee, str]] = []
    for code, level, parent, name_vi, name_en, unit in _desired():
        row = existing.get(code)
        if row is None:
            row = Committee(code=code, level=level, name_vi=name_vi, name_en=name_en, unit_name=unit)
            session.add(row)
            existing[code] = row
            created += 1
        elif (row.name_vi, row.unit_name, row.level) != (name_vi, unit, level):
            row.name_vi, row.name_en, row.unit_name, row.level = name_vi, name_en, unit, level
            updated += 1
        if parent is not None:
            pending_parents.append((row, parent))
    session.flush()
    for row, parent in pending_parents:
        parent_id = existing[parent].id
        if row.parent_id != parent_id:
            row.parent_id = parent_id
    session.flush()
    from intake.committee_search import forget_index

    forget_index()
    total = session.exec(select(sa.func.count()).select_from(Committee)).one()
    log.info("committee tree: %s created, %s updated, %s in all", created, updated, total)
    return LoadResult(created=created, updated=updated, total=int(total))


def committee_by_code(session: Session, code: str) -> Committee | None:
    return session.exec(select(Committee).where(Committee.code == code)).first()
