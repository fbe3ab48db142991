"""What the state-machine tests share: an emptied database that keeps the slow-to-make accounts, and those accounts."""

from __future__ import annotations

from hypothesis.stateful import RuleBasedStateMachine
from sqlmodel import Session

from intake.actions import create_staff
from intake.committees import committee_by_code
from intake.db import get_engine
from intake.models import Committee, StaffRole, StaffUser
from intake.staff import find_staff

# Two provinces' committees and the centre, with two wards of one province and one of the other:
# commune code -> its province's code.
PLACES = {"26743": "79", "26740": "79", "00070": "01"}
COMMITTEES = ("TW", "79", "01", *PLACES)

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


class StaffWorld(RuleBasedStateMachine):
    """A machine's world: the database emptied but for the committees and the accounts, a session, and an
    account of each of `roles` in each committee of COMMITTEES (committee by committee)."""

    roles: tuple[StaffRole, ...] = ()
    prefix = ""

    def __init__(self) -> None:
        super().__init__()
        empty_database()
        self.db = Session(get_engine(), expire_on_commit=False)
        self.committees = {code: committee_by_code(self.db, code) for code in COMMITTEES}
        self.accounts = [account(self.db, role, c, self.prefix) for c in self.committees.values() for role in self.roles]  # type: ignore[arg-type]

    def teardown(self) -> None:
        self.db.close()
