"""The independent check of the periodic report (issue 17, item 8).

A year of casework is played through the real actions, at the times a scenario says: filings, transfers
and escalations (one bouncing back), forwardings, settlements typed in weeks after they arrived,
replies telling the result, merges, closures, out-of-scope decisions, reclassifications. The expected
figures are computed here from the scenario alone, by a deliberately simple reading of the rules
written for this test; the report must match them cell by cell for every quarter, half-year and the
year. Then the exports that leave the committee are attacked: differencing (a total minus its shown
cells, Q1 + Q2 against H1, the year minus H1, ...) and an interval attacker that combines every
relation between every exported figure. No count from 1 to 4 may be learnt, or even shown to be small.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from intake import reports
from intake.casework import actions, messages
from intake.dates import VIETNAM_TZ
from intake.db import get_engine
from intake.i18n import translator
from intake.models import Case, Committee, StaffRole, StaffUser
from tests.admin.conftest import BEN_THANH, HOAN_KIEM, committee, make_staff, quick_case
from tests.conftest import empty_database

YEAR = 2024
TODAY = date(2025, 1, 15)
PROVINCE = "79"
NGOC = "26740"  # Phường Sài Gòn, HCM: a second ward of the province
PERIODS = {
    "Q1": reports.make_period("quarter", YEAR, 1),
    "Q2": reports.make_period("quarter", YEAR, 2),
    "Q3": reports.make_period("quarter", YEAR, 3),
    "Q4": reports.make_period("quarter", YEAR, 4),
    "H1": reports.make_period("half", YEAR, 1),
    "H2": reports.make_period("half", YEAR, 2),
    "Y": reports.make_period("year", YEAR),
}
QUARTER_ENDS = {1: date(YEAR, 3, 31), 2: date(YEAR, 6, 30), 3: date(YEAR, 9, 30), 4: date(YEAR, 12, 31)}
COUNT_FIGURES = ("received", "handled", "forwarded", "answered", "on_time", "late", "overdue", "notified")
FLOWS = ("received", "handled", "forwarded", "answered", "on_time", "late", "notified")


# -- the scenario: what happened, as the test itself records it ------------------------------------------


@dataclass
class Story:
    """One report's life as the scenario wrote it; the expected figures are read from these alone."""

    key: int
    category: int | None
    filed_on: date
    filed_at: str  # committee code
    moves: list[tuple[date, str, str]] = field(default_factory=list)  # (day, from, to)
    forwarded: tuple[date, str] | None = None  # (day, by)
    settled_on: date | None = None
    late: bool | None = None  # decided by the scenario: answered well within or well after the deadline
    ended: tuple[date, str] | None = None  # out of scope, merged or closed unforwarded: (day, by)
    told_on: date | None = None
    merged_into: int | None = None
    due_hint: date | None = None  # the hand-computed deadline, for the few cases that need it

    def holder(self, day: date) -> str:
        """Who holds the case at the end of a day (moves happen at noon)."""
        holder = self.filed_at
        for moved_on, _source, target in self.moves:
            if moved_on <= day:
                holder = target
        return holder


@dataclass(order=True)
class Step:
    at: datetime
    key: int
    action: str = field(compare=False)
    args: dict[str, Any] = field(default_factory=dict, compare=False)


def _noon(day: date, minutes: int = 0) -> datetime:
    return datetime.combine(day, time(12, 0), VIETNAM_TZ) + timedelta(minutes=minutes)


def _days(rng: random.Random, a: int, b: int) -> timedelta:
    return timedelta(days=rng.randint(a, b))


def _safe_for_overdue(forwarded: date, answered: date | None) -> bool:
    """At every quarter end between forwarding and answer, the case is clearly overdue or clearly not.

    The legal deadline is 20 working days: at least 28 and, across Tết, at most about 45 days.
    """
    for end in QUARTER_ENDS.values():
        if forwarded <= end and (answered is None or answered > end) and 25 < (end - forwarded).days < 60:
            return False
    return True


