"""Figures for the dashboard and the periodic report a committee sends upward (quarter, half-year, year).

The district outline in seed 000 asks for the reports received, the results of handling them, and
whether the result was told to whoever reported. A committee's figures include the committees
below it (a province reports for its communes too). What each figure means, and who is credited
with it, is in intake/report_figures.py. A report that leaves the committee has every count rounded
to a multiple of 5, consistently across its tables and across quarters, half-years and the year,
so that no count from 1 to 4 can be read or worked out (intake/disclosure.py, SECURITY.md).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, select

from intake import audit
from intake.casework.policy import Perm, require, scope_committee_ids
from intake.categories import CATEGORIES
from intake.dates import VIETNAM_TZ, format_date
from intake.disclosure import BASE, percent, round_in_order
from intake.errors import InvalidInputError
from intake.i18n import N_, translator
from intake.labels import STATUS_LABELS
from intake.models import Case, CaseStatus, Committee, CommitteeLevel, StaffUser
from intake.report_figures import FLOW_GROUPS, FLOW_KINDS, YearFigures, flow_order, year_figures

# The columns of the report, in order: counts, then the on-time rate (a percentage).
FIGURES: tuple[str, ...] = ("received", "handled", "forwarded", "answered", "on_time", "late", "overdue", "notified", "on_time_rate")
COUNTS: tuple[str, ...] = FIGURES[:-1]
FIGURE_LABELS: dict[str, str] = {
    "received": N_("Reports received"),
    "handled": N_("Handled by the committee"),
    "forwarded": N_("of which forwarded to a competent body"),
    "answered": N_("Settlements received from competent bodies"),
    "on_time": N_("of which on time"),
    "late": N_("of which late"),
    "overdue": N_("Overdue, still without a settlement"),
    "notified": N_("Result told to the reporter"),
    "on_time_rate": N_("On-time rate"),
}
LEGEND: tuple[str, ...] = (
    N_("Handled: the committee's own handling ended: forwarded to the competent body, transferred to another "
       "committee, merged into another case, found out of scope, or closed without forwarding."),
    N_("Settlement: the competent body's answer, counted on the day it arrived; on time or late against its "
       "deadline. Overdue: forwarded, past the deadline and still unanswered at the end of the period."),
    N_("Each event counts for the committee holding the case that day. A duplicate counts as a report: its "
       "merge is its handling; the settlement belongs to the case that was forwarded."),
)
PROTECTED_LEGEND = N_(
    "Every count is rounded to a multiple of {base}, so that no small count can be worked out; rows, totals "
    "and periods add up exactly. The totals received, handled, settled, overdue and told are within {within} "
    "of the true count; any other figure within {within} for each quarter it covers, twice that for handled "
    "and settled. The on-time rate is computed from the rounded counts."
)
PERIOD_KINDS = ("quarter", "half", "year")
WEEKS_SHOWN = 12
TOP_COMMUNES = 15

Count = int | None  # the on-time rate is None when no settlement arrived


@dataclass(frozen=True)
class Period:
    """A reporting period in Vietnam's calendar: [start, end)."""

    kind: str
    year: int
    index: int
    start: date
    end: date

    def label(self, lang: str = "vi") -> str:
        _ = translator(lang)._
        if self.kind == "quarter":
            return _("Quarter {n} of {year}", n=self.index, year=self.year)
        if self.kind == "half":
            return _("First half of {year}", year=self.year) if self.index == 1 else _("Second half of {year}", year=self.year)
        return _("Year {year}", year=self.year)

    @property
    def slug(self) -> str:
        return {"quarter": f"{self.year}-Q{self.index}", "half": f"{self.year}-H{self.index}"}.get(self.kind, str(self.year))

    def ended(self, today: date) -> bool:
        """Whether the period is over (a report that leaves the committee is made only then)."""
        return today >= self.end

    @property
    def quarters(self) -> tuple[int, ...]:
        """The quarters of the year the period covers."""
        first = (self.start.month - 1) // 3 + 1
        return tuple(range(first, first + {"quarter": 1, "half": 2, "year": 4}[self.kind]))


def make_period(kind: str, year: int, index: int = 1) -> Period:
    """A quarter (index 1-4), a half-year (1-2) or a year; ValueError for anything else."""
    if kind not in PERIOD_KINDS or not 2000 <= year <= 2100:
        raise ValueError("unknown period")
    months = {"quarter": 3, "half": 6, "year": 12}[kind]
    count = 12 // months
    if not 1 <= index <= count:
        raise ValueError("period index out of range")
    first_month = (index - 1) * months + 1
    start = date(year, first_month, 1)
    end = date(year + 1, 1, 1) if first_month + months > 12 else date(year, first_month + months, 1)
    return Period(kind, year, index if kind != "year" else 1, start, end)


