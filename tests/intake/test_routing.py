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
    assert (d.level, d.committee_code, d.committee_name) == ("commune", TAN_PHU, "Ủy ban MTTQ Việt Nam xã Tân Phú")
    assert not d.escalated and not d.needs_review
    assert d.managing_level == "commune"


def test_provincial_director_at_work_goes_to_the_province(rules: RoutingRules) -> None:
    """A department director is supervised by the provincial committee."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="giám đốc sở xây dựng", rules=rules)
    assert (d.level, d.committee_code, d.committee_name) == ("province", DONG_NAI, "Ủy ban MTTQ Việt Nam tỉnh Đồng Nai")


def test_central_position_goes_to_the_central_committee(rules: RoutingRules) -> None:
    """A minister is supervised centrally, whatever the place."""
    d = route(province_code=HCM, commune_code=BEN_THANH, role="bộ trưởng", rules=rules)
    assert (d.level, d.committee_code, d.committee_name) == ("central", CENTRAL_CODE, "Ủy ban Trung ương MTTQ Việt Nam")


def test_residence_goes_to_the_commune_and_notes_the_higher_level(rules: RoutingRules) -> None:
    """At home, the commune committee receives; a higher managing level is named for the handover."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="giám đốc sở", setting="residence", rules=rules)
    assert (d.level, d.committee_code) == ("commune", TAN_PHU)
    assert d.managing_level == "province" and d.handover_code == DONG_NAI
    assert "must pass the case on to Ủy ban MTTQ Việt Nam tỉnh Đồng Nai" in d.reason_texts("en")[-1]


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
        ("[[positions]]\nid='a'\nlevel='commune'\nname='A'\nsector='x'\naliases=['a']\n", "unknown sector"),
        ("[sectors.x]\nname='X'\n[[positions]]\nid='a'\nlevel='commune'\nname='A'\naliases=['a']\n", "organisation are required"),
        ("[[positions]]\nid='a'\nlevel='commune'\nname='A'\nreview=''\naliases=['a']\n", "review must be a non-empty text"),
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


# -- vertically managed sectors and provincial posts managed by the centre (issue 17, item 7) ----------

DONG_NAI_NAME = "Ủy ban MTTQ Việt Nam tỉnh Đồng Nai"

# (family, how a resident writes it, position, receiving committee, flagged for review)
# Certain rules route without a flag; uncertain ones route and say what to check.
SECTOR_CASES = [
    ("police-director", "giam doc ca tinh", "province_police_director", CENTRAL_CODE, False),
    ("police-province", "cán bộ công an tỉnh, phòng cảnh sát hình sự", "province_police_officer", DONG_NAI, False),
    ("police-former-district", "ca huyện", "former_district_police", DONG_NAI, True),
    ("police-commune", "công an xã", "commune_police", TAN_PHU, False),
    ("court-president", "chánh án tỉnh", "province_court_leader", CENTRAL_CODE, False),
    ("court-judge", "tham phan toa an tinh", "province_court_staff", DONG_NAI, False),
    ("court-regional", "chánh án tòa án huyện cũ", "regional_court", DONG_NAI, True),
    ("procuracy-chief", "viện trưởng vks tỉnh", "province_procuracy_leader", CENTRAL_CODE, False),
    ("procuracy-staff", "kiem sat vien vks tinh", "province_procuracy_staff", DONG_NAI, False),
    ("procuracy-regional", "viện kiểm sát khu vực 3", "regional_procuracy", DONG_NAI, True),
    ("military-commander", "chỉ huy trưởng bchqs tỉnh", "province_military_commander", CENTRAL_CODE, False),
    ("military-area-defence", "ban chỉ huy quân sự huyện", "province_military_staff", DONG_NAI, False),
    ("military-regular-unit", "sĩ quan sư đoàn 302", "army_unit", CENTRAL_CODE, True),
    ("military-commune", "xã đội trưởng", "commune_military", TAN_PHU, True),
    ("military-militia", "dan quan tu ve", "commune_militia", TAN_PHU, False),
    ("border-guard-commander", "chỉ huy trưởng bđbp tỉnh", "border_guard_commander", CENTRAL_CODE, True),
    ("border-guard-post", "đồn biên phòng", "border_guard_post", DONG_NAI, False),
    ("tax-head", "cục trưởng cục thuế tỉnh", "tax_head", CENTRAL_CODE, False),
    ("tax-officer", "chi cục thuế", "tax_officer", DONG_NAI, False),
    ("customs-head", "chi cuc truong hai quan", "customs_head", CENTRAL_CODE, False),
    ("customs-officer", "cán bộ hải quan cửa khẩu", "customs_officer", DONG_NAI, True),
    ("state-bank-head", "giám đốc nhnn khu vực", "state_bank_head", CENTRAL_CODE, False),
    ("state-bank-staff", "thanh tra ngan hang nha nuoc", "state_bank_staff", DONG_NAI, True),
    ("treasury-head", "giám đốc kbnn khu vực", "treasury_head", CENTRAL_CODE, False),
    ("treasury-staff", "cán bộ kho bạc huyện", "treasury_staff", DONG_NAI, True),
    ("social-insurance-head", "giám đốc bhxh tỉnh", "social_insurance_head", CENTRAL_CODE, False),
    ("social-insurance-staff", "can bo bao hiem xa hoi", "social_insurance_staff", DONG_NAI, True),
    ("statistics-head", "cục trưởng cục thống kê tỉnh", "statistics_head", CENTRAL_CODE, False),
    ("statistics-staff", "chi cục thống kê huyện", "statistics_staff", DONG_NAI, True),
    ("market-management", "đội qltt số 3", "market_management", DONG_NAI, False),
]

