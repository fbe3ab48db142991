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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, select

from intake.casework.policy import scope_committee_ids
from intake.dates import VIETNAM_TZ
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


_VN_OFFSET = timedelta(hours=7)  # Vietnam keeps no daylight saving time
_ENDED = frozenset({CaseStatus.OUT_OF_SCOPE.value, CaseStatus.DUPLICATE.value})
_CLOSED = CaseStatus.CLOSED.value


def _day(moment: datetime) -> date:
    """The day in Vietnam of a stored UTC time (naive from SQLite, aware from PostgreSQL: both UTC)."""
    return (moment + _VN_OFFSET).date()


@dataclass(frozen=True, slots=True)
class Move:
    """An approved transfer or escalation."""

    at: datetime
    day: date
    source: int
    target: int


@dataclass(slots=True)
class CaseLife:
    """One case as the figures read it: its fields and its approved moves, oldest first.

    Times are as the database hands them back (UTC, with or without a zone): they are only compared
    with each other and turned into days in Vietnam."""

    id: int
    committee_id: int
    category: int | None
    status: str
    received_at: datetime
    forwarded_on: date | None
    due_on: date | None
    result_on: date | None
    ended_at: datetime  # when the case was found out of scope or merged (its last update, if not recorded)
    closed_at: datetime | None
    notified_at: datetime | None
    moves: list[Move] = field(default_factory=list)

    @property
    def origin(self) -> int:
        return self.moves[0].source if self.moves else self.committee_id

    def _holder(self, done: Callable[[Move], bool]) -> int:
        """The committee holding the case after the moves that are `done` (they come oldest first)."""
        holder = self.origin
        for move in self.moves:
            if not done(move):
                break
            holder = move.target
        return holder

    def holder_at(self, moment: datetime) -> int:
        """The committee holding the case at a moment."""
        return self._holder(lambda move: move.at <= moment)

    def holder_on(self, day: date) -> int:
        """The committee holding the case at the end of a day (Vietnam's calendar)."""
        return self._holder(lambda move: move.day <= day)

    def _handling(self) -> tuple[str, date, datetime | None] | None:
        """How the case's own handling ended, if it did other than by moving: (kind, day, moment if known)."""
        if self.forwarded_on is not None:
            return "forwarded", self.forwarded_on, None
        if self.status in _ENDED:
            return "other_handling", _day(self.ended_at), self.ended_at
        if self.status == _CLOSED:
            closed = self.closed_at or self.ended_at
            return "other_handling", _day(closed), closed
        return None

    def events(self) -> Iterable[tuple[str, date, int]]:
        """(kind, day, committee) for every flow event of the case, whatever its date."""
        handling = self._handling()
        if not self.moves:  # most cases: one committee throughout
            holder = self.committee_id
            yield "received", _day(self.received_at), holder
            if handling is not None:
                yield handling[0], handling[1], holder
        else:
            received: dict[int, date] = {self.origin: _day(self.received_at)}
            # A committee's handling ends at its first such event: (day, order within the day, kind).
            handled: dict[int, tuple[date, int, str]] = {}
            candidates = [(move.source, move.day, 1, "other_handling") for move in self.moves]
            for move in self.moves:
                received.setdefault(move.target, move.day)
            if handling is not None:
                kind, day, moment = handling
                who = self.holder_on(day) if moment is None else self.holder_at(moment)
                candidates.append((who, day, 0 if kind == "forwarded" else 1, kind))
            for who, day, order, kind in candidates:
                if who not in handled or (day, order) < handled[who][:2]:
                    handled[who] = (day, order, kind)
            for who, day in received.items():
                yield "received", day, who
            for who, (day, _order, kind) in handled.items():
                yield kind, day, who
        if self.result_on is not None:
            late = self.due_on is not None and self.result_on > self.due_on
            yield ("late" if late else "on_time"), self.result_on, self.holder_on(self.result_on)
        if self.notified_at is not None:
            yield "notified", _day(self.notified_at), self.holder_at(self.notified_at)

    def overdue_holder(self, day: date) -> int | None:
        """The committee holding the case if, at the end of `day`, it is past its deadline without an answer."""
        if self.forwarded_on is None or self.due_on is None or self.forwarded_on > day or self.due_on >= day:
            return None
        if self.result_on is not None and self.result_on <= day:
            return None
        if self.status in _ENDED:
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


