"""The story reader: what a resident's story already says, read only when sure."""

from __future__ import annotations

import unicodedata
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.dialog import story as story_module
from intake.dialog.story import MAX_CHARS, Found, StoryFacts, _read, read_story
from intake.routing import default_rules

ISSUE_STORY = "Ông Trần Văn B là cán bộ địa chính xã Tân Phú đòi tôi đưa 20 triệu…"
DONG_NAI, TAN_PHU = "75", "26116"
HCM = "79"


def _value(found: Found | None) -> str | None:
    return found.value if found is not None else None


def _spans_fit(text: str, facts: StoryFacts) -> None:
    for found in facts.found().values():
        assert 0 <= found.start < found.end <= len(text)
        assert text[found.start : found.end].strip()


# -- the issue's example -------------------------------------------------------------------------------


def test_the_issues_example_names_who_and_what() -> None:
    """'Ông Trần Văn B là cán bộ địa chính xã Tân Phú…' gives the name, the post and the unit, each at its words."""
    facts = read_story(ISSUE_STORY)
    assert facts.name is not None and facts.position is not None and facts.agency is not None
    assert ISSUE_STORY[facts.name.start : facts.name.end] == facts.name.value == "Trần Văn B"
    assert ISSUE_STORY[facts.position.start : facts.position.end] == facts.position.value == "cán bộ địa chính"
    assert facts.position.position_id == "commune_civil_servant"
    assert ISSUE_STORY[facts.agency.start : facts.agency.end] == facts.agency.value == "xã Tân Phú"


def test_the_issues_example_leaves_an_ambiguous_place_to_the_resident() -> None:
    """Tân Phú is a commune in five provinces: the place is asked, not guessed."""
    assert read_story(ISSUE_STORY).place is None


def test_the_example_with_its_province_settles_the_place() -> None:
    """With 'tỉnh Đồng Nai' the gazetteer settles the commune, and the draft gets its codes and names."""
    text = "Ông Trần Văn B là cán bộ địa chính xã Tân Phú, tỉnh Đồng Nai đòi tôi đưa 20 triệu."
    place = read_story(text).place
    assert place is not None
    assert (place.province_code, place.commune_code, place.commune_name) == (DONG_NAI, TAN_PHU, "Xã Tân Phú")
    assert place.value == "xã Tân Phú, tỉnh Đồng Nai" == text[place.start : place.end]


# -- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Bà Nguyễn Thị Lan, kế toán xã, làm giả chứng từ.", "Nguyễn Thị Lan"),
        ("anh Lê Minh Tuấn, cảnh sát khu vực, thu tiền bảo kê.", "Lê Minh Tuấn"),
        ("Ông Th. là trưởng thôn, thu tiền sai.", "Th."),
        ("Chủ tịch UBND xã Mường Phăng là ông Lò Văn Pọm đã cắt tiền hỗ trợ.", "Lò Văn Pọm"),
        ("Trưởng công an xã Phú Xuân, ông Phan Thanh Bình, bao che lô đề.", "Phan Thanh Bình"),
        ("ông bị trưởng thôn Phan Văn Kha gạch tên khỏi danh sách", "Phan Văn Kha"),
        ("cb địa chính xã mk đòi tiền lm sổ đỏ. a ấy tên Hưng.", "Hưng"),
        ("cô giáo Vũ Thị Hạnh ép học sinh học thêm", "Vũ Thị Hạnh"),
    ],
)
def test_names_after_an_honorific_a_post_or_ten_la(text: str, name: str) -> None:
    """A capitalised name after ông/bà/anh/cô…, after 'tên', or after the post it holds."""
    assert _value(read_story(text).name) == name


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("ong le van tam can bo dia chinh xa binh minh doi tien", "Le Van Tam"),
        ("ong truong ap 4, ten la tran van phuc, nhan tien cua dan", "Tran Van Phuc"),
        ("ong to truong to dan pho 3 ten la tam thu tien ve sinh", "Tam"),
        ("chu tich xa la ho van truong giao dat cong cho em ruot", "Ho Van Truong"),
    ],
)
def test_names_typed_without_diacritics_or_capitals(text: str, name: str) -> None:
    """In lower case a name is read when its shape is clear (surname, middle, given) and a word ends it."""
    assert _value(read_story(text).name) == name


