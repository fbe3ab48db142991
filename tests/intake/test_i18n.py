"""Every user-facing string has a Vietnamese translation with the same placeholders."""

from __future__ import annotations

import string
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from intake.i18n import LOCALES_DIR, translator

ROOT = Path(__file__).resolve().parents[2]
METHODS = [
    ("intake/**.py", "python"),
    ("bot/**.py", "python"),
    ("admin/**.py", "python"),
    ("phananh/**.py", "python"),
    ("bot/templates/**.html", "jinja2"),
    ("admin/templates/**.html", "jinja2"),
]


def _msgids() -> set[tuple[str | None, str]]:
    """(msgctxt, msgid) of every message in the code; a context tells apart one English word's meanings."""
    found: set[tuple[str | None, str]] = set()
    keywords = {"_": None, "N_": None, "pgettext": ((1, "c"), 2)}
    for _file, _line, message, _comments, ctx in extract_from_dir(str(ROOT), METHODS, keywords=keywords, comment_tags=()):
        if isinstance(message, str) and message:
            found.add((ctx, message))
    return found


def _placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def test_every_msgid_has_a_vietnamese_translation_with_the_same_placeholders() -> None:
    """A string in the code without Vietnamese, or with different {placeholders}, fails here."""
    with (LOCALES_DIR / "vi" / "LC_MESSAGES" / "phananh.po").open("rb") as fh:
        catalog = {(m.context, m.id): m.string for m in read_po(fh) if m.id}
    msgids = _msgids()
    assert len(msgids) > 100
    missing = sorted((m for m in msgids if not catalog.get(m)), key=str)
    assert missing == [], "run `make locales` and translate: " + "; ".join(str(m) for m in missing[:5])
    mismatched = sorted((m for m in msgids if _placeholders(m[1]) != _placeholders(catalog[m])), key=str)
    assert mismatched == []


def test_one_english_word_with_two_meanings_has_two_translations() -> None:
    """"Open" as an identity mode is "Công khai"; "Open" as cases still being handled has its own context and words."""
    vi = translator("vi")
    assert vi._("Open") == "Công khai"
    assert vi.pgettext("cases", "Open") == "Đang xử lý"
    assert translator("en").pgettext("cases", "Open") == "Open"


def test_vietnamese_is_the_default_and_english_the_msgid() -> None:
    """The default translator speaks Vietnamese; English falls back to the msgid."""
    assert translator()._("New report") == "Gửi phản ánh mới"
    assert translator("en")._("New report") == "New report"
    assert translator("vi")._("Type: {category}", category="X") == "Loại: X"