_C = cast(sa.Table, Case.__table__).c  # type: ignore[attr-defined]
_T = cast(sa.Table, CaseTransfer.__table__).c  # type: ignore[attr-defined]
_APPROVED = _T.state == TransferState.APPROVED.value
_MOVED = sa.select(_T.case_id).where(_APPROVED)  # cases that ever changed committee


def _raw(column: Any) -> Any:
    """The stored UTC time without the zone-fixing type: turned into days here, thousands at a time."""
    return sa.type_coerce(column, sa.DateTime())


def load_lives(session: Session, ids: list[int] | None, start: date, end: date) -> list[CaseLife]:
    """The cases that changed committee, with an event in [start, end) credited to a committee in `ids`
    (None: all) or overdue then; the others are counted in the database (_count_unmoved)."""
    c, t = _C, _T
    s_ts, e_ts = _vn_start(start), _vn_start(end)
    moved_then = sa.select(t.case_id).where(_APPROVED, t.decided_at >= s_ts, t.decided_at < e_ts)
    active = sa.or_(
        c.received_at >= s_ts,
        c.forwarded_on >= start,
        c.result_on >= start,
        c.handled_at >= s_ts,
        c.closed_at >= s_ts,
        c.notified_at >= s_ts,
        c.updated_at >= s_ts,
        sa.and_(c.due_on.is_not(None), c.due_on < end, sa.or_(c.result_on.is_(None), c.result_on >= start)),
        c.id.in_(moved_then),
    )
    stmt = sa.select(
        c.id, c.committee_id, c.category, c.status, _raw(c.received_at), c.forwarded_on, c.due_on, c.result_on,
        _raw(sa.func.coalesce(c.handled_at, c.updated_at)), _raw(c.closed_at), _raw(c.notified_at),
    ).where(c.received_at < e_ts, active, c.id.in_(_MOVED))
    if ids is not None:
        touched = sa.select(t.case_id).where(_APPROVED, sa.or_(t.from_committee_id.in_(ids), t.to_committee_id.in_(ids)))
        stmt = stmt.where(c.id.in_(touched))
    lives = {row[0]: CaseLife(*row) for row in session.execute(stmt)}
    if lives:
        # Every move, later ones too: the first one tells who received the case first.
        moves = sa.select(t.case_id, _raw(t.decided_at), t.from_committee_id, t.to_committee_id).where(
            _APPROVED, t.decided_at.is_not(None)
        ).order_by(t.decided_at, t.id)
        for case_id, at, source, target in session.execute(moves):
            life = lives.get(case_id)
            if life is not None:
                life.moves.append(Move(at, _day(at), source, target))
    return list(lives.values())


def _between(column: Any, low: date | datetime, high: date | datetime) -> sa.ColumnElement[bool]:
    return sa.and_(column >= low, column < high)


def _count_unmoved(
    session: Session, ids: list[int] | None, quarters: Sequence[tuple[int, date, date, date]]
) -> Iterable[tuple[int | None, int, dict[tuple[int, str], int], dict[int, int]]]:
    """The same counts as CaseLife.events and overdue_holder, done by the database for the cases that never
    changed committee (nearly all): (category, committee, {(quarter, kind): n}, {quarter: overdue})."""
    c = _C
    ended = sa.func.coalesce(c.handled_at, c.updated_at)
    closed = sa.func.coalesce(c.closed_at, ended)
    other = sa.and_(c.forwarded_on.is_(None), sa.or_(c.status.in_(_ENDED), c.status == _CLOSED))
    other_at = sa.case((c.status == _CLOSED, closed), else_=ended)
    late = sa.and_(c.due_on.is_not(None), c.result_on > c.due_on)
    columns: list[Any] = []
    keys: list[tuple[int, str]] = []
    for q, first, until, stock_day in quarters:
        a, b = _vn_start(first), _vn_start(until)
        flags = {
            "received": _between(c.received_at, a, b),
            "forwarded": _between(c.forwarded_on, first, until),
            "other_handling": sa.and_(other, _between(other_at, a, b)),
            "on_time": sa.and_(_between(c.result_on, first, until), sa.not_(late)),
            "late": sa.and_(_between(c.result_on, first, until), late),
            "notified": _between(c.notified_at, a, b),
            STOCK: sa.and_(
                c.due_on < stock_day, c.forwarded_on <= stock_day, sa.or_(c.result_on.is_(None), c.result_on > stock_day),
                c.status.not_in(_ENDED),
            ),
        }
        for kind, cond in flags.items():
            keys.append((q, kind))
            columns.append(sa.func.count().filter(cond))
    begin, finish = _vn_start(quarters[0][1]), _vn_start(quarters[-1][2])
    stmt = sa.select(c.category, c.committee_id, *columns).where(c.received_at < finish, c.id.not_in(_MOVED))
    stmt = stmt.where(sa.or_(
        c.received_at >= begin, c.forwarded_on >= quarters[0][1], c.result_on >= quarters[0][1], c.handled_at >= begin,
        c.closed_at >= begin, c.notified_at >= begin, c.updated_at >= begin,
        sa.and_(c.due_on.is_not(None), sa.or_(c.result_on.is_(None), c.result_on >= quarters[0][1])),
    ))
    if ids is not None:
        stmt = stmt.where(c.committee_id.in_(ids))
    if session.get_bind().dialect.name == "postgresql":
        # One scan of a year of cases into a few thousand groups: compiling it (JIT) costs more than it
        # saves, and the groups fit in memory (for this transaction only).
        session.execute(sa.text("SET LOCAL jit = off"))
        session.execute(sa.text("SET LOCAL work_mem = '32MB'"))
    for category, committee_id, *sums in session.execute(stmt.group_by(c.category, c.committee_id)):
        flows: dict[tuple[int, str], int] = {}
        stocks: dict[int, int] = {}
        for (q, kind), n in zip(keys, sums, strict=True):
            if n:
                if kind == STOCK:
                    stocks[q] = int(n)
                else:
                    flows[(q, kind)] = int(n)
        yield category, committee_id, flows, stocks


