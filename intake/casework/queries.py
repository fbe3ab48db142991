"""What the admin reads: a committee's queue with its filters, and everything the case page shows."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from rapidfuzz import fuzz, process
from sqlmodel import Session, select

from intake.casework.policy import Perm, can, visible_case
from intake.deadlines import DeadlineStatus, deadline_status, due_soon_limit
from intake.models import (
    Attachment,
    AuditEntry,
    Case,
    CaseMessage,
    CaseStatus,
    CaseTransfer,
    Committee,
    CommitteeLevel,
    ReporterIdentity,
    StaffUser,
    TransferState,
)
from intake.routing import render_reasons
from intake.search import fold

PAGE_SIZE = 50
SORTS = ("new", "old", "due")
MAX_QUERY_WORDS = 6
SIMILAR_WINDOW = 1000  # recent cases of the committee compared with the one open
SIMILAR_MIN_SCORE = 70.0
SIMILAR_LIMIT = 8


@dataclass
class QueueFilter:
    """The queue's filters as the officer set them; empty means "any"."""

    status: str = ""
    category: int | None = None
    commune: str = ""
    deadline: str = ""
    channel: str = ""
    anonymity: str = ""
    assignee: str = ""  # "", "me", "none" or a staff id
    q: str = ""
    sort: str = "new"
    page: int = 1


@dataclass
class QueuePage:
    cases: list[Case]
    has_next: bool
    counts: dict[str, int]
    overdue: int
    page: int
    today: date
    soon_limit: date


