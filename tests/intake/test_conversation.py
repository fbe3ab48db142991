"""The runner: state in the database, reports filed atomically, look-ups, expiry, privacy."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from intake.conversation import Conversation, expire_dialogs
from intake.crypto import decrypt
from intake.dialog.types import Inbound, Reply
from intake.models import AuditEntry, Case, ChatLink, Committee, DialogSession, ReporterIdentity, utcnow
from tests.dialog_helpers import payload_for, pressing

STORY = "Ông phó chủ tịch UBND xã đòi 5 triệu mới ký giấy xác nhận đất cho nhà tôi, nói không đưa thì cứ để đó"


def _file(conv: Conversation, chat: str, *, mode: str = "mode:confidential", notify: bool = False, confirm: bool = True) -> Reply:
    """Files one report through the runner and returns the receipt message (confirmed as shown, as a channel does)."""
    return _talk(conv, chat, [*_to_summary(conv, mode=mode, notify=notify), Inbound(button="send")], confirm=confirm)


def _to_summary(conv: Conversation, *, mode: str = "mode:confidential", notify: bool = False) -> list[Inbound]:
    """What a resident sends from the first visit to the summary of a report."""
    script: list[Inbound] = [
        Inbound(resume=True),
        Inbound(button="menu:report"),
        Inbound(button=mode),
        Inbound(text=STORY),
        Inbound(text="đúng"),  # the story named the post and the agency: confirmed
        Inbound(button="cat:7"),
        Inbound(text="Trần Văn Bình"),
        Inbound(text="phường Bến Thành, TP Hồ Chí Minh"),
        Inbound(button="setting:workplace"),
        Inbound(text="tháng 3 năm 2026"),
        Inbound(button="skip"),
    ]
    if mode != "mode:anonymous":
        script += [Inbound(text="Lê Thị Hoa"), Inbound(text="0912345678")]
    if conv.can_push:
        script.append(Inbound(button="yes" if notify else "no"))
    return script


def _talk(conv: Conversation, chat: str, script: list[Inbound], *, confirm: bool = True) -> Reply:
    """Sends the script, each button pressed as the last replies offered it; returns the receipt message, or the last reply."""
    replies: list[Reply] = []
    for message in script:
        replies = conv.handle(chat, pressing(replies, message))
    receipts = [r for r in replies if r.receipt]
    if confirm and receipts:
        conv.receipt_shown(chat, receipts[0].receipt or "")
    return receipts[0] if receipts else replies[-1]


def test_a_report_is_filed_routed_and_looked_up(db: Session) -> None:
    """The receipt comes back once; the case is in its committee's queue; /tracuu finds it."""
    conv = Conversation(channel="terminal")
    receipt = _file(conv, "chat-1")
    assert receipt.receipt and receipt.passphrase
    case = db.exec(select(Case)).one()
    committee = db.get(Committee, case.committee_id)
    assert committee is not None and committee.level in ("commune", "province")
    assert case.category == 7 and case.routing_reasons
    assert receipt.receipt not in case.receipt_hash and receipt.passphrase not in case.passphrase_hash
    replies = conv.handle("chat-1", Inbound(text=f"/tracuu {receipt.receipt} {receipt.passphrase}"))
    assert "Mới tiếp nhận" in replies[0].text and committee.name_vi in replies[0].text


def test_wrong_passphrase_finds_nothing(db: Session) -> None:
    """A right receipt with a wrong passphrase is answered like an unknown receipt."""
    conv = Conversation(channel="terminal")
    receipt = _file(conv, "chat-2")
    replies = conv.handle("chat-3", Inbound(text=f"/tracuu {receipt.receipt} aaaa-bbbb-cccc"))
    assert "Không tìm thấy" in replies[0].text


def test_identity_is_encrypted_apart_from_the_case(db: Session) -> None:
    """A confidential reporter's name and phone are only in reporter_identities, encrypted."""
    _file(Conversation(channel="terminal"), "chat-4")
    case = db.exec(select(Case)).one()
    identity = db.exec(select(ReporterIdentity)).one()
    assert identity.case_id == case.id
    assert b"0912345678" not in identity.phone_enc and decrypt(identity.phone_enc) == "0912345678"
    assert decrypt(identity.name_enc) == "Lê Thị Hoa"
    assert "Lê Thị Hoa" not in case.description + case.search_text


