"""The grounded corpus's fixed split: stratified, grouped by source, stable as messages are added, never trained on."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from typer.testing import CliRunner

from intake.classify.corpus import GROUNDED, Example, load_grounded, read_jsonl
from intake.classify.split import (
    EXCLUDED,
    TEST,
    TRAIN,
    Split,
    _overlaps,
    assign,
    groups,
    near_copies,
    read_provenance,
    read_split,
    sides,
    split_path,
    write_split,
)
from intake.classify.training import data_files, training_set

WORDS = (
    "chủ tịch xã thôn trưởng công an địa chính cán bộ đảng viên tiền hỗ trợ lũ lụt sổ đỏ đất đai "
    "đánh bạc rượu chè họp chi bộ bằng khen thành tích con trai cháu gái dự án đường làng nhà văn hóa "
    "kê khai tài sản biệt thự hồ sơ một cửa ruộng vườn ao cá chợ trạm y tế trường học hiệu trưởng"
).split()


def _text(seed: int, n: int = 14) -> str:
    """A made-up message of n words, the same for the same seed."""
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def write_grounded(root: Path, rows: list[dict[str, object]], sources: dict[str, str]) -> None:
    """Writes a grounded corpus directory: cat files, and source sidecars keyed by id."""
    (root / "sources").mkdir(parents=True, exist_ok=True)
    by_cat: dict[int, list[dict[str, object]]] = {}
    for row in rows:
        by_cat.setdefault(int(row["label"]), []).append(row)  # type: ignore[call-overload]
    for c, of_c in by_cat.items():
        (root / f"cat{c}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in of_c), "utf-8")
        side = [{"id": r["id"], "source": sources[str(r["id"])], "note": "retold"} for r in of_c if str(r["id"]) in sources]
        (root / "sources" / f"cat{c}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in side), "utf-8")


def grounded_rows(n_per_class: int = 30) -> tuple[list[dict[str, object]], dict[str, str]]:
    """Distinct messages of ten categories; every two consecutive ones retell the same source."""
    rows: list[dict[str, object]] = []
    sources: dict[str, str] = {}
    k = 0
    for c in range(10):
        for i in range(n_per_class):
            ident = f"g{c}-{i:03d}"
            rows.append({"id": ident, "text": f"{_text(k)} số {k}", "label": c, "also": []})
            sources[ident] = f"https://tin.example.vn/vu-viec-{c}-{i // 2}"
            k += 1
    return rows, sources


def test_split_is_stratified_grouped_and_reproducible(tmp_path: Path) -> None:
    """About a third of each category is test, same-source retellings share a side, and the draw is seeded."""
    rows, sources = grounded_rows()
    write_grounded(tmp_path, rows, sources)
    examples = load_grounded(tmp_path)
    provenance = read_provenance(tmp_path)
    first = assign(examples, Split(), provenance)
    assert first == assign(examples, Split(), provenance)
    assert len(first.test) + len(first.train) == len(examples) and not first.excluded
    per_class = Counter(e.label for e in examples if e.id in first.test)
    assert all(8 <= per_class[c] <= 12 for c in range(10)), per_class
    side_of_source: dict[str, set[str]] = {}
    for e in examples:
        side_of_source.setdefault(sources[e.id], set()).add(str(first.side(e.id)))
    assert all(len(s) == 1 for s in side_of_source.values())


def test_split_file_round_trip_is_one_id_a_line(tmp_path: Path) -> None:
    """The split file reads back to the same split and lists ids sorted, one a line."""
    split = Split(train=frozenset({"b", "a"}), test=frozenset({"c"}), excluded=frozenset({"d"}))
    path = tmp_path / "split.json"
    write_split(split, path)
    assert read_split(path) == split
    assert '\n  "a",\n  "b"\n' in path.read_text(encoding="utf-8")
    assert read_split(tmp_path / "missing.json") == Split()


def test_near_copies_are_found_across_sets() -> None:
    """A text with one word changed is a near-copy; an unrelated one is not."""
    base = "ông chủ tịch xã nhận tiền hỗ trợ lũ lụt của dân rồi chia cho người nhà, ai hỏi thì đuổi về"
    tweaked = base.replace("đuổi về", "mắng về")
    other = "đường trước nhà tôi có ổ gà rất to, trời mưa xe máy ngã liên tục"
    assert near_copies([tweaked, other], [base]) == {0}
    assert _overlaps([base], [base], 0.5) == [(0, 0)]


def test_training_never_reads_the_test_side(tmp_path: Path) -> None:
    """Training takes the grounded train side only, and drops synthetic near-copies of test messages."""
    rows, sources = grounded_rows(12)
    grounded = tmp_path / "grounded"
    write_grounded(grounded, rows, sources)
    examples = load_grounded(grounded)
    split = assign(examples, Split(), read_provenance(grounded))
    write_split(split, split_path(grounded))
    test_texts = [str(r["text"]) for r in rows if str(r["id"]) in split.test]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    synthetic = [{"text": test_texts[0] + " nữa", "label": 3}, {"text": "trưởng thôn say rượu đánh người ở đám cưới", "label": 9}]
    (corpus / "all.jsonl").write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in synthetic), "utf-8")
    tset = training_set(corpus, grounded)
    ids = {e.id for e in tset.examples if e.origin == GROUNDED}
    assert ids == set(split.train)
    assert {e.id for e in tset.grounded_test} == set(split.test)
    assert [e.text for e in tset.examples if e.origin != GROUNDED] == [synthetic[1]["text"]]
    assert tset.dropped_near_copies == 1
    assert split_path(grounded) in data_files(corpus, grounded)


def test_messages_without_a_side_are_neither_trained_nor_scored(tmp_path: Path) -> None:
    """A grounded message the split file does not know is in neither side until `phananh split` places it."""
    rows, sources = grounded_rows(6)
    write_grounded(tmp_path, rows, sources)
    examples = load_grounded(tmp_path)
    known = Split(train=frozenset(e.id for e in examples[:40]), test=frozenset(e.id for e in examples[40:50]))
    both = sides(examples, known)
    assert len(both.train) == 40 and len(both.test) == 10
    assert {e.id for e in both.unassigned} == {e.id for e in examples[50:]}


def test_grounded_lines_need_an_id(tmp_path: Path) -> None:
    """A grounded line without an id, or repeating one, is skipped: it could be neither split nor second-read."""
    path = tmp_path / "cat1.jsonl"
    path.write_text(
        '{"id": "a", "text": "một", "label": 1}\n{"text": "hai", "label": 1}\n{"id": "a", "text": "ba", "label": 1}\n',
        encoding="utf-8",
    )
    assert read_jsonl([path], origin=GROUNDED) == [Example("một", 1, id="a", origin=GROUNDED)]


def test_split_command_places_new_messages_and_checks(tmp_path: Path) -> None:
    """`phananh split --check` fails while a message has no side; `phananh split` places it and keeps the rest."""
    import typer

    from phananh.commands.classify import register

    rows, sources = grounded_rows(6)
    write_grounded(tmp_path, rows, sources)
    old = Split(train=frozenset({"g0-000"}), test=frozenset({"g1-000"}))
    write_split(old, split_path(tmp_path))
    app = typer.Typer()
    register(app)
    app.callback()(lambda: None)
    runner = CliRunner()
    where = ["--grounded-dir", str(tmp_path)]
    assert runner.invoke(app, ["split", "--check", *where]).exit_code == 1
    result = runner.invoke(app, ["split", *where])
    assert result.exit_code == 0, result.output
    new = read_split(split_path(tmp_path))
    assert "g0-000" in new.train and "g1-000" in new.test
    assert len(new) == len(rows)
    assert runner.invoke(app, ["split", "--check", *where]).exit_code == 0


class GrowingCorpus(RuleBasedStateMachine):
    """Grounded messages arrive in batches, some retelling known cases or copying known texts; the split follows."""

    def __init__(self) -> None:
        super().__init__()
        self.examples: list[Example] = []
        self.provenance: dict[str, set[str]] = {}
        self.split = Split()
        self.history: dict[str, str] = {}

    @initialize()
    def start(self) -> None:
        self.add(batch=[(c, 0, None, None) for c in range(10) for _ in range(3)])

    @rule(
        batch=st.lists(
            st.tuples(
                st.integers(0, 9),  # label
                st.integers(0, 10_000),  # seed of the words
                st.none() | st.integers(0, 500),  # copy of the n-th known message (near-duplicate)
                st.none() | st.integers(0, 500),  # same source as the n-th known message
            ),
            min_size=1,
            max_size=12,
        )
    )
    def add(self, batch: list[tuple[int, int, int | None, int | None]]) -> None:
        for label, seed, copy_of, source_of in batch:
            ident = f"m{len(self.examples)}"
            if copy_of is not None and self.examples:
                base = self.examples[copy_of % len(self.examples)].text
                text = base + " thật"
            else:
                n = len(self.examples)
                text = f"{_text(seed * 1000 + n, 12)} {n}"
            keys = {f"url:tin.example.vn/{ident}"}
            if source_of is not None and self.examples:
                keys |= self.provenance[self.examples[source_of % len(self.examples)].id]
            self.provenance[ident] = keys
            self.examples.append(Example(text=text, label=label, id=ident, origin=GROUNDED))
        self.split = assign(self.examples, self.split, self.provenance)

    @invariant()
    def every_message_has_a_side_it_keeps(self) -> None:
        for e in self.examples:
            side = self.split.side(e.id)
            assert side in (TRAIN, TEST, EXCLUDED)
            assert self.history.setdefault(e.id, side) == side

    @invariant()
    def nothing_links_the_train_side_to_the_test_side(self) -> None:
        sides_of = {e.id: self.split.side(e.id) for e in self.examples}
        texts = [e.text for e in self.examples]
        linked = [(i, j) for i, j in _overlaps(texts, texts, 0.5) if i < j]
        by_key: dict[str, list[int]] = {}
        for i, e in enumerate(self.examples):
            for key in self.provenance[e.id]:
                by_key.setdefault(key, []).append(i)
        linked += [(rows[0], r) for rows in by_key.values() for r in rows[1:]]
        for i, j in linked:
            assert {sides_of[self.examples[i].id], sides_of[self.examples[j].id]} != {TRAIN, TEST}


def test_split_sides_never_move_and_never_leak() -> None:
    """However messages arrive, a side once given never changes and no link joins the train and test sides."""
    run_state_machine_as_test(GrowingCorpus, settings=settings(max_examples=25, stateful_step_count=6, deadline=None))


def test_groups_join_sources_and_near_duplicates() -> None:
    """Messages sharing a source, or near-copies of each other, are one group; others are apart."""
    texts = ["ông chủ tịch xã nhận tiền hỗ trợ của dân nghèo", "ông chủ tịch xã nhận tiền hỗ trợ của dân nghèo thật", "đường làng hỏng", "trường học dột"]
    examples = [Example(t, 1, id=str(i), origin=GROUNDED) for i, t in enumerate(texts)]
    g = groups(examples, {"2": {"url:a"}, "3": {"url:a"}})
    assert g[0] == g[1] and g[2] == g[3] and g[0] != g[2]


def test_contrastive_pairs_share_a_side(tmp_path: Path) -> None:
    """Both members of a contrastive pair (a `pair` field naming the other id) are one group, on one side."""
    rows, sources = grounded_rows(12)
    for k in range(0, 12, 2):  # pair category 0's message k with category 1's message k+1 (different sources)
        a, b = rows[k], rows[12 + k + 1]
        a["pair"], b["pair"] = b["id"], a["id"]
    write_grounded(tmp_path, rows, sources)
    provenance = read_provenance(tmp_path)
    assert provenance["g0-000"] & provenance["g1-001"]
    examples = load_grounded(tmp_path)
    split = assign(examples, Split(), provenance)
    for k in range(0, 12, 2):
        assert split.side(f"g0-{k:03d}") == split.side(f"g1-{k + 1:03d}")


def test_the_committed_split_places_every_grounded_message() -> None:
    """Every grounded message of the repository has a side in the committed split (run `phananh split` after adding some)."""
    examples = load_grounded(settled=False)
    split = read_split()
    assert examples, "no grounded corpus"
    assert [e.id for e in examples if split.side(e.id) is None] == []
    test_share = Counter(e.label for e in examples if e.id in split.test)
    for c, n in Counter(e.label for e in examples).items():
        assert 0.25 <= test_share[c] / n <= 0.42, (c, test_share[c], n)


def test_every_labelled_grounded_file_is_read(tmp_path: Path) -> None:
    """Grounded messages in any labelled file (cat*, pairs_*) are read; the second reader's files are not."""
    (tmp_path / "cat1.jsonl").write_text('{"id": "g-1-1", "text": "một", "label": 1, "pair": "g-5-9"}\n', "utf-8")
    (tmp_path / "pairs_1v5.jsonl").write_text('{"id": "g-5-9", "text": "hai", "label": 5, "pair": "g-1-1"}\n', "utf-8")
    (tmp_path / "unlabelled_0-4.jsonl").write_text('{"id": "g-1-1", "text": "một"}\n', "utf-8")
    (tmp_path / "second_reader.jsonl").write_text('{"id": "g-1-1", "label": 1}\n', "utf-8")
    assert [e.id for e in load_grounded(tmp_path, settled=False)] == ["g-1-1", "g-5-9"]
    provenance = read_provenance(tmp_path)
    assert provenance["g-1-1"] == provenance["g-5-9"] != set()