def year_figures(
    session: Session, committee: Committee, year: int, *, today: date, until_quarter: int = 4, in_database: bool = True
) -> YearFigures:
    """The year's counts for a committee and those below it, quarter by quarter up to `until_quarter`.

    Cases that changed committee are read case by case (CaseLife); the others are counted by the database
    in one pass, unless `in_database` is False (the tests compare the two)."""
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
    flows: Counter[tuple[int, str, Row, int]] = Counter()
    stocks: Counter[tuple[int, Row, int]] = Counter()
    if in_database:
        # A quarter not begun yet has no events, and its overdue stock is today's, as for the current one.
        quarters = [(q, first, max(first, min(until, end)), day) for q, day in stock_days for first, until in [quarter_bounds(year, q)]]
        lives = load_lives(session, ids, start, end)
        for category, holder, counted, overdue in _count_unmoved(session, ids, quarters):
            category = category if category in CATEGORY_ROWS else None
            if holder in row_of:
                for (q, kind), n in counted.items():
                    flows[(q, kind, category, row_of[holder])] += n
                for q, n in overdue.items():
                    stocks[(q, category, row_of[holder])] += n
    else:
        lives = _all_lives(session, ids, start, end)
    for life in lives:
        category = life.category if life.category in CATEGORY_ROWS else None
        for kind, day, holder in life.events():
            if start <= day < end and holder in row_of:
                flows[(quarter_of(day), kind, category, row_of[holder])] += 1
        if life.due_on is not None:
            for q, day in stock_days:
                holder_or_none = life.overdue_holder(day)
                if holder_or_none in row_of:
                    stocks[(q, category, row_of[holder_or_none])] += 1
    for (q, kind, category, row), n in flows.items():
        figures.flows["category"][(q, kind, category)] += n
        figures.flows["committee"][(q, kind, row)] += n
    for (q, category, row), n in stocks.items():
        figures.stocks["category"][(q, category)] += n
        figures.stocks["committee"][(q, row)] += n
    return figures


def _all_lives(session: Session, ids: list[int] | None, start: date, end: date) -> list[CaseLife]:
    """Every case in scope read case by case, moved or not: the slow path the database counting must equal."""
    c = _C
    stmt = sa.select(
        c.id, c.committee_id, c.category, c.status, _raw(c.received_at), c.forwarded_on, c.due_on, c.result_on,
        _raw(sa.func.coalesce(c.handled_at, c.updated_at)), _raw(c.closed_at), _raw(c.notified_at),
    ).where(c.received_at < _vn_start(end), c.id.not_in(_MOVED))
    if ids is not None:
        stmt = stmt.where(c.committee_id.in_(ids))
    return [CaseLife(*row) for row in session.execute(stmt)] + load_lives(session, ids, start, end)


def flow_order(group: Sequence[str], rows: Sequence[Row]) -> list[tuple[int, str, Row]]:
    """The fixed order of one figure's atoms: quarter, then the figure's parts, then row."""
    return [(q, kind, row) for q in QUARTERS for kind in group for row in rows]
