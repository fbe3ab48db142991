"""Finds the province and commune a piece of free text names, today's units or district-era ones.

The text is tokenized (unit words and abbreviations recognised), every short run of words is
looked up as a province, a commune of today, a district-era district and a district-era commune —
exactly by folded key, then fuzzily (typos) among the few hundred names that can still fit — and
the readings that fit together (a commune in the province named, an old commune in the old
district named...) are scored. A tie between different communes is reported as ambiguous, with
the candidates, instead of a guess.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA, Indel

from intake.places.gazetteer import (
    Choices,
    Gazetteer,
    OldDistrict,
    OldWard,
    Place,
    ProvinceAlias,
    WardEntry,
    get_gazetteer,
)
from intake.places.text import DISTRICT_MARKS, SUBUNIT_MARKS, WARD_MARKS, Mark, Token, collapse, tokenize

log = logging.getLogger(__name__)

# Longer text keeps its head and tail (where residents name places: "Tôi ở xã...", "Địa chỉ: ..."),
# so the cost stays bounded.
MAX_CHARS = 2000
# In a text this long (words), only names right after a unit word are guessed at for typos.
LONG_TEXT_TOKENS = 40
MAX_SPAN_TOKENS = 6  # the longest unit name has five syllables ('Văn Miếu - Quốc Tử Giám')
MAX_FUZZY_TOKENS = 4
MIN_FUZZY_KEY = 4  # shorter keys are too close to each other to guess at
FUZZY_CUTOFF = 0.74  # normalized edit similarity: one typo in four letters, two in eight

# How much each kind of evidence weighs when readings are compared.
WARD_WEIGHT = 10.0
DISTRICT_WEIGHT = 6.0
PROVINCE_WEIGHT = 6.0
LEGACY_PENALTY = 1.5  # at equal evidence, today's structure is the better reading
CONTRADICTION = 0.8  # share of an unexplained province mention charged to a reading that ignores it
OLD_PROVINCE_MISMATCH = 2.0
ACCENT_BONUS = 1.5  # typed diacritics that match exactly tell 'Thạnh An' from 'Thanh An'
AMBIGUITY_MARGIN = 1.0
CANDIDATE_MARGIN = 4.0
MAX_CANDIDATES = 5
MAX_DISTRICT_CANDIDATES = 12  # a district-era district offers the communes it became, if this few
MIN_TOTAL = 5.0
BLIND_FUZZY_MIN = 85.0  # a guessed name with no unit word and no province must be this close
UNMARKED_SYLLABLE_PENALTY = 2.0  # one bare syllable ('Thanh') is a weak sign of a commune
SUB_PENALTY = 5.0  # a name inside a hamlet or street name ('thôn Tân Phú') is rarely the commune
TRAILING_PENALTY = 5.0  # a name followed by words nothing explains is probably a longer name, mistyped
LEADING_PENALTY = 5.0  # likewise a name after a word that is neither filler nor explained
ORDER_PENALTY = 2.0  # addresses run from small to large: a province before its commune is unusual
DOUBLED_LETTER_SIM = 96.0
FIRST_LETTER_PENALTY = 5.0
# Words residents put before a place, typed without diacritics; not a sign of a longer name.
FILLERS = frozenset("tai o xay ra dia chi thuoc gan cua khu vuc noi song lam viec la va nha toi em anh chi".split())


@dataclass(frozen=True)
class PlaceMatch:
    """What a text names: today's province and commune when known, a 0-100 score, and alternatives.

    `candidates` lists the readings worth showing, best first (the chosen one included);
    `legacy` is true when district-era units were converted to today's.
    """

    province: Place | None
    commune: Place | None
    score: float
    candidates: list[PlaceMatch] = field(default_factory=list)
    legacy: bool = False

    @property
    def found(self) -> bool:
        """Whether the text named any place we know (a province at least)."""
        return self.province is not None or self.commune is not None

    @property
    def complete(self) -> bool:
        """Whether a commune was settled, so the case can be routed without asking."""
        return self.commune is not None

    @property
    def ambiguous(self) -> bool:
        """Whether the resident must choose: no commune settled, but several communes fit."""
        return self.commune is None and sum(1 for c in self.candidates if c.commune is not None) >= 2

    def to_json(self) -> dict[str, Any]:
        """The shape `phananh locate --json` prints."""
        return {
            "province": self.province.to_json() if self.province else None,
            "commune": self.commune.to_json() if self.commune else None,
            "score": round(self.score, 1),
            "candidates": [
                {
                    "province": c.province.to_json() if c.province else None,
                    "commune": c.commune.to_json() if c.commune else None,
                    "score": round(c.score, 1),
                }
                for c in self.candidates
            ],
            "legacy": self.legacy,
        }


NOT_FOUND = PlaceMatch(None, None, 0.0, [], False)


@dataclass(slots=True)
class _Span:
    """A run of words that might be a name, with what precedes it."""

    start: int
    end: int
    key: str
    collapsed: str
    accented_key: str
    typed_accents: bool
    mark_before: Mark | None
    penalty: float  # unit words inside the span
    sub: bool  # lies in a hamlet or street name
    unmarked_short: bool
    fuzzy_ok: bool  # holds no unit word typed as one: only names are guessed at
    single: bool


@dataclass(slots=True)
class _Hit:
    """A span read as one entity, with its similarity (0-100) and weighed value."""

    span: _Span
    entity: Any
    sim: float
    value: float

    def overlaps(self, other: _Hit | None) -> bool:
        return other is not None and self.span.start < other.span.end and other.span.start < self.span.end


@dataclass(slots=True)
class _Reading:
    """One consistent reading of the text: the hits it uses and the place it points to."""

    total: float
    province_code: str
    targets: list[str]  # today's commune codes, best first; empty for a province-only reading
    sims: list[float]
    legacy: bool
    stated_province: bool
    district: OldDistrict | None = None  # for a district-only reading: the district named


def resolve_place(text: str, *, province_code: str | None = None) -> PlaceMatch:
    """Reads a province and commune out of free text; province_code restricts the search to one province."""
    gaz = get_gazetteer()
    if province_code is not None:
        code = province_code.strip().zfill(2)
        if code not in gaz.provinces:
            raise ValueError(f"unknown province code {province_code!r}")
        province_code = code
    if not text or not text.strip():
        return NOT_FOUND
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS // 2] + "\n" + text[-MAX_CHARS // 2 :]
    tokens = tokenize(text)
    if not tokens:
        return NOT_FOUND
    return _Resolver(gaz, tokens, province_code).run()


class _Resolver:
    """One resolution: spans, hits of four kinds, readings, and the decision."""

    def __init__(self, gaz: Gazetteer, tokens: list[Token], province_code: str | None) -> None:
        self.gaz = gaz
        self.tokens = tokens
        self.only = province_code
        self.spans = self._spans()

    def run(self) -> PlaceMatch:
        """Finds hits, builds readings and decides."""
        if not self.spans:
            return NOT_FOUND
        provinces = self._province_hits()
        in_play = {h.entity.province_code for h in provinces if h.sim >= 85}
        if self.only:
            in_play = {self.only}
        wards = self._ward_hits(in_play)
        districts = self._district_hits(in_play)
        old_wards = self._old_ward_hits(in_play, districts)
        readings = self._readings(provinces, wards, districts, old_wards)
        return self._decide(readings)

    # -- spans ---------------------------------------------------------------------------------------

    def _spans(self) -> list[_Span]:
        """Every run of up to MAX_SPAN_TOKENS words not crossing a separator, filler or abbreviation."""
        spans: list[_Span] = []
        toks = self.tokens
        n = len(toks)
        # Someone who types diacritics anywhere types them everywhere: 'Thanh An' then is not 'Thạnh An'.
        typed_accents = any(t.accented != t.text for t in toks if t.mark is None or not t.abbrev)
        for start in range(n):
            first = toks[start]
            if first.separator or first.stop or first.abbrev:
                continue
            before = toks[start - 1] if start > 0 else None
            mark_before = before.mark if before is not None else None
            key = ""
            acc = ""
            penalty = 0.0
            numbers_only = True
            has_mark = False
            sub = False
            for end in range(start, min(n, start + MAX_SPAN_TOKENS)):
                tok = toks[end]
                if tok.separator or tok.stop or tok.abbrev:
                    break
                key += tok.text.replace(" ", "")
                acc += tok.accented.replace(" ", "")
                numbers_only = numbers_only and tok.number
                if tok.mark is not None:
                    # A unit word starting a name is unlikely; inside one ('Kim Xã') it happens.
                    # Typed without diacritics it is often a name syllable ('tinh gia': Tĩnh Gia).
                    soft = tok.accented == tok.text
                    penalty += (2.0 if soft else 3.0) if end == start else 1.0
                    has_mark = has_mark or not soft
                sub = sub or tok.sub
                if numbers_only and not (mark_before in WARD_MARKS or mark_before == Mark.QUAN):
                    continue  # 'Phường 12', 'Quận 1': a bare number names nothing
                if len(key) < 2 and not numbers_only:
                    continue
                spans.append(
                    _Span(
                        start=start,
                        end=end + 1,
                        key=key,
                        collapsed=collapse(key),
                        accented_key=acc,
                        typed_accents=typed_accents,
                        mark_before=mark_before,
                        penalty=penalty,
                        sub=sub,
                        unmarked_short=mark_before is None and len(key) <= 3,
                        fuzzy_ok=not has_mark and not (end == start and tok.mark is not None),
                        single=end == start,
                    )
                )
        return spans

    def _fuzzy(
        self, choices: Choices, exact_spans: set[int], blind: bool = False
    ) -> Iterable[tuple[_Span, Any, float]]:
        """Near matches (typos) of the spans not matched exactly, among the given names.

        blind: no province narrows the search, so a span without a unit word before it must be close.
        """
        long_text = len(self.tokens) > LONG_TEXT_TOKENS
        idx = [
            i
            for i, s in enumerate(self.spans)
            if i not in exact_spans
            and s.fuzzy_ok
            and (not long_text or (s.mark_before is not None and s.mark_before not in SUBUNIT_MARKS))
            and len(s.key) >= MIN_FUZZY_KEY
            and s.end - s.start <= MAX_FUZZY_TOKENS
            and not s.key.isdigit()
        ]
        if not idx or not choices.keys:
            return
        queries = [self.spans[i].key for i in idx]
        matrix = process.cdist(
            queries, choices.keys, scorer=OSA.normalized_similarity, score_cutoff=FUZZY_CUTOFF, workers=1
        )
        for qi, ci in zip(*np.nonzero(matrix), strict=True):
            span = self.spans[idx[qi]]
            key = choices.keys[ci]
            # Edits alone tie too often: a dropped or doubled letter (Indel) is likelier than a wrong
            # one, and people rarely mistype a name's first letter.
            sim = (float(matrix[qi, ci]) + Indel.normalized_similarity(span.key, key)) * 50.0
            if span.key[0] != key[0]:
                sim -= FIRST_LETTER_PENALTY
            if blind and span.mark_before is None and sim < BLIND_FUZZY_MIN:
                continue
            yield span, choices.entries[ci], sim

    @staticmethod
    def _accented_sim(span: _Span, accented_key: str, sim: float) -> float:
        """A near match re-weighed by the diacritics the resident typed, when they typed any."""
        if sim >= 100.0 or not span.typed_accents:
            return sim
        return (sim + OSA.normalized_similarity(span.accented_key, accented_key) * 100.0) / 2

    # -- hits ----------------------------------------------------------------------------------------

    def _province_hits(self) -> list[_Hit]:
        """Province names and nicknames, including 'TP.HCM' and 'TT Huế' written across an abbreviation."""
        gaz = self.gaz
        hits: list[_Hit] = []
        exact: set[int] = set()
        for i, span in enumerate(self.spans):
            aliases = gaz.province_aliases.get(span.collapsed)
            if aliases:
                exact.add(i)
                hits.extend(self._province_hit(span, a, _exact_sim(span, a.key)) for a in aliases)
            before = self.tokens[span.start - 1] if span.start > 0 else None
            if before is not None and before.abbrev:
                joined = gaz.province_aliases.get(collapse(before.text.replace(" ", "") + span.key))
                if joined:
                    outer = self.tokens[span.start - 2].mark if span.start > 1 else None
                    wide = _Span(
                        start=span.start - 1,
                        end=span.end,
                        key=span.key,
                        collapsed=span.collapsed,
                        accented_key=span.accented_key,
                        typed_accents=False,
                        mark_before=outer,
                        penalty=span.penalty,
                        sub=False,
                        unmarked_short=False,
                        fuzzy_ok=False,
                        single=False,
                    )
                    hits.extend(self._province_hit(wide, a, 100.0) for a in joined)
        for span, aliases, sim in self._fuzzy(gaz.all_aliases, exact):
            hits.extend(self._province_hit(span, a, sim) for a in aliases)
        if self.only:
            hits = [h for h in hits if h.entity.province_code == self.only]
        return [h for h in hits if h.value > 0]

    def _province_hit(self, span: _Span, alias: ProvinceAlias, sim: float) -> _Hit:
        city = self.gaz.provinces[alias.province_code].city
        mark = span.mark_before
        if mark is None:
            adjust = 0.0
        elif mark == (Mark.THANH_PHO if city else Mark.TINH):
            adjust = 2.0
        elif mark == Mark.TINH:
            adjust = 1.0
        elif mark == Mark.THANH_PHO:
            adjust = -1.0  # 'TP Hà Tĩnh' is the district-era city, the province is 'tỉnh Hà Tĩnh'
        elif mark in SUBUNIT_MARKS:
            adjust = -6.0
        else:
            adjust = -4.0
        sim = self._accented_sim(span, alias.accented_key, sim)
        value = PROVINCE_WEIGHT * _strength(sim) + adjust - span.penalty
        if span.typed_accents and span.accented_key == alias.accented_key:
            value += ACCENT_BONUS / 2
        if span.unmarked_short and sim < 100:
            value *= 0.5
        return _Hit(span, alias, sim, value)

    def _ward_hits(self, in_play: set[str]) -> list[_Hit]:
        """Today's communes: exact anywhere, near matches within the provinces named (or all, if none)."""
        gaz = self.gaz
        hits: list[_Hit] = []
        exact: set[int] = set()
        for i, span in enumerate(self.spans):
            entries = gaz.ward_index.get(span.collapsed)
            if entries:
                if _settled(in_play, (w.province_code for w in entries)):
                    exact.add(i)
                hits.extend(self._unit_hit(span, w, w.kind, _exact_sim(span, w.key)) for w in entries)
        if in_play:
            choices = _merge(gaz.wards_by_province[p] for p in sorted(in_play))
        else:
            choices = gaz.all_wards
        found = self._fuzzy(choices, exact, blind=not in_play)
        hits.extend(self._unit_hit(s, w, w.kind, sim) for s, w, sim in found)
        if self.only:
            hits = [h for h in hits if h.entity.province_code == self.only]
        return [h for h in hits if h.value > 0]

    def _district_hits(self, in_play: set[str]) -> list[_Hit]:
        """District-era districts: exact anywhere, near matches within the provinces named (or all)."""
        gaz = self.gaz
        hits: list[_Hit] = []
        exact: set[int] = set()
        for i, span in enumerate(self.spans):
            entries = gaz.district_index.get(span.collapsed)
            if entries:
                if _settled(in_play, (d.province_code for d in entries)):
                    exact.add(i)
                hits.extend(self._district_hit(span, d, _exact_sim(span, d.key)) for d in entries)
        if in_play:
            choices = _merge(gaz.districts_by_province[p] for p in sorted(in_play) if p in gaz.districts_by_province)
        else:
            choices = gaz.all_districts
        found = self._fuzzy(choices, exact, blind=not in_play)
        hits.extend(self._district_hit(s, d, sim) for s, d, sim in found)
        if self.only:
            hits = [h for h in hits if h.entity.province_code == self.only]
        return [h for h in hits if h.value > 0]

    def _district_hit(self, span: _Span, district: OldDistrict, sim: float) -> _Hit:
        mark = span.mark_before
        if mark is None:
            adjust = 0.0
        elif mark == district.kind:
            adjust = 3.0
        elif mark in DISTRICT_MARKS:
            adjust = 1.5
        elif mark == Mark.TINH:
            adjust = -2.0
        elif mark in SUBUNIT_MARKS:
            adjust = -6.0
        else:
            adjust = -4.0
        sim = self._accented_sim(span, district.accented_key, sim)
        value = DISTRICT_WEIGHT * _strength(sim) + adjust - span.penalty - (SUB_PENALTY if span.sub else 0.0)
        if span.typed_accents and span.accented_key == district.accented_key:
            value += ACCENT_BONUS / 2
        if span.unmarked_short:
            value *= 0.5
        return _Hit(span, district, sim, value)

    def _old_ward_hits(self, in_play: set[str], districts: list[_Hit]) -> list[_Hit]:
        """District-era communes: exact anywhere; near matches only inside the districts or provinces named."""
        gaz = self.gaz
        named = {d.entity.ident for d in districts if d.value >= DISTRICT_WEIGHT * 0.5}
        hits: list[_Hit] = []
        exact: set[int] = set()
        for i, span in enumerate(self.spans):
            entries = gaz.old_ward_index.get(span.collapsed)
            if entries:
                if any(w.district.ident in named for w in entries) or (
                    _settled(in_play, (w.district.province_code for w in entries)) and (in_play or not named)
                ):
                    exact.add(i)
                hits.extend(self._unit_hit(span, w, w.kind, _exact_sim(span, w.key)) for w in entries)
        pools = [gaz.old_wards_by_district[i] for i in sorted(named) if i in gaz.old_wards_by_district]
        if in_play:
            pools.extend(gaz.old_wards_by_province[p] for p in sorted(in_play) if p in gaz.old_wards_by_province)
        if pools:
            choices = _merge(pools)
            hits.extend(self._unit_hit(s, w, w.kind, sim) for s, w, sim in self._fuzzy(choices, exact))
        if self.only:
            hits = [h for h in hits if h.entity.district.province_code == self.only]
        return [h for h in hits if h.value > 0]

    def _unit_hit(self, span: _Span, entity: WardEntry | OldWard, kind: Mark, sim: float) -> _Hit:
        """A commune-level hit, weighed by similarity and by the unit word written before it."""
        mark = span.mark_before
        if mark is None:
            adjust = 0.0
        elif mark == kind:
            adjust = 3.0
        elif mark in WARD_MARKS:
            adjust = 1.5
        elif mark == Mark.THANH_PHO:
            adjust = -2.0
        elif mark in SUBUNIT_MARKS:
            adjust = -6.0
        else:
            adjust = -4.0
        sim = self._accented_sim(span, entity.accented_key, sim)
        value = WARD_WEIGHT * _strength(sim) + adjust - span.penalty - (SUB_PENALTY if span.sub else 0.0)
        if span.typed_accents and span.accented_key == entity.accented_key:
            value += ACCENT_BONUS
        if span.single and mark is None:
            value -= UNMARKED_SYLLABLE_PENALTY
        if span.unmarked_short:
            value *= 0.5
        return _Hit(span, entity, sim, value)

    # -- readings ------------------------------------------------------------------------------------

    def _readings(
        self, provinces: list[_Hit], wards: list[_Hit], districts: list[_Hit], old_wards: list[_Hit]
    ) -> list[_Reading]:
        """Every consistent combination worth scoring: today's commune, district-era commune, district, province."""
        provinces.sort(key=lambda h: -h.value)
        by_province: dict[str, list[_Hit]] = defaultdict(list)
        for hit in provinces:
            by_province[hit.entity.province_code].append(hit)
        by_district: dict[int, list[_Hit]] = defaultdict(list)
        for hit in sorted(districts, key=lambda h: -h.value):
            by_district[hit.entity.ident].append(hit)
        old_targets = self.gaz.old_province_targets
        readings: list[_Reading] = []

        for w in wards:
            ward: WardEntry = w.entity
            p, p_value = self._best_province(by_province.get(ward.province_code, ()), w, None)
            if p is not None and p.entity.old_key is not None and ward.code not in old_targets[p.entity.old_key]:
                p_value -= OLD_PROVINCE_MISMATCH
            total = w.value + p_value - self._contradiction(provinces, ward.province_code, w, p)
            total -= self._context(w, p)
            readings.append(
                _Reading(
                    total,
                    ward.province_code,
                    [ward.code],
                    [w.sim] + ([p.sim] if p else []),
                    legacy=p is not None and p.entity.old_key is not None,
                    stated_province=p is not None,
                )
            )

        for o in old_wards:
            old: OldWard = o.entity
            district: OldDistrict = old.district
            od = next((h for h in by_district.get(district.ident, ()) if not h.overlaps(o)), None)
            op, op_value = self._best_province(by_province.get(district.province_code, ()), o, od, district.old_province)
            total = o.value + (od.value if od else 0.0) + op_value - LEGACY_PENALTY
            total -= self._contradiction(provinces, district.province_code, o, op, od)
            total -= self._context(o, op, od)
            sims = [o.sim] + ([od.sim] if od else []) + ([op.sim] if op else [])
            readings.append(_Reading(total, district.province_code, list(old.targets), sims, True, op is not None))

        for dh in districts:
            district = dh.entity
            dp, dp_value = self._best_province(
                by_province.get(district.province_code, ()), dh, None, district.old_province
            )
            total = dh.value + dp_value - LEGACY_PENALTY
            total -= self._contradiction(provinces, district.province_code, dh, dp)
            targets = list(district.targets) if len(district.targets) == 1 else []
            sims = [dh.sim] + ([dp.sim] if dp else [])
            readings.append(_Reading(total, district.province_code, targets, sims, True, dp is not None, district))

        for ph in provinces:
            readings.append(
                _Reading(ph.value, ph.entity.province_code, [], [ph.sim], ph.entity.old_key is not None, True)
            )
        return readings

    def _context(self, unit: _Hit, p: _Hit | None, d: _Hit | None = None) -> float:
        """Charges for what surrounds a commune name: unexplained words next to it, or units out of order.

        A plain word right after the name, or right before it (fillers aside), that no other part of
        the reading explains usually means the name is longer and mistyped ('Hàm Thuận Bắv').
        """
        charge = 0.0
        used = [h for h in (p, d) if h is not None]
        after = unit.span.end
        if after < len(self.tokens) and _is_plain_word(self.tokens[after]):
            if not any(h.span.start <= after < h.span.end for h in used):
                charge += TRAILING_PENALTY
        before = unit.span.start - 1
        if before >= 0 and _is_plain_word(self.tokens[before]) and self.tokens[before].text not in FILLERS:
            if not any(h.span.start <= before < h.span.end for h in used):
                charge += LEADING_PENALTY
        for bigger in used:
            if bigger.span.end <= unit.span.start:
                charge += ORDER_PENALTY
        if p is not None and d is not None and p.span.end <= d.span.start:
            charge += ORDER_PENALTY
        return charge

    @staticmethod
    def _best_province(
        hits: Iterable[_Hit], unit: _Hit, other: _Hit | None, old_province: str | None = None
    ) -> tuple[_Hit | None, float]:
        """The strongest mention of the unit's province not overlapping the unit (nor its district)."""
        for p in hits:
            if p.overlaps(unit) or p.overlaps(other):
                continue
            if old_province is not None and p.entity.old_key not in (None, old_province):
                continue
            return p, p.value
        return None, 0.0

    @staticmethod
    def _contradiction(
        provinces: list[_Hit], code: str, unit: _Hit, p: _Hit | None, d: _Hit | None = None
    ) -> float:
        """A charge for a province named elsewhere in the text that this reading leaves unexplained."""
        for other in provinces:  # sorted strongest first
            if other.entity.province_code == code or other is p:
                continue
            if other.overlaps(unit) or other.overlaps(d) or other.overlaps(p):
                continue
            return CONTRADICTION * other.value
        return 0.0

    # -- decision ------------------------------------------------------------------------------------

    def _decide(self, readings: list[_Reading]) -> PlaceMatch:
        """Picks the best reading; a near tie between different communes is left for the resident."""
        best_by_target: dict[tuple[str, str], _Reading] = {}
        for r in readings:
            target = (r.province_code, r.targets[0] if r.targets else "")
            known = best_by_target.get(target)
            if known is None or r.total > known.total:
                best_by_target[target] = r
        ranked = sorted(best_by_target.values(), key=lambda r: -r.total)
        if not ranked or ranked[0].total < MIN_TOTAL:
            return NOT_FOUND
        top = ranked[0]
        if not top.targets:
            return self._province_only(top)

        with_commune = [r for r in ranked if r.targets and r.total >= top.total - CANDIDATE_MARGIN]
        candidates = [self._match(r, r.targets[0]) for r in with_commune[:MAX_CANDIDATES]]
        tied = [r for r in with_commune if r.total >= top.total - AMBIGUITY_MARGIN]
        if len(tied) == 1:
            if len(top.targets) > 1:
                # A district-era commune split in two or more: the default first, the others offered.
                split = [self._match(top, code) for code in top.targets[1:]]
                extra = [PlaceMatch(m.province, m.commune, max(m.score - 10.0, 0.0), [], True) for m in split]
                candidates = (candidates[:1] + extra + candidates[1:])[:MAX_CANDIDATES]
            chosen = candidates[0]
            return PlaceMatch(chosen.province, chosen.commune, chosen.score, candidates, chosen.legacy)
        provinces = {r.province_code for r in tied}
        province = self.gaz.province(provinces.pop()) if len(provinces) == 1 else None
        score = max(c.score for c in candidates) / len(tied)
        return PlaceMatch(province, None, score, candidates, any(r.legacy for r in tied))

    def _province_only(self, reading: _Reading) -> PlaceMatch:
        """A province with no commune settled; a district-era district offers the communes it became."""
        chosen = self._match(reading, None)
        candidates: list[PlaceMatch] = []
        if reading.district is not None and len(reading.district.targets) <= MAX_DISTRICT_CANDIDATES:
            for code in reading.district.targets:
                m = self._match(reading, code)
                candidates.append(PlaceMatch(m.province, m.commune, chosen.score, [], True))
        return PlaceMatch(chosen.province, None, chosen.score, candidates, chosen.legacy)

    def _match(self, reading: _Reading, commune_code: str | None) -> PlaceMatch:
        """A reading as a PlaceMatch without candidates, scored 0-100 from its evidence."""
        gaz = self.gaz
        score = sum(reading.sims) / len(reading.sims)
        if not reading.stated_province and self.only is None:
            score -= 10.0
        if len(reading.targets) > 1:
            score -= 10.0
        if commune_code is None:
            score *= 0.6
        commune = gaz.commune(commune_code) if commune_code else None
        return PlaceMatch(gaz.province(reading.province_code), commune, max(0.0, min(100.0, score)), [], reading.legacy)


def _exact_sim(span: _Span, key: str) -> float:
    """100 for the very key; a little less when only a doubled letter differs."""
    return 100.0 if span.key == key else DOUBLED_LETTER_SIM


def _settled(in_play: set[str], provinces: Iterable[str]) -> bool:
    """Whether an exact match needs no typo search: it lies in a province named (or none is named)."""
    return not in_play or any(p in in_play for p in provinces)


def _is_plain_word(token: Token) -> bool:
    """Whether a token is an ordinary name word (not a unit word, number, separator or filler)."""
    return token.mark is None and not (token.separator or token.stop or token.number)


def _strength(sim: float) -> float:
    """Similarity 74-100 as a weight 0.48-1."""
    return (sim - 50.0) / 50.0


def _merge(pools: Iterable[Choices]) -> Choices:
    """Several name lists as one, for a single fuzzy call."""
    keys: list[str] = []
    entries: list[Any] = []
    for pool in pools:
        keys.extend(pool.keys)
        entries.extend(pool.entries)
    return Choices(keys, entries)
