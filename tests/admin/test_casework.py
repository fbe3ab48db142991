"""Each staff action: the policy, the change, its audit row, and the resident's thread + outbox rows."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from intake import audit, casework
from intake.actions import look_up_case
from intake.casework import messages, queries
from intake.deadlines import answer_due, local_today
from intake.errors import InvalidInputError, InvalidTransitionError, NotFoundError, PermissionDeniedError
from intake.models import (
    AuditEntry,
    Case,
    CaseMessage,
    CaseStatus,
    CaseTransfer,
    CategoryCorrection,
    ChatLink,
    OutboxMessage,
    StaffRole,
)
from tests.admin.conftest import BEN_THANH, HOAN_KIEM, committee, file_case, make_staff, quick_case

DESCRIPTION = "Cán bộ địa chính phường đòi 5 triệu đồng mới làm sổ đỏ cho dân"


def _audits(db: Session, case_id: int, action: str) -> list[AuditEntry]:
    return list(db.exec(select(AuditEntry).where(AuditEntry.case_id == case_id, AuditEntry.action == action)).all())


def _outbox(db: Session, case_id: int) -> list[OutboxMessage]:
    return list(db.exec(select(OutboxMessage).where(OutboxMessage.case_id == case_id).order_by(OutboxMessage.id)).all())  # type: ignore[arg-type]


def _no_text_in_audit(db: Session, *texts: str) -> None:
    for entry in db.exec(select(AuditEntry)).all():
        blob = json.dumps(entry.details, ensure_ascii=False)
        for text in texts:
            assert text not in blob, f"{entry.action} leaks text into the audit log"


def test_accept_writes_audit_thread_and_outbox_in_one_go(db: Session) -> None:
    """Accepting a case sets it verifying, audits it, and queues one message with a unique delivery key."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH).user
    casework.accept_case(db, case=filed.case, actor=officer)
    db.commit()
    case = db.get(Case, filed.case.id)
    assert case is not None and case.status == CaseStatus.VERIFYING.value and case.accepted_at is not None
    (entry,) = _audits(db, case.id, "case.accepted")  # type: ignore[arg-type]
    assert entry.actor_id == officer.id and entry.actor_kind == "staff"
    (row,) = _outbox(db, case.id)  # type: ignore[arg-type]
    (msg,) = db.exec(select(CaseMessage).where(CaseMessage.case_id == case.id, CaseMessage.direction == "staff")).all()
    assert row.body == msg.body and "phường Bến Thành" in row.body and row.delivery_key == f"case-message:{msg.id}"
    assert row.channel == "web" and row.status == "pending"
    assert audit.verify(db).ok


def test_outbox_goes_to_the_linked_chat(db: Session) -> None:
    """When the resident linked a chat for updates, the outbox row is addressed to that channel."""
    filed = file_case(db, channel="web")
    db.add(ChatLink(case_id=filed.case.id, channel="telegram", handle_hash="h" * 64))  # type: ignore[arg-type]
    db.commit()
    casework.accept_case(db, case=filed.case, actor=make_staff(db, "cb", BEN_THANH).user)
    assert _outbox(db, filed.case.id)[0].channel == "telegram"  # type: ignore[arg-type]


def test_a_failed_action_leaves_nothing_behind(db: Session) -> None:
    """An action refused half-way (reply with no text) writes no audit, thread or outbox row."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH).user
    before = len(db.exec(select(AuditEntry)).all())
    with pytest.raises(InvalidInputError):
        casework.reply_to_resident(db, case=filed.case, actor=officer, text="   ")
    db.rollback()
    assert len(db.exec(select(AuditEntry)).all()) == before and _outbox(db, filed.case.id) == []  # type: ignore[arg-type]


def test_viewer_may_not_act_and_other_committee_sees_nothing(db: Session) -> None:
    """A viewer is refused any action; an officer of another committee finds no such case."""
    filed = file_case(db)
    viewer = make_staff(db, "xem", BEN_THANH, StaffRole.VIEWER).user
    other = make_staff(db, "hk", HOAN_KIEM).user
    with pytest.raises(PermissionDeniedError):
        casework.accept_case(db, case=filed.case, actor=viewer)
    with pytest.raises(NotFoundError):
        casework.accept_case(db, case=filed.case, actor=other)
    with pytest.raises(NotFoundError):
        casework.visible_case(db, other, filed.case.id)  # type: ignore[arg-type]


def test_status_rules_refuse_out_of_order_actions(db: Session) -> None:
    """A result cannot be recorded before forwarding, nor a new case closed without handling."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH).user
    with pytest.raises(InvalidTransitionError):
        casework.record_result(db, case=filed.case, actor=officer, result_on=local_today(), text="Đã xử lý")
    with pytest.raises(InvalidTransitionError):
        casework.close_case(db, case=filed.case, actor=officer)


