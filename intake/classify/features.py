"""Features of a prepared message and the TF-IDF space they live in.

Three views, each weighted and L2-normalized on its own so no view drowns the others:
"w" segmented words with diacritics (what a careful writer means), "s" folded syllables (the same
message typed without diacritics lands on the same features) and "c" folded character n-grams
(typos, shorthand, words glued together).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from intake.classify.text import Prepared

VIEWS: tuple[str, ...] = ("w", "s", "c")


@dataclass(frozen=True)
class FeatureConfig:
    """What features are drawn from a message and how the views are weighted."""

    word_ngrams: int = 2
    syllable_ngrams: int = 2
    char_min: int = 2
    char_max: int = 5
    word_weight: float = 1.0
    syllable_weight: float = 1.0
    char_weight: float = 1.0
    min_df: int = 2

    def weights(self) -> tuple[float, float, float]:
        """The weight of each view, in the order of VIEWS."""
        return (self.word_weight, self.syllable_weight, self.char_weight)

    def as_dict(self) -> dict[str, float | int]:
        """A plain dict, for hashing and for the artifact's metadata."""
        return asdict(self)


def _ngrams(tokens: Sequence[str], n_max: int, prefix: str, out: list[str]) -> None:
    """Appends the 1..n_max-grams of a token sequence, joined by spaces, under a view prefix."""
    out.extend(prefix + t for t in tokens)
    for n in range(2, n_max + 1):
        out.extend(prefix + " ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def extract(prepared: Prepared, config: FeatureConfig) -> Counter[str]:
    """Counts the features of one prepared message."""
    feats: list[str] = []
    _ngrams(prepared.words, config.word_ngrams, "w:", feats)
    _ngrams(prepared.folded, config.syllable_ngrams, "s:", feats)
    line = " " + " ".join(prepared.folded) + " "
    size = len(line)
    for n in range(config.char_min, config.char_max + 1):
        feats += ["c:" + line[i : i + n] for i in range(size - n + 1)]
    return Counter(feats)


def view_of(feature: str) -> int:
    """The view index of a feature string."""
    return VIEWS.index(feature[0])


@dataclass
class FeatureSpace:
    """The vocabulary, its IDF weights and view of each feature: turns counts into vectors."""

    features: list[str]
    idf: npt.NDArray[np.float32]
    views: npt.NDArray[np.int8]
    weights: tuple[float, float, float]

    def __post_init__(self) -> None:
        self.index: dict[str, int] = {f: i for i, f in enumerate(self.features)}
        self._weights = np.asarray(self.weights, dtype=np.float64)

    @classmethod
    def fit(cls, docs: Sequence[Counter[str]], config: FeatureConfig) -> FeatureSpace:
        """Builds the vocabulary (features in at least min_df messages) and smooth IDF."""
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(doc.keys())
        features = sorted(f for f, count in df.items() if count >= config.min_df)
        n = len(docs)
        idf = np.array([math.log((1 + n) / (1 + df[f])) + 1.0 for f in features], dtype=np.float32)
        views = np.array([view_of(f) for f in features], dtype=np.int8)
        return cls(features=features, idf=idf, views=views, weights=config.weights())

    def vector(self, doc: Counter[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The sparse TF-IDF vector of one message: indices and values, each view L2-normalized."""
        n = len(doc)
        ids = np.fromiter(map(self.index.get, doc.keys(), [-1] * n), dtype=np.int64, count=n)
        known = ids >= 0
        idx = ids[known]
        counts = np.fromiter(doc.values(), dtype=np.float32, count=n)[known]
        values = (1.0 + np.log(counts)) * self.idf[idx]
        views = self.views[idx]
        norms = np.sqrt(np.bincount(views, weights=values * values, minlength=len(VIEWS)))
        scale = np.divide(self._weights, norms, out=np.zeros(len(VIEWS)), where=norms > 0)
        return idx, (values * scale[views]).astype(np.float32)

    def matrix(self, docs: Iterable[Counter[str]]) -> Any:
        """Stacks the vectors of many messages into a scipy CSR matrix, for training."""
        from scipy import sparse  # training only: suggesting does without scipy

        indptr = [0]
        indices: list[npt.NDArray[np.int64]] = []
        data: list[npt.NDArray[np.float32]] = []
        for doc in docs:
            idx, values = self.vector(doc)
            order = np.argsort(idx)
            indices.append(idx[order])
            data.append(values[order])
            indptr.append(indptr[-1] + len(idx))
        return sparse.csr_matrix(
            (
                np.concatenate(data) if data else np.zeros(0, np.float32),
                np.concatenate(indices) if indices else np.zeros(0, np.int64),
                np.array(indptr),
            ),
            shape=(len(indptr) - 1, len(self.features)),
        )
