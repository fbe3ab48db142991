"""A button answers only its own question; labels sent as text (Zalo) and typed answers mean one thing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from intake.categories import CATEGORIES
from intake.classify import get_classifier
from intake.dialog import buttons as B
from intake.dialog.engine import fresh_state, step
from intake.dialog.types import Inbound, StepName
from intake.i18n import LANGUAGES, translator
from intake.search import fold
from tests.intake.conftest import Talk
from tests.intake.test_dialog import _to

vi = translator("vi")


def _asked(at: StepName) -> Talk:
    """A chat that opened the page and answered plausibly up to the question `at` (updates offered)."""
    talk = Talk(state=fresh_state("vi", can_push=True))
    talk.send(resume=True)
    _to(talk, at)
    return talk


def _old_button(talk: Talk, choice: str) -> str:
    """The payload of a button for `choice` under the question now asked, kept to be pressed later."""
    return B.payload(talk.state.question, choice)


def test_the_opt_in_button_pressed_after_cancel_deletes_nothing() -> None:
    """Issue 16: «Có, nhận thông báo» still on screen after /huy used to confirm the cancellation (both were "yes")."""
    talk = Talk(state=fresh_state("vi", can_push=True))
    _to(talk, StepName.NOTIFY)
    opt_in = _old_button(talk, "yes")
    talk.send("/huy")
    assert talk.at == StepName.CONFIRM_CANCEL
    before = talk.draft.model_copy()
    replies = talk.send(button=opt_in)
    assert replies[0].refused and talk.at == StepName.CONFIRM_CANCEL and talk.draft == before
    assert talk.payloads() == ["yes", "keep"], "the cancel question is asked again, with its own buttons"
    assert len(replies) == 2 and len(replies[1].text) < 80, "only the short question"


def test_an_old_not_known_button_does_not_answer_the_time_question() -> None:
    """Issue 16: an old «Không rõ» under the position question answered «when», and the summary read «chưa cung cấp»."""
    talk = Talk()
    _to(talk, StepName.ACCUSED_POSITION)
    unknown_position = _old_button(talk, "unknown")
    _to(talk, StepName.WHEN)
    replies = talk.send(button=unknown_position)
    assert replies[0].refused and talk.at == StepName.WHEN and talk.draft.occurred is None


def test_a_question_asked_again_gets_a_new_token() -> None:
    """The summary's «Gửi» from before an edit does not send the edited report: the summary was asked anew."""
    talk = Talk()
    _to(talk, StepName.REVIEW)
    first_send = _old_button(talk, "send")
    talk.press("edit")
    talk.press("edit:when")
    talk.send("đầu năm 2025")
    assert talk.at == StepName.REVIEW and talk.state.question != first_send.rsplit(":", 1)[0]
    replies = talk.send(button=first_send)
    assert replies[0].refused and talk.last is not None and talk.last.effect is None
    talk.press("send")
    assert talk.last is not None and talk.last.effect is not None


def test_a_reasked_question_keeps_its_buttons_valid() -> None:
    """A typed answer that is no choice re-asks the same question: the buttons shown before it still work."""
    talk = Talk()
    _to(talk, StepName.SETTING)
    workplace = _old_button(talk, "setting:workplace")
    talk.send("không hiểu")
    talk.send(button=workplace)
    assert talk.draft.setting == "workplace" and talk.at == StepName.WHEN


def test_forged_and_malformed_payloads_change_nothing() -> None:
    """A payload not made by the engine, or naming a choice this question never offered, is refused."""
    talk = Talk()
    _to(talk, StepName.SETTING)
    before = (talk.draft.model_copy(), talk.state.question)
    for forged in ("setting:workplace", "x", "", ":::", f"{talk.state.question}:setting:elsewhere", f"{talk.state.question}:cat:7"):
        replies = talk.send(button=forged)
        assert replies[0].refused and (talk.draft, talk.state.question) == before


def _walk_with_every_button(talk: Talk) -> list[tuple[str, str]]:
    """A whole report, noting (question, payload) of every button shown."""
    seen: list[tuple[str, str]] = []
    talk.send(resume=True)
    for _ in range(40):
        assert talk.last is not None
        seen += [(talk.state.question, b.payload) for r in talk.last.replies for b in r.buttons]
        if talk.at == StepName.REVIEW:
            break
        _to_next(talk)
    return seen


