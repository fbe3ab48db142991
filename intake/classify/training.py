"""Training the classifier from the corpora (and staff corrections), and keeping the artifact fresh.

The training data is the synthetic corpus plus the train side of the grounded corpus. The grounded
test side is never read here, and synthetic messages that are near-copies of a grounded test message
are left out, so the test side stays unseen.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from intake.classify.corpus import (
    CORPUS_DIR,
    GROUNDED,
    GROUNDED_DIR,
    SEED,
    SYNTHETIC,
    Example,
    corpus_files,
    fingerprint,
    grounded_files,
    load_corpus,
    load_grounded,
    second_reader_path,
    stratified_folds,
)
from intake.classify.features import FeatureConfig, FeatureSpace, extract
from intake.classify.model import N_CLASSES, LinearTextModel
from intake.classify.split import near_copies, read_split, sides, split_path
from intake.classify.text import Prepared, fold, is_vietnamese_spelling, prepare
from intake.config import get_settings
from intake.segmenter import package_dir

log = logging.getLogger(__name__)

# Staff corrections are real residents' messages, judged by the people who triage them: they count
# for more than one written example each.
CORRECTION_WEIGHT = 2.0
CORRECTION = "correction"
_SOURCES = ("corpus.py", "text.py", "features.py", "model.py", "training.py")
_WORD_LIST = package_dir() / "corpus" / "data" / "Viet74K.txt"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained model besides the data.

    The defaults were chosen by 5-fold cross-validation on the grounded training side
    (`intake.classify.selection`; the table is in the data card), never on a test set.
    """

    features: FeatureConfig = field(default_factory=lambda: FeatureConfig(char_min=3, char_weight=0.6))
    # "svm" (LinearSVC, one-vs-rest), "nbsvm" (NBLinearSVC) or "logreg" (multinomial logistic regression)
    estimator: str = "svm"
    c: float = 1.0
    class_weight: str | None = None  # None or "balanced" (over the weighted training rows)
    # The weight of a synthetic message beside a grounded one (1.0): written from a brief, it is
    # further from what residents write than a message retold from a real case. At 0.1 the synthetic
    # corpus still helps (grounded messages alone: macro-F1 0.79 in cross-validation; with it: 0.86).
    synthetic_weight: float = 0.1
    calibration_folds: int = 3
    # Added to category 0's log-odds, for a recall of 0 of 0.95 in cross-validation (0.93 without).
    # Messages that are not reports must not clog the Front's queues.
    zero_bias: float = 1.25
    # The runner-up is also suggested from this probability on: there, half the secondaries given
    # in cross-validation named a category the message was labelled with and the top one was not.
    secondary_threshold: float = 0.35
    max_iter: int = 5000

    def as_dict(self) -> dict[str, object]:
        """A plain dict, for hashing and for the artifact's metadata."""
        return asdict(self)


DEFAULT_CONFIG = TrainConfig()


def code_fingerprint(config: TrainConfig = DEFAULT_CONFIG) -> str:
    """A hash of the configuration and of the code that reads messages: other code, other model."""
    digest = hashlib.sha256(json.dumps(config.as_dict(), sort_keys=True).encode())
    here = Path(__file__).resolve().parent
    for name in _SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class Featurized:
    """Examples read once: their preparation and feature counts, reused across folds."""

    prepared: list[Prepared]
    counts: list[Counter[str]]
    labels: np.ndarray
    weights: np.ndarray


def featurize(
    texts: Sequence[str], labels: Sequence[int], config: FeatureConfig, weights: Sequence[float] | None = None
) -> Featurized:
    """Prepares and counts features of many messages."""
    prepared = [prepare(t) for t in texts]
    return Featurized(
        prepared=prepared,
        counts=[extract(p, config) for p in prepared],
        labels=np.asarray(labels, dtype=np.int64),
        weights=np.asarray(weights if weights is not None else [1.0] * len(texts), dtype=np.float64),
    )


def join(*parts: Featurized) -> Featurized:
    """Featurized data one after another, as if read together."""
    return Featurized(
        prepared=[p for part in parts for p in part.prepared],
        counts=[c for part in parts for c in part.counts],
        labels=np.concatenate([part.labels for part in parts]),
        weights=np.concatenate([part.weights for part in parts]),
    )


def refeaturize(data: Featurized, config: FeatureConfig) -> Featurized:
    """The same prepared messages counted with other features (preparing is the slow part)."""
    return replace(data, counts=[extract(p, config) for p in data.prepared])


