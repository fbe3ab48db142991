"""What happened to reports in a year, quarter by quarter, credited to the committee that held each case.

The words as the Front uses them (seeds 000 and 002):
- received (tiếp nhận): a report reached the committee, filed to it or transferred to it (on the
  transfer date);
- handled (xử lý): the committee's own handling of the report ended: forwarded to the competent body,
  transferred or escalated to another committee, merged into another case, found out of scope, or
  closed without forwarding;
- answered (giải quyết): the competent body's settlement arrived, on the day it arrived (not the day
  it was typed in), on time or late against its deadline;
- overdue: forwarded, past its deadline and still without an answer at the end of the period (or
  today, for a period not over);
- notified: the reporter was told the result.

Each event is credited to the committee holding the case when it happened, so a transfer never moves
a past period from one committee to another: the sender keeps having handled it, the receiver
received it on the transfer date. A committee counts a case at most once as received and once as
handled, however often it comes back.

Duplicates are counted as reports throughout: each report merged into another case was received and
was handled (its merge is its handling), and its reporter being told the result counts; the answer
and its deadline belong to the one case that was forwarded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, select

from intake.casework.policy import scope_committee_ids
from intake.dates import VIETNAM_TZ, local_date
from intake.models import Case, CaseStatus, CaseTransfer, Committee, CommitteeLevel, TransferState

# Kinds of event, in the order the protected export lays them out (disclosure.py): each tuple is one
# figure whose parts sit next to each other.
FLOW_GROUPS: tuple[tuple[str, ...], ...] = (("received",), ("forwarded", "other_handling"), ("on_time", "late"), ("notified",))
FLOW_KINDS: tuple[str, ...] = tuple(kind for group in FLOW_GROUPS for kind in group)
STOCK = "overdue"
QUARTERS = (1, 2, 3, 4)
PARTITIONS = ("category", "committee")

Row = Any  # a row key: a category code (None: not classified) or a committee id


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """[first day, first day of the next quarter)."""
    start = date(year, 3 * quarter - 2, 1)
    return start, date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)


def _vn_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), VIETNAM_TZ)


@dataclass(frozen=True)
class Move:
    """An approved transfer or escalation."""

    at: datetime
    source: int
    target: int

    @property
    def day(self) -> date:
        return local_date(self.at)


@dataclass
class CaseLife:
    """One case as the figures read it: its fields and its approved moves, oldest first."""

    id: int
    committee_id: int
    category: int | None
    status: str
    received_at: datetime
    forwarded_on: date | None
    due_on: date | None
    result_on: date | None
    handled_at: datetime | None
    closed_at: datetime | None
    notified_at: datetime | None
    updated_at: datetime
    moves: list[Move] = field(default_factory=list)

    @property
    def origin(self) -> int:
        return self.moves[0].source if self.moves else self.committee_id

    def holder_at(self, moment: datetime) -> int:
        """The committee holding the case at a moment."""
        holder = self.origin
        for move in self.moves:
            if move.at > moment:
                break
            holder = move.target
        return holder

    def holder_on(self, day: date) -> int:
        """The committee holding the case at the end of a day (Vietnam's calendar)."""
        holder = self.origin
        for move in self.moves:
            if move.day > day:
                break
            holder = move.target
        return holder

    def events(self) -> Iterable[tuple[str, date, int]]:
        """(kind, day, committee) for every flow event of the case, whatever its date."""
        received: dict[int, date] = {self.origin: local_date(self.received_at)}
        # A committee's handling ends at its first such event: (day, order within the day, kind).
        handled: dict[int, tuple[date, int, str]] = {}

        def handle(committee: int, day: date, kind: str, order: int) -> None:
            if committee not in handled or (day, order) < handled[committee][:2]:
                handled[committee] = (day, order, kind)

        for move in self.moves:
            received.setdefault(move.target, move.day)
            handle(move.source, move.day, "other_handling", 1)
        if self.forwarded_on is not None:
            handle(self.holder_on(self.forwarded_on), self.forwarded_on, "forwarded", 0)
        ended = self.handled_at or self.updated_at
        if self.status in (CaseStatus.OUT_OF_SCOPE.value, CaseStatus.DUPLICATE.value):
            handle(self.holder_at(ended), local_date(ended), "other_handling", 1)
        elif self.status == CaseStatus.CLOSED.value and self.forwarded_on is None:
            closed = self.closed_at or ended
            handle(self.holder_at(closed), local_date(closed), "other_handling", 1)
        for committee, day in received.items():
            yield "received", day, committee
        for committee, (day, _order, kind) in handled.items():
            yield kind, day, committee
        if self.result_on is not None:
            late = self.due_on is not None and self.result_on > self.due_on
            yield ("late" if late else "on_time"), self.result_on, self.holder_on(self.result_on)
        if self.notified_at is not None:
            yield "notified", local_date(self.notified_at), self.holder_at(self.notified_at)

    def overdue_holder(self, day: date) -> int | None:
        """The committee holding the case if, at the end of `day`, it is past its deadline without an answer."""
        if self.forwarded_on is None or self.due_on is None or self.forwarded_on > day or self.due_on >= day:
            return None
        if self.result_on is not None and self.result_on <= day:
            return None
        if self.status in (CaseStatus.OUT_OF_SCOPE.value, CaseStatus.DUPLICATE.value):
            return None
        return self.holder_on(day)


@dataclass
class YearFigures:
    """A committee's counts for one year, per quarter: flows per (quarter, kind, row) and the overdue
    stock per (quarter, row), in both partitions (by category, by the committee that held the case)."""

    year: int
    today: date
    rows: dict[str, list[Row]]  # partition -> rows in their fixed order
    flows: dict[str, Counter[tuple[int, str, Row]]]
    stocks: dict[str, Counter[tuple[int, Row]]]
    committees: dict[int, Committee]  # the committees that are rows, by id

    def stock_day(self, quarter: int) -> date:
        """The day the overdue stock of a quarter is counted at: its last day, or today if sooner."""
        _, end = quarter_bounds(self.year, quarter)
        return min(end - timedelta(days=1), self.today)


CATEGORY_ROWS: tuple[int | None, ...] = (*range(1, 10), None)


def _committee_rows(session: Session, committee: Committee) -> tuple[list[Committee], dict[int, int]]:
    """The committees that are rows of the report (the committee itself, then those directly below it) and,
    for every committee in scope, the row it counts in (a commune counts in its province at the centre)."""
    children = list(session.exec(select(Committee).where(Committee.parent_id == committee.id).order_by(Committee.code)).all())
    rows = [committee, *children]
    row_of = {c.id: c.id for c in rows if c.id is not None}
    if committee.level == CommitteeLevel.CENTRAL.value:
        for cid, parent in session.exec(select(Committee.id, Committee.parent_id).where(Committee.level == CommitteeLevel.COMMUNE.value)).all():
            if parent in row_of and cid is not None:
                row_of[cid] = row_of[parent]
    return rows, row_of


def load_lives(session: Session, ids: list[int] | None, start: date, end: date) -> list[CaseLife]:
    """The cases with an event in [start, end) credited to a committee in `ids` (None: all), or overdue then."""
    c = cast(sa.Table, Case.__table__).c  # type: ignore[attr-defined]
    t = cast(sa.Table, CaseTransfer.__table__).c  # type: ignore[attr-defined]
    s_ts, e_ts = _vn_start(start), _vn_start(end)
    approved = t.state == TransferState.APPROVED.value
    moved_then = sa.select(t.case_id).where(approved, t.decided_at >= s_ts, t.decided_at < e_ts)
    active = sa.or_(
        c.received_at >= s_ts,
        c.forwarded_on >= start,
        c.result_on >= start,
        c.handled_at >= s_ts,
        c.closed_at >= s_ts,
        c.notified_at >= s_ts,
        sa.and_(c.due_on.is_not(None), c.due_on < end, sa.or_(c.result_on.is_(None), c.result_on >= start)),
        c.id.in_(moved_then),
    )
    stmt = sa.select(
        c.id, c.committee_id, c.category, c.status, c.received_at, c.forwarded_on, c.due_on, c.result_on,
        c.handled_at, c.closed_at, c.notified_at, c.updated_at,
    ).where(c.received_at < e_ts, active)
    if ids is not None:
        touched = sa.select(t.case_id).where(approved, sa.or_(t.from_committee_id.in_(ids), t.to_committee_id.in_(ids)))
        stmt = stmt.where(sa.or_(c.committee_id.in_(ids), c.id.in_(touched)))
    lives = {row.id: CaseLife(*row) for row in session.execute(stmt)}
    if lives:
        # Every move, later ones too: the first one tells who received the case first.
        moves = sa.select(t.case_id, t.decided_at, t.from_committee_id, t.to_committee_id).where(
            approved, t.decided_at.is_not(None)
        ).order_by(t.decided_at, t.id)
        for case_id, at, source, target in session.execute(moves):
            life = lives.get(case_id)
            if life is not None:
                life.moves.append(Move(at, source, target))
    return list(lives.values())


def year_figures(session: Session, committee: Committee, year: int, *, today: date, until_quarter: int = 4) -> YearFigures:
    """The year's counts for a committee and those below it, quarter by quarter up to `until_quarter`."""
    ids = scope_committee_ids(session, committee)
    committees, row_of = _committee_rows(session, committee)
    if ids is not None:
        row_of = {cid: row for cid, row in row_of.items() if cid in ids}
    start = date(year, 1, 1)
    _, end = quarter_bounds(year, until_quarter)
    end = min(end, today + timedelta(days=1))
    figures = YearFigures(
        year=year,
        today=today,
        rows={"category": list(CATEGORY_ROWS), "committee": [c.id for c in committees]},
        flows={p: Counter() for p in PARTITIONS},
        stocks={p: Counter() for p in PARTITIONS},
        committees={c.id: c for c in committees if c.id is not None},
    )
    if end <= start:
        return figures
    stock_days = [(q, figures.stock_day(q)) for q in QUARTERS if q <= until_quarter]
    for life in load_lives(session, ids, start, end):
        category = life.category if life.category in CATEGORY_ROWS else None
        for kind, day, holder in life.events():
            row = row_of.get(holder)
            if row is None or not start <= day < end:
                continue
            q = quarter_of(day)
            figures.flows["category"][(q, kind, category)] += 1
            figures.flows["committee"][(q, kind, row)] += 1
        for q, day in stock_days:
            holder_or_none = life.overdue_holder(day)
            row = row_of.get(holder_or_none) if holder_or_none is not None else None
            if row is not None:
                figures.stocks["category"][(q, category)] += 1
                figures.stocks["committee"][(q, row)] += 1
    return figures


def flow_order(group: Sequence[str], rows: Sequence[Row]) -> list[tuple[int, str, Row]]:
    """The fixed order of one figure's atoms: quarter, then the figure's parts, then row."""
    return [(q, kind, row) for q in QUARTERS for kind in group for row in rows]
