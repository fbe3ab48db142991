"""Places and agencies inside a story: where each is written, and what kind of unit it names.

A place is a chain of elements ('thôn 2, xã Tân Phú, huyện Định Quán, Đồng Nai'): a unit word
(the places tokenizer's: xã, P., Q.1, TP, thôn...) with its name, or a province named alone. A
name is taken in capitals as written, a number, or — typed in lower case — only when the gazetteer
knows it and a function word, punctuation or another element ends it ('xa ninh hiep thu tien', not
'xa cat lai 1 trieu'). Agencies are found by their head words ('UBND', 'phòng', 'trường', 'chi bộ').
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from intake.dialog import story_words as vocab
from intake.dialog.story_text import Story, Word
from intake.places import get_gazetteer
from intake.places.text import SUBUNIT_MARKS, Mark, collapse, fold_key, unit_at

_PLACE_SEPARATORS = re.compile(r"[,;:!?()\n\[\]/|]")
_CHAIN_GAP = re.compile(r"\s*[,\-–]?\s*")
_UNIT_GAP = re.compile(r"\s*\.?\s*")
_FIELD_GAP = re.compile(r"\s*[-&–]?\s*")
_PROVINCE_MARKS = frozenset({Mark.TINH, Mark.THANH_PHO})
# Unit words that are also ordinary words before these: 'xã hội', 'xã viên', 'tỉnh táo'.
_NOT_A_UNIT = {"xa": frozenset({"hoi", "vien"}), "tinh": frozenset({"tao", "day", "ngo", "thuc"})}
_TAIL_LEADS = vocab.phrases("khu vực|chi nhánh")
_HEAD_WORDS = vocab.ORG_HEADS + vocab.UNIT_HEADS + vocab.STANDALONE_HEADS + vocab.SCHOOL + vocab.CELL


@dataclass
class Element:
    """One link of a place chain: words first..last, the unit word's mark (None for a province alone)."""

    first: int
    last: int
    mark: Mark | None
    weak: bool  # a lower-case name that only the gazetteer vouches for
    province: bool  # names a province (so the chain states its province)


@dataclass
class Chain:
    """A run of place elements; `home` when the resident says it is where they live."""

    first: int
    last: int
    elements: list[Element] = field(default_factory=list)
    home: bool = False

    @property
    def states_province(self) -> bool:
        return any(e.province for e in self.elements)


@dataclass
class Agency:
    """An agency or unit: words first..last; kind org, unit, school, cell or office."""

    first: int
    last: int
    kind: str
    excluded: str = ""  # 'self' (the resident's own), 'addressee' (where a letter went)


