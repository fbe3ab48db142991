"""Commands for the category classifier: train it, evaluate it, classify messages."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from intake.categories import CATEGORIES
from intake.classify import EmptyTextError, Suggestion
from intake.i18n import N_, translator

EMPTY_TEXT = N_("There is no text to classify.")


def _suggestion_json(suggestion: Suggestion) -> str:
    """The CLI's JSON line for one suggestion."""
    return json.dumps(
        {
            "category": suggestion.category,
            "scores": {str(c): round(p, 4) for c, p in sorted(suggestion.scores.items())},
            "top": [[c, round(p, 4)] for c, p in suggestion.top],
            "terms": suggestion.terms,
            "secondary": suggestion.secondary,
        },
        ensure_ascii=False,
    )


def _suggestion_text(suggestion: Suggestion, lang: str) -> str:
    """A human-readable line for one suggestion."""
    _ = translator(lang)._
    ranked = ", ".join(f"{c} {_(CATEGORIES[c].short)} ({p:.2f})" for c, p in suggestion.top)
    terms = ", ".join(suggestion.terms) or "-"
    if suggestion.secondary is not None:
        secondary = f"{suggestion.secondary} {_(CATEGORIES[suggestion.secondary].short)}"
        return _("{ranked} | also: {secondary} | terms: {terms}", ranked=ranked, secondary=secondary, terms=terms)
    return _("{ranked} | terms: {terms}", ranked=ranked, terms=terms)


def train(
    with_corrections: Annotated[
        bool, typer.Option("--with-corrections", help="Also learn from staff's category corrections.")
    ] = False,
) -> None:
    """Train the classifier on the corpora's training side (and staff corrections) and save the artifact."""
    from intake.classify import reset_classifier
    from intake.classify.corpus import load_testset
    from intake.classify.training import default_model_path, stamp, train_from_corpus, training_set

    path = default_model_path()
    started = time.perf_counter()
    if with_corrections:
        # Imported here: the database layer is needed only for this option.
        from intake.classify.evaluation import with_corrections as retrain
        from intake.corrections import iter_corrections
        from intake.db import session_scope

        with session_scope() as session:
            corrections = list(iter_corrections(session))
        tset = training_set()
        tests = [("grounded test split", tset.grounded_test), ("synthetic test set", load_testset())]
        model, report = retrain(tset.examples, corrections, tests)
        stamp(model)
        typer.echo(report)
    else:
        model = train_from_corpus()
    model.save(path)
    reset_classifier()
    typer.echo(
        f"trained on {model.meta['n_examples']} examples ({model.meta.get('corrections', 0)} corrections), "
        f"{len(model.space.features)} features, in {time.perf_counter() - started:.1f} s; saved to {path}"
    )


