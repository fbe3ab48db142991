"""The trained linear model: scores, confidence and the terms behind a suggestion, with numpy only.

Training uses scikit-learn (see training.py); the artifact holds plain arrays, so suggesting needs
neither scikit-learn nor pickle and loads in a few tens of milliseconds.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from intake.classify import EmptyTextError, Suggestion
from intake.classify.features import FeatureConfig, FeatureSpace, extract
from intake.classify.text import Prepared, clean, is_vietnamese_spelling, prepare

N_CLASSES = 10
TOP_K = 3
MAX_TERMS = 5
MAX_PHRASE = 3
TERM_FEATURES = 24  # the strongest features of a message, spread over its syllables
TERM_SHARE = 0.25  # a syllable with this share of the strongest syllable's weight is part of a term
FORMAT = "phananh-classifier/2"

# When under LIKENESS_LOW of its letters spell Vietnamese syllables, a message is taken as not Vietnamese and gets
# FALLBACK (category 0, confidence under any sensible threshold); above LIKENESS_HIGH the model
# speaks alone; in between the two are blended.
LIKENESS_LOW = 0.3
LIKENESS_HIGH = 0.7
FALLBACK_ZERO = 0.3
FALLBACK: npt.NDArray[np.float64] = np.array(
    [FALLBACK_ZERO] + [(1.0 - FALLBACK_ZERO) / (N_CLASSES - 1)] * (N_CLASSES - 1)
)
_CHAR_TERM_MIN_LETTERS = 3
# A syllable in more than a fifth of the corpus's messages (smooth IDF below 1 + ln 5) is too common
# to be shown as a reason.
COMMON_IDF = 1.0 + float(np.log(5.0))
COMMON_ALONE_IDF = 1.0 + float(np.log(20.0))  # alone, a syllable in a twentieth of the messages


def order_of(probs: npt.NDArray[np.float64]) -> list[int]:
    """Category codes, most likely first (ties to the lower code)."""
    return sorted(range(N_CLASSES), key=lambda c: (-probs[c], c))


def secondary_of(probs: npt.NDArray[np.float64], order: Sequence[int], threshold: float) -> int | None:
    """The second-ranked category when it is likely enough and both are reports (never 0)."""
    first, second = order[0], order[1]
    if first == 0 or second == 0 or probs[second] < threshold:
        return None
    return second


def _softmax(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Probabilities from linear scores."""
    e = np.exp(z - z.max())
    return e / e.sum()  # type: ignore[no-any-return]


