"""Which Front committee receives a report: the place, the accused's position and the setting decide.

Rules live in a TOML file (intake/data/routing.toml, documented there; PHANANH_ROUTING_RULES_FILE
overrides it): which level manages each position, per-province overrides, and the positions that
would put the accused at the head of the receiving committee (then the case goes one level up).
A position may name the vertically managed sector it belongs to, the rule that sets its level, and,
where that rule is uncertain, what staff should check: such a case is routed and flagged, never
silently. Every decision carries its ordered reasons as translatable messages.
"""

from __future__ import annotations

import functools
import logging
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from rapidfuzz import fuzz

from intake.committees import CENTRAL_CODE, CENTRAL_NAME, front_names
from intake.config import get_settings
from intake.i18n import N_, translator
from intake.places import Place, get_gazetteer
from intake.places.text import Mark, fold

log = logging.getLogger(__name__)

Level = Literal["central", "province", "commune"]
Setting = Literal["workplace", "residence"]
LEVELS: tuple[Level, ...] = get_args(Level)
SETTINGS: tuple[Setting, ...] = get_args(Setting)
DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "data" / "routing.toml"

_PARENT: dict[Level, Level | None] = {"commune": "province", "province": "central", "central": None}
_RANK: dict[Level, int] = {"commune": 0, "province": 1, "central": 2}

# Level words in a position, read as today's two local levels (no districts since 1 July 2025).
_LEVEL_WORDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("phuong",): ("xa",),
    ("dac", "khu"): ("xa",),
    ("thi", "tran"): ("xa",),
    ("thanh", "uy"): ("tinh", "uy"),
    ("thanh", "pho"): ("tinh",),
}
_LEVEL_WIDTH = max(len(k) for k in _LEVEL_WORDS)
# Words that say a level or a unit: after one, a plain syllable-like abbreviation ('ca xa') is one.
_UNIT_WORDS = frozenset("xa phuong huyen quan tinh thon ap ban to khu xom".split())
# A word as the text holds it: letters and digits, combining marks included (text typed in NFD).
_WORD = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")
# The shape of a Vietnamese syllable, folded: an abbreviation of this shape ('ca', 'tu', 'du') is
# also an ordinary word ('cả', 'từ', 'dù') when a resident types without diacritics.
_SYLLABLE = re.compile(r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnpqrstvx])?[aeiouy]+(?:ch|ng|nh|[cmnpt])?")


