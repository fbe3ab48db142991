"""The dashboard and the periodic report (quarter, half-year, year) with its CSV and XLSX exports."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from admin import charts
from admin.auth import Staff, current_staff, db_session
from admin.views import render
from intake import reports
from intake.casework.policy import Perm, require
from intake.categories import CATEGORIES
from intake.deadlines import local_today
from intake.errors import InvalidInputError
from intake.labels import STATUS_LABELS

router = APIRouter(prefix="/admin")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, staff: Staff = Depends(current_staff), db: Session = Depends(db_session)) -> Response:
    """Charts of the committee's cases (and, read-only, of the committees below it)."""
    require(staff.user, Perm.VIEW)
    t, lang = staff.t, staff.user.language
    d = reports.dashboard(db, staff.committee, today=local_today(), lang=lang)
    return render(
        request,
        "dashboard.html",
        staff,
        d=d,
        chart_status=charts.hbars([(t._(STATUS_LABELS[s]), n) for s, n in d.by_status], title=t._("Cases by status")),
        chart_category=charts.hbars(
            [(t._(CATEGORIES[c].short) if c is not None else t._("Not classified"), n) for c, n in d.by_category],
            title=t._("Cases by category"),
        ),
        chart_commune=charts.hbars(d.by_commune, title=t._("Cases by commune")),
        chart_weekly=charts.columns([(w.strftime("%d/%m"), n) for w, n in d.weekly], title=t._("Reports received per week")),
        chart_on_time=charts.ratio(
            d.on_time,
            d.on_time + d.late,
            title=t._("Answered by the deadline"),
            caption=t._("{on_time} of {total} deadlines in the past 12 months were kept.", on_time=d.on_time, total=d.on_time + d.late),
        ),
    )


def _period(kind: str, year: str, index: str) -> reports.Period:
    today = local_today()
    try:
        return reports.make_period(kind or "quarter", int(year) if year.isdigit() else today.year, int(index) if index.isdigit() else 1)
    except ValueError as err:
        raise InvalidInputError("period") from err


@router.get("/reports", response_class=HTMLResponse)
def periodic(
    request: Request,
    kind: str = "",
    year: str = "",
    index: str = "",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """The periodic report on screen (for the committee itself: counts shown in full)."""
    require(staff.user, Perm.VIEW)
    today = local_today()
    if not kind:
        kind, year, index = "quarter", str(today.year), str((today.month - 1) // 3 + 1)
    period = _period(kind, year, index)
    report = reports.periodic_report(db, staff.committee, period, today=today, lang=staff.user.language)
    return render(
        request,
        "reports.html",
        staff,
        report=report,
        period=period,
        figures=[(f, staff.t._(reports.FIGURE_LABELS[f])) for f in reports.FIGURES],
        legend=[staff.t._(text) for text in reports.LEGEND],
        ended=period.ended(today),
        years=list(range(today.year, today.year - 6, -1)),
        cell=reports.cell,
    )


@router.get("/reports/export")
def export(
    kind: str = "",
    year: str = "",
    index: str = "",
    format: str = "xlsx",
    audience: str = "external",
    staff: Staff = Depends(current_staff),
    db: Session = Depends(db_session),
) -> Response:
    """The periodic report as CSV or XLSX; every count rounded to a multiple of 5 unless kept inside the committee."""
    out = reports.export_report(
        db,
        actor=staff.user,
        committee=staff.committee,
        period=_period(kind, year, index),
        fmt=format,
        audience=audience,
        today=local_today(),
        lang=staff.user.language,
    )
    db.commit()
    return Response(out.data, media_type=out.content_type, headers={"Content-Disposition": f'attachment; filename="{out.filename}"'})
