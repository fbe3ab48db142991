"""Measuring the classifier: per-category precision/recall/F1, macro-F1, top-3, confusion, the secondary output.

A prediction counts as right when it is the message's label or one of the categories its annotator
also accepted (`also`): a message reporting a bribe and a cover-up is rightly filed under either.
The figures on the first label alone are given beside them.

The settings: the grounded test split (fixed before modelling, never trained on), the synthetic
independent test set, and cross-validation on the training side (grounded training messages each
ranked by a model that did not see them, the synthetic corpus always in training), each beside the
keyword baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from intake.classify.corpus import GROUNDED, SEED, Example, label_counts, stratified_folds
from intake.classify.keywords import KeywordClassifier
from intake.classify.model import N_CLASSES, LinearTextModel, order_of, secondary_of
from intake.classify.split import groups
from intake.classify.text import fold
from intake.classify.training import (
    DEFAULT_CONFIG,
    Featurized,
    TrainConfig,
    corrections_as_examples,
    featurize,
    fit,
    sample_weight,
)

FOLDS = 5
PAIRS_SHOWN = 10


@dataclass(frozen=True)
class Predictions:
    """A model's answers for some examples: every category ranked, and the secondary category or None."""

    rankings: list[list[int]]
    secondaries: list[int | None]


def _f1(confusion: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float64], ...]:
    """Per-category precision, recall and F1 of a confusion matrix (rows true, columns predicted)."""
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    hits = np.diag(confusion).astype(np.float64)
    precision = np.divide(hits, predicted, out=np.zeros(N_CLASSES), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros(N_CLASSES), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(N_CLASSES), where=total > 0)
    return precision, recall, f1


