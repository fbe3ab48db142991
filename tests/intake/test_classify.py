"""The category classifier: CLI contract, bad input, scores and ranking, terms, training and evaluation."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from intake.classify import EmptyTextError, get_classifier, reset_classifier
from intake.classify.corpus import Example, load_corpus, read_jsonl, stratified_folds
from intake.classify.evaluation import Metrics, with_corrections
from intake.classify.keywords import KeywordClassifier
from intake.classify.model import LinearTextModel
from intake.classify.text import fold, prepare
from intake.classify.training import load_or_train, train
from intake.config import get_settings
from phananh.commands.classify import register


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Trains the real model on the real corpus once, into a temporary artifact the CLI then uses."""
    path = tmp_path_factory.mktemp("models") / "classifier.npz"
    mp = pytest.MonkeyPatch()
    mp.setenv("PHANANH_CLASSIFIER_MODEL_PATH", str(path))
    get_settings.cache_clear()
    reset_classifier()
    get_classifier()
    yield path
    mp.undo()
    get_settings.cache_clear()
    reset_classifier()


@pytest.fixture(scope="session")
def small_corpus() -> list[Example]:
    """Thirty examples per category from the corpus, for quick trainings."""
    examples = load_corpus()
    rng = random.Random(7)
    picked: list[Example] = []
    for c in range(10):
        of_c = [e for e in examples if e.label == c]
        picked.extend(rng.sample(of_c, min(30, len(of_c))))
    return picked


