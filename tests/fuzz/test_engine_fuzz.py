"""Any sequence of messages, buttons and commands: the engine never raises and never loses a filed report."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from intake.classify import get_classifier
from intake.conversation import Conversation
from intake.dialog.engine import fresh_state, step
from intake.dialog.types import (
    AddInfo,
    AttachmentInfo,
    Draft,
    Failed,
    Inbound,
    InfoAdded,
    LookUp,
    LookupResult,
    Reply,
    Submitted,
    SubmitReport,
)
from intake.models import Case, DialogSession
from intake.receipts import receipt_hash

# Answers a resident would give, so that random walks often reach the end of a report.
GOOD_TEXTS = [
    "Chủ tịch xã Yên Sở đòi 5 triệu đồng mới ký giấy xác nhận đất cho nhà tôi",
    "Cán bộ địa chính phường nhận tiền của dân để làm sổ đỏ nhanh",
    "Nguyễn Văn B",
    "phó chủ tịch UBND xã",
    "UBND phường Bến Thành",
    "phường Bến Thành, TP Hồ Chí Minh",
    "xã Yên Sở, huyện Hoài Đức, Hà Nội",
    "tháng 3 năm nay",
    "Trần Thị C",
    "0912345678",
    "xong", "bỏ qua", "không biết", "1", "2", "3", "có", "không", "gửi", "sửa",
    "xin chào",
]
COMMANDS = ["/start", "/batdau", "/baocao", "/tracuu", "/tracuu ABCD-EFGH-JKLM abcd-efgh-jkmn", "/huy", "/trogiup",
            "/ngonngu", "/ngonngu en", "/ngonngu vi", "/", "//", "/xyz", "/start@phananh_bot", "/TRACUU", "/huy huy"]
JUNK = st.text(st.characters(codec=None, exclude_categories=("Cs",)), max_size=80)
# Weighted towards answers that move a report forward, so that many walks reach the filing.
ACTIONS = ("good",) * 4 + ("valid",) * 8 + ("label", "invalid", "command", "junk", "resume", "unsupported", "long")


@dataclass
class Action:
    """One thing the resident does, drawn against the buttons the last reply offered."""

    kind: str
    text: str = ""
    button: str | None = None


def _draw(data: st.DataObject, offered: list[tuple[str, str]]) -> Inbound:
    """The resident's next message: good text, a valid or stale button, a typed label, a command or junk."""
    kind = data.draw(st.sampled_from(ACTIONS))
    if kind in ("valid", "label") and offered:
        payload, label = data.draw(st.sampled_from(offered))
        return Inbound(button=payload) if kind == "valid" else Inbound(text=label)
    if kind == "invalid":
        return Inbound(button=data.draw(st.one_of(st.sampled_from(["menu:report", "send", "cat:7", "edit:place", "x"]), JUNK)))
    if kind == "command":
        return Inbound(text=data.draw(st.one_of(st.sampled_from(COMMANDS), JUNK.map(lambda s: "/" + s))))
    if kind == "junk":
        return Inbound(text=data.draw(JUNK))
    if kind == "resume":
        return Inbound(resume=True)
    if kind == "unsupported":
        return Inbound(unsupported=data.draw(st.sampled_from(["sticker", "location", "edited_message"])))
    if kind == "long":
        return Inbound(text="Cán bộ nhận tiền. " * data.draw(st.integers(300, 1500)))
    return Inbound(text=data.draw(st.sampled_from(GOOD_TEXTS)))


def _offered(replies: list[Reply]) -> list[tuple[str, str]]:
    return [(b.payload, b.label) for r in replies for b in r.buttons]


@pytest.fixture(scope="module", autouse=True)
def _loaded() -> None:
    """The classifier loaded once, outside the examples."""
    get_classifier().suggest("Cán bộ xã nhận tiền của dân")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), length=st.integers(1, 60))