class RoutingRulesError(ValueError):
    """The routing rules file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class LocalText:
    """A label that is data, not a msgid: one text per language, Vietnamese first."""

    vi: str
    en: str = ""

    def get(self, lang: str) -> str:
        return self.en if lang == "en" and self.en else self.vi


@dataclass(frozen=True)
class Reason:
    """One step of a routing decision: an English msgid and the values for its placeholders."""

    msgid: str
    params: Mapping[str, str | LocalText] = field(default_factory=dict)

    def render(self, lang: str = "vi") -> str:
        """The reason in a language, placeholders filled (labels in that language too)."""
        values = {k: v.get(lang) if isinstance(v, LocalText) else v for k, v in self.params.items()}
        return translator(lang)._(self.msgid, **values)

    def to_json(self) -> dict[str, Any]:
        """For storing with the case: the msgid and its parameters, labels in every language."""
        params = {k: {"vi": v.vi, "en": v.en} if isinstance(v, LocalText) else v for k, v in self.params.items()}
        return {"msgid": self.msgid, "params": params}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reason:
        """A stored reason back, so staff see it in their language."""
        params: dict[str, str | LocalText] = {}
        for key, value in dict(data.get("params", {})).items():
            if isinstance(value, Mapping):
                params[key] = LocalText(str(value.get("vi", "")), str(value.get("en", "")))
            else:
                params[key] = str(value)
        return cls(str(data["msgid"]), params)


def render_reasons(stored: Sequence[Mapping[str, Any]], lang: str = "vi") -> list[str]:
    """Stored routing reasons (Reason.to_json) as sentences in a language."""
    return [Reason.from_json(item).render(lang) for item in stored]


@dataclass(frozen=True)
class Sector:
    """A vertically managed sector (police, courts, tax, ...): its name and how it is organised today."""

    id: str
    name: LocalText
    organisation: LocalText


@dataclass(frozen=True)
class Position:
    """A position the rules know: the level that manages it, its label, and how residents write it.

    `sector` names the vertically managed sector it belongs to; `basis` is the rule that sets its level;
    `review`, when given, says why that level is uncertain: every case routed by it is flagged.
    `bodies` are the units such a person works in ('chi cục thuế'): a role or agency naming one is read
    as the position, but a story naming one names where someone works, not their post (find_positions).
    """

    id: str
    level: Level
    label: LocalText
    aliases: tuple[str, ...]
    written: tuple[str, ...] = ()  # the aliases as the rules file writes them, diacritics kept
    sector: str = ""
    basis: LocalText | None = None
    review: LocalText | None = None
    bodies: tuple[str, ...] = ()


@dataclass(frozen=True)
class PositionMatch:
    """The position a free-text role was read as, and how closely (0-100)."""

    position: Position
    score: float
    alias: str


@dataclass(frozen=True)
class PositionMention:
    """A position named inside a longer text: where (text[start:end]), which, and how it was matched.

    `complete` is true when a whole alias was found ('cán bộ địa chính'); false for the opening words
    of aliases ('phó chủ tịch UBND' opens the commune's and the province's), which a caller may accept
    when what follows says the unit. `position` is None when those opening words belong to several
    positions.
    """

    start: int
    end: int
    position: Position | None
    words: tuple[str, ...]
    complete: bool


@dataclass(frozen=True)
class _Word:
    """One word of a text: its offsets, as typed in lower case (NFC), and folded."""

    start: int
    end: int
    typed: str
    folded: str


@dataclass(frozen=True)
class _AliasIndex:
    """The aliases in force, as word tuples: whole ones with their positions, and every opening."""

    whole: Mapping[tuple[str, ...], Position]
    openings: Mapping[tuple[str, ...], frozenset[str]]  # opening words -> ids of positions whose aliases start so
    by_id: Mapping[str, Position]
    longest: int
    # opening words -> the diacritics of each word in the written aliases that open so (None: any)
    marks: Mapping[tuple[str, ...], frozenset[tuple[str | None, ...]]]
    whole_marks: Mapping[tuple[str, ...], frozenset[tuple[str | None, ...]]]  # the same, of whole aliases


@dataclass(frozen=True)
class ProvinceOverride:
    """What one province changes: levels of some positions, conflict lists, extra positions."""

    levels: Mapping[str, Level] = field(default_factory=dict)
    conflict: Mapping[Level, frozenset[str]] = field(default_factory=dict)
    positions: tuple[Position, ...] = ()


@dataclass(frozen=True)
class RoutingRules:
    """Routing rules as loaded from TOML: positions, conflict lists, matching thresholds, overrides."""

    positions: tuple[Position, ...]
    conflict: Mapping[Level, frozenset[str]]
    abbreviations: Mapping[str, str]
    threshold: float = 80.0
    review_below: float = 95.0
    provinces: Mapping[str, ProvinceOverride] = field(default_factory=dict)
    source: str = ""
    spelled: Mapping[str, str] = field(default_factory=dict)  # abbreviation -> as written in the rules file
    sectors: Mapping[str, Sector] = field(default_factory=dict)

    def normalize(self, role: str) -> str:
        """A role as the aliases are compared: folded, lower case, abbreviations expanded, levels unified.

        Only a word typed without diacritics (đ aside) is an abbreviation: 'tu' may be tỉnh ủy, 'từ' is not.
        """
        return self._normalize(role, syllables=True)

    def _normalize(self, role: str, *, syllables: bool) -> str:
        """normalize(); syllables=False leaves abbreviations that are also syllables ('tu', 'ca') as words."""
        words = _words(role)
        expanded = [
            (part, i)
            for i, w in enumerate(words)
            for part in (
                self._expand(w, strict=False, nxt=None)
                if syllables or not _SYLLABLE.fullmatch(w.folded)
                else re.findall(r"[a-z0-9]+", w.folded)
            )
        ]
        return " ".join(w for w, _, _ in _unify_levels(expanded))

    def _expand(self, word: _Word, *, strict: bool, nxt: _Word | None) -> list[str]:
        """A word's normalized parts: its abbreviation's words when it was typed as one, else itself.

        strict: the text carries no diacritics at all, so an abbreviation that is also a syllable
        ('ca' for công an, or 'cả') counts only in capitals or before a unit word ('ca xã').
        """
        parts = re.findall(r"[a-z0-9]+", word.folded)
        if len(parts) != 1 or parts[0] not in self.abbreviations or not _typed_plain(word.typed):
            return parts
        key = parts[0]
        if strict and _SYLLABLE.fullmatch(key) and not word.typed.isupper():
            if nxt is None or nxt.folded not in _UNIT_WORDS:
                return parts
        return self.abbreviations[key].split()

    def positions_for(self, province_code: str | None) -> tuple[Position, ...]:
        """The positions in force in a province: defaults, moved and extended by its override."""
        override = self.provinces.get(province_code or "")
        if override is None:
            return self.positions
        # A province that sets a position's level has settled it there: the default basis and doubt go.
        moved = tuple(
            replace(p, level=override.levels[p.id], basis=None, review=None) if p.id in override.levels else p
            for p in self.positions
        )
        return moved + override.positions

    def conflict_for(self, province_code: str | None, level: Level) -> frozenset[str]:
        """Position ids that lead the receiving committee's unit at a level, in a province."""
        override = self.provinces.get(province_code or "")
        if override is not None and level in override.conflict:
            return override.conflict[level]
        return self.conflict.get(level, frozenset())

    def led_level(self, match: PositionMatch | None, province_code: str | None) -> Level | None:
        """The level of the unit the accused leads (its Front, party committee or People's Committee), if any.

        Every committee of that unit and below it is barred from the case (intake/conflict.py).
        """
        if match is None:
            return None
        for level in ("commune", "province", "central"):
            if match.position.id in self.conflict_for(province_code, level):  # type: ignore[arg-type]
                return level  # type: ignore[return-value]
        return None

    def match_position(self, role: str, province_code: str | None = None) -> PositionMatch | None:
        """The position a role names, tolerating typos and abbreviations; None below the threshold."""
        # Typed without diacritics, 'tu' is tỉnh ủy or 'tư' ('can bo tu phap'): both readings are tried.
        readings = dict.fromkeys((self.normalize(role), self._normalize(role, syllables=False)))
        best: tuple[float, int, Position, str] | None = None
        for text in filter(None, readings):
            for position in self.positions_for(province_code):
                for alias in position.aliases + position.bodies:
                    # An alias inside a longer text counts in full ('ông A, cán bộ địa chính xã');
                    # a text shorter than the alias must match it as a whole.
                    if len(alias) <= len(text):
                        score = fuzz.partial_ratio(alias, text)
                    else:
                        score = fuzz.ratio(alias, text)
                    rank = (score, len(alias))
                    if best is None or rank > (best[0], best[1]):
                        best = (score, len(alias), position, alias)
        if best is None or best[0] < self.threshold:
            return None
        return PositionMatch(best[2], float(best[0]), best[3])

    def find_positions(self, text: str, province_code: str | None = None) -> list[PositionMention]:
        """Every position named in a longer text (a resident's story), leftmost and longest first.

        Words are read as match_position reads a role, but matched exactly, word for word, and never
        across punctuation: inside a story, a near match is more often another word than a typo.
        """
        words = _words(text)
        if not words:
            return []
        strict = all(_typed_plain(w.typed) for w in words)
        breaks = frozenset(i for i in range(1, len(words)) if not text[words[i - 1].end : words[i].start].isspace())
        norm, signs = self._signed(text, strict=strict, marked=not strict, breaks=breaks)
        index = self._alias_index(province_code)
        mentions: list[PositionMention] = []
        i = 0
        while i < len(norm):
            found = self._match_at(norm, signs, words, text, index, i)
            if found is None:
                i += 1
                continue
            end, mention = found
            if not mention.complete and any(
                (later := self._match_at(norm, signs, words, text, index, k)) is not None and later[1].complete
                for k in range(i + 1, end)
            ):
                i += 1  # a whole alias starts inside these opening words: prefer it
                continue
            mentions.append(mention)
            i = end
        return mentions

    def _signed(
        self, text: str, *, strict: bool, marked: bool, breaks: frozenset[int] = frozenset()
    ) -> tuple[list[tuple[str, int, int]], list[str | None]]:
        """Normalized words with their sources, and the diacritics each was typed with.

        A word's diacritics are known when it is one typed word of its own (not an abbreviation's
        expansion nor a level phrase) in a text typed with diacritics: there 'ban' is not 'bản'.
        """
        words = _words(text)
        expanded = [
            (part, i)
            for i, w in enumerate(words)
            for part in self._expand(w, strict=strict, nxt=words[i + 1] if i + 1 < len(words) else None)
        ]
        parts = Counter(src for _, src in expanded)
        typed_as = {src: part for part, src in expanded}
        norm = _unify_levels(expanded, breaks)
        signs: list[str | None] = []
        for word, lo, hi in norm:
            # a word of its own, not rewritten ('phường' read as 'xa' keeps no diacritics to compare)
            own = marked and lo == hi and parts[lo] == 1 and typed_as[lo] == word
            signs.append(_marks(words[lo].typed) if own else None)
        return norm, signs

    def _match_at(
        self,
        norm: list[tuple[str, int, int]],
        signs: list[str | None],
        words: list[_Word],
        text: str,
        index: _AliasIndex,
        i: int,
    ) -> tuple[int, PositionMention] | None:
        """The longest whole alias starting at norm[i], else the longest opening of two words or more.

        norm holds (word, first source word, last source word): an abbreviation gives several words
        of one source word, a level phrase ('thị trấn' -> 'xa') one word of several.
        """
        if i > 0 and norm[i - 1][2] >= norm[i][1]:
            return None  # inside a word's expansion ('ubnd' -> 'uy ban nhan dan')
        whole: tuple[int, Position] | None = None
        opening: tuple[int, frozenset[str]] | None = None
        for j in range(i, min(len(norm), i + index.longest)):
            if j > i and norm[j][1] > norm[j - 1][2]:
                gap = text[words[norm[j - 1][2]].end : words[norm[j][1]].start]
                if not gap.isspace():
                    break  # punctuation between two words
            key = tuple(w for w, _, _ in norm[i : j + 1])
            ids = index.openings.get(key)
            if ids is None or not _signs_fit(signs[i : j + 1], index.marks.get(key, frozenset())):
                break
            if j + 1 < len(norm) and norm[j + 1][1] <= norm[j][2]:
                continue  # would end inside a word's expansion
            if key in index.whole and _signs_fit(signs[i : j + 1], index.whole_marks.get(key, frozenset())):
                whole = (j + 1, index.whole[key])
            elif len(key) >= 2:
                opening = (j + 1, ids)
        if whole is not None:
            end, position = whole
            mention_position: Position | None = position
            complete = True
        elif opening is not None:
            end, ids = opening
            mention_position = index.by_id[next(iter(ids))] if len(ids) == 1 else None
            complete = False
        else:
            return None
        key = tuple(w for w, _, _ in norm[i:end])
        mention = PositionMention(words[norm[i][1]].start, words[norm[end - 1][2]].end, mention_position, key, complete)
        return end, mention

    @functools.cached_property
    def _alias_indexes(self) -> dict[str | None, _AliasIndex]:
        """Alias indexes built so far, by province (None: the defaults)."""
        return {}

    def _alias_index(self, province_code: str | None) -> _AliasIndex:
        """The aliases in force in a province as word tuples, built once per province."""
        key = province_code if province_code in self.provinces else None
        index = self._alias_indexes.get(key)
        if index is None:
            whole: dict[tuple[str, ...], Position] = {}
            openings: dict[tuple[str, ...], set[str]] = {}
            marks: dict[tuple[str, ...], set[tuple[str | None, ...]]] = {}
            whole_marks: dict[tuple[str, ...], set[tuple[str | None, ...]]] = {}
            positions = self.positions_for(key)
            for position in positions:
                for alias in position.aliases:
                    words = tuple(alias.split())
                    whole.setdefault(words, position)  # the first position listing an alias keeps it
                    for n in range(1, len(words) + 1):
                        openings.setdefault(words[:n], set()).add(position.id)
                for written in position.written:
                    norm, signs = self._signed(written, strict=False, marked=True)
                    words = tuple(w for w, _, _ in norm)
                    for n in range(1, len(words) + 1):
                        marks.setdefault(words[:n], set()).add(tuple(signs[:n]))
                    whole_marks.setdefault(words, set()).add(tuple(signs))
            index = _AliasIndex(
                whole=whole,
                openings={k: frozenset(v) for k, v in openings.items()},
                by_id={p.id: p for p in positions},
                longest=max((len(k) for k in whole), default=0),
                marks={k: frozenset(v) for k, v in marks.items()},
                whole_marks={k: frozenset(v) for k, v in whole_marks.items()},
            )
            self._alias_indexes[key] = index
        return index