def _utc_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), VIETNAM_TZ)


@dataclass
class Row:
    """One line of the report: a category or a committee, and its figures."""

    key: str
    label: str
    counts: dict[str, Count]


@dataclass
class PeriodicReport:
    committee_code: str
    committee_name: str
    period: Period
    totals: dict[str, Count]
    by_category: list[Row]
    by_committee: list[Row]
    protected: bool = False  # rounded for leaving the committee
    generated_on: date = field(default_factory=lambda: datetime.now(VIETNAM_TZ).date())


# The table's own columns: typed SQL expressions for the aggregate queries below.
C = cast(sa.Table, Case.__table__).c  # type: ignore[attr-defined]


def _scope(stmt: sa.Select[Any], ids: list[int] | None) -> sa.Select[Any]:
    """Limits a query to the committees an account sees (all of them when ids is None)."""
    return stmt if ids is None else stmt.where(C.committee_id.in_(ids))


def _flag(cond: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    """Counts the rows meeting a condition, inside one aggregate query."""
    return sa.func.sum(sa.case((cond, 1), else_=0))


def _commune_label(code: str | None, lang: str) -> str:
    if not code:
        return translator(lang)._("Commune not known")
    from intake.places import commune

    try:
        return commune(code).name
    except KeyError:
        return code


def _figures(kinds: Mapping[str, int], overdue: int) -> dict[str, Count]:
    """A row's figures from its counts of each kind of event and its overdue stock."""
    on_time, late = kinds.get("on_time", 0), kinds.get("late", 0)
    return {
        "received": kinds.get("received", 0),
        "handled": kinds.get("forwarded", 0) + kinds.get("other_handling", 0),
        "forwarded": kinds.get("forwarded", 0),
        "answered": on_time + late,
        "on_time": on_time,
        "late": late,
        "overdue": overdue,
        "notified": kinds.get("notified", 0),
        "on_time_rate": percent(on_time, on_time + late),
    }


def _period_rows(figures: YearFigures, partition: str, period: Period, *, protected: bool) -> dict[Any, dict[str, Count]]:
    """Each row's figures over the period's quarters: true counts, or the rounded ones that may leave."""
    rows = figures.rows[partition]
    flows: Mapping[tuple[int, str, Any], int] = figures.flows[partition]
    last = period.quarters[-1]
    stock: Mapping[Any, int] = {row: figures.stocks[partition][(last, row)] for row in rows}
    if protected:
        rounded: dict[tuple[int, str, Any], int] = {}
        for group in FLOW_GROUPS:
            rounded.update(round_in_order(flow_order(group, rows), flows))
        flows, stock = rounded, round_in_order(rows, stock)
    out: dict[Any, dict[str, Count]] = {}
    for row in rows:
        kinds = {kind: sum(flows.get((q, kind, row), 0) for q in period.quarters) for kind in FLOW_KINDS}
        out[row] = _figures(kinds, stock.get(row, 0))
    return out


def _total(rows: Mapping[Any, Mapping[str, Count]]) -> dict[str, Count]:
    counts = {f: sum(int(r[f] or 0) for r in rows.values()) for f in COUNTS}
    return {**counts, "on_time_rate": percent(counts["on_time"], counts["answered"])}


def periodic_report(
    session: Session, committee: Committee, period: Period, *, today: date, lang: str = "vi", protected: bool = False
) -> PeriodicReport:
    """Received, handled, settled (on time, late, overdue) and told, by category and by the committee holding
    the case; `protected` rounds every count for a report that leaves the committee."""
    figures = year_figures(session, committee, period.year, today=today, until_quarter=period.quarters[-1])
    return build_report(figures, committee, period, lang=lang, protected=protected)


def build_report(figures: YearFigures, committee: Committee, period: Period, *, lang: str = "vi", protected: bool = False) -> PeriodicReport:
    """The report of a period from the year's quarterly counts."""
    _ = translator(lang)._
    by_cat = _period_rows(figures, "category", period, protected=protected)
    cat_rows = [
        Row(str(code) if code is not None else "", _(CATEGORIES[code].short) if code is not None else _("Not classified"), counts)
        for code, counts in by_cat.items()
    ]
    by_com = _period_rows(figures, "committee", period, protected=protected)
    committee_rows = sorted(
        (
            Row(figures.committees[cid].code, figures.committees[cid].name(lang), counts)
            for cid, counts in by_com.items()
            if any(counts[f] for f in COUNTS)
        ),
        key=lambda r: (-int(r.counts["received"] or 0), r.label),
    )
    return PeriodicReport(
        committee_code=committee.code,
        committee_name=committee.name(lang),
        period=period,
        totals=_total(by_cat),
        by_category=cat_rows,
        by_committee=committee_rows,
        protected=protected,
        generated_on=figures.today,
    )


def cell(value: Count, figure: str = "") -> str:
    """A figure as exported: a count, or the on-time rate as a percentage ("—" when nothing was settled)."""
    if figure == "on_time_rate":
        return "—" if value is None else f"{value}%"
    return str(value or 0)


def _table(report: PeriodicReport, lang: str) -> list[list[str]]:
    """The report as rows of cells: one header, then totals, categories and committees with a section column."""
    _ = translator(lang)._
    header = [_("Section"), _("Code"), _("Name"), *(_(FIGURE_LABELS[f]) for f in FIGURES)]
    lines = [header, [_("Total"), report.committee_code, report.committee_name, *(cell(report.totals[f], f) for f in FIGURES)]]
    for section, rows in ((_("Category"), report.by_category), (_("Committee holding the case"), report.by_committee)):
        lines += [[section, r.key, r.label, *(cell(r.counts[f], f) for f in FIGURES)] for r in rows]
    return lines


def _title_lines(report: PeriodicReport, lang: str) -> list[list[str]]:
    _ = translator(lang)._
    lines = [
        [_("Periodic report on residents' reports")],
        [report.committee_name, report.period.label(lang)],
        [_("Prepared on {date}", date=format_date(report.generated_on))],
    ]
    lines += [[_(text)] for text in LEGEND]
    if report.protected:
        lines.append([_(PROTECTED_LEGEND, base=BASE, within=BASE - 1)])
    return lines


def to_csv(report: PeriodicReport, lang: str = "vi") -> str:
    """The report as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read the diacritics)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(_title_lines(report, lang))
    writer.writerow([])
    writer.writerows(_table(report, lang))
    return "\ufeff" + out.getvalue()


def to_xlsx(report: PeriodicReport, lang: str = "vi") -> bytes:
    """The report as an Excel workbook: a summary sheet, by category, by committee holding the case."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    _ = translator(lang)._
    wb = Workbook()
    header = [_("Code"), _("Name"), *(_(FIGURE_LABELS[f]) for f in FIGURES)]

    def values(counts: Mapping[str, Count]) -> list[int | str]:
        return [cell(counts[f], f) if f == "on_time_rate" else int(counts[f] or 0) for f in FIGURES]

    summary = wb.active
    summary.title = _("Summary")[:31]
    for line in _title_lines(report, lang):
        summary.append(line)
    summary.append([])
    summary.append(header)
    summary.append([report.committee_code, report.committee_name, *values(report.totals)])
    summary["A1"].font = Font(bold=True, size=13)
    for title, rows in ((_("By category"), report.by_category), (_("By committee holding the case"), report.by_committee)):
        ws = wb.create_sheet(title[:31])
        ws.append(header)
        for r in rows:
            ws.append([r.key, r.label, *values(r.counts)])
        for c in ws[1]:
            c.font = Font(bold=True)
        ws.column_dimensions["B"].width = 48
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@dataclass
class SubCount:
    committee: Committee
    total: int
    open: int
    overdue: int


@dataclass
class Dashboard:
    """What the dashboard draws: counts over the committee and those below it."""

    by_status: list[tuple[str, int]]
    by_category: list[tuple[int | None, int]]
    by_commune: list[tuple[str, int]]
    weekly: list[tuple[date, int]]
    on_time: int
    late: int
    total: int
    sub_committees: list[SubCount]

    @property
    def on_time_rate(self) -> float | None:
        done = self.on_time + self.late
        return self.on_time / done if done else None


_OPEN = (CaseStatus.NEW.value, CaseStatus.VERIFYING.value, CaseStatus.FORWARDED.value, CaseStatus.RESULT.value)


def dashboard(session: Session, committee: Committee, *, today: date, lang: str = "vi") -> Dashboard:
    """Cases by status, category and commune; deadlines kept over the past year; received per week."""
    ids = scope_committee_ids(session, committee)
    by_committee: dict[int, dict[str, int]] = {}
    by_status: dict[str, int] = {}
    overdue_by: dict[int, int] = {}
    stmt = _scope(
        sa.select(C.committee_id, C.status, sa.func.count(), _flag(sa.and_(C.status == CaseStatus.FORWARDED.value, C.due_on < today))),
        ids,
    ).group_by(C.committee_id, C.status)
    for cid, status, n, late in session.execute(stmt).all():
        by_committee.setdefault(cid, {})[status] = int(n)
        by_status[status] = by_status.get(status, 0) + int(n)
        overdue_by[cid] = overdue_by.get(cid, 0) + int(late or 0)
    by_category: dict[int | None, int] = {
        code: int(n) for code, n in session.execute(_scope(sa.select(C.category, sa.func.count()), ids).group_by(C.category)).all()
    }
    communes = session.execute(
        _scope(sa.select(C.commune_code, sa.func.count()), ids)
        .group_by(C.commune_code)
        .order_by(sa.func.count().desc())
        .limit(TOP_COMMUNES)
    ).all()
    week0 = today - timedelta(days=today.weekday()) - timedelta(weeks=WEEKS_SHOWN - 1)
    bounds = [_utc_start(week0 + timedelta(weeks=k)) for k in range(WEEKS_SHOWN + 1)]
    weeks = [_flag(sa.and_(C.received_at >= bounds[k], C.received_at < bounds[k + 1])) for k in range(WEEKS_SHOWN)]
    weekly_row = session.execute(_scope(sa.select(*weeks), ids).where(C.received_at >= bounds[0])).one()
    year_ago = today - timedelta(days=365)
    on_time, late = session.execute(
        _scope(
            sa.select(
                _flag(sa.and_(C.result_on.is_not(None), C.result_on <= C.due_on)),
                _flag(sa.or_(C.result_on.is_(None), C.result_on > C.due_on)),
            ),
            ids,
        ).where(C.due_on >= year_ago, C.due_on < today)
    ).one()
    subs: list[SubCount] = []
    if committee.level != CommitteeLevel.COMMUNE.value:
        children = session.exec(select(Committee).where(Committee.parent_id == committee.id).order_by(Committee.name_vi)).all()
        owner: dict[int, int] = {c.id: c.id for c in children if c.id is not None}
        if committee.level == CommitteeLevel.CENTRAL.value:
            # The central committee sees each province with its communes folded in.
            for cid, parent in session.exec(select(Committee.id, Committee.parent_id).where(Committee.level == CommitteeLevel.COMMUNE.value)).all():
                if parent in owner:
                    owner[cid] = parent  # type: ignore[index]
        totals: dict[int, SubCount] = {c.id: SubCount(c, 0, 0, 0) for c in children if c.id is not None}
        for cid, statuses in by_committee.items():
            target = owner.get(cid)
            if target is None:
                continue
            sub = totals[target]
            sub.total += sum(statuses.values())
            sub.open += sum(n for s, n in statuses.items() if s in _OPEN)
            sub.overdue += overdue_by.get(cid, 0)
        subs = [s for s in totals.values() if s.total]
    return Dashboard(
        by_status=[(s.value, by_status.get(s.value, 0)) for s in CaseStatus],
        by_category=[(code, by_category.get(code, 0)) for code in sorted(CATEGORIES)]
        + ([(None, by_category[None])] if by_category.get(None) else []),
        by_commune=[(_commune_label(code, lang), int(n)) for code, n in communes],
        weekly=[(week0 + timedelta(weeks=k), int(weekly_row[k] or 0)) for k in range(WEEKS_SHOWN)],
        on_time=int(on_time or 0),
        late=int(late or 0),
        total=sum(by_status.values()),
        sub_committees=subs,
    )


def status_label(status: str, lang: str) -> str:
    return translator(lang)._(STATUS_LABELS.get(status, status))


AUDIENCES = ("external", "internal")  # external: leaves the committee, every count rounded
FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    data: bytes


def export_report(
    session: Session,
    *,
    actor: StaffUser,
    committee: Committee,
    period: Period,
    fmt: str,
    audience: str = "external",
    today: date,
    lang: str = "vi",
) -> Export:
    """The periodic report as a file; unless kept inside the committee, every count is rounded. Audited."""
    require(actor, Perm.EXPORT)
    if fmt not in FORMATS or audience not in AUDIENCES:
        raise InvalidInputError("unknown export")
    if audience == "external" and not period.ended(today):
        # Exported day after day, a period in progress would show the day a count crosses a rounding step.
        raise InvalidInputError("period not over")
    report = periodic_report(session, committee, period, today=today, lang=lang, protected=audience == "external")
    data = to_csv(report, lang).encode("utf-8") if fmt == "csv" else to_xlsx(report, lang)
    audit.record(
        session,
        "report.exported",
        actor_kind="staff",
        actor_id=actor.id,
        details={"committee": committee.code, "period": period.slug, "format": fmt, "audience": audience},
    )
    return Export(f"bao-cao-{committee.code}-{period.slug}.{fmt}", FORMATS[fmt], data)