def scenario(seed: int = 17) -> tuple[list[Story], list[Step]]:
    """About seventy reports across two wards, the province and a ward of another province."""
    rng = random.Random(seed)
    committees = [BEN_THANH] * 5 + [NGOC] * 3 + [PROVINCE] * 2 + [HOAN_KIEM]
    stories: list[Story] = []
    steps: list[Step] = []

    def add(story: Story, at: datetime, action: str, **args: object) -> None:
        steps.append(Step(at, story.key, action, args))

    for key in range(64):
        filed_at = rng.choice(committees)
        filed_on = date(YEAR, 1, 2) + _days(rng, 0, 340)
        category = rng.choice([*range(1, 10), 7, 7, 5, None])
        story = Story(key, category, filed_on, filed_at)
        stories.append(story)
        holder, day = filed_at, filed_on
        plan = rng.choices(["idle", "scope", "close", "forward", "move", "merge"], [8, 8, 6, 48, 18, 12])[0]
        if plan == "merge":
            primaries = [s for s in stories[:-1] if s.filed_at == filed_at and not s.moves and s.merged_into is None
                         and s.ended is None and s.filed_on <= filed_on]
            if not primaries:
                plan = "forward"
            else:
                primary = rng.choice(primaries)
                merged_on = filed_on + _days(rng, 0, 12)
                story.merged_into, story.ended = primary.key, (merged_on, filed_at)
                add(story, _noon(merged_on, 5), "merge", into=primary.key)
                continue
        if plan == "idle":
            continue
        accepted_on = day + _days(rng, 0, 4)
        add(story, _noon(accepted_on, 1), "accept")
        day = accepted_on
        if plan == "scope":
            story.ended = (day + _days(rng, 1, 10), holder)
            add(story, _noon(story.ended[0], 2), "out_of_scope")
            continue
        if plan == "close":
            story.ended = (day + _days(rng, 1, 20), holder)
            add(story, _noon(story.ended[0], 2), "close")
            continue
        if plan == "move":
            targets = [c for c in (BEN_THANH, NGOC, PROVINCE, HOAN_KIEM) if c != holder]
            target = rng.choice(targets)
            moved_on = day + _days(rng, 1, 15)
            story.moves.append((moved_on, holder, target))
            add(story, _noon(moved_on, 3), "escalate" if target == PROVINCE and holder in (BEN_THANH, NGOC) else "transfer", to=target)
            holder, day = target, moved_on
            if key % 5 == 0 and holder != filed_at:  # it comes back: received twice, counted once
                back_on = day + _days(rng, 1, 10)
                story.moves.append((back_on, holder, filed_at))
                add(story, _noon(back_on, 3), "transfer", to=filed_at)
                holder, day = filed_at, back_on
            if rng.random() < 0.3:
                continue
        # forward, then perhaps a settlement (typed in late, sometimes), a reply and a closure
        outcome = rng.choice(["waiting", "on_time", "on_time", "late"])
        for _ in range(50):
            forwarded_on = day + _days(rng, 0, 10)
            settled_on = None
            if outcome == "on_time":
                settled_on = forwarded_on + _days(rng, 1, 12)
            elif outcome == "late":
                settled_on = forwarded_on + _days(rng, 75, 100)
            if _safe_for_overdue(forwarded_on, settled_on):
                break
        else:
            outcome, settled_on = "on_time", forwarded_on + timedelta(days=3)
        story.forwarded = (forwarded_on, holder)
        add(story, _noon(forwarded_on, 4), "forward", on=forwarded_on)
        if settled_on is None:
            continue
        story.settled_on, story.late = settled_on, outcome == "late"
        typed_on = settled_on + (_days(rng, 5, 30) if rng.random() < 0.3 else timedelta(0))
        add(story, _noon(typed_on, 6), "settle", on=settled_on)
        if rng.random() < 0.75:
            told_on = typed_on + _days(rng, 0, 10)
            story.told_on = told_on
            add(story, _noon(told_on, 7), "tell")
            if rng.random() < 0.5:
                add(story, _noon(told_on + _days(rng, 1, 5), 8), "close_answered")
        if rng.random() < 0.1:
            story.category = rng.choice([c for c in range(1, 10) if c != story.category])
            add(story, _noon(filed_on + timedelta(days=1), 0), "reclassify", to=story.category)

    # Two settlements on each side of a deadline computed by hand: forwarded Monday 9/9/2024 (after the
    # National Day holidays), the 20th working day is Monday 7/10/2024.
    for key, settled in ((100, date(YEAR, 10, 7)), (101, date(YEAR, 10, 8))):
        story = Story(key, 3, date(YEAR, 9, 6), BEN_THANH, forwarded=(date(YEAR, 9, 9), BEN_THANH), settled_on=settled,
                      late=settled > date(YEAR, 10, 7), due_hint=date(YEAR, 10, 7), told_on=settled)
        stories.append(story)
        steps += [Step(_noon(date(YEAR, 9, 9), 4), key, "forward", {"on": date(YEAR, 9, 9)}),
                  Step(_noon(settled, 6), key, "settle", {"on": settled}), Step(_noon(settled, 7), key, "tell")]
    # Settled on 28/3 (Q1), typed in on 15/4 (Q2): it counts in Q1.
    story = Story(102, 6, date(YEAR, 3, 1), NGOC, forwarded=(date(YEAR, 3, 4), NGOC), settled_on=date(YEAR, 3, 28), late=False)
    stories.append(story)
    steps += [Step(_noon(date(YEAR, 3, 4), 4), 102, "forward", {"on": date(YEAR, 3, 4)}),
              Step(_noon(date(YEAR, 4, 15), 6), 102, "settle", {"on": date(YEAR, 3, 28)})]
    # Moved from a ward to the province on the last day of Q1: the ward handled it in Q1, the province received it then.
    story = Story(103, 2, date(YEAR, 2, 20), BEN_THANH, moves=[(date(YEAR, 3, 31), BEN_THANH, PROVINCE)])
    stories.append(story)
    steps.append(Step(_noon(date(YEAR, 3, 31), 3), 103, "escalate", {"to": PROVINCE}))
    # A reply to a case with duplicates tells every reporter: each duplicate counts as told.
    primary = Story(104, 8, date(YEAR, 5, 6), BEN_THANH, forwarded=(date(YEAR, 5, 7), BEN_THANH), settled_on=date(YEAR, 5, 20),
                    late=False, told_on=date(YEAR, 7, 2))
    stories.append(primary)
    steps += [Step(_noon(date(YEAR, 5, 7), 4), 104, "forward", {"on": date(YEAR, 5, 7)}),
              Step(_noon(date(YEAR, 5, 20), 6), 104, "settle", {"on": date(YEAR, 5, 20)}),
              Step(_noon(date(YEAR, 7, 2), 7), 104, "tell")]
    for key in (105, 106):
        dup = Story(key, None, date(YEAR, 5, 8), BEN_THANH, ended=(date(YEAR, 5, 9), BEN_THANH), merged_into=104, told_on=date(YEAR, 7, 2))
        stories.append(dup)
        steps.append(Step(_noon(date(YEAR, 5, 9), 5), key, "merge", {"into": 104}))
    # Merged duplicates are told when the primary's result is told after their merge.
    by_key = {s.key: s for s in stories}
    for s in stories:
        if s.merged_into is not None and s.key < 100:
            p = by_key[s.merged_into]
            # On the merge day itself the merge (12:05) comes before any reply (12:07).
            s.told_on = p.told_on if p.told_on is not None and s.ended is not None and p.told_on >= s.ended[0] else None
    return stories, sorted(steps)