def _like_escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def queue(session: Session, user: StaffUser, f: QueueFilter, *, today: date) -> QueuePage:
    """One page of the committee's queue, and the counts per status across the whole queue."""
    if not can(user, Perm.VIEW):
        return QueuePage([], False, {}, 0, 1, today, today)
    cid = user.committee_id
    soon = due_soon_limit(today)
    if session.get_bind().dialect.name == "postgresql":
        # Committees differ in size by orders of magnitude: a plan cached for an average committee
        # (psycopg prepares repeated statements) scans a big ward's whole queue. Plan for these values.
        session.exec(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))  # type: ignore[call-overload]
    stmt = select(Case).where(Case.committee_id == cid)
    if f.status:
        stmt = stmt.where(Case.status == f.status)
    if f.category is not None:
        stmt = stmt.where(Case.category == f.category)
    if f.commune:
        stmt = stmt.where(Case.commune_code == f.commune)
    if f.channel:
        stmt = stmt.where(Case.channel == f.channel)
    if f.anonymity:
        stmt = stmt.where(Case.anonymity == f.anonymity)
    if f.assignee == "me":
        stmt = stmt.where(Case.assignee_id == user.id)
    elif f.assignee == "none":
        stmt = stmt.where(Case.assignee_id.is_(None))  # type: ignore[union-attr]
    elif f.assignee.isdigit():
        stmt = stmt.where(Case.assignee_id == int(f.assignee))
    if f.deadline:
        # Deadlines run while the competent body has not answered: forwarded cases only.
        stmt = stmt.where(Case.status == CaseStatus.FORWARDED.value, Case.due_on.is_not(None))  # type: ignore[union-attr]
        if f.deadline == DeadlineStatus.OVERDUE.value:
            stmt = stmt.where(Case.due_on < today)  # type: ignore[operator]
        elif f.deadline == DeadlineStatus.DUE_SOON.value:
            stmt = stmt.where(Case.due_on >= today, Case.due_on <= soon)  # type: ignore[operator]
        else:
            stmt = stmt.where(Case.due_on > soon)  # type: ignore[operator]
    for word in fold(f.q).split()[:MAX_QUERY_WORDS]:
        stmt = stmt.where(Case.search_text.like(f"%{_like_escape(word[:60])}%", escape="\\"))  # type: ignore[attr-defined]
    if f.sort == "old":
        stmt = stmt.order_by(Case.received_at.asc(), Case.id.asc())  # type: ignore[attr-defined,union-attr]
    elif f.sort == "due":
        # NULLS LAST is the index's own order, so the database reads the due dates in order.
        stmt = stmt.order_by(Case.due_on.asc().nulls_last(), Case.id.asc())  # type: ignore[union-attr]
    else:
        stmt = stmt.order_by(Case.received_at.desc(), Case.id.desc())  # type: ignore[attr-defined,union-attr]
    page = max(1, min(f.page, 10_000))
    rows = list(session.exec(stmt.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all())
    counts, overdue = queue_counts(session, cid, today)
    return QueuePage(rows[:PAGE_SIZE], len(rows) > PAGE_SIZE, counts, overdue, page, today, soon)


# Counting a large committee's whole queue costs more than the page itself (a quarter of a million
# index entries take ~70 ms on PostgreSQL), and the counts change slowly: they are kept for a short
# while per process, and forgotten at once when this process changes a case of the committee.
COUNTS_TTL_SECONDS = 30.0
_counts: dict[tuple[int, date], tuple[float, dict[str, int], int]] = {}
_counts_lock = threading.Lock()


def queue_counts(session: Session, committee_id: int, today: date, *, fresh: bool = False) -> tuple[dict[str, int], int]:
    """Cases per status, and how many are overdue, across a committee's whole queue."""
    key = (committee_id, today)
    now = time.monotonic()
    with _counts_lock:
        hit = _counts.get(key)
    if hit is not None and not fresh and now - hit[0] < COUNTS_TTL_SECONDS:
        return dict(hit[1]), hit[2]
    counts = {
        str(status): int(n)
        for status, n in session.exec(
            select(Case.status, sa.func.count()).where(Case.committee_id == committee_id).group_by(Case.status)
        ).all()
    }
    overdue = int(
        session.exec(
            select(sa.func.count()).where(
                Case.committee_id == committee_id, Case.status == CaseStatus.FORWARDED.value, Case.due_on < today  # type: ignore[operator]
            )
        ).one()
    )
    with _counts_lock:
        _counts[key] = (now, counts, overdue)
    return dict(counts), overdue


def forget_counts(*committee_ids: int | None) -> None:
    """Drops cached counts after a change (None: all committees)."""
    with _counts_lock:
        for key in list(_counts):
            if None in committee_ids or key[0] in committee_ids:
                del _counts[key]


def committee_staff(session: Session, committee_id: int) -> list[StaffUser]:
    """The committee's active accounts, by name."""
    return list(
        session.exec(
            select(StaffUser).where(StaffUser.committee_id == committee_id, StaffUser.active.is_(True)).order_by(StaffUser.display_name)  # type: ignore[attr-defined]
        ).all()
    )


def child_committees(session: Session, committee: Committee) -> list[Committee]:
    return list(session.exec(select(Committee).where(Committee.parent_id == committee.id).order_by(Committee.name_vi)).all())


def transfer_targets(
    session: Session, committee: Committee, *, exclude: Collection[int] = frozenset()
) -> list[tuple[str, list[Committee]]]:
    """Committees a case is usually passed to: above, beside and below this one (any other by its code).

    `exclude` holds committees that may not receive the case (the conflict rule): they are not offered.
    """
    groups: list[tuple[str, list[Committee]]] = []
    parent = session.get(Committee, committee.parent_id) if committee.parent_id else None
    if parent is not None:
        groups.append(("above", [parent]))
    if committee.level == CommitteeLevel.COMMUNE.value and parent is not None:
        groups.append(("siblings", [c for c in child_committees(session, parent) if c.id != committee.id]))
    if committee.level != CommitteeLevel.COMMUNE.value:
        groups.append(("below", child_committees(session, committee)))
    if committee.level != CommitteeLevel.CENTRAL.value:
        provinces = session.exec(
            select(Committee).where(Committee.level == CommitteeLevel.PROVINCE.value, Committee.id != committee.id).order_by(Committee.name_vi)
        ).all()
        groups.append(("provinces", [p for p in provinces if parent is None or p.id != parent.id]))
    return [(name, kept) for name, items in groups if (kept := [c for c in items if c.id not in exclude])]


@dataclass
class Similar:
    case: Case
    score: float
    reasons: list[str]  # "accused", "unit", "text"


def similar_cases(session: Session, case: Case) -> list[Similar]:
    """Cases of the same committee about the same accused or unit, or with near-duplicate text."""
    recent: list[tuple[int, str, str, str]] = [
        (int(cid), text, accused, agency)
        for cid, text, accused, agency in session.exec(
            select(Case.id, Case.search_text, Case.accused_name, Case.accused_agency)
            .where(Case.committee_id == case.committee_id, Case.id != case.id)
            .order_by(Case.received_at.desc())  # type: ignore[attr-defined]
            .limit(SIMILAR_WINDOW)
        ).all()
        if cid is not None
    ]
    found: dict[int, tuple[float, list[str]]] = {}
    name, unit = fold(case.accused_name), fold(case.accused_agency)
    for cid, _text, accused, agency in recent:
        why: list[str] = []
        if name and fold(accused) == name:
            why.append("accused")
        if unit and fold(agency) == unit:
            why.append("unit")
        if why:
            found[cid] = (100.0 if "accused" in why else 80.0, why)
    choices = {cid: text for cid, text, _a, _g in recent if text}
    if case.search_text and choices:
        for _text, score, cid in process.extract(
            case.search_text, choices, scorer=fuzz.token_sort_ratio, score_cutoff=SIMILAR_MIN_SCORE, limit=SIMILAR_LIMIT
        ):
            prev_score, why = found.get(cid, (0.0, []))
            found[cid] = (max(prev_score, float(score)), [*why, "text"])
    best = sorted(found.items(), key=lambda kv: (-kv[1][0], -kv[0]))[:SIMILAR_LIMIT]
    if not best:
        return []
    rows = {c.id: c for c in session.exec(select(Case).where(Case.id.in_([cid for cid, _ in best]))).all()}  # type: ignore[union-attr]
    return [Similar(rows[cid], round(score, 1), why) for cid, (score, why) in best if cid in rows]


@dataclass
class TimelineEntry:
    entry: AuditEntry
    actor: str


@dataclass
class CaseView:
    """Everything the case page shows, gathered in one place."""

    case: Case
    committee: Committee
    attachments: list[Attachment]
    thread: list[CaseMessage]
    timeline: list[TimelineEntry]
    reasons: list[str]
    suggestion_top: list[tuple[int, float]]
    suggestion_terms: list[str]
    similar: list[Similar]
    transfers: list[CaseTransfer]
    pending_transfer: CaseTransfer | None
    staff: list[StaffUser]
    names: dict[int, str]
    committees: dict[int, Committee]
    deadline: DeadlineStatus | None
    has_identity: bool
    primary: Case | None = None
    duplicates: list[Case] = field(default_factory=list)


def case_view(session: Session, user: StaffUser, case_id: int, *, today: date, lang: str = "vi") -> CaseView:
    """The case page's content, for an account of the case's committee (404 for anyone else)."""
    case = visible_case(session, user, case_id)
    committee = session.get(Committee, case.committee_id)
    assert committee is not None
    attachments = list(
        session.exec(select(Attachment).where(Attachment.case_id == case.id, Attachment.purged_at.is_(None)).order_by(Attachment.id)).all()  # type: ignore[union-attr,arg-type]
    )
    thread = list(session.exec(select(CaseMessage).where(CaseMessage.case_id == case.id).order_by(CaseMessage.id)).all())  # type: ignore[arg-type]
    entries = list(session.exec(select(AuditEntry).where(AuditEntry.case_id == case.id).order_by(AuditEntry.id)).all())  # type: ignore[arg-type]
    transfers = list(session.exec(select(CaseTransfer).where(CaseTransfer.case_id == case.id).order_by(CaseTransfer.id)).all())  # type: ignore[arg-type]
    staff_ids = {e.actor_id for e in entries} | {m.author_id for m in thread} | {case.assignee_id}
    staff_ids |= {t.requested_by for t in transfers} | {t.decided_by for t in transfers}
    staff_ids.discard(None)
    names = {
        u.id: u.display_name or u.username
        for u in session.exec(select(StaffUser).where(StaffUser.id.in_(staff_ids))).all()  # type: ignore[union-attr]
        if u.id is not None
    }
    committee_ids = {t.from_committee_id for t in transfers} | {t.to_committee_id for t in transfers} | {committee.id}
    committees = {c.id: c for c in session.exec(select(Committee).where(Committee.id.in_(committee_ids))).all() if c.id}  # type: ignore[union-attr]
    suggestion: dict[str, Any] = case.suggestion or {}
    top = [(int(c), float(s)) for c, s in suggestion.get("top", [])][:3]
    deadline = (
        deadline_status(case.due_on, today) if case.due_on and case.status == CaseStatus.FORWARDED.value else None
    )
    has_identity = (
        session.exec(
            select(ReporterIdentity.id).where(ReporterIdentity.case_id == case.id, ReporterIdentity.purged_at.is_(None))  # type: ignore[union-attr]
        ).first()
        is not None
    )
    primary = session.get(Case, case.merged_into_id) if case.merged_into_id else None
    duplicates = list(session.exec(select(Case).where(Case.merged_into_id == case.id).order_by(Case.id)).all())  # type: ignore[arg-type]
    return CaseView(
        case=case,
        committee=committee,
        attachments=attachments,
        thread=thread,
        timeline=[TimelineEntry(e, names.get(e.actor_id or 0, "")) for e in entries],
        reasons=render_reasons(case.routing_reasons, lang),
        suggestion_top=top,
        suggestion_terms=[str(t) for t in suggestion.get("terms", [])][:10],
        similar=similar_cases(session, case),
        transfers=transfers,
        pending_transfer=next((t for t in transfers if t.state == TransferState.PENDING.value), None),
        staff=committee_staff(session, case.committee_id),
        names=names,
        committees=committees,
        deadline=deadline,
        has_identity=has_identity and case.anonymity != "anonymous",
        primary=primary if primary is not None and primary.committee_id == case.committee_id else None,
        duplicates=duplicates,
    )