def _words(text: str) -> list[_Word]:
    """The words of a text with their offsets, lower case as typed (NFC) and folded."""
    out: list[_Word] = []
    for m in _WORD.finditer(text):
        typed = unicodedata.normalize("NFC", m.group()).lower()
        out.append(_Word(m.start(), m.end(), typed, fold(typed)))
    return out


def _marks(word: str) -> str:
    """The diacritics of a word, wherever the tone mark sits ('hoà' and 'hòa' alike); đ counts as one."""
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(sorted(c for c in decomposed if unicodedata.combining(c))) + ("đ" if "đ" in word else "")


def _signs_fit(typed: list[str | None], written: frozenset[tuple[str | None, ...]]) -> bool:
    """Whether typed words' diacritics fit one written alias (a word with none known fits any)."""
    if all(t is None for t in typed) or not written:
        return True
    return any(all(t is None or w is None or t == w for t, w in zip(typed, alias, strict=False)) for alias in written)


def _typed_plain(word: str) -> bool:
    """Whether a lower-case word was typed without diacritics (đ allowed: 'đu' for đảng ủy)."""
    return word.replace("đ", "d").isascii()


def _unify_levels(words: list[tuple[str, int]], breaks: frozenset[int] = frozenset()) -> list[tuple[str, int, int]]:
    """District-era and city level words read as today's ('phuong' -> 'xa'), keeping each word's sources.

    words are (normalized word, source word) pairs; a level phrase of two words forms only from two
    source words of their own (never from an abbreviation's expansion: 'Thành PCT' is not 'thành phố'),
    and not across a source word in breaks (one that follows punctuation).
    """
    parts = Counter(src for _, src in words)
    out: list[tuple[str, int, int]] = []
    i = 0
    while i < len(words):
        for width in range(_LEVEL_WIDTH, 0, -1):
            run = words[i : i + width]
            key = tuple(w for w, _ in run)
            replacement = _LEVEL_WORDS.get(key) if len(key) == width else None
            if replacement is not None and width > 1:
                sources = [src for _, src in run]
                whole = all(parts[src] == 1 for src in sources)
                consecutive = all(b == a + 1 and b not in breaks for a, b in zip(sources, sources[1:], strict=False))
                if not (whole and consecutive):
                    replacement = None
            if replacement is not None:
                out.extend((r, run[0][1], run[-1][1]) for r in replacement)
                i += width
                break
        else:
            out.append((words[i][0], words[i][1], words[i][1]))
            i += 1
    return out


