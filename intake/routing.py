"""Which Front committee receives a report: the place, the accused's position and the setting decide.

Rules live in a TOML file (intake/data/routing.toml, documented there; PHANANH_ROUTING_RULES_FILE
overrides it): which level manages each position, per-province overrides, and the positions that
would put the accused at the head of the receiving committee (then the case goes one level up).
Every decision carries its ordered reasons as translatable messages.
"""

from __future__ import annotations

import functools
import logging
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from rapidfuzz import fuzz

from intake.config import get_settings
from intake.i18n import N_, translator
from intake.places import Place, get_gazetteer
from intake.places.text import fold

log = logging.getLogger(__name__)

Level = Literal["central", "province", "commune"]
Setting = Literal["workplace", "residence"]
LEVELS: tuple[Level, ...] = get_args(Level)
SETTINGS: tuple[Setting, ...] = get_args(Setting)
DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "data" / "routing.toml"

CENTRAL_CODE = "TW"
CENTRAL_NAME = "Ủy ban Trung ương MTTQ Việt Nam"
COMMITTEE_PREFIX = "Ủy ban MTTQ Việt Nam "
_PARENT: dict[Level, Level | None] = {"commune": "province", "province": "central", "central": None}
_RANK: dict[Level, int] = {"commune": 0, "province": 1, "central": 2}

# Level words in a position, read as today's two local levels (no districts since 1 July 2025).
_LEVEL_WORDS = (
    (re.compile(r"\b(phuong|dac khu|thi tran)\b"), "xa"),
    (re.compile(r"\bthanh uy\b"), "tinh uy"),
    (re.compile(r"\bthanh pho\b"), "tinh"),
)


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
class Position:
    """A position the rules know: the level that manages it, its label, and how residents write it."""

    id: str
    level: Level
    label: LocalText
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class PositionMatch:
    """The position a free-text role was read as, and how closely (0-100)."""

    position: Position
    score: float
    alias: str


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

    def normalize(self, role: str) -> str:
        """A role as the aliases are compared: folded, lower case, abbreviations expanded, levels unified."""
        words = re.findall(r"[a-z0-9]+", fold(role).lower())
        text = " ".join(self.abbreviations.get(w, w) for w in words)
        for pattern, replacement in _LEVEL_WORDS:
            text = pattern.sub(replacement, text)
        return text

    def positions_for(self, province_code: str | None) -> tuple[Position, ...]:
        """The positions in force in a province: defaults, moved and extended by its override."""
        override = self.provinces.get(province_code or "")
        if override is None:
            return self.positions
        moved = tuple(
            Position(p.id, override.levels[p.id], p.label, p.aliases) if p.id in override.levels else p
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
        text = self.normalize(role)
        if not text:
            return None
        best: tuple[float, int, Position, str] | None = None
        for position in self.positions_for(province_code):
            for alias in position.aliases:
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


@dataclass(frozen=True)
class RouteDecision:
    """Where a case goes and why: the committee, its level, the reasons in order, and flags for staff."""

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
    abbreviations = {_plain(k): _plain(str(v)) for k, v in _table(data, "abbreviations", source).items()}
    rules_for_norm = RoutingRules((), {}, abbreviations)
    positions = tuple(
        _parse_position(p, f"{source}: positions[{i}]", rules_for_norm)
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
            _parse_position(p, f"{where}.positions[{i}]", rules_for_norm)
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

    return RoutingRules(positions, conflict, abbreviations, threshold, review_below, provinces, source)


def _parse_position(raw: Any, where: str, norm: RoutingRules) -> Position:
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
    return Position(pid, _level(raw.get("level"), f"{where} ({pid}).level"), label, normalized)


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


def _committee(
    level: Level, province: Place, commune: Place | None, reasons: list[Reason]
) -> tuple[str, str, Level, bool]:
    """The committee of a level for the place; without a commune, the province's committee, for review."""
    if level == "central":
        return CENTRAL_CODE, CENTRAL_NAME, "central", False
    if level == "commune" and commune is not None:
        return commune.code, COMMITTEE_PREFIX + commune.name, "commune", False
    if level == "commune":
        name = COMMITTEE_PREFIX + province.name
        reasons.append(
            Reason(
                N_("The commune is not known: {committee} receives the case and passes it to the right commune."),
                {"committee": name},
            )
        )
        return province.code, name, "province", True
    return province.code, COMMITTEE_PREFIX + province.name, "province", False


def _shorten(text: str, limit: int = 80) -> str:
    """A resident's role text cut for a reason line (it is shown to staff, never logged)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
