"""Read the story before asking: what it says is shown in one message to confirm, each item correctable,
and only what is missing is asked (issue 16, item 2, the conversation's side).

The reader itself (intake.dialog.story) has its own tests; here the facts a story "said" are given
directly (the reader's own types), so that these tests pin the conversation alone.
"""

from __future__ import annotations

from dataclasses import replace

from intake.dialog.story import Found, FoundPlace, StoryFacts
from intake.dialog.tools import DEFAULT_TOOLS, Tools
from intake.dialog.types import StepName, SubmitReport
from tests.intake.conftest import Talk

STORY = "Ông Trần Văn B là cán bộ địa chính xã Tân Phú, tỉnh Đồng Nai, đòi tôi đưa 20 triệu. Chuyện xảy ra hôm 5/11 tại trụ sở UBND xã."


def fact(value: str, **place: str) -> Found:
    """A fact as the reader gives it: a FoundPlace when province codes are given, else a Found."""
    return FoundPlace(value, 0, len(value), **place) if place else Found(value, 0, len(value))  # type: ignore[arg-type]


def facts(said: dict[str, Found]) -> StoryFacts:
    """What a story says, as intake.dialog.story.read_story returns it."""
    return StoryFacts(**said)  # type: ignore[arg-type]


EVERYTHING = {
    "name": fact("Trần Văn B"),
    "position": fact("cán bộ địa chính"),
    "agency": fact("xã Tân Phú"),
    "place": fact("xã Tân Phú, tỉnh Đồng Nai", province_code="75", province_name="Đồng Nai", commune_code="26116", commune_name="Xã Tân Phú"),
    "setting": fact("workplace"),
    "occurred": fact("hôm 5/11"),
}


def _talk(said: dict[str, Found], *, can_push: bool = False) -> Talk:
    from intake.dialog.engine import fresh_state

    tools: Tools = replace(DEFAULT_TOOLS, read_story=lambda text: facts(said))
    talk = Talk(state=fresh_state("vi", can_push=can_push), tools=tools)
    talk.send(resume=True)
    talk.press("menu:report")
    talk.press("mode:anonymous")
    return talk


def test_what_the_story_says_is_shown_in_one_message_with_a_way_to_correct_each_item() -> None:
    """Issue 16: the bot asked name, position, unit and place one by one after a story that said them all."""
    talk = _talk(EVERYTHING)
    replies = talk.send(STORY)
    assert talk.at == StepName.FACTS and len(replies) == 1
    text = replies[0].text
    for line in ("Người bị phản ánh: Trần Văn B", "Chức vụ: cán bộ địa chính", "Cơ quan, đơn vị: xã Tân Phú",
                 "Nơi xảy ra: Xã Tân Phú, Đồng Nai", "Tại nơi làm việc", "Thời gian: hôm 5/11"):  # fmt: skip
        assert line in text, line
    assert talk.payloads() == ["facts:ok", "fix:name", "fix:position", "fix:agency", "fix:place", "fix:setting", "fix:occurred"]
    d = talk.draft
    assert (d.accused_name, d.accused_position, d.accused_agency, d.province_code, d.commune_code, d.setting, d.occurred) == (
        "Trần Văn B", "cán bộ địa chính", "xã Tân Phú", "75", "26116", "workplace", "hôm 5/11"
    )


def test_confirmed_it_asks_only_what_is_missing() -> None:
    """«Đúng» and then: the type, evidence, the summary. Nothing the story said is asked again."""
    talk = _talk(EVERYTHING)
    talk.send(STORY)
    asked = []
    talk.press("facts:ok")
    for _ in range(10):
        asked.append(talk.at)
        if talk.at == StepName.REVIEW:
            break
        {StepName.CATEGORY: lambda: talk.press("cat:7"), StepName.NOT_REPORT: lambda: talk.press("continue"),
         StepName.EVIDENCE: lambda: talk.press("skip")}[talk.at]()  # fmt: skip
    assert asked in ([StepName.CATEGORY, StepName.EVIDENCE, StepName.REVIEW], [StepName.NOT_REPORT, StepName.CATEGORY, StepName.EVIDENCE, StepName.REVIEW])
    talk.press("send")
    assert isinstance(talk.last.effect, SubmitReport)  # type: ignore[union-attr]


