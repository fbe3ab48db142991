"""What the admin reads: a committee's queue with its filters, and everything the case page shows."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from rapidfuzz import fuzz, process
from sqlmodel import Session, select

from intake.casework.policy import Perm, can, visible_case
from intake.clock import Clock, clock_of
from intake.conflict import barred_committee_ids
from intake.deadlines import DeadlineStatus, due_soon_limit
from intake.models import (
    OPEN_STATUSES,
    Attachment,
    AuditEntry,
    Case,
    CaseMessage,
    CaseTransfer,
    Committee,
    ReporterIdentity,
    StaffUser,
    TransferState,
)
from intake.receipts import normalize_receipt, receipt_hash
from intake.routing import render_reasons
from intake.search import fold

PAGE_SIZE = 50
SORTS = ("due", "new", "old")  # "due": overdue first, then by the running deadline, then oldest
ALL_STATUSES = "all"  # the status filter that shows ended cases too (after the open ones)
MAX_QUERY_WORDS = 6
SIMILAR_WINDOW = 1000  # recent cases of the committee compared with the one open
SIMILAR_MIN_SCORE = 70.0
SIMILAR_LIMIT = 8


@dataclass
class QueueFilter:
    """The queue's filters as the officer set them; empty means "any" (and for status: the open cases)."""

    status: str = ""  # "": open cases; "all": every case, open ones first; else one status
    category: int | None = None
    commune: str = ""
    deadline: str = ""
    channel: str = ""
    anonymity: str = ""
    assignee: str = ""  # "", "me", "none" or a staff id
    q: str = ""
    sort: str = "due"
    page: int = 1


@dataclass(frozen=True)
class QueueRow:
    case: Case
    clock: Clock


@dataclass
class QueuePage:
    rows: list[QueueRow]
    has_next: bool
    counts: QueueCounts
    page: int
    today: date
    soon_limit: date
    mine: int = 0

    @property
    def cases(self) -> list[Case]:
        return [r.case for r in self.rows]


def _like_escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def receipt_match(session: Session, user: StaffUser, text: str) -> Case | None | bool:
    """The case of the account's committee whose receipt code this is; False when the text is no receipt code.

    A receipt held by another committee's case is not found, as if it did not exist.
    """
    canonical = normalize_receipt(text)
    if canonical is None:
        return False
    case = session.exec(select(Case).where(Case.receipt_hash == receipt_hash(canonical))).first()
    return case if case is not None and case.committee_id == user.committee_id and can(user, Perm.VIEW) else None


def queue(session: Session, user: StaffUser, f: QueueFilter, *, today: date) -> QueuePage:
    """One page of the committee's queue, and the counts per status across the whole queue."""
    if not can(user, Perm.VIEW):
        return QueuePage([], False, QueueCounts({}, 0), 1, today, today)
    cid = user.committee_id
    soon = due_soon_limit(today)
    if session.get_bind().dialect.name == "postgresql":
        # Committees differ in size by orders of magnitude: a plan cached for an average committee
        # (psycopg prepares repeated statements) scans a big ward's whole queue. Plan for these values.
        session.exec(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))  # type: ignore[call-overload]
    stmt = select(Case).where(Case.committee_id == cid)
    if not f.status:
        stmt = stmt.where(Case.is_open == sa.true())
    elif f.status != ALL_STATUSES:
        stmt = stmt.where(Case.status == f.status)
    if f.category is not None:
        stmt = stmt.where(Case.category == f.category)
    if f.commune:
        column = Case.province_code if len(f.commune) <= 2 else Case.commune_code
        stmt = stmt.where(column == f.commune)
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
        # The running deadline: the first handling's, then the competent body's answer; none once ended.
        if f.deadline == DeadlineStatus.OVERDUE.value:
            stmt = stmt.where(Case.next_due_on < today)  # type: ignore[operator]
        elif f.deadline == DeadlineStatus.DUE_SOON.value:
            stmt = stmt.where(Case.next_due_on >= today, Case.next_due_on <= soon)  # type: ignore[operator]
        else:
            stmt = stmt.where(Case.next_due_on > soon)  # type: ignore[operator]
    for word in fold(f.q).split()[:MAX_QUERY_WORDS]:
        stmt = stmt.where(Case.search_text.like(f"%{_like_escape(word[:60])}%", escape="\\"))  # type: ignore[attr-defined]
    one_person = f.assignee == "me" or f.assignee.isdigit()
    if one_person:
        # Lets the database start from the few cases of one person (a partial index) instead of walking
        # the whole queue in deadline order to find them.
        stmt = stmt.where(Case.assignee_id.is_not(None))  # type: ignore[union-attr]
    if f.sort == "old":
        order: list[Any] = [Case.received_at.asc(), Case.id.asc()]  # type: ignore[attr-defined,union-attr]
    elif f.sort == "new":
        order = [Case.received_at.desc(), Case.id.desc()]  # type: ignore[attr-defined,union-attr]
    else:
        # Overdue first (their deadlines are the earliest), then by deadline, then the oldest; cases with
        # no running deadline (a result to tell) after them. NULLS LAST is PostgreSQL's index order. For
        # one person's cases the deadline is read through COALESCE, which no index orders: the few rows
        # are sorted, rather than the whole queue walked in order (SQLite's planner would otherwise walk it).
        due = sa.func.coalesce(Case.next_due_on, date.max) if one_person else Case.next_due_on.asc().nulls_last()  # type: ignore[union-attr]
        order = [due, Case.received_at.asc(), Case.id.asc()]  # type: ignore[attr-defined,union-attr]
    page = max(1, min(f.page, 10_000))
    offset = (page - 1) * PAGE_SIZE
    if f.status == ALL_STATUSES:
        # Ended cases never before open ones: the open part of the queue, then the ended part, each read
        # in its index's order (one ORDER BY over both would sort every row of the committee).
        open_part = stmt.where(Case.is_open == sa.true())
        open_n = int(session.exec(select(sa.func.count()).select_from(open_part.subquery())).one())
        found = []
        if offset < open_n:
            found = list(session.exec(open_part.order_by(*order).offset(offset).limit(PAGE_SIZE + 1)).all())
        if len(found) <= PAGE_SIZE:
            ended = stmt.where(Case.is_open == sa.false()).order_by(*order)
            found += list(session.exec(ended.offset(max(0, offset - open_n)).limit(PAGE_SIZE + 1 - len(found))).all())
    else:
        found = list(session.exec(stmt.order_by(*order).offset(offset).limit(PAGE_SIZE + 1)).all())
    counts = queue_counts(session, cid, today)
    mine = int(
        session.exec(
            select(sa.func.count()).where(
                Case.assignee_id == user.id, Case.assignee_id.is_not(None), Case.committee_id == cid, Case.is_open == sa.true()  # type: ignore[union-attr]
            )
        ).one()
    )
    rows = [QueueRow(c, clock_of(c, today)) for c in found[:PAGE_SIZE]]
    return QueuePage(rows, len(found) > PAGE_SIZE, counts, page, today, soon, mine)