@dataclass(frozen=True)
class Metrics:
    """Scores of ranked predictions against labels.

    `confusion`, `precision`, `recall`, `f1`, `macro_f1` and `accuracy` count a prediction right when
    it is any labelled category (the label or one in `also`); `strict_*` count the first label only.
    """

    n: int
    confusion: npt.NDArray[np.int64]  # rows: true category (the accepted one predicted, if any), columns: predicted
    strict_confusion: npt.NDArray[np.int64]
    precision: npt.NDArray[np.float64]
    recall: npt.NDArray[np.float64]
    f1: npt.NDArray[np.float64]
    strict_f1: npt.NDArray[np.float64]
    support: npt.NDArray[np.int64]
    accuracy: float
    strict_accuracy: float
    macro_f1: float
    strict_macro_f1: float
    top3: float  # the first label is among the three top-ranked categories
    with_also: int  # messages with a second labelled category
    secondary_given: int
    secondary_right: int  # the secondary is a labelled category the top one is not
    also_found: int  # messages with `also` whose secondary names one of their other labelled categories
    secondary_needed: int  # messages with a labelled category the top one is not (a second label, or a wrong top)

    @property
    def lenient(self) -> float:
        """Accuracy counting any labelled category (the name the figure had before)."""
        return self.accuracy

    @classmethod
    def compute(
        cls,
        examples: Sequence[Example],
        rankings: Sequence[Sequence[int]],
        secondaries: Sequence[int | None] | None = None,
    ) -> Metrics:
        """Scores rankings (most likely category first) and secondary categories against the examples' labels."""
        secondaries = secondaries if secondaries is not None else [None] * len(examples)
        confusion = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
        strict = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
        top3 = with_also = given = right = found = needed = 0
        for example, ranking, second in zip(examples, rankings, secondaries, strict=True):
            first = ranking[0]
            accepted = {example.label, *example.also}
            strict[example.label, first] += 1
            confusion[first if first in accepted else example.label, first] += 1
            top3 += example.label in ranking[:3]
            with_also += bool(example.also)
            needed += bool(accepted - {first})
            if second is not None:
                given += 1
                hit = second in accepted - {first}
                right += hit
                found += hit and bool(example.also)
        precision, recall, f1 = _f1(confusion)
        strict_f1 = _f1(strict)[2]
        support = strict.sum(axis=1)
        present = support > 0
        n = len(examples)
        return cls(
            n=n,
            confusion=confusion,
            strict_confusion=strict,
            precision=precision,
            recall=recall,
            f1=f1,
            strict_f1=strict_f1,
            support=support,
            accuracy=float(np.trace(confusion) / n) if n else 0.0,
            strict_accuracy=float(np.trace(strict) / n) if n else 0.0,
            macro_f1=float(f1[present].mean()) if present.any() else 0.0,
            strict_macro_f1=float(strict_f1[present].mean()) if present.any() else 0.0,
            top3=top3 / n if n else 0.0,
            with_also=with_also,
            secondary_given=given,
            secondary_right=right,
            also_found=found,
            secondary_needed=needed,
        )

    def pairs(self, limit: int = PAIRS_SHOWN) -> list[tuple[int, int, int, int]]:
        """The most frequent confusions left, as (a, b, a taken for b, b taken for a), most errors first."""
        found = []
        for a in range(N_CLASSES):
            for b in range(a + 1, N_CLASSES):
                ab, ba = int(self.confusion[a, b]), int(self.confusion[b, a])
                if ab + ba:
                    found.append((a, b, ab, ba))
        found.sort(key=lambda p: (-(p[2] + p[3]), p[0], p[1]))
        return found[:limit]

    def summary(self) -> str:
        """One line: the headline figures."""
        return (
            f"n={self.n}  macro-F1={self.macro_f1:.3f} (first label {self.strict_macro_f1:.3f})  "
            f"accuracy={self.accuracy:.3f} ({self.strict_accuracy:.3f})  top-3={self.top3:.3f}  "
            f"recall(0)={self.recall[0]:.3f}"
        )

    @property
    def secondary_precision(self) -> float:
        """Share of the secondary categories given that name a labelled category the top one is not."""
        return self.secondary_right / self.secondary_given if self.secondary_given else 0.0

    @property
    def secondary_recall(self) -> float:
        """Share of the messages with a labelled category besides the top one where the secondary names it."""
        return self.secondary_right / self.secondary_needed if self.secondary_needed else 0.0

    def secondary_line(self) -> str:
        """How the secondary category fared."""
        return (
            f"secondary category: given for {self.secondary_given}, right for {self.secondary_right} "
            f"(precision {self.secondary_precision:.2f}); messages with a labelled category besides the top one: "
            f"{self.secondary_needed}, named by the secondary for {self.secondary_right} "
            f"(recall {self.secondary_recall:.2f}); with a second label: {self.with_also}, found for {self.also_found}"
        )

    def table(self) -> str:
        """Per-category figures, the confusion matrix and the confusions left."""
        lines = ["cat  precision  recall     f1  f1(first)  support"]
        for c in range(N_CLASSES):
            lines.append(
                f"{c:>3}  {self.precision[c]:9.3f}  {self.recall[c]:6.3f}  {self.f1[c]:5.3f}"
                f"  {self.strict_f1[c]:9.3f}  {self.support[c]:7d}"
            )
        lines.append("confusion (rows: true, columns: predicted; a prediction of an accepted category counts as right)")
        lines.append("     " + "".join(f"{c:>5}" for c in range(N_CLASSES)))
        for c in range(N_CLASSES):
            lines.append(f"{c:>3}  " + "".join(f"{v:>5}" for v in self.confusion[c]))
        pairs = self.pairs()
        lines.append(
            "confusions left: "
            + (", ".join(f"{a}/{b} {ab + ba} ({a}->{b} {ab}, {b}->{a} {ba})" for a, b, ab, ba in pairs) or "none")
        )
        return "\n".join(lines)


def keyword_predictions(examples: Sequence[Example]) -> Predictions:
    """The keyword baseline's ranking of each example (it gives no secondary category)."""
    baseline = KeywordClassifier()
    rankings = []
    for example in examples:
        scores = baseline.suggest(example.text).scores
        rankings.append(sorted(range(N_CLASSES), key=lambda c: (-scores[c], c)))
    return Predictions(rankings, [None] * len(examples))


def decide(probabilities: npt.NDArray[np.float64], secondary_threshold: float) -> Predictions:
    """Rankings and secondary categories from rows of category probabilities, by the model's rule."""
    rankings = [order_of(p) for p in probabilities]
    return Predictions(rankings, [secondary_of(p, r, secondary_threshold) for p, r in zip(probabilities, rankings, strict=True)])


