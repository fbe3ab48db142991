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


def clean_text(text: str) -> str:
    """Normalizes to NFC and strips control characters and surrounding space."""
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()
