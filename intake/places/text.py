"""Folding and tokenizing Vietnamese place text: diacritics off, abbreviations and unit words recognised."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz.distance import OSA

# Combining marks left after NFD decomposition; Vietnamese needs only this block.
_FOLD_TABLE: dict[int, str | None] = {cp: None for cp in range(0x0300, 0x0370)}
_FOLD_TABLE.update({ord("đ"): "d", ord("Đ"): "D", ord("ð"): "d", ord("Ð"): "D"})


def fold(text: str) -> str:
    """Removes Vietnamese diacritics (đ→d) and keeps letter case: 'Đồng Nai' → 'Dong Nai'."""
    return unicodedata.normalize("NFD", text).translate(_FOLD_TABLE)


def fold_key(text: str) -> str:
    """A lookup key: folded, lower case, letters and digits only ('Ô Chợ Dừa' → 'ochodua')."""
    return re.sub(r"[^a-z0-9]", "", fold(text).lower())


_REPEATS = re.compile(r"([a-z])\1+")  # letters only: 'Phường 11' is not 'Phường 1'


def collapse(key: str) -> str:
    """A key with doubled letters made single ('laichauu' → 'laichau'): a bounced key is a common slip."""
    return _REPEATS.sub(r"\1", key)


class Mark(enum.Enum):
    """What a unit word says about the name that follows it."""

    PHUONG = "phuong"  # ward (phường)
    XA = "xa"  # commune (xã)
    THI_TRAN = "thi_tran"  # township, district era only (thị trấn)
    DAC_KHU = "dac_khu"  # special zone (đặc khu)
    QUAN = "quan"  # urban district, district era (quận)
    HUYEN = "huyen"  # rural district, district era (huyện)
    THI_XA = "thi_xa"  # district-level town, district era (thị xã)
    THANH_PHO = "thanh_pho"  # a province-level city, or a district-era provincial city
    TINH = "tinh"  # province (tỉnh)
    HAMLET = "hamlet"  # below the commune: thôn, ấp, tổ, khu phố...; the name after it is not a unit
    STREET = "street"  # house numbers and streets; the name after it is not a unit


WARD_MARKS = frozenset({Mark.PHUONG, Mark.XA, Mark.THI_TRAN, Mark.DAC_KHU})
DISTRICT_MARKS = frozenset({Mark.QUAN, Mark.HUYEN, Mark.THI_XA, Mark.THANH_PHO})
PROVINCE_MARKS = frozenset({Mark.TINH, Mark.THANH_PHO})
SUBUNIT_MARKS = frozenset({Mark.HAMLET, Mark.STREET})

# Unit words, written with diacritics. A word typed with diacritics must match them exactly
# ('Phương' is a name, 'phường' a unit); a word typed without any is compared folded.
_UNIT_WORDS: dict[str, Mark] = {
    "phường": Mark.PHUONG,
    "xã": Mark.XA,
    "thị trấn": Mark.THI_TRAN,
    "đặc khu": Mark.DAC_KHU,
    "quận": Mark.QUAN,
    "huyện": Mark.HUYEN,
    "thị xã": Mark.THI_XA,
    "thành phố": Mark.THANH_PHO,
    "tỉnh": Mark.TINH,
}
# Words below the commune. Without diacritics most are also name syllables ('Dương', 'Thôn'), so
# folded they count only before a number ('duong 3/2', 'thon 5', 'to 12').
_SUBUNIT_WORDS: dict[str, Mark] = {
    "thôn": Mark.HAMLET,
    "ấp": Mark.HAMLET,
    "tổ": Mark.HAMLET,
    "tổ dân phố": Mark.HAMLET,
    "khu phố": Mark.HAMLET,
    "khóm": Mark.HAMLET,
    "xóm": Mark.HAMLET,
    "khu dân cư": Mark.HAMLET,
    "đội": Mark.HAMLET,
    "đường": Mark.STREET,
    "số": Mark.STREET,
    "số nhà": Mark.STREET,
    "ngõ": Mark.STREET,
    "hẻm": Mark.STREET,
    "ngách": Mark.STREET,
    "quốc lộ": Mark.STREET,
    "tỉnh lộ": Mark.STREET,
}
# Abbreviations: always units, whatever follows.
_ABBREVIATIONS: dict[str, Mark] = {
    "tp": Mark.THANH_PHO,
    "tx": Mark.THI_XA,
    "tt": Mark.THI_TRAN,
    "dk": Mark.DAC_KHU,
    "phg": Mark.PHUONG,
    "tdp": Mark.HAMLET,
    "kp": Mark.HAMLET,
    "ql": Mark.STREET,
    "tl": Mark.STREET,
}
# Single letters that no Vietnamese syllable is: abbreviations wherever they stand ('P Bến Thành', 'Q1').
_LETTERS: dict[str, Mark] = {
    "p": Mark.PHUONG,
    "f": Mark.PHUONG,  # Saigon habit: 'F.12' for Phường 12
    "x": Mark.XA,
    "q": Mark.QUAN,
    "h": Mark.HUYEN,
}
# 'T.' for tỉnh only with its dot.
_DOTTED_LETTERS: dict[str, Mark] = {"t": Mark.TINH}
# Long misspelt unit words ('phuogn', 'huyeen') are still units; five letters or fewer would
# catch names ('Phong').
_TYPO_MIN_LENGTH = 6
_TYPO_TOLERANT = {"phuong": Mark.PHUONG, "huyen": Mark.HUYEN}

# Filler words that never sit inside a place name, matched with their diacritics (so each has some:
# a bare 'cho' could be 'Chợ'). tests/intake/test_places.py checks no unit name uses any of them.
STOPWORDS = frozenset(
    "tại ở gần của cạnh phản ánh sống làm việc chị xảy đấy".split()
)

_UNIT_PHRASES = {tuple(k.split()): v for k, v in _UNIT_WORDS.items()}
_UNIT_PHRASES_FOLDED = {tuple(fold(k).split()): v for k, v in _UNIT_WORDS.items()}
_SUB_PHRASES = {tuple(k.split()): v for k, v in _SUBUNIT_WORDS.items()}
_SUB_PHRASES_FOLDED = {tuple(fold(k).split()): v for k, v in _SUBUNIT_WORDS.items()}
_MAX_PHRASE = 3
_WORD_RE = re.compile(r"[^\W\d_]+|\d+|[,;:/|()\n\[\]!?]|\.")


@dataclass(frozen=True, slots=True)
class Token:
    """One word of the query, folded, with what the resolver needs to know about it."""

    text: str  # folded, lower case
    accented: str  # lower case with diacritics as typed
    mark: Mark | None = None  # a unit word, and which unit
    abbrev: bool = False  # an abbreviation such as 'P.' or 'TP': never part of a name
    separator: bool = False  # a comma or the like: names never cross it
    stop: bool = False  # a filler word: names never cross it
    number: bool = False
    sub: bool = False  # lies in a hamlet or street name ('thôn Tân Phú'), not a unit's name


def tokenize(text: str) -> list[Token]:
    """Splits place text into tokens, marking unit words (phường, P., Q.1, TP., thôn...) and separators."""
    words: list[tuple[str, str]] = []  # (folded, accented)
    for word in _WORD_RE.findall(unicodedata.normalize("NFC", text.lower())):
        folded = fold(word)
        if folded.isascii():
            words.append((folded, word))
        # Words in other scripts fold to nothing we know: they are dropped, not guessed at.

    tokens: list[Token] = []
    in_sub = False
    i = 0
    while i < len(words):
        folded, acc = words[i]
        if folded == ".":
            i += 1
            continue
        if not folded[0].isalnum():
            tokens.append(Token(folded, acc, separator=True))
            in_sub = False
            i += 1
            continue
        if folded.isdigit():
            tokens.append(Token(folded, acc, number=True, sub=in_sub))
            i += 1
            continue
        # The word right after a unit word is a name even when it looks like a unit ('Xã Bản Lầu').
        after_unit = bool(tokens) and tokens[-1].mark is not None and tokens[-1].mark not in SUBUNIT_MARKS
        mark, width, abbrev = (None, 0, False) if after_unit else _unit_at(words, i)
        if mark is not None:
            phrase = words[i : i + width]
            tokens.append(
                Token(" ".join(w for w, _ in phrase), " ".join(a for _, a in phrase), mark=mark, abbrev=abbrev)
            )
            if mark in SUBUNIT_MARKS:
                in_sub = True
            else:
                in_sub = False
            i += width
            continue
        tokens.append(Token(folded, acc, stop=acc in STOPWORDS, sub=in_sub))
        i += 1
    return tokens


def unit_at(words: list[tuple[str, str]], i: int) -> tuple[Mark | None, int, bool]:
    """The unit word starting at words[i]: its mark, how many words it takes, whether abbreviated.

    words are (folded, lower case as typed) pairs, punctuation as words of their own ('.', ','), as
    tokenize() reads them; a caller reading places inside longer text uses this to find where they start.
    """
    return _unit_at(words, i)


def _unit_at(words: list[tuple[str, str]], i: int) -> tuple[Mark | None, int, bool]:
    """The unit word starting at words[i]: its mark, how many words it takes, whether abbreviated."""
    nxt = _next_word(words, i + 1)
    folded = words[i][0]
    if folded in _LETTERS and nxt:
        return _LETTERS[folded], 1, True
    if folded in _DOTTED_LETTERS and _next_is_dot(words, i + 1):
        return _DOTTED_LETTERS[folded], 1, True
    if folded in _ABBREVIATIONS and nxt:
        return _ABBREVIATIONS[folded], 1, True
    for width in range(_MAX_PHRASE, 0, -1):
        phrase = words[i : i + width]
        if len(phrase) < width:
            continue
        accented = tuple(a for _, a in phrase)
        plain = tuple(w for w, _ in phrase)
        typed_bare = accented == plain
        after = _next_word(words, i + width)
        if not after:
            continue  # a unit word with nothing after it is a name ('Kim Xã')
        unit = _UNIT_PHRASES.get(accented) or (_UNIT_PHRASES_FOLDED.get(plain) if typed_bare else None)
        if unit is not None:
            return unit, width, False
        sub = _SUB_PHRASES.get(accented)
        if sub is None and typed_bare and after.isdigit():
            sub = _SUB_PHRASES_FOLDED.get(plain)
        if sub is not None:
            return sub, width, False
    if len(folded) >= _TYPO_MIN_LENGTH and folded == words[i][1] and nxt and not nxt.isdigit():
        for target, mark in _TYPO_TOLERANT.items():
            if OSA.distance(folded, target, score_cutoff=1) <= 1:
                return mark, 1, False
    return None, 0, False


def _next_word(words: list[tuple[str, str]], j: int) -> str:
    """The next folded word from j that is a name or a number, skipping dots; '' if a separator or the end."""
    while j < len(words) and words[j][0] == ".":
        j += 1
    if j < len(words) and words[j][0][0].isalnum():
        return words[j][0]
    return ""


def _next_is_dot(words: list[tuple[str, str]], j: int) -> bool:
    """Whether words[j] is a dot (an abbreviation's point) followed by a word."""
    return j < len(words) and words[j][0] == "." and bool(_next_word(words, j))
