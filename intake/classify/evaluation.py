"""Measuring the classifier: per-class precision/recall/F1, macro-F1, top-3 accuracy, confusion.

Three settings, each beside the keyword baseline: a stratified held-out split of the corpus the
model never saw, 5-fold cross-validation over the corpus, and the independent test set (written
apart from the corpus, never used for training or tuning).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from intake.classify.corpus import Example, holdout_split, label_counts, stratified_folds
from intake.classify.keywords import KeywordClassifier
from intake.classify.model import N_CLASSES, LinearTextModel
from intake.classify.text import fold
from intake.classify.training import (
    CORRECTION_WEIGHT,
    DEFAULT_CONFIG,
    Featurized,
    TrainConfig,
    featurize,
    fit,
)

FOLDS = 5


@dataclass(frozen=True)
class Metrics:
    """Scores of ranked predictions against true labels."""

    n: int
    confusion: npt.NDArray[np.int64]  # rows: true category, columns: predicted
    precision: npt.NDArray[np.float64]
    recall: npt.NDArray[np.float64]
    f1: npt.NDArray[np.float64]
    support: npt.NDArray[np.int64]
    accuracy: float
    macro_f1: float
    top3: float
    lenient: float  # the top category is the label or one an annotator also accepted

    @classmethod
    def compute(cls, examples: Sequence[Example], rankings: Sequence[Sequence[int]]) -> Metrics:
        """Scores rankings (most likely category first) against the examples' labels."""
        confusion = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
        top3 = lenient = 0
        for example, ranking in zip(examples, rankings, strict=True):
            confusion[example.label, ranking[0]] += 1
            top3 += example.label in ranking[:3]
            lenient += ranking[0] == example.label or ranking[0] in example.also
        support = confusion.sum(axis=1)
        predicted = confusion.sum(axis=0)
        hits = np.diag(confusion).astype(np.float64)
        precision = np.divide(hits, predicted, out=np.zeros(N_CLASSES), where=predicted > 0)
        recall = np.divide(hits, support, out=np.zeros(N_CLASSES), where=support > 0)
        total = precision + recall
        f1 = np.divide(2 * precision * recall, total, out=np.zeros(N_CLASSES), where=total > 0)
        present = support > 0
        n = len(examples)
        return cls(
            n=n,
            confusion=confusion,
            precision=precision,
            recall=recall,
            f1=f1,
            support=support,
            accuracy=float(hits.sum() / n) if n else 0.0,
            macro_f1=float(f1[present].mean()) if present.any() else 0.0,
            top3=top3 / n if n else 0.0,
            lenient=lenient / n if n else 0.0,
        )

    def summary(self) -> str:
        """One line: the headline figures."""
        return (
            f"n={self.n}  macro-F1={self.macro_f1:.3f}  accuracy={self.accuracy:.3f}  "
            f"top-3={self.top3:.3f}  recall(0)={self.recall[0]:.3f}  lenient={self.lenient:.3f}"
        )

    def table(self) -> str:
        """Per-class precision, recall, F1 and support, then the confusion matrix."""
        lines = ["cat  precision  recall     f1  support"]
        for c in range(N_CLASSES):
            lines.append(
                f"{c:>3}  {self.precision[c]:9.3f}  {self.recall[c]:6.3f}  {self.f1[c]:5.3f}  {self.support[c]:7d}"
            )
        lines.append("confusion (rows: true, columns: predicted)")
        lines.append("     " + "".join(f"{c:>5}" for c in range(N_CLASSES)))
        for c in range(N_CLASSES):
            lines.append(f"{c:>3}  " + "".join(f"{v:>5}" for v in self.confusion[c]))
        return "\n".join(lines)


def keyword_rankings(examples: Sequence[Example]) -> list[list[int]]:
    """The keyword baseline's ranking of each example."""
    baseline = KeywordClassifier()
    rankings = []
    for example in examples:
        scores = baseline.suggest(example.text).scores
        rankings.append(sorted(range(N_CLASSES), key=lambda c: (-scores[c], c)))
    return rankings


def _rank_rows(data: Featurized, train_rows: np.ndarray, test_rows: np.ndarray, config: TrainConfig) -> list[list[int]]:
    """Trains on some rows and ranks the others."""
    model = fit(data, train_rows, config)
    return [model.ranking(data.prepared[i], data.counts[i]) for i in test_rows]


@dataclass(frozen=True)
class Comparison:
    """The model and the keyword baseline on the same examples."""

    name: str
    model: Metrics
    baseline: Metrics

    def report(self) -> str:
        """A printable section."""
        return "\n".join(
            [
                f"== {self.name} ==",
                f"model:    {self.model.summary()}",
                f"keywords: {self.baseline.summary()}",
                "-- model --",
                self.model.table(),
                "-- keyword baseline --",
                self.baseline.table(),
            ]
        )


def cross_validate(
    examples: Sequence[Example], data: Featurized, config: TrainConfig = DEFAULT_CONFIG, folds: int = FOLDS
) -> Comparison:
    """K-fold cross-validation: every example is ranked by a model that did not see it."""
    rankings: list[list[int]] = [[] for _ in examples]
    all_rows = np.arange(len(examples))
    for test_rows in stratified_folds(data.labels.tolist(), folds):
        train_rows = np.setdiff1d(all_rows, test_rows)
        for row, ranking in zip(test_rows, _rank_rows(data, train_rows, test_rows, config), strict=True):
            rankings[int(row)] = ranking
    return Comparison(
        f"{folds}-fold cross-validation on the corpus",
        Metrics.compute(examples, rankings),
        Metrics.compute(examples, keyword_rankings(examples)),
    )