def test_out_of_scope_tells_the_reason(db: Session) -> None:
    """Out of scope: status set, handled, and the resident told the reason (kept out of the audit log)."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH).user
    reason = "Đây là tranh chấp đất đai giữa hai hộ dân, đề nghị liên hệ UBND phường."
    casework.mark_out_of_scope(db, case=filed.case, actor=officer, reason=reason)
    db.commit()
    assert filed.case.status == CaseStatus.OUT_OF_SCOPE.value and filed.case.handled_at is not None
    assert reason in _outbox(db, filed.case.id)[0].body  # type: ignore[arg-type]
    _no_text_in_audit(db, reason, DESCRIPTION)


def test_reclassify_keeps_a_correction(db: Session) -> None:
    """A changed category is stored for the classifier and audited with old and new codes only."""
    filed = file_case(db, category=7)
    officer = make_staff(db, "cb", BEN_THANH).user
    casework.reclassify_case(db, case=filed.case, actor=officer, category=8)
    db.commit()
    (corr,) = db.exec(select(CategoryCorrection)).all()
    assert (corr.old_category, corr.new_category, corr.actor_id) == (7, 8, officer.id)
    (entry,) = _audits(db, filed.case.id, "case.reclassified")  # type: ignore[arg-type]
    assert entry.details == {"old": 7, "new": 8}
    assert _outbox(db, filed.case.id) == []  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        casework.reclassify_case(db, case=filed.case, actor=officer, category=8)
    with pytest.raises(InvalidInputError):
        casework.reclassify_case(db, case=filed.case, actor=officer, category=42)


def test_assign_only_within_the_committee(db: Session) -> None:
    """A case is given to an officer of its committee; someone from elsewhere or a viewer is refused."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH).user
    colleague = make_staff(db, "cb2", BEN_THANH).user
    viewer = make_staff(db, "xem", BEN_THANH, StaffRole.VIEWER).user
    stranger = make_staff(db, "hk", HOAN_KIEM).user
    casework.assign_case(db, case=filed.case, actor=officer, assignee_id=colleague.id)
    assert filed.case.assignee_id == colleague.id
    for bad in (viewer.id, stranger.id, 999_999):
        with pytest.raises(InvalidInputError):
            casework.assign_case(db, case=filed.case, actor=officer, assignee_id=bad)
    casework.assign_case(db, case=filed.case, actor=officer, assignee_id=None)
    assert filed.case.assignee_id is None and len(_audits(db, filed.case.id, "case.assigned")) == 2  # type: ignore[arg-type]


def test_ask_info_reaches_the_resident_and_a_note_does_not(db: Session) -> None:
    """A question for the resident is queued; an internal note stays in the thread only."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH).user
    casework.ask_for_information(db, case=filed.case, actor=officer, question="Anh/Chị cho biết thời gian cụ thể?")
    casework.add_note(db, case=filed.case, actor=officer, text="Đã gọi điện cho cán bộ địa chính.")
    db.commit()
    (row,) = _outbox(db, filed.case.id)  # type: ignore[arg-type]
    assert "thời gian cụ thể" in row.body
    notes = db.exec(select(CaseMessage).where(CaseMessage.direction == "note")).all()
    assert len(notes) == 1 and "Đã gọi điện" not in row.body
    # The resident sees the question at the next look-up, and never the note.
    found = look_up_case(db, receipt=filed.receipt, passphrase=filed.passphrase)
    assert found.found and len(found.messages) == 1 and "thời gian cụ thể" in found.messages[0].text


def test_forwarding_sets_the_legal_deadline(db: Session) -> None:
    """Forwarding records the body and date; the answer is due 20 working days later, 30 if complex."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH).user
    day = local_today()
    due = casework.record_forwarding(
        db, case=filed.case, actor=officer, body_kind="inspection_commission", body_name="UBKT Đảng ủy phường", forwarded_on=day
    )
    assert due == answer_due(day) and filed.case.due_on == due and filed.case.status == CaseStatus.FORWARDED.value
    (row,) = _outbox(db, filed.case.id)  # type: ignore[arg-type]
    assert due.strftime("%d/%m/%Y") in row.body and "UBKT Đảng ủy phường" in row.body
    # Marking it complex later moves the deadline, without telling the resident twice.
    due2 = casework.record_forwarding(
        db, case=filed.case, actor=officer, body_kind="inspection_commission", body_name="UBKT", forwarded_on=day, complex_case=True
    )
    assert due2 == answer_due(day, complex_case=True) and len(_outbox(db, filed.case.id)) == 1  # type: ignore[arg-type]
    (first, second) = _audits(db, filed.case.id, "case.forwarded")  # type: ignore[arg-type]
    assert second.details["complex"] is True and second.details["due_on"] == due2.isoformat()
    with pytest.raises(InvalidInputError):
        casework.record_forwarding(db, case=filed.case, actor=officer, body_kind="police", body_name="CA", forwarded_on=day + timedelta(days=1))
    with pytest.raises(InvalidInputError):
        casework.record_forwarding(db, case=filed.case, actor=officer, body_kind="nowhere", body_name="x", forwarded_on=day)


