"""Dashboard figures and the periodic report: counts, the committee tree, periods, rounding, exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from intake import reports
from intake.deadlines import local_today
from intake.models import AuditEntry, StaffRole
from tests.admin.conftest import BEN_THANH, HOAN_KIEM, committee, csrf_for, make_staff, quick_case, signed_in

NGOC_HA = "00008"  # another ward of Hà Nội
Q2 = reports.make_period("quarter", 2024, 2)
LATER = date(2025, 1, 15)


def _at(y: int, m: int, d: int, h: int = 3) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


def _seed(db: Session) -> None:
    """Q2 2024 in Bến Thành and the HCM province committee; noise outside the period and the province."""
    for k in range(6):
        quick_case(db, BEN_THANH, category=7, commune_code=BEN_THANH, received_at=_at(2024, 4, 3 + k))
    quick_case(db, BEN_THANH, category=5, commune_code=BEN_THANH, received_at=_at(2024, 5, 2),
               handled_at=_at(2024, 6, 1), notified_at=_at(2024, 6, 2), status="answered")
    # Forwarded in Q1, answered on time in Q2; another answered late; a third never answered.
    quick_case(db, BEN_THANH, category=7, commune_code=BEN_THANH, received_at=_at(2024, 3, 1), status="result",
               forwarded_on=date(2024, 3, 20), due_on=date(2024, 4, 17), result_on=date(2024, 4, 10), handled_at=_at(2024, 4, 10))
    quick_case(db, BEN_THANH, category=6, commune_code=BEN_THANH, received_at=_at(2024, 4, 1), status="result",
               forwarded_on=date(2024, 4, 2), due_on=date(2024, 5, 2), result_on=date(2024, 5, 20), handled_at=_at(2024, 5, 20))
    quick_case(db, BEN_THANH, category=6, commune_code=BEN_THANH, received_at=_at(2024, 4, 1), status="forwarded",
               forwarded_on=date(2024, 4, 2), due_on=date(2024, 5, 3))
    quick_case(db, "79", category=3, commune_code=None, received_at=_at(2024, 6, 30))
    # The quarter begins at midnight in Vietnam: 16:59 UTC on 31 March is still Q1, 17:00 is Q2.
    quick_case(db, BEN_THANH, category=9, commune_code=BEN_THANH, received_at=datetime(2024, 3, 31, 16, 59, tzinfo=UTC))
    quick_case(db, BEN_THANH, category=9, commune_code=BEN_THANH, received_at=datetime(2024, 3, 31, 17, 0, tzinfo=UTC))
    quick_case(db, BEN_THANH, category=7, commune_code=BEN_THANH, received_at=_at(2024, 7, 1))
    quick_case(db, HOAN_KIEM, category=7, commune_code=HOAN_KIEM, received_at=_at(2024, 4, 5))


def test_commune_report_counts(db: Session) -> None:
    """Received, handled (forwarded), settled on time and late, overdue at the end, told, and the rate, for one quarter."""
    _seed(db)
    r = reports.periodic_report(db, committee(db, BEN_THANH), Q2, today=LATER)
    assert r.totals == {
        "received": 10, "handled": 2, "forwarded": 2, "answered": 2, "on_time": 1, "late": 1, "overdue": 1,
        "notified": 1, "on_time_rate": 50,
    }
    by_cat = {row.key: row.counts["received"] for row in r.by_category}
    assert by_cat["7"] == 6 and by_cat["6"] == 2 and by_cat["5"] == 1 and by_cat["9"] == 1 and by_cat["3"] == 0
    assert [row.key for row in r.by_committee] == [BEN_THANH]


def test_province_report_includes_its_communes_only(db: Session) -> None:
    """The HCM province report adds its own cases to Bến Thành's, a row each; Hà Nội's stay out."""
    _seed(db)
    r = reports.periodic_report(db, committee(db, "79"), Q2, today=LATER)
    assert r.totals["received"] == 11
    assert {row.key for row in r.by_committee} == {BEN_THANH, "79"}
    central = reports.periodic_report(db, committee(db, "TW"), Q2, today=LATER)
    assert central.totals["received"] == 12
    assert {row.key: row.counts["received"] for row in central.by_committee} == {"79": 11, "01": 1}


def test_periods() -> None:
    """Quarters, halves and years start and end on Vietnam's calendar; nonsense is refused."""
    assert (Q2.start, Q2.end) == (date(2024, 4, 1), date(2024, 7, 1))
    h2 = reports.make_period("half", 2024, 2)
    assert (h2.start, h2.end) == (date(2024, 7, 1), date(2025, 1, 1))
    y = reports.make_period("year", 2024)
    assert (y.start, y.end, y.slug) == (date(2024, 1, 1), date(2025, 1, 1), "2024")
    for bad in (("quarter", 2024, 5), ("half", 2024, 0), ("week", 2024, 1), ("year", 1900, 1)):
        with pytest.raises(ValueError):
            reports.make_period(*bad)