@pytest.mark.parametrize(
    "text",
    [
        "Tôi là Nguyễn Văn An. Cán bộ tư pháp xã thu phí sai.",
        "Bố tôi là ông Nguyễn Văn Hải, năm nay 82 tuổi. Cán bộ chính sách xã cắt trợ cấp của bố tôi.",
        "Con trai tôi là cháu Nguyễn Minh Khôi bị thầy giáo chủ nhiệm đánh.",
        "Cán bộ tư pháp xã Yên Lạc thu phí cao. Người phản ánh: Nguyễn Văn Quý.",
        "Bà Nguyễn Thị Tư, 75 tuổi, bị cán bộ xã cắt mất tiền trợ cấp.",
        "cong an xa danh nguoi dan, nguoi bi danh la ong nguyen van be 70 tuoi",
    ],
)
def test_the_resident_and_the_victims_are_not_the_accused(text: str) -> None:
    """The resident's own name, a relative's, a victim's or a signature is never pre-filled as the accused's."""
    assert read_story(text).name is None


def test_someone_things_were_done_to_is_not_the_accused() -> None:
    """'Anh A, hàng xóm nhà tôi, bị công an phường đánh': A is the victim; the police post is the accused's."""
    facts = read_story("Anh Lưu Văn Tâm, hàng xóm nhà tôi, bị công an phường Đông Hòa đánh khi làm việc tại trụ sở.")
    assert facts.name is None
    assert (_value(facts.position), _value(facts.agency)) == ("công an phường", "công an phường Đông Hòa")
    assert _value(read_story("Ông Lê Văn Tám bị kỷ luật nhưng vẫn thu tiền của dân.").name) == "Lê Văn Tám"


def test_a_relative_of_the_accused_is_not_the_accused() -> None:
    """'Vợ ông Chủ tịch xã … là bà A': the chairman is accused, his wife's name is not his."""
    facts = read_story("Vợ ông Chủ tịch xã Minh Tân là bà Lê Thị Duyên được giao thầu căng tin trường học.")
    assert facts.name is None
    assert _value(facts.position) == "chủ tịch xã"


def test_whoever_the_complaint_went_to_is_set_aside() -> None:
    """The official a letter went to, and their post, are not the accused's."""
    facts = read_story(
        "Tôi đã gửi đơn cho ông Nguyễn Văn Kiên, chủ tịch xã, về việc bà Đào Thị Liên, cán bộ tư pháp xã Yên Phong, "
        "đòi tiền chứng thực, nhưng ông Kiên không trả lời."
    )
    assert (_value(facts.name), _value(facts.position), _value(facts.agency)) == (
        "Đào Thị Liên", "cán bộ tư pháp", "xã Yên Phong",
    )


def test_two_accused_leave_name_and_post_to_the_resident() -> None:
    """Two people, each with a post: neither name nor post is pre-filled."""
    facts = read_story("Ông Nguyễn Văn Toàn chủ tịch xã và bà Trần Thị Hương kế toán xã Phú Mỹ đã rút tiền ngân sách.")
    assert facts.name is None and facts.position is None


@pytest.mark.parametrize(
    "text",
    [
        "Anh ta thu tiền bảo kê các quán trên đường Lê Lợi.",
        "Kế toán trường THPT Chu Văn An lập khống chứng từ.",
        "Theo lời dạy của Bác Hồ, cán bộ phải cần kiệm liêm chính.",
        "Nhà nước cần xử lý nghiêm mấy ông quan tham.",
    ],
)
def test_names_of_streets_schools_and_the_famous_are_not_names(text: str) -> None:
    """A street or school named after someone, 'Bác Hồ', or 'mấy ông…' names no accused."""
    assert read_story(text).name is None


