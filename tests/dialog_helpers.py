"""Pressing the engine's buttons in tests by their choice, as a resident taps what is on screen."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from intake.dialog.buttons import read_payload
from intake.dialog.types import Inbound, Reply


def payload_for(replies: Sequence[Reply], choice: str) -> str:
    """The payload of the newest button for `choice` among the replies (LookupError when none offers it)."""
    for reply in reversed(replies):
        for button in reply.buttons:
            read = read_payload(button.payload)
            if read is not None and read.choice == choice:
                return button.payload
    raise LookupError(f"no button {choice!r} in the replies")


def pressing(replies: Sequence[Reply], message: Inbound) -> Inbound:
    """The message with its button (a bare choice) turned into the payload the replies offered for it."""
    if message.button is None or read_payload(message.button) is not None:
        return message  # no button, or a payload already
    return dataclasses.replace(message, button=payload_for(replies, message.button))
