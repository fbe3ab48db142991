"""Routing rules: positions read from free text, levels, settings, conflicts of interest, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.routing import (
    CENTRAL_CODE,
    DEFAULT_RULES_FILE,
    LEVELS,
    Reason,
    RoutingRules,
    RoutingRulesError,
    default_rules,
    load_rules,
    render_reasons,
    route,
)

DONG_NAI, TAN_PHU = "75", "26116"  # Xã Tân Phú, Đồng Nai
HCM, BEN_THANH = "79", "26743"


@pytest.fixture(scope="module")
def rules() -> RoutingRules:
    return load_rules(DEFAULT_RULES_FILE)


@pytest.mark.parametrize(
    ("role", "position"),
    [
        ("ct xã", "commune_people_committee_chair"),
        ("pho chu tich ubnd xa", "commune_people_committee_vice_chair"),
        ("Phó Chủ tịch UBND phường", "commune_people_committee_vice_chair"),
        ("cán bộ địa chính", "commune_civil_servant"),
        ("bt đảng ủy", "commune_party_secretary"),
        ("trưởng ấp", "hamlet_head"),
        ("cô giáo trường tiểu học", "commune_school_teacher"),
        ("công an phường", "commune_police"),
        ("chủ tịch mttq xã", "commune_front_chair"),
        ("giám đốc sở tài nguyên và môi trường", "department_director"),
        ("gd công an tỉnh", "province_police_director"),
        ("Bí thư Thành ủy", "province_party_secretary"),
        ("chủ tịch UBND thành phố", "province_people_committee_chair"),
        ("thứ trưởng bộ xây dựng", "deputy_minister"),
        ("ủy viên trung ương đảng", "central_committee_member"),
        ("ông A, cán bộ địa chính xã hay gây khó dễ", "commune_civil_servant"),
        ("pho chu tich ubnd xaa", "commune_people_committee_vice_chair"),  # a typo
    ],
)
def test_positions_are_read_fuzzily(rules: RoutingRules, role: str, position: str) -> None:
    """Abbreviations, missing diacritics, 'phường' for 'xã' and typos still name the position."""
    match = rules.match_position(role)
    assert match is not None and match.position.id == position


def test_unrecognised_position_is_none(rules: RoutingRules) -> None:
    """A role no alias comes close to is not guessed at."""
    assert rules.match_position("thợ hồ") is None
    assert rules.match_position("") is None


def test_commune_civil_servant_at_work_goes_to_the_commune(rules: RoutingRules) -> None:
    """A commune civil servant is supervised by the commune committee of the place."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="cán bộ địa chính", rules=rules)
    assert (d.level, d.committee_code, d.committee_name) == ("commune", TAN_PHU, "Ủy ban MTTQ Việt Nam Xã Tân Phú")
    assert not d.escalated and not d.needs_review
    assert d.managing_level == "commune"


def test_provincial_director_at_work_goes_to_the_province(rules: RoutingRules) -> None:
    """A department director is supervised by the provincial committee."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="giám đốc sở xây dựng", rules=rules)
    assert (d.level, d.committee_code, d.committee_name) == ("province", DONG_NAI, "Ủy ban MTTQ Việt Nam Đồng Nai")


def test_central_position_goes_to_the_central_committee(rules: RoutingRules) -> None:
    """A minister is supervised centrally, whatever the place."""
    d = route(province_code=HCM, commune_code=BEN_THANH, role="bộ trưởng", rules=rules)
    assert (d.level, d.committee_code, d.committee_name) == ("central", CENTRAL_CODE, "Ủy ban Trung ương MTTQ Việt Nam")


def test_residence_goes_to_the_commune_and_notes_the_higher_level(rules: RoutingRules) -> None:
    """At home, the commune committee receives; a higher managing level is named for the handover."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="giám đốc sở", setting="residence", rules=rules)
    assert (d.level, d.committee_code) == ("commune", TAN_PHU)
    assert d.managing_level == "province" and d.handover_code == DONG_NAI
    assert "must pass the case on to Ủy ban MTTQ Việt Nam Đồng Nai" in d.reason_texts("en")[-1]