def evaluate(
    folds: Annotated[int, typer.Option(min=2, max=20, help="Number of cross-validation folds.")] = 5,
    cv: Annotated[bool, typer.Option(help="Cross-validate on the training side.")] = True,
    corrections: Annotated[bool, typer.Option(help="Simulate 200 staff corrections.")] = True,
) -> None:
    """Evaluate the classifier on both test sets, per category, beside the keyword baseline."""
    from intake.classify.agreement import agreement
    from intake.classify.corpus import (
        load_corpus,
        load_grounded,
        load_testset,
        read_second_reader,
        second_reader_path,
    )
    from intake.classify.evaluation import counts_report, cross_validate, on_test_set, training_data
    from intake.classify.simulation import N_CORRECTIONS, scenarios
    from intake.classify.split import read_provenance
    from intake.classify.training import DEFAULT_CONFIG, default_model_path, load_or_train, training_set

    tset, testset = training_set(), load_testset()
    if not tset.examples:
        typer.echo("no corpus to evaluate on", err=True)
        raise typer.Exit(1)
    grounded_train = [e for e in tset.examples if e.origin == "grounded"]
    typer.echo(counts_report(load_corpus(), grounded_train, tset.grounded_test, testset))
    if tset.unassigned:
        typer.echo(f"{tset.unassigned} grounded messages are in no side of the split: run `phananh split`")
    if tset.dropped_near_copies:
        typer.echo(f"{tset.dropped_near_copies} synthetic messages left out of training as near-copies of test messages")
    path = default_model_path()
    model = load_or_train(path)
    typer.echo(f"model: {path}, trained on {model.meta['n_examples']} examples "
               f"({model.meta.get('corrections', 0)} staff corrections)")
    if tset.grounded_test:
        typer.echo(on_test_set("grounded test split", model, tset.grounded_test).report())
    if testset:
        typer.echo(on_test_set("synthetic independent test set", model, testset).report())
    provenance = read_provenance()
    if cv:
        data = training_data(tset.examples, DEFAULT_CONFIG)
        if (result := cross_validate(tset.examples, data, provenance, DEFAULT_CONFIG, folds)) is not None:
            typer.echo(result.report())
    if corrections and grounded_train and tset.grounded_test:
        typer.echo(f"== {N_CORRECTIONS} staff corrections, simulated on grounded training messages; "
                   "scored on the grounded test split ==")
        for run in scenarios(tset.examples, tset.grounded_test, provenance):
            typer.echo(run.report())
    second = read_second_reader(second_reader_path())
    typer.echo("== agreement of the two readers of the grounded corpus ==")
    if second:
        typer.echo(agreement(load_grounded(settled=False), second).report())
    else:
        typer.echo("no second reading yet")


def split(
    check: Annotated[bool, typer.Option("--check", help="Only report; fail when a message has no side.")] = False,
    grounded_dir: Annotated[Path | None, typer.Option(help="The grounded corpus directory.")] = None,
) -> None:
    """Give new grounded messages a side of the fixed train/test split (sides already given never change)."""
    from intake.classify.corpus import GROUNDED_DIR, label_counts, load_grounded
    from intake.classify.split import assign, read_provenance, read_split, sides, split_path, write_split

    where = grounded_dir or GROUNDED_DIR
    examples = load_grounded(where, settled=False)
    current = read_split(split_path(where))
    unknown = [e for e in examples if current.side(e.id) is None]
    if check:
        typer.echo(f"{len(examples)} grounded messages, {len(unknown)} without a side")
        raise typer.Exit(1 if unknown else 0)
    updated = assign(examples, current, read_provenance(where)) if unknown else current
    if unknown:
        write_split(updated, split_path(where))
    both = sides(examples, updated)
    train_counts, test_counts = label_counts(both.train), label_counts(both.test)
    typer.echo(f"placed {len(unknown)} new messages; train {len(both.train)}, test {len(both.test)}, "
               f"excluded {len(updated.excluded)}")
    typer.echo("cat  train  test")
    for c in range(len(train_counts)):
        typer.echo(f"{c:>3}  {train_counts[c]:5d}  {test_counts[c]:4d}")


def classify(
    texts: Annotated[list[str] | None, typer.Argument(help="Messages; without any, one per line of stdin.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per message.")] = False,
    lang: Annotated[str, typer.Option(help="Language of the human-readable output.")] = "vi",
) -> None:
    """Suggest categories for messages: scores for every category, the top three, and the terms."""
    from intake.classify import get_classifier

    classifier = get_classifier()
    failed = False
    messages = texts if texts else (line.rstrip("\r\n") for line in sys.stdin)
    for message in messages:
        try:
            suggestion = classifier.suggest(message)
        except EmptyTextError:
            failed = True
            if as_json:
                typer.echo(json.dumps({"error": EMPTY_TEXT, "code": "empty_text"}))
            else:
                typer.echo(translator(lang)._(EMPTY_TEXT), err=True)
            continue
        typer.echo(_suggestion_json(suggestion) if as_json else _suggestion_text(suggestion, lang))
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Adds train, eval, split and classify to the CLI."""
    app.command("train")(train)
    app.command("eval")(evaluate)
    app.command("split")(split)
    app.command("classify")(classify)