def test_result_reply_and_close(db: Session) -> None:
    """Result recorded, told to the resident (answered, notified), then the case is closed with thanks."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH).user
    day = local_today()
    casework.record_forwarding(db, case=filed.case, actor=officer, body_kind="police", body_name="Công an phường", forwarded_on=day)
    with pytest.raises(InvalidTransitionError):
        casework.reply_to_resident(db, case=filed.case, actor=officer, text="Kết quả", tells_result=True)
    casework.record_result(db, case=filed.case, actor=officer, result_on=day, text="Cán bộ đã bị kỷ luật khiển trách.")
    assert filed.case.status == CaseStatus.RESULT.value and filed.case.handled_at is not None
    text = messages.render(db, filed.case, committee(db, BEN_THANH), "answered")
    assert "kỷ luật khiển trách" in text
    casework.reply_to_resident(db, case=filed.case, actor=officer, text=text, tells_result=True)
    assert filed.case.status == CaseStatus.ANSWERED.value and filed.case.notified_at is not None
    casework.close_case(db, case=filed.case, actor=officer)
    db.commit()
    assert filed.case.status == CaseStatus.CLOSED.value and filed.case.closed_at is not None
    keys = [r.delivery_key for r in _outbox(db, filed.case.id)]  # type: ignore[arg-type]
    assert len(keys) == 3 and len(set(keys)) == 3  # forwarded, reply, closed
    _no_text_in_audit(db, "kỷ luật khiển trách", DESCRIPTION)


def test_officer_transfer_waits_for_the_chair(db: Session) -> None:
    """An officer's transfer is a request; the chair's approval moves the case and tells the resident."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH).user
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR).user
    target = committee(db, HOAN_KIEM)
    t = casework.transfer_case(db, case=filed.case, actor=officer, to_committee=target, reason="Người bị phản ánh làm việc tại Hoàn Kiếm.")
    assert t.state == "pending" and filed.case.committee_id != target.id and _outbox(db, filed.case.id) == []  # type: ignore[arg-type]
    with pytest.raises(InvalidTransitionError):
        casework.transfer_case(db, case=filed.case, actor=officer, to_committee=target, reason="lần hai")
    with pytest.raises(PermissionDeniedError):
        casework.decide_transfer(db, transfer_id=t.id, actor=officer, approve=True)  # type: ignore[arg-type]
    casework.decide_transfer(db, transfer_id=t.id, actor=chair, approve=True)  # type: ignore[arg-type]
    db.commit()
    assert filed.case.committee_id == target.id and filed.case.assignee_id is None
    (row,) = _outbox(db, filed.case.id)  # type: ignore[arg-type]
    assert "phường Hoàn Kiếm" in row.body
    (entry,) = _audits(db, filed.case.id, "case.transferred")  # type: ignore[arg-type]
    assert entry.details["from"] == BEN_THANH and entry.details["to"] == HOAN_KIEM and entry.actor_id == chair.id
    # It has left Bến Thành's queue and arrived in Hoàn Kiếm's.
    today = local_today()
    assert filed.case.id not in [c.id for c in queries.queue(db, officer, queries.QueueFilter(), today=today).cases]
    hk = make_staff(db, "hk", HOAN_KIEM).user
    assert filed.case.id in [c.id for c in queries.queue(db, hk, queries.QueueFilter(), today=today).cases]
    with pytest.raises(NotFoundError):
        casework.visible_case(db, officer, filed.case.id)  # type: ignore[arg-type]


