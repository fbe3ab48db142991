"""The staff's daily work as properties: whatever staff of whatever committee do, in any order,

- a queue shows its own committee's cases only, and never an ended case before an open one;
- a case is only ever assigned to someone who may handle it in the committee that holds it, bulk or not;
- every case's clock (open or not, the deadline it runs against) is true to its status;
- the pickers offer an administrator only committees it manages, and a transfer only committees
  the case may go to: a committee picked there is never refused by the conflict rule.
"""

from __future__ import annotations

from datetime import date

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis.stateful import Bundle, invariant, rule
from sqlmodel import SQLModel, select

from admin.auth import Staff
from admin.picker import scope_for
from intake import casework
from intake.actions import submit_report
from intake.casework import queries
from intake.casework.policy import Perm, can, scope_committee_ids
from intake.committee_search import committee_index
from intake.conflict import ConflictOfInterestError
from intake.db import get_engine
from intake.deadlines import local_today
from intake.dialog.types import Draft
from intake.errors import PhananhError
from intake.models import OPEN_STATUSES, Case, Committee, StaffRole, StaffSession, StaffUser, running_deadline
from intake.receipts import Credentials, hash_passphrase, new_receipt
from tests.intake.machines import COMMITTEES, PLACES, StaffWorld, empty_database

ROLES = (StaffRole.CHAIR, StaffRole.OFFICER, StaffRole.VIEWER, StaffRole.ADMIN)
WHO = st.integers(min_value=0, max_value=len(COMMITTEES) * len(ROLES) - 1)
POSITIONS = ("cán bộ địa chính", "chủ tịch UBND phường", "trưởng khu phố", "chủ tịch UBND thành phố", "")
STEPS = ("accept", "forward", "result", "reply", "close", "out_of_scope", "reopen")
NAMES = ("ben thanh", "sai gon", "hoan kiem", "ho chi minh", "ha noi", "trung uong", "phuong", "26743")
PASSPHRASE = "ABCD-EFGH-JKLM-NPQR"
_HASH = hash_passphrase(PASSPHRASE)


