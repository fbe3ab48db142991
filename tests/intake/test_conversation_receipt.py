"""A filed report's receipt survives replies that never reached the resident: every answer carries it
again until the channel confirms it was shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from intake.conversation import Conversation, expire_dialogs
from intake.crypto import decrypt
from intake.dialog.buttons import payload
from intake.dialog.engine import fresh_state, step
from intake.dialog.types import Draft, Inbound, Reply, StepName, Submitted
from intake.models import Case, DialogSession, utcnow

from .test_conversation import _file

AGAIN = "In case you did not receive its receipt"  # the lead sentence (no Vietnamese catalog entry yet)
AGAIN_VI = "Phòng khi Anh/Chị chưa nhận được"
DELETED = "Phản ánh soạn dở đã được xóa"


def _is_reshown(reply: Reply, receipt: Reply) -> bool:
    return (
        reply.receipt == receipt.receipt
        and reply.passphrase == receipt.passphrase
        and (AGAIN in reply.text or AGAIN_VI in reply.text)
        and str(receipt.passphrase) in reply.text
    )


def _pending(db: Session) -> object:
    db.expire_all()
    row = db.exec(select(DialogSession)).one()
    return Draft.model_validate_json(decrypt(row.draft_enc)).pending_receipt


# -- the engine -------------------------------------------------------------------------------


def _submitted() -> tuple[object, Draft]:
    state = fresh_state("vi")
    state.step = StepName.REVIEW
    result = step(state, Draft(description_parts=["x"]), Inbound(event=Submitted("ABCD-EFGH-JKLM", "abcd-efgh-jkmn", "MTTQ xã A")))
    return result.state, result.draft


def test_the_engine_keeps_the_receipt_pending_in_an_otherwise_empty_draft() -> None:
    """After filing, the draft holds only the receipt: nothing counts as a report being written."""
    _, draft = _submitted()
    assert draft.pending_receipt is not None and draft.pending_receipt.passphrase == "abcd-efgh-jkmn"
    assert draft.is_empty() and draft.description == ""


@pytest.mark.parametrize(
    ("message", "then"),
    [
        (Inbound(text="/tracuu"), "mã tiếp nhận"),
        (Inbound(text="xin chào"), "Mặt trận"),
        (Inbound(resume=True), "Mặt trận"),
        (Inbound(button="menu:report"), "gửi phản ánh"),
    ],
)
def test_the_next_message_shows_the_receipt_first_then_is_answered(message: Inbound, then: str) -> None:
    """Whatever the resident sends next, the receipt comes first (without buttons), then the usual answer; again next time, until confirmed."""
    state, draft = _submitted()
    if message.button is not None:
        message = Inbound(button=payload(state.question, message.button))  # type: ignore[attr-defined]
    result = step(state, draft, message)  # type: ignore[arg-type]
    first, *rest = result.replies
    assert first.receipt == "ABCD-EFGH-JKLM" and first.passphrase == "abcd-efgh-jkmn" and not first.buttons
    assert "MTTQ xã A" in first.text and "abcd-efgh-jkmn" in first.text
    assert rest and then in " ".join(r.text for r in rest).lower() + " ".join(r.text for r in rest)
    assert all(r.receipt is None for r in rest)
    assert result.draft.pending_receipt == draft.pending_receipt, "kept until the channel confirms it"  # type: ignore[attr-defined]
    again = step(result.state, result.draft, Inbound(text="/trogiup"))
    assert again.replies[0].receipt == "ABCD-EFGH-JKLM", "the answer was lost too: it comes again"


# -- through the database ---------------------------------------------------------------------


def test_an_unconfirmed_receipt_comes_with_every_answer_until_confirmed(db: Session) -> None:
    """No confirmation (a crash after filing), then that answer lost too: each answer brings it, until the channel confirms."""
    conv = Conversation(channel="terminal")
    receipt = _file(conv, "chat-r1", confirm=False)
    assert receipt.receipt and receipt.passphrase
    replies = conv.handle("chat-r1", Inbound(text=f"/tracuu {receipt.receipt} {receipt.passphrase}"))
    assert _is_reshown(replies[0], receipt)
    assert any("Mới tiếp nhận" in r.text for r in replies[1:]), "the look-up is still answered"
    assert _pending(db) is not None, "that answer may be lost too"
    replies = conv.handle("chat-r1", Inbound(text="/trogiup"))
    assert _is_reshown(replies[0], receipt)
    assert conv.receipt_shown("chat-r1", str(receipt.receipt)) is True
    assert _pending(db) is None
    replies = conv.handle("chat-r1", Inbound(text="/trogiup"))
    assert all(r.receipt is None for r in replies)


def test_a_confirmed_receipt_is_not_shown_again(db: Session) -> None:
    """Once the channel confirms the reply was shown, the pending receipt is gone and the next message is answered plainly."""
    conv = Conversation(channel="terminal")
    receipt = _file(conv, "chat-r2", confirm=False)
    assert _pending(db) is not None
    version = db.exec(select(DialogSession)).one().version
    assert conv.receipt_shown("chat-r2", str(receipt.receipt)) is True
    assert _pending(db) is None
    row = db.exec(select(DialogSession)).one()
    assert row.version == version + 1 and row.state["step"] == "idle"
    assert conv.receipt_shown("chat-r2", str(receipt.receipt)) is False, "a second confirmation is a no-op"
    replies = conv.handle("chat-r2", Inbound(text="/tracuu"))
    assert all(r.receipt is None for r in replies) and "mã tiếp nhận" in replies[0].text.lower()


def test_confirming_is_a_no_op_without_a_dialog_or_for_another_receipt(db: Session) -> None:
    """Unknown chats create no row; a late confirmation of another receipt does not forget the pending one."""
    conv = Conversation(channel="terminal")
    assert conv.receipt_shown("nobody", "ABCD-EFGH-JKLM") is False
    assert db.exec(select(DialogSession)).all() == []
    _file(conv, "chat-r3", confirm=False)
    assert conv.receipt_shown("chat-r3", "ZZZZ-ZZZZ-ZZZZ") is False
    assert _pending(db) is not None


def test_confirming_retries_when_a_step_saved_first(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dialog's version guards the write: a stale read (another process stepped the chat) is retried, and the receipt is forgotten."""
    conv = Conversation(channel="terminal")
    receipt = _file(conv, "chat-r4", confirm=False)
    real_find = Conversation._find
    calls = []
    other = Conversation(channel="terminal")

    def stale_first(self: Conversation, session: Session, chat_id: str):  # type: ignore[no-untyped-def]
        row = real_find(self, session, chat_id)
        if self is conv:
            calls.append(1)
            if len(calls) == 1:
                # Another process steps this chat between our read and our write: it shows the receipt again.
                other.handle("chat-r4", Inbound(text="/trogiup"))
        return row

    monkeypatch.setattr(Conversation, "_find", stale_first)
    assert conv.receipt_shown("chat-r4", str(receipt.receipt)) is True
    assert len(calls) == 2 and _pending(db) is None
    monkeypatch.undo()
    assert all(r.receipt is None for r in conv.handle("chat-r4", Inbound(text="/trogiup")))


