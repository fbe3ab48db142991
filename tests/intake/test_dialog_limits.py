"""PHANANH_MAX_ATTACHMENTS_PER_REPORT and PHANANH_MAX_MESSAGE_CHARS, enforced by the engine for every channel."""

from __future__ import annotations


import pytest
from sqlmodel import Session, select

import intake.dialog.types as dialog_types
from intake.attachments import store_attachment
from intake.config import get_settings
from intake.conversation import Conversation
from intake.crypto import decrypt
from intake.dialog.engine import fresh_state, step
from intake.dialog.types import AttachmentInfo, Draft, Inbound, Limits, Reply, StepName
from intake.models import Attachment, Case, DialogSession

from tests.dialog_helpers import payload_for, pressing

from .test_conversation import STORY

AT_EVIDENCE = Draft(
    mode="anonymous",
    description_parts=[STORY],
    description_done=True,
    category=7,
    accused_name="",
    accused_position="",
    accused_agency="",
    place_text="phường Bến Thành, TP Hồ Chí Minh",
    province_code="79",
    province_name="TP Hồ Chí Minh",
    setting="workplace",
    occurred="",
)


def _at(name: StepName, draft: Draft = AT_EVIDENCE) -> tuple[object, Draft]:
    state = fresh_state("vi")
    state.step = name
    return state, draft


def _files(*ids: int) -> Inbound:
    return Inbound(attachments=tuple(AttachmentInfo(id=i, kind="photo") for i in ids))


# -- the engine -------------------------------------------------------------------------------


def test_files_beyond_the_cap_are_refused_politely_and_not_kept() -> None:
    """Up to the cap files are taken; the one over it is refused with the limit, and the question says «Done»."""
    limits = Limits(max_attachments=2)
    state, draft = _at(StepName.EVIDENCE)
    for i in (1, 2):
        result = step(state, draft, _files(i), limits=limits)  # type: ignore[arg-type]
        state, draft = result.state, result.draft
    assert draft.attachments == [1, 2] and not any(("Xin lỗi" in r.text or "Sorry" in r.text) for r in result.replies)
    assert "số tệp tối đa" in result.replies[-1].text or "as many as" in result.replies[-1].text, "no invitation to send more"
    result = step(state, draft, _files(3), limits=limits)  # type: ignore[arg-type]
    assert result.draft.attachments == [1, 2] and result.state.step == StepName.EVIDENCE
    text = " ".join(r.text for r in result.replies)
    assert "2" in text and ("tối đa 2 tệp" in text or "at most 2 files" in text)
    assert [p for p, _ in result.state.buttons] == ["done"]


def test_the_resident_is_told_truly_whether_hidden_data_was_removed() -> None:
    """A cleaned file: "removed"; a kind that cannot be cleaned: saved as sent, said plainly, with what to send instead."""
    state, draft = _at(StepName.EVIDENCE)
    cleaned = step(state, draft, Inbound(attachments=(AttachmentInfo(id=1, kind="photo", metadata_removed=True),)))
    texts = " ".join(r.text for r in cleaned.replies)
    assert "đã được xóa" in texts and "lưu nguyên" not in texts
    kept = step(state, draft, Inbound(attachments=(AttachmentInfo(id=2, kind="document", metadata_removed=False),)))
    texts = " ".join(r.text for r in kept.replies)
    assert "lưu nguyên như Anh/Chị gửi" in texts and "đã được xóa khỏi" not in texts


def test_a_batch_over_the_cap_keeps_what_fits() -> None:
    """Several files at once (Zalo sends albums): those that fit are kept, the rest counted as refused."""
    state, draft = _at(StepName.EVIDENCE)
    result = step(state, draft, _files(7, 8, 9), limits=Limits(max_attachments=2))  # type: ignore[arg-type]
    assert result.draft.attachments == [7, 8]
    assert any(("1 tệp" in r.text) or ("1 file(s)" in r.text) for r in result.replies)