@functools.cache
def _base_lexicon() -> frozenset[str]:
    """Folded Vietnamese syllables from underthesea's word list (absent list: empty set); read once."""
    words: set[str] = set()
    if _WORD_LIST.exists():
        with _WORD_LIST.open(encoding="utf-8") as fh:
            for line in fh:
                for part in line.lower().split():
                    if part.isalpha() and is_vietnamese_spelling(part):
                        words.add(fold(part))
    return frozenset(words)


def build_lexicon(prepared: Iterable[Prepared]) -> frozenset[str]:
    """Syllables that count as Vietnamese: the word list plus the corpus's syllables written with diacritics."""
    lexicon = set(_base_lexicon())
    for p in prepared:
        for syllable, folded in zip(p.syllables, p.folded, strict=True):
            # A syllable with diacritics is Vietnamese; a bare ASCII one may be an English word.
            if syllable != folded and folded.isalpha() and is_vietnamese_spelling(syllable):
                lexicon.add(folded)
    return frozenset(lexicon)


class NBLinearSVC:
    """One-vs-rest linear SVMs over features scaled by each category's Naive Bayes log-count ratio.

    NBSVM (Wang and Manning, 2012): a feature counts for a category in proportion to how much more
    often it appears in that category's messages than in the others'. The scaling folds into the
    weights, so the trained model is still one weight per feature and category, read the same way.
    """

    def __init__(self, c: float, max_iter: int, alpha: float = 1.0) -> None:
        self.c, self.max_iter, self.alpha = c, max_iter, alpha

    def fit(self, x: Any, y: np.ndarray, sample_weight: np.ndarray) -> NBLinearSVC:
        """Fits one scaled SVM per category seen; coef_ and intercept_ hold one row per category."""
        from scipy import sparse
        from sklearn.svm import LinearSVC

        self.classes_ = np.unique(y)
        present = (x > 0).astype(np.float64).tocsc()
        coefs, intercepts = [], []
        for label in self.classes_:
            mine = (y == label).astype(np.float64)
            p = self.alpha + present.T @ (sample_weight * mine)
            q = self.alpha + present.T @ (sample_weight * (1.0 - mine))
            ratio = np.log((p / p.sum()) / (q / q.sum()))
            svm = LinearSVC(C=self.c, max_iter=self.max_iter, random_state=SEED)
            svm.fit(x @ sparse.diags(ratio), mine.astype(np.int64), sample_weight=sample_weight)
            coefs.append(svm.coef_[0] * ratio)
            intercepts.append(svm.intercept_[0])
        self.coef_ = np.vstack(coefs)
        self.intercept_ = np.asarray(intercepts)
        return self


def _estimator(config: TrainConfig) -> Any:
    """The linear classifier the configuration names (scikit-learn: training only, never suggesting)."""
    if config.estimator == "nbsvm":
        return NBLinearSVC(c=config.c, max_iter=config.max_iter)
    if config.estimator == "svm":
        from sklearn.svm import LinearSVC

        return LinearSVC(C=config.c, max_iter=config.max_iter, random_state=SEED)
    if config.estimator == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=config.c, max_iter=config.max_iter, random_state=SEED)
    raise ValueError(f"unknown estimator {config.estimator!r}")


def _class_weighted(labels: np.ndarray, weights: np.ndarray, config: TrainConfig) -> np.ndarray:
    """Sample weights, times the class weight when classes are balanced (each class weighs the same in all)."""
    if config.class_weight is None:
        return weights
    if config.class_weight != "balanced":
        raise ValueError(f"unknown class weight {config.class_weight!r}")
    totals = np.bincount(labels, weights=weights, minlength=N_CLASSES)
    present = totals > 0
    scale = np.zeros(N_CLASSES)
    scale[present] = weights.sum() / (present.sum() * totals[present])
    return np.asarray(weights * scale[labels], dtype=np.float64)


def _temperature(margins: np.ndarray, labels: np.ndarray) -> float:
    """The scale that turns linear margins into the best-calibrated softmax probabilities (least log-loss)."""
    best, best_loss = 1.0, float("inf")
    for t in np.geomspace(0.1, 100.0, 121):
        z = margins * t
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -float(log_p[np.arange(len(labels)), labels].mean())
        if loss < best_loss:
            best, best_loss = float(t), loss
    return best


