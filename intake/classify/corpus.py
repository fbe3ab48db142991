"""Reading the labelled corpus and the independent test set (JSON lines: text, label, also)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from intake.classify.text import clean

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CORPUS_DIR = DATA_DIR / "corpus" / "v1"
TESTSET_PATH = DATA_DIR / "testset" / "v1.jsonl"
N_CLASSES = 10
SEED = 1729
HOLDOUT_SHARE = 0.2


@dataclass(frozen=True)
class Example:
    """One labelled message; `also` lists other categories an annotator found acceptable."""

    text: str
    label: int
    also: tuple[int, ...] = field(default=())


def _parse(line: str) -> Example | None:
    """One JSON line as an Example, or None when it is not a usable example."""
    try:
        row = json.loads(line)
        text = str(row["text"])
        label = int(row["label"])
        also = tuple(int(a) for a in (row.get("also") or ()) if int(a) != label)
    except (ValueError, KeyError, TypeError):
        return None
    if not clean(text) or not 0 <= label < N_CLASSES:
        return None
    return Example(text=text, label=label, also=also)


def read_jsonl(paths: Iterable[Path]) -> list[Example]:
    """Reads examples from JSON-lines files in the given order, dropping exact duplicates."""
    examples: list[Example] = []
    seen: set[str] = set()
    skipped = 0
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                example = _parse(line)
                if example is None:
                    skipped += 1
                    continue
                # The same message twice would sit on both sides of a cross-validation split.
                key = clean(example.text).lower()
                if key in seen:
                    skipped += 1
                    continue
                seen.add(key)
                examples.append(example)
    if skipped:
        log.info("skipped %s unusable or duplicate lines", skipped)
    return examples


def corpus_files(corpus_dir: Path = CORPUS_DIR) -> list[Path]:
    """The corpus files, in a fixed order."""
    return sorted(corpus_dir.glob("*.jsonl"))


def load_corpus(corpus_dir: Path = CORPUS_DIR) -> list[Example]:
    """The training corpus: every *.jsonl file of the directory, sorted by name."""
    return read_jsonl(corpus_files(corpus_dir))


def load_testset(path: Path = TESTSET_PATH) -> list[Example]:
    """The independent test set, written apart from the corpus; never used for training or tuning."""
    return read_jsonl([path]) if path.exists() else []


def fingerprint(paths: Sequence[Path]) -> str:
    """A hash of the files' names and bytes: a model trained on other data is stale."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def label_counts(examples: Iterable[Example]) -> dict[int, int]:
    """How many examples each category has, 0-9."""
    counts = Counter(e.label for e in examples)
    return {c: counts.get(c, 0) for c in range(N_CLASSES)}


def stratified_folds(labels: Sequence[int], folds: int, seed: int = SEED) -> list[np.ndarray]:
    """Row indices split into folds with each category spread evenly, reproducibly."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    labels_arr = np.asarray(labels)
    offset = 0
    for c in range(N_CLASSES):
        rows = np.flatnonzero(labels_arr == c)
        rng.shuffle(rows)
        for k, row in enumerate(rows):
            parts[(k + offset) % folds].append(int(row))
        offset += len(rows)
    return [np.array(sorted(p), dtype=np.int64) for p in parts]


def holdout_split(
    labels: Sequence[int], share: float = HOLDOUT_SHARE, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    """A stratified (train rows, held-out rows) split, reproducibly."""
    rng = np.random.default_rng(seed + 1)
    labels_arr = np.asarray(labels)
    train_rows: list[int] = []
    held_rows: list[int] = []
    for c in range(N_CLASSES):
        rows = np.flatnonzero(labels_arr == c)
        rng.shuffle(rows)
        cut = round(len(rows) * share)
        held_rows.extend(int(r) for r in rows[:cut])
        train_rows.extend(int(r) for r in rows[cut:])
    return np.array(sorted(train_rows), dtype=np.int64), np.array(sorted(held_rows), dtype=np.int64)