# -- the expected figures, read from the scenario --------------------------------------------------------


def expected_events(stories: list[Story]) -> list[tuple[str, date, str, int | None]]:
    """(figure, day, committee credited, category) for every flow event, by the rules in the report's legend."""
    out: list[tuple[str, date, str, int | None]] = []
    for s in stories:
        received = {s.filed_at: s.filed_on}
        for moved_on, _source, target in s.moves:
            received.setdefault(target, moved_on)
        out += [("received", day, who, s.category) for who, day in received.items()]
        firsts: dict[str, tuple[date, int, str]] = {}
        candidates = [(moved_on, 1, source, "other") for moved_on, source, _target in s.moves]
        if s.forwarded:
            candidates.append((s.forwarded[0], 0, s.forwarded[1], "forwarded"))
        if s.ended:
            candidates.append((s.ended[0], 1, s.ended[1], "other"))
        for day, order, who, kind in candidates:
            if who not in firsts or (day, order) < firsts[who][:2]:
                firsts[who] = (day, order, kind)
        for who, (day, _order, kind) in firsts.items():
            out.append(("handled", day, who, s.category))
            if kind == "forwarded":
                out.append(("forwarded", day, who, s.category))
        if s.settled_on is not None:
            who = s.holder(s.settled_on)
            out += [("answered", s.settled_on, who, s.category), ("late" if s.late else "on_time", s.settled_on, who, s.category)]
        if s.told_on is not None:
            out.append(("notified", s.told_on, s.holder(s.told_on), s.category))
    return out


