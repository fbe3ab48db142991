"""The conflict-of-interest rule as a property: whatever staff of whatever committee do, in any order,
no case ever sits in, and no identity or evidence is ever opened by, a committee run by or below the accused."""

from __future__ import annotations

import secrets
from datetime import date

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis.stateful import Bundle, invariant, rule
from sqlmodel import col, select

from intake import casework
from intake.actions import submit_report
from intake.attachments import store_attachment
from intake.casework.queries import transfer_exclusions
from intake.committee_search import committee_index
from intake.conflict import ConflictOfInterestError, barred_committee_ids, record_refusal
from intake.dialog.types import Draft
from intake.errors import PhananhError
from intake.models import AuditEntry, Case, CaseTransfer, StaffRole, StaffUser, TransferState
from intake.receipts import Credentials, hash_passphrase, new_receipt
from tests.intake.machines import COMMITTEES, PLACES, StaffWorld

WHO = st.integers(min_value=0, max_value=11)  # one of the twelve accounts: a chair and an officer in each committee
PASSPHRASE = "ABCD-EFGH-JKLM-NPQR"
_PASSPHRASE_HASH = hash_passphrase(PASSPHRASE)  # one Argon2 hash for every case: the property is not about it

# Two provinces, three wards, the centre: enough for "the same ward", "the same province" and "elsewhere".
POSITIONS = (
    "chủ tịch UBND phường",  # leads the ward
    "bí thư đảng ủy phường",  # leads the ward
    "chủ tịch ủy ban mặt trận tổ quốc phường",  # leads the ward's Front
    "cán bộ địa chính",  # leads nothing
    "trưởng khu phố",  # leads nothing
    "chủ tịch UBND thành phố",  # leads the province
    "phó bí thư tỉnh ủy",  # leads the province
    "giám đốc sở tài nguyên",  # leads nothing
    "chủ tịch ủy ban trung ương mặt trận tổ quốc việt nam",  # leads the centre
    "",  # not said
)


