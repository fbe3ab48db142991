"""The model's choices (weights, estimators, the secondary category), its evaluation, selection, corrections and agreement."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from intake.classify.agreement import agreement, kappa
from intake.classify.corpus import (
    GROUNDED,
    SYNTHETIC,
    Example,
    Reading,
    load_corpus,
    load_grounded,
    load_testset,
    read_second_reader,
    second_reader_path,
    settle,
)
from intake.classify.evaluation import (
    Metrics,
    cross_validate,
    decide,
    grounded_folds,
    training_data,
    with_zero_bias,
)
from intake.classify.model import secondary_of
from intake.classify.selection import ZERO_BIASES, Outcome, search, secondary_f1, tune
from intake.classify.simulation import simulate
from intake.classify.training import (
    CORRECTION,
    CORRECTION_WEIGHT,
    DEFAULT_CONFIG,
    TrainConfig,
    _class_weighted,
    data_files,
    is_fresh,
    sample_weight,
    stamp,
    train,
)


@pytest.fixture(scope="module")
def small_mixed() -> tuple[list[Example], list[Example], dict[str, set[str]]]:
    """Synthetic training messages (25 a category) and grounded-like ones (the synthetic test set, with ids and sources)."""
    rng = random.Random(11)
    corpus = load_corpus()
    synthetic = [e for c in range(10) for e in rng.sample([x for x in corpus if x.label == c], 25)]
    grounded = [
        Example(e.text, e.label, e.also, id=f"t{i}", origin=GROUNDED)
        for i, e in enumerate(load_testset())
    ]
    provenance = {e.id: {f"url:case-{i // 2}"} for i, e in enumerate(grounded)}
    return synthetic, grounded, provenance


def test_secondary_is_second_ranked_report_above_threshold() -> None:
    """The secondary category is the runner-up when likely enough; never 0, never beside a 0."""
    probs = np.array([0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.6, 0.3, 0.05])
    order = [7, 8, 0, 9, 1, 2, 3, 4, 5, 6]
    assert secondary_of(probs, order, 0.25) == 8
    assert secondary_of(probs, order, 0.35) is None
    assert secondary_of(probs, [7, 0, 8], 0.0) is None
    assert secondary_of(probs, [0, 7, 8], 0.0) is None


def test_suggestion_carries_the_secondary_category(small_mixed: tuple[list[Example], list[Example], dict[str, set[str]]]) -> None:
    """A model with a low secondary threshold names a second category; with threshold 1 it names none."""
    synthetic, _, _ = small_mixed
    text = "Chủ tịch xã ăn chặn tiền hỗ trợ lũ lụt của dân, tối nào cũng đánh bạc ăn tiền ở nhà văn hóa"
    eager = train(synthetic, config=TrainConfig(secondary_threshold=0.0)).suggest(text)
    assert eager.secondary is not None and eager.secondary not in (0, eager.category)
    assert eager.secondary == eager.top[1][0]
    assert train(synthetic, config=TrainConfig(secondary_threshold=1.01)).suggest(text).secondary is None


def test_balanced_class_weights_give_every_class_the_same_total() -> None:
    """With balanced class weights each present class weighs the same; otherwise weights are untouched."""
    labels = np.array([0, 0, 0, 0, 1, 2, 2])
    weights = np.array([1.0, 1.0, 1.0, 0.5, 2.0, 1.0, 1.0])
    balanced = _class_weighted(labels, weights, TrainConfig(class_weight="balanced"))
    totals = np.bincount(labels, weights=balanced)
    assert np.allclose(totals, totals[0])
    assert np.isclose(balanced.sum(), weights.sum())
    assert np.array_equal(_class_weighted(labels, weights, TrainConfig()), weights)


def test_weights_by_origin() -> None:
    """A synthetic message weighs synthetic_weight, a grounded one 1, a staff correction CORRECTION_WEIGHT."""
    config = TrainConfig(synthetic_weight=0.4)
    assert sample_weight(Example("a", 1), config) == 0.4
    assert sample_weight(Example("a", 1, id="g", origin=GROUNDED), config) == 1.0
    assert sample_weight(Example("a", 1, origin=CORRECTION), config) == CORRECTION_WEIGHT


def test_logistic_regression_trains_and_calibrates(small_mixed: tuple[list[Example], list[Example], dict[str, set[str]]]) -> None:
    """The logistic-regression candidate trains to probabilities over all ten categories."""
    synthetic, _, _ = small_mixed
    model = train(synthetic, config=TrainConfig(estimator="logreg", c=10.0))
    suggestion = model.suggest("Phó chủ tịch xã tối nào cũng đánh bạc ở nhà văn hóa thôn")
    assert suggestion.category == 9
    assert abs(sum(suggestion.scores.values()) - 1.0) < 1e-6
    assert model.meta["temperature"] > 0


def test_metrics_count_any_labelled_category() -> None:
    """A prediction in `also` is right for macro-F1 and accuracy; the first-label figures count it wrong."""
    examples = [Example("a", 7, (8,)), Example("b", 8), Example("c", 0), Example("d", 0)]
    rankings = [[8, 7, 0], [8, 7, 0], [0, 5, 7], [5, 0, 7]]
    full = [r + [c for c in range(10) if c not in r] for r in rankings]
    m = Metrics.compute(examples, full, [7, None, None, None])
    assert m.accuracy == 0.75 and m.strict_accuracy == 0.5
    assert m.f1[8] == 1.0 and m.strict_f1[7] == 0.0
    assert m.macro_f1 == pytest.approx((1.0 + 2 / 3 + 0.0) / 3)
    assert m.recall[0] == 0.5 and m.top3 == 1.0
    assert m.secondary_given == 1 and m.secondary_right == 1 and m.also_found == 1 and m.with_also == 1
    assert m.pairs() == [(0, 5, 1, 0)]
    assert "0/5 1" in m.table()


def test_zero_bias_after_the_fact_matches_the_model() -> None:
    """Adding the bias to probabilities afterwards moves them as the trained model's bias on 0's log-odds does."""
    z = np.array([[1.0, 2.0, 0.5] + [0.0] * 7])
    p = np.exp(z) / np.exp(z).sum()
    z[0, 0] += 0.75
    assert np.allclose(with_zero_bias(p, 0.75), np.exp(z) / np.exp(z).sum())


def test_tuning_keeps_recall_of_zero() -> None:
    """The chosen bias is the best macro-F1 among those keeping recall of 0 at 0.96 or more."""
    held = [Example("x", 0)] * 50 + [Example("y", 5)] * 50
    probabilities = np.zeros((100, 10))
    probabilities[:50, 0], probabilities[:50, 5] = 0.45, 0.55  # zeros taken for 5 unless 0 gets more than ln(0.55/0.45)
    probabilities[50:, 0], probabilities[50:, 5] = 0.3, 0.7  # reports stay 5 up to ln(0.7/0.3)
    bias, threshold, metrics, _ = tune(held, probabilities)
    assert (bias, metrics.recall[0], metrics.macro_f1) == (0.25, 1.0, 1.0)
    assert 0.0 < threshold <= 1.0
    unbiased = Metrics.compute(held, decide(probabilities, 1.0).rankings)
    assert unbiased.recall[0] == 0.0


def test_grounded_folds_hold_out_grounded_rows_by_source(small_mixed: tuple[list[Example], list[Example], dict[str, set[str]]]) -> None:
    """Cross-validation folds take only grounded rows, each exactly once, with same-source messages together."""
    synthetic, grounded, provenance = small_mixed
    examples = synthetic + grounded
    folds = grounded_folds(examples, provenance)
    rows = sorted(int(i) for f in folds for i in f)
    assert rows == list(range(len(synthetic), len(examples)))
    fold_of = {examples[int(i)].id: k for k, f in enumerate(folds) for i in f}
    for e in grounded:
        mates = [m for m in grounded if provenance[m.id] == provenance[e.id]]
        assert {fold_of[m.id] for m in mates} == {fold_of[e.id]}


def test_selection_scores_candidates_on_the_training_side(small_mixed: tuple[list[Example], list[Example], dict[str, set[str]]]) -> None:
    """The search cross-validates each candidate on grounded training rows and returns the best with tuned bias."""
    synthetic, grounded, provenance = small_mixed
    examples = synthetic + grounded[:150]
    seen: list[str] = []

    def stage(base: TrainConfig) -> list[tuple[str, TrainConfig]]:
        return [("svm", base), ("svm, synthetic x0.5", TrainConfig(synthetic_weight=0.5))]

    best = search(examples, provenance, stages=[("one", stage)], out=seen.append)
    assert isinstance(best, Outcome)
    assert best.metrics.n == 150
    assert best.metrics.macro_f1 > 0.5
    assert best.config.zero_bias in ZERO_BIASES
    assert sum(line.startswith("svm") for line in seen) == 2
    assert 0.0 <= secondary_f1(best.metrics) <= 1.0


def test_cross_validation_ranks_each_grounded_message_unseen(small_mixed: tuple[list[Example], list[Example], dict[str, set[str]]]) -> None:
    """Cross-validation on the training side scores every grounded message once, above chance and the keywords."""
    synthetic, grounded, provenance = small_mixed
    examples = synthetic + grounded[:100]
    result = cross_validate(examples, training_data(examples), provenance, folds=3)
    assert result is not None
    assert result.model.n == 100
    assert result.model.macro_f1 > 0.4
    assert result.model.macro_f1 > result.baseline.macro_f1


def test_corrections_simulation_corrects_only_wrong_suggestions(small_mixed: tuple[list[Example], list[Example], dict[str, set[str]]]) -> None:
    """Staff correct the messages the deployed model got wrong, at most n; both models are scored on the test set."""
    synthetic, grounded, _ = small_mixed
    pool, test = grounded[:200], grounded[200:]
    run = simulate("t", synthetic, pool, test, n=15)
    assert run.corrections == 15 and run.seen <= len(pool)
    assert run.before.n == run.after.n == len(test)
    assert run.base == len(synthetic)
    assert "gain in macro-F1" in run.report()


def test_corrections_simulation_stops_when_the_pool_runs_out(small_mixed: tuple[list[Example], list[Example], dict[str, set[str]]]) -> None:
    """With fewer wrong suggestions than asked, staff read the whole pool and correct what was wrong."""
    synthetic, grounded, _ = small_mixed
    run = simulate("t", synthetic, grounded[:20], grounded[200:260], n=200)
    assert run.seen == 20 and run.corrections < 20


def test_kappa_on_known_labels() -> None:
    """Cohen's kappa: 1 for full agreement, 0 for chance agreement, the textbook value in between."""
    assert kappa([1, 2, 3, 1], [1, 2, 3, 1]) == pytest.approx(1.0)
    # 2x2 table [[20, 5], [10, 15]]: po = 0.7, pe = 0.5 -> kappa 0.4
    a = [1] * 25 + [2] * 25
    b = [1] * 20 + [2] * 5 + [1] * 10 + [2] * 15
    assert kappa(a, b) == pytest.approx(0.4)
    assert np.isnan(kappa([1, 1], [1, 1]))


