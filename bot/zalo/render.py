"""The engine's replies as OA API v3 messages: plain text under Zalo's length limit, choices as buttons.

A choice becomes a Zalo button of type `oa.query.show` whose payload is its label: pressing it
sends the label as the resident's own message, seen in the chat as their answer, and the engine
reads a label typed or sent that way as the choice. Where buttons cannot carry the choices (more
than Zalo allows, or `PHANANH_ZALO_BUTTONS=numbers`, or an OA that refuses them), the choices are
written under the text: numbered where the engine takes a number (a question answered only by
choosing), listed as words to send otherwise (a number there would be read as the answer itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intake.dialog.types import Reply
from intake.i18n import N_, Translator

TEXT_LIMIT = 2000  # characters in one OA text message
MAX_BUTTONS = 5  # buttons Zalo shows under one message
TITLE_LIMIT = 100  # characters of a button's title

PICK_NUMBER = N_("Reply with the number of your choice.")
PICK_WORDS = N_("To choose, send one of these answers as it is written.")


@dataclass(frozen=True)
class Outgoing:
    """One message to send: its text, and the choice labels to show as buttons (or, failing that, in the text)."""

    text: str
    choices: tuple[str, ...] = ()
    numbered: bool = False  # the engine takes a number for these choices

    def payload(self) -> dict[str, Any]:
        """The `message` object of a /v3.0/oa/message/cs call."""
        if not self.choices:
            return {"text": self.text}
        buttons = [{"title": label[:TITLE_LIMIT], "type": "oa.query.show", "payload": label} for label in self.choices]
        return {"text": self.text, "attachment": {"type": "template", "payload": {"buttons": buttons}}}


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cuts a long text into pieces under the limit, at line breaks, else at spaces, else anywhere."""
    text = text.strip("\n") or text
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while len(line) > limit:
            space = line.rfind(" ", 0, limit)
            cut = space if space > limit // 2 else limit
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        current = line
    if current:
        pieces.append(current)
    return pieces


def options_text(choices: tuple[str, ...], *, numbered: bool, t: Translator) -> str:
    """The choices written out under a question, for a chat without buttons."""
    if numbered:
        lines = [f"{i}. {label}" for i, label in enumerate(choices, 1)]
        return "\n".join(lines) + "\n\n" + t._(PICK_NUMBER)
    return "\n".join(f"• {label}" for label in choices) + "\n\n" + t._(PICK_WORDS)


def as_text(message: Outgoing, t: Translator) -> list[Outgoing]:
    """The same message with its choices written in the text instead of buttons."""
    if not message.choices:
        return [message]
    full = f"{message.text}\n\n{options_text(message.choices, numbered=message.numbered, t=t)}"
    return [Outgoing(piece) for piece in split_text(full)]


def render(replies: list[Reply], *, choosing: bool, buttons: bool, t: Translator) -> list[Outgoing]:
    """The replies as messages; `choosing`: the conversation now waits for a choice, so numbers work."""
    with_choices = [i for i, r in enumerate(replies) if r.buttons]
    last = with_choices[-1] if with_choices else -1
    out: list[Outgoing] = []
    for i, reply in enumerate(replies):
        labels = tuple(b.label for b in reply.buttons)
        message = Outgoing(reply.text, labels, numbered=choosing and i == last)
        fits = buttons and 0 < len(labels) <= MAX_BUTTONS and len(set(labels)) == len(labels)
        if not labels or not fits:
            out += as_text(message, t) if labels else [Outgoing(p) for p in split_text(reply.text)]
            continue
        pieces = split_text(reply.text)
        out += [Outgoing(p) for p in pieces[:-1]]
        out.append(Outgoing(pieces[-1], labels, numbered=message.numbered))
    return out


def render_text(text: str) -> list[Outgoing]:
    """A message from staff (the outbox): plain text, split under the limit."""
    return [Outgoing(piece) for piece in split_text(text)]
