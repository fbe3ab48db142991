"""Helpers for driving the conversation engine in tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from intake.dialog.engine import fresh_state, step
from intake.dialog.types import DialogState, Draft, Inbound, Reply, Step, StepName


@dataclass
class Talk:
    """Drives `step()` directly, keeping state and draft as the runner would (no database)."""

    state: DialogState = field(default_factory=fresh_state)
    draft: Draft = field(default_factory=Draft)
    last: Step | None = None

    def send(self, text: str = "", *, button: str | None = None, **kwargs: object) -> list[Reply]:
        result = step(self.state, self.draft, Inbound(text=text, button=button, **kwargs))  # type: ignore[arg-type]
        self.state, self.draft, self.last = result.state, result.draft, result
        return result.replies

    def press(self, payload: str) -> list[Reply]:
        return self.send(button=payload)

    @property
    def at(self) -> StepName:
        return self.state.step

    def payloads(self) -> list[str]:
        return [p for p, _ in self.state.buttons]