def expected_overdue(stories: list[Story], day: date) -> list[tuple[str, int | None]]:
    """(committee, category) of the cases forwarded, past their deadline and unanswered at the end of `day`."""
    out = []
    for s in stories:
        if s.forwarded is None or s.forwarded[0] > day or (s.settled_on is not None and s.settled_on <= day):
            continue
        due = s.due_hint or s.forwarded[0] + timedelta(days=42)  # _safe_for_overdue keeps far from the edge
        if due < day:
            out.append((s.holder(day), s.category))
    return out


def expected_table(stories: list[Story], period: reports.Period, rows_of: dict[str, str]) -> dict[tuple[str, object], dict[str, int]]:
    """{(table, row): {figure: count}} for a report whose committee rows are `rows_of` (committee -> row code)."""
    table: dict[tuple[str, object], Counter[str]] = {}

    def bump(who: str, category: int | None, figure: str) -> None:
        row = rows_of.get(who)
        if row is None:
            return
        for key in (("total", ""), ("category", "" if category is None else str(category)), ("committee", row)):
            table.setdefault(key, Counter())[figure] += 1

    for figure, day, who, category in expected_events(stories):
        if period.start <= day < period.end:
            bump(who, category, figure)
    for who, category in expected_overdue(stories, min(period.end - timedelta(days=1), TODAY)):
        bump(who, category, "overdue")
    return {k: {f: v[f] for f in COUNT_FIGURES} for k, v in table.items()}


# -- playing the scenario through the real actions ---------------------------------------------------------