def test_agreement_per_category_and_pairs() -> None:
    """Agreement counts messages read by both, per-category kappa and the pairs the readers split on."""
    first = [Example("a", 7, id="1"), Example("b", 8, id="2"), Example("c", 0, id="3"), Example("d", 5, id="4")]
    second = {"1": Reading(8, (7,)), "2": Reading(8), "3": Reading(0)}
    result = agreement(first, second)
    assert result.n == 3 and result.missing == 1
    assert result.observed == pytest.approx(2 / 3)
    assert result.lenient == pytest.approx(2 / 3)  # 1: 8 is not among the first reader's accepted categories
    assert dict((c, k) for c, _, _, k in result.per_category)[0] == pytest.approx(1.0)
    assert "7/8 1 (7->8 1, 8->7 0)" in result.report()


def test_settling_rule() -> None:
    """Same category stays; a report beats 0; otherwise the first reader's stays first and the second's joins also."""
    e = Example("t", 7, (9,), id="1", origin=GROUNDED)
    assert settle(e, None) == e
    assert settle(e, Reading(7, (5,))).also == (5, 9)
    assert settle(e, Reading(8)) == Example("t", 7, (8, 9), id="1", origin=GROUNDED)
    assert settle(Example("t", 0, id="2"), Reading(5)).label == 5
    assert settle(Example("t", 0, id="2"), Reading(5)).also == ()
    assert settle(Example("t", 5, id="2"), Reading(0)) == Example("t", 5, (), id="2")