@dataclass
class LinearTextModel:
    """A multinomial logistic model over the TF-IDF views of a prepared message."""

    space: FeatureSpace
    config: FeatureConfig
    weights: npt.NDArray[np.float32]  # (features, 10): a message's features gather contiguous rows
    intercept: npt.NDArray[np.float32]
    lexicon: frozenset[str]
    # The second-ranked category is also suggested when its probability reaches this.
    secondary_threshold: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def coef(self) -> npt.NDArray[np.float32]:
        """The weights as (10, features), scikit-learn's layout (a view, not a copy)."""
        return self.weights.T

    # --- scoring -------------------------------------------------------------------------------

    def likeness(self, prepared: Prepared) -> float:
        """The share of the message's letters (and junk characters) that spell Vietnamese syllables.

        1.0 for ordinary Vietnamese, with or without diacritics; low for another language, where
        few syllables are Vietnamese, and for random bytes, which are mostly junk characters.
        """
        lexicon = self.lexicon
        known = sum(
            len(syllable)
            for syllable, folded in zip(prepared.syllables, prepared.folded, strict=True)
            if folded in lexicon and is_vietnamese_spelling(syllable)
        )
        total = prepared.letters + prepared.noise
        return known / total if total else 0.0

    def _probabilities(
        self, prepared: Prepared, counts: Counter[str]
    ) -> tuple[npt.NDArray[np.float64], float, npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Class probabilities of a prepared message, the model's weight in them, and its vector."""
        idx, values = self.space.vector(counts)
        z = self.intercept.astype(np.float64) + values.astype(np.float64) @ self.weights[idx]
        probs = _softmax(z)
        likeness = self.likeness(prepared)
        weight = min(1.0, max(0.0, (likeness - LIKENESS_LOW) / (LIKENESS_HIGH - LIKENESS_LOW)))
        if weight < 1.0:
            probs = weight * probs + (1.0 - weight) * FALLBACK
        return probs, weight, idx, values

    def suggest_prepared(self, prepared: Prepared, counts: Counter[str] | None = None) -> Suggestion:
        """The suggestion for an already prepared message (training and evaluation reuse preparation)."""
        if counts is None:
            counts = extract(prepared, self.config)
        probs, weight, idx, values = self._probabilities(prepared, counts)
        order = order_of(probs)
        top = [(c, float(probs[c])) for c in order[:TOP_K]]
        category = order[0]
        # When the text is not Vietnamese, no word of it drove the answer.
        terms = self.terms(prepared, idx, values, category) if len(idx) and weight > 0 else []
        return Suggestion(
            category=category,
            scores={c: float(probs[c]) for c in range(N_CLASSES)},
            top=top,
            terms=terms,
            secondary=secondary_of(probs, order, self.secondary_threshold),
        )

    def suggest(self, text: str) -> Suggestion:
        """Scores every category for a resident's message; raises EmptyTextError on empty text."""
        if not clean(text):
            raise EmptyTextError("there is no text to classify")
        return self.suggest_prepared(prepare(text))

    def ranking(self, prepared: Prepared, counts: Counter[str]) -> list[int]:
        """All ten categories, most likely first."""
        return order_of(self.probabilities(prepared, counts))

    def probabilities(self, prepared: Prepared, counts: Counter[str]) -> npt.NDArray[np.float64]:
        """The ten categories' probabilities for a prepared message."""
        return self._probabilities(prepared, counts)[0]

    # --- explanations --------------------------------------------------------------------------

    @staticmethod
    def _char_line(prepared: Prepared) -> tuple[str, list[tuple[int, int, int]]]:
        """The folded line character n-grams were drawn from, and (start, end, position) of each syllable."""
        spans: list[tuple[int, int, int]] = []
        begin = 1
        for i, s in enumerate(prepared.folded):
            spans.append((begin, begin + len(s), i))
            begin += len(s) + 1
        return " " + " ".join(prepared.folded) + " ", spans

    @staticmethod
    def _span(
        prepared: Prepared, feature: str, line: str, offsets: list[tuple[int, int, int]]
    ) -> tuple[int, int] | None:
        """Where in the message's syllables a feature comes from, as [start, end)."""
        view, body = feature[0], feature[2:]
        if view == "c":
            # Only n-grams with a few letters say something a reader would recognize.
            if sum(ch.isalnum() for ch in body) < _CHAR_TERM_MIN_LETTERS or (at := line.find(body)) < 0:
                return None
            hit = [i for begin, end, i in offsets if begin < at + len(body) and end > at]
            return (hit[0], hit[-1] + 1) if hit else None
        if view == "w":
            parts, seq = body.replace("_", " ").split(" "), prepared.syllables
        else:
            parts, seq = body.split(" "), prepared.folded
        n = len(parts)
        for i, s in enumerate(seq):
            if s == parts[0] and list(seq[i : i + n]) == parts:
                return (i, i + n)
        return None

    def _is_common(self, folded: str, limit_idf: float = COMMON_IDF) -> bool:
        """Whether a syllable is in so many messages (IDF under the limit) that it explains nothing."""
        i = self.space.index.get("s:" + folded)
        return i is not None and float(self.space.idf[i]) < limit_idf

    def terms(
        self,
        prepared: Prepared,
        idx: npt.NDArray[np.int64],
        values: npt.NDArray[np.float32],
        category: int,
        limit: int = MAX_TERMS,
    ) -> list[str]:
        """The words and phrases of the message that pushed it most toward a category."""
        rows = self.weights[idx]
        # Each feature's pull toward the category relative to the average category: what "drove" it.
        contrib = values * (rows[:, category] - rows.mean(axis=1))
        line, offsets = self._char_line(prepared)
        # Spread the strongest features' pull over the syllables they come from...
        weight = np.zeros(len(prepared.syllables))
        for j in np.argsort(-contrib)[:TERM_FEATURES]:
            if contrib[j] <= 0:
                break
            span = self._span(prepared, self.space.features[int(idx[j])], line, offsets)
            if span is not None:
                weight[span[0] : span[1]] += float(contrib[j]) / (span[1] - span[0])
        if not weight.any():
            return []
        # ...then read off runs of strong syllables as phrases, at most MAX_PHRASE syllables long.
        strong = weight >= TERM_SHARE * weight.max()
        runs: list[tuple[int, int]] = []
        start = None
        for i, flag in enumerate([*strong.tolist(), False]):
            if flag and start is None:
                start = i
            elif not flag and start is not None:
                runs.extend(self._split(weight, start, i))
                start = None
        bounds = self._word_bounds(prepared)
        phrases: list[tuple[float, str]] = []
        for begin, end in runs:
            # Whole words only: "hoang" is shown as "bỏ hoang" when the segmenter joined them.
            begin, end = bounds[begin][0], bounds[end - 1][1]
            # Common syllables ("của", "là"; alone also "để", "rồi") explain nothing.
            limit_idf = COMMON_IDF if end - begin > 1 else COMMON_ALONE_IDF
            if all(self._is_common(prepared.folded[i], limit_idf) for i in range(begin, end)):
                continue
            phrase = " ".join(prepared.surface[begin:end])
            phrases.append((float(weight[begin:end].sum()), phrase))
        terms: list[str] = []
        for _, phrase in sorted(phrases, key=lambda p: -p[0]):
            if phrase not in terms:
                terms.append(phrase)
            if len(terms) >= limit:
                break
        return terms

    @staticmethod
    def _word_bounds(prepared: Prepared) -> list[tuple[int, int]]:
        """For each syllable, the [start, end) syllables of the segmented word it belongs to."""
        bounds = [(i, i + 1) for i in range(len(prepared.syllables))]
        i = 0
        for word in prepared.words:
            parts = word.split("_")
            if list(prepared.syllables[i : i + len(parts)]) != parts:
                break  # the segmenter read the text differently from here on: no snapping
            for k in range(i, i + len(parts)):
                bounds[k] = (i, i + len(parts))
            i += len(parts)
        return bounds

    @staticmethod
    def _split(weight: npt.NDArray[np.float64], begin: int, end: int) -> list[tuple[int, int]]:
        """Cuts a run longer than MAX_PHRASE at its weakest inner syllable, recursively."""
        if end - begin <= MAX_PHRASE:
            return [(begin, end)]
        cut = begin + 1 + int(np.argmin(weight[begin + 1 : end - 1]))
        left = LinearTextModel._split(weight, begin, cut)
        right = LinearTextModel._split(weight, cut + 1, end) if cut + 1 < end else []
        return left + right

    # --- the artifact --------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Writes the model as one .npz file (atomically: readers never see half a file)."""
        from intake.files import private_dir

        private_dir(path.parent)  # var/models like the rest of var/: its owner's only
        meta = dict(self.meta, format=FORMAT, config=self.config.as_dict(), secondary_threshold=self.secondary_threshold)
        arrays = {
            "weights": self.weights.astype(np.float32),
            "intercept": self.intercept.astype(np.float32),
            "idf": self.space.idf.astype(np.float32),
            "views": self.space.views.astype(np.int8),
            "features": np.frombuffer("\n".join(self.space.features).encode(), dtype=np.uint8),
            "lexicon": np.frombuffer("\n".join(sorted(self.lexicon)).encode(), dtype=np.uint8),
            "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8),
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".classifier-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> LinearTextModel:
        """Reads a model written by `save`; raises ValueError when the file is not one."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if meta.get("format") != FORMAT:
                raise ValueError(f"not a classifier model: {path}")
            config = FeatureConfig(**meta["config"])
            features = bytes(data["features"]).decode().split("\n")
            lexicon = frozenset(bytes(data["lexicon"]).decode().split("\n"))
            space = FeatureSpace(
                features=features,
                idf=data["idf"].astype(np.float32),
                views=data["views"].astype(np.int8),
                weights=config.weights(),
            )
            weights = np.ascontiguousarray(data["weights"], dtype=np.float32)
            intercept = data["intercept"].astype(np.float32)
        if weights.shape != (len(features), N_CLASSES):
            raise ValueError(f"classifier model has a bad shape: {path}")
        return cls(
            space=space,
            config=config,
            weights=weights,
            intercept=intercept,
            lexicon=lexicon,
            secondary_threshold=float(meta.get("secondary_threshold", 1.0)),
            meta=meta,
        )