def test_a_wrong_item_is_corrected_then_the_rest_confirmed() -> None:
    """«Sửa tên» asks the name; once answered, the other items are shown again until they are confirmed."""
    talk = _talk(EVERYTHING)
    talk.send(STORY)
    replies = talk.press("fix:name")
    assert talk.at == StepName.ACCUSED_NAME and talk.draft.accused_name is None and "tên" in replies[-1].text
    replies = talk.send("Trần Văn Bình")
    assert talk.at == StepName.FACTS and "Trần Văn" not in replies[-1].text.split("\n")[1]
    assert "fix:name" not in talk.payloads() and "fix:place" in talk.payloads()
    talk.press("fix:place")
    assert talk.at == StepName.PLACE and talk.draft.province_code is None
    talk.send("phường Bến Thành, TP Hồ Chí Minh")
    assert talk.at == StepName.FACTS and talk.draft.commune_code == "26743"
    talk.send("đúng")  # typed yes confirms
    assert talk.draft.accused_name == "Trần Văn Bình" and talk.draft.unconfirmed == [] and talk.at != StepName.FACTS


def test_only_what_the_story_says_is_shown_and_the_rest_is_asked() -> None:
    """A story that names the post and the time: the confirmation lists those two; name, agency and place come after."""
    talk = _talk({"position": fact("chủ tịch xã"), "occurred": fact("tháng 10")})
    replies = talk.send("Chủ tịch xã đòi tiền của dân từ tháng 10, ai không đưa thì không được ký giấy")
    assert talk.payloads() == ["facts:ok:workplace", "facts:ok:residence", "fix:position", "fix:occurred"]
    assert "Chức vụ: chủ tịch xã" in replies[-1].text
    talk.send("đúng")  # typed: confirms; where it happened (work or home) is then asked on its own
    seen = []
    for _ in range(10):
        if talk.at == StepName.EVIDENCE:
            break
        seen.append(talk.at)
        {StepName.CATEGORY: lambda: talk.press("cat:7"), StepName.NOT_REPORT: lambda: talk.press("continue"),
         StepName.ACCUSED_NAME: lambda: talk.press("skip"), StepName.ACCUSED_AGENCY: lambda: talk.send("UBND xã"),
         StepName.PLACE: lambda: talk.send("phường Bến Thành, TP Hồ Chí Minh"),
         StepName.SETTING: lambda: talk.press("setting:workplace")}[talk.at]()  # fmt: skip
    assert StepName.ACCUSED_POSITION not in seen and StepName.WHEN not in seen
    assert {StepName.ACCUSED_NAME, StepName.ACCUSED_AGENCY, StepName.PLACE, StepName.SETTING} <= set(seen)


def test_a_story_that_says_nothing_goes_straight_to_the_questions() -> None:
    """Nothing found: no confirmation at all."""
    talk = _talk({})
    talk.send("Có người đòi tiền nhà tôi mới làm giấy tờ, tôi thấy không đúng")
    assert talk.at in (StepName.CATEGORY, StepName.NOT_REPORT)


def test_a_province_without_its_commune_asks_the_commune_within_it() -> None:
    """A place settled only to a province is not pre-filled: the place question asks its commune, within it."""
    talk = _talk({"place": fact("Đồng Nai", province_code="75", province_name="Đồng Nai")})
    talk.send("Cán bộ ở Đồng Nai đòi tiền mới làm sổ đỏ cho dân")
    assert talk.at in (StepName.CATEGORY, StepName.NOT_REPORT) and talk.draft.province_code is None
    for _ in range(6):
        if talk.at == StepName.PLACE_CHOICE:
            break
        {StepName.CATEGORY: lambda: talk.press("cat:7"), StepName.NOT_REPORT: lambda: talk.press("continue"),
         StepName.ACCUSED_NAME: lambda: talk.press("skip"), StepName.ACCUSED_POSITION: lambda: talk.press("unknown"),
         StepName.ACCUSED_AGENCY: lambda: talk.press("unknown")}[talk.at]()  # fmt: skip
    assert talk.at == StepName.PLACE_CHOICE and "Đồng Nai" in talk.last.replies[-1].text  # type: ignore[union-attr]
    talk.send("Tân Phú")
    assert talk.draft.province_code == "75" and talk.draft.commune_code == "26116"