POST_CASES = [
    ("party-secretary", "bt tỉnh ủy", "province_party_secretary", CENTRAL_CODE, False),
    ("party-deputy-secretary", "pbt thường trực tỉnh ủy", "province_party_deputy_secretary", CENTRAL_CODE, False),
    ("people-committee-chair", "ct ubnd tp", "province_people_committee_chair", CENTRAL_CODE, False),
    ("people-council-chair", "chủ tịch hđnd tỉnh", "province_council_chair", CENTRAL_CODE, False),
    ("people-committee-vice-chair", "phó chủ tịch ubnd tỉnh", "province_people_committee_vice_chair", CENTRAL_CODE, True),
    ("people-council-vice-chair", "pho chu tich hdnd tinh", "province_council_vice_chair", CENTRAL_CODE, True),
    ("party-standing-board", "ủy viên btv tỉnh ủy", "province_party_standing_board", CENTRAL_CODE, True),
    ("party-committee-member", "tỉnh ủy viên", "province_party_standing_member", DONG_NAI, False),
    ("department-director", "gd sở tài chính", "department_director", DONG_NAI, False),
]


@pytest.mark.parametrize(
    ("role", "position", "committee", "review"),
    [pytest.param(*case[1:], id=case[0]) for case in SECTOR_CASES + POST_CASES],
)
def test_sector_and_post_routing(rules: RoutingRules, role: str, position: str, committee: str, review: bool) -> None:
    """Each vertically managed sector and each provincial post family reaches its committee, flagged when uncertain."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role=role, rules=rules)
    assert d.position is not None and d.position.position.id == position, d.position
    assert d.committee_code == committee
    assert d.needs_review is review
    english = d.reason_texts("en")
    pos = d.position.position
    if review:
        assert pos.review is not None and f"Please check: {pos.review.en}" in english
    else:
        assert not any(t.startswith("Please check:") for t in english)
    if pos.sector:
        sector = rules.sectors[pos.sector]
        assert f"{sector.name.en} is managed vertically: {sector.organisation.en}" in english


def test_the_issue_examples_no_longer_go_to_the_province_unflagged(rules: RoutingRules) -> None:
    """A provincial vice-chair, police director and court president: central committee, never silently provincial."""
    for role in ("Phó Chủ tịch UBND tỉnh Đồng Nai", "Giám đốc Công an tỉnh", "Chánh án Tòa án nhân dân tỉnh"):
        d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role=role, rules=rules)
        assert d.committee_code == CENTRAL_CODE, role
        assert d.committee_name != DONG_NAI_NAME


def test_centrally_managed_provincial_leaders_still_count_as_escalated(rules: RoutingRules) -> None:
    """The province's secretary and chairs go centrally by management, and the case is marked as passing over their province."""
    for role in ("bí thư tỉnh ủy", "phó bí thư tỉnh ủy", "chủ tịch ubnd tỉnh"):
        d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role=role, rules=rules)
        assert (d.level, d.escalated, d.managing_level) == ("central", True, "central"), role
        assert any("never lands in a queue they run" in t for t in d.reason_texts("en"))
    vice = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="phó chủ tịch ubnd tỉnh", rules=rules)
    assert (vice.level, vice.escalated) == ("central", False)


