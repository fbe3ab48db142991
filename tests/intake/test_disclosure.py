"""Rounding for reports that leave a committee: multiples of 5 that add up, and no small count to be read."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake import reports
from intake.disclosure import cumulative_round, percent, round_in_order, round_to_base
from intake.models import Committee
from intake.report_figures import FLOW_KINDS, QUARTERS, YearFigures

counts = st.lists(st.integers(min_value=0, max_value=40), max_size=60)


def test_round_to_base() -> None:
    """0-2 round down, 3-4 up, to the nearest multiple of 5; a negative count is refused."""
    assert [round_to_base(n) for n in range(11)] == [0, 0, 0, 5, 5, 5, 5, 5, 10, 10, 10]
    with pytest.raises(ValueError):
        round_to_base(-1)


@given(counts)
def test_cumulative_rounding(values: list[int]) -> None:
    """Every rounded count is a multiple of 5 within 4 of the true one, zero stays zero, and every run of
    consecutive counts sums to within 4 of its true sum (the running totals are the rounded true ones)."""
    out = cumulative_round(values)
    assert len(out) == len(values)
    for true, shown in zip(values, out, strict=True):
        assert shown % 5 == 0 and shown >= 0 and abs(shown - true) <= 4
        assert true != 0 or shown == 0
        assert not 1 <= shown <= 4
    for i in range(len(values)):
        for j in range(i, len(values) + 1):
            assert abs(sum(out[i:j]) - sum(values[i:j])) <= 4
    assert sum(out) == round_to_base(sum(values))


def test_round_in_order_uses_the_order_and_treats_missing_as_zero() -> None:
    """Keys are rounded in the order given; a key with no count is a zero that stays zero."""
    assert round_in_order(["a", "b", "c"], {"a": 2, "c": 2}) == {"a": 0, "b": 0, "c": 5}
    assert round_in_order(["c", "b", "a"], {"a": 2, "c": 2}) == {"c": 0, "b": 0, "a": 5}


@pytest.mark.parametrize(("num", "den", "expected"), [(5, 8, 63), (1, 8, 13), (1, 3, 33), (2, 3, 67), (1, 2, 50), (0, 4, 0), (4, 4, 100), (0, 0, None)])
def test_percent_rounds_half_up(num: int, den: int, expected: int | None) -> None:
    """Percentages round half up (5/8 is 63 %); with nothing to share there is no rate."""
    assert percent(num, den) == expected


def _committee(cid: int, code: str) -> Committee:
    return Committee(id=cid, code=code, level="commune", name_vi=f"Ủy ban MTTQ Việt Nam xã {code}", name_en=code, unit_name=code)


@st.composite
def year_counts(draw: st.DrawFn) -> YearFigures:
    """A committee's year of counts, small ones mostly, in any shape."""
    committees = [_committee(i, f"C{i}") for i in range(1, draw(st.integers(1, 4)) + 1)]
    small = st.integers(0, 6)
    figures = YearFigures(
        year=2025,
        today=date(2026, 1, 10),
        rows={"category": [*range(1, 10), None], "committee": [c.id for c in committees]},
        flows={"category": Counter(), "committee": Counter()},
        stocks={"category": Counter(), "committee": Counter()},
        committees={c.id: c for c in committees if c.id is not None},
    )
    for _ in range(draw(st.integers(0, 60))):
        q, kind = draw(st.sampled_from(QUARTERS)), draw(st.sampled_from(FLOW_KINDS))
        category, committee = draw(st.sampled_from(figures.rows["category"])), draw(st.sampled_from(figures.rows["committee"]))
        n = draw(small)
        figures.flows["category"][(q, kind, category)] += n
        figures.flows["committee"][(q, kind, committee)] += n
    for q in QUARTERS:
        for _ in range(draw(st.integers(0, 6))):
            category, committee = draw(st.sampled_from(figures.rows["category"])), draw(st.sampled_from(figures.rows["committee"]))
            figures.stocks["category"][(q, category)] += 1
            figures.stocks["committee"][(q, committee)] += 1
    return figures


PERIODS = [reports.make_period("quarter", 2025, i) for i in (1, 2, 3, 4)] + [
    reports.make_period("half", 2025, 1), reports.make_period("half", 2025, 2), reports.make_period("year", 2025)
]


def _cells(report: reports.PeriodicReport) -> dict[tuple[str, str, str], int]:
    cells = {("total", "", f): int(report.totals[f] or 0) for f in reports.COUNTS}
    for section, rows in (("category", report.by_category), ("committee", report.by_committee)):
        cells.update({(section, r.key, f): int(r.counts[f] or 0) for r in rows for f in reports.COUNTS})
    return cells


@settings(max_examples=150, deadline=None)
@given(year_counts())
def test_every_export_of_a_year_adds_up_and_hides_small_counts(figures: YearFigures) -> None:
    """For any year of counts: every exported count is a multiple of 5; totals equal the sum of either table;
    half-years and the year are the sums of their quarters (the overdue stock is the last quarter's); handled
    is at least forwarded; and no differencing of exports ever gives a count from 1 to 4."""
    owner = next(iter(figures.committees.values()))
    shown = {p.slug: _cells(reports.build_report(figures, owner, p, protected=True)) for p in PERIODS}
    truth = {p.slug: _cells(reports.build_report(figures, owner, p)) for p in PERIODS}
    keys = {k for cells in shown.values() for k in cells}
    for slug, cells in shown.items():
        assert all(v % 5 == 0 and v >= 0 for v in cells.values())
        for f in reports.COUNTS:
            for section in ("category", "committee"):
                assert cells[("total", "", f)] == sum(v for (s, _r, g), v in cells.items() if s == section and g == f)
        for (section, row, _f) in keys:
            handled, forwarded, answered, on_time, late = (cells.get((section, row, f), 0) for f in ("handled", "forwarded", "answered", "on_time", "late"))
            assert handled >= forwarded and answered == on_time + late
        assert all(abs(cells[("total", "", f)] - truth[slug][("total", "", f)]) <= 4 for f in ("received", "handled", "answered", "notified", "overdue"))
    for key in keys:
        q = {slug: shown[slug].get(key, 0) for slug in shown}
        if key[2] == "overdue":
            assert q["2025-H1"] == q["2025-Q2"] and q["2025"] == q["2025-H2"] == q["2025-Q4"]
        else:
            assert q["2025-H1"] == q["2025-Q1"] + q["2025-Q2"] and q["2025-H2"] == q["2025-Q3"] + q["2025-Q4"]
            assert q["2025"] == q["2025-H1"] + q["2025-H2"]
    for slug, cells in truth.items():
        for key, true in cells.items():
            if 1 <= true <= 4:
                assert shown[slug].get(key, 0) != true