def test_residence_of_a_commune_cadre_needs_no_handover(rules: RoutingRules) -> None:
    """A commune-managed person at home stays with the commune committee, no handover."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="trưởng thôn", setting="residence", rules=rules)
    assert (d.level, d.committee_code, d.handover_code) == ("commune", TAN_PHU, None)


@pytest.mark.parametrize(
    "role", ["ct xã", "chủ tịch ubnd xã", "bí thư đảng ủy", "phó bí thư đảng ủy xã", "chủ tịch mttq xã",
             "phó chủ tịch mặt trận tổ quốc xã", "ủy viên ban thường trực mttq xã"]
)
def test_commune_leaders_go_one_level_up(rules: RoutingRules, role: str) -> None:
    """Who leads the commune's Front, party committee or People's Committee is handled by the province."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role=role, rules=rules)
    assert (d.level, d.committee_code, d.escalated) == ("province", DONG_NAI, True)
    assert any("never lands in a queue they run" in t for t in d.reason_texts("en"))


def test_commune_vice_chair_is_not_escalated(rules: RoutingRules) -> None:
    """A vice-chair of the People's Committee is not on the default conflict list."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="phó chủ tịch ubnd xã", rules=rules)
    assert (d.level, d.escalated) == ("commune", False)


def test_provincial_leaders_go_to_the_central_committee(rules: RoutingRules) -> None:
    """The provincial People's Committee chair is handled centrally, not by the province they lead."""
    d = route(province_code=HCM, commune_code=BEN_THANH, role="chủ tịch ubnd tỉnh", rules=rules)
    assert (d.level, d.committee_code, d.escalated) == ("central", CENTRAL_CODE, True)


def test_conflict_at_the_top_is_flagged(rules: RoutingRules) -> None:
    """No level above the central committee: the case stays there, flagged for the standing board."""
    d = route(province_code=HCM, commune_code=BEN_THANH, role="chủ tịch ủy ban trung ương mặt trận tổ quốc", rules=rules)
    assert (d.level, d.escalated, d.needs_review) == ("central", False, True)


def test_conflict_also_applies_at_home(rules: RoutingRules) -> None:
    """A commune chair reported where they live is not handled by the commune they lead."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="chủ tịch xã", setting="residence", rules=rules)
    assert (d.level, d.escalated) == ("province", True)


@pytest.mark.parametrize("setting", ["workplace", "residence"])
def test_no_case_lands_in_a_queue_run_by_the_accused(rules: RoutingRules, setting: str) -> None:
    """For every position and setting, the receiving level is never one the accused leads (but the top)."""
    for position in rules.positions:
        role = position.aliases[0]
        d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role=role, setting=setting, rules=rules)  # type: ignore[arg-type]
        if d.position is not None and d.position.position.id in rules.conflict_for(DONG_NAI, d.level):
            assert d.level == "central" and d.needs_review, role


def test_unknown_position_goes_to_the_commune_for_review(rules: RoutingRules) -> None:
    """An unrecognised role lands at the commune of the place, flagged 'needs review', with the reason."""
    d = route(province_code=HCM, commune_code=BEN_THANH, role="thợ hồ", rules=rules)
    assert (d.level, d.committee_code, d.needs_review) == ("commune", BEN_THANH, True)
    assert "not in the routing rules" in d.reason_texts("en")[0]


def test_approximate_position_is_flagged(rules: RoutingRules) -> None:
    """A role read only approximately is used, but staff are asked to check it."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="ctich xa", rules=rules)
    assert d.position is not None and d.position.score < rules.review_below
    assert d.needs_review


def test_unknown_commune_goes_to_the_province_for_review(rules: RoutingRules) -> None:
    """Without a commune, the province committee receives a commune-level case and forwards it."""
    d = route(province_code=DONG_NAI, commune_code=None, role="trưởng thôn", rules=rules)
    assert (d.level, d.committee_code, d.needs_review) == ("province", DONG_NAI, True)


def test_place_must_be_consistent(rules: RoutingRules) -> None:
    """A commune outside the province given, an unknown code or setting, is a programming error."""
    with pytest.raises(ValueError):
        route(province_code=HCM, commune_code=TAN_PHU, role="trưởng thôn", rules=rules)
    with pytest.raises(KeyError):
        route(province_code="00", commune_code=None, role="trưởng thôn", rules=rules)
    with pytest.raises(ValueError):
        route(province_code=HCM, commune_code=None, role="x", setting="home", rules=rules)  # type: ignore[arg-type]