def test_a_body_is_a_position_for_routing_and_an_agency_in_a_story(rules: RoutingRules) -> None:
    """'chi cục thuế' as the accused's agency routes to the tax sector; in a story it names where someone works."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="ông Thắng, chi cục thuế khu vực 5", rules=rules)
    assert d.position is not None and d.position.position.id == "tax_officer" and d.committee_code == DONG_NAI
    assert all(m.position is None and not m.complete for m in rules.find_positions("ong ay lam o chi cuc thue khu vuc 5, doi 10 trieu"))
    assert rules.find_positions("ông Lâm, trưởng ban quản lý chợ")[-1].position is None


def test_reasons_in_vietnamese_name_the_rule(rules: RoutingRules) -> None:
    """Staff read, in Vietnamese, the sector's organisation, the rule, and what to check."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="ca huyện", rules=rules)
    vi = d.reason_texts("vi")
    assert any("Ngành Công an" in t and "không còn công an cấp huyện" in t for t in vi)
    assert any(t.startswith("Cần xem xét:") and "01/3/2025" in t for t in vi)
    stored = [r.to_json() for r in d.reasons]
    assert render_reasons(stored, "vi") == vi


def test_a_head_of_a_vertical_body_at_home_is_handed_over_centrally(rules: RoutingRules) -> None:
    """Reported where they live, a police director is received by the commune and handed over to the centre."""
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="giám đốc công an tỉnh", setting="residence", rules=rules)
    assert (d.level, d.committee_code, d.handover_code) == ("commune", TAN_PHU, CENTRAL_CODE)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_uncertain_rule_routes_silently(rules: RoutingRules, data: st.DataObject) -> None:
    """Whatever position, spelling and setting: a position whose level is in doubt always flags the case and says why."""
    position = data.draw(st.sampled_from(rules.positions))
    alias = data.draw(st.sampled_from(position.aliases + position.bodies))
    text = data.draw(st.sampled_from([alias, alias.upper(), f"ông A, {alias}"]))
    setting = data.draw(st.sampled_from(["workplace", "residence"]))
    d = route(province_code=DONG_NAI, commune_code=TAN_PHU, role=text, setting=setting, rules=rules)  # type: ignore[arg-type]
    assert d.position is not None
    matched = d.position.position
    english = d.reason_texts("en")
    assert english[0].startswith(f"The position “{matched.label.en}” is managed at the {'provincial' if matched.level == 'province' else matched.level} level")
    if matched.review is not None:
        assert d.needs_review and f"Please check: {matched.review.en}" in english


SECTOR_OVERRIDE = OVERRIDE.replace(
    '[[positions]]\nid = "commune_police"',
    '[sectors.police]\nname = "Ngành Công an"\norganisation = "theo ngành dọc."\n\n[[positions]]\nid = "commune_police"',
).replace(
    'name = "Công an xã"\naliases = ["công an xã"]',
    'name = "Công an xã"\nsector = "police"\nreview = "chưa rõ."\naliases = ["công an xã"]',
)


def test_a_province_that_sets_a_level_settles_the_doubt(tmp_path: Path) -> None:
    """Where a province moves a position, its decision stands: the default doubt no longer flags the case."""
    path = tmp_path / "rules.toml"
    path.write_text(SECTOR_OVERRIDE, encoding="utf-8")
    rules = load_rules(path)
    elsewhere = route(province_code=DONG_NAI, commune_code=TAN_PHU, role="ca xã", rules=rules)
    assert elsewhere.needs_review and "Please check: chưa rõ." in elsewhere.reason_texts("en")
    hcm = route(province_code=HCM, commune_code=BEN_THANH, role="ca xã", rules=rules)
    assert (hcm.committee_code, hcm.needs_review) == (HCM, False)



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