def test_step_never_raises_and_files_only_complete_drafts(data: st.DataObject, length: int) -> None:
    """The pure engine takes any sequence; it asks to file only a described, placed draft, and forgets it once filed."""
    state, draft = fresh_state("vi"), Draft()
    offered: list[tuple[str, str]] = []
    for _ in range(length):
        message = _draw(data, offered)
        if data.draw(st.integers(0, 9)) == 0:
            message = Inbound(attachments=(AttachmentInfo(id=data.draw(st.integers(1, 10**6)), kind="photo"),))
        result = step(state, draft, message)
        replies = list(result.replies)
        if result.effect is not None:
            effect = result.effect
            if isinstance(effect, SubmitReport):
                assert result.draft.description.strip() and result.draft.mode and result.draft.province_code
                event: Submitted | LookupResult | InfoAdded | Failed = data.draw(
                    st.sampled_from([Submitted("ABCD-EFGH-JKLM", "abcd-efgh-jkmn", "MTTQ"), Failed("error")])
                )
            elif isinstance(effect, LookUp):
                event = data.draw(st.sampled_from([LookupResult(found=False), LookupResult(True, 7, "ABCD-EFGH-JKLM", "new"), Failed("x")]))
            else:
                assert isinstance(effect, AddInfo) and effect.text.strip()
                event = InfoAdded()
            before = result.draft
            result = step(result.state, result.draft, Inbound(event=event))
            replies += result.replies
            if isinstance(event, Submitted):
                assert result.draft.is_empty(), "a filed draft is forgotten"
                assert any(r.receipt == "ABCD-EFGH-JKLM" for r in replies), "the receipt is shown"
            elif isinstance(event, Failed) and isinstance(effect, SubmitReport):
                assert result.draft == before, "a failed filing keeps every word of the draft"
        assert replies, "every message gets an answer"
        assert all(isinstance(r.text, str) and r.text for r in replies)
        state, draft, offered = result.state, result.draft, _offered(replies)


@dataclass
class Recording(Conversation):
    """The real runner, noting each filing it carries out and what it filed."""

    filed: list[tuple[str, str]] = field(default_factory=list)  # (receipt, description)
    failed: list[str] = field(default_factory=list)

    def _carry_out(self, session, effect, draft, state, chat_id, dialog_id):  # type: ignore[no-untyped-def]
        event = super()._carry_out(session, effect, draft, state, chat_id, dialog_id)
        if isinstance(effect, SubmitReport):
            if isinstance(event, Submitted):
                self.filed.append((event.receipt, draft.description))
            else:
                self.failed.append(draft.description)
        return event


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data(), length=st.integers(10, 60))
def test_conversation_never_raises_and_keeps_every_filed_report(db: Session, data: st.DataObject, length: int) -> None:
    """Through the database runner: every SubmitReport makes a case that is still there with its text."""
    conversation = Recording(channel="web")
    chat_id = secrets.token_urlsafe(16)
    offered: list[tuple[str, str]] = []
    for _ in range(length):
        replies = conversation.handle(chat_id, _draw(data, offered), lang=data.draw(st.sampled_from([None, "vi", "en"])))
        assert replies and all(r.text for r in replies)
        offered = _offered(replies)
    assert not conversation.failed, "no filing of a complete draft fails"
    db.expire_all()
    for receipt, description in conversation.filed:
        case = db.exec(select(Case).where(Case.receipt_hash == receipt_hash(receipt))).first()
        assert case is not None and case.description == description and description.strip()
    assert db.exec(select(DialogSession)).first() is not None


@pytest.mark.parametrize("typed", ["¹", "²", "①", "٣", "𝟙", "Ⅻ", "0", "99999999999999999999"])
def test_numbers_typed_in_other_scripts_are_not_choices(typed: str) -> None:
    """A digit from another script (found by the fuzzer: int("¹") raises) is read as no choice, not a crash."""
    state = fresh_state("vi")
    first = step(state, Draft(), Inbound(button="menu:report"))
    result = step(first.state, first.draft, Inbound(text=typed))
    assert result.replies and result.state.step == first.state.step
