"""The committee tree loaded from the gazetteer."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from intake.committees import CENTRAL_CODE, committee_by_code, load_committee_tree
from intake.models import Committee


def test_tree_has_one_central_34_provincial_and_3321_commune_committees(db: Session) -> None:
    """Every unit of the two-level structure since 1 July 2025 has its committee."""
    counts = dict(db.exec(select(Committee.level, sa.func.count()).group_by(Committee.level)).all())  # type: ignore[call-overload]
    assert counts == {"central": 1, "province": 34, "commune": 3321}


def test_communes_hang_under_their_province(db: Session) -> None:
    """Phường Bến Thành (26743) belongs to Ho Chi Minh City (79), under the central committee."""
    ben_thanh = committee_by_code(db, "26743")
    assert ben_thanh is not None and ben_thanh.name_vi == "Ủy ban MTTQ Việt Nam phường Bến Thành"
    hcm = db.get(Committee, ben_thanh.parent_id)
    assert hcm is not None and hcm.code == "79"
    central = db.get(Committee, hcm.parent_id)
    assert central is not None and central.code == CENTRAL_CODE


def test_reloading_changes_nothing(db: Session) -> None:
    """Loading the tree again is idempotent."""
    result = load_committee_tree(db)
    assert (result.created, result.updated, result.total) == (0, 0, 3356)


def test_names_are_written_as_the_front_writes_them(db: Session) -> None:
    """The unit's kind in lower case before its name: xã, phường, đặc khu, tỉnh, thành phố."""
    names = {code: committee_by_code(db, code).name_vi for code in ("18001", "40", "01", "26743", "31078")}  # type: ignore[union-attr]
    assert names == {
        "18001": "Ủy ban MTTQ Việt Nam xã Hưng Nguyên",
        "40": "Ủy ban MTTQ Việt Nam tỉnh Nghệ An",
        "01": "Ủy ban MTTQ Việt Nam thành phố Hà Nội",
        "26743": "Ủy ban MTTQ Việt Nam phường Bến Thành",
        "31078": "Ủy ban MTTQ Việt Nam đặc khu Phú Quốc",
    }
    assert committee_by_code(db, "40").name_en == "Vietnam Fatherland Front Committee of Nghệ An Province"  # type: ignore[union-attr]
