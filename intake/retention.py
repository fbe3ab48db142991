"""Retention: what a finished case no longer needs is purged a set number of days after it ends.

What goes, for each case whose handling ended more than `retention_days` ago:
- the chat handles the resident opted in to (rows of `chat_links`, with their keyed hashes): nothing
  is sent to the resident any more, and a handle is what links a case to a person's account;
- the evidence files (their encrypted content is deleted; the attachment row stays, marked purged, with
  its kind, size and the hash of the original, so the record still shows what evidence was received);
- the reporter's phone number in confidential and open reports: it was kept to reach the reporter
  during the handling. The name stays, encrypted, with the case: a named report is a denunciation
  under the Law on Denunciation and its record names the denouncer. Anonymous reports hold none.

What stays: the case itself (its text is the Front's record, counted in the periodic reports), the
thread, the audit log. The purge is recorded on the case (`purged_at`) and in the audit log with
counts only, never what was purged.

A case has ended when it is closed (closed_at), out of scope (handled_at), or merged as a duplicate
into a case that has ended (the duplicate's resident follows the primary's updates until then).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from intake import audit, throttle
from intake.attachments import delete_content
from intake.config import Settings, get_settings
from intake.crypto import encrypt
from intake.models import Attachment, Case, CaseStatus, ChatLink, ReporterIdentity, utcnow

log = logging.getLogger(__name__)

BATCH = 100  # cases per committed transaction in the scheduled job


@dataclass
class PurgeResult:
    """Counts of what was (or, in a dry run, would be) purged."""

    cases: int = 0
    chat_links: int = 0
    attachments: int = 0
    phones: int = 0
    dialogs: int = 0  # idle conversation drafts deleted by the same job
    dry_run: bool = False

    def add(self, other: PurgeResult) -> None:
        self.cases += other.cases
        self.chat_links += other.chat_links
        self.attachments += other.attachments
        self.phones += other.phones
        self.dialogs += other.dialogs


def _ended_before(case: Any, cutoff: datetime) -> sa.ColumnElement[bool]:
    """Handling over before `cutoff`, for `Case` or an alias of it."""
    return sa.or_(
        sa.and_(case.status == CaseStatus.CLOSED.value, case.closed_at < cutoff),  # type: ignore[operator]
        sa.and_(case.status == CaseStatus.OUT_OF_SCOPE.value, case.handled_at < cutoff),  # type: ignore[operator]
    )


def due_cases(session: Session, *, cutoff: datetime, limit: int | None = None, lock: bool = False) -> list[Case]:
    """Cases not yet purged whose handling ended before `cutoff`, oldest id first.

    With `lock` (PostgreSQL), the cases are locked for the caller's transaction and cases another
    purge holds are skipped: two purges running at once never purge (nor audit) a case twice.
    """
    primary = aliased(Case)
    ended_primary = sa.exists().where(primary.id == Case.merged_into_id, _ended_before(primary, cutoff))  # type: ignore[arg-type]
    query = (
        select(Case)
        .where(
            Case.purged_at.is_(None),  # type: ignore[union-attr]
            sa.or_(_ended_before(Case, cutoff), sa.and_(Case.status == CaseStatus.DUPLICATE.value, ended_primary)),
        )
        .order_by(Case.id)  # type: ignore[arg-type]
    )
    if limit is not None:
        query = query.limit(limit)
    if lock:
        query = query.with_for_update(of=Case, skip_locked=True)  # type: ignore[arg-type]
    return list(session.exec(query).all())


def purge_expired(
    session: Session,
    *,
    now: datetime | None = None,
    days: int | None = None,
    dry_run: bool = False,
    limit: int | None = None,
) -> PurgeResult:
    """Purges chat handles, evidence files and phone numbers of cases ended more than `days` ago.

    Runs in the caller's transaction, the evidence files (in the database) included: a purge that
    does not commit deletes nothing.
    """
    now = now or utcnow()
    days = get_settings().retention_days if days is None else days
    result = PurgeResult(dry_run=dry_run)
    for case in due_cases(session, cutoff=now - timedelta(days=days), limit=limit, lock=not dry_run):
        links = session.exec(select(ChatLink).where(ChatLink.case_id == case.id)).all()
        attachments = session.exec(
            select(Attachment).where(Attachment.case_id == case.id, Attachment.purged_at.is_(None))  # type: ignore[union-attr]
        ).all()
        identity = session.exec(
            select(ReporterIdentity).where(ReporterIdentity.case_id == case.id, ReporterIdentity.purged_at.is_(None))  # type: ignore[union-attr]
        ).first()
        result.cases += 1
        result.chat_links += len(links)
        result.attachments += len(attachments)
        result.phones += identity is not None
        if dry_run:
            continue
        for link in links:
            session.delete(link)
        for att in attachments:
            att.purged_at = now
            delete_content(session, att)
        if identity is not None:
            identity.phone_enc = encrypt("")
        case.purged_at = now
        audit.record(
            session,
            "case.purged",
            case_id=case.id,
            details={"retention_days": days, "chat_links": len(links), "attachments": len(attachments), "phone": identity is not None},
        )
    if not dry_run:
        session.flush()
    if result.cases:
        log.info(
            "retention%s: %s cases, %s chat handles, %s files, %s phone numbers",
            " (dry run)" if dry_run else "", result.cases, result.chat_links, result.attachments, result.phones,
        )
    return result


def purge_job(settings: Settings | None = None) -> PurgeResult:
    """One scheduled pass: purges every due case in committed batches, then deletes idle drafts."""
    from intake.conversation import expire_dialogs
    from intake.db import session_scope

    days = (settings or get_settings()).retention_days
    total = PurgeResult()
    while True:
        with session_scope() as session:
            batch = purge_expired(session, days=days, limit=BATCH)
        total.add(batch)
        if batch.cases < BATCH:
            break
    with session_scope() as session:
        total.dialogs = expire_dialogs(session)
        throttle.forget_stale(session)
    return total
