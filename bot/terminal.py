"""The terminal channel: `phananh chat` for people, `phananh chat --json` for programs and tests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TextIO

from intake.conversation import Conversation
from intake.crypto import token
from intake.dialog.types import Inbound, Reply

_BUTTON_LINE = re.compile(r"^\[(.+)\]$")
UNKNOWN_BUTTON = "__unknown__"


def _inbound(line: str, last: list[Reply], *, numbers: bool) -> Inbound:
    """A typed line as the engine's message: `[label]` (or a number, for people) presses a button."""
    buttons = [b for r in last for b in r.buttons]
    m = _BUTTON_LINE.match(line.strip())
    if m:
        label = m.group(1).strip()
        for b in buttons:
            if b.label == label:
                return Inbound(button=b.payload)
        return Inbound(button=UNKNOWN_BUTTON)
    stripped = line.strip()
    if numbers and stripped.isdigit() and 1 <= int(stripped) <= len(buttons):
        return Inbound(button=buttons[int(stripped) - 1].payload)
    return Inbound(text=line.rstrip("\n"))


def _print_json(replies: list[Reply], out: TextIO) -> None:
    for r in replies:
        out.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
    out.flush()


def _print_human(replies: list[Reply], out: TextIO) -> None:
    for r in replies:
        out.write("\n" + r.text + "\n")
        for i, b in enumerate(r.buttons, 1):
            out.write(f"  [{i}] {b.label}\n")
    out.flush()


def _show(conversation: Conversation, chat_id: str, replies: list[Reply], show: Callable[[list[Reply], TextIO], None], out: TextIO) -> None:
    """Prints the replies, then confirms a receipt among them: printed and flushed, it was shown."""
    show(replies, out)
    for r in replies:
        if r.receipt:
            conversation.receipt_shown(chat_id, r.receipt)


def run_chat(
    stdin: TextIO,
    stdout: TextIO,
    *,
    as_json: bool,
    lang: str = "vi",
    session_name: str | None = None,
) -> None:
    """Talks with the engine over stdin/stdout until end of input."""
    conversation = Conversation(channel="terminal")
    chat_id = session_name or token(16)
    show = _print_json if as_json else _print_human
    last = conversation.handle(chat_id, Inbound(resume=True), lang=lang)
    _show(conversation, chat_id, last, show, stdout)
    while True:
        if not as_json:
            stdout.write("> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            if not as_json:
                stdout.write("\n")  # the end of input leaves no prompt hanging without its line
                stdout.flush()
            break
        last = conversation.handle(chat_id, _inbound(line, last, numbers=not as_json), lang=lang)
        _show(conversation, chat_id, last, show, stdout)