@contextmanager
def clock() -> Iterator[list[datetime]]:
    """The actions' clock, set by the scenario."""
    now = [datetime(YEAR, 1, 1, tzinfo=VIETNAM_TZ)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(actions, "utcnow", lambda: now[0])
        mp.setattr(actions, "local_today", lambda: now[0].astimezone(VIETNAM_TZ).date())
        mp.setattr(messages, "local_today", lambda: now[0].astimezone(VIETNAM_TZ).date())
        yield now


def play(db: Session, clock: list[datetime], stories: list[Story], steps: list[Step]) -> None:
    """Files every report and runs every step in time order, each action by a chair of the holding committee."""
    chairs: dict[str, StaffUser] = {code: make_staff(db, f"chair{code}", code, StaffRole.CHAIR).user
                                    for code in (BEN_THANH, NGOC, PROVINCE, HOAN_KIEM)}
    by_id: dict[int, Committee] = {committee(db, code).id: committee(db, code) for code in chairs}  # type: ignore[misc]
    cases: dict[int, Case] = {}
    for s in stories:
        cases[s.key] = quick_case(db, s.filed_at, category=s.category, received_at=_noon(s.filed_on, -60))
    for step in steps:
        clock[0] = step.at
        case = db.get(Case, cases[step.key].id)
        assert case is not None
        actor = chairs[by_id[case.committee_id].code]
        a = step.args
        if step.action == "accept":
            actions.accept_case(db, case=case, actor=actor)
        elif step.action == "out_of_scope":
            actions.mark_out_of_scope(db, case=case, actor=actor, reason="Không thuộc phạm vi giám sát.")
        elif step.action in ("close", "close_answered"):
            actions.close_case(db, case=case, actor=actor)
        elif step.action == "transfer":
            actions.transfer_case(db, case=case, actor=actor, to_committee=committee(db, a["to"]), reason="Đúng thẩm quyền.")
        elif step.action == "escalate":
            actions.escalate_case(db, case=case, actor=actor, reason="Lên cấp trên.")
        elif step.action == "forward":
            actions.record_forwarding(db, case=case, actor=actor, body_kind="inspection_commission", body_name="UBKT",
                                      forwarded_on=a["on"])
        elif step.action == "settle":
            actions.record_result(db, case=case, actor=actor, result_on=a["on"], text="Đã kiểm tra, xử lý.")
        elif step.action == "tell":
            actions.reply_to_resident(db, case=case, actor=actor, text="Kết quả giải quyết: đã xử lý.", tells_result=True)
        elif step.action == "merge":
            primary_id = cases[a["into"]].id
            assert primary_id is not None
            actions.merge_cases(db, duplicate=case, primary_id=primary_id, actor=actor)
        elif step.action == "reclassify":
            actions.reclassify_case(db, case=case, actor=actor, category=a["to"])
        else:  # pragma: no cover - a typo in the scenario
            raise AssertionError(step.action)
        db.commit()


@pytest.fixture(scope="module")
def world(migrated: None) -> Iterator[tuple[Session, list[Story]]]:
    """The scenario played once for this module's tests, on an emptied database (SQLite or PostgreSQL)."""
    empty_database()
    stories, steps = scenario()
    with Session(get_engine(), expire_on_commit=False) as session, clock() as now:
        play(session, now, stories, steps)
        yield session, stories


@pytest.fixture()
def db(world: tuple[Session, list[Story]]) -> Session:
    return world[0]


@pytest.fixture()
def played(world: tuple[Session, list[Story]]) -> list[Story]:
    return world[1]


def _report_cells(report: reports.PeriodicReport) -> dict[tuple[str, object], dict[str, int]]:
    cells: dict[tuple[str, object], dict[str, int]] = {("total", ""): {f: int(report.totals[f] or 0) for f in COUNT_FIGURES}}
    for r in report.by_category:
        cells[("category", r.key)] = {f: int(r.counts[f] or 0) for f in COUNT_FIGURES}
    for r in report.by_committee:
        cells[("committee", r.key)] = {f: int(r.counts[f] or 0) for f in COUNT_FIGURES}
    return cells


def _nonzero(cells: dict[tuple[str, object], dict[str, int]]) -> dict[tuple[str, object], dict[str, int]]:
    return {k: v for k, v in cells.items() if any(v.values())}


PROVINCE_ROWS = {BEN_THANH: BEN_THANH, NGOC: NGOC, PROVINCE: PROVINCE}


def test_every_figure_matches_the_independent_count(db: Session, played: list[Story]) -> None:
    """Each cell of the province's and the ward's reports, for Q1-Q4, both halves and the year, equals the count
    read from the scenario; the central committee's year folds each province's communes into its row."""
    province = committee(db, PROVINCE)
    for name, period in PERIODS.items():
        got = reports.periodic_report(db, province, period, today=TODAY)
        assert _nonzero(_report_cells(got)) == _nonzero(expected_table(played, period, PROVINCE_ROWS)), name
        total = got.totals
        rate = None if not total["answered"] else (200 * int(total["on_time"] or 0) + int(total["answered"] or 0)) // (2 * int(total["answered"] or 0))
        assert total["on_time_rate"] == rate, name
    ward = committee(db, BEN_THANH)
    for name in ("Q1", "Q3", "Y"):
        got = reports.periodic_report(db, ward, PERIODS[name], today=TODAY)
        assert _nonzero(_report_cells(got)) == _nonzero(expected_table(played, PERIODS[name], {BEN_THANH: BEN_THANH})), name
    central = reports.periodic_report(db, committee(db, "TW"), PERIODS["Y"], today=TODAY)
    folded = {BEN_THANH: PROVINCE, NGOC: PROVINCE, PROVINCE: PROVINCE, HOAN_KIEM: "01"}
    assert _nonzero(_report_cells(central)) == _nonzero(expected_table(played, PERIODS["Y"], folded))


def test_the_scenario_exercises_what_the_issue_names(played: list[Story]) -> None:
    """The scenario holds transfers, a return, late typing, duplicates told, settlements on both sides of a deadline."""
    events = expected_events(played)
    assert sum(1 for s in played if s.moves) >= 8 and any(len(s.moves) == 2 for s in played)
    assert sum(1 for s in played if s.merged_into is not None) >= 4
    assert {"on_time", "late", "notified", "forwarded"} <= {e[0] for e in events}
    assert any(s.due_hint and s.late for s in played) and any(s.due_hint and not s.late for s in played)
    assert expected_overdue(played, QUARTER_ENDS[2]) and expected_overdue(played, QUARTER_ENDS[4])
    small = [v for key, cells in expected_table(played, PERIODS["Q1"], PROVINCE_ROWS).items() for v in cells.values() if 1 <= v <= 4]
    assert len(small) >= 20  # plenty of small counts for the attacker to go after


# -- the attacker -------------------------------------------------------------------------------------------


def _parse(csv_text: str) -> dict[tuple[str, str, str], int]:
    """An exported CSV as {(section, row code, figure): value}; the rate column is left out (it is derived)."""
    _ = translator("vi")._
    rows = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    header_at = next(i for i, r in enumerate(rows) if len(r) > 3 and r[0] == _("Section"))
    cells: dict[tuple[str, str, str], int] = {}
    sections = {_("Total"): "total", _("Category"): "category", _("Committee holding the case"): "committee"}
    for r in rows[header_at + 1:]:
        section = sections[r[0]]
        for figure, value in zip(COUNT_FIGURES, r[3:-1], strict=True):
            cells[(section, "" if section == "total" else r[1], figure)] = int(value)
    return cells


@pytest.fixture(scope="module")
def exports(world: tuple[Session, list[Story]]) -> dict[str, dict[tuple[str, str, str], int]]:
    """Every external export the province committee can make of the year, as an outsider would read it."""
    db = world[0]
    officer = make_staff(db, "cbtinh", PROVINCE).user
    out = {}
    for name, period in PERIODS.items():
        export = reports.export_report(db, actor=officer, committee=committee(db, PROVINCE), period=period, fmt="csv", today=TODAY)
        text = export.data.decode("utf-8")
        assert "<5" not in text
        out[name] = _parse(text)
    return out


def _keys(exports: dict[str, dict[tuple[str, str, str], int]]) -> set[tuple[str, str, str]]:
    return {k for cells in exports.values() for k in cells} | {("total", "", f) for f in COUNT_FIGURES}


def _true(db: Session, stories: list[Story]) -> dict[str, dict[tuple[str, str, str], int]]:
    out = {}
    for name, period in PERIODS.items():
        table = expected_table(stories, period, PROVINCE_ROWS)
        out[name] = {(t, str(r), f): v[f] for (t, r), v in table.items() for f in COUNT_FIGURES}
    return out


def _get(cells: dict[tuple[str, str, str], int], key: tuple[str, str, str]) -> int:
    return cells.get(key, 0)  # a row not exported shows nothing: zero


def _error_bound(key: tuple[str, str, str], quarters: int) -> int:
    """How far an exported count may be from the true one, as the export's legend says."""
    section, _row, figure = key
    if figure == "overdue" or section == "total" and figure in ("received", "handled", "answered", "notified"):
        return 4
    return 4 * quarters * (2 if figure in ("handled", "answered") else 1)


def test_exports_are_rounded_and_add_up_everywhere(db: Session, played: list[Story],
                                                   exports: dict[str, dict[tuple[str, str, str], int]]) -> None:
    """Every exported count is a multiple of 5, near the truth, and every table and period adds up exactly."""
    truth = _true(db, played)
    keys = _keys(exports)
    for name, cells in exports.items():
        quarters = len(PERIODS[name].quarters)
        for key, value in cells.items():
            assert value % 5 == 0 and value >= 0, (name, key)
            true = _get(truth[name], key)
            assert abs(value - true) <= _error_bound(key, quarters), (name, key, value, true)
        for figure in COUNT_FIGURES:
            total = _get(cells, ("total", "", figure))
            for section in ("category", "committee"):
                assert total == sum(v for (s, _r, f), v in cells.items() if s == section and f == figure), (name, section, figure)
        for (section, row, figure) in keys:
            key = (section, row, figure)
            assert _get(cells, (section, row, "handled")) >= _get(cells, (section, row, "forwarded"))
            assert _get(cells, (section, row, "answered")) == _get(cells, (section, row, "on_time")) + _get(cells, (section, row, "late"))
    for key in keys:
        get = {name: _get(exports[name], key) for name in PERIODS}
        if key[2] == "overdue":  # a stock at the period's end
            assert get["H1"] == get["Q2"] and get["H2"] == get["Q4"] and get["Y"] == get["Q4"], key
        else:
            assert get["H1"] == get["Q1"] + get["Q2"] and get["H2"] == get["Q3"] + get["Q4"] and get["Y"] == get["H1"] + get["H2"], key


def test_differencing_learns_no_small_count(db: Session, played: list[Story],
                                            exports: dict[str, dict[tuple[str, str, str], int]]) -> None:
    """Totals minus shown cells, Q1 + Q2 against H1, the year minus H1 and every other difference of exported
    figures never yields a count from 1 to 4; and the small counts of the truth were never printed as such."""
    truth = _true(db, played)
    derived: list[int] = []
    for cells in exports.values():
        for figure in COUNT_FIGURES:
            total = _get(cells, ("total", "", figure))
            for section in ("category", "committee"):
                shown = [v for (s, _r, f), v in cells.items() if s == section and f == figure]
                derived += [total - sum(shown) + v for v in shown]  # a cell worked out from the total and the others
    for key in _keys(exports):
        q = {name: _get(exports[name], key) for name in PERIODS}
        derived += [q["H1"] - q["Q1"], q["H1"] - q["Q2"], q["Y"] - q["H1"], q["Y"] - q["H2"], q["H2"] - q["Q3"],
                    q["H2"] - q["Q4"], q["Y"] - q["Q1"] - q["Q2"] - q["Q3"]]
    assert not [v for v in derived if 1 <= v <= 4]
    small = {(name, key): v for name, cells in truth.items() for key, v in cells.items() if 1 <= v <= 4}
    assert small and all(_get(exports[name], key) % 5 == 0 != v % 5 for (name, key), v in small.items())


def _propagate(bounds: dict[object, list[int]], equalities: list[list[tuple[int, object]]],
               at_least: list[tuple[object, object]]) -> None:
    """Interval bound propagation to a fixed point: each relation tightens each of its variables from the others."""
    changed = True
    while changed:
        changed = False
        for terms in equalities:  # sum(coef * x) == 0
            for coef, var in terms:
                others_lo = sum(c * (bounds[v][0] if c > 0 else bounds[v][1]) for c, v in terms if v is not var)
                others_hi = sum(c * (bounds[v][1] if c > 0 else bounds[v][0]) for c, v in terms if v is not var)
                lo, hi = (-others_hi, -others_lo) if coef > 0 else (others_lo, others_hi)
                b = bounds[var]
                if lo > b[0] or hi < b[1]:
                    b[0], b[1] = max(b[0], lo), min(b[1], hi)
                    changed = True
        for big, small in at_least:  # big >= small
            if bounds[big][0] < bounds[small][0]:
                bounds[big][0], changed = bounds[small][0], True
            if bounds[small][1] > bounds[big][1]:
                bounds[small][1], changed = bounds[big][1], True


def test_an_interval_attacker_over_all_exports_cannot_tell_a_small_count(
    db: Session, played: list[Story], exports: dict[str, dict[tuple[str, str, str], int]]
) -> None:
    """Combining every relation between every exported figure (periods, tables, parts of a figure) with what the
    legend says of the rounding, the attacker's range for each true count from 1 to 4 still holds 0 or 5 or more:
    it can neither pin the count nor tell that it is small. Its ranges always hold the truth (the legend is honest)."""
    truth = _true(db, played)
    keys = _keys(exports)
    bounds: dict[object, list[int]] = {}
    for name, cells in exports.items():
        quarters = len(PERIODS[name].quarters)
        for key in keys:
            p = _get(cells, key)
            err = _error_bound(key, quarters)
            bounds[(name, key)] = [max(0, p - err), p + err]
    equalities: list[list[tuple[int, object]]] = []
    at_least: list[tuple[object, object]] = []
    for name in PERIODS:
        for figure in COUNT_FIGURES:
            for section in ("category", "committee"):
                rows = {r for s, r, f in keys if s == section and f == figure}
                terms: list[tuple[int, object]] = [(1, (name, ("total", "", figure)))]
                equalities.append(terms + [(-1, (name, (section, r, figure))) for r in rows])
        for section, row, _f in keys:
            answered, on_time, late, handled, forwarded = ((name, (section, row, f)) for f in ("answered", "on_time", "late", "handled", "forwarded"))
            equalities.append([(1, answered), (-1, on_time), (-1, late)])
            at_least.append((handled, forwarded))
    for key in keys:
        v = {name: (name, key) for name in PERIODS}
        if key[2] == "overdue":
            equalities += [[(1, v["H1"]), (-1, v["Q2"])], [(1, v["H2"]), (-1, v["Q4"])], [(1, v["Y"]), (-1, v["Q4"])]]
        else:
            equalities += [[(1, v["H1"]), (-1, v["Q1"]), (-1, v["Q2"])], [(1, v["H2"]), (-1, v["Q3"]), (-1, v["Q4"])],
                           [(1, v["Y"]), (-1, v["H1"]), (-1, v["H2"])]]
    _propagate(bounds, equalities, at_least)
    learnt = []
    for name, cells in truth.items():
        for key in keys:
            true = _get(cells, key)
            lo, hi = bounds[(name, key)]
            assert lo <= true <= hi, (name, key, true, lo, hi)
            if 1 <= true <= 4 and (lo >= 1 and hi <= 4 or lo == hi):
                learnt.append((name, key, true, lo, hi))
    assert not learnt


def test_the_old_suppression_would_have_been_caught(db: Session, played: list[Story]) -> None:
    """The attacker is not toothless: against the province's true Q1 table with counts 1-4 blanked (the old way),
    a total minus its shown cells gives a hidden count away."""
    truth = _true(db, played)["Q1"]
    pinned = 0
    for figure in COUNT_FIGURES:
        total = _get(truth, ("total", "", figure))
        for section in ("category", "committee"):
            cells = [v for (s, _r, f), v in truth.items() if s == section and f == figure]
            hidden = [v for v in cells if 1 <= v <= 4]
            if len(hidden) == 1 and total >= 5:
                pinned += total - sum(v for v in cells if not 1 <= v <= 4) == hidden[0]
    assert pinned


def test_the_database_counts_what_the_case_by_case_reading_counts(db: Session, played: list[Story]) -> None:
    """Cases that never moved are counted by one aggregate query; it gives exactly what reading each case gives."""
    from intake.report_figures import year_figures

    for code in (PROVINCE, BEN_THANH, HOAN_KIEM, "TW"):
        for until in (1, 2, 4):
            fast = year_figures(db, committee(db, code), YEAR, today=TODAY, until_quarter=until)
            slow = year_figures(db, committee(db, code), YEAR, today=TODAY, until_quarter=until, in_database=False)
            assert (+fast.flows["category"], +fast.flows["committee"]) == (+slow.flows["category"], +slow.flows["committee"]), (code, until)
            assert (+fast.stocks["category"], +fast.stocks["committee"]) == (+slow.stocks["category"], +slow.stocks["committee"]), (code, until)