def _to_next(talk: Talk) -> None:
    """Answers the question now asked, pressing a button wherever there is one."""
    answers = {
        StepName.IDLE: lambda: talk.press("menu:report"),
        StepName.MODE: lambda: talk.press("mode:confidential"),
        StepName.DESCRIBE: lambda: talk.send("Ông phó chủ tịch UBND xã đòi 5 triệu mới ký giấy xác nhận đất cho nhà tôi"),
        StepName.FACTS: lambda: talk.press("facts:ok"),
        StepName.CATEGORY: lambda: talk.press("cat:7"),
        StepName.NOT_REPORT: lambda: talk.press("continue"),
        StepName.ACCUSED_NAME: lambda: talk.press("skip"),
        StepName.ACCUSED_POSITION: lambda: talk.press("unknown"),
        StepName.ACCUSED_AGENCY: lambda: talk.press("unknown"),
        StepName.PLACE: lambda: talk.send("Tân Phú"),
        StepName.PLACE_CHOICE: lambda: talk.press("place:0"),
        StepName.SETTING: lambda: talk.press("setting:residence"),
        StepName.WHEN: lambda: talk.press("unknown"),
        StepName.EVIDENCE: lambda: talk.press("skip"),
        StepName.REPORTER_NAME: lambda: talk.send("Lê Thị Hoa"),
        StepName.REPORTER_PHONE: lambda: talk.send("0912 345 678"),
        StepName.NOTIFY: lambda: talk.press("yes"),
    }
    answers[talk.at]()


def test_no_two_questions_share_a_payload() -> None:
    """Across a whole report every payload names one question: its step and that asking's token."""
    talk = Talk(state=fresh_state("vi", can_push=True))
    seen = _walk_with_every_button(talk)
    questions: dict[str, set[str]] = {}
    for question, data in seen:
        read = B.read_payload(data)
        assert read is not None and read.question == question
        questions.setdefault(data, set()).add(question)
    assert all(len(q) == 1 for q in questions.values())
    assert len({q for q, _ in seen}) >= 10, "each question asked its own token"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_fixed_label_means_one_thing(lang: str) -> None:
    """Zalo sends a label as text: no label stands for two different choices anywhere in the conversation."""
    t = translator(lang)
    meanings: dict[str, set[str]] = {}
    for buttons in B.FIXED.values():
        for choice, label in buttons:
            meanings.setdefault(fold(t._(label)), set()).add(choice)
    assert {label: c for label, c in meanings.items() if len(c) > 1} == {}
    # and no label is one of the short words read as yes or no somewhere
    assert not set(meanings) & (B.YES_WORDS | B.NO_WORDS | B.DONE_WORDS | B.NOT_KNOWN_WORDS)


def test_the_menu_label_at_the_summary_does_not_send_and_the_summary_label_when_idle_starts_nothing() -> None:
    """Issue 16: «Gửi phản ánh» was both the menu's "new report" and the summary's "send"."""
    assert vi._("New report") != vi._("Send this report")
    talk = Talk()
    _to(talk, StepName.REVIEW)
    replies = talk.send(vi._("New report"))  # an old menu button pressed in Zalo
    assert replies[0].refused and talk.last is not None and talk.last.effect is None and talk.at == StepName.REVIEW
    replies = talk.send("gui phan anh nay")  # the summary's label, without diacritics
    assert talk.last is not None and talk.last.effect is not None
    idle = Talk()
    idle.send(resume=True)
    replies = idle.send(vi._("Send this report"))
    assert replies[0].refused and idle.at == StepName.IDLE and idle.draft.is_empty()


@pytest.mark.parametrize(
    ("at", "typed", "field", "value"),
    [
        (StepName.NOTIFY, "có", "notify", True),
        (StepName.NOTIFY, "ko", "notify", False),
        (StepName.NOTIFY, "K", "notify", False),
        (StepName.NOTIFY, "Không", "notify", False),
        (StepName.NOTIFY, "1", "notify", True),
        (StepName.NOTIFY, "co, nhan thong bao", "notify", True),
        (StepName.SETTING, "TAI NOI CU TRU", "setting", "residence"),
        (StepName.SETTING, "2", "setting", "residence"),
        (StepName.SETTING, "ở nhà", "setting", "residence"),
        (StepName.MODE, "an danh", "mode", "anonymous"),
        (StepName.ACCUSED_POSITION, "không rõ", "accused_position", ""),
        (StepName.ACCUSED_AGENCY, "ko biết", "accused_agency", ""),
        (StepName.WHEN, "k", "occurred", ""),
    ],
)
def test_typed_answers_that_clearly_match_are_understood(at: StepName, typed: str, field: str, value: object) -> None:
    """A label without diacritics or case, its number, "có", "ko", "k", "không" are read as the choice."""
    talk = _asked(at)
    talk.send(typed)
    assert getattr(talk.draft, field) == value and talk.at != at