def test_second_reading_is_settled_on_load_and_makes_the_model_stale(
    tmp_path: Path, small_mixed: tuple[list[Example], list[Example], dict[str, set[str]]]
) -> None:
    """A second reader's file changes loaded labels by the rule, and a model trained before it is stale."""
    (tmp_path / "cat7.jsonl").write_text(
        '{"id": "a", "text": "cán bộ xã nhận tiền của dân để làm sổ đỏ nhanh", "label": 7}\n'
        '{"id": "b", "text": "đường làng có ổ gà to, xin sửa giúp", "label": 0}\n',
        encoding="utf-8",
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "c.jsonl").write_text('{"text": "chủ tịch xã đánh bạc", "label": 9}\n', encoding="utf-8")
    model = stamp(train(small_mixed[0][:60]), corpus, DEFAULT_CONFIG, tmp_path)
    assert is_fresh(model, corpus, DEFAULT_CONFIG, tmp_path)
    second_reader_path(tmp_path).write_text(
        '{"id": "a", "label": 8, "also": []}\n{"id": "b", "label": 0}\nnot json\n{"id": "c", "label": 42}\n',
        encoding="utf-8",
    )
    assert set(read_second_reader(second_reader_path(tmp_path))) == {"a", "b"}
    settled = {e.id: e for e in load_grounded(tmp_path)}
    assert settled["a"].label == 7 and settled["a"].also == (8,)
    assert {e.id: e.also for e in load_grounded(tmp_path, settled=False)}["a"] == ()
    assert second_reader_path(tmp_path) in data_files(corpus, tmp_path)
    assert not is_fresh(model, corpus, DEFAULT_CONFIG, tmp_path)