def predict(model: LinearTextModel, data: Featurized, rows: Iterable[int]) -> Predictions:
    """A trained model's answers for some rows of featurized data."""
    probabilities = np.array([model.probabilities(data.prepared[i], data.counts[i]) for i in rows])
    return decide(probabilities.reshape(-1, N_CLASSES), model.secondary_threshold)


def predict_examples(model: LinearTextModel, examples: Sequence[Example]) -> Predictions:
    """A trained model's answers for examples read afresh."""
    data = featurize([e.text for e in examples], [e.label for e in examples], model.config)
    return predict(model, data, range(len(examples)))


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
                self.model.secondary_line(),
                "-- model --",
                self.model.table(),
            ]
        )


def on_test_set(name: str, model: LinearTextModel, examples: Sequence[Example]) -> Comparison:
    """The trained model and the keyword baseline on a test set."""
    answers = predict_examples(model, examples)
    baseline = keyword_predictions(examples)
    return Comparison(
        f"{name} ({len(examples)} messages)",
        Metrics.compute(examples, answers.rankings, answers.secondaries),
        Metrics.compute(examples, baseline.rankings),
    )


def training_data(examples: Sequence[Example], config: TrainConfig = DEFAULT_CONFIG) -> Featurized:
    """Training examples read once, weighted by origin under a configuration."""
    return featurize(
        [e.text for e in examples],
        [e.label for e in examples],
        config.features,
        [sample_weight(e, config) for e in examples],
    )


def grounded_folds(
    examples: Sequence[Example], provenance: Mapping[str, Iterable[str]], folds: int = FOLDS, seed: int = SEED
) -> list[npt.NDArray[np.int64]]:
    """Cross-validation folds over the grounded rows of a training set, stratified, same-source messages together."""
    from sklearn.model_selection import StratifiedGroupKFold  # evaluation only

    rows = np.array([i for i, e in enumerate(examples) if e.origin == GROUNDED], dtype=np.int64)
    if len(rows) < folds:
        return []
    grounded = [examples[i] for i in rows]
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    labels = [e.label for e in grounded]
    return [
        rows[np.sort(part)] for _, part in splitter.split(np.zeros(len(rows)), labels, groups(grounded, provenance))
    ]


