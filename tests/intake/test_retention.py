"""Retention: chat handles, evidence files and phone numbers of ended cases are purged, and the purge is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from intake import audit, retention
from intake.config import get_settings
from intake.crypto import decrypt
from intake.models import (
    Attachment,
    AuditEntry,
    Case,
    CaseStatus,
    ChatLink,
    DialogSession,
    ReporterIdentity,
    utcnow,
)
from tests.intake.security_helpers import FiledWithAll, file_full_report, sealed

NAME, PHONE, HANDLE = "Đoàn Thị Mai Hương", "0933111222", "tg-chat-retention-9"


def _ended(db: Session, full: FiledWithAll, *, days_ago: int, status: str = CaseStatus.CLOSED.value) -> Case:
    case = db.get(Case, full.filed.case.id)
    assert case is not None
    at = utcnow() - timedelta(days=days_ago)
    case.status = status
    case.handled_at = at
    case.closed_at = at if status == CaseStatus.CLOSED.value else None
    db.commit()
    return case




def test_a_case_closed_long_ago_loses_handles_files_and_phone_but_keeps_its_record(db: Session) -> None:
    """Past the retention period: no chat link, no evidence file, no phone; the name, the text and the audit stay."""
    full = file_full_report(db, name=NAME, phone=PHONE, handle=HANDLE)
    case = _ended(db, full, days_ago=91)
    assert sealed(full.attachment)

    result = retention.purge_expired(db, days=90)
    db.commit()
    db.expire_all()

    assert (result.cases, result.chat_links, result.attachments, result.phones) == (1, 1, 1, 1)
    assert db.exec(select(ChatLink).where(ChatLink.case_id == case.id)).all() == []
    att = db.get(Attachment, full.attachment.id)
    assert att is not None and att.purged_at is not None and att.sha256_original == full.attachment.sha256_original
    assert sealed(att) == b"", "the evidence file is gone from the store"
    identity = db.exec(select(ReporterIdentity).where(ReporterIdentity.case_id == case.id)).one()
    assert decrypt(identity.name_enc) == NAME and decrypt(identity.phone_enc) == ""
    kept = db.get(Case, case.id)
    assert kept is not None and kept.purged_at is not None and "doanh nghiệp" in kept.description
    entry = db.exec(select(AuditEntry).where(AuditEntry.action == "case.purged")).one()
    assert entry.case_id == case.id and entry.details == {"retention_days": 90, "chat_links": 1, "attachments": 1, "phone": True}
    assert audit.verify(db).ok


def test_cases_not_yet_due_are_left_alone(db: Session) -> None:
    """A case closed recently, or still being handled, keeps everything."""
    recent = file_full_report(db, handle="tg-recent")
    _ended(db, recent, days_ago=10)
    file_full_report(db, handle="tg-open")  # new, never closed
    result = retention.purge_expired(db, days=30)
    db.commit()
    assert result.cases == 0
    assert len(db.exec(select(ChatLink)).all()) == 2
    assert all(sealed(a) for a in db.exec(select(Attachment)).all())


def test_out_of_scope_and_duplicates_follow_the_end_of_their_handling(db: Session) -> None:
    """Out of scope counts from its decision; a duplicate waits for the case it was merged into."""
    oos = _ended(db, file_full_report(db, handle="tg-oos"), days_ago=40, status=CaseStatus.OUT_OF_SCOPE.value)
    primary_done = _ended(db, file_full_report(db, handle="tg-p1"), days_ago=40)
    primary_open = file_full_report(db, handle="tg-p2").filed.case
    dup_done = file_full_report(db, handle="tg-d1").filed.case
    dup_waiting = file_full_report(db, handle="tg-d2").filed.case
    for dup, primary in ((dup_done, primary_done), (dup_waiting, primary_open)):
        row = db.get(Case, dup.id)
        assert row is not None
        row.status, row.merged_into_id, row.handled_at = CaseStatus.DUPLICATE.value, primary.id, utcnow() - timedelta(days=40)
    db.commit()

    retention.purge_expired(db, days=30)
    db.commit()
    purged = {c.id for c in db.exec(select(Case).where(Case.purged_at.is_not(None))).all()}  # type: ignore[union-attr]
    assert purged == {oos.id, primary_done.id, dup_done.id}


def test_dry_run_counts_and_changes_nothing_and_a_second_run_finds_nothing(db: Session) -> None:
    """--dry-run reports what a run would do; after the run, nothing is left to purge."""
    for i in range(3):
        _ended(db, file_full_report(db, mode="anonymous" if i == 0 else "open", handle=f"tg-{i}"), days_ago=100)
    dry = retention.purge_expired(db, days=90, dry_run=True)
    db.commit()
    assert (dry.cases, dry.chat_links, dry.attachments, dry.phones) == (3, 3, 3, 2)
    assert len(db.exec(select(ChatLink)).all()) == 3
    assert db.exec(select(AuditEntry).where(AuditEntry.action == "case.purged")).all() == []

    real = retention.purge_expired(db, days=90)
    db.commit()
    assert (real.cases, real.chat_links, real.attachments, real.phones) == (3, 3, 3, 2)
    again = retention.purge_expired(db, days=90)
    assert again.cases == 0


def test_the_scheduled_job_purges_in_batches_and_drops_idle_drafts(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """purge_job commits batch after batch until none is due, and deletes drafts idle past their lifetime."""
    monkeypatch.setattr(retention, "BATCH", 2)
    for i in range(5):
        _ended(db, file_full_report(db, handle=f"tg-batch-{i}"), days_ago=200)
    from intake.conversation import Conversation
    from intake.dialog.types import Inbound

    Conversation(channel="web").handle("idle-web-chat", Inbound(text="xin chào"))
    dialog = db.exec(select(DialogSession)).one()
    dialog.updated_at = utcnow() - timedelta(hours=get_settings().draft_ttl_hours + 1)
    db.commit()

    result = retention.purge_job(get_settings().model_copy(update={"retention_days": 90}))
    db.expire_all()
    assert result.cases == 5 and result.chat_links == 5 and result.dialogs == 1
    assert db.exec(select(ChatLink)).all() == [] and db.exec(select(DialogSession)).all() == []
    assert len(db.exec(select(AuditEntry).where(AuditEntry.action == "case.purged")).all()) == 5