def holdout(examples: Sequence[Example], data: Featurized, config: TrainConfig = DEFAULT_CONFIG) -> Comparison:
    """Trains on 80% of the corpus and scores the 20% it never saw."""
    train_rows, held_rows = holdout_split(data.labels.tolist())
    held = [examples[i] for i in held_rows]
    return Comparison(
        f"held-out split ({len(held)} of {len(examples)} corpus examples, never seen in training)",
        Metrics.compute(held, _rank_rows(data, train_rows, held_rows, config)),
        Metrics.compute(held, keyword_rankings(held)),
    )


def independent(
    corpus: Sequence[Example], data: Featurized, testset: Sequence[Example], config: TrainConfig = DEFAULT_CONFIG
) -> Comparison:
    """Trains on the whole corpus and scores the independent test set."""
    model = fit(data, np.arange(len(corpus)), config)
    test = featurize([e.text for e in testset], [e.label for e in testset], config.features)
    rankings = [model.ranking(p, c) for p, c in zip(test.prepared, test.counts, strict=True)]
    return Comparison(
        f"independent test set ({len(testset)} messages written apart from the corpus)",
        Metrics.compute(testset, rankings),
        Metrics.compute(testset, keyword_rankings(testset)),
    )


def counts_report(corpus: Sequence[Example], testset: Sequence[Example]) -> str:
    """Per category: corpus size, secondary codes, median length, share typed without diacritics; test set size."""
    test_counts = label_counts(testset)
    lines = ["cat  corpus  with-also  median-chars  no-diacritics  testset"]

    def row(name: str, examples: Sequence[Example], n_test: int) -> str:
        lengths = sorted(len(e.text) for e in examples)
        median = lengths[len(lengths) // 2] if lengths else 0
        bare = sum(fold(e.text) == e.text for e in examples) / len(examples) if examples else 0.0
        also = sum(bool(e.also) for e in examples)
        return f"{name:>3}  {len(examples):6d}  {also:9d}  {median:12d}  {bare:12.0%}  {n_test:7d}"

    for c in range(N_CLASSES):
        of_c = [e for e in corpus if e.label == c]
        lines.append(row(str(c), of_c, test_counts[c]))
    lines.append(row("all", corpus, len(testset)))
    return "\n".join(lines)


def _rank_examples(model: LinearTextModel, examples: Sequence[Example], config: TrainConfig) -> list[list[int]]:
    """A trained model's ranking of each example."""
    data = featurize([e.text for e in examples], [e.label for e in examples], config.features)
    return [model.ranking(p, c) for p, c in zip(data.prepared, data.counts, strict=True)]


def with_corrections(
    corpus: Sequence[Example],
    corrections: Sequence[tuple[str, int]],
    testset: Sequence[Example],
    config: TrainConfig = DEFAULT_CONFIG,
) -> tuple[LinearTextModel, str]:
    """Retrains on corpus plus staff corrections; returns the new model and a before/after report.

    Before is the corpus-only model. On the corrections, after is measured by cross-validation over
    the corrections (each one ranked by a model trained on the corpus and the other corrections),
    so the figure is not flattered by having seen the message.
    """
    fixes = [Example(text=t, label=int(lbl)) for t, lbl in corrections if t and t.strip() and 0 <= int(lbl) < N_CLASSES]
    everything = list(corpus) + fixes
    data = featurize(
        [e.text for e in everything],
        [e.label for e in everything],
        config.features,
        [1.0] * len(corpus) + [CORRECTION_WEIGHT] * len(fixes),
    )
    corpus_rows = np.arange(len(corpus))
    fix_rows = np.arange(len(corpus), len(everything))
    before = fit(data, corpus_rows, config)
    after = fit(data, np.arange(len(everything)), config)
    after.meta["corrections"] = len(fixes)
    lines = [f"corpus: {len(corpus)} examples; staff corrections: {len(fixes)}"]
    if fixes:
        before_fix = [before.ranking(data.prepared[i], data.counts[i]) for i in fix_rows]
        after_fix: list[list[int]] = [[] for _ in fixes]
        folds = min(FOLDS, len(fixes))
        if folds >= 2:
            for part in stratified_folds([e.label for e in fixes], folds):
                rows = np.concatenate([corpus_rows, np.setdiff1d(np.arange(len(fixes)), part) + len(corpus)])
                model = fit(data, rows, config)
                for k in part:
                    i = len(corpus) + int(k)
                    after_fix[int(k)] = model.ranking(data.prepared[i], data.counts[i])
            how = f"{folds}-fold cross-validation over the corrections"
        else:
            after_fix = [after.ranking(data.prepared[i], data.counts[i]) for i in fix_rows]
            how = "too few to hold any out: after has seen them"
        before_m, after_m = Metrics.compute(fixes, before_fix), Metrics.compute(fixes, after_fix)
        lines += [
            "== staff corrections ==",
            f"before: {before_m.summary()}",
            f"after:  {after_m.summary()}  ({how})",
        ]
    if testset:
        before_t = Metrics.compute(testset, _rank_examples(before, testset, config))
        after_t = Metrics.compute(testset, _rank_examples(after, testset, config))
        lines += [
            "== independent test set ==",
            f"before: {before_t.summary()}",
            f"after:  {after_t.summary()}",
            "-- after --",
            after_t.table(),
        ]
    return after, "\n".join(lines)
