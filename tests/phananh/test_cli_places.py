"""`phananh locate` and `phananh route`, driven through typer's test runner."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from phananh.commands.places import register


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_locate_json_for_one_text(app: typer.Typer) -> None:
    """`locate --json TEXT` prints one JSON object in the documented shape."""
    result = CliRunner().invoke(app, ["locate", "--json", "P. Bến Thành TP.HCM"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"province", "commune", "score", "candidates", "legacy"}
    assert data["province"] == {"code": "79", "name": "Thành phố Hồ Chí Minh"}
    assert data["commune"] == {"code": "26743", "name": "Phường Bến Thành"}
    assert data["legacy"] is False


def test_locate_reads_one_query_per_line_of_stdin(app: typer.Typer) -> None:
    """Without TEXT, every stdin line is a query and gets its own JSON line, blank lines included."""
    lines = "xa tan phu, dong nai\nTân Phú\n\nphuong 12 go vap\n"
    result = CliRunner().invoke(app, ["locate", "--json"], input=lines)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert len(out) == 4
    assert out[0]["commune"]["code"] == "26116"
    assert out[1]["commune"] is None and len(out[1]["candidates"]) >= 2
    assert out[2] == {"province": None, "commune": None, "score": 0.0, "candidates": [], "legacy": False}
    assert out[3]["legacy"] is True and out[3]["province"]["code"] == "79"


def test_locate_without_json_prints_a_short_line(app: typer.Typer) -> None:
    """The human-readable form is one line naming the commune, its province and its code."""
    result = CliRunner().invoke(app, ["locate", "xa tan phu, dong nai"])
    assert result.exit_code == 0
    assert len(result.output.splitlines()) == 1
    assert "Xã Tân Phú" in result.output and "Đồng Nai" in result.output and "26116" in result.output


def test_route_json(app: typer.Typer) -> None:
    """`route --json` prints the committee, the reasons and the two flags."""
    result = CliRunner().invoke(
        app, ["route", "--place", "xa tan phu, dong nai", "--role", "cán bộ địa chính", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"committee", "reasons", "escalated", "needs_review"}
    assert data["committee"] == {"code": "26116", "name": "Ủy ban MTTQ Việt Nam xã Tân Phú", "level": "commune"}
    assert data["reasons"] and all(isinstance(r, str) for r in data["reasons"])
    assert data["escalated"] is False and data["needs_review"] is False


def test_route_escalates_a_commune_chair(app: typer.Typer) -> None:
    """A commune chair's case goes to the province committee, marked escalated."""
    result = CliRunner().invoke(app, ["route", "--place", "xa tan phu, dong nai", "--role", "ct xã", "--json"])
    data = json.loads(result.output)
    assert data["committee"]["code"] == "75" and data["escalated"] is True


def test_route_residence(app: typer.Typer) -> None:
    """--setting residence routes to the commune where the accused lives."""
    result = CliRunner().invoke(
        app,
        ["route", "--place", "P. Bến Thành TP.HCM", "--role", "giám đốc sở", "--setting", "residence", "--json"],
    )
    data = json.loads(result.output)
    assert data["committee"]["code"] == "26743" and len(data["reasons"]) == 3


@pytest.mark.parametrize(("place", "code"), [("", "place_not_found"), ("Tân Phú", "place_ambiguous")])
def test_route_refuses_a_place_it_cannot_settle(app: typer.Typer, place: str, code: str) -> None:
    """No province, no routing: the command exits 1 with a JSON error and the place answer."""
    result = CliRunner().invoke(app, ["route", "--place", place, "--role", "ct xã", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["error"] == code and "place" in data


def test_route_refuses_an_unknown_setting(app: typer.Typer) -> None:
    """Only workplace and residence are settings."""
    result = CliRunner().invoke(
        app, ["route", "--place", "xa tan phu, dong nai", "--role", "ct xã", "--setting", "home", "--json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == "bad_setting"
