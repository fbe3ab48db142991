"""Translations: English msgids in the code, Vietnamese first for users, from Babel catalogs in locales/."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "phananh"
LANGUAGES: tuple[str, ...] = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


def N_(message: str) -> str:
    """Marks a string for extraction without translating it (translated where it is shown)."""
    return message


@functools.cache
def _catalog(lang: str) -> dict[tuple[str | None, str], str]:
    """Reads one language's catalog once per process, keyed by (msgctxt, msgid); an absent catalog means identity."""
    path = LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    table: dict[tuple[str | None, str], str] = {}
    for message in catalog:
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy:
            table[(message.context, message.id)] = str(message.string)
    return table


@dataclass(frozen=True)
class Translator:
    """Translates msgids into one language; `_` is the name Babel extracts."""

    lang: str

    def _(self, message: str, /, **params: Any) -> str:
        text = _catalog(self.lang).get((None, message), message)
        return text.format(**params) if params else text

    def pgettext(self, context: str, message: str, /, **params: Any) -> str:
        """A message whose English word has more than one meaning, told apart by a context (msgctxt)."""
        text = _catalog(self.lang).get((context, message), message)
        return text.format(**params) if params else text

    def gettext(self, message: str, /, **params: Any) -> str:
        """Same as `_`, for callers that read better with a long name."""
        return self._(message, **params)


def normalize_language(lang: str | None) -> str:
    """Maps a language tag such as 'en-US' to a supported language, Vietnamese by default."""
    if not lang:
        return DEFAULT_LANGUAGE
    short = lang.split("-")[0].split("_")[0].lower()
    return short if short in LANGUAGES else DEFAULT_LANGUAGE


@functools.cache
def translator(lang: str | None = None) -> Translator:
    """The translator for a language (cached)."""
    return Translator(normalize_language(lang))
