"""The text layer under the story reader: words with offsets, and phrase patterns written in Vietnamese.

A story is read in NFC lower case and folded (no diacritics) views of the same length, so that every
match maps back to the resident's own characters. Patterns are written with diacritics; each
Vietnamese word in them also matches the word typed without any ('tháng' or 'thang', never 'thàng').
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from intake.places.text import fold

# Stories longer than this are read on their first characters only: the cost stays bounded, and a
# resident says who and where near the start.
MAX_CHARS = 6000
# How far before a mention its context is read (characters).
CONTEXT = 120

_CLUSTER = re.compile(r".[\u0300-\u036f]*", re.DOTALL)
_WORD = re.compile(r"[^\W\d_]+|\d+")
_SENTENCE_END = re.compile(r"[!?\n]|\.(?:\s|$)")
# A Vietnamese word inside a pattern: a run of letters not preceded by a backslash or a letter.
_PATTERN_WORD = re.compile(r"(?<![\\\w])[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class Word:
    """One word of the story: offsets in the composed text, as typed (lower case) and folded."""

    index: int
    start: int
    end: int
    low: str
    flat: str
    cap: bool  # starts with a capital letter
    upper: bool  # written all in capitals ('UBND', 'CSGT')

    @property
    def plain(self) -> bool:
        """Typed without diacritics (đ aside)."""
        return self.low.replace("đ", "d") == self.flat


class Story:
    """A story read once: composed text, lower-case and folded views, words, sentence and clause marks."""

    def __init__(self, original: str) -> None:
        self.original = original
        text = original[:MAX_CHARS]
        if unicodedata.is_normalized("NFC", text):
            self.text = text
            self._origin = list(range(len(text) + 1))
        else:  # composed piece by piece, each character remembering where it came from
            composed: list[str] = []
            origin: list[int] = []
            for m in _CLUSTER.finditer(text):
                piece = unicodedata.normalize("NFC", m.group())
                composed.append(piece)
                origin.extend([m.start()] * len(piece))
            self.text = "".join(composed)
            origin.append(len(text))
            self._origin = origin
        self.low = "".join(_same_length(c, c.lower()) for c in self.text)
        self.flat = "".join(_same_length(c, fold(c)) for c in self.low)
        self.words: list[Word] = [
            Word(i, m.start(), m.end(), m.group(), self.flat[m.start() : m.end()], self.text[m.start()].isupper(),
                 m.group().isalpha() and len(m.group()) > 1 and self.text[m.start() : m.end()].isupper())
            for i, m in enumerate(_WORD.finditer(self.low))
        ]
        self.marked = sum(not w.plain for w in self.words if w.low.isalpha()) >= 2

    def is_word(self, w: Word, accented: str) -> bool:
        """Whether a word is this Vietnamese word: typed so, or typed without diacritics where that is plain."""
        if w.low == accented:
            return True
        plain = _fold(accented)
        if not w.plain or w.flat != plain:
            return False
        # In a text typed with diacritics, a capitalised plain word is a name ('Phong'), not 'phòng'.
        return not self.marked or not w.cap or w.upper or plain == accented

    def phrase_at(self, i: int, phrases: Phrases) -> int:
        """How many words the longest of the phrases takes at word i (0: none), never across punctuation."""
        words = self.words
        if i >= len(words):
            return 0
        for phrase in phrases.starting(words[i].flat):
            n = len(phrase)
            if i + n > len(words):
                continue
            if all(self.is_word(words[i + k], phrase[k]) for k in range(n)) and all(
                self.joined(words[i + k], words[i + k + 1]) for k in range(n - 1)
            ):
                return n
        return 0

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Offsets in the composed text as offsets in the resident's original text."""
        return self._origin[start], self._origin[end] if end < len(self._origin) else len(self.original)

    def gap(self, a: Word, b: Word) -> str:
        """What lies between two words (a before b)."""
        return self.text[a.end : b.start]

    def joined(self, a: Word, b: Word) -> bool:
        """Whether only spaces lie between two neighbouring words."""
        gap = self.gap(a, b)
        return gap == "" or gap.isspace()

    @cached_property
    def sentence_starts(self) -> list[int]:
        """The character offset where the sentence holding each word begins."""
        starts: list[int] = []
        current = 0
        for i, w in enumerate(self.words):
            if i > 0 and _SENTENCE_END.search(self.gap(self.words[i - 1], w)):
                current = w.start
            starts.append(current)
        return starts

    def before(self, word: Word) -> str:
        """The lower-case text of the word's sentence up to the word, at most CONTEXT characters of it.

        What says who a mention is ('tôi là', 'bố tôi là ông', 'gửi đơn cho') stands just before it;
        reading no further keeps a long story's cost linear.
        """
        start = max(self.sentence_starts[word.index], word.start - CONTEXT)
        return self.low[start : word.start]

    def sentence_head(self, word: Word) -> str:
        """The first CONTEXT lower-case characters of the word's sentence, up to the word."""
        start = self.sentence_starts[word.index]
        return self.low[start : min(word.start, start + CONTEXT)]

    def after(self, end: int, limit: int = 80) -> str:
        """The lower-case text following an offset, up to the end of its sentence (at most limit chars)."""
        rest = self.low[end : end + limit]
        m = _SENTENCE_END.search(rest)
        return rest[: m.start()] if m else rest

    def word_at(self, offset: int) -> Word | None:
        """The first word starting at or after a character offset."""
        for w in self.words:
            if w.start >= offset:
                return w
        return None


class Phrases:
    """Phrases written with diacritics ('a b|c'), longest first, looked up by their first word folded."""

    def __init__(self, alternation: str = "", items: Sequence[tuple[str, ...]] = ()) -> None:
        found = [tuple(p.split()) for p in alternation.split("|") if p.strip()] + list(items)
        self.items: list[tuple[str, ...]] = sorted(dict.fromkeys(found), key=len, reverse=True)
        self._by_first: dict[str, list[tuple[str, ...]]] = {}
        for item in self.items:
            self._by_first.setdefault(_fold(item[0]), []).append(item)

    def starting(self, folded_word: str) -> list[tuple[str, ...]]:
        """The phrases whose first word folds to this one, longest first."""
        return self._by_first.get(folded_word, [])

    def __add__(self, other: Phrases) -> Phrases:
        return Phrases(items=self.items + other.items)


@functools.lru_cache(maxsize=4096)
def _fold(word: str) -> str:
    return fold(word)


def _same_length(original: str, changed: str) -> str:
    """A per-character change only where it keeps one character for one (so offsets hold)."""
    return changed if len(changed) == 1 else original


def vi(pattern: str) -> re.Pattern[str]:
    """Compiles a pattern written with diacritics so each word also matches when typed without them.

    A space in the pattern stands for any run of spaces ('gửi đơn' matches 'gui  don').
    """

    def word(m: re.Match[str]) -> str:
        accented = m.group()
        plain = fold(accented)
        return accented if plain == accented else f"(?:{accented}|{plain})"

    return re.compile(_PATTERN_WORD.sub(word, pattern).replace(" ", r"\s+"))


def words_alternation(phrases: str) -> str:
    """'a b|c' as a regex alternation of whole phrases, spaces matching any run of spaces, longest first."""
    items = sorted((p.strip() for p in phrases.split("|") if p.strip()), key=len, reverse=True)
    return "(?:" + "|".join(r"\s+".join(re.escape(part) for part in item.split()) for item in items) + ")"