def test_chair_can_refuse_a_transfer(db: Session) -> None:
    """A refused transfer leaves the case where it was, and a new request is possible."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH).user
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR).user
    t = casework.transfer_case(db, case=filed.case, actor=officer, to_committee=committee(db, HOAN_KIEM), reason="thử")
    casework.decide_transfer(db, transfer_id=t.id, actor=chair, approve=False)  # type: ignore[arg-type]
    assert t.state == "rejected" and filed.case.committee_id == committee(db, BEN_THANH).id
    assert len(_audits(db, filed.case.id, "case.transfer_rejected")) == 1  # type: ignore[arg-type]
    with pytest.raises(InvalidTransitionError):
        casework.decide_transfer(db, transfer_id=t.id, actor=chair, approve=True)  # type: ignore[arg-type]


def test_chair_escalates_to_the_province(db: Session) -> None:
    """Escalation moves a commune's case to its province's committee at once when the chair does it."""
    filed = file_case(db)
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR).user
    t = casework.escalate_case(db, case=filed.case, actor=chair, reason="Liên quan lãnh đạo phường.")
    db.commit()
    province = committee(db, "79")
    assert t.state == "approved" and filed.case.committee_id == province.id and filed.case.escalated
    assert len(_audits(db, filed.case.id, "case.escalated")) == 1 and len(_outbox(db, filed.case.id)) == 1  # type: ignore[arg-type]
    assert db.exec(select(CaseTransfer)).one().decided_by == chair.id


def test_merge_keeps_every_resident_informed(db: Session) -> None:
    """After a merge, each update of the primary case reaches the duplicate's resident too."""
    primary = file_case(db)
    dup = file_case(db, description="Cán bộ địa chính đòi tiền làm sổ đỏ, tôi cũng bị đòi 5 triệu")
    officer = make_staff(db, "cb", BEN_THANH).user
    casework.merge_cases(db, duplicate=dup.case, primary_id=primary.case.id, actor=officer)  # type: ignore[arg-type]
    assert dup.case.status == CaseStatus.DUPLICATE.value and dup.case.merged_into_id == primary.case.id
    assert len(_outbox(db, dup.case.id)) == 1  # type: ignore[arg-type]  # told of the merge
    casework.accept_case(db, case=primary.case, actor=officer)
    db.commit()
    assert len(_outbox(db, primary.case.id)) == 1 and len(_outbox(db, dup.case.id)) == 2  # type: ignore[arg-type]
    # The duplicate's resident sees the update at look-up too.
    seen = look_up_case(db, receipt=dup.receipt, passphrase=dup.passphrase)
    assert len(seen.messages) == 2
    with pytest.raises(InvalidInputError):
        casework.merge_cases(db, duplicate=primary.case, primary_id=primary.case.id, actor=officer)  # type: ignore[arg-type]


def test_merge_target_must_be_in_the_queue(db: Session) -> None:
    """A case cannot be merged into another committee's case."""
    mine = file_case(db)
    theirs = quick_case(db, HOAN_KIEM)
    with pytest.raises(NotFoundError):
        casework.merge_cases(db, duplicate=mine.case, primary_id=theirs.id, actor=make_staff(db, "cb", BEN_THANH).user)  # type: ignore[arg-type]


def test_committee_template_overrides_the_default(db: Session) -> None:
    """A committee's edited template is used for its residents; an unknown placeholder stays as written."""
    filed = file_case(db)
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR).user
    officer = make_staff(db, "cb", BEN_THANH).user
    with pytest.raises(PermissionDeniedError):
        casework.save_template(db, actor=officer, kind="verifying", lang="vi", body="x")
    casework.save_template(db, actor=chair, kind="verifying", lang="vi", body="{committee} nhận ngày {received_on}. {khong_co}")
    casework.accept_case(db, case=filed.case, actor=officer)
    body = _outbox(db, filed.case.id)[0].body  # type: ignore[arg-type]
    assert body.startswith("Ủy ban MTTQ Việt Nam phường Bến Thành nhận ngày ") and body.endswith("{khong_co}")
    casework.save_template(db, actor=chair, kind="verifying", lang="vi", body="")
    assert messages.template_text(db, chair.committee_id, "verifying", "vi") == messages.DEFAULT_TEMPLATES["vi"]["verifying"]


