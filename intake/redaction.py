"""Taking a reporter's identity out of a report's text before it becomes training material.

Residents sign their messages ("Tôi là Trần Thị Hoa, sđt 0912 345 678"). A staff correction turns
the text into a training example, and the trained artifact keeps words and syllables of its
training texts: so names, phone numbers, e-mail addresses, web addresses and chat handles are
removed first. Known identity values (the reporter's name and phone, the case's chat handles) are
removed however they are written: any case, with or without diacritics, any spacing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Nine or more digits, maybe split by spaces, dots, dashes or brackets, maybe after +: phone numbers,
# chat and identity-card numbers. Sums of money keep their shorter forms ("5 triệu", "500k").
_DIGIT_RUN = re.compile(r"\(?\+?\d(?:[\s.\-()]*\d){8,}")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_.]{3,}")
_SPACES = re.compile(r"[ \t]{2,}")
_WORD = re.compile(r"\w+")


def _fold_char(ch: str) -> str:
    """One character without diacritics, lower-case, still one character (đ -> d)."""
    if ch in "đĐ":
        return "d"
    base = unicodedata.normalize("NFD", ch)[0]
    return base.lower() if len(base.lower()) == 1 else ch


def _folded(text: str) -> str:
    """The text folded character by character: same length, so positions carry over."""
    return "".join(_fold_char(ch) for ch in text)


def _value_pattern(value: str) -> re.Pattern[str] | None:
    """A pattern finding a known value in folded text: its words in order, any spacing or punctuation between."""
    words = _WORD.findall(_folded(unicodedata.normalize("NFC", value)))
    if not words:
        return None
    if len(words) == 1 and words[0].isdigit():
        # A number (a chat id, a phone): its digits with any separators between them.
        digits = r"[\s.\-()]*".join(words[0])
        return re.compile(rf"(?<!\d)\+?{digits}(?!\d)")
    if len(words) == 1 and len(words[0]) < 3:
        return None  # a one- or two-letter name would cut ordinary words everywhere
    return re.compile(r"(?<!\w)" + r"\W{0,3}".join(re.escape(w) for w in words) + r"(?!\w)")


def _identity_patterns(values: Iterable[str]) -> list[re.Pattern[str]]:
    """Patterns for each identity value, and for a full name also its given names without the family name."""
    patterns: list[re.Pattern[str]] = []
    for value in values:
        if not value or not value.strip():
            continue
        forms = [value]
        words = value.split()
        if len(words) >= 3:
            forms.append(" ".join(words[1:]))  # "Văn An" of "Nguyễn Văn An"
        if value.strip().startswith("0") and value.strip().isdigit():
            forms.append("84" + value.strip()[1:])  # 0912345678 also written +84 912 345 678
        for form in forms:
            pattern = _value_pattern(form)
            if pattern is not None:
                patterns.append(pattern)
    return patterns


def redact(text: str, identity: Iterable[str] = ()) -> str:
    """The text without the given identity values, phone-like numbers, e-mail and web addresses or @handles."""
    text = unicodedata.normalize("NFC", text)
    spans: list[tuple[int, int]] = []
    folded = _folded(text)
    for pattern in _identity_patterns(identity):
        spans.extend(m.span() for m in pattern.finditer(folded))
    for pattern in (_URL, _EMAIL, _HANDLE, _DIGIT_RUN):
        spans.extend(m.span() for m in pattern.finditer(text))
    if not spans:
        return text
    out: list[str] = []
    at = 0
    for start, end in sorted(spans):
        if end <= at:
            continue
        out.append(text[at : max(at, start)])
        out.append(" ")
        at = end
    out.append(text[at:])
    return _SPACES.sub(" ", "".join(out)).strip()
