"""Helpers for driving the conversation engine in tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from intake.dialog.buttons import payload
from intake.dialog.engine import fresh_state, step
from intake.dialog.tools import DEFAULT_TOOLS, Tools
from intake.dialog.types import DialogState, Draft, Inbound, Reply, Step, StepName


@dataclass
class Talk:
    """Drives `step()` directly, keeping state and draft as the runner would (no database)."""

    state: DialogState = field(default_factory=fresh_state)
    draft: Draft = field(default_factory=Draft)
    last: Step | None = None
    tools: Tools = DEFAULT_TOOLS

    def send(self, text: str = "", *, button: str | None = None, **kwargs: object) -> list[Reply]:
        result = step(self.state, self.draft, Inbound(text=text, button=button, **kwargs), self.tools)  # type: ignore[arg-type]
        self.state, self.draft, self.last = result.state, result.draft, result
        return result.replies

    def press(self, choice: str) -> list[Reply]:
        """Presses the button for `choice` under the question now asked (a choice it does not offer is
        pressed as if an old message had it, which the engine refuses)."""
        return self.send(button=payload(self.state.question, choice))

    @property
    def at(self) -> StepName:
        return self.state.step

    def payloads(self) -> list[str]:
        """The choices of the last message's buttons (without the question they belong to)."""
        return [c for c, _ in self.state.buttons]