def test_more_story_at_the_confirmation_is_added_and_read_again() -> None:
    """Words sent while the confirmation is on screen are more of the story: added, read, the confirmation shown again."""
    calls: list[str] = []

    def reader(text: str) -> StoryFacts:
        calls.append(text)
        return facts({"position": fact("chủ tịch xã")} | ({"occurred": fact("tháng 10")} if "tháng 10" in text else {}))

    from intake.dialog.engine import fresh_state

    talk = Talk(state=fresh_state("vi"), tools=replace(DEFAULT_TOOLS, read_story=reader))
    talk.send(resume=True)
    talk.press("menu:report")
    talk.press("mode:anonymous")
    talk.send("Chủ tịch xã đòi tiền của dân mới ký giấy tờ đất đai")
    assert talk.payloads()[2:] == ["fix:position"]
    talk.send("Việc này xảy ra từ tháng 10 năm ngoái, nhiều hộ bị như vậy")
    assert talk.at == StepName.FACTS and talk.payloads()[2:] == ["fix:position", "fix:occurred"]
    assert len(calls) == 2 and "tháng 10" in calls[1] and "Chủ tịch xã" in calls[1]


def test_a_story_typed_before_any_button_is_read_too() -> None:
    """Starting with the story itself: after the identity question, the confirmation."""
    from intake.dialog.engine import fresh_state

    talk = Talk(state=fresh_state("vi"), tools=replace(DEFAULT_TOOLS, read_story=lambda text: facts(EVERYTHING)))
    talk.send(resume=True)
    talk.send(STORY)
    assert talk.at == StepName.MODE
    talk.press("mode:anonymous")
    assert talk.at == StepName.FACTS


def test_the_real_reader_on_the_issues_story() -> None:
    """With intake.dialog.story: «Ông Trần Văn B là cán bộ địa chính xã Tân Phú…» pre-fills the name and the post."""
    from intake.dialog.engine import fresh_state

    talk = Talk(state=fresh_state("vi"))
    talk.send(resume=True)
    talk.press("menu:report")
    talk.press("mode:anonymous")
    replies = talk.send(STORY)
    assert talk.at == StepName.FACTS
    assert "Trần Văn B" in replies[-1].text and "cán bộ địa chính" in replies[-1].text
    assert talk.draft.accused_name == "Trần Văn B"


def test_when_the_story_does_not_say_work_or_home_the_confirmation_asks_it_in_the_same_tap() -> None:
    """«Đúng, ở nơi cư trú» confirms what the story said and answers the setting: one question fewer."""
    talk = _talk({k: v for k, v in EVERYTHING.items() if k != "setting"})
    replies = talk.send(STORY)
    assert [b.label for b in replies[-1].buttons[:2]] == ["Đúng, ở nơi làm việc", "Đúng, ở nơi cư trú"]
    assert "nơi làm việc hay nơi cư trú" in replies[-1].text
    talk.press("facts:ok:residence")
    assert talk.draft.setting == "residence" and talk.draft.unconfirmed == []
    for _ in range(6):
        assert talk.at != StepName.SETTING
        if talk.at == StepName.REVIEW:
            break
        {StepName.CATEGORY: lambda: talk.press("cat:9"), StepName.NOT_REPORT: lambda: talk.press("continue"),
         StepName.EVIDENCE: lambda: talk.press("skip")}[talk.at]()  # fmt: skip
    assert talk.at == StepName.REVIEW


def test_typed_words_for_work_or_home_at_the_confirmation() -> None:
    """In Zalo, or typing: «ở nhà» at the confirmation is «Đúng, ở nơi cư trú»."""
    talk = _talk({"position": fact("trưởng thôn")})
    talk.send("Trưởng thôn tổ chức đánh bạc ăn tiền, ai cũng biết")
    talk.send("ở nhà")
    assert talk.draft.setting == "residence" and talk.draft.unconfirmed == [] and talk.at != StepName.FACTS