def out_of_fold(
    data: Featurized, folds: Sequence[npt.NDArray[np.int64]], config: TrainConfig
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Each held-out row's category probabilities from a model trained on every other row (and its rows)."""
    everything = np.arange(len(data.labels))
    held = np.concatenate(list(folds)) if folds else np.zeros(0, dtype=np.int64)
    probabilities = np.zeros((len(held), N_CLASSES))
    at = 0
    for part in folds:
        model = fit(data, np.setdiff1d(everything, part), config)
        for i in part:
            probabilities[at] = model.probabilities(data.prepared[i], data.counts[i])
            at += 1
    return held, probabilities


def cross_validate(
    examples: Sequence[Example],
    data: Featurized,
    provenance: Mapping[str, Iterable[str]],
    config: TrainConfig = DEFAULT_CONFIG,
    folds: int = FOLDS,
) -> Comparison | None:
    """K-fold cross-validation on the training side: each grounded training message ranked unseen."""
    parts = grounded_folds(examples, provenance, folds)
    if not parts:
        return None
    rows, probabilities = out_of_fold(data, parts, config)
    held = [examples[i] for i in rows]
    answers = decide(probabilities, config.secondary_threshold)
    baseline = keyword_predictions(held)
    return Comparison(
        f"{folds}-fold cross-validation on the training side ({len(held)} grounded training messages, "
        "the synthetic corpus always in training)",
        Metrics.compute(held, answers.rankings, answers.secondaries),
        Metrics.compute(held, baseline.rankings),
    )


def counts_report(
    synthetic: Sequence[Example],
    grounded_train: Sequence[Example],
    grounded_test: Sequence[Example],
    testset: Sequence[Example],
) -> str:
    """Per category: the synthetic corpus, the grounded train and test sides, the synthetic test set."""
    header = "cat  synthetic  with-also  median-chars  no-diacritics  grounded-train  grounded-test  testset"
    lines = [header]
    train_counts, test_counts, set_counts = label_counts(grounded_train), label_counts(grounded_test), label_counts(testset)
    all_grounded = [*grounded_train, *grounded_test]

    def row(name: str, of: Sequence[Example], of_grounded: Sequence[Example], n_train: int, n_test: int, n_set: int) -> str:
        both = [*of, *of_grounded]
        lengths = sorted(len(e.text) for e in both)
        median = lengths[len(lengths) // 2] if lengths else 0
        bare = sum(fold(e.text) == e.text for e in both) / len(both) if both else 0.0
        also = sum(bool(e.also) for e in both)
        return (
            f"{name:>3}  {len(of):9d}  {also:9d}  {median:12d}  {bare:12.0%}  {n_train:14d}  {n_test:13d}  {n_set:7d}"
        )

    for c in range(N_CLASSES):
        lines.append(
            row(
                str(c),
                [e for e in synthetic if e.label == c],
                [e for e in all_grounded if e.label == c],
                train_counts[c],
                test_counts[c],
                set_counts[c],
            )
        )
    lines.append(row("all", synthetic, all_grounded, len(grounded_train), len(grounded_test), len(testset)))
    lines.append("(with-also, median-chars and no-diacritics count synthetic and grounded messages together)")
    return "\n".join(lines)


def with_corrections(
    examples: Sequence[Example],
    corrections: Sequence[tuple[str, int]],
    test_sets: Sequence[tuple[str, Sequence[Example]]],
    config: TrainConfig = DEFAULT_CONFIG,
) -> tuple[LinearTextModel, str]:
    """Retrains on the training set plus staff corrections; returns the new model and a before/after report.

    Before is the model without corrections. On the corrections, after is measured by cross-validation
    over the corrections (each one ranked by a model trained on everything but it and its fold), so
    the figure is not flattered by having seen the message.
    """
    fixes = corrections_as_examples(corrections)
    everything = [*examples, *fixes]
    data = training_data(everything, config)
    base_rows = np.arange(len(examples))
    fix_rows = np.arange(len(examples), len(everything))
    before = fit(data, base_rows, config)
    after = fit(data, np.arange(len(everything)), config)
    after.meta["corrections"] = len(fixes)
    lines = [f"training examples: {len(examples)}; staff corrections: {len(fixes)}"]
    if fixes:
        before_fix = predict(before, data, fix_rows)
        folds = min(FOLDS, len(fixes))
        if folds >= 2:
            parts = [part + len(examples) for part in _plain_folds([e.label for e in fixes], folds)]
            _, probabilities = out_of_fold(data, parts, config)
            order = np.concatenate(parts) - len(examples)
            held = [fixes[i] for i in order]
            after_fix = decide(probabilities, config.secondary_threshold)
            how = f"{folds}-fold cross-validation over the corrections"
        else:
            held, after_fix = fixes, predict(after, data, fix_rows)
            how = "too few to hold any out: after has seen them"
        lines += [
            "== staff corrections ==",
            f"before: {Metrics.compute(fixes, before_fix.rankings).summary()}",
            f"after:  {Metrics.compute(held, after_fix.rankings).summary()}  ({how})",
        ]
    for name, test in test_sets:
        if not test:
            continue
        before_t, after_t = predict_examples(before, test), predict_examples(after, test)
        lines += [
            f"== {name} ==",
            f"before: {Metrics.compute(test, before_t.rankings, before_t.secondaries).summary()}",
            f"after:  {Metrics.compute(test, after_t.rankings, after_t.secondaries).summary()}",
        ]
    return after, "\n".join(lines)


def _plain_folds(labels: Sequence[int], folds: int) -> list[npt.NDArray[np.int64]]:
    """Stratified folds of row indices, reproducibly (no groups: corrections are separate cases)."""
    return [part for part in stratified_folds(labels, folds) if len(part)]


def with_zero_bias(probabilities: npt.NDArray[np.float64], bias: float) -> npt.NDArray[np.float64]:
    """Probabilities with `bias` added to category 0's log-odds (as the trained model's zero bias does)."""
    scaled = probabilities.copy()
    scaled[:, 0] *= np.exp(bias)
    return scaled / scaled.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]

