"""The grounded corpus's fixed train/test split: seeded, stratified by category, grouped by source.

The split is a committed file (`grounded/split.json`), written before any model was chosen. Once a
message has a side it keeps it: `assign()` only places messages the file does not know yet, so new
grounded messages never move old ones and the test side is never re-drawn after looking at results.

Messages are kept together with everything they could leak into: retellings of the same published
case (the same source address in the provenance sidecar), the two halves of a contrastive pair, and
near-duplicate texts. Such a group lands on one side whole.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from intake.classify.corpus import GROUNDED_DIR, Example, grounded_files, text_key
from intake.classify.text import fold

log = logging.getLogger(__name__)

SPLIT_SEED = 20261207
TEST_FOLDS = 3  # one fold of three is the test side: about a third of each category
NEAR_DUPLICATE = 0.5  # Jaccard similarity of character 5-gram sets from which two texts are one group
TRAIN, TEST, EXCLUDED = "train", "test", "excluded"
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_PAIR_KEYS = ("pair", "pair_id", "contrast", "contrastive_pair", "twin")


@dataclass(frozen=True)
class Split:
    """Which side each grounded message id is on."""

    train: frozenset[str] = field(default_factory=frozenset)
    test: frozenset[str] = field(default_factory=frozenset)
    # Joined groups already on both sides: on neither side, so that no near-copy crosses over.
    excluded: frozenset[str] = field(default_factory=frozenset)

    def side(self, ident: str) -> str | None:
        """'train', 'test', 'excluded', or None for a message the split does not know."""
        if ident in self.test:
            return TEST
        if ident in self.train:
            return TRAIN
        if ident in self.excluded:
            return EXCLUDED
        return None

    def __len__(self) -> int:
        return len(self.train) + len(self.test) + len(self.excluded)


def read_split(path: Path | None = None) -> Split:
    """The committed split (an empty one when there is no file yet)."""
    path = path or split_path()
    if not path.exists():
        return Split()
    data = json.loads(path.read_text(encoding="utf-8"))
    return Split(
        train=frozenset(str(i) for i in data.get(TRAIN, ())),
        test=frozenset(str(i) for i in data.get(TEST, ())),
        excluded=frozenset(str(i) for i in data.get(EXCLUDED, ())),
    )


def write_split(split: Split, path: Path | None = None) -> None:
    """Writes the split with one id a line, sorted, so that a change reads as a short diff."""
    data = {
        "about": (
            "Fixed train/test split of the grounded corpus. A message keeps its side once given; "
            "new ids are added by `phananh split`. Training and model selection never read the test side."
        ),
        "seed": SPLIT_SEED,
        "test_share": round(1 / TEST_FOLDS, 3),
        TEST: sorted(split.test),
        TRAIN: sorted(split.train),
        EXCLUDED: sorted(split.excluded),
    }
    path = path or split_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _normal_url(url: str) -> str:
    """A source address compared without scheme, 'www.', fragment or trailing punctuation."""
    url = url.lower().split("#", 1)[0].rstrip("/.,;)")
    url = re.sub(r"^https?://(www\.)?", "", url)
    return url


def _pair_key(ident: str, value: Any) -> str:
    """The same key for both members of a contrastive pair, whichever side names the other."""
    if isinstance(value, str | int):
        return "pair:" + "|".join(sorted([ident, str(value).strip()]))
    return "pair:" + json.dumps(value, sort_keys=True, ensure_ascii=False)


def read_provenance(grounded_dir: Path = GROUNDED_DIR) -> dict[str, set[str]]:
    """For each message id, the keys it shares a group with: its source addresses and its contrastive pair.

    Source addresses come from the sidecars (`sources/*.jsonl`); a pair from a `pair` field of the
    sidecar or of the message itself (naming the other member's id).
    """
    keys: dict[str, set[str]] = {}
    sidecars = sorted((grounded_dir / "sources").glob("*.jsonl")) if (grounded_dir / "sources").exists() else []
    for path in [*sidecars, *grounded_files(grounded_dir)]:
        is_sidecar = path.parent.name == "sources"
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(row, dict) or row.get("id") is None:
                    continue
                ident = str(row["id"]).strip()
                found = keys.setdefault(ident, set())
                if is_sidecar:
                    for text in _strings(row):
                        found.update("url:" + _normal_url(u) for u in _URL.findall(text))
                for name in _PAIR_KEYS:
                    if row.get(name) not in (None, "", []):
                        found.add(_pair_key(ident, row[name]))
    return keys


class _UnionFind:
    """Groups of row indices joined by shared keys."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def split_path(grounded_dir: Path = GROUNDED_DIR) -> Path:
    """The split file of a grounded corpus directory."""
    return grounded_dir / "split.json"


def _overlaps(left: Sequence[str], right: Sequence[str], threshold: float) -> list[tuple[int, int]]:
    """Pairs (i, j) of texts left[i], right[j] whose character 5-gram sets overlap at least `threshold` (Jaccard)."""
    if not left or not right:
        return []
    from sklearn.feature_extraction.text import CountVectorizer  # offline only: never at suggestion time

    folded = [" ".join(fold(text_key(t)).split()) for t in [*left, *right]]
    vectorizer = CountVectorizer(analyzer="char", ngram_range=(5, 5), binary=True, lowercase=False)
    x = vectorizer.fit_transform(folded).tocsr()
    a, b = x[: len(left)], x[len(left) :]
    size_a, size_b = np.asarray(a.sum(axis=1)).ravel(), np.asarray(b.sum(axis=1)).ravel()
    inter = (a @ b.T).tocoo()
    union = size_a[inter.row] + size_b[inter.col] - inter.data
    keep = inter.data >= threshold * np.maximum(union, 1)
    return list(zip(inter.row[keep].tolist(), inter.col[keep].tolist(), strict=True))


def near_copies(texts: Sequence[str], against: Sequence[str], threshold: float = NEAR_DUPLICATE) -> set[int]:
    """Indices of `texts` that are near-copies of some text of `against`."""
    return {i for i, _ in _overlaps(texts, against, threshold)}


def groups(examples: Sequence[Example], provenance: Mapping[str, Iterable[str]]) -> list[int]:
    """A group number for each example: same source case, same contrastive pair or near-duplicate text."""
    uf = _UnionFind(len(examples))
    first: dict[str, int] = {}
    for row, example in enumerate(examples):
        for key in provenance.get(example.id, ()):
            if key in first:
                uf.join(first[key], row)
            else:
                first[key] = row
    texts = [e.text for e in examples]
    for i, j in _overlaps(texts, texts, NEAR_DUPLICATE):
        if i < j:
            uf.join(i, j)
    return [uf.find(i) for i in range(len(examples))]


def _draw_test(labels: Sequence[int], group_of: Sequence[int], seed: int) -> set[int]:
    """Rows of one fold of a stratified group k-fold: the test side for rows not placed before."""
    if len(set(group_of)) >= TEST_FOLDS and max(Counter(labels).values()) >= TEST_FOLDS:
        from sklearn.model_selection import StratifiedGroupKFold

        folds = StratifiedGroupKFold(n_splits=TEST_FOLDS, shuffle=True, random_state=seed % 2**32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "the least populated class has only n members"
            _, test_rows = next(folds.split(np.zeros(len(labels)), labels, group_of))
        return {int(r) for r in test_rows}
    # Too few groups to stratify (a handful of new messages): a seeded draw per group.
    rng = np.random.default_rng(seed)
    chosen = {g for g in sorted(set(group_of)) if rng.random() < 1 / TEST_FOLDS}
    return {row for row, g in enumerate(group_of) if g in chosen}


def assign(
    examples: Sequence[Example],
    split: Split,
    provenance: Mapping[str, Iterable[str]],
    seed: int = SPLIT_SEED,
) -> Split:
    """The split with every unknown message placed; messages already placed keep their side."""
    group_of = groups(examples, provenance)
    members: dict[int, list[int]] = {}
    for row, g in enumerate(group_of):
        members.setdefault(g, []).append(row)
    train, test, excluded = set(split.train), set(split.test), set(split.excluded)
    fresh_rows: list[int] = []
    for rows in members.values():
        sides = {side for r in rows if (side := split.side(examples[r].id)) is not None}
        new = [r for r in rows if split.side(examples[r].id) is None]
        if not new:
            continue
        if not sides:
            fresh_rows.extend(new)
        else:
            # A new message joins a group that already has a side: it goes where its group is.
            target = {TRAIN: train, TEST: test}.get(sides.pop(), excluded) if len(sides) == 1 else excluded
            target.update(examples[r].id for r in new)
    if fresh_rows:
        drawn = _draw_test([examples[r].label for r in fresh_rows], [group_of[r] for r in fresh_rows], seed)
        for k, row in enumerate(fresh_rows):
            (test if k in drawn else train).add(examples[row].id)
    return Split(train=frozenset(train), test=frozenset(test), excluded=frozenset(excluded))


@dataclass(frozen=True)
class Sides:
    """The grounded messages by side of the split."""

    train: list[Example]
    test: list[Example]
    unassigned: list[Example]


def sides(examples: Iterable[Example], split: Split) -> Sides:
    """Sorts grounded messages into the train side, the test side, and those the split does not know."""
    train: list[Example] = []
    test: list[Example] = []
    unassigned: list[Example] = []
    for example in examples:
        side = split.side(example.id)
        if side == TRAIN:
            train.append(example)
        elif side == TEST:
            test.append(example)
        elif side is None:
            unassigned.append(example)
    if unassigned:
        # Neither trained on nor scored: a message the split does not know waits for `phananh split`.
        log.warning("%s grounded messages are not in the split file; run `phananh split`", len(unassigned))
    return Sides(train=train, test=test, unassigned=unassigned)
