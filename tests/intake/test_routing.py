"""Routing rules: positions read from free text, levels, settings, conflicts of interest, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# -- reading positions inside longer text ----------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "not_position"),
    [
        ("ông ấy cả xã đều biết là cán bộ", "commune_police"),  # 'cả' is not 'ca' (công an)
        ("bí thư xã từ năm 2020", "province_party_secretary"),  # 'từ' is not 'tu' (tỉnh ủy)
    ],
)
def test_a_word_typed_with_diacritics_is_never_an_abbreviation(
    rules: RoutingRules, role: str, not_position: str
) -> None:
    """Only a word typed without diacritics stands for an abbreviation ('từ' is a word, 'tu' may be tỉnh ủy)."""
    match = rules.match_position(role)
    assert match is None or match.position.id != not_position
    assert "tinh uy" not in rules.normalize("bí thư xã từ năm 2020")


@pytest.mark.parametrize(
    ("role", "position"),
    [
        ("can bo tu phap", "commune_civil_servant"),  # tư pháp, not tỉnh ủy pháp
        ("ca xa", "commune_police"),
        ("bt du", "commune_party_secretary"),
        ("bi thu TU", "province_party_secretary"),
    ],
)
def test_plain_abbreviations_that_are_also_syllables_read_both_ways(
    rules: RoutingRules, role: str, position: str
) -> None:
    """Typed without diacritics, 'tu', 'ca', 'du' are tried as abbreviation and as word; the closer alias wins."""
    match = rules.match_position(role)
    assert match is not None and match.position.id == position


def test_a_level_phrase_never_joins_an_abbreviations_expansion(rules: RoutingRules) -> None:
    """'Thành PCT' is a name and 'phó chủ tịch', not 'thành phố' read as 'tỉnh'."""
    assert rules.normalize("Ông Thành PCT UBND phường") == "ong thanh pho chu tich uy ban nhan dan xa"


def test_positions_are_found_inside_a_story(rules: RoutingRules) -> None:
    """The issue's example: 'cán bộ địa chính' is found where it is written, as the commune civil servant."""
    text = "Ông Trần Văn B là cán bộ địa chính xã Tân Phú đòi tôi đưa 20 triệu"
    [mention] = rules.find_positions(text)
    assert text[mention.start : mention.end] == "cán bộ địa chính"
    assert mention.complete and mention.position is not None and mention.position.id == "commune_civil_servant"


@pytest.mark.parametrize(
    ("text", "found", "position"),
    [
        ("e bj ô ct xã Tân Hòa đòi 5tr", "ct xã", "commune_people_committee_chair"),
        ("thg ca xã đánh e", "ca xã", "commune_police"),
        ("Phó chủ tịch UBND thị trấn ký sai", "Phó chủ tịch UBND thị trấn", "commune_people_committee_vice_chair"),
        (
            "Phó Chủ Tịch Uỷ Ban Nhân Dân Phường",
            "Phó Chủ Tịch Uỷ Ban Nhân Dân Phường",
            "commune_people_committee_vice_chair",
        ),
        ("ông trưởng bản Nà Khoang thu tiền", "trưởng bản", "hamlet_head"),
    ],
)
def test_positions_in_a_story_with_shorthand_and_levels(
    rules: RoutingRules, text: str, found: str, position: str
) -> None:
    """Abbreviations, 'phường'/'thị trấn' as 'xã', and either placement of a tone mark ('Uỷ'/'Ủy') are read."""
    mention = rules.find_positions(text)[0]
    assert text[mention.start : mention.end] == found
    assert mention.position is not None and mention.position.id == position


def test_positions_in_a_story_keep_diacritics_apart(rules: RoutingRules) -> None:
    """'trưởng ban' folds like 'trưởng bản' (a village head) but is only the opening of longer posts."""
    text = "ông Lâm, trưởng ban quản lý chợ, thu tiền"
    [mention] = rules.find_positions(text)
    assert text[mention.start : mention.end] == "trưởng ban" and not mention.complete and mention.position is None


def test_the_opening_of_several_posts_is_reported_as_such(rules: RoutingRules) -> None:
    """'PCT UBND' opens the commune's and the province's vice-chair: no position, marked incomplete."""
    text = "Ông A - PCT UBND P.Tân Phú"
    [mention] = rules.find_positions(text)
    assert text[mention.start : mention.end] == "PCT UBND"
    assert not mention.complete and mention.position is None
    assert mention.words == ("pho", "chu", "tich", "uy", "ban", "nhan", "dan")


@pytest.mark.parametrize(
    "text",
    [
        "ông ấy là bí thư. Xã thì không ai quản",  # not across a full stop
        "ca nha toi deu biet",  # 'ca' in a story without diacritics, before no unit word: 'cả'
        "tôi đi từ sáng, cả xã đều biết",
    ],
)
def test_no_position_across_punctuation_or_from_ordinary_words(rules: RoutingRules, text: str) -> None:
    """A post never spans punctuation, and ordinary words that fold like shorthand name none."""
    assert [text[m.start : m.end] for m in rules.find_positions(text) if m.complete] == []


def test_positions_a_province_adds_are_found_there_only(tmp_path: Path) -> None:
    """A position a province's override adds is found in that province's stories, not elsewhere."""
    path = tmp_path / "rules.toml"
    path.write_text(OVERRIDE, encoding="utf-8")
    rules = load_rules(path)
    text = "ông A, thanh tra phường, đòi tiền"
    assert [m.position.id for m in rules.find_positions(text, HCM) if m.position] == ["ward_inspector"]
    assert not any(m.complete for m in rules.find_positions(text, DONG_NAI))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_finding_positions_never_fails_and_stays_in_the_text(text: str) -> None:
    """Any text is searched without error; every mention lies on whole words of the text."""
    rules = default_rules()
    for mention in rules.find_positions(text):
        assert 0 <= mention.start < mention.end <= len(text)
        written = text[mention.start : mention.end]
        assert written.strip() == written and written
