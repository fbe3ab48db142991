"""Reading the labelled data (JSON lines: text, label, also): the synthetic corpus, the grounded corpus
with its fixed train/test split, and the synthetic independent test set.

The grounded corpus is messages retold from cited public cases; each carries a stable "id". Its test
side is fixed by a committed split file before any modelling, and training never reads it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from intake.classify.text import clean

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CORPUS_DIR = DATA_DIR / "corpus" / "v1"
GROUNDED_DIR = DATA_DIR / "corpus" / "grounded"
TESTSET_PATH = DATA_DIR / "testset" / "v1.jsonl"
SYNTHETIC = "synthetic"
GROUNDED = "grounded"
N_CLASSES = 10
SEED = 1729
HOLDOUT_SHARE = 0.2


@dataclass(frozen=True)
class Example:
    """One labelled message; `also` lists other categories an annotator found acceptable.

    `id` is the stable identifier of a grounded message ("" for synthetic ones); `origin` says
    which corpus it comes from.
    """

    text: str
    label: int
    also: tuple[int, ...] = field(default=())
    id: str = ""
    origin: str = SYNTHETIC


def text_key(text: str) -> str:
    """What makes two messages the same message: their text with whitespace collapsed, lower-case."""
    return clean(text).lower()


def _parse(line: str, origin: str) -> Example | None:
    """One JSON line as an Example, or None when it is not a usable example."""
    try:
        row = json.loads(line)
        text = str(row["text"])
        label = int(row["label"])
        also = tuple(sorted({int(a) for a in (row.get("also") or ()) if int(a) != label}))
        raw_id = row.get("id")
        ident = "" if raw_id is None else str(raw_id).strip()
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not clean(text) or not 0 <= label < N_CLASSES or any(not 0 <= a < N_CLASSES for a in also):
        return None
    if origin == GROUNDED and not ident:
        return None  # a grounded message without an id can be neither split nor checked by a second reader
    return Example(text=text, label=label, also=also, id=ident, origin=origin)


def read_jsonl(paths: Iterable[Path], origin: str = SYNTHETIC) -> list[Example]:
    """Reads examples from JSON-lines files in the given order, dropping exact duplicates and repeated ids."""
    examples: list[Example] = []
    seen: set[str] = set()
    seen_ids: set[str] = set()
    skipped = 0
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                example = _parse(line, origin)
                if example is None:
                    skipped += 1
                    continue
                # The same message twice would sit on both sides of a cross-validation split.
                key = text_key(example.text)
                if key in seen or (example.id and example.id in seen_ids):
                    skipped += 1
                    continue
                seen.add(key)
                if example.id:
                    seen_ids.add(example.id)
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


def grounded_files(grounded_dir: Path = GROUNDED_DIR) -> list[Path]:
    """The grounded corpus's labelled message files (cat0.jsonl ... cat9.jsonl, pairs_*.jsonl ...), in a fixed order.

    Left out: the texts without labels given to the second reader, and that reader's labels.
    """
    return sorted(
        path
        for path in grounded_dir.glob("*.jsonl")
        if not path.name.startswith("unlabelled") and path.name != second_reader_path(grounded_dir).name
    )


def second_reader_path(grounded_dir: Path = GROUNDED_DIR) -> Path:
    """The second, independent reader's labels of the grounded corpus."""
    return grounded_dir / "second_reader.jsonl"


@dataclass(frozen=True)
class Reading:
    """One reader's labels of one message."""

    label: int
    also: tuple[int, ...] = ()


def read_second_reader(path: Path) -> dict[str, Reading]:
    """The second reader's labels by message id (lines that are not a valid reading are skipped)."""
    readings: dict[str, Reading] = {}
    if not path.exists():
        return readings
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
                label = int(row["label"])
                also = tuple(sorted({int(a) for a in (row.get("also") or ()) if int(a) != label}))
                ident = str(row["id"]).strip()
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            if ident and 0 <= label < N_CLASSES and all(0 <= a < N_CLASSES for a in also):
                readings[ident] = Reading(label, also)
    return readings


def settle(example: Example, second: Reading | None) -> Example:
    """The labels a grounded message keeps once both readers have read it (the rule of the data card).

    - Same category: it stays, with the secondary categories of both readers.
    - One reader says 0 and the other a category: it is a report, in that category; 0 is not kept,
      because a message a trained reader takes as a report must reach a Front queue.
    - Two different categories: the first reader's stays first (they retold the message from its
      source and know the case), the second reader's joins `also`, so either counts as right.
    """
    if second is None:
        return example
    first = example.label
    if second.label == first:
        label = first
    elif first == 0 or second.label == 0:
        label = first or second.label
    else:
        label = first
    accepted = {*example.also, *second.also} | ({first, second.label} - {label})
    also = tuple(sorted(accepted - {label, 0})) if label else ()
    return replace(example, label=label, also=also)


def load_grounded(grounded_dir: Path = GROUNDED_DIR, settled: bool = True) -> list[Example]:
    """Every grounded message, train and test side alike, with both readers' labels settled when there are two.

    With `settled=False`, the first reader's labels as written.
    """
    examples = read_jsonl(grounded_files(grounded_dir), origin=GROUNDED)
    second = read_second_reader(second_reader_path(grounded_dir)) if settled else {}
    return [settle(e, second.get(e.id)) for e in examples] if second else examples


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