def test_yes_and_no_typed_at_the_cancel_question() -> None:
    """«đúng» cancels at the cancel question; «không» goes back to where the resident was."""
    talk = Talk()
    _to(talk, StepName.SETTING)
    talk.send("/huy")
    talk.send("không")
    assert talk.at == StepName.SETTING and talk.draft.description
    talk.send("/huy")
    talk.send("đúng")
    assert talk.at == StepName.IDLE and talk.draft.is_empty()


@pytest.mark.parametrize("at", [StepName.MODE, StepName.NOTIFY, StepName.REVIEW, StepName.SETTING])
def test_anything_else_repeats_only_the_short_question(at: StepName) -> None:
    """A typed answer that is no choice gets the short question with the same buttons, not the long text again."""
    talk = _asked(at)
    assert talk.last is not None
    long_text, shown = talk.last.replies[-1].text, talk.payloads()
    question = talk.state.question
    replies = talk.send("tôi không hiểu")
    assert len(replies) == 1 and len(replies[0].text) < 120 and len(replies[0].text) <= len(long_text)
    assert talk.payloads() == shown and talk.state.question == question and talk.at == at


def test_a_greeted_resident_typing_a_word_gets_the_short_menu() -> None:
    """At the menu, a short word (not a story) brings the short question, not the whole introduction again."""
    talk = Talk()
    intro = talk.send(resume=True)[0].text
    replies = talk.send("alo")
    assert len(replies) == 1 and len(replies[0].text) < len(intro) / 3
    assert talk.payloads() == ["menu:report", "menu:lookup", "menu:help"]


@pytest.mark.parametrize(
    ("typed", "at"),
    [
        ("Tôi muốn phản ánh", StepName.MODE),
        ("toi muon phan anh", StepName.MODE),
        ("muốn gửi phản ánh", StepName.MODE),
        ("phản ánh", StepName.MODE),
        ("Em muốn gửi phản ánh mới ạ.", StepName.MODE),
        ("tra cứu", StepName.LOOKUP_CODE),
        ("tôi muốn tra cứu", StepName.LOOKUP_CODE),
        ("kiểm tra phản ánh của tôi", StepName.LOOKUP_CODE),
    ],
)
def test_a_short_message_stating_an_intent_at_the_menu_chooses_it(typed: str, at: StepName) -> None:
    """The tester's «Tôi muốn phản ánh» at the menu re-showed the menu: a whole message that only states the intent is the choice."""
    talk = Talk()
    talk.send(resume=True)
    talk.send(typed)
    assert talk.at == at and not talk.draft.description_parts


@pytest.mark.parametrize("typed", ["hướng dẫn", "giúp tôi", "tôi cần giúp đỡ"])
def test_asking_for_help_at_the_menu_shows_the_help(typed: str) -> None:
    """«hướng dẫn», «giúp tôi» at the menu show the help and the menu again, as the «Hướng dẫn» button does."""
    talk = Talk()
    talk.send(resume=True)
    replies = talk.send(typed)
    assert "/tracuu" in replies[0].text and talk.at == StepName.IDLE and talk.draft.is_empty()


@pytest.mark.parametrize(
    "story",
    [
        "Tôi muốn phản ánh việc chủ tịch xã đòi 5 triệu mới ký giấy cho nhà tôi",
        "Giúp tôi với, cán bộ địa chính xã đòi tiền mới cấp sổ đỏ",
        "Tôi muốn tra cứu xem vì sao xã giữ sổ đỏ nhà tôi hai năm nay",
    ],
)
def test_a_story_that_begins_with_an_intent_is_still_a_story(story: str) -> None:
    """Precision first: a message that says more than the intent is the story typed at the menu, kept whole."""
    talk = Talk()
    talk.send(resume=True)
    talk.send(story)
    assert talk.at == StepName.MODE and talk.draft.description_parts == [story]


def _one_type_proposed(code: int) -> Talk:
    """A chat at the type question where the classifier proposed the single type `code`."""
    from dataclasses import replace

    from intake.classify import Suggestion
    from intake.dialog.tools import DEFAULT_TOOLS

    sure = replace(DEFAULT_TOOLS, suggest=lambda text: Suggestion(code, {code: 0.9}, [(code, 0.9)]))
    talk = Talk(tools=sure)
    _to(talk, StepName.CATEGORY)
    assert [p for p in talk.payloads() if p[4:].isdigit()] == [f"cat:{code}"]
    return talk


