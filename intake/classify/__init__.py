"""Category suggestions for a report's text, behind one interface the conversation uses.

`get_classifier()` returns the process-wide classifier. The conversation needs only `suggest()`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Suggestion:
    """Scores for every category code 0-9, ranked, with the terms that drove the top ones."""

    category: int
    scores: dict[int, float]
    top: list[tuple[int, float]]
    terms: list[str] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        return self.top[0][1] if self.top else 0.0


class Classifier(Protocol):
    def suggest(self, text: str) -> Suggestion: ...


class EmptyTextError(ValueError):
    """Raised when there is no text to classify."""


_lock = threading.Lock()
_instance: Classifier | None = None


def get_classifier() -> Classifier:
    """The process-wide classifier, loaded once (trained first when the artifact is missing or stale)."""
    global _instance
    with _lock:
        if _instance is None:
            # Imported here so that importing the package for Suggestion stays cheap.
            from intake.classify.training import default_model_path, load_or_train

            _instance = load_or_train(default_model_path())
        return _instance


def is_loaded() -> bool:
    """Whether this process holds the classifier already (readiness: nothing left to load or train)."""
    return _instance is not None


def reset_classifier() -> None:
    """Forgets the loaded classifier, so the next get_classifier() reads the artifact again."""
    global _instance
    with _lock:
        _instance = None