# -- posts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "position_id"),
    [
        ("e bj ô ct xã Tân Hòa đòi 5tr mới ký giấy", "chủ tịch xã", "commune_people_committee_chair"),
        ("pct ubnd phường e ký duyệt hồ sơ", "phó chủ tịch UBND phường", "commune_people_committee_vice_chair"),
        ("ông bt chi bộ thôn suốt ngày nhậu nhẹt", "bí thư chi bộ thôn", "hamlet_head"),
        ("cb địa chính đòi tiền lm sổ đỏ", "cán bộ địa chính", "commune_civil_servant"),
        ("ông trưởng thôn cứ họp là bắt dân đóng tiền", "trưởng thôn", "hamlet_head"),
        ("thg ca xã đánh e trong lúc làm vc", "công an xã", "commune_police"),
        ("Hôm kia tôi bị CSGT đòi 500 nghìn", "CSGT", "province_police_officer"),
    ],
)
def test_posts_the_routing_knows_with_their_abbreviations(text: str, position: str, position_id: str) -> None:
    """Posts are read from the routing rules, shorthand written out for the draft and the routing position kept."""
    found = read_story(text).position
    assert found is not None and (found.value, found.position_id) == (position, position_id)


def test_the_opening_of_a_post_counts_when_its_unit_follows() -> None:
    """'phó chủ tịch UBND huyện' (district era: no alias) is a post of a unit; 'cán bộ' alone says too little."""
    facts = read_story("Phó chủ tịch UBND huyện ký sai quy định.")
    assert (_value(facts.position), _value(facts.agency)) == ("phó chủ tịch", "UBND huyện")
    assert read_story("Cán bộ ở đây làm việc rất tắc trách.").position is None


def test_a_rank_keeps_its_office_and_a_specialty_its_dash() -> None:
    """'phó trưởng phòng Tài chính – Kế hoạch' and 'cán bộ địa chính – xây dựng' are read whole."""
    first = read_story("ông Trịnh Văn Hùng, phó trưởng phòng Tài chính – Kế hoạch huyện Yên Thế ép mua thiết bị")
    assert _value(first.position) == "phó trưởng phòng Tài chính – Kế hoạch huyện Yên Thế"
    second = read_story("ông Kha Văn Lực, cán bộ địa chính – xây dựng thị trấn Phong Thổ gây khó khăn")
    assert (_value(second.position), _value(second.agency)) == ("cán bộ địa chính – xây dựng", "thị trấn Phong Thổ")


def test_diacritics_tell_posts_apart() -> None:
    """'trưởng ban quản lý chợ' is not 'trưởng bản' (a village head), though both fold to 'truong ban'."""
    facts = read_story("ông Trương Văn Lâm, trưởng ban quản lý chợ, thu tiền chỗ ngồi gấp đôi.")
    assert _value(facts.position) == "trưởng ban quản lý chợ"
    assert facts.position is not None and facts.position.position_id != "hamlet_head"


def test_the_residents_own_post_and_the_addressees_are_set_aside() -> None:
    """'Tôi là cán bộ xã, đã báo cáo với chủ tịch xã…': neither post is the accused's."""
    facts = read_story(
        "Tôi là cán bộ xã, tôi đã báo cáo với chủ tịch xã nhưng không được giải quyết: ông Trương Văn Lâm, "
        "trưởng ban quản lý chợ, thu tiền chỗ ngồi cao gấp đôi quy định."
    )
    assert (_value(facts.name), _value(facts.position)) == ("Trương Văn Lâm", "trưởng ban quản lý chợ")


def test_a_former_post_gives_way_to_the_present_one() -> None:
    """'Ông A, nguyên chủ tịch xã, nay là bí thư Đảng ủy xã X': the post held now, with its unit."""
    facts = read_story("Ông Cao Văn Thái, nguyên chủ tịch xã, nay là bí thư Đảng ủy xã Sơn Thủy, có biệt thự.")
    assert (_value(facts.name), _value(facts.position), _value(facts.agency)) == (
        "Cao Văn Thái", "bí thư", "Đảng ủy xã Sơn Thủy",
    )


def test_of_one_persons_posts_the_one_with_its_unit_is_kept() -> None:
    """'Ông A là đảng viên, giáo viên trường THCS X': the teacher's post and school say most."""
    facts = read_story("Ông Lâm Văn Hậu là đảng viên, giáo viên trường THCS Phú Thứ, đánh bạc tại nhà riêng.")
    assert (_value(facts.position), _value(facts.agency)) == ("giáo viên", "trường THCS Phú Thứ")


def test_a_deputy_title_before_a_name_is_not_a_street() -> None:
    """'hiệu phó Nguyễn Hữu Nghĩa': 'phó' folds like 'phố' (street) but a name follows it."""
    assert _value(read_story("Thầy hiệu phó Nguyễn Hữu Nghĩa gạ gẫm nữ sinh.").name) == "Nguyễn Hữu Nghĩa"