def _cli(args: list[str], stdin: str | None = None) -> tuple[int, list[str]]:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Keeps the subcommands as subcommands."""

    result = CliRunner().invoke(app, args, input=stdin)
    return result.exit_code, [line for line in result.stdout.splitlines() if line.strip()]


def test_cli_json_contract(model_path: Path) -> None:
    """`classify --json TEXT` prints category, all ten scores, the ranked top three, the terms and the secondary category."""
    code, lines = _cli(["classify", "--json", "Chủ tịch xã đòi 20 triệu mới cấp sổ đỏ cho nhà tôi"])
    assert code == 0
    out = json.loads(lines[0])
    assert set(out) == {"category", "scores", "top", "terms", "secondary"}
    assert out["secondary"] is None or out["secondary"] not in (0, out["category"])
    assert set(out["scores"]) == {str(c) for c in range(10)}
    assert abs(sum(out["scores"].values()) - 1.0) < 1e-3
    assert len(out["top"]) == 3
    assert out["top"][0][0] == out["category"]
    assert [p for _, p in out["top"]] == sorted((p for _, p in out["top"]), reverse=True)
    assert out["top"][0][1] == max(out["scores"].values())
    assert all(isinstance(t, str) and t for t in out["terms"])


def test_cli_reads_stdin_and_reports_empty_lines(model_path: Path) -> None:
    """Without TEXT one message per stdin line; an empty line gives an error object, not a crash."""
    code, lines = _cli(["classify", "--json"], stdin="cán bộ xã đánh bạc\n\nđường trước nhà có ổ gà\n")
    objects = [json.loads(line) for line in lines]
    assert len(objects) == 3
    assert "category" in objects[0] and "category" in objects[2]
    assert "empty" in objects[1]["error"].lower() or "no text" in objects[1]["error"].lower()
    assert code == 1


def test_empty_text_raises_a_clear_error(model_path: Path) -> None:
    """Empty or blank text raises EmptyTextError from the classifier and from the baseline."""
    for text in ("", "   \n\t", "\x00\x01"):
        with pytest.raises(EmptyTextError):
            get_classifier().suggest(text)
        with pytest.raises(EmptyTextError):
            KeywordClassifier().suggest(text)


def test_huge_text_is_classified_on_a_prefix(model_path: Path) -> None:
    """A 100,000-character message is classified (on a bounded prefix) quickly."""
    import time

    text = ("Cán bộ địa chính nhận hối lộ của dân khi làm sổ đỏ. " * 2500)[:100_000]
    started = time.perf_counter()
    suggestion = get_classifier().suggest(text)
    assert time.perf_counter() - started < 1.0
    assert suggestion.category == 7


@pytest.mark.parametrize(
    "text",
    [
        "The mayor took a bribe from the construction company last week.",
        "Bonjour, je voudrais signaler un problème avec la mairie.",
        "村长收受贿赂，请调查。",
        "asdkjh qwpoeiru zxcmvn qwe rty uiop",
        "1234567890 !!! ??? ...",
    ],
)
def test_foreign_text_is_zero_with_low_confidence(model_path: Path, text: str) -> None:
    """Text in another language or gibberish is category 0 with a confidence under the threshold."""
    suggestion = get_classifier().suggest(text)
    assert suggestion.category == 0
    assert suggestion.confidence < get_settings().classifier_threshold


def test_random_bytes_are_zero_with_low_confidence(model_path: Path) -> None:
    """Random bytes, decoded as well as they can be, are category 0 with low confidence."""
    rng = random.Random(3)
    for _ in range(5):
        text = bytes(rng.randrange(256) for _ in range(300)).decode("utf-8", errors="replace")
        suggestion = get_classifier().suggest(text)
        assert suggestion.category == 0
        assert suggestion.confidence < get_settings().classifier_threshold


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Cán bộ địa chính xã đòi 10 triệu mới chịu ký hồ sơ cấp sổ đỏ cho gia đình tôi.", 7),
        ("can bo dia chinh xa doi 10 trieu moi chiu ky ho so cap so do cho gia dinh toi", 7),
        ("Phó chủ tịch xã tối nào cũng tụ tập đánh bạc ăn tiền ở nhà văn hóa thôn.", 9),
        ("Đường trước nhà tôi có ổ gà to, trời mưa xe máy ngã liên tục, ai sửa giúp với.", 0),
        ("Xin chào, cho tôi hỏi thủ tục làm căn cước công dân cần những giấy tờ gì?", 0),
    ],
)
def test_clear_examples(model_path: Path, text: str, category: int) -> None:
    """Unambiguous messages, with or without diacritics, get their category first."""
    assert get_classifier().suggest(text).category == category


def test_scores_rank_every_category(model_path: Path) -> None:
    """Scores cover 0-9, are probabilities summing to 1, and `top` is their ranking."""
    suggestion = get_classifier().suggest("ông trưởng thôn cho con trai vào làm ở ủy ban mà không thi tuyển")
    assert set(suggestion.scores) == set(range(10))
    assert all(0.0 <= p <= 1.0 for p in suggestion.scores.values())
    assert abs(sum(suggestion.scores.values()) - 1.0) < 1e-6
    ranked = sorted(suggestion.scores, key=lambda c: -suggestion.scores[c])
    assert [c for c, _ in suggestion.top] == ranked[:3]
    assert suggestion.confidence == suggestion.scores[suggestion.category]


def test_terms_are_words_of_the_message(model_path: Path) -> None:
    """Terms are phrases the resident wrote (not feature ids), and name what drove the suggestion."""
    text = "Chủ tịch xã đòi tiền mới cấp sổ đỏ, ai không đưa thì hồ sơ nằm đó cả năm"
    suggestion = get_classifier().suggest(text)
    folded_words = set(fold(text.lower()).replace(",", " ").split())
    assert suggestion.terms
    for term in suggestion.terms:
        assert ":" not in term and "_" not in term
        assert set(fold(term).split()) <= folded_words
    assert any("tiền" in t or "đòi" in t for t in suggestion.terms)


def test_missing_diacritics_read_like_full_ones() -> None:
    """Folded syllables are the same with and without diacritics, and shorthand is expanded."""
    full = prepare("Ông chủ tịch không được đòi tiền")
    bare = prepare("ong ct ko dc doi tien")
    assert full.folded == bare.folded


def test_artifact_round_trip(model_path: Path) -> None:
    """The saved artifact loads back to a model giving the same suggestion."""
    loaded = LinearTextModel.load(model_path)
    text = "bí thư xã kê khai tài sản không trung thực, có ba căn nhà để vợ đứng tên"
    assert loaded.suggest(text) == get_classifier().suggest(text)


def test_training_is_reproducible(small_corpus: list[Example]) -> None:
    """Training twice on the same data gives the same features and coefficients."""
    first, second = train(small_corpus), train(small_corpus)
    assert first.space.features == second.space.features
    assert np.array_equal(first.coef, second.coef)
    assert np.array_equal(first.intercept, second.intercept)


def test_corrections_are_learned(small_corpus: list[Example]) -> None:
    """Extra (text, label) pairs such as staff corrections change what the model suggests."""
    text = "con chó nhà hàng xóm sủa cả đêm"
    phrasing = [
        "con chó nhà hàng xóm sủa cả đêm không ngủ được",
        "chó nhà bên sủa suốt đêm, hàng xóm không chịu buộc",
        "hàng xóm nuôi chó sủa cả đêm",
        "nhà hàng xóm có con chó sủa rất to",
        "đêm nào chó hàng xóm cũng sủa",
    ]
    before = train(small_corpus).suggest(text)
    after = train(small_corpus, extra=[(p, 9) for p in phrasing]).suggest(text)
    assert after.scores[9] > before.scores[9]
    assert after.category == 9


def test_stale_artifact_is_retrained(tmp_path: Path, small_corpus: list[Example]) -> None:
    """A model trained on another corpus is retrained when loaded; a fresh one is kept."""
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    lines = [json.dumps({"text": e.text, "label": e.label, "also": []}, ensure_ascii=False) for e in small_corpus]
    (corpus_dir / "all.jsonl").write_text("\n".join(lines[:-10]) + "\n", encoding="utf-8")
    path = tmp_path / "m.npz"
    grounded_dir = tmp_path / "grounded"  # none: the synthetic corpus alone
    first = load_or_train(path, corpus_dir, grounded_dir=grounded_dir)
    assert load_or_train(path, corpus_dir, grounded_dir=grounded_dir).meta["trained_at"] == first.meta["trained_at"]
    (corpus_dir / "all.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    retrained = load_or_train(path, corpus_dir, grounded_dir=grounded_dir)
    assert retrained.meta["corpus"] != first.meta["corpus"]
    assert retrained.meta["n_examples"] == first.meta["n_examples"] + 10


def test_unreadable_lines_and_duplicates_are_skipped(tmp_path: Path) -> None:
    """Corpus reading drops broken JSON, bad labels, empty text and exact duplicates."""
    path = tmp_path / "c.jsonl"
    path.write_text(
        '{"text": "một", "label": 1, "also": []}\n{"text": "Một ", "label": 2}\n{"text": "x", "label": 12}\n'
        '{"text": "  ", "label": 3}\n{"text": "hai", "lab\n{"text": "ba", "label": 3, "also": [3, 5]}\n',
        encoding="utf-8",
    )
    examples = read_jsonl([path])
    assert examples == [Example("một", 1), Example("ba", 3, (5,))]


def test_metrics_on_known_predictions() -> None:
    """Metrics count a confusion matrix, per-class F1, macro-F1 and top-3 correctly."""
    examples = [Example("a", 0), Example("b", 0), Example("c", 7), Example("d", 7, (8,))]
    rankings = [[0, 7, 8], [7, 0, 8], [7, 0, 8], [8, 7, 0]]
    m = Metrics.compute(examples, [r + [c for c in range(10) if c not in r] for r in rankings])
    assert m.strict_confusion[0, 0] == 1 and m.strict_confusion[0, 7] == 1 and m.strict_confusion[7, 8] == 1
    assert m.confusion[8, 8] == 1  # 8 was also accepted for "d"
    assert m.recall[0] == 0.5 and m.precision[7] == 0.5
    assert m.strict_macro_f1 == pytest.approx((2 / 3 + 0.5) / 2)
    assert m.top3 == 1.0 and m.strict_accuracy == 0.5 and m.accuracy == m.lenient == 0.75


def test_folds_are_stratified_and_reproducible() -> None:
    """Cross-validation folds partition the rows, spread each category, and do not change between runs."""
    labels = [c for c in range(10) for _ in range(23)]
    folds = stratified_folds(labels, 5)
    assert sorted(int(i) for f in folds for i in f) == list(range(len(labels)))
    for fold_rows in folds:
        per_class = np.bincount(np.asarray(labels)[fold_rows], minlength=10)
        assert per_class.min() >= 4 and per_class.max() <= 5
    assert all(np.array_equal(a, b) for a, b in zip(folds, stratified_folds(labels, 5), strict=True))


def test_with_corrections_reports_before_and_after(small_corpus: list[Example]) -> None:
    """Retraining with corrections returns a model that has them and a before/after report on each test set."""
    corrections = [("hàng xóm nuôi chó sủa cả đêm", 9), ("chó nhà bên sủa suốt đêm", 9), ("đêm nào chó cũng sủa", 9)]
    model, report = with_corrections(small_corpus, corrections, [("some test set", small_corpus[:20])])
    assert model.meta["corrections"] == 3
    assert "== staff corrections ==" in report and "== some test set ==" in report
    assert report.count("before:") == 2 and report.count("after:") == 2


def test_keyword_baseline() -> None:
    """The baseline picks the category of its keywords, and 0 when none is found."""
    assert KeywordClassifier().suggest("cán bộ xã đánh bạc suốt đêm").category == 9
    assert KeywordClassifier().suggest("hôm nay trời đẹp quá").category == 0


_FIRST_USE_RACE = """
import threading
from intake.classify.text import prepare
barrier = threading.Barrier(8)
errors = []
def read():
    barrier.wait()
    try:
        prepare("ông chủ tịch xã đòi tiền người dân mới ký giấy tờ đất đai")
    except Exception as err:
        errors.append(type(err).__name__)
threads = [threading.Thread(target=read) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(len(errors))
"""


def test_first_tokenization_is_safe_from_several_threads() -> None:
    """Eight threads reading their first message at once in a fresh process all succeed."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _FIRST_USE_RACE], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "0", done.stderr[-2000:]


def test_eval_prints_both_test_sets_per_category(model_path: Path) -> None:
    """`phananh eval` prints the grounded test split and the synthetic test set, per category, with the confusions left."""
    code, lines = _cli(["eval", "--no-cv", "--no-corrections"])
    out = "\n".join(lines)
    assert code == 0, out
    assert "== synthetic independent test set (330 messages) ==" in out
    assert "== grounded test split (" in out
    assert out.count("cat  precision  recall     f1  f1(first)  support") == out.count("-- model --") >= 1
    assert out.count("confusions left:") >= 1
    assert "macro-F1=" in out and "top-3=" in out and "recall(0)=" in out
    assert "== agreement of the two readers of the grounded corpus ==" in out
