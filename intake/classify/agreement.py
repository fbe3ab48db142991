"""How far the grounded corpus's two readers agree: Cohen's kappa overall and per category.

The first reading is the label each message was written with; the second is an independent
reader's, from `grounded/second_reader.jsonl`. Figures are computed before the disagreements are
settled (see `corpus.settle`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from intake.classify.corpus import N_CLASSES, Example, Reading


@dataclass(frozen=True)
class Agreement:
    """Two readers' labels of the same messages, compared."""

    n: int
    missing: int  # first-reader messages the second reader did not label
    observed: float  # share of messages given the same category
    kappa: float
    lenient: float  # share where each reader's category is among the other's accepted ones
    per_category: list[tuple[int, int, int, float]]  # (category, first reader's count, second's, kappa of "is it c")
    confusion: npt.NDArray[np.int64]  # rows: first reader, columns: second

    def report(self) -> str:
        """A printable section."""
        lines = [
            f"messages read by both: {self.n} (not read by the second reader: {self.missing})",
            f"same category: {self.observed:.3f}  Cohen's kappa: {self.kappa:.3f}  "
            f"each reader's category accepted by the other: {self.lenient:.3f}",
            "cat  first  second  kappa",
        ]
        lines += [f"{c:>3}  {a:5d}  {b:6d}  {k:5.3f}" for c, a, b, k in self.per_category]
        pairs = []
        for a in range(N_CLASSES):
            for b in range(a + 1, N_CLASSES):
                ab, ba = int(self.confusion[a, b]), int(self.confusion[b, a])
                if ab + ba:
                    pairs.append((ab + ba, a, b, ab, ba))
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        lines.append(
            "disagreements (first/second): "
            + (", ".join(f"{a}/{b} {n} ({a}->{b} {ab}, {b}->{a} {ba})" for n, a, b, ab, ba in pairs) or "none")
        )
        return "\n".join(lines)


def kappa(first: Sequence[int], second: Sequence[int]) -> float:
    """Cohen's kappa of two readers' labels (not a number when they used one label between them)."""
    from sklearn.metrics import cohen_kappa_score  # evaluation only

    if len(set(first) | set(second)) < 2:
        return float("nan")
    return float(cohen_kappa_score(first, second))


def agreement(first: Sequence[Example], second: Mapping[str, Reading]) -> Agreement:
    """Compares the first reading of grounded messages with the second reader's."""
    both = [(e, second[e.id]) for e in first if e.id in second]
    a = [e.label for e, _ in both]
    b = [r.label for _, r in both]
    confusion = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    for x, y in zip(a, b, strict=True):
        confusion[x, y] += 1
    n = len(both)
    lenient = sum(r.label in {e.label, *e.also} and e.label in {r.label, *r.also} for e, r in both)
    per_category = [
        (c, a.count(c), b.count(c), kappa([x == c for x in a], [y == c for y in b])) for c in range(N_CLASSES)
    ]
    return Agreement(
        n=n,
        missing=len(first) - n,
        observed=float(np.trace(confusion) / n) if n else 0.0,
        kappa=kappa(a, b) if n else 0.0,
        lenient=lenient / n if n else 0.0,
        per_category=per_category,
        confusion=confusion,
    )
