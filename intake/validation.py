"""Checks on what residents type: phone numbers, text that carries meaning."""

from __future__ import annotations

import re
import unicodedata

_PHONE_JUNK = re.compile(r"[\s.\-()]+")
# Mobile: 03x, 05x, 07x, 08x, 09x + 7 digits; landline: 02xx + 7-8 digits. With 0, 84 or +84 in front.
_MOBILE = re.compile(r"^(?:\+?84|0)([35789]\d{8})$")
_LANDLINE = re.compile(r"^(?:\+?84|0)(2\d{8,9})$")


def normalize_vn_phone(text: str) -> str | None:
    """A Vietnamese phone number in the 0xxxxxxxxx form, or None if it is not one."""
    compact = _PHONE_JUNK.sub("", text.strip())
    for pattern in (_MOBILE, _LANDLINE):
        m = pattern.match(compact)
        if m:
            return "0" + m.group(1)
    return None


def has_meaning(text: str) -> bool:
    """True when the text holds at least one letter or digit (not only emoji or punctuation)."""
    return any(unicodedata.category(ch)[0] in ("L", "N") for ch in text)


# Characters that change how text around them is shown without being seen: right-to-left and other
# bidirectional controls (U+200E-U+200F, U+202A-U+202E, U+2066-U+2069) would let a message display
# differently from what it says; zero-width ones (U+200B-U+200D, U+2060, U+FEFF) hide inside words.
_INVISIBLE = frozenset(
    [*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2061), *range(0x2066, 0x206A), 0xFEFF]
)


def clean_text(text: str) -> str:
    """Text as it may be stored and shown: NFC, no control, invisible or bidirectional characters, no
    lone surrogates (which no encoding can write), no surrounding space."""
    return "".join(
        ch
        for ch in unicodedata.normalize("NFC", text)
        if ch in "\n\t" or (unicodedata.category(ch) not in ("Cc", "Cs") and ord(ch) not in _INVISIBLE)
    ).strip()