def test_reasons_render_in_each_language_and_survive_storage(rules: RoutingRules) -> None:
    """Reasons are msgids with parameters: rendered per language, stored as JSON and rendered back."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="ct xã", rules=rules)
    english = d.reason_texts("en")
    assert english[0] == "The position “Chair of the commune People's Committee” is managed at the commune level."
    vietnamese = d.reason_texts("vi")
    assert len(vietnamese) == len(english) and "Chủ tịch UBND xã, phường, đặc khu" in vietnamese[0]
    stored = [r.to_json() for r in d.reasons]
    assert render_reasons(stored, "en") == english
    assert Reason.from_json(stored[0]) == d.reasons[0]


def test_json_shape_of_a_decision(rules: RoutingRules) -> None:
    """to_json gives exactly the fields `phananh route --json` documents."""
    data = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="cán bộ xã", rules=rules).to_json()
    assert set(data) == {"committee", "reasons", "escalated", "needs_review"}
    assert set(data["committee"]) == {"code", "name", "level"}
    assert data["committee"]["level"] in LEVELS


def test_default_rules_are_the_packaged_file() -> None:
    """Without PHANANH_ROUTING_RULES_FILE the packaged defaults are used."""
    assert default_rules().source == str(DEFAULT_RULES_FILE)


OVERRIDE = """
[matching]
threshold = 80
review_below = 95

[abbreviations]
ca = "công an"

[[positions]]
id = "commune_police"
level = "commune"
name = "Công an xã"
aliases = ["công an xã"]

[[positions]]
id = "commune_chair"
level = "commune"
name = "Chủ tịch xã"
aliases = ["chủ tịch xã"]

[conflict]
commune = ["commune_chair"]

[provinces."79"]
levels = { commune_police = "province" }
conflict = { commune = [] }

[[provinces."79".positions]]
id = "ward_inspector"
level = "commune"
name = "Thanh tra phường"
aliases = ["thanh tra phường"]
"""


def test_province_override(tmp_path: Path) -> None:
    """A province's section moves positions, replaces conflict lists and adds positions, there only."""
    path = tmp_path / "rules.toml"
    path.write_text(OVERRIDE, encoding="utf-8")
    rules = load_rules(path)
    elsewhere = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="ca xã", rules=rules)
    assert elsewhere.level == "commune"
    hcm = route(province_code=HCM, commune_code=BEN_THANH, role="ca xã", rules=rules)
    assert (hcm.level, hcm.committee_code) == ("province", HCM)
    assert hcm.reason_texts("en")[0] == "The routing rules of Thành phố Hồ Chí Minh apply."
    assert route(province_code=DONG_NAI, commune_code=TAN_PHU, role="chủ tịch xã", rules=rules).escalated
    assert not route(province_code=HCM, commune_code=BEN_THANH, role="chủ tịch xã", rules=rules).escalated
    assert route(province_code=HCM, commune_code=BEN_THANH, role="thanh tra phường", rules=rules).position is not None
    assert route(province_code=DONG_NAI, commune_code=TAN_PHU, role="thanh tra phường", rules=rules).position is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[positions]]\nid='a'\nlevel='district'\nname='A'\naliases=['a']\n", "level must be one of"),
        ("[[positions]]\nid='a'\nlevel='commune'\nname='A'\naliases=['a']\n[conflict]\ncommune=['b']\n", "unknown position"),
        ("[[positions]]\nid='a'\nlevel='commune'\nname='A'\naliases=['a']\n[provinces.'99']\n", "no province has code"),
        ("[[positions]]\nid='a'\nlevel='commune'\nname='A'\naliases=[]\n", "aliases"),
        ("[[positions]]\nid='a'\nlevel='commune'\nname='A'\naliases=['a']\n[[positions]]\nid='a'\nlevel='commune'\nname='B'\naliases=['b']\n", "duplicate"),
        ("this is not toml", "not valid TOML"),
        ("", r"no \[\[positions\]\]"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    """A mistake in the rules file stops loading and says where it is."""
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RoutingRulesError, match=message):
        load_rules(path)


def test_missing_rules_file_is_refused(tmp_path: Path) -> None:
    """A rules path that does not exist is an error, not silent defaults."""
    with pytest.raises(RoutingRulesError, match="cannot read"):
        load_rules(tmp_path / "absent.toml")
