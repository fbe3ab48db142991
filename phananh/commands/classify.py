"""Commands for the category classifier: train it, evaluate it, classify messages."""

from __future__ import annotations

import json
import sys
import time
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
        },
        ensure_ascii=False,
    )


def _suggestion_text(suggestion: Suggestion, lang: str) -> str:
    """A human-readable line for one suggestion."""
    _ = translator(lang)._
    ranked = ", ".join(f"{c} {_(CATEGORIES[c].short)} ({p:.2f})" for c, p in suggestion.top)
    terms = ", ".join(suggestion.terms) or "-"
    return _("{ranked} | terms: {terms}", ranked=ranked, terms=terms)


def train(
    with_corrections: Annotated[
        bool, typer.Option("--with-corrections", help="Also learn from staff's category corrections.")
    ] = False,
) -> None:
    """Train the classifier on the corpus (and staff corrections) and save the artifact."""
    from intake.classify import reset_classifier
    from intake.classify.corpus import CORPUS_DIR, load_corpus, load_testset
    from intake.classify.training import default_model_path, stamp, train_from_corpus

    path = default_model_path()
    started = time.perf_counter()
    if with_corrections:
        # Imported here: the database layer is needed only for this option.
        from intake.corrections import iter_corrections

        from intake.classify.evaluation import with_corrections as retrain
        from intake.db import session_scope

        with session_scope() as session:
            corrections = list(iter_corrections(session))
        model, report = retrain(load_corpus(), corrections, load_testset())
        stamp(model, CORPUS_DIR)
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
) -> None:
    """Evaluate the classifier and the keyword baseline: held-out split, cross-validation, test set."""
    from intake.classify.corpus import load_corpus, load_testset
    from intake.classify.evaluation import counts_report, cross_validate, holdout, independent
    from intake.classify.training import DEFAULT_CONFIG, featurize

    corpus, testset = load_corpus(), load_testset()
    if not corpus:
        typer.echo("no corpus to evaluate on", err=True)
        raise typer.Exit(1)
    typer.echo(counts_report(corpus, testset))
    data = featurize([e.text for e in corpus], [e.label for e in corpus], DEFAULT_CONFIG.features)
    typer.echo(holdout(corpus, data).report())
    typer.echo(cross_validate(corpus, data, folds=folds).report())
    if testset:
        typer.echo(independent(corpus, data, testset).report())


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
    """Adds train, eval and classify to the CLI."""
    app.command("train")(train)
    app.command("eval")(evaluate)
    app.command("classify")(classify)
