"""Learning from staff, simulated: 200 corrections of grounded messages, and what they gain on the test split.

Staff see a real message with the deployed model's suggestion and change the category when the
suggestion is none of the message's labelled categories: that change is a correction. The
simulation replays this on grounded training messages the deployed model did not learn from, in a
seeded order, until staff have made 200 corrections. It then retrains as `phananh train
--with-corrections` does (each correction's text redacted, each weighted CORRECTION_WEIGHT) and
scores both models on the grounded test split, which neither has seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from intake.classify.corpus import GROUNDED, SEED, SYNTHETIC, Example
from intake.classify.evaluation import Metrics, grounded_folds, predict, predict_examples, training_data
from intake.classify.training import CORRECTION, DEFAULT_CONFIG, TrainConfig, fit, join
from intake.redaction import redact

N_CORRECTIONS = 200


@dataclass(frozen=True)
class Simulation:
    """One run: what the model learned from before, how many messages staff read, and both models' scores."""

    name: str
    base: int
    pool: int
    seen: int
    corrections: int
    before: Metrics
    after: Metrics

    def report(self) -> str:
        """A printable section."""
        gain = self.after.macro_f1 - self.before.macro_f1
        return "\n".join(
            [
                f"-- {self.name} --",
                f"trained on {self.base} examples; staff read {self.seen} of {self.pool} messages "
                f"and made {self.corrections} corrections",
                f"before: {self.before.summary()}",
                f"after:  {self.after.summary()}",
                f"gain in macro-F1: {gain:+.3f}; top-3 {self.after.top3 - self.before.top3:+.3f}; "
                f"recall(0) {self.after.recall[0] - self.before.recall[0]:+.3f}",
                "F1 per category, before -> after: "
                + ", ".join(
                    f"{c}: {b:.2f}->{a:.2f}"
                    for c, (b, a) in enumerate(zip(self.before.f1, self.after.f1, strict=True))
                    if self.after.support[c]
                ),
            ]
        )


def simulate(
    name: str,
    base: Sequence[Example],
    pool: Sequence[Example],
    test: Sequence[Example],
    n: int = N_CORRECTIONS,
    config: TrainConfig = DEFAULT_CONFIG,
    seed: int = SEED,
) -> Simulation:
    """Staff correct the model trained on `base` over `pool` until `n` corrections; both models scored on `test`."""
    base_data = training_data(base, config)
    before = fit(base_data, np.arange(len(base)), config)
    pool_data = training_data(pool, config)
    order = np.random.default_rng(seed).permutation(len(pool))
    suggested = predict(before, pool_data, order).rankings
    fixes: list[Example] = []
    seen = 0
    for row, ranking in zip(order, suggested, strict=True):
        if len(fixes) >= n:
            break
        seen += 1
        example = pool[int(row)]
        if ranking[0] not in {example.label, *example.also}:
            # What `iter_corrections` hands to training: the text without identity, the category staff chose.
            fixes.append(Example(text=redact(example.text), label=example.label, origin=CORRECTION))
    fix_data = training_data(fixes, config)
    after = fit(join(base_data, fix_data), np.arange(len(base) + len(fixes)), config)
    before_answers, after_answers = predict_examples(before, test), predict_examples(after, test)
    return Simulation(
        name=name,
        base=len(base),
        pool=len(pool),
        seen=seen,
        corrections=len(fixes),
        before=Metrics.compute(test, before_answers.rankings, before_answers.secondaries),
        after=Metrics.compute(test, after_answers.rankings, after_answers.secondaries),
    )


def scenarios(
    training: Sequence[Example],
    test: Sequence[Example],
    provenance: Mapping[str, Iterable[str]],
    n: int = N_CORRECTIONS,
    config: TrainConfig = DEFAULT_CONFIG,
) -> list[Simulation]:
    """Two deployments: before any grounded data, and with half of the grounded training side.

    In the first, the model knows only the synthetic corpus and staff correct it on the grounded
    training messages. In the second, it learned from one half of them (whole source groups) and
    staff correct it on the other half.
    """
    synthetic = [e for e in training if e.origin == SYNTHETIC]
    grounded = [e for e in training if e.origin == GROUNDED]
    runs = [simulate("deployed on the synthetic corpus alone", synthetic, grounded, test, n, config)]
    halves = grounded_folds(grounded, provenance, folds=2)
    if halves:
        learned = [grounded[i] for i in halves[0]]
        pool = [grounded[i] for i in halves[1]]
        runs.append(
            simulate(
                "deployed on the synthetic corpus and half of the grounded training side",
                [*synthetic, *learned],
                pool,
                test,
                n,
                config,
            )
        )
    return runs