def test_csv_and_xlsx_exports(db: Session) -> None:
    """CSV opens with a byte-order mark and rounds every count to a multiple of 5; the workbook has the same figures."""
    _seed(db)
    rep = reports.periodic_report(db, committee(db, BEN_THANH), Q2, today=LATER, protected=True)
    text = reports.to_csv(rep)
    assert text.startswith("\ufeff") and "<5" not in text
    rows = list(csv.reader(io.StringIO(text[1:])))
    total = next(r for r in rows if len(r) == 12 and r[1] == BEN_THANH and r[2].startswith("Ủy ban"))
    counts = [int(v) for v in total[3:-1]]
    assert all(v % 5 == 0 for v in counts) and abs(counts[0] - 10) <= 4
    assert total[-1] == "—" or total[-1].endswith("%")
    assert any("bội số của 5" in line[0] for line in rows if line)
    wb = load_workbook(io.BytesIO(reports.to_xlsx(rep)))
    assert len(wb.sheetnames) == 3
    summary = wb[wb.sheetnames[0]]
    values = [c.value for row in summary.iter_rows() for c in row]
    assert counts[0] in values and all(v % 5 == 0 for v in values if isinstance(v, int))


def test_export_route_rounds_by_default_and_audits(db: Session) -> None:
    """The export leaving the committee rounds every count; the internal one does not; both are audited."""
    _seed(db)
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    out = client.get("/admin/reports/export?kind=quarter&year=2024&index=2&format=csv")
    assert out.status_code == 200 and out.headers["content-type"].startswith("text/csv")
    assert 'filename="bao-cao-26743-2024-Q2.csv"' in out.headers["content-disposition"]
    total = next(r for r in csv.reader(io.StringIO(out.text.lstrip("\ufeff"))) if len(r) == 12 and r[1] == BEN_THANH)
    assert all(int(v) % 5 == 0 for v in total[3:-1])
    inside = client.get("/admin/reports/export?kind=quarter&year=2024&index=2&format=csv&audience=internal")
    total = next(r for r in csv.reader(io.StringIO(inside.text.lstrip("\ufeff"))) if len(r) == 12 and r[1] == BEN_THANH)
    assert total[3:] == ["10", "2", "2", "2", "1", "1", "1", "1", "50%"]
    xlsx = client.get("/admin/reports/export?kind=quarter&year=2024&index=2&format=xlsx")
    assert xlsx.content[:2] == b"PK"
    entries = db.exec(select(AuditEntry).where(AuditEntry.action == "report.exported").order_by(AuditEntry.id)).all()  # type: ignore[arg-type]
    assert [e.details["audience"] for e in entries] == ["external", "internal", "external"]
    assert client.get("/admin/reports/export?format=pdf").status_code == 400
    assert client.get("/admin/reports/export?kind=quarter&index=9&format=csv").status_code == 400