def test_a_cap_of_zero_takes_no_files_and_asks_for_a_description() -> None:
    """With files turned off the evidence question asks for words, and a file sent anyway is refused."""
    limits = Limits(max_attachments=0)
    state = fresh_state("vi")
    state.step = StepName.WHEN
    asked = step(state, AT_EVIDENCE.model_copy(update={"occurred": None}), Inbound(resume=True), limits=limits)
    result = step(asked.state, asked.draft, Inbound(button=payload_for(asked.replies, "unknown")), limits=limits)
    assert result.state.step == StepName.EVIDENCE
    asked = result.replies[-1].text
    result = step(result.state, result.draft, _files(5), limits=limits)
    assert result.draft.attachments == [] and result.replies[-1].text == asked


@pytest.mark.parametrize(
    ("name", "draft"),
    [
        (StepName.IDLE, Draft()),
        (StepName.DESCRIBE, Draft(mode="anonymous", description_parts=["Cán bộ xã nhận tiền"])),
        (StepName.ACCUSED_NAME, AT_EVIDENCE.model_copy(update={"accused_name": None})),
        (StepName.EVIDENCE, AT_EVIDENCE),
        (StepName.CONFIRM_CANCEL, AT_EVIDENCE),
    ],
)
def test_a_message_over_the_limit_is_refused_with_the_limit_and_nothing_lost(name: StepName, draft: Draft) -> None:
    """At any question: the limit is named, the draft is unchanged, and the same question is asked again."""
    limits = Limits(max_message_chars=1200)
    state, draft = _at(name, draft)
    before = step(state, draft, Inbound(text="/trogiup"), limits=limits)  # type: ignore[arg-type]
    result = step(state, draft, Inbound(text="Cán bộ nhận tiền. " * 100), limits=limits)  # type: ignore[arg-type]
    assert "1.200" in result.replies[0].text and "quá dài" in result.replies[0].text
    assert result.draft == draft and result.state.step == state.step  # type: ignore[attr-defined]
    assert result.replies[-1].text == before.replies[-1].text, "the same question again"
    fits = step(state, draft, Inbound(text="Cán bộ nhận tiền. " * 60), limits=limits)  # type: ignore[arg-type]
    assert "1.200" not in " ".join(r.text for r in fits.replies), "under the limit it goes to the question (which may have its own)"


