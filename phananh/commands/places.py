"""`phananh locate` and `phananh route`: place resolution and case routing from the command line."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from intake.config import get_settings
from intake.i18n import N_, translator
from intake.places import PlaceMatch, resolve_place
from intake.routing import RoutingRulesError, load_rules, route

_SETTINGS = ("workplace", "residence")


def register(app: typer.Typer) -> None:
    """Adds the `locate` and `route` commands to the phananh CLI."""
    app.command("locate")(locate)
    app.command("route")(route_command)


def locate(
    text: Annotated[
        str | None, typer.Argument(help="Place text; without it, one query per line of standard input.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per query.")] = False,
) -> None:
    """Reads the province and commune a text names (today's units; district-era addresses converted)."""
    queries = [text] if text is not None else [line.rstrip("\r\n") for line in sys.stdin]
    for query in queries:
        match = resolve_place(query)
        typer.echo(json.dumps(match.to_json(), ensure_ascii=False) if as_json else _describe(match))


def route_command(
    place: Annotated[str, typer.Option("--place", help="Where the accused works or lives, as free text.")],
    role: Annotated[str, typer.Option("--role", help="The accused's position, as free text.")],
    setting: Annotated[str, typer.Option("--setting", help="workplace or residence.")] = "workplace",
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    lang: Annotated[str, typer.Option("--lang", help="Language of the reasons (vi, en).")] = "vi",
) -> None:
    """Decides which Front committee receives a report, and prints why."""
    _ = translator(get_settings().default_language)._
    if setting not in _SETTINGS:
        _fail(as_json, "bad_setting", _("The setting must be “workplace” or “residence”."))
    try:
        rules = load_rules()
    except RoutingRulesError as err:
        _fail(as_json, "bad_rules", str(err))
    match = resolve_place(place)
    if match.province is None:
        if match.ambiguous:
            names = "; ".join(_candidate_name(c) for c in match.candidates)
            _fail(as_json, "place_ambiguous", _("The place is ambiguous: {candidates}.", candidates=names), match)
        _fail(as_json, "place_not_found", _("The place was not found."), match)
    assert match.province is not None
    decision = route(
        province_code=match.province.code,
        commune_code=match.commune.code if match.commune else None,
        role=role,
        setting="residence" if setting == "residence" else "workplace",
        rules=rules,
    )
    if as_json:
        typer.echo(json.dumps(decision.to_json(lang), ensure_ascii=False))
        return
    typer.echo(f"{decision.committee_name} ({decision.committee_code}, {decision.level})")
    for line in decision.reason_texts(lang):
        typer.echo(f"- {line}")
    if decision.needs_review:
        typer.echo(_("Needs review."))


def _describe(match: PlaceMatch) -> str:
    """One human-readable line for a resolution."""
    _ = translator(get_settings().default_language)._
    score = f"{match.score:.0f}"
    if match.commune is not None and match.province is not None:
        if match.legacy:
            return _(
                N_("{commune}, {province} ({code}), converted from a district-era address; score {score}"),
                commune=match.commune.name, province=match.province.name, code=match.commune.code, score=score,
            )
        return _(
            N_("{commune}, {province} ({code}); score {score}"),
            commune=match.commune.name, province=match.province.name, code=match.commune.code, score=score,
        )
    if match.ambiguous:
        names = "; ".join(_candidate_name(c) for c in match.candidates)
        return _(N_("Ambiguous, choose one: {candidates}"), candidates=names)
    if match.province is not None:
        return _(
            N_("{province} ({code}); the commune is not settled; score {score}"),
            province=match.province.name, code=match.province.code, score=score,
        )
    return _(N_("Not found."))


def _candidate_name(match: PlaceMatch) -> str:
    """'Xã Tân Phú, Đồng Nai (26116)' for a candidate."""
    if match.commune is not None and match.province is not None:
        return f"{match.commune.name}, {match.province.name} ({match.commune.code})"
    return match.province.name if match.province else ""


def _fail(as_json: bool, code: str, message: str, match: PlaceMatch | None = None) -> None:
    """Prints an error (as JSON when asked) and exits with status 1."""
    if as_json:
        payload: dict[str, Any] = {"error": code, "message": message}
        if match is not None:
            payload["place"] = match.to_json()
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        typer.echo(message, err=True)
    raise typer.Exit(code=1)