def test_among_several_posts_the_one_said_of_a_person_wins() -> None:
    """'thầy hiệu trưởng bắt giáo viên đóng tiền': the teachers are the victims."""
    facts = read_story("Ở trường tiểu học Trần Quốc Toản, thầy hiệu trưởng bắt giáo viên đóng tiền.")
    assert _value(facts.position) == "hiệu trưởng"


def test_a_post_not_tied_to_the_name_is_not_given_to_it() -> None:
    """'Ông A chỉ đạo kế toán xã…': the accountant is someone else; the name alone is pre-filled."""
    facts = read_story("Ông Nguyễn Văn Tư chỉ đạo kế toán xã làm giả chứng từ.")
    assert _value(facts.name) == "Nguyễn Văn Tư" and facts.position is None


# -- agencies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "agency"),
    [
        ("Chủ tịch UBND xã Tân Phú nhận hối lộ", "UBND xã Tân Phú"),
        ("ong truong phong tai nguyen moi truong huyen hach dich dan", "phong tai nguyen moi truong huyen"),
        ("Thầy Đức, hiệu trưởng trường THCS Nguyễn Du, thu tiền sai", "trường THCS Nguyễn Du"),
        ("ong ay ten la nguyen huu thang, lam o chi cuc thue khu vuc 5, doi 10 trieu", "chi cuc thue khu vuc 5"),
        ("bà Lý Thị Ngọc, trưởng trạm y tế xã Hòa Tiến, bỏ trạm đi làm việc riêng", "trạm y tế xã Hòa Tiến"),
        ("Trưởng thôn 2 là ông Bùi Văn Hải tự ý thu tiền làm đường", "thôn 2"),
        ("bà Trần Thị Mai ở bộ phận một cửa đòi bồi dưỡng", "bộ phận một cửa"),
        ("Chị Đặng Thu Trang ở bộ phận một cửa UBND phường Láng hẹn tôi ra quán", "bộ phận một cửa UBND phường Láng"),
    ],
)
def test_agencies_and_units(text: str, agency: str) -> None:
    """The accused's agency: the one their post names, or the one the story places them in."""
    assert _value(read_story(text).agency) == agency


@pytest.mark.parametrize(
    "text",
    [
        "ong noi toi bi can bo xa danh dau sai ten trong so do",  # 'so do' is sổ đỏ, not a 'sở'
        "xin hoi ve thu tuc cap doi can cuoc cong dan",
        "Tôi là giáo viên trường mầm non Hoa Sen. Có người ép nộp tiền.",  # the resident's own school
    ],
)
def test_no_agency_is_made_up(text: str) -> None:
    """Ordinary words that fold like agency names, and the resident's own workplace, give no agency."""
    assert read_story(text).agency is None


# -- places ----------------------------------------------------------------------------------------


def test_the_place_is_where_it_happened_not_where_the_resident_lives() -> None:
    """'Tôi ở phường Hàng Bạc, Hà Nội' is the resident's home; the accused's commune is the place."""
    text = (
        "Tôi ở phường Hàng Bạc, Hà Nội. Tôi mua đất ở xã Tân Hội, huyện Đức Trọng, Lâm Đồng và ông Phạm Văn Cường, "
        "cán bộ địa chính xã Tân Hội, yêu cầu tôi đưa 50 triệu."
    )
    place = read_story(text).place
    assert place is not None and (place.province_code, place.commune_name, place.legacy) == ("68", "Xã Tân Hội", True)


def test_the_residents_home_is_the_place_for_their_own_hamlet_head() -> None:
    """A hamlet head with no other place named works where the resident lives."""
    place = read_story(
        "Tôi ở phường Phú Diễn, Hà Nội. Ông tổ trưởng tổ dân phố số 9 thu tiền rác gấp đôi mức quy định."
    ).place
    assert place is not None and (place.province_code, place.commune_code) == ("01", "00619")


def test_the_residents_home_alone_is_not_the_place_of_another() -> None:
    """'Tôi sống ở…' and an accused with no local post: no place."""
    assert read_story("Tôi sống ở phường Ngọc Hà, Hà Nội. Một giám đốc sở nhận hối lộ.").place is None