def test_the_limit_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without explicit limits the engine reads PHANANH_MAX_MESSAGE_CHARS and the attachment cap."""
    low = get_settings().model_copy(update={"max_message_chars": 300, "max_attachments_per_report": 1, "draft_ttl_hours": 6})
    monkeypatch.setattr(dialog_types, "get_settings", lambda: low)
    state, draft = _at(StepName.DESCRIBE, Draft(mode="anonymous"))
    result = step(state, draft, Inbound(text="a" * 301))  # type: ignore[arg-type]
    assert "300" in result.replies[0].text and result.draft == draft
    state, draft = _at(StepName.EVIDENCE)
    assert step(state, draft, _files(1, 2)).draft.attachments == [1]  # type: ignore[arg-type]
    assert "6 giờ" in step(state, draft, Inbound(text="/trogiup")).replies[0].text  # type: ignore[arg-type]


# -- through the database ---------------------------------------------------------------------

TO_EVIDENCE = [
    Inbound(resume=True),
    Inbound(button="menu:report"),
    Inbound(button="mode:anonymous"),
    Inbound(text=STORY),
    Inbound(text="đúng"),  # the story named the post and the agency: confirmed
    Inbound(button="cat:7"),
    Inbound(button="skip"),
    Inbound(text="phường Bến Thành, TP Hồ Chí Minh"),
    Inbound(button="setting:workplace"),
    Inbound(button="unknown"),
]


def _walk(conv: Conversation, chat: str, script: list[Inbound], replies: list[Reply] | None = None) -> list[Reply]:
    """Sends the script through the runner, each button pressed where the last replies offered it."""
    replies = replies or []
    for message in script:
        replies = conv.handle(chat, pressing(replies, message))
    return replies


def _upload(conv: Conversation, chat: str) -> Inbound:
    """Stores a file the way a channel does (tied to the chat's dialog) and returns the message carrying it."""
    from intake.db import session_scope

    with session_scope() as session:
        row = store_attachment(session, data=b"%PDF-1.4 evidence", content_type="application/pdf", kind="document", dialog_id=conv.dialog_id(session, chat))
        return _files(row.id)  # type: ignore[arg-type]


def test_a_refused_file_is_deleted_and_never_filed_with_the_report(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the cap: the stored row and its encrypted file are deleted; the case gets only the files it took."""
    from tests.intake.security_helpers import sealed

    low = get_settings().model_copy(update={"max_attachments_per_report": 2})
    monkeypatch.setattr(dialog_types, "get_settings", lambda: low)
    conv = Conversation(channel="terminal")
    replies = _walk(conv, "chat-a1", TO_EVIDENCE)
    sent = [_upload(conv, "chat-a1") for _ in range(3)]
    for m in sent[:2]:
        replies = conv.handle("chat-a1", m)
    refused = sent[2].attachments[0].id
    assert db.get(Attachment, refused) is not None and sealed(refused)
    said = " ".join(r.text for r in conv.handle("chat-a1", sent[2]))
    assert "tối đa 2 tệp" in said or "at most 2 files" in said
    db.expire_all()
    assert db.get(Attachment, refused) is None and not sealed(refused)
    replies = _walk(conv, "chat-a1", [Inbound(button="done"), Inbound(button="send")], replies)
    assert replies[0].receipt
    case = db.exec(select(Case)).one()
    filed = db.exec(select(Attachment).where(Attachment.case_id == case.id)).all()
    assert sorted(a.id for a in filed) == sorted(m.attachments[0].id for m in sent[:2])  # type: ignore[misc]
    assert len(db.exec(select(Attachment)).all()) == 2


def test_a_file_sent_before_its_question_is_kept_and_one_sent_outside_a_report_is_deleted(db: Session) -> None:
    """Issue 16, item 7: evidence sent while the story is told is kept for the report; a file sent when no
    report is being written is refused by the engine and removed at once."""
    conv = Conversation(channel="terminal")
    _walk(conv, "chat-a2", TO_EVIDENCE[:4])
    replies = conv.handle("chat-a2", _upload(conv, "chat-a2"))
    assert "chứng cứ" in replies[0].text
    db.expire_all()
    kept = db.exec(select(Attachment)).one()
    assert kept.case_id is None and kept.id in Draft.model_validate_json(decrypt(db.exec(select(DialogSession)).one().draft_enc)).attachments
    idle = Conversation(channel="terminal")
    idle.handle("chat-a4", Inbound(resume=True))
    idle.handle("chat-a4", _upload(idle, "chat-a4"))
    db.expire_all()
    assert db.exec(select(Attachment)).all() == [kept]


def test_an_overlong_message_changes_nothing_in_the_database(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused for its length: the saved draft is word for word what it was, and the question is asked again."""
    low = get_settings().model_copy(update={"max_message_chars": 200})
    monkeypatch.setattr(dialog_types, "get_settings", lambda: low)
    conv = Conversation(channel="terminal")
    _walk(conv, "chat-a3", TO_EVIDENCE[:4])
    before = Draft.model_validate_json(decrypt(db.exec(select(DialogSession)).one().draft_enc))
    replies = conv.handle("chat-a3", Inbound(text="Chủ tịch xã nhận tiền. " * 20))
    assert "tối đa 200 ký tự" in replies[0].text and "có đúng không" in replies[-1].text, "the confirmation's short question again"
    db.expire_all()
    after = Draft.model_validate_json(decrypt(db.exec(select(DialogSession)).one().draft_enc))
    assert after == before and after.description == STORY