def test_a_report_leaves_the_committee_only_once_its_period_is_over(db: Session) -> None:
    """Exported day after day, a quarter in progress would show the day a count crosses a rounding step: the
    rounded export waits for the period's end; the internal one does not."""
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    today = local_today()
    this_year = f"kind=year&year={today.year}"
    assert client.get(f"/admin/reports/export?{this_year}&format=csv").status_code == 400
    assert client.get(f"/admin/reports/export?{this_year}&format=csv&audience=internal").status_code == 200
    assert client.get(f"/admin/reports/export?kind=year&year={today.year - 1}&format=csv").status_code == 200
    page = client.get(f"/admin/reports?{this_year}").text
    assert "export-xlsx" not in page and "audience=internal" in page
    assert "export-xlsx" in client.get(f"/admin/reports?kind=year&year={today.year - 1}").text


def test_report_page(db: Session) -> None:
    """The report page shows the quarter's table with full counts for the committee itself."""
    _seed(db)
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    html = client.get("/admin/reports?kind=quarter&year=2024&index=2").text
    assert '<td class="num">10</td>' in html and "<5" not in html.replace("&lt;5", "<5").split("</form>", 1)[1].split("<table", 1)[1]


def test_dashboard_figures(db: Session) -> None:
    """Status, category, weekly and deadline figures over the committee and those below it."""
    today = local_today()
    quick_case(db, BEN_THANH, category=7, commune_code=BEN_THANH)
    quick_case(db, BEN_THANH, category=7, commune_code=BEN_THANH, days_ago=8)
    quick_case(db, BEN_THANH, status="result", category=6, commune_code=BEN_THANH, days_ago=40,
               due_on=today - timedelta(days=10), result_on=today - timedelta(days=12))
    quick_case(db, BEN_THANH, status="forwarded", category=6, commune_code=BEN_THANH, days_ago=100, due_on=today - timedelta(days=1))
    quick_case(db, "79", category=3)
    d = reports.dashboard(db, committee(db, "79"), today=today)
    assert d.total == 5 and dict(d.by_status)["forwarded"] == 1
    assert dict(d.by_category)[7] == 2 and sum(n for _, n in d.weekly) == 4  # 12 weeks: the case of 100 days ago is out
    assert (d.on_time, d.late, d.on_time_rate) == (1, 1, 0.5)
    (sub,) = d.sub_committees
    assert sub.committee.code == BEN_THANH and (sub.total, sub.open, sub.overdue) == (4, 4, 1)
    commune = reports.dashboard(db, committee(db, BEN_THANH), today=today)
    assert commune.total == 4 and commune.sub_committees == []


def test_dashboard_page_draws_svg_and_shows_communes_read_only(db: Session) -> None:
    """The province's dashboard draws its charts as inline SVG and lists its communes' counts without links."""
    case = quick_case(db, BEN_THANH, category=7, commune_code=BEN_THANH)
    client = signed_in(make_staff(db, "tinh", "79"))
    html = client.get("/admin/dashboard").text
    assert html.count("<svg") == 5 and "<script" not in html
    assert 'id="sub-committees"' in html and "Bến Thành" in html and f"/admin/cases/{case.id}" not in html
    assert client.get(f"/admin/cases/{case.id}").status_code == 404  # counts only, never the commune's cases


def test_report_figures_ignore_another_province(db: Session) -> None:
    """A Hà Nội ward's dashboard knows nothing of Hồ Chí Minh City's cases."""
    quick_case(db, BEN_THANH)
    assert reports.dashboard(db, committee(db, NGOC_HA), today=local_today()).total == 0


def test_viewer_sees_reports_but_cannot_export(db: Session) -> None:
    """Viewers read the report on screen; exporting it is for officers and above."""
    client = signed_in(make_staff(db, "xem", BEN_THANH, StaffRole.VIEWER))
    assert client.get("/admin/reports").status_code == 200
    assert client.get("/admin/reports/export?format=csv").status_code == 404
    assert "export-xlsx" not in client.get("/admin/reports").text
    assert csrf_for(client)