class Units:
    """The places and agencies of one story, read on demand and remembered."""

    def __init__(self, story: Story) -> None:
        self.s = story
        self.words = story.words
        self.gaz = get_gazetteer()
        self._tokens, self._where = self._place_tokens()
        self._units: dict[int, tuple[Mark | None, int]] = {}
        self._elements: dict[tuple[int, bool], Element | None] = {}
        self._agency_at: dict[int, Agency | None] = {}

    # -- words ---------------------------------------------------------------------------------------

    def _place_tokens(self) -> tuple[list[tuple[str, str]], list[int]]:
        """The story as the place tokenizer reads it (punctuation as words), and where each word stands there."""
        out: list[tuple[str, str]] = []
        where: list[int] = []
        for i, w in enumerate(self.words):
            if i > 0:
                gap = self.s.gap(self.words[i - 1], w)
                if "." in gap:
                    out.append((".", "."))
                if _PLACE_SEPARATORS.search(gap):
                    out.append((",", ","))
            where.append(len(out))
            out.append((w.flat, w.low))
        return out, where

    def unit(self, i: int) -> tuple[Mark | None, int]:
        """The unit word at word i (phường, P., huyện, thôn...) and how many words it takes."""
        if i in self._units:
            return self._units[i]
        found: tuple[Mark | None, int] = (None, 0)
        if i < len(self.words):
            mark, width, abbrev = unit_at(self._tokens, self._where[i])
            w = self.words[i]
            nxt = self.words[i + 1] if i + 1 < len(self.words) else None
            if mark is not None:
                end = self._where[i] + width
                n = 1
                while i + n < len(self.words) and self._where[i + n] < end:
                    n += 1
                found = (mark, n)
                dotted = nxt is not None and (nxt.low.isdigit() or "." in self.s.gap(w, nxt))
                if abbrev and len(w.low) == 1 and not w.cap and not dotted:
                    found = (None, 0)  # lower-case 'h', 'x' in a chat are words, not 'huyện', 'xã'
                elif nxt is not None and nxt.flat in _NOT_A_UNIT.get(w.flat, ()):
                    found = (None, 0)
        self._units[i] = found
        return found

    def level_word(self, i: int) -> int:
        """Words of a level word at i ('xã', 'thị trấn', 'huyện'), even with no name after it."""
        return self.s.phrase_at(i, vocab.LEVEL_WORDS) if i < len(self.words) else 0

    def known(self, words: list[Word], *, communes: bool = True) -> bool:
        """Whether words name a place the gazetteer knows (communes too, or only districts and provinces)."""
        k = collapse(fold_key(" ".join(w.flat for w in words)))
        gaz = self.gaz
        if gaz.district_index.get(k) or gaz.province_aliases.get(k):
            return True
        return communes and bool(gaz.ward_index.get(k) or gaz.old_ward_index.get(k))

    def ends_name(self, i: int) -> bool:
        """Whether a lower-case name may end before word i: the end, punctuation, or a function word."""
        if i >= len(self.words):
            return True
        w = self.words[i]
        return not self.s.joined(self.words[i - 1], w) or w.flat in vocab.FUNCTION_WORDS

    # -- places --------------------------------------------------------------------------------------

    def element(self, i: int, *, follows: bool = False) -> Element | None:
        """The place element at word i: a unit word with its name, or a province alone.

        follows: it continues a chain, where a lower-case district or province needs no unit word.
        """
        key = (i, follows)
        if key in self._elements:
            return self._elements[key]
        found = self._element(i, follows)
        self._elements[key] = found
        return found

    def _element(self, i: int, follows: bool) -> Element | None:
        words = self.words
        if i >= len(words):
            return None
        mark, width = self.unit(i)
        if mark is not None:
            j = i + width
            if j >= len(words) or not _UNIT_GAP.fullmatch(self.s.gap(words[j - 1], words[j])):
                return None
            n, weak = self._name(j, mark)
            if not n or (weak and not self.ends_name(j + n) and not self._opens_element(j + n)):
                return None  # 'ke toan xa cat lai 1 trieu': a verb, not the ward Cát Lái
            if mark in SUBUNIT_MARKS and self.person_like(j, n):
                return None  # 'trưởng thôn Phan Văn Kha': a person, not a hamlet
            names_province = mark in _PROVINCE_MARKS and bool(
                self.gaz.province_aliases.get(collapse(fold_key(" ".join(w.flat for w in words[j : j + n]))))
            )
            return Element(i, j + n - 1, mark, weak, names_province)
        n = self._province(i)
        if n:
            return Element(i, i + n - 1, None, False, True)
        if follows and not self.s.marked:
            for n in range(min(4, len(words) - i), 1, -1):
                run = words[i : i + n]
                if self._joined_run(run) and self.known(run, communes=False) and (
                    self.ends_name(i + n) or self._opens_element(i + n)
                ):
                    province = bool(self.gaz.province_aliases.get(collapse(fold_key(" ".join(w.flat for w in run)))))
                    return Element(i, i + n - 1, None, False, province)
        return None

    def _opens_element(self, i: int) -> bool:
        """Whether another place element may start at word i: a unit word, or a district or province named alone."""
        if i >= len(self.words) or not _CHAIN_GAP.fullmatch(self.s.gap(self.words[i - 1], self.words[i])):
            return False
        if self.unit(i)[0] is not None or self._province(i):
            return True
        run = self.words[i : i + 4]
        return any(self._joined_run(run[:n]) and self.known(run[:n], communes=False) for n in range(2, len(run) + 1))

    def _joined_run(self, run: list[Word]) -> bool:
        return all(self.s.joined(a, b) for a, b in zip(run, run[1:], strict=False))

    def _name(self, i: int, mark: Mark) -> tuple[int, bool]:
        """How many words after a unit word name it, and whether only the gazetteer vouches for them."""
        words = self.words
        first = words[i]
        if first.low.isdigit():
            return 1, False
        if first.cap or first.upper:
            n = 0
            while i + n < len(words) and n < 5:
                w = words[i + n]
                if not (w.cap or w.upper or (n > 0 and w.low.isdigit())):
                    break
                if n > 0 and (not self.s.joined(words[i + n - 1], w) or self.unit(i + n)[0] is not None):
                    break
                if n > 0 and self.head_word(i + n):
                    break
                n += 1
            return n, False
        if mark in SUBUNIT_MARKS:
            return 0, False
        for n in range(min(5, len(words) - i), 1, -1):
            run = words[i : i + n]
            if self._joined_run(run) and self.known(run) and all(w.low.isalpha() for w in run):
                return n, True
        return 0, False

    def _province(self, i: int) -> int:
        """How many words a province named without a unit word takes at word i ('Đồng Nai', 'Huế')."""
        words = self.words
        first = words[i]
        if not first.low.isalpha() or (self.s.marked and not (first.cap or first.upper)):
            return 0
        if i > 0 and self.s.phrase_at(i - 1, vocab.HONORIFICS) and self.s.joined(words[i - 1], first):
            return 0  # 'ông Thái Bình', 'chị Hà Nam': a person's name
        for n in range(min(4, len(words) - i), 0, -1):
            run = words[i : i + n]
            if not self._joined_run(run):
                continue
            key = fold_key(" ".join(w.low for w in run))
            aliases = self.gaz.province_aliases.get(collapse(key))
            if not aliases:
                continue
            plain = all(w.plain for w in run)
            if len(key) <= 3 and plain and not all(w.upper for w in run):
                continue  # 'HN', 'SG' only in capitals; 'Huế' as typed
            if not plain and all(a.accented_key != "".join(w.low for w in run) for a in aliases):
                continue  # typed diacritics must be the province's own
            if plain and not (first.cap or first.upper):
                before = words[i - 1].flat if i > 0 else ""
                if before not in ("o", "tai", "tinh") and not (i > 0 and not self.s.joined(words[i - 1], first)):
                    continue
            if not plain or first.cap or first.upper or self.ends_name(i + n):
                return n
        return 0

    def chains(self) -> list[Chain]:
        """Runs of place elements, each marked when the resident says it is their home."""
        chains: list[Chain] = []
        words = self.words
        i = 0
        while i < len(words):
            e = self.element(i)
            if e is None:
                i += 1
                continue
            chain = Chain(i, e.last, [e])
            j = e.last + 1
            while j < len(words) and _CHAIN_GAP.fullmatch(self.s.gap(words[j - 1], words[j])):
                nxt = self.element(j, follows=True)
                if nxt is None:
                    break
                chain.elements.append(nxt)
                chain.last = nxt.last
                j = nxt.last + 1
            before = self.s.before(words[i])
            chain.home = bool(
                vocab.HOME_BEFORE.search(before)
                or (vocab.SELF_INTRO.search(self.s.sentence_head(words[i])) and vocab.HOME_AFTER_INTRO.search(before))
            )
            chains.append(chain)
            i = chain.last + 1
        return chains

    # -- agencies ------------------------------------------------------------------------------------

    def head_word(self, i: int) -> bool:
        """Whether word i opens an agency's name ('UBND', 'Công an', 'Trường'), whatever follows."""
        return bool(self.s.phrase_at(i, _HEAD_WORDS))

    def agencies(self) -> list[Agency]:
        """Agencies and units named in the story, with the resident's own and the letters' set apart."""
        out: list[Agency] = []
        i = 0
        while i < len(self.words):
            a = self.agency(i)
            if a is None:
                i += 1
                continue
            before = self.s.before(self.words[a.first])
            if vocab.SELF_BEFORE.search(before):
                a.excluded = "self"
            elif vocab.ADDRESSEE_BEFORE.search(before):
                a.excluded = "addressee"
            out.append(a)
            i = a.last + 1
        return out

    def agency(self, i: int) -> Agency | None:
        """The agency starting at word i ('UBND xã Tân Phú', 'phòng tài chính huyện', 'trường THCS Lê Lợi')."""
        if i not in self._agency_at:
            self._agency_at[i] = self._agency(i) if i < len(self.words) else None
        return self._agency_at[i]

    def _agency(self, i: int) -> Agency | None:
        s = self.s
        words = self.words
        n = s.phrase_at(i, vocab.STANDALONE_HEADS)
        if n:
            j = i + n
            nested = self.agency(j) if j < len(words) and s.joined(words[j - 1], words[j]) else None
            if nested is not None:  # 'bộ phận một cửa UBND phường Láng'
                return Agency(i, nested.last, "office")
            tail = self.unit_tail(j) or (0 if self.head_word(j) else self.name_run(j))
            return Agency(i, j + tail - 1, "office")
        for heads, kind in ((vocab.ORG_HEADS, "org"), (vocab.UNIT_HEADS, "unit")):
            n = s.phrase_at(i, heads)
            if n == 1 and words[i].flat in ("ca", "du", "ub") and not (words[i].upper or s.marked):
                n = 0  # 'ca', 'du' are words when a story has no diacritics at all
            if n:
                tail = self.unit_tail(i + n)
                if tail:
                    return Agency(i, i + n + tail - 1, kind)
        if s.phrase_at(i, vocab.SCHOOL):
            levels = s.phrase_at(i + 1, vocab.SCHOOL_LEVELS) if i + 1 < len(words) else 0
            j = i + 1 + levels
            name = self.name_run(j)
            if not name and levels and j < len(words) and not s.marked and self.element(j) is None:
                name = self.plain_name_run(j)
            if not (levels or name):
                return None
            end = j + name
            return Agency(i, end + self.unit_tail(end) - 1, "school")
        if s.phrase_at(i, vocab.CELL):
            j = i + 2
            tail = self.unit_tail(j) or self.hamlet(j) or self.name_run(j)
            return Agency(i, j + tail - 1, "cell") if tail else None
        n = s.phrase_at(i, vocab.FIELD_HEADS)
        if n:
            k = self._fields(i + n)
            if k == i + n:
                return None
            return Agency(i, k + self.unit_tail(k) - 1, "office")
        return None

    def _fields(self, j: int) -> int:
        """The word after the field words starting at j ('tài nguyên và môi trường', 'Tài chính')."""
        s = self.s
        words = self.words
        k = j
        while k < len(words) and (k == j or _FIELD_GAP.fullmatch(s.gap(words[k - 1], words[k]))):
            n = s.phrase_at(k, vocab.FIELDS)
            if not n and k > j and s.is_word(words[k], "và") and k + 1 < len(words):
                m = s.phrase_at(k + 1, vocab.FIELDS)
                n = 1 + m if m else 0
            if not n and s.marked and words[k].cap and not words[k].upper and (k == j or words[k - 1].cap):
                n = 1 if self.unit(k)[0] is None else 0  # 'Sở Tài chính', 'khoa Luật'
            if not n:
                break
            k += n
        return k

    def unit_tail(self, i: int) -> int:
        """Words after an agency head that say its unit: 'xã Tân Phú', 'huyện', 'khu vực 5', 'chi nhánh Bình Chánh'."""
        words = self.words
        if i >= len(words) or not self.s.joined(words[i - 1], words[i]):
            return 0
        e = self.element(i)
        if e is not None:
            return e.last - i + 1
        n = self.level_word(i)
        if n and self.element(i) is None:
            return n
        if self.s.phrase_at(i, _TAIL_LEADS):
            rest = self.name_run(i + 2)
            return 2 + rest if rest else 0
        return 0

    def hamlet(self, i: int) -> int:
        """Words of a hamlet with its name or number at word i ('thôn 2', 'bản Nà Khoang', 'khu phố 6')."""
        n = self.s.phrase_at(i, vocab.HAMLET_WORDS) if i < len(self.words) else 0
        if not n:
            return 0
        name = self.name_run(i + n, limit=3)
        if self.person_like(i + n, name):
            return 0  # 'trưởng thôn Phan Văn Kha': a person, not a hamlet
        return n + name if name else 0

    def person_like(self, i: int, n: int) -> bool:
        """Whether words i..i+n-1 read as a person's full name (a surname, then a middle name)."""
        run = self.words[i : i + n]
        return len(run) >= 2 and run[0].flat in vocab.SURNAMES and run[1].flat in vocab.MIDDLE_NAMES

    def name_run(self, i: int, limit: int = 4) -> int:
        """A capitalised name or a number at word i ('Kim Đồng', 'số 2', '5'); 0 if none."""
        words = self.words
        if i >= len(words) or not self.s.joined(words[i - 1], words[i]):
            return 0
        if words[i].low.isdigit():
            return 1
        if self.s.is_word(words[i], "số") and i + 1 < len(words) and words[i + 1].low.isdigit():
            return 2
        n = 0
        while i + n < len(words) and n < limit and (words[i + n].cap or words[i + n].upper):
            if n > 0 and (not self.s.joined(words[i + n - 1], words[i + n]) or self.unit(i + n)[0] is not None):
                break
            n += 1
        return n

    def plain_name_run(self, i: int, limit: int = 3) -> int:
        """In a story without capitals, words up to a function word ('le loi' in 'truong thcs le loi thu...')."""
        words = self.words
        n = 0
        while i + n < len(words) and n < limit:
            w = words[i + n]
            if w.flat in vocab.FUNCTION_WORDS or not w.low.isalpha() or self.unit(i + n)[0] is not None:
                break
            if not self.s.joined(words[i + n - 1], w):
                break
            n += 1
        return n if self.ends_name(i + n) else 0