def _per_class(estimator: Any) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and intercepts, one row per class the estimator saw (two-class SVMs keep one)."""
    coef, intercept = np.asarray(estimator.coef_), np.asarray(estimator.intercept_)
    if len(estimator.classes_) == 2 and coef.shape[0] == 1:
        # One margin for "second class"; split it so that the softmax of two rows gives the same odds.
        return np.vstack([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
    return coef, intercept


def _full_margins(estimator: Any, x: Any) -> np.ndarray:
    """Decision values for all ten categories (a category absent from training scores very low)."""
    coef, intercept = _per_class(estimator)
    margins = np.full((x.shape[0], N_CLASSES), -10.0)
    margins[:, estimator.classes_] = x @ coef.T + intercept
    return margins


def fit(data: Featurized, rows: Sequence[int] | np.ndarray, config: TrainConfig = DEFAULT_CONFIG) -> LinearTextModel:
    """Fits the model on some rows of featurized data, with margins calibrated into probabilities."""
    rows = np.asarray(rows, dtype=np.int64)
    counts = [data.counts[i] for i in rows]
    space = FeatureSpace.fit(counts, config.features)
    x = space.matrix(counts)
    y = data.labels[rows]
    w = _class_weighted(y, data.weights[rows], config)
    estimator = _estimator(config).fit(x, y, sample_weight=w)
    # Calibrate on margins of messages the SVM did not see: inner folds over the training rows.
    folds = config.calibration_folds
    temperature = 1.0
    if folds >= 2 and len(rows) >= 5 * folds and len(set(y.tolist())) > 1:
        margins = np.zeros((len(rows), N_CLASSES))
        for part in stratified_folds(y.tolist(), folds, seed=SEED + 2):
            rest = np.setdiff1d(np.arange(len(rows)), part)
            if len(set(y[rest].tolist())) < 2:
                continue
            inner = _estimator(config).fit(x[rest], y[rest], sample_weight=w[rest])
            margins[part] = _full_margins(inner, x[part])
        temperature = _temperature(margins, y)
    coef = np.zeros((N_CLASSES, len(space.features)), dtype=np.float32)
    intercept = np.full(N_CLASSES, -30.0, dtype=np.float32)  # a category with no example is never chosen
    per_class_coef, per_class_intercept = _per_class(estimator)
    for k, label in enumerate(estimator.classes_):
        coef[int(label)] = per_class_coef[k] * temperature
        intercept[int(label)] = per_class_intercept[k] * temperature
    if 0 in estimator.classes_:
        intercept[0] += config.zero_bias
    return LinearTextModel(
        space=space,
        config=config.features,
        weights=np.ascontiguousarray(coef.T),
        intercept=intercept,
        lexicon=build_lexicon(data.prepared[i] for i in rows),
        secondary_threshold=config.secondary_threshold,
        meta={
            "n_examples": len(rows),
            "labels": Counter(int(v) for v in y).most_common(),
            "temperature": temperature,
        },
    )


def sample_weight(example: Example, config: TrainConfig) -> float:
    """How much one training message counts: grounded 1, synthetic less or as much, corrections more."""
    if example.origin == SYNTHETIC:
        return config.synthetic_weight
    if example.origin == CORRECTION:
        return CORRECTION_WEIGHT
    return 1.0


def corrections_as_examples(extra: Iterable[tuple[str, int]]) -> list[Example]:
    """Staff corrections, (text, category) pairs, as training examples (unusable pairs dropped)."""
    return [
        Example(text=t, label=int(lbl), origin=CORRECTION)
        for t, lbl in extra
        if t and t.strip() and 0 <= int(lbl) < N_CLASSES
    ]


def train(
    examples: Sequence[Example],
    extra: Iterable[tuple[str, int]] = (),
    config: TrainConfig = DEFAULT_CONFIG,
) -> LinearTextModel:
    """Trains on examples plus extra (text, label) pairs such as staff corrections."""
    started = time.perf_counter()
    fixes = corrections_as_examples(extra)
    everything = [*examples, *fixes]
    data = featurize(
        [e.text for e in everything],
        [e.label for e in everything],
        config.features,
        [sample_weight(e, config) for e in everything],
    )
    model = fit(data, range(len(everything)), config)
    origins = Counter(e.origin for e in examples)
    model.meta.update(
        corrections=len(fixes), synthetic=origins.get(SYNTHETIC, 0), grounded=origins.get(GROUNDED, 0)
    )
    log.info(
        "trained classifier on %s examples (%s corrections) in %.1f s",
        len(everything),
        len(fixes),
        time.perf_counter() - started,
    )
    return model


def default_model_path() -> Path:
    """Where the artifact lives: settings.classifier_model_path, else <var_dir>/models/classifier.npz."""
    settings = get_settings()
    return settings.classifier_model_path or settings.var_dir / "models" / "classifier.npz"


@dataclass(frozen=True)
class TrainingSet:
    """What the deployed model learns from, and what was kept out of it."""

    examples: list[Example]  # synthetic (minus near-copies of grounded test messages) + grounded train side
    grounded_test: list[Example]
    unassigned: int  # grounded messages the split does not know yet: in neither side
    dropped_near_copies: int  # synthetic messages left out for being near-copies of a grounded test message


def training_set(corpus_dir: Path = CORPUS_DIR, grounded_dir: Path = GROUNDED_DIR) -> TrainingSet:
    """The synthetic corpus and the grounded train side; the grounded test side only to keep its copies out."""
    synthetic = load_corpus(corpus_dir)
    grounded = sides(load_grounded(grounded_dir), read_split(split_path(grounded_dir)))
    copies = near_copies([e.text for e in synthetic], [e.text for e in grounded.test])
    kept = [e for i, e in enumerate(synthetic) if i not in copies]
    return TrainingSet(
        examples=kept + grounded.train,
        grounded_test=grounded.test,
        unassigned=len(grounded.unassigned),
        dropped_near_copies=len(copies),
    )


def data_files(corpus_dir: Path = CORPUS_DIR, grounded_dir: Path = GROUNDED_DIR) -> list[Path]:
    """The files a trained model depends on: the synthetic corpus, the grounded corpus, its split and second reading."""
    extra = [p for p in (split_path(grounded_dir), second_reader_path(grounded_dir)) if p.exists()]
    return [*corpus_files(corpus_dir), *grounded_files(grounded_dir), *extra]


def train_from_corpus(
    corpus_dir: Path = CORPUS_DIR,
    extra: Iterable[tuple[str, int]] = (),
    config: TrainConfig = DEFAULT_CONFIG,
    grounded_dir: Path = GROUNDED_DIR,
) -> LinearTextModel:
    """Trains on the corpora's training side and stamps the model with the data's fingerprint."""
    examples = training_set(corpus_dir, grounded_dir).examples
    return stamp(train(examples, extra=extra, config=config), corpus_dir, config, grounded_dir)


def stamp(
    model: LinearTextModel,
    corpus_dir: Path = CORPUS_DIR,
    config: TrainConfig = DEFAULT_CONFIG,
    grounded_dir: Path = GROUNDED_DIR,
) -> LinearTextModel:
    """Records what the model was trained from, so a later load can tell whether it is stale."""
    model.meta.update(
        corpus=fingerprint(data_files(corpus_dir, grounded_dir)),
        code=code_fingerprint(config),
        trained_at=int(time.time()),
    )
    return model


def is_fresh(
    model: LinearTextModel,
    corpus_dir: Path = CORPUS_DIR,
    config: TrainConfig = DEFAULT_CONFIG,
    grounded_dir: Path = GROUNDED_DIR,
) -> bool:
    """Whether a model was trained on these data with this code (corrections do not make it stale)."""
    files = data_files(corpus_dir, grounded_dir)
    if not files:
        return True  # no corpus to compare with (an installed copy without data): trust the model
    return model.meta.get("corpus") == fingerprint(files) and model.meta.get("code") == code_fingerprint(config)


def load_or_train(
    path: Path,
    corpus_dir: Path = CORPUS_DIR,
    config: TrainConfig = DEFAULT_CONFIG,
    grounded_dir: Path = GROUNDED_DIR,
) -> LinearTextModel:
    """Loads the artifact; trains and saves it first when it is missing or stale."""
    if path.exists():
        try:
            model = LinearTextModel.load(path)
        except (OSError, ValueError, KeyError) as err:
            log.warning("classifier model at %s is unreadable (%s); retraining", path, err)
        else:
            if is_fresh(model, corpus_dir, config, grounded_dir):
                return model
            log.info("classifier model at %s is stale (corpus or code changed); retraining", path)
    else:
        log.info("no classifier model at %s; training one from the corpus", path)
    if not corpus_files(corpus_dir) and not grounded_files(grounded_dir):
        raise FileNotFoundError(f"no classifier model at {path} and no corpus in {corpus_dir}")
    model = train_from_corpus(corpus_dir, config=config, grounded_dir=grounded_dir)
    try:
        model.save(path)
    except OSError as err:
        log.warning("could not save the classifier model to %s: %s", path, err)
    return model