class ConflictRule(StaffWorld):
    """Random staff of random committees file, record, transfer, escalate, decide, merge, assign, correct and open cases."""

    cases = Bundle("cases")
    roles = (StaffRole.CHAIR, StaffRole.OFFICER)

    def __init__(self) -> None:
        super().__init__()
        self.audit_seen = 0

    # -- the world ------------------------------------------------------------------------------

    def _attempt(self, action: str, actor: StaffUser | None, work: object) -> None:
        """Runs one action as the admin would: commit on success; on a refusal, roll back (and audit a conflict)."""
        try:
            work()  # type: ignore[operator]
        except ConflictOfInterestError as err:
            self.db.rollback()
            record_refusal(self.db, err, actor=actor)
            self.db.commit()
            event(f"{action}: refused by the conflict rule")
        except PhananhError as err:
            self.db.rollback()
            event(f"{action}: refused ({err.code})")
        else:
            self.db.commit()
            event(f"{action}: done")

    def _staff(self, who: int) -> StaffUser:
        return self.accounts[who]

    def _holder(self, case: Case, chair: bool) -> StaffUser:
        """The chair or an officer of the committee holding the case: the people who can act on it."""
        return next(a for a in self.accounts if a.committee_id == case.committee_id and (a.role == StaffRole.CHAIR.value) == chair)

    @rule(target=cases, position=st.sampled_from(POSITIONS), commune=st.sampled_from(sorted(PLACES)),
          setting=st.sampled_from(["workplace", "residence"]), mode=st.sampled_from(["confidential", "open", "anonymous"]))
    def file(self, position: str, commune: str, setting: str, mode: str) -> int:
        """A resident files a report through the real intake."""
        draft = Draft(
            mode=mode, description_parts=["Cán bộ nhận tiền của dân mới làm thủ tục"], description_done=True, category=7,
            accused_position=position, province_code=PLACES[commune], commune_code=commune, setting=setting,
            reporter_name=None if mode == "anonymous" else "Nguyễn Văn A", reporter_phone=None if mode == "anonymous" else "0912345678",
        )
        filed = submit_report(self.db, draft=draft, channel="web", credentials=Credentials(new_receipt(), PASSPHRASE, _PASSPHRASE_HASH))
        store_attachment(self.db, data=b"bien ban " + secrets.token_bytes(4), content_type="text/plain", kind="document", case_id=filed.case.id)
        self.db.commit()
        return filed.case.id  # type: ignore[return-value]

    @rule(target=cases, who=WHO, position=st.sampled_from(POSITIONS), commune=st.sampled_from(sorted(PLACES)))
    def record(self, who: int, position: str, commune: str) -> int:
        """Staff record a walk-in report."""
        actor = self._staff(who)
        report = casework.OfflineReport(channel="in_person", received_on=date.today(), mode="confidential",
                                        description="Người dân đến trụ sở phản ánh cán bộ nhận tiền", place_text="",
                                        commune_code=commune, accused_position=position,
                                        reporter_name="Lê Văn D", reporter_contact="0901234567")
        try:
            case_id = casework.record_report(self.db, actor=actor, report=report).case.id
        except PhananhError:
            self.db.rollback()
            return 0
        self.db.commit()
        return case_id  # type: ignore[return-value]

    def _case(self, case_id: int) -> Case | None:
        return self.db.get(Case, case_id) if case_id else None

    @rule(case_id=cases, chair=st.booleans(), target_code=st.sampled_from(COMMITTEES))
    def transfer(self, case_id: int, chair: bool, target_code: str) -> None:
        case = self._case(case_id)
        if case is not None:
            actor = self._holder(case, chair)
            self._attempt("transfer", actor, lambda: casework.transfer_case(
                self.db, case=case, actor=actor, to_committee=self.committees[target_code], reason="chuyển đơn"))

    @rule(case_id=cases, chair=st.booleans())
    def escalate(self, case_id: int, chair: bool) -> None:
        case = self._case(case_id)
        if case is not None:
            actor = self._holder(case, chair)
            self._attempt("escalate", actor, lambda: casework.escalate_case(self.db, case=case, actor=actor, reason="vượt cấp"))

    @rule(approve=st.booleans())
    def decide(self, approve: bool) -> None:
        pending = self.db.exec(select(CaseTransfer).where(CaseTransfer.state == TransferState.PENDING.value)).first()
        if pending is not None:
            actor = next(a for a in self.accounts if a.committee_id == pending.from_committee_id and a.role == StaffRole.CHAIR.value)
            self._attempt("decide", actor, lambda: casework.decide_transfer(self.db, transfer_id=pending.id, actor=actor, approve=approve))  # type: ignore[arg-type]

    @rule(dup_id=cases, primary_id=cases, chair=st.booleans())
    def merge(self, dup_id: int, primary_id: int, chair: bool) -> None:
        dup = self._case(dup_id)
        if dup is not None and primary_id:
            actor = self._holder(dup, chair)
            self._attempt("merge", actor, lambda: casework.merge_cases(self.db, duplicate=dup, primary_id=primary_id, actor=actor))

    @rule(case_id=cases, chair=st.booleans(), assignee=WHO)
    def assign(self, case_id: int, chair: bool, assignee: int) -> None:
        case, other = self._case(case_id), self._staff(assignee)
        if case is not None:
            actor = self._holder(case, chair)
            self._attempt("assign", actor, lambda: casework.assign_case(self.db, case=case, actor=actor, assignee_id=other.id))

    @rule(case_id=cases, chair=st.booleans(), position=st.sampled_from(POSITIONS), commune=st.sampled_from(sorted(PLACES)))
    def correct(self, case_id: int, chair: bool, position: str, commune: str) -> None:
        case = self._case(case_id)
        if case is not None:
            actor = self._holder(case, chair)
            fix = casework.Correction(accused_position=position, accused_agency="", place_text="", commune_code=commune)
            self._attempt("correct", actor, lambda: casework.correct_case(self.db, case=case, actor=actor, correction=fix))

    @rule(case_id=cases)
    def open_identity_and_evidence(self, case_id: int) -> None:
        case = self._case(case_id)
        if case is None:
            return
        actor = self._holder(case, True)
        self._attempt("view_identity", actor, lambda: casework.view_identity(self.db, case=case, actor=actor, reason="xác minh theo đơn"))
        for att_id in [a.id for a in casework.queries.case_view(self.db, actor, case.id, today=date.today()).attachments]:  # type: ignore[arg-type]
            self._attempt("download", actor, lambda a=att_id: casework.download_attachment(self.db, case=case, actor=actor, attachment_id=a))

    # -- the rule -------------------------------------------------------------------------------

    @invariant()
    def no_case_sits_in_a_barred_committee(self) -> None:
        for case in self.db.exec(select(Case)).all():
            barred = barred_committee_ids(self.db, case)
            assert case.committee_id not in barred, f"case {case.id} ({case.accused_position!r}) held by a barred committee"
            offered = committee_index(self.db).offered(exclude=transfer_exclusions(self.db, case))  # the transfer picker's bounds
            assert not offered & barred and case.committee_id not in offered

    @invariant()
    def nothing_was_opened_by_a_barred_committee(self) -> None:
        """Each identity view and download since the last step was by a committee free to see the case."""
        new = self.db.exec(select(AuditEntry).where(col(AuditEntry.id) > self.audit_seen).order_by(col(AuditEntry.id))).all()
        for entry in new:
            if entry.action in ("identity.viewed", "attachment.downloaded"):
                case, actor = self.db.get(Case, entry.case_id), self.db.get(StaffUser, entry.actor_id)
                assert case is not None and actor is not None
                assert actor.committee_id not in barred_committee_ids(self.db, case), f"{entry.action} by a barred committee"
            self.audit_seen = entry.id or self.audit_seen


ConflictRule.TestCase.settings = settings(
    max_examples=30, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# Random sequences of filing, recording, transfers, escalations, decisions, merges, assignments,
# corrections, identity views and downloads, on the test database (SQLite, or PostgreSQL when set).
TestConflictRule = pytest.mark.usefixtures("migrated")(ConflictRule.TestCase)
