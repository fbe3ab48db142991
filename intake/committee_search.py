"""Finding a committee by name as people type it: without diacritics, words in any order, the province too.

"hung nguyen nghe an" finds "Ủy ban MTTQ Việt Nam xã Hưng Nguyên" of tỉnh Nghệ An; "40" finds tỉnh Nghệ An
by its code. All 3,356 committees are held in memory per process (a few hundred kilobytes), refreshed
when the tree is loaded again or after a few minutes. Every search takes the set of committees the
caller may choose from (`within`) and those it must not offer (`exclude`): the picker shows nothing else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from rapidfuzz import fuzz
from sqlmodel import Session, select

from intake.committees import CENTRAL_CODE
from intake.models import Committee, CommitteeLevel
from intake.search import fold

_PREFIX_VI = "Ủy ban MTTQ Việt Nam "
LIMIT = 20
FUZZY_CUTOFF = 80.0
CACHE_SECONDS = 300.0
_KINDS = ("thanh pho", "dac khu", "phuong", "tinh", "xa")  # a unit's kind, folded, as names begin with it
_LEVEL_ORDER = {CommitteeLevel.CENTRAL.value: 0, CommitteeLevel.PROVINCE.value: 1, CommitteeLevel.COMMUNE.value: 2}


@dataclass(frozen=True)
class Choice:
    """A committee as the picker offers it."""

    id: int
    code: str
    level: str
    name_vi: str
    name_en: str
    where_vi: str  # the province of a commune ("tỉnh Nghệ An"); empty for the others
    where_en: str
    words: tuple[str, ...]  # folded words of its unit and province, searched by prefix
    text: str  # the same words as one string, for the typo-tolerant pass

    def label(self, lang: str = "vi") -> str:
        """The name, with the province for a commune (many communes share a name)."""
        name, where = (self.name_en, self.where_en) if lang == "en" else (self.name_vi, self.where_vi)
        return f"{name} – {where}" if where else name


def _unit(name_vi: str) -> str:
    return name_vi[len(_PREFIX_VI) :] if name_vi.startswith(_PREFIX_VI) else name_vi


def _english_unit(name_en: str) -> str:
    return name_en.split(" of ", 1)[-1]


def _allowed(ch: Choice, within: Collection[int] | None, exclude: Collection[int], levels: Collection[str] | None) -> bool:
    """Whether a picker bounded so may offer this committee."""
    return (within is None or ch.id in within) and ch.id not in exclude and (levels is None or ch.level in levels)


class CommitteeIndex:
    """Every active committee, searchable by folded name and code."""

    def __init__(self, committees: list[Committee]) -> None:
        by_id = {c.id: c for c in committees}
        choices = []
        for c in committees:
            if c.id is None or not c.active:
                continue
            parent = by_id.get(c.parent_id) if c.level == CommitteeLevel.COMMUNE.value else None
            where_vi = _unit(parent.name_vi) if parent else ""
            where_en = _english_unit(parent.name_en) if parent else ""
            text = fold(f"{_unit(c.name_vi)} {where_vi}")
            if c.code == CENTRAL_CODE:
                text = fold(f"{c.name_vi} trung ương")
            choices.append(Choice(c.id, c.code, c.level, c.name_vi, c.name_en, where_vi, where_en, tuple(text.split()), text))
        choices.sort(key=lambda ch: (_LEVEL_ORDER.get(ch.level, 3), ch.text))
        self.choices = choices
        self.by_id = {ch.id: ch for ch in choices}
        self.by_code = {ch.code: ch for ch in choices}

    def get(self, committee_id: int) -> Choice | None:
        return self.by_id.get(committee_id)

    def by_code_within(
        self, code: str, *, within: Collection[int] | None = None, exclude: Collection[int] = (), levels: Collection[str] | None = None
    ) -> Choice | None:
        """The committee with this code, if a picker bounded so may offer it."""
        ch = self.by_code.get(code.strip())
        return ch if ch is not None and _allowed(ch, within, exclude, levels) else None

    def offered(
        self, *, within: Collection[int] | None = None, exclude: Collection[int] = (), levels: Collection[str] | None = None
    ) -> frozenset[int]:
        """Every committee a picker with these bounds may offer, whatever is typed."""
        return frozenset(ch.id for ch in self.choices if _allowed(ch, within, exclude, levels))

    def search(
        self,
        query: str,
        *,
        within: Collection[int] | None = None,
        exclude: Collection[int] = (),
        levels: Collection[str] | None = None,
        limit: int = LIMIT,
    ) -> list[Choice]:
        """Committees whose words start with every word typed (any order), best first; typos tolerated after."""

        def allowed(ch: Choice) -> bool:
            return _allowed(ch, within, exclude, levels)

        words = fold(query).split()
        if not words:
            return []
        code = query.strip()
        exact = self.by_code.get(code) or self.by_code.get(code.upper())
        phrase = " " + " ".join(words)
        found: list[tuple[tuple[int, int, int, int, str], Choice]] = []
        for ch in self.choices:
            if not allowed(ch) or not all(any(w.startswith(typed) for w in ch.words) for typed in words):
                continue
            # The words typed as they stand in the name first ("hung nguyen" before "Bình Nguyên, Hưng Yên"),
            # then whole words, then fewer words left over ("Hưng Nguyên" before "Hưng Nguyên Nam").
            whole = sum(typed in ch.words for typed in words)
            key = (phrase not in " " + ch.text, -whole, len(ch.words) - len(words), _LEVEL_ORDER.get(ch.level, 3), ch.text)
            found.append((key, ch))
        found.sort(key=lambda item: item[0])
        result = [ch for _key, ch in found[:limit]]
        if exact is not None and allowed(exact):
            result = [exact, *[ch for ch in result if ch.id != exact.id]][:limit]
        if result:
            return result
        return self._near(words, allowed, limit)

    def _near(self, words: list[str], allowed: Callable[[Choice], bool], limit: int) -> list[Choice]:
        """Committees close to a mistyped name: each word typed near enough to one of its words."""
        scored = []
        for ch in self.choices:
            if not allowed(ch):
                continue
            best = [max(fuzz.ratio(typed, w) for w in ch.words) for typed in words]
            if min(best) >= FUZZY_CUTOFF:
                scored.append((-sum(best), len(ch.words), ch.text, ch))
        scored.sort(key=lambda item: item[:3])
        return [ch for *_key, ch in scored[:limit]]

    def tight(self, choice: Choice, query: str) -> bool:
        """Whether a text names this committee and no longer one: every word whole, none of its name left out."""
        typed = set(fold(query).split())
        unit = fold(_unit(choice.name_vi)) if choice.code != CENTRAL_CODE else ""
        for kind in _KINDS:
            if unit.startswith(kind + " "):
                unit = unit[len(kind) + 1 :]
                break
        return typed <= set(choice.words) and set(unit.split()) <= typed

    def resolve(
        self,
        text: str,
        *,
        within: Collection[int] | None = None,
        exclude: Collection[int] = (),
        levels: Collection[str] | None = None,
        lang: str = "vi",
    ) -> tuple[Choice | None, list[Choice]]:
        """What a typed text names: the one committee it can only mean, else the candidates to choose from."""
        text = text.strip()
        filters = {"within": within, "exclude": exclude, "levels": levels}
        for ch in self.choices:
            if text in (ch.label("vi"), ch.label("en"), ch.code) and _allowed(ch, within, exclude, levels):
                return ch, [ch]
        found = self.search(text, **filters)  # type: ignore[arg-type]
        if len(found) == 1:
            return found[0], found
        tight = [ch for ch in found if self.tight(ch, text)]
        return (tight[0] if len(tight) == 1 else None), found


_cache: tuple[float, CommitteeIndex] | None = None
_lock = threading.Lock()


def committee_index(session: Session) -> CommitteeIndex:
    """This process's index of the committees, read again after a few minutes or a reload of the tree."""
    global _cache
    now = time.monotonic()
    with _lock:
        if _cache is not None and now - _cache[0] < CACHE_SECONDS:
            return _cache[1]
    index = CommitteeIndex(list(session.exec(select(Committee)).all()))
    with _lock:
        _cache = (now, index)
    return index


def forget_index() -> None:
    """Drops the cached index (after the committee tree was loaded again)."""
    global _cache
    with _lock:
        _cache = None
