"""Resident turns to a filed report: the conversation driven with residents' stories, answering truthfully.

    .venv/bin/python -m bench.turns [--file bench/data/stories.jsonl ...] [--show]

Each story of the story reader's sets (bench/data/stories*.jsonl, with the facts a careful reader
finds in it) is told to the engine by a simulated resident, who presses «Gửi phản ánh mới», chooses
anonymity, tells the story, and then answers what is asked with the facts the story set records: a
confirmation of what the story said is accepted when every item shown is right, else the first wrong
item is corrected; the type is the first one suggested; no evidence; no notifications. A turn is one
message or one press of the resident. The count stops when the report is filed.

Printed for every story, and for the stories that name who (the name or the post), where (the
province at least) and when: the median and spread of turns, on the web (no notification question)
and on Telegram or Zalo (one more question), with the story read and with nothing read (every
question asked, as before issue 16, which also had a «Xong» press after the story: one more turn).
Issue 16's target: a median of at most 8 turns when the story names who, where and when (it was 14).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.story import DATA_DIR, FILES, _correct

MAX_TURNS = 40
ELSEWHERE = "phường Bến Thành, TP Hồ Chí Minh"  # where it happened, for a story that does not say


@dataclass
class Walk:
    """One resident's report: the turns taken, and what the confirmation of the story showed."""

    turns: int = 0
    filed: bool = False
    confirmations: int = 0
    corrected: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)


def _names(expected: dict[str, Any]) -> tuple[str, str]:
    """The commune and province names the resident would write, from the codes the set records."""
    from intake.places import commune, province

    commune_name = commune(expected["commune"]).name if expected.get("commune") else ""
    province_name = province(expected["province"]).name if expected.get("province") else ""
    return commune_name, province_name


def _right(key: str, draft: Any, expected: dict[str, Any]) -> bool:
    """Whether an item the confirmation shows is what the story says."""
    if key == "place":
        return bool(draft.province_code == expected.get("province") and draft.commune_code == (expected.get("commune") or None))
    if key == "setting":
        return bool(draft.setting == expected.get("setting"))
    value = {"name": draft.accused_name, "position": draft.accused_position, "agency": draft.accused_agency, "occurred": draft.occurred}[key]
    want = expected.get(key)
    return want is not None and _correct(key, value or "", want)


def walk(row: dict[str, Any], *, can_push: bool, tools: Any) -> Walk:
    """Tells one story to the engine and answers its questions; returns the turns taken."""
    from intake.dialog.buttons import payload
    from intake.dialog.engine import fresh_state, step
    from intake.dialog.types import Draft, Inbound, StepName, SubmitReport

    expected = row["expected"]
    commune_name, province_name = _names(expected)
    state, draft = fresh_state("vi", can_push=can_push), Draft()
    result = step(state, draft, Inbound(resume=True), tools)
    out = Walk()

    def first(values: Any) -> str | None:
        return values[0] if isinstance(values, list) and values else None

    while out.turns < MAX_TURNS:
        state, draft = result.state, result.draft
        at = state.step
        offered = [c for c, _ in state.buttons]

        def press(choice: str) -> Inbound:
            return Inbound(button=payload(state.question, choice))

        out.asked.append(at.value)
        if at == StepName.IDLE:
            message = press("menu:report")
        elif at == StepName.MODE:
            message = press("mode:anonymous")
        elif at == StepName.DESCRIBE:
            message = Inbound(text=row["text"])
        elif at == StepName.FACTS:
            out.confirmations += 1
            wrong = [k for k in draft.unconfirmed if not _right(k, draft, expected)]
            out.corrected += wrong[:1]
            with_setting = f"facts:ok:{expected.get('setting') or 'workplace'}"
            message = press(f"fix:{wrong[0]}" if wrong else with_setting if with_setting in offered else "facts:ok")
        elif at == StepName.CATEGORY:
            message = press(next(c for c in offered if c.startswith("cat:") and c[4:].isdigit()))
        elif at == StepName.NOT_REPORT:
            message = press("continue")
        elif at == StepName.ACCUSED_NAME:
            name = first(expected.get("name"))
            message = Inbound(text=name) if name else press("skip")
        elif at in (StepName.ACCUSED_POSITION, StepName.ACCUSED_AGENCY, StepName.WHEN):
            key = {StepName.ACCUSED_POSITION: "position", StepName.ACCUSED_AGENCY: "agency", StepName.WHEN: "occurred"}[at]
            value = first(expected.get(key))
            message = Inbound(text=value) if value else press("unknown")
        elif at == StepName.PLACE:
            written = ", ".join(x for x in (commune_name, province_name) if x) or ELSEWHERE
            message = Inbound(text=written)
        elif at == StepName.PLACE_CHOICE:
            match = [c for c, label in state.buttons if commune_name and label.startswith(commune_name)]
            if match:
                message = press(match[0])
            elif commune_name and "place:no_commune" in offered:
                message = Inbound(text=commune_name)
            else:
                message = press("place:no_commune" if "place:no_commune" in offered else "place:0")
        elif at == StepName.SETTING:
            message = press(f"setting:{expected.get('setting') or 'workplace'}")
        elif at == StepName.EVIDENCE:
            message = press("skip")
        elif at == StepName.NOTIFY:
            message = press("no")
        elif at == StepName.REVIEW:
            message = press("send")
        else:
            break
        out.turns += 1
        result = step(state, draft, message, tools)
        if isinstance(result.effect, SubmitReport):
            out.filed = True
            break
    return out