def test_anonymous_report_keeps_no_identity_and_no_chat_id(db: Session) -> None:
    """An anonymous report stores no identity row, no chat link, and no chat id in clear."""
    _file(Conversation(channel="terminal"), "secret-chat-id-42", mode="mode:anonymous")
    assert db.exec(select(ReporterIdentity)).all() == []
    assert db.exec(select(ChatLink)).all() == []
    for row in db.exec(select(DialogSession)).all():
        assert "secret-chat-id-42" not in row.chat_hash


def test_opt_in_stores_the_chat_encrypted_with_a_hash(db: Session) -> None:
    """On a channel that can push, opting in stores the chat id encrypted, found by keyed hash."""
    _file(Conversation(channel="telegram", can_push=True), "777000111", notify=True)
    link = db.exec(select(ChatLink)).one()
    assert link.handle_enc is not None and decrypt(link.handle_enc) == "777000111"
    assert "777000111" not in link.handle_hash


def test_draft_is_encrypted_at_rest(db: Session) -> None:
    """What a resident typed mid-report is not readable in the dialog table."""
    conv = Conversation(channel="terminal")
    _talk(conv, "chat-5", [Inbound(resume=True), Inbound(button="menu:report"), Inbound(button="mode:open"), Inbound(text="Bí thư xã đánh bạc ăn tiền")])
    row = db.exec(select(DialogSession)).one()
    assert "đánh bạc".encode() not in row.draft_enc and "đánh bạc" in decrypt(row.draft_enc)


def test_a_new_runner_continues_the_conversation(db: Session) -> None:
    """State lives in the database: another Conversation object (another process) picks up."""
    first = Conversation(channel="web").handle("chat-6", Inbound(resume=True))
    second = Conversation(channel="web").handle("chat-6", pressing(first, Inbound(button="menu:report")))
    replies = Conversation(channel="web").handle("chat-6", pressing(second, Inbound(button="mode:anonymous")))
    assert "kể lại sự việc" in replies[0].text


def test_idle_drafts_expire(db: Session) -> None:
    """A draft idle longer than the lifetime is deleted and the resident told why."""
    conv = Conversation(channel="web")
    _talk(conv, "chat-7", [Inbound(resume=True), Inbound(button="menu:report"), Inbound(button="mode:anonymous")])
    db.execute(sa.update(DialogSession).values(updated_at=utcnow() - timedelta(hours=25)))
    db.commit()
    replies = conv.handle("chat-7", Inbound(text="Chủ tịch xã nhận tiền của dân"))
    assert "24 giờ" in replies[0].text
    db.execute(sa.update(DialogSession).values(updated_at=utcnow() - timedelta(hours=25)))
    db.commit()
    assert expire_dialogs(db) == 1
    db.commit()
    assert db.exec(select(DialogSession)).all() == []


def test_submission_is_audited_without_personal_data(db: Session) -> None:
    """The audit row of a filed report names channel and committee, not the reporter or the text."""
    _file(Conversation(channel="terminal"), "chat-8")
    entry = db.exec(select(AuditEntry).where(AuditEntry.action == "case.submitted")).one()
    flat = str(entry.details)
    assert "terminal" in flat and "Lê Thị Hoa" not in flat and "0912345678" not in flat and "triệu" not in flat


def test_sending_twice_files_once(db: Session) -> None:
    """The summary's «Gửi» pressed again after the receipt, or its label sent as text (Zalo), files nothing more."""
    conv = Conversation(channel="terminal")
    summary = _talk(conv, "chat-9", _to_summary(conv))
    receipt = _talk(conv, "chat-9", [Inbound(button=payload_for([summary], "send"))])
    assert receipt.receipt
    again = conv.handle("chat-9", Inbound(button=payload_for([summary], "send")))
    assert again[0].refused
    again = conv.handle("chat-9", Inbound(text="Gửi phản ánh này"))
    assert again[0].refused
    assert len(db.exec(select(Case)).all()) == 1