def test_a_person_named_like_a_province_is_a_person() -> None:
    """'ông Thái Bình, chủ tịch xã': a name after an honorific, not the province Thái Bình."""
    facts = read_story("ông Thái Bình, chủ tịch xã, nhận tiền của dân.")
    assert (_value(facts.name), facts.place) == ("Thái Bình", None)


def test_a_district_era_city_gives_its_province_only() -> None:
    """'TP Vũng Tàu' is several wards today: the province is settled, the commune is asked."""
    place = read_story("o tp vung tau, ong truong phong quan ly do thi nhan tien").place
    assert place is not None and (place.province_code, place.commune_code) == (HCM, None)


@pytest.mark.parametrize(
    "text",
    [
        "thang truoc toi len xa nhan tien thi bi ke toan xa cat lai 1 trieu moi ho",  # 'cắt lại', not Cát Lái
        "xã Yên Lạc thu phí cao",  # Yên Lạc named several communes
        "toi muon phan anh ong truong ap 4 xa tan thanh tinh long an",  # Tân Thành or Tân Thạnh
        "Nhà tôi ở xã An Phú, nhưng ruộng ở xã Bình Mỹ, huyện Củ Chi, ở Hà Nội cũng có đất",  # two provinces
    ],
)
def test_a_place_is_not_guessed(text: str) -> None:
    """A verb that folds like a ward, a name shared by communes, or two places: no commune is pre-filled."""
    place = read_story(text).place
    assert place is None or place.commune_code is None


# -- setting and time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "setting"),
    [
        ("Chuyện xảy ra tại trụ sở UBND xã.", "workplace"),
        ("Cách đây 2 tuần, tôi lên UBND xã Phong Điền nộp hồ sơ thì bị cán bộ một cửa hạch sách.", "workplace"),
        ("Ông ấy là đảng viên, tổ chức đánh bạc tại nhà riêng.", "residence"),
        ("Ở xóm tôi, ông Sáu ngày nào cũng say xỉn gây gổ.", "residence"),
        ("Tại nơi cư trú, ông ấy không sinh hoạt chi bộ.", "residence"),
    ],
)
def test_setting_when_clearly_said(text: str, setting: str) -> None:
    """Workplace or residence, from words that say it ('tại trụ sở', 'tại nhà riêng', 'ở xóm tôi')."""
    found = read_story(text).setting
    assert found is not None and found.value == setting
    assert text[found.start : found.end].strip()


@pytest.mark.parametrize(
    "text",
    [
        "Cô giáo ép học sinh đi học thêm tại nhà cô.",  # the house is where the classes are
        "Ông ấy say xỉn tại nhà riêng rồi lên trụ sở UBND chửi dân.",  # both
        "Tôi đã gửi đơn lên UBND xã nhưng không có hồi âm.",  # a letter went there
        "Ông ấy chạy chức cho con trai vào làm ở UBND xã.",  # where the son works
        "Chị Trang ở bộ phận một cửa hẹn tôi ra quán cà phê.",  # where she works, not where it happened
    ],
)
def test_no_setting_when_unclear(text: str) -> None:
    """A house where office work happens, both settings, a letter sent, a job described: no setting."""
    assert read_story(text).setting is None


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("Việc này xảy ra tháng 10.", "tháng 10"),
        ("Hôm qua ông ấy lại đòi tiền.", "hôm qua"),
        ("Tuần trước ông ấy còn nhận thêm.", "tuần trước"),
        ("Chuyện kéo dài từ năm 2024.", "từ năm 2024"),
        ("Đầu năm nay bà ấy thu tiền Tết.", "đầu năm nay"),
        ("Tôi bị đòi tiền vào ngày 5/11.", "ngày 5/11"),
        ("hum wa e lên xã nộp hs", "hôm qua"),
        ("Từ tháng 3/2025 đến tháng 6/2025, kế toán lập khống chứng từ.", "từ tháng 3/2025 đến tháng 6/2025"),
        ("an bot tien an cua hoc sinh tu thang 9", "tu thang 9"),
        ("Người nhà bà ấy trúng thầu từ năm 2021 đến 2024.", "từ năm 2021 đến 2024"),
    ],
)
def test_times_as_written(text: str, when: str) -> None:
    """Dates, months, years and relative times, as the resident wrote them (chat spellings written out)."""
    assert _value(read_story(text).occurred) == when