def test_decide_uses_the_model_rule() -> None:
    """Rankings from probabilities put the likeliest first and give the secondary by the threshold."""
    p = np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.55, 0.4, 0.05]])
    answers = decide(p, 0.3)
    assert answers.rankings[0][:2] == [7, 8] and answers.secondaries == [8]


def test_grounded_data_files_are_json_lines_with_ids() -> None:
    """Every grounded line carries an id, a text and a category, and ids are unique across files."""
    from intake.classify.corpus import grounded_files

    ids: list[str] = []
    for path in grounded_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            assert row["id"] and row["text"].strip() and 0 <= int(row["label"]) <= 9
            ids.append(str(row["id"]))
    assert len(ids) == len(set(ids))
    assert all(e.origin == SYNTHETIC for e in load_corpus()[:3])


def test_nb_scaled_svm_folds_its_scaling_into_the_weights(small_mixed: tuple[list[Example], list[Example], dict[str, set[str]]]) -> None:
    """The NB-scaled SVM's margins are plain weights times features, and it trains a usable model."""
    from scipy import sparse
    from sklearn.svm import LinearSVC

    from intake.classify.features import FeatureSpace
    from intake.classify.training import NBLinearSVC

    synthetic, _, _ = small_mixed
    data = training_data(synthetic, TrainConfig(synthetic_weight=1.0))
    space = FeatureSpace.fit(data.counts, DEFAULT_CONFIG.features)
    x = space.matrix(data.counts)
    nb = NBLinearSVC(c=0.5, max_iter=5000).fit(x, data.labels, data.weights)
    assert nb.coef_.shape == (10, len(space.features))
    # Category 9 by hand: the ratio-scaled features through a binary SVM give the same margins.
    present = (x > 0).astype(float)
    mine = (data.labels == 9).astype(float)
    p, q = 1 + present.T @ mine, 1 + present.T @ (1 - mine)
    ratio = np.log((p / p.sum()) / (q / q.sum()))
    svm = LinearSVC(C=0.5, max_iter=5000, random_state=1729).fit(x @ sparse.diags(ratio), mine.astype(int))
    assert np.allclose(x @ nb.coef_[9] + nb.intercept_[9], svm.decision_function(x @ sparse.diags(ratio)), atol=1e-6)
    model = train(synthetic, config=TrainConfig(estimator="nbsvm"))
    assert model.suggest("Phó chủ tịch xã tối nào cũng đánh bạc ở nhà văn hóa thôn").category == 9


def test_the_artifact_s_folder_is_its_owner_s_only(tmp_path: Path) -> None:
    """var/models is made like the rest of var/: 0700 under the usual umask (a re-test found it 0755)."""
    import os
    import stat

    from intake.classify.training import train

    model = train(load_corpus()[::80])
    previous = os.umask(0o022)
    try:
        model.save(tmp_path / "var" / "models" / "classifier.npz")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "var" / "models").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
