"""Figures for the dashboard and the periodic report a committee sends upward (quarter, half-year, year).

The district outline in seed 000 asks for the reports received, the results of handling them, and
whether the result was told to whoever reported. A committee's figures include the committees
below it (a province reports for its communes too). Counts from 1 to 4 are suppressed in exports
that leave the committee, with a second cell suppressed where a total would give the first away.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, select

from intake import audit
from intake.casework.policy import Perm, require, scope_committee_ids
from intake.categories import CATEGORIES
from intake.dates import VIETNAM_TZ, format_date
from intake.errors import InvalidInputError
from intake.i18n import N_, translator
from intake.labels import STATUS_LABELS
from intake.models import Case, CaseStatus, Committee, CommitteeLevel, StaffUser

SUPPRESS_BELOW = 5
FIGURES: tuple[str, ...] = ("received", "handled", "notified", "forwarded", "result", "on_time", "overdue")
FIGURE_LABELS: dict[str, str] = {
    "received": N_("Reports received"),
    "handled": N_("Handled"),
    "notified": N_("Result told to the reporter"),
    "forwarded": N_("Forwarded to a competent body"),
    "result": N_("Answers received from competent bodies"),
    "on_time": N_("Answered by the deadline"),
    "overdue": N_("Answered late or not at all"),
}
PERIOD_KINDS = ("quarter", "half", "year")
WEEKS_SHOWN = 12
TOP_COMMUNES = 15

Count = int | None  # None: suppressed (a count from 1 to 4)


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
    """One line of the report: a category or a commune, and its counts."""

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
    by_commune: list[Row]
    suppressed: bool = False
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


def periodic_report(session: Session, committee: Committee, period: Period, *, today: date, lang: str = "vi") -> PeriodicReport:
    """Received, handled, result told, and the forwarding figures, by category and by commune."""
    ids = scope_committee_ids(session, committee)
    s_ts, e_ts = _utc_start(period.start), _utc_start(period.end)
    s, e = period.start, period.end
    deadline_in = sa.and_(C.due_on >= s, C.due_on < e, C.due_on < today)
    columns = (
        _flag(sa.and_(C.received_at >= s_ts, C.received_at < e_ts)),
        _flag(sa.and_(C.handled_at >= s_ts, C.handled_at < e_ts)),
        _flag(sa.and_(C.notified_at >= s_ts, C.notified_at < e_ts)),
        _flag(sa.and_(C.forwarded_on >= s, C.forwarded_on < e)),
        _flag(sa.and_(C.result_on >= s, C.result_on < e)),
        _flag(sa.and_(deadline_in, C.result_on.is_not(None), C.result_on <= C.due_on)),
        _flag(sa.and_(deadline_in, sa.or_(C.result_on.is_(None), C.result_on > C.due_on))),
    )
    stmt = _scope(sa.select(C.category, C.commune_code, *columns).where(C.received_at < e_ts), ids)
    stmt = stmt.group_by(C.category, C.commune_code)
    totals = dict.fromkeys(FIGURES, 0)
    by_cat: dict[int | None, dict[str, int]] = {}
    by_commune: dict[str | None, dict[str, int]] = {}
    for category, commune_code, *values in session.execute(stmt).all():
        for name, value in zip(FIGURES, values, strict=True):
            n = int(value or 0)
            totals[name] += n
            by_cat.setdefault(category, dict.fromkeys(FIGURES, 0))[name] += n
            by_commune.setdefault(commune_code, dict.fromkeys(FIGURES, 0))[name] += n
    _ = translator(lang)._
    cat_rows = [
        Row(str(code), _(CATEGORIES[code].short), dict(by_cat.get(code, dict.fromkeys(FIGURES, 0)))) for code in sorted(CATEGORIES)
    ]
    if None in by_cat:
        cat_rows.append(Row("", _("Not classified"), dict(by_cat[None])))
    commune_rows = sorted(
        (Row(code or "", _commune_label(code, lang), dict(c)) for code, c in by_commune.items() if any(c.values())),
        key=lambda r: (-int(r.counts["received"] or 0), r.label),
    )
    return PeriodicReport(
        committee_code=committee.code,
        committee_name=committee.name(lang),
        period=period,
        totals=dict(totals),
        by_category=cat_rows,
        by_commune=commune_rows,
        generated_on=today,
    )


def _small(n: Count) -> bool:
    return n is not None and 0 < n < SUPPRESS_BELOW


def _suppress_rows(rows: list[Row]) -> list[Row]:
    """Hides counts 1-4; where a column would then hide just one cell, the next smallest goes too."""
    out = [Row(r.key, r.label, {k: (None if _small(v) else v) for k, v in r.counts.items()}) for r in rows]
    for name in FIGURES:
        hidden = [r for r in out if r.counts[name] is None]
        if len(hidden) == 1:
            # The total minus the other cells would give the hidden one away.
            shown = [r for r in out if r.counts[name]]
            if shown:
                min(shown, key=lambda r: int(r.counts[name] or 0)).counts[name] = None
    return out


def suppress(report: PeriodicReport) -> PeriodicReport:
    """The report as it may leave the committee: no count from 1 to 4 can be read or derived."""
    if report.suppressed:
        return report
    totals = {k: (None if _small(v) else v) for k, v in report.totals.items()}
    return replace(
        report,
        totals=totals,
        by_category=_suppress_rows(report.by_category),
        by_commune=_suppress_rows(report.by_commune),
        suppressed=True,
    )


def cell(n: Count) -> str:
    """A count as exported: "<5" when suppressed."""
    return f"<{SUPPRESS_BELOW}" if n is None else str(n)


def _table(report: PeriodicReport, lang: str) -> list[list[str]]:
    """The report as rows of cells: one header, then totals, categories and communes with a section column."""
    _ = translator(lang)._
    header = [_("Section"), _("Code"), _("Name"), *(_(FIGURE_LABELS[f]) for f in FIGURES)]
    lines = [header, [_("Total"), report.committee_code, report.committee_name, *(cell(report.totals[f]) for f in FIGURES)]]
    for section, rows in ((_("Category"), report.by_category), (_("Commune"), report.by_commune)):
        lines += [[section, r.key, r.label, *(cell(r.counts[f]) for f in FIGURES)] for r in rows]
    return lines


def _title_lines(report: PeriodicReport, lang: str) -> list[list[str]]:
    _ = translator(lang)._
    lines = [
        [_("Periodic report on residents' reports")],
        [report.committee_name, report.period.label(lang)],
        [_("Prepared on {date}", date=format_date(report.generated_on))],
    ]
    if report.suppressed:
        lines.append([_("Counts from 1 to 4 are shown as <5 to protect reporters.")])
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
    """The report as an Excel workbook: a summary sheet, by category, by commune."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    _ = translator(lang)._
    wb = Workbook()
    header = [_("Code"), _("Name"), *(_(FIGURE_LABELS[f]) for f in FIGURES)]

    def value(n: Count) -> int | str:
        return cell(n) if n is None else n

    summary = wb.active
    summary.title = _("Summary")[:31]
    for line in _title_lines(report, lang):
        summary.append(line)
    summary.append([])
    summary.append(header)
    summary.append([report.committee_code, report.committee_name, *(value(report.totals[f]) for f in FIGURES)])
    summary["A1"].font = Font(bold=True, size=13)
    for title, rows in ((_("By category"), report.by_category), (_("By commune"), report.by_commune)):
        ws = wb.create_sheet(title[:31])
        ws.append(header)
        for r in rows:
            ws.append([r.key, r.label, *(value(r.counts[f]) for f in FIGURES)])
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
        # Overdue as the queue counts it: an open case past its running deadline (first handling, or the answer).
        sa.select(C.committee_id, C.status, sa.func.count(), _flag(sa.and_(C.is_open == sa.true(), C.next_due_on < today))),
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
    on_time, late = deadlines_kept(session, ids, today=today, since=today - timedelta(days=365))
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