@dataclass(frozen=True)
class QueueCounts:
    """Cases per status across a committee's queue, and how many open ones are past their deadline."""

    by_status: dict[str, int]
    overdue: int

    @property
    def open(self) -> int:
        return sum(n for s, n in self.by_status.items() if s in OPEN_STATUSES)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def get(self, status: str, default: int = 0) -> int:
        return self.by_status.get(status, default)


# Counting a large committee's whole queue costs more than the page itself (a quarter of a million
# index entries take ~70 ms on PostgreSQL), and the counts change slowly: they are kept for a short
# while per process, and forgotten at once when this process changes a case of the committee.
COUNTS_TTL_SECONDS = 30.0
_counts: dict[tuple[int, date], tuple[float, QueueCounts]] = {}
_counts_lock = threading.Lock()


def queue_counts(session: Session, committee_id: int, today: date, *, fresh: bool = False) -> QueueCounts:
    """Cases per status, and how many open ones are overdue, across a committee's whole queue."""
    key = (committee_id, today)
    now = time.monotonic()
    with _counts_lock:
        hit = _counts.get(key)
    if hit is not None and not fresh and now - hit[0] < COUNTS_TTL_SECONDS:
        return hit[1]
    by_status = {
        str(status): int(n)
        for status, n in session.exec(
            select(Case.status, sa.func.count()).where(Case.committee_id == committee_id).group_by(Case.status)
        ).all()
    }
    overdue = int(
        session.exec(
            select(sa.func.count()).where(
                Case.committee_id == committee_id, Case.is_open == sa.true(), Case.next_due_on < today  # type: ignore[operator]
            )
        ).one()
    )
    counts = QueueCounts(by_status, overdue)
    with _counts_lock:
        _counts[key] = (now, counts)
    return counts


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


def transfer_exclusions(session: Session, case: Case) -> frozenset[int]:
    """Committees a case may not be passed to: the one holding it, and those the conflict rule bars."""
    return frozenset({case.committee_id}) | barred_committee_ids(session, case)


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
    folded: dict[str, str] = {}  # names and units repeat across a committee's cases: each is folded once

    def same(value: str, target: str) -> bool:
        if not target or not value:
            return False
        if value not in folded:
            folded[value] = fold(value)
        return folded[value] == target

    for cid, _text, accused, agency in recent:
        why: list[str] = []
        if same(accused, name):
            why.append("accused")
        if same(agency, unit):
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
    body_name: str = ""  # the latest forwarding's: the name of the body the case went to (kept on the case, not the audit row)


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
    clock: Clock
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
    clock = clock_of(case, today)
    has_identity = (
        session.exec(
            select(ReporterIdentity.id).where(ReporterIdentity.case_id == case.id, ReporterIdentity.purged_at.is_(None))  # type: ignore[union-attr]
        ).first()
        is not None
    )
    primary = session.get(Case, case.merged_into_id) if case.merged_into_id else None
    duplicates = list(session.exec(select(Case).where(Case.merged_into_id == case.id).order_by(Case.id)).all())  # type: ignore[arg-type]
    timeline = [TimelineEntry(e, names.get(e.actor_id or 0, "")) for e in entries]
    # The audit row keeps the kind of body only (codes, never typed text); the case keeps the name of
    # the latest one, which is what the latest forwarding named.
    forwardings = [t for t in timeline if t.entry.action == "case.forwarded"]
    if forwardings and forwardings[-1].entry.details.get("body") == case.forwarded_to:
        forwardings[-1].body_name = case.forwarded_to_name
    return CaseView(
        case=case,
        committee=committee,
        attachments=attachments,
        thread=thread,
        timeline=timeline,
        reasons=render_reasons(case.routing_reasons, lang),
        suggestion_top=top,
        suggestion_terms=[str(t) for t in suggestion.get("terms", [])][:10],
        similar=similar_cases(session, case),
        transfers=transfers,
        pending_transfer=next((t for t in transfers if t.state == TransferState.PENDING.value), None),
        staff=committee_staff(session, case.committee_id),
        names=names,
        committees=committees,
        clock=clock,
        has_identity=has_identity and case.anonymity != "anonymous",
        primary=primary if primary is not None and primary.committee_id == case.committee_id else None,
        duplicates=duplicates,
    )
