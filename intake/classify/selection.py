"""Choosing the model by cross-validation on the training side only; the grounded test split is never read.

Each candidate is scored by 5-fold cross-validation over the grounded training messages (whole
source groups per fold), the synthetic corpus always in training. Category 0's bias and the
secondary category's threshold are then tuned on the same out-of-fold probabilities. The search goes
in stages: features, then the linear model, then how the data are weighted; each stage starts from
the best candidate so far.

A candidate's headline is its macro-F1 counting any labelled category, at the bias toward
category 0 that gives the best macro-F1 while keeping its recall at 0.95 (the target), or at the bias giving the best recall of 0
when none does.

Run: .venv/bin/python -m intake.classify.selection
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from intake.classify.corpus import Example
from intake.classify.evaluation import Metrics, decide, grounded_folds, out_of_fold, with_zero_bias
from intake.classify.features import FeatureConfig
from intake.classify.split import read_provenance
from intake.classify.training import (
    DEFAULT_CONFIG,
    Featurized,
    TrainConfig,
    featurize,
    refeaturize,
    sample_weight,
    training_set,
)

ZERO_BIASES = tuple(np.round(np.arange(0.0, 2.01, 0.25), 2))
SECONDARY_THRESHOLDS = tuple(np.round(np.arange(0.05, 0.96, 0.05), 2))
MIN_RECALL_ZERO = 0.95  # the target: messages that are not reports stay out of the Front's queues


@dataclass(frozen=True)
class Outcome:
    """A candidate's cross-validated figures at its best category-0 bias and secondary threshold."""

    name: str
    config: TrainConfig  # with the tuned zero_bias and secondary_threshold
    metrics: Metrics
    secondary_f1: float
    seconds: float

    def row(self) -> str:
        """One line of the selection table."""
        m = self.metrics
        return (
            f"{self.name:<44} {m.macro_f1:8.3f} {m.strict_macro_f1:8.3f} {m.top3:6.3f} {m.recall[0]:7.3f} "
            f"{self.config.zero_bias:5.2f} {self.secondary_f1:6.3f} {self.config.secondary_threshold:5.2f} "
            f"{self.seconds:6.0f}"
        )


HEADER = f"{'candidate':<44} {'macro-F1':>8} {'(first)':>8} {'top-3':>6} {'rec(0)':>7} {'bias0':>5} {'sec-F1':>6} {'tau':>5} {'secs':>6}"


MIN_SECONDARY_PRECISION = 0.5  # a secondary category shown to staff is right at least half the time


def secondary_f1(metrics: Metrics) -> float:
    """F1 of the secondary category: precision over those given, recall over messages that needed one."""
    precision, recall = metrics.secondary_precision, metrics.secondary_recall
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def tune(
    held: Sequence[Example], probabilities: npt.NDArray[np.float64]
) -> tuple[float, float, Metrics, float]:
    """The category-0 bias (best macro-F1 keeping recall of 0 at MIN_RECALL_ZERO) and the secondary threshold."""
    by_bias = []
    for bias in ZERO_BIASES:
        answers = decide(with_zero_bias(probabilities, float(bias)), 1.0)
        by_bias.append((float(bias), Metrics.compute(held, answers.rankings)))
    enough = [(b, m) for b, m in by_bias if m.recall[0] >= MIN_RECALL_ZERO]
    bias, _ = max(enough, key=lambda bm: bm[1].macro_f1) if enough else max(by_bias, key=lambda bm: bm[1].recall[0])
    biased = with_zero_bias(probabilities, bias)
    # The threshold naming the most right secondaries while they are right at least half the time;
    # none (1.0: never given) when no threshold is that precise.
    threshold, metrics = 1.0, dict(by_bias)[bias]
    for tau in SECONDARY_THRESHOLDS:
        answers = decide(biased, float(tau))
        m = Metrics.compute(held, answers.rankings, answers.secondaries)
        if m.secondary_precision >= MIN_SECONDARY_PRECISION and m.secondary_right > metrics.secondary_right:
            threshold, metrics = float(tau), m
    return bias, threshold, metrics, secondary_f1(metrics)


def score(
    name: str,
    config: TrainConfig,
    examples: Sequence[Example],
    data: Featurized,
    folds: Sequence[npt.NDArray[np.int64]],
) -> Outcome:
    """Cross-validates one candidate and tunes its bias and threshold on the out-of-fold probabilities."""
    started = time.perf_counter()
    weighted = replace(data, weights=np.array([sample_weight(e, config) for e in examples]))
    rows, probabilities = out_of_fold(weighted, folds, replace(config, zero_bias=0.0))
    held = [examples[i] for i in rows]
    bias, threshold, metrics, sec = tune(held, probabilities)
    tuned = replace(config, zero_bias=bias, secondary_threshold=threshold)
    return Outcome(name, tuned, metrics, sec, time.perf_counter() - started)