def deadlines_kept(session: Session, ids: list[int] | None, *, today: date, since: date) -> tuple[int, int]:
    """Answer deadlines met and missed so far (the dashboard's "Trả lời đúng hạn"), over committees `ids`.

    Met: the competent body's answer arrived on or before its deadline, counted on the day it arrived
    (from `since`), whether or not the deadline has come yet: a case answered on its first day counts.
    Missed: the deadline has passed (from `since`, before today) with no answer, or the answer came after it.
    """
    met, missed = session.execute(
        _scope(
            sa.select(
                _flag(sa.and_(C.result_on.is_not(None), C.result_on <= C.due_on, C.result_on >= since)),
                _flag(sa.and_(C.due_on >= since, C.due_on < today, sa.or_(C.result_on.is_(None), C.result_on > C.due_on))),
            ),
            ids,
        ).where(C.due_on.is_not(None), sa.or_(C.due_on >= since, C.result_on >= since))
    ).one()
    return int(met or 0), int(missed or 0)


def status_label(status: str, lang: str) -> str:
    return translator(lang)._(STATUS_LABELS.get(status, status))


AUDIENCES = ("external", "internal")  # external: leaves the committee, small counts suppressed
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
    """The periodic report as a file; unless kept inside the committee, counts under 5 are suppressed. Audited."""
    require(actor, Perm.EXPORT)
    if fmt not in FORMATS or audience not in AUDIENCES:
        raise InvalidInputError("unknown export")
    report = periodic_report(session, committee, period, today=today, lang=lang)
    if audience == "external":
        report = suppress(report)
    data = to_csv(report, lang).encode("utf-8") if fmt == "csv" else to_xlsx(report, lang)
    audit.record(
        session,
        "report.exported",
        actor_kind="staff",
        actor_id=actor.id,
        details={"committee": committee.code, "period": period.slug, "format": fmt, "audience": audience},
    )
    return Export(f"bao-cao-{committee.code}-{period.slug}.{fmt}", FORMATS[fmt], data)