@pytest.mark.parametrize("typed", ["đúng", "dung", "Đúng rồi", "ok", "vâng", "phải", "có."])
def test_a_yes_typed_when_one_type_is_proposed_chooses_it(typed: str) -> None:
    """The tester's «đúng» at a single proposed type repeated the question: a clear yes takes the one type shown."""
    talk = _one_type_proposed(3)
    talk.send(typed)
    assert talk.draft.category == 3 and talk.at == StepName.ACCUSED_NAME


def test_a_no_typed_when_one_type_is_proposed_shows_all_types() -> None:
    """«không» to the single proposed type is «Loại khác»: all nine are shown, none chosen."""
    talk = _one_type_proposed(3)
    talk.send("không")
    assert talk.draft.category is None and talk.at == StepName.CATEGORY
    assert [p for p in talk.payloads() if p[4:].isdigit()] == [f"cat:{c}" for c in range(1, 10)]
    talk.send("đúng")  # nine types shown: a yes says none of them
    assert talk.draft.category is None and talk.at == StepName.CATEGORY


def test_a_yes_typed_when_several_types_are_proposed_chooses_none() -> None:
    """With two types proposed «đúng» says neither: the short question comes again."""
    from dataclasses import replace

    from intake.classify import Suggestion
    from intake.dialog.tools import DEFAULT_TOOLS

    two = replace(DEFAULT_TOOLS, suggest=lambda text: Suggestion(3, {3: 0.6, 5: 0.4}, [(3, 0.6), (5, 0.4)]))
    talk = Talk(tools=two)
    _to(talk, StepName.CATEGORY)
    assert [p for p in talk.payloads() if p[4:].isdigit()] == ["cat:3", "cat:5"]
    talk.send("đúng")
    assert talk.draft.category is None and talk.at == StepName.CATEGORY


@pytest.mark.parametrize(
    ("at", "typed", "field", "value"),
    [
        (StepName.NOTIFY, "Vâng.", "notify", True),
        (StepName.NOTIFY, "phải", "notify", True),
        (StepName.NOTIFY, "Không!", "notify", False),
    ],
)
def test_yes_and_no_with_a_full_stop_or_as_phai_are_understood(at: StepName, typed: str, field: str, value: object) -> None:
    """«Vâng.», «Không!» say no more than «vâng», «không»; «phải» is a yes."""
    talk = _asked(at)
    talk.send(typed)
    assert getattr(talk.draft, field) == value and talk.at != at


def test_a_yes_to_the_evidence_question_is_no_evidence_note() -> None:
    """«Có» to «do you have evidence?» was filed as «Chứng cứ: có»: it asks how to send it, and notes nothing."""
    talk = _asked(StepName.EVIDENCE)
    before, question = list(talk.draft.description_parts), talk.state.question
    replies = talk.send("Có ạ.")
    assert talk.at == StepName.EVIDENCE and talk.draft.description_parts == before and not talk.draft.evidence_done
    assert replies[-1].text == vi._("Please send the files here, or describe the evidence in a message.")
    assert talk.payloads() == ["skip"] and talk.state.question == question, "the «Không có chứng cứ» shown before still works"
    talk.send("không")
    assert talk.draft.evidence_done and talk.at != StepName.EVIDENCE


def test_not_knowing_the_commune_typed_keeps_the_province() -> None:
    """«không rõ» to «which commune of Đồng Nai?» was looked up as a place name; it is «Không rõ xã, phường»."""
    talk = _asked(StepName.PLACE)
    talk.send("tỉnh Đồng Nai")
    assert talk.at == StepName.PLACE_CHOICE and "place:no_commune" in talk.payloads()
    talk.send("không rõ")
    assert talk.draft.province_name == "Đồng Nai" and talk.draft.commune_name is None and talk.at != StepName.PLACE_CHOICE


@pytest.fixture(scope="module", autouse=True)
def _loaded() -> None:
    """The classifier loaded once, outside the examples."""
    get_classifier().suggest("Cán bộ xã nhận tiền của dân")


ANSWERS = [
    "Chủ tịch xã Yên Sở đòi 5 triệu đồng mới ký giấy xác nhận đất cho nhà tôi",
    "Nguyễn Văn B",
    "phó chủ tịch UBND xã",
    "phường Bến Thành, TP Hồ Chí Minh",
    "Tân Phú",
    "0912345678",
    "có",
    "không",
    "/huy",
    "/tracuu",
]


