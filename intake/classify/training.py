"""Training the classifier from the corpus (and staff corrections), and keeping the artifact fresh."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from intake.classify.corpus import (
    CORPUS_DIR,
    SEED,
    Example,
    corpus_files,
    fingerprint,
    load_corpus,
    stratified_folds,
)
from intake.classify.features import FeatureConfig, FeatureSpace, extract
from intake.classify.model import N_CLASSES, LinearTextModel
from intake.classify.text import Prepared, fold, is_vietnamese_spelling, prepare
from intake.config import get_settings
from intake.segmenter import package_dir

log = logging.getLogger(__name__)

# Staff corrections are real residents' messages, judged by the people who triage them: they count
# for more than one written example each.
CORRECTION_WEIGHT = 2.0
_SOURCES = ("text.py", "features.py", "model.py", "training.py")
_WORD_LIST = package_dir() / "corpus" / "data" / "Viet74K.txt"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained model besides the data. Chosen by cross-validation."""

    features: FeatureConfig = field(default_factory=lambda: FeatureConfig(char_min=3, char_weight=0.6))
    c: float = 0.5
    calibration_folds: int = 3
    # Added to category 0's log-odds: in 5-fold CV, 0.75 raised recall of 0 from 0.948 to 0.965 for
    # 0.003 of macro-F1. Messages that are not reports must not clog the Front's queues.
    zero_bias: float = 0.75
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


def _base_lexicon() -> set[str]:
    """Folded Vietnamese syllables from underthesea's word list (absent list: empty set)."""
    words: set[str] = set()
    if _WORD_LIST.exists():
        with _WORD_LIST.open(encoding="utf-8") as fh:
            for line in fh:
                for part in line.lower().split():
                    if part.isalpha() and is_vietnamese_spelling(part):
                        words.add(fold(part))
    return words


def build_lexicon(prepared: Iterable[Prepared]) -> frozenset[str]:
    """Syllables that count as Vietnamese: the word list plus the corpus's syllables written with diacritics."""
    lexicon = _base_lexicon()
    for p in prepared:
        for syllable, folded in zip(p.syllables, p.folded, strict=True):
            # A syllable with diacritics is Vietnamese; a bare ASCII one may be an English word.
            if syllable != folded and folded.isalpha() and is_vietnamese_spelling(syllable):
                lexicon.add(folded)
    return frozenset(lexicon)


def _svm(config: TrainConfig) -> Any:
    """A linear SVM: on the corpus it beat logistic regression by about a point of macro-F1 in CV."""
    from sklearn.svm import LinearSVC  # training only: suggesting never needs scikit-learn

    return LinearSVC(C=config.c, max_iter=config.max_iter, random_state=SEED)


def _temperature(margins: np.ndarray, labels: np.ndarray) -> float:
    """The scale that turns SVM margins into the best-calibrated softmax probabilities (least log-loss)."""
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
    if len(estimator.classes_) == 2:
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
    w = data.weights[rows]
    estimator = _svm(config).fit(x, y, sample_weight=w)
    # Calibrate on margins of messages the SVM did not see: inner folds over the training rows.
    folds = config.calibration_folds
    temperature = 1.0
    if folds >= 2 and len(rows) >= 5 * folds and len(set(y.tolist())) > 1:
        margins = np.zeros((len(rows), N_CLASSES))
        for part in stratified_folds(y.tolist(), folds, seed=SEED + 2):
            rest = np.setdiff1d(np.arange(len(rows)), part)
            if len(set(y[rest].tolist())) < 2:
                continue
            inner = _svm(config).fit(x[rest], y[rest], sample_weight=w[rest])
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
        meta={
            "n_examples": len(rows),
            "labels": Counter(int(v) for v in y).most_common(),
            "temperature": temperature,
        },
    )


def train(
    examples: Sequence[Example],
    extra: Iterable[tuple[str, int]] = (),
    config: TrainConfig = DEFAULT_CONFIG,
) -> LinearTextModel:
    """Trains on corpus examples plus extra (text, label) pairs such as staff corrections."""
    started = time.perf_counter()
    extra = [(t, int(lbl)) for t, lbl in extra if t and t.strip() and 0 <= int(lbl) < N_CLASSES]
    texts = [e.text for e in examples] + [t for t, _ in extra]
    labels = [e.label for e in examples] + [lbl for _, lbl in extra]
    weights = [1.0] * len(examples) + [CORRECTION_WEIGHT] * len(extra)
    data = featurize(texts, labels, config.features, weights)
    model = fit(data, range(len(texts)), config)
    model.meta.update(corrections=len(extra))
    log.info(
        "trained classifier on %s examples (%s corrections) in %.1f s",
        len(texts),
        len(extra),
        time.perf_counter() - started,
    )
    return model


def default_model_path() -> Path:
    """Where the artifact lives: settings.classifier_model_path, else <var_dir>/models/classifier.npz."""
    settings = get_settings()
    return settings.classifier_model_path or settings.var_dir / "models" / "classifier.npz"


def train_from_corpus(
    corpus_dir: Path = CORPUS_DIR, extra: Iterable[tuple[str, int]] = (), config: TrainConfig = DEFAULT_CONFIG
) -> LinearTextModel:
    """Trains on the corpus directory and stamps the model with the corpus's fingerprint."""
    return stamp(train(load_corpus(corpus_dir), extra=extra, config=config), corpus_dir, config)


def stamp(
    model: LinearTextModel, corpus_dir: Path = CORPUS_DIR, config: TrainConfig = DEFAULT_CONFIG
) -> LinearTextModel:
    """Records what the model was trained from, so a later load can tell whether it is stale."""
    model.meta.update(
        corpus=fingerprint(corpus_files(corpus_dir)),
        code=code_fingerprint(config),
        trained_at=int(time.time()),
    )
    return model


def is_fresh(model: LinearTextModel, corpus_dir: Path = CORPUS_DIR, config: TrainConfig = DEFAULT_CONFIG) -> bool:
    """Whether a model was trained on this corpus with this code (corrections do not make it stale)."""
    files = corpus_files(corpus_dir)
    if not files:
        return True  # no corpus to compare with (an installed copy without data): trust the model
    return model.meta.get("corpus") == fingerprint(files) and model.meta.get("code") == code_fingerprint(config)


def load_or_train(path: Path, corpus_dir: Path = CORPUS_DIR, config: TrainConfig = DEFAULT_CONFIG) -> LinearTextModel:
    """Loads the artifact; trains and saves it first when it is missing or stale."""
    if path.exists():
        try:
            model = LinearTextModel.load(path)
        except (OSError, ValueError, KeyError) as err:
            log.warning("classifier model at %s is unreadable (%s); retraining", path, err)
        else:
            if is_fresh(model, corpus_dir, config):
                return model
            log.info("classifier model at %s is stale (corpus or code changed); retraining", path)
    else:
        log.info("no classifier model at %s; training one from the corpus", path)
    if not corpus_files(corpus_dir):
        raise FileNotFoundError(f"no classifier model at {path} and no corpus in {corpus_dir}")
    model = train_from_corpus(corpus_dir, config=config)
    try:
        model.save(path)
    except OSError as err:
        log.warning("could not save the classifier model to %s: %s", path, err)
    return model
