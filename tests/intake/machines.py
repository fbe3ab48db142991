"""What the state-machine tests share: an emptied database that keeps the slow-to-make accounts, and those accounts."""

from __future__ import annotations

from sqlmodel import Session

from intake.actions import create_staff
from intake.models import Committee, StaffRole, StaffUser
from intake.staff import find_staff

KEEP = frozenset({"committees", "alembic_version", "staff_users"})  # the accounts are made once: Argon2 is slow


def empty_database() -> None:
    """Every table emptied but the committee tree and the accounts."""
    from tests.conftest import empty_database as empty

    empty(KEEP)


def account(db: Session, role: StaffRole, committee: Committee, prefix: str = "") -> StaffUser:
    """The account with this role in this committee, made at its first use."""
    name = f"{prefix}{role.value}-{committee.code}"
    found = find_staff(db, name)  # by its canonical form, as sign-in finds it
    if found is None:
        found = create_staff(db, username=name, password="x" * 16, role=role, committee=committee)
        db.commit()
    return found