def names_who_where_when(row: dict[str, Any]) -> bool:
    e = row["expected"]
    return bool((e.get("name") or e.get("position")) and e.get("province") and e.get("occurred"))


def _line(label: str, walks: list[Walk]) -> str:
    turns = sorted(w.turns for w in walks)
    spread = Counter(turns)
    shown = ", ".join(f"{t}: {spread[t]}" for t in sorted(spread))
    filed = sum(w.filed for w in walks)
    return (
        f"  {label:<34} median {statistics.median(turns):>4.1f}  mean {statistics.mean(turns):>5.2f}  "
        f"max {max(turns):>2}  filed {filed}/{len(walks)}   turns: {shown}"
    )


def main() -> None:
    """Prints the measured numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, action="append", help="a stories file (default: the sets in bench/data)")
    parser.add_argument("--show", action="store_true", help="print each story's turns and what was asked")
    args = parser.parse_args()

    from intake.classify import get_classifier
    from intake.dialog.story import StoryFacts
    from intake.dialog.tools import DEFAULT_TOOLS

    get_classifier()
    paths = args.file or [DATA_DIR / name for name in FILES if (DATA_DIR / name).exists()]
    rows = [json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    read = DEFAULT_TOOLS
    unread = replace(DEFAULT_TOOLS, read_story=lambda text: StoryFacts())  # finds nothing: every question asked
    named = [r for r in rows if names_who_where_when(r)]
    print(f"{len(rows)} stories from {', '.join(p.name for p in paths)}; {len(named)} name who, where and when")
    for channel, can_push in (("web", False), ("Telegram, Zalo", True)):
        print(f"\n{channel}:")
        for label, subset in (("who, where and when named", named), ("every story", rows)):
            with_story = [walk(r, can_push=can_push, tools=read) for r in subset]
            without = [walk(r, can_push=can_push, tools=unread) for r in subset]
            print(_line(f"{label}, story read", with_story))
            print(_line(f"{label}, nothing read", without))
            if label.startswith("who"):
                corrected = Counter(k for w in with_story for k in w.corrected)
                shown = sum(w.confirmations > 0 for w in with_story)
                print(f"  confirmations shown {shown}/{len(subset)}; items the resident had to correct: {dict(corrected) or 'none'}")
            if args.show and channel == "web":
                for r, w in zip(subset, with_story, strict=True):
                    print(f"    {r['id']:<6} {w.turns:>2}  {' '.join(w.asked)}")
    target = statistics.median(walk(r, can_push=True, tools=read).turns for r in named)
    print(f"\nmedian turns when the story names who, where and when, on Telegram and Zalo: {target:g} (target <= 8; 14 before)")


if __name__ == "__main__":
    main()