def test_a_transfer_never_rewrites_a_past_period(db: Session) -> None:
    """A ward's Q1 stays as it was when the case moves to the province in Q2: the ward received it and handled it
    (by the transfer, in Q2); the province received it on the transfer date; nobody's Q1 changes."""
    from intake.casework import actions
    from tests.admin.test_report_check import clock

    case = quick_case(db, BEN_THANH, category=7, received_at=_at(2024, 3, 10))
    chair = make_staff(db, "ctbt", BEN_THANH, StaffRole.CHAIR).user
    q1, q2 = reports.make_period("quarter", 2024, 1), Q2
    before = {code: reports.periodic_report(db, committee(db, code), q1, today=LATER) for code in (BEN_THANH, "79")}
    with clock() as now:
        now[0] = datetime(2024, 5, 2, 5, tzinfo=UTC)
        actions.transfer_case(db, case=case, actor=chair, to_committee=committee(db, "79"), reason="Thuộc cấp tỉnh.")
        db.commit()
    for code in (BEN_THANH, "79"):
        assert reports.periodic_report(db, committee(db, code), q1, today=LATER).totals == before[code].totals
    ward = reports.periodic_report(db, committee(db, BEN_THANH), q2, today=LATER).totals
    assert (ward["received"], ward["handled"], ward["forwarded"]) == (0, 1, 0)
    province = reports.periodic_report(db, committee(db, "79"), q2, today=LATER)
    assert {r.key: (r.counts["received"], r.counts["handled"]) for r in province.by_committee} == {"79": (1, 0), BEN_THANH: (0, 1)}
    assert before[BEN_THANH].totals["received"] == 1


def test_by_committee_means_the_committee_holding_the_case_not_the_place_written(db: Session) -> None:
    """A case held by the province about a place in a ward counts in the province's own row."""
    quick_case(db, "79", category=7, commune_code=BEN_THANH, received_at=_at(2024, 4, 10))
    r = reports.periodic_report(db, committee(db, "79"), Q2, today=LATER)
    assert [(row.key, row.counts["received"]) for row in r.by_committee] == [("79", 1)]


def test_database_counting_equals_case_by_case_on_untidy_data(db: Session) -> None:
    """Cases written straight to the table as the admin benchmark does (statuses without every date, category 0,
    today inside a quarter): the one-query count and the case-by-case reading agree."""
    import random

    from intake.report_figures import year_figures

    rng = random.Random(3)
    statuses = ["new", "verifying", "forwarded", "result", "answered", "closed", "out_of_scope", "duplicate"]
    for _ in range(150):
        status = rng.choice(statuses)
        received = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=rng.uniform(0, 500))
        fields: dict[str, object] = {"category": rng.randint(0, 9), "received_at": received}
        if status in ("forwarded", "result", "answered", "closed") and rng.random() < 0.8:
            forwarded = (received + timedelta(days=rng.randint(0, 20))).date()
            fields.update(forwarded_on=forwarded, due_on=forwarded + timedelta(days=28))
            if status != "forwarded":
                fields.update(result_on=forwarded + timedelta(days=rng.randint(5, 60)))
        if status in ("answered", "closed") and rng.random() < 0.7:
            fields.update(notified_at=received + timedelta(days=rng.randint(20, 90)))
        if status in ("closed", "out_of_scope", "duplicate") and rng.random() < 0.5:
            fields.update(handled_at=received + timedelta(days=rng.randint(1, 40)))
        if status == "closed" and rng.random() < 0.5:
            fields.update(closed_at=received + timedelta(days=rng.randint(30, 100)))
        quick_case(db, rng.choice([BEN_THANH, NGOC_HA, "79", HOAN_KIEM]), status=status, **fields)
    for code in ("79", BEN_THANH, "TW"):
        for year, today in ((2024, date(2025, 2, 1)), (2025, date(2025, 5, 17))):
            fast = year_figures(db, committee(db, code), year, today=today)
            slow = year_figures(db, committee(db, code), year, today=today, in_database=False)
            assert fast.flows == slow.flows and fast.stocks == slow.stocks, (code, year)
