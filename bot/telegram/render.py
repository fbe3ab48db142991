"""The engine's replies as Telegram messages: HTML-escaped text, inline keyboards, edited questions.

Every reply goes out with parse_mode HTML and its whole text escaped, so whatever a resident wrote
and the engine echoes (the summary quotes the report) is shown as typed and never read as markup.
Only what this module adds itself (the receipt in <code>, the chosen answer in <b>) is markup.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from intake.dialog.types import Button, Reply

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096  # Telegram's limit, counted in UTF-16 code units after markup is parsed
CHUNK = 4000  # what one message carries, leaving room for the mark of a chosen answer
CALLBACK_DATA_LIMIT = 64  # bytes
SHORT_LABEL = 18  # two buttons this short share a row


@dataclass(frozen=True)
class Outgoing:
    """One sendMessage: HTML text and an optional inline keyboard."""

    html: str
    markup: InlineKeyboardMarkup | None = None


def escape(text: str) -> str:
    """Text for parse_mode HTML, shown exactly as written."""
    return html.escape(text, quote=False)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = CHUNK) -> list[str]:
    """Cuts a long text into pieces under the limit, at line breaks where it can."""
    if utf16_len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if utf16_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while utf16_len(line) > limit:
            cut = limit
            while utf16_len(line[:cut]) > limit:
                cut -= 1
            space = line.rfind(" ", 0, cut)
            cut = space if space > limit // 2 else cut
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        current = line
    if current:
        pieces.append(current)
    return pieces


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """An inline keyboard whose callback_data is the engine's payload, short labels two to a row."""
    usable = [b for b in buttons if len(b.payload.encode("utf-8")) <= CALLBACK_DATA_LIMIT]
    if len(usable) < len(buttons):
        log.warning("%s button payload(s) longer than Telegram allows were left out", len(buttons) - len(usable))
    rows: list[list[InlineKeyboardButton]] = []
    for button in usable:
        key = InlineKeyboardButton(button.label[:100], callback_data=button.payload)
        last = rows[-1] if rows else None
        if last is not None and len(last) == 1 and len(last[0].text) <= SHORT_LABEL and len(button.label) <= SHORT_LABEL:
            last.append(key)
        else:
            rows.append([key])
    return InlineKeyboardMarkup(rows) if rows else None


def render(reply: Reply) -> list[Outgoing]:
    """One engine reply as one or more messages; the keyboard rides on the last one."""
    pieces = split_text(reply.text)
    out: list[Outgoing] = []
    for i, piece in enumerate(pieces):
        text = escape(piece)
        for secret in (reply.receipt, reply.passphrase):
            if secret:
                # In <code> a tap copies it: the resident must keep both exactly.
                text = text.replace(escape(secret), f"<code>{escape(secret)}</code>")
        out.append(Outgoing(text, keyboard(reply.buttons) if i == len(pieces) - 1 else None))
    return out


def with_choice(question: str, label: str) -> str:
    """The question's text with the chosen answer under it, for editing the question message."""
    mark = f"\n\n<b>✓ {escape(label)}</b>" if label else ""
    room = TEXT_LIMIT - utf16_len(f"\n\n✓ {label}") - 2
    shown = question if utf16_len(question) <= room else question[: max(0, room - 1)] + "…"
    return escape(shown) + mark