class OldButtons(RuleBasedStateMachine):
    """Any walk; at any moment a button of a question no longer asked is pressed (or its label sent as
    text): the draft, the step and the question stay exactly as they were, and the answer says so."""

    def __init__(self) -> None:
        super().__init__()
        self.talk = Talk(state=fresh_state("vi", can_push=True))
        self.shown: list[tuple[str, str, str]] = []  # (question, payload, label) of every button ever shown

    def _note(self) -> None:
        assert self.talk.last is not None
        self.shown += [(self.talk.state.question, b.payload, b.label) for r in self.talk.last.replies for b in r.buttons]

    @initialize()
    def start(self) -> None:
        self.talk.send(resume=True)
        self._note()

    @rule(data=st.data())
    def press_a_current_button(self, data: st.DataObject) -> None:
        current = [(q, p, label) for q, p, label in self.shown if q == self.talk.state.question]
        if current:
            self.talk.send(button=data.draw(st.sampled_from(current))[1])
            self._after_effect()

    @rule(text=st.sampled_from(ANSWERS))
    def type_something(self, text: str) -> None:
        self.talk.send(text)
        self._after_effect()

    def _after_effect(self) -> None:
        last = self.talk.last
        assert last is not None
        if last.effect is not None:
            self.talk.send(event=_outcome(last.effect))
        self._note()

    @precondition(lambda self: any(q != self.talk.state.question for q, _, _ in self.shown))
    @rule(data=st.data(), as_text=st.booleans())
    def press_an_old_button(self, data: st.DataObject, as_text: bool) -> None:
        old = [(q, p, label) for q, p, label in self.shown if q != self.talk.state.question]
        _question, payload, label = data.draw(st.sampled_from(old))
        state, draft = self.talk.state.model_copy(deep=True), self.talk.draft.model_copy(deep=True)
        if as_text:
            if not any(fold(label) == fold(translator("vi")._(msgid)) for buttons in B.FIXED.values() for _, msgid in buttons):
                return  # a place's name: typed, it is an answer like any other
            if any(fold(label) == fold(lab) for q, _, lab in self.shown if q == state.question):
                return  # the same label under the question now asked: that is its answer
            if any(step == state.step and choice in state.offered for step, choice in B.known_labels().get(fold(label), ())):
                return  # a choice the question now asked takes (any of the nine types, at the type question)
            if B.typed_choice(state.step, fold(label), state.offered, [choice for choice, _ in state.buttons]) is not None:
                return  # words the question now asked reads as its own answer («Tại nơi làm việc» at «is this right?»)
            result = step(state, draft, Inbound(text=label))
        else:
            result = step(state, draft, Inbound(button=payload))
        answer = [r for r in result.replies if r.receipt is None]  # a receipt not yet confirmed comes first
        assert answer[0].refused and result.effect is None
        assert result.draft == draft and (result.state.step, result.state.question) == (state.step, state.question)

    @invariant()
    def payloads_name_the_question_asked(self) -> None:
        last = self.talk.last
        if last is not None:
            for reply in last.replies:
                for button in reply.buttons:
                    read = B.read_payload(button.payload)
                    assert read is not None and read.question == self.talk.state.question


def _outcome(effect: object) -> object:
    from intake.dialog.types import AddInfo, InfoAdded, LookupResult, Submitted, SubmitReport

    if isinstance(effect, SubmitReport):
        return Submitted("ABCD-EFGH-JKLM", "abcd-efgh-jkmn", "MTTQ xã A")
    if isinstance(effect, AddInfo):
        return InfoAdded()
    return LookupResult(found=False)


TestOldButtons = OldButtons.TestCase
TestOldButtons.settings = settings(max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_category_names_are_labels_of_the_type_question_only() -> None:
    """The nine types are fixed labels of one question, so a type's name typed elsewhere is no stray answer."""
    labels = B.known_labels()
    for code in range(1, 10):
        assert {step for step, _ in labels[fold(vi._(CATEGORIES[code].short))]} == {StepName.CATEGORY}


def test_every_change_of_the_edit_menu_clears_its_question() -> None:
    """Each button of the edit menu names what it clears, so its question is asked again."""
    from intake.dialog.report import EDIT_CLEARS

    assert set(EDIT_CLEARS) == {choice for choice, _ in B.EDITS}