@dataclass(frozen=True)
class RouteDecision:
    """Where a case goes and why: the committee, its level, the reasons in order, and flags for staff.

    `escalated`: the case went above a committee whose unit the accused leads (one level up from it,
    or straight to the central committee for a provincial leader the centre manages). `needs_review`:
    staff must check the routing; the reasons say why.
    """

    level: Level
    committee_code: str
    committee_name: str
    reasons: list[Reason]
    escalated: bool
    needs_review: bool
    managing_level: Level
    setting: Setting
    position: PositionMatch | None = None
    handover_code: str | None = None  # residence: the committee the case must be passed on to

    def reason_texts(self, lang: str = "vi") -> list[str]:
        """The reasons as sentences in a language (Vietnamese for staff by default)."""
        return [r.render(lang) for r in self.reasons]

    def to_json(self, lang: str = "vi") -> dict[str, Any]:
        """The shape `phananh route --json` prints."""
        return {
            "committee": {"code": self.committee_code, "name": self.committee_name, "level": self.level},
            "reasons": self.reason_texts(lang),
            "escalated": self.escalated,
            "needs_review": self.needs_review,
        }


# -- loading ---------------------------------------------------------------------------------------


def load_rules(path: Path | None = None) -> RoutingRules:
    """Reads routing rules: the given file, else PHANANH_ROUTING_RULES_FILE, else the packaged defaults."""
    if path is None:
        path = get_settings().routing_rules_file or DEFAULT_RULES_FILE
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as err:
        raise RoutingRulesError(f"cannot read routing rules {path}: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise RoutingRulesError(f"routing rules {path} are not valid TOML: {err}") from err
    rules = _parse_rules(data, str(path))
    log.info("routing rules loaded from %s: %s positions", path, len(rules.positions))
    return rules


@functools.cache
def default_rules() -> RoutingRules:
    """The rules in force for this process, read once."""
    return load_rules()


def _parse_rules(data: Mapping[str, Any], source: str) -> RoutingRules:
    """Validates the TOML document and builds the rules; every mistake names where it is."""
    raw_abbreviations = _table(data, "abbreviations", source)
    abbreviations = {_plain(k): _plain(str(v)) for k, v in raw_abbreviations.items()}
    spelled = {_plain(k): " ".join(str(v).split()) for k, v in raw_abbreviations.items()}
    rules_for_norm = RoutingRules((), {}, abbreviations)
    sectors = {sid: _parse_sector(sid, raw, f"{source}: [sectors.{sid}]") for sid, raw in _table(data, "sectors", source).items()}
    positions = tuple(
        _parse_position(p, f"{source}: positions[{i}]", rules_for_norm, sectors)
        for i, p in enumerate(_array(data, "positions", source))
    )
    if not positions:
        raise RoutingRulesError(f"{source}: no [[positions]]")
    ids = [p.id for p in positions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RoutingRulesError(f"{source}: duplicate position ids {duplicates}")
    known = set(ids)
    conflict = _parse_conflict(_table(data, "conflict", source), known, f"{source}: [conflict]")
    matching = _table(data, "matching", source)
    threshold = float(matching.get("threshold", 80))
    review_below = float(matching.get("review_below", 95))
    if not 0 <= threshold <= review_below <= 100:
        raise RoutingRulesError(f"{source}: [matching] needs 0 <= threshold <= review_below <= 100")

    provinces: dict[str, ProvinceOverride] = {}
    for code, section in _table(data, "provinces", source).items():
        where = f'{source}: [provinces."{code}"]'
        if not (isinstance(code, str) and code.isdigit() and len(code) == 2):
            raise RoutingRulesError(f"{where}: province codes are two digits, e.g. \"79\"")
        if code not in get_gazetteer().provinces:
            raise RoutingRulesError(f"{where}: no province has code {code}")
        if not isinstance(section, dict):
            raise RoutingRulesError(f"{where}: must be a table")
        extra = tuple(
            _parse_position(p, f"{where}.positions[{i}]", rules_for_norm, sectors)
            for i, p in enumerate(section.get("positions", []))
        )
        local_known = known | {p.id for p in extra}
        levels: dict[str, Level] = {}
        for pid, level in dict(section.get("levels", {})).items():
            if pid not in known:
                raise RoutingRulesError(f"{where}: levels names unknown position {pid!r}")
            levels[pid] = _level(level, f"{where}.levels.{pid}")
        local_conflict = _parse_conflict(dict(section.get("conflict", {})), local_known, f"{where}.conflict")
        provinces[code] = ProvinceOverride(levels, local_conflict, extra)

    return RoutingRules(
        positions, conflict, abbreviations, threshold, review_below, provinces, source, spelled=spelled, sectors=sectors
    )


def _parse_sector(sid: str, raw: Any, where: str) -> Sector:
    """One [sectors.ID] table: a name and how the sector is organised, in Vietnamese and English."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", sid) or not isinstance(raw, dict):
        raise RoutingRulesError(f"{where}: a table with a lower_snake_case id")
    name, organisation = _local_text(raw, "name", where), _local_text(raw, "organisation", where)
    if name is None or organisation is None:
        raise RoutingRulesError(f"{where}: name and organisation are required")
    return Sector(sid, name, organisation)


def _local_text(raw: Mapping[str, Any], key: str, where: str) -> LocalText | None:
    """An optional text and its English (`key` and `key_en`); a present but empty text is an error."""
    if key not in raw:
        return None
    vi, en = raw[key], raw.get(f"{key}_en", "")
    if not isinstance(vi, str) or not vi.strip() or not isinstance(en, str):
        raise RoutingRulesError(f"{where}: {key} must be a non-empty text")
    return LocalText(" ".join(vi.split()), " ".join(en.split()))


def _parse_position(raw: Any, where: str, norm: RoutingRules, sectors: Mapping[str, Sector]) -> Position:
    """One [[positions]] entry."""
    if not isinstance(raw, dict):
        raise RoutingRulesError(f"{where}: must be a table")
    pid = raw.get("id")
    if not isinstance(pid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", pid):
        raise RoutingRulesError(f"{where}: id must be lower_snake_case")
    aliases = raw.get("aliases")
    if not isinstance(aliases, list) or not aliases or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise RoutingRulesError(f"{where} ({pid}): aliases must be a non-empty list of texts")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RoutingRulesError(f"{where} ({pid}): name is required")
    normalized = tuple(dict.fromkeys(norm.normalize(a) for a in aliases))
    label = LocalText(name, str(raw.get("name_en", "")))
    bodies = raw.get("bodies", [])
    if not isinstance(bodies, list) or not all(isinstance(b, str) and b.strip() for b in bodies):
        raise RoutingRulesError(f"{where} ({pid}): bodies must be a list of texts")
    sector = raw.get("sector", "")
    if sector and sector not in sectors:
        raise RoutingRulesError(f"{where} ({pid}): unknown sector {sector!r}")
    return Position(
        pid,
        _level(raw.get("level"), f"{where} ({pid}).level"),
        label,
        normalized,
        written=tuple(dict.fromkeys(" ".join(a.split()) for a in aliases)),
        sector=str(sector),
        basis=_local_text(raw, "basis", f"{where} ({pid})"),
        review=_local_text(raw, "review", f"{where} ({pid})"),
        bodies=tuple(dict.fromkeys(norm.normalize(b) for b in bodies)),
    )


def _parse_conflict(raw: Mapping[str, Any], known: set[str], where: str) -> dict[Level, frozenset[str]]:
    """A {level: [position ids]} table."""
    out: dict[Level, frozenset[str]] = {}
    for level, ids in raw.items():
        lv = _level(level, where)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise RoutingRulesError(f"{where}.{level}: must be a list of position ids")
        unknown = sorted(set(ids) - known)
        if unknown:
            raise RoutingRulesError(f"{where}.{level}: unknown position ids {unknown}")
        out[lv] = frozenset(ids)
    return out


def _level(value: Any, where: str) -> Level:
    if value not in LEVELS:
        raise RoutingRulesError(f"{where}: level must be one of {', '.join(LEVELS)}, not {value!r}")
    return value  # type: ignore[no-any-return]


def _table(data: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise RoutingRulesError(f"{source}: [{key}] must be a table")
    return value


def _array(data: Mapping[str, Any], key: str, source: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise RoutingRulesError(f"{source}: [[{key}]] must be an array of tables")
    return value


def _plain(text: str) -> str:
    """Folded lower-case words, single-spaced."""
    return " ".join(re.findall(r"[a-z0-9]+", fold(text).lower()))


# -- routing ---------------------------------------------------------------------------------------

_MANAGED_AT: dict[Level, str] = {
    "central": N_("The position “{position}” is managed at the central level."),
    "province": N_("The position “{position}” is managed at the provincial level."),
    "commune": N_("The position “{position}” is managed at the commune level."),
}


def route(
    *,
    province_code: str,
    commune_code: str | None,
    role: str,
    setting: Setting = "workplace",
    rules: RoutingRules | None = None,
) -> RouteDecision:
    """Decides which committee receives a case about someone in `role` at a place, and records why."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, not {setting!r}")
    rules = rules or default_rules()
    gaz = get_gazetteer()
    province = gaz.province(province_code)
    commune = gaz.commune(commune_code) if commune_code else None
    if commune is not None and gaz.commune_province(commune.code).code != province.code:
        raise ValueError(f"commune {commune.code} is not in province {province.code}")

    reasons: list[Reason] = []
    needs_review = False
    if province.code in rules.provinces:
        reasons.append(Reason(N_("The routing rules of {province} apply."), {"province": province.name}))

    match = rules.match_position(role, province.code)
    if match is None:
        managing: Level = "commune"
        needs_review = True
        reasons.append(
            Reason(
                N_("The position “{role}” is not in the routing rules: the commune committee of the place "
                   "receives the case, which needs review."),
                {"role": _shorten(role)},
            )
        )
    else:
        managing = match.position.level
        reasons.append(Reason(_MANAGED_AT[managing], {"position": match.position.label}))
        needs_review = _grounds(rules, match.position, reasons)
        if match.score < rules.review_below:
            needs_review = True
            reasons.append(
                Reason(
                    N_("“{role}” was read as “{position}” only approximately; please check."),
                    {"role": _shorten(role), "position": match.position.label},
                )
            )

    if setting == "workplace":
        level: Level = managing
        reasons.append(
            Reason(N_("The report concerns the accused's workplace: it goes to the committee at the level "
                      "that manages them, in the unit of the place."))
        )
    else:
        level = "commune"
        reasons.append(
            Reason(N_("The report concerns where the accused lives: it goes to the commune committee of "
                      "their place of residence."))
        )

    level, escalated, review = _escalate(rules, province.code, level, match, reasons)
    needs_review = needs_review or review
    escalated = escalated or _passes_over(rules, province.code, level, match, reasons)

    committee_code, committee_name, level, review = _committee(level, province, commune, reasons)
    needs_review = needs_review or review

    handover: str | None = None
    if setting == "residence" and managing != "commune":
        target_level, _, _ = _escalate(rules, province.code, managing, match, [])
        handover, handover_name, _, _ = _committee(target_level, province, commune, [])
        if handover != committee_code:
            reasons.append(
                Reason(
                    N_("The accused is managed at a higher level: {committee} must pass the case on to {target}."),
                    {"committee": committee_name, "target": handover_name},
                )
            )
        else:
            handover = None

    decision = RouteDecision(
        level=level,
        committee_code=committee_code,
        committee_name=committee_name,
        reasons=reasons,
        escalated=escalated,
        needs_review=needs_review,
        managing_level=managing,
        setting=setting,
        position=match,
        handover_code=handover,
    )
    log.info(
        "routed to %s (level %s, managed at %s, position %s, escalated %s, review %s)",
        committee_code,
        level,
        managing,
        match.position.id if match else None,
        escalated,
        needs_review,
    )
    return decision


def _grounds(rules: RoutingRules, position: Position, reasons: list[Reason]) -> bool:
    """The sector and the rule behind a position's level, as reasons; True when the rule is uncertain."""
    sector = rules.sectors.get(position.sector)
    if sector is not None:
        reasons.append(
            Reason(N_("{sector} is managed vertically: {organisation}"), {"sector": sector.name, "organisation": sector.organisation})
        )
    if position.basis is not None:
        reasons.append(Reason(N_("Basis: {basis}"), {"basis": position.basis}))
    if position.review is not None:
        reasons.append(Reason(N_("Please check: {doubt}"), {"doubt": position.review}))
        return True
    return False


def _passes_over(
    rules: RoutingRules, province_code: str, level: Level, match: PositionMatch | None, reasons: list[Reason]
) -> bool:
    """Whether the case goes above a committee whose unit the accused leads (a provincial party secretary,
    managed centrally, is never handled by the province they lead): marked escalated, with the reason."""
    below = next((lower for lower, parent in _PARENT.items() if parent == level), None)
    if match is None or below is None or match.position.id not in rules.conflict_for(province_code, below):
        return False
    reasons.append(Reason(_CONFLICT_UP[level], {"position": match.position.label}))
    return True


def _escalate(
    rules: RoutingRules, province_code: str, level: Level, match: PositionMatch | None, reasons: list[Reason]
) -> tuple[Level, bool, bool]:
    """Above the unit the accused leads, when the receiving committee is that unit's or one below it."""
    led = rules.led_level(match, province_code)
    if match is None or led is None or _RANK[level] > _RANK[led]:
        return level, False, False
    parent = _PARENT[led]
    if parent is None:
        reasons.append(
            Reason(
                N_("The accused, “{position}”, leads the committee that would receive the case and there is no "
                   "higher level: the standing board must handle it without them."),
                {"position": match.position.label},
            )
        )
        return "central", level != "central", True
    reasons.append(
        Reason(
            _CONFLICT_UP[parent],
            {"position": match.position.label},
        )
    )
    return parent, True, False


_CONFLICT_UP: dict[Level, str] = {
    "province": N_("The accused, “{position}”, holds a leading post in the commune's Front, party committee or "
                   "People's Committee: the case goes up to the provincial committee, so that it never lands in a "
                   "queue they run."),
    "central": N_("The accused, “{position}”, holds a leading post in the province's Front, party committee or "
                  "People's Committee: the case goes up to the central committee, so that it never lands in a "
                  "queue they run."),
}


_WARD_KINDS = {Mark.PHUONG: "phường", Mark.XA: "xã", Mark.DAC_KHU: "đặc khu"}


def front_name(place: Place) -> str:
    """A place's committee as the Front writes it ("Ủy ban MTTQ Việt Nam xã Tân Phú", "… tỉnh Đồng Nai"),
    the same name the committee table holds."""
    gazetteer = get_gazetteer()
    if (province := gazetteer.provinces.get(place.code)) is not None:
        kind = "thành phố trung ương" if province.city else "tỉnh"
    else:
        kind = _WARD_KINDS.get(gazetteer.wards[place.code].kind, "xã")
    return front_names(place.name, kind)[0]


def _committee(
    level: Level, province: Place, commune: Place | None, reasons: list[Reason]
) -> tuple[str, str, Level, bool]:
    """The committee of a level for the place; without a commune, the province's committee, for review."""
    if level == "central":
        return CENTRAL_CODE, CENTRAL_NAME, "central", False
    if level == "commune" and commune is not None:
        return commune.code, front_name(commune), "commune", False
    if level == "commune":
        name = front_name(province)
        reasons.append(
            Reason(
                N_("The commune is not known: {committee} receives the case and passes it to the right commune."),
                {"committee": name},
            )
        )
        return province.code, name, "province", True
    return province.code, front_name(province), "province", False


def _shorten(text: str, limit: int = 80) -> str:
    """A resident's role text cut for a reason line (it is shown to staff, never logged)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