@pytest.mark.parametrize(
    "text",
    [
        "Bố tôi năm nay 82 tuổi bị cắt trợ cấp.",  # an age
        "Tôi sinh năm 1975, xin phản ánh việc sau.",  # a birth year
        "Năm 2019 tôi nộp hồ sơ. Đến tháng 3 năm 2025 ông ấy đòi tiền.",  # two times
        "Ông ấy đòi 20 triệu, ở hẻm 5/11.",  # an address
    ],
)
def test_no_time_when_it_is_not_one_or_not_one_only(text: str) -> None:
    """An age, a birth year, an address number or two different times give no time."""
    assert read_story(text).occurred is None


# -- robustness ---------------------------------------------------------------------------------------


def test_spans_point_into_decomposed_text_too() -> None:
    """Text typed in NFD (combining marks) is read, and spans are offsets in that very text."""
    text = unicodedata.normalize("NFD", ISSUE_STORY)
    facts = read_story(text)
    assert facts.name is not None and facts.position is not None
    assert unicodedata.normalize("NFC", text[facts.name.start : facts.name.end]) == "Trần Văn B"
    assert unicodedata.normalize("NFC", text[facts.position.start : facts.position.end]) == "cán bộ địa chính"
    _spans_fit(text, facts)


@pytest.mark.parametrize("text", ["", "   ", "Xin chào, tôi cần giúp đỡ.", "北京市朝阳区", "\x00\ufeff" * 50])
def test_nothing_is_read_from_text_that_says_nothing(text: str) -> None:
    """Empty, unrelated or junk text gives no fact at all."""
    assert read_story(text) == StoryFacts()


def test_what_is_not_text_reads_as_nothing() -> None:
    """A caller passing something else than text gets no facts, not an exception."""
    assert read_story(cast(Any, None)) == StoryFacts()
    assert read_story(cast(Any, 42)) == StoryFacts()


def test_a_failure_reads_nothing_and_logs_no_story_text(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Should the reader fail, the report goes on with no facts, and the log names the error, not the words."""

    def broken(self: object) -> StoryFacts:
        raise KeyError("Trần Văn B")

    monkeypatch.setattr(story_module._Reader, "read", broken)
    with caplog.at_level("ERROR", logger="intake.dialog.story"):
        assert read_story(ISSUE_STORY) == StoryFacts()
    assert "KeyError" in caplog.text and "Trần" not in caplog.text and "Tran" not in caplog.text


def test_only_the_first_characters_of_a_long_story_are_read() -> None:
    """Past MAX_CHARS the story is not read: a fact written there is not found, and nothing breaks."""
    text = "x " * MAX_CHARS + ISSUE_STORY
    assert read_story(text) == StoryFacts()


_STORY_WORDS = (
    "ông bà anh chị tên là Trần Văn B Th. cán bộ địa chính xã phường thôn ấp Tân Phú Đồng Nai tỉnh huyện "
    "UBND ubnd ct pct bt ca cb trưởng thôn công an chủ tịch hiệu trưởng trường THCS phòng sở chi cục thuế "
    "tôi là bố mẹ con cháu của vợ tại ở nhà riêng trụ sở hàng xóm hôm qua tháng 10 năm 2024 từ đến nay ngày "
    "5/11 , . ; : - – ( ) \n tp HCM P. Q.1 hum wa tuổi sinh gửi đơn lên 20 triệu"
).split(" ")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_STORY_WORDS), max_size=400).map(" ".join))
def test_story_like_text_never_breaks_the_reader(text: str) -> None:
    """Any mix of the words stories are made of is read without error (unguarded), every span in the text."""
    _spans_fit(text, _read(text, default_rules()))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_STORY_WORDS), st.sampled_from(["", " ", ".", ",", "/"])), max_size=400))
def test_story_words_glued_by_any_punctuation_never_break_the_reader(parts: list[tuple[str, str]]) -> None:
    """Story words glued together or by stray punctuation ('xã.Tân/ông,') are read without error."""
    text = "".join(word + glue for word, glue in parts)
    _spans_fit(text, _read(text, default_rules()))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=5000))
def test_any_text_never_breaks_the_reader(text: str) -> None:
    """Any text up to 5,000 characters, in any script, is read without error (unguarded), spans in the text."""
    _spans_fit(text, _read(text, default_rules()))