def test_record_offline_report(db: Session) -> None:
    """A letter is filed through the same intake: routed, classified, dated as received, receipt valid."""
    officer = make_staff(db, "cb", BEN_THANH).user
    received = local_today() - timedelta(days=3)
    filed = casework.record_report(
        db,
        actor=officer,
        report=casework.OfflineReport(
            channel="letter",
            received_on=received,
            mode="confidential",
            description="Chủ tịch phường nhận hối lộ của doanh nghiệp xây dựng để cấp phép sai quy định.",
            place_text="phường Bến Thành, TP Hồ Chí Minh",
            accused_position="cán bộ địa chính",
            reporter_name="Trần Thị B",
            reporter_contact="0987654321",
        ),
    )
    db.commit()
    case = filed.case
    assert case.channel == "letter" and case.anonymity == "confidential" and case.commune_code == BEN_THANH
    assert case.received_at.date() in (received, received - timedelta(days=1))  # 08:00 in Vietnam is 01:00 UTC
    assert case.suggestion.get("top") and case.category is not None
    (entry,) = _audits(db, case.id, "case.recorded")  # type: ignore[arg-type]
    assert entry.actor_id == officer.id and entry.details["channel"] == "letter"
    assert look_up_case(db, receipt=filed.receipt, passphrase=filed.passphrase).found
    _no_text_in_audit(db, "Trần Thị B", "0987654321", "hối lộ")


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"channel": "web"}, "channel not recorded by staff"),
        ({"mode": "open"}, "identity required for this mode"),
        ({"place_text": "xyz không có đâu"}, "place not found"),
        ({"description": "   "}, "description empty"),
        ({"received_on": date(2999, 1, 1)}, "date of receipt out of range"),
        ({"commune_code": "99999"}, "unknown commune"),
    ],
)
def test_record_offline_report_refuses_bad_input(db: Session, changes: dict[str, object], detail: str) -> None:
    """Each missing or wrong field of a recorded report is refused with its own reason."""
    officer = make_staff(db, "cb", BEN_THANH).user
    fields: dict[str, object] = {
        "channel": "hotline", "received_on": local_today(), "mode": "anonymous",
        "description": "Cán bộ phường đòi tiền.", "place_text": "phường Bến Thành, TP Hồ Chí Minh",
    }
    fields.update(changes)
    with pytest.raises(InvalidInputError) as err:
        casework.record_report(db, actor=officer, report=casework.OfflineReport(**fields))  # type: ignore[arg-type]
    assert err.value.detail == detail


def test_viewer_cannot_record(db: Session) -> None:
    """Recording a report is casework: a viewer is refused."""
    viewer = make_staff(db, "xem", BEN_THANH, StaffRole.VIEWER).user
    with pytest.raises(PermissionDeniedError):
        casework.record_report(db, actor=viewer, report=casework.OfflineReport("hotline", local_today(), "anonymous", "x", "Bến Thành"))


def test_identity_for_the_chair_only_with_a_reason(db: Session) -> None:
    """The chair sees a confidential identity after giving a reason, which is audited; an officer never."""
    filed = file_case(db, mode="confidential")
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR).user
    officer = make_staff(db, "cb", BEN_THANH).user
    with pytest.raises(PermissionDeniedError):
        casework.view_identity(db, case=filed.case, actor=officer, reason="cần xác minh")
    with pytest.raises(InvalidInputError):
        casework.view_identity(db, case=filed.case, actor=chair, reason="  ")
    who = casework.view_identity(db, case=filed.case, actor=chair, reason="Cần liên hệ để xác minh thêm")
    assert (who.name, who.phone) == ("Nguyễn Văn A", "0912345678")
    (entry,) = _audits(db, filed.case.id, "identity.viewed")  # type: ignore[arg-type]
    assert entry.details == {"reason": "Cần liên hệ để xác minh thêm"} and entry.actor_id == chair.id
    _no_text_in_audit(db, "Nguyễn Văn A", "0912345678")
    anonymous = file_case(db)
    with pytest.raises(NotFoundError):
        casework.view_identity(db, case=anonymous.case, actor=chair, reason="Cần liên hệ để xác minh thêm")