def test_an_opted_in_chats_bare_lookup_still_shows_the_pending_receipt(db: Session) -> None:
    """`/tracuu` in a linked chat becomes a look-up event in the runner; the receipt still comes first."""
    conv = Conversation(channel="telegram", can_push=True)
    receipt = _file(conv, "5557777", notify=True, confirm=False)
    replies = conv.handle("5557777", Inbound(text="/tracuu"))
    assert _is_reshown(replies[0], receipt) and "Mới tiếp nhận" in replies[1].text


def test_the_pending_receipt_is_never_in_clear_in_the_database(db: Session) -> None:
    """The receipt and passphrase are only in the encrypted draft: not in the state, not in any column in clear."""
    conv = Conversation(channel="terminal")
    receipt = _file(conv, "chat-r5", confirm=False)
    code, passphrase = str(receipt.receipt), str(receipt.passphrase)
    raw = db.execute(sa.text("SELECT * FROM dialog_sessions")).all()
    dumped = repr(raw).encode() + b"".join(v for r in raw for v in r if isinstance(v, bytes | memoryview))
    for secret in (code, passphrase, code.replace("-", ""), passphrase.replace("-", "")):
        assert secret.encode() not in dumped and secret.lower().encode() not in dumped.lower()
    assert passphrase in decrypt(db.exec(select(DialogSession)).one().draft_enc), "it is there, encrypted"
    case = db.exec(select(Case)).one()
    assert passphrase not in case.passphrase_hash and code not in case.receipt_hash


def test_a_pending_receipt_brings_no_deleted_draft_notice_and_goes_with_the_dialog(db: Session) -> None:
    """Past the draft lifetime the receipt goes quietly (no "unfinished report deleted"), and the purge removes the dialog."""
    conv = Conversation(channel="terminal")
    _file(conv, "chat-r6", confirm=False)
    replies = conv.handle("chat-r6", Inbound(resume=True))
    assert not any(DELETED in r.text for r in replies), "within the lifetime: no notice either"
    _file(conv, "chat-r7", confirm=False)
    db.execute(sa.update(DialogSession).values(updated_at=utcnow() - timedelta(hours=25)))
    db.commit()
    replies = conv.handle("chat-r7", Inbound(text="/trogiup"))
    assert all(r.receipt is None for r in replies) and not any(DELETED in r.text for r in replies)
    _file(conv, "chat-r8", confirm=False)
    db.execute(sa.update(DialogSession).values(updated_at=utcnow() - timedelta(hours=25)))
    db.commit()
    assert expire_dialogs(db) == 3
    db.commit()
    assert db.exec(select(DialogSession)).all() == []