def test_resident_adds_information_after_a_lookup(db: Session) -> None:
    """After /tracuu, «Bổ sung thông tin» puts the resident's message into the case's thread."""
    from intake.models import CaseMessage

    conv = Conversation(channel="web")
    receipt = _file(conv, "chat-10", mode="mode:anonymous")
    replies = conv.handle("other-browser", Inbound(text=f"/tracuu {receipt.receipt} {receipt.passphrase}"))
    conv.handle("other-browser", pressing(replies, Inbound(button="followup")))
    replies = conv.handle("other-browser", Inbound(text="Tôi có thêm ảnh chụp biên lai, xin liên hệ qua kênh này."))
    assert "đã được bổ sung" in replies[0].text
    message = db.exec(select(CaseMessage)).one()
    assert message.direction == "resident" and "biên lai" in message.body


def test_every_look_up_shows_every_message_from_the_front_newest_first(db: Session) -> None:
    """Issue 16: the second /tracuu showed only the status, because only unseen messages were returned.
    Now each look-up shows them all, newest first; those not seen before are marked new, none is hidden."""
    from datetime import datetime, timezone

    from intake.models import CaseMessage

    conv = Conversation(channel="web")
    receipt = _file(conv, "chat-11", mode="mode:anonymous")
    case = db.exec(select(Case)).one()
    for day, body in ((3, "Tin thứ nhất: đã tiếp nhận."), (4, "Tin thứ hai: đang xác minh.")):
        db.add(CaseMessage(case_id=case.id, direction="staff", body=body, created_at=datetime(2026, 12, day, 2, 0, tzinfo=timezone.utc)))  # type: ignore[arg-type]
    db.add(CaseMessage(case_id=case.id, direction="note", body="Ghi chú nội bộ, không gửi dân."))  # type: ignore[arg-type]
    db.commit()
    lookup = f"/tracuu {receipt.receipt} {receipt.passphrase}"
    first = [r.text for r in conv.handle("chat-11", Inbound(text=lookup))]
    assert "Tin thứ hai" in first[1] and "Tin thứ nhất" in first[2], "newest first"
    assert "04/12/2026 09:00 · mới" in first[1] and "03/12/2026 09:00 · mới" in first[2]
    again = [r.text for r in conv.handle("chat-11", Inbound(text=lookup))]
    assert "Tin thứ hai" in again[1] and "Tin thứ nhất" in again[2], "shown again at the next look-up"
    assert not any("· mới" in t for t in again), "no longer marked new"
    assert not any("nội bộ" in t for t in first + again), "internal notes are not the resident's"
    assert "Tình trạng: Mới tiếp nhận" in again[0] and "Ngày tiếp nhận:" in again[0]


def test_the_latest_few_messages_with_a_way_to_see_the_rest(db: Session) -> None:
    """Five messages: the look-up shows the three latest and offers «Xem tất cả tin nhắn», which shows all five."""
    from datetime import datetime, timezone

    from intake.models import CaseMessage

    conv = Conversation(channel="web")
    receipt = _file(conv, "chat-12", mode="mode:anonymous")
    case = db.exec(select(Case)).one()
    for n in range(1, 6):
        db.add(CaseMessage(case_id=case.id, direction="staff", body=f"Tin số {n}.", created_at=datetime(2026, 12, n, 1, 0, tzinfo=timezone.utc)))  # type: ignore[arg-type]
    db.commit()
    replies = conv.handle("chat-12", Inbound(text=f"/tracuu {receipt.receipt} {receipt.passphrase}"))
    texts = [r.text for r in replies]
    assert "3 tin nhắn mới nhất trong số 5" in texts[0]
    assert [t.rsplit("\n", 1)[1] for t in texts[1:]] == ["Tin số 5.", "Tin số 4.", "Tin số 3."]
    everything = conv.handle("chat-12", Inbound(button=payload_for(replies, "thread")))
    assert [r.text.rsplit("\n", 1)[1] for r in everything[1:]] == [f"Tin số {n}." for n in (5, 4, 3, 2, 1)]
    assert "thread" not in [b.payload.rsplit(":", 1)[1] for b in everything[-1].buttons], "all are on screen now"
    assert payload_for(everything, "followup")


def test_an_opted_in_chat_looks_up_without_the_receipt(db: Session) -> None:
    """A chat linked for updates sees its case with a bare /tracuu; another chat does not."""
    conv = Conversation(channel="telegram", can_push=True)
    _file(conv, "5551234", notify=True)
    replies = conv.handle("5551234", Inbound(text="/tracuu"))
    assert "Mới tiếp nhận" in replies[0].text
    replies = conv.handle("9990000", Inbound(text="/tracuu"))
    assert "mã tiếp nhận" in replies[0].text.lower()