class StaffWork(StaffWorld):
    """Random staff file, handle, close, reopen, assign in bulk and transfer through the picker."""

    cases = Bundle("cases")
    roles = ROLES
    prefix = "p-"

    def _attempt(self, action: str, work: object) -> None:
        try:
            work()  # type: ignore[operator]
        except PhananhError as err:
            self.db.rollback()
            event(f"{action}: refused ({err.code})")
        else:
            self.db.commit()
            event(f"{action}: done")

    def _of(self, case: Case, role: StaffRole) -> StaffUser:
        return next(a for a in self.accounts if a.committee_id == case.committee_id and a.role == role.value)

    @rule(target=cases, commune=st.sampled_from(sorted(PLACES)), position=st.sampled_from(POSITIONS))
    def file(self, commune: str, position: str) -> int:
        draft = Draft(mode="anonymous", description_parts=["Cán bộ nhận tiền của dân"], description_done=True, category=7,
                      accused_position=position, province_code=PLACES[commune], commune_code=commune, setting="workplace")
        filed = submit_report(self.db, draft=draft, channel="web", credentials=Credentials(new_receipt(), PASSPHRASE, _HASH))
        self.db.commit()
        return filed.case.id  # type: ignore[return-value]

    @rule(case_id=cases, step=st.sampled_from(STEPS))
    def handle(self, case_id: int, step: str) -> None:
        """The holding committee's officer (the chair, to reopen) takes one step, when the status allows it."""
        case = self.db.get(Case, case_id)
        assert case is not None
        officer, chair = self._of(case, StaffRole.OFFICER), self._of(case, StaffRole.CHAIR)
        today = local_today()
        work = {
            "accept": lambda: casework.accept_case(self.db, case=case, actor=officer),
            "forward": lambda: casework.record_forwarding(self.db, case=case, actor=officer, body_kind="police", body_name="Công an",
                                                          forwarded_on=today),
            "result": lambda: casework.record_result(self.db, case=case, actor=officer, result_on=today, text="Đã xử lý"),
            "reply": lambda: casework.reply_to_resident(self.db, case=case, actor=officer, text="Kết quả", tells_result=True),
            "close": lambda: casework.close_case(self.db, case=case, actor=officer),
            "out_of_scope": lambda: casework.mark_out_of_scope(self.db, case=case, actor=officer, reason="Tranh chấp dân sự"),
            "reopen": lambda: casework.reopen_case(self.db, case=case, actor=chair, reason="Có thông tin mới"),
        }[step]
        self._attempt(step, work)

    @rule(who=WHO, picked=st.lists(cases, min_size=1, max_size=4), to=WHO)
    def bulk_assign(self, who: int, picked: list[int], to: int) -> None:
        """Anyone ticks some cases and gives them to anyone: allowed or refused as a whole."""
        actor, assignee = self.accounts[who], self.accounts[to]
        self._attempt("bulk assign", lambda: casework.assign_cases(self.db, case_ids=picked, actor=actor, assignee_id=assignee.id))

    @rule(case_id=cases, name=st.sampled_from(NAMES), pick=st.integers(min_value=0, max_value=19))
    def transfer_through_the_picker(self, case_id: int, name: str, pick: int) -> None:
        """The holding committee's chair types a name, picks from what the picker offers, and transfers."""
        case = self.db.get(Case, case_id)
        assert case is not None
        chair = self._of(case, StaffRole.CHAIR)
        staff = Staff(chair, self.db.get(Committee, chair.committee_id), StaffSession(token_hash="", user_id=chair.id, csrf_token=""))  # type: ignore[arg-type]
        offered = committee_index(self.db).search(name, **scope_for(self.db, staff, "transfer", case.id).filters())  # type: ignore[arg-type]
        ours = {c.id for c in self.committees.values() if c is not None}
        offered = [ch for ch in offered if ch.id in ours]  # the committees this world has staff in
        if not offered:
            event("transfer: nothing offered")
            return
        target = self.db.get(Committee, offered[pick % len(offered)].id)
        assert target is not None
        try:
            casework.transfer_case(self.db, case=case, actor=chair, to_committee=target, reason="Đúng thẩm quyền")
        except ConflictOfInterestError as err:
            raise AssertionError(f"the picker offered {target.code}, which the conflict rule bars for case {case.id}") from err
        except PhananhError as err:
            self.db.rollback()
            event(f"transfer: refused ({err.code})")
        else:
            self.db.commit()
            event("transfer: done")

    @invariant()
    def every_clock_is_true_to_its_status(self) -> None:
        for case in self.db.exec(select(Case)).all():
            assert case.is_open == (case.status in OPEN_STATUSES)
            assert case.next_due_on == running_deadline(case.status, case.first_due_on, case.due_on)
            if case.status in ("new", "verifying"):
                assert case.first_due_on is not None

    @invariant()
    def cases_are_assigned_only_to_who_may_handle_them(self) -> None:
        for case in self.db.exec(select(Case).where(Case.assignee_id.is_not(None))).all():  # type: ignore[union-attr]
            user = self.db.get(StaffUser, case.assignee_id)
            assert user is not None and user.committee_id == case.committee_id and can(user, Perm.WORK)

    @invariant()
    def queues_show_their_own_cases_open_ones_first(self) -> None:
        today = local_today()
        for user in self.accounts:
            if not can(user, Perm.VIEW):
                assert queries.queue(self.db, user, queries.QueueFilter(status="all"), today=today).rows == []
                continue
            if user.role != StaffRole.OFFICER.value:
                continue  # one reader per committee is enough: a queue depends on the committee, not the role
            for sort in queries.SORTS:
                rows = queries.queue(self.db, user, queries.QueueFilter(status="all", sort=sort), today=today).rows
                assert all(r.case.committee_id == user.committee_id for r in rows)
                flags = [r.case.is_open for r in rows]
                assert flags == sorted(flags, reverse=True), f"an ended case before an open one ({sort})"
            default = queries.queue(self.db, user, queries.QueueFilter(), today=today).rows
            assert all(r.case.is_open and r.case.committee_id == user.committee_id for r in default)

    @invariant()
    def the_accounts_picker_offers_only_committees_the_admin_manages(self) -> None:
        for user in self.accounts:
            if user.role != StaffRole.ADMIN.value:
                continue
            own = self.db.get(Committee, user.committee_id)
            assert own is not None
            staff = Staff(user, own, StaffSession(token_hash="", user_id=user.id, csrf_token=""))  # type: ignore[arg-type]
            offered = committee_index(self.db).offered(**scope_for(self.db, staff, "accounts").filters())  # type: ignore[arg-type]
            managed = scope_committee_ids(self.db, own)
            assert managed is None or offered <= set(managed)


@pytest.mark.slow
def test_staff_work_keeps_its_invariants(migrated: None) -> None:
    """Random sequences of filing, handling, closing, reopening, bulk assignment and picker transfers keep every invariant."""
    StaffWork.TestCase.settings = settings(
        max_examples=25, stateful_step_count=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    try:
        StaffWork.TestCase().runTest()
    finally:
        empty_database()
        with get_engine().begin() as conn:
            conn.execute(SQLModel.metadata.tables["staff_users"].delete())


def test_first_handling_deadline_in_the_past_is_not_an_error() -> None:
    """A deadline already passed is still a date the clock reports (a case received long ago is simply overdue)."""
    assert running_deadline("new", date(2020, 1, 2), None) == date(2020, 1, 2)
    assert running_deadline("forwarded", date(2020, 1, 2), date(2020, 2, 3)) == date(2020, 2, 3)
    assert running_deadline("answered", date(2020, 1, 2), date(2020, 2, 3)) is None