Stage = Callable[[TrainConfig], list[tuple[str, TrainConfig]]]


def _features(base: TrainConfig) -> list[tuple[str, TrainConfig]]:
    """Word and character n-grams, alone and together."""
    f = base.features
    return [
        ("words + syllables + chars 3-5 (x0.6)", replace(base, features=replace(f, char_min=3, char_max=5, char_weight=0.6))),
        ("words + syllables + chars 2-5 (x1.0)", replace(base, features=replace(f, char_min=2, char_max=5, char_weight=1.0))),
        ("words + syllables + chars 3-6 (x0.6)", replace(base, features=replace(f, char_min=3, char_max=6, char_weight=0.6))),
        ("words + syllables, trigrams, chars 3-5", replace(base, features=replace(f, word_ngrams=3, syllable_ngrams=3, char_min=3, char_max=5, char_weight=0.6))),
        ("words + syllables only", replace(base, features=replace(f, char_min=9, char_max=8, char_weight=0.0))),
        ("characters 2-5 only", replace(base, features=replace(f, word_weight=0.0, syllable_weight=0.0, word_ngrams=1, syllable_ngrams=1, char_min=2, char_max=5, char_weight=1.0))),
    ]


def _estimators(base: TrainConfig) -> list[tuple[str, TrainConfig]]:
    """Linear SVMs (plain and NB-scaled) and a logistic regression, at a few regularization strengths."""
    return [
        *[(f"linear SVM, C={c}", replace(base, estimator="svm", c=c)) for c in (0.5, 1.0, 2.0)],
        ("NB-scaled linear SVM, C=0.5", replace(base, estimator="nbsvm", c=0.5)),
        ("logistic regression, C=20", replace(base, estimator="logreg", c=20.0)),
    ]


def _weights(base: TrainConfig) -> list[tuple[str, TrainConfig]]:
    """Class weights and the weight of a synthetic message beside a grounded one."""
    return [
        (f"classes {cw or 'as found'}, synthetic x{sw}", replace(base, class_weight=cw, synthetic_weight=sw))
        for cw in (None, "balanced")
        for sw in (1.0, 0.5, 0.25, 0.1, 0.05)
    ]


# Weights first: how much the synthetic corpus counts beside the grounded one moves the figures most.
STAGES: tuple[tuple[str, Stage], ...] = (("weights", _weights), ("model", _estimators), ("features", _features))
SEARCH_START = replace(DEFAULT_CONFIG, synthetic_weight=1.0, c=1.0)


def search(
    examples: Sequence[Example],
    provenance: Mapping[str, Iterable[str]],
    start: TrainConfig = SEARCH_START,
    stages: Sequence[tuple[str, Stage]] = STAGES,
    out: Callable[[str], None] = print,
) -> Outcome:
    """Runs the stages in order, each from the best candidate so far; returns the best."""
    folds = grounded_folds(examples, provenance)
    if not folds:
        raise ValueError("no grounded training messages to cross-validate on")
    prepared = featurize([e.text for e in examples], [e.label for e in examples], start.features)
    cache: dict[FeatureConfig, Featurized] = {start.features: prepared}
    best: Outcome | None = None
    seen: dict[TrainConfig, Outcome] = {}
    current = start
    for stage, candidates in stages:
        out(f"== stage: {stage} ==")
        out(HEADER)
        for name, config in candidates(current):
            key = replace(config, zero_bias=0.0, secondary_threshold=0.0)
            if key not in seen:
                if config.features not in cache:
                    cache[config.features] = refeaturize(prepared, config.features)
                seen[key] = score(name, config, examples, cache[config.features], folds)
            outcome = seen[key]
            out(outcome.row())
            if best is None or outcome.metrics.macro_f1 > best.metrics.macro_f1 + 1e-9:
                best = outcome
        assert best is not None
        current = best.config
        out(f"best so far: {best.name}")
    assert best is not None
    return best


def main() -> None:
    """Prints the selection table and the chosen configuration."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args()
    tset = training_set()
    best = search(tset.examples, read_provenance())
    print("chosen:", best.config)


if __name__ == "__main__":
    main()
