"""The Telegram channel offline: real update JSON in, every Bot API call recorded and asserted on."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image
from pydantic import SecretStr
from sqlmodel import Session, SQLModel, select
from telegram import Update
from telegram.error import NetworkError, TimedOut

from bot.telegram.channel import GROUP_REFUSAL, REPORTS_PER_DAY, TOO_FAST, TelegramChannel, TelegramSender
from bot.telegram.fake import BOT_TOKEN, Call, FakeTelegram, RecordingRequest, Resident, plain
from bot.telegram.setup import make_bot, set_commands
from bot.telegram.throttle import Throttle
from intake.attachments import read_attachment
from tests.intake.security_helpers import sealed
from intake.config import Settings, get_settings
from intake.crypto import decrypt
from intake.db import get_engine
from intake.i18n import translator
from intake.models import Attachment, Case, ChatLink, DialogSession, RateEvent
from tests.raw_files import raw_bytes

USER_ID = 7395017263
USERNAME = "lan_hanoi_1990"
FIRST_NAME = "Nguyễn Thị Lan"
vi = translator("vi")._
STORY = "Ông phó chủ tịch UBND xã đòi 5 triệu mới ký giấy xác nhận đất cho nhà tôi, nói không đưa thì cứ để đó"

Deliver = Callable[[dict[str, Any]], Awaitable[None]]


def gps_jpeg() -> bytes:
    """A JPEG as a phone writes it: camera make and model, and the GPS position where it was taken."""
    exif = Image.Exif()
    exif[0x010F] = "Samsung"
    exif[0x0110] = "SM-A536E"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (21.0, 1.0, 40.0), 3: "E", 4: (105.0, 50.0, 3.0)})
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def telegram_settings(**changes: Any) -> Settings:
    """The test settings with a bot token and any changes."""
    return get_settings().model_copy(update={"telegram_token": SecretStr(BOT_TOKEN), **changes})


class Harness:
    """A channel on an offline bot: deliver update JSON, read what was sent."""

    def __init__(self, settings: Settings, fake: FakeTelegram | None = None, *, typing_after: float = 5.0) -> None:
        self.fake = fake or FakeTelegram()
        # A resident answers every few seconds; these tests answer at once, so the per-chat pace is lifted.
        quick = Throttle.lifted()
        self.bot = make_bot(settings, request=RecordingRequest(self.fake), updates_request=RecordingRequest(self.fake), throttle=quick)
        self.channel = TelegramChannel(self.bot, settings=settings, typing_after=typing_after)
        self.resident = Resident(self.fake, USER_ID, first_name=FIRST_NAME, username=USERNAME)

    async def deliver(self, update: dict[str, Any]) -> None:
        await self.channel.process(Update.de_json(update, self.bot))

    def texts(self) -> list[str]:
        return self.fake.texts(self.resident.chat_id)

    def calls_after(self, mark: int, method: str | None = None) -> list[Call]:
        return [c for c in self.fake.calls[mark:] if method is None or c.method == method]


@pytest.fixture()
async def tg(db: Session) -> Any:
    harness = Harness(telegram_settings())
    yield harness
    await harness.channel.shutdown()


async def walk_report(resident: Resident, deliver: Deliver, *, evidence: Callable[[], dict[str, Any]] | None = None, notify: str = "no") -> None:
    """Files an anonymous report from /start to the receipt, pressing the buttons the bot offered."""
    await deliver(resident.text("/start"))
    await deliver(resident.press("menu:report"))
    await deliver(resident.press("mode:anonymous"))
    await deliver(resident.text(STORY))
    await deliver(resident.text("đúng"))  # the story named the post and the agency: confirmed
    category = next(p for p in resident.buttons() if p.startswith("cat:") and p[4:].isdigit())
    await deliver(resident.press(category))
    await deliver(resident.press("skip"))
    await deliver(resident.text("phường Bến Thành, TP Hồ Chí Minh"))
    await deliver(resident.press("setting:workplace"))
    await deliver(resident.press("unknown"))
    if evidence is not None:
        await deliver(evidence())
        await deliver(resident.press("done"))
    else:
        await deliver(resident.press("skip"))
    await deliver(resident.press(notify))
    await deliver(resident.press("send"))


async def test_a_full_report_from_start_to_receipt(tg: Harness, db: Session) -> None:
    """/start to the receipt: buttons acknowledged, questions edited, the receipt in <code>, a case filed."""
    await walk_report(tg.resident, tg.deliver)
    assert "Mặt trận" in tg.texts()[0]
    sent = tg.fake.sent("sendMessage", USER_ID)
    receipt_call = next(c for c in sent if "<code>" in c.params["text"])
    assert receipt_call.params["parse_mode"] == "HTML" and "reply_markup" not in receipt_call.params, "the receipt in a message of its own"
    after = plain(sent[sent.index(receipt_call) + 1].params["text"])
    assert "Chuyển tiếp" in after and "Tin nhắn đã lưu" in after, "then how to keep it"
    assert "<code>" in receipt_call.params["text"] and "Mã tiếp nhận" in plain(receipt_call.params["text"])
    assert receipt_call.params["link_preview_options"] == {"is_disabled": True}
    case = db.exec(select(Case)).one()
    assert case.channel == "telegram" and case.anonymity == "anonymous"
    presses = [c for c in tg.fake.calls if c.method == "answerCallbackQuery"]
    edits = tg.fake.sent("editMessageText", USER_ID)
    assert len(presses) == len(edits) == 9
    assert all("reply_markup" not in e.params for e in edits)
    assert plain(edits[1].params["text"]).endswith("✓ Ẩn danh")
    question = tg.fake.sent("sendMessage", USER_ID)[0]
    data = question.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert data.startswith("idle:") and data.endswith(":menu:report"), "the payload names its question"


async def test_a_button_of_another_question_is_refused_and_its_message_not_marked_chosen(tg: Harness, db: Session) -> None:
    """Issue 16: after /huy, the opt-in «Có, nhận thông báo» still on screen deleted the report, and a
    refused press edited its question to show "✓" as chosen. Now: refused, nothing changes, no edit."""
    r = tg.resident
    await tg.deliver(r.text("/start"))
    await tg.deliver(r.press("menu:report"))
    await tg.deliver(r.press("mode:anonymous"))
    await tg.deliver(r.text(STORY))
    await tg.deliver(r.text("đúng"))
    await tg.deliver(r.press(next(p for p in r.buttons() if p.startswith("cat:") and p[4:].isdigit())))
    await tg.deliver(r.press("skip"))
    await tg.deliver(r.text("phường Bến Thành, TP Hồ Chí Minh"))
    for choice in ("setting:workplace", "unknown", "skip"):
        await tg.deliver(r.press(choice))
    assert "yes" in r.buttons(), "the opt-in question"
    await tg.deliver(r.text("/huy"))
    mark = len(tg.fake.calls)
    await tg.deliver(r.press("", label=vi("Yes, notify me")))
    assert tg.calls_after(mark, "editMessageText") == [], "the old question is not edited to look answered"
    assert len(tg.calls_after(mark, "answerCallbackQuery")) == 1, "the spinner stops"
    said = [plain(c.params["text"]) for c in tg.calls_after(mark, "sendMessage")]
    assert "câu hỏi trước" in said[0] and r.buttons() == ["yes", "keep"]
    row = db.exec(select(DialogSession)).one()
    assert row.state["step"] == "confirm_cancel" and "UBND xã" in decrypt(row.draft_enc), "the report is kept"
    mark = len(tg.fake.calls)
    await tg.deliver(r.press("keep"))
    assert len(tg.calls_after(mark, "editMessageText")) == 1, "an accepted press is shown as chosen"
    assert db.exec(select(Case)).all() == []


async def test_photo_sent_as_file_is_stored_without_gps(tg: Harness, db: Session) -> None:
    """A JPEG with GPS and camera EXIF is fetched with getFile, stored encrypted without them, its hash kept."""
    original = gps_jpeg()
    await walk_report(
        tg.resident, tg.deliver, evidence=lambda: tg.resident.document(original, mime_type="image/jpeg", file_name="IMG_2031.jpg")
    )
    assert any("Thông tin vị trí và thiết bị" in t for t in tg.texts())
    assert [c.method for c in tg.fake.calls if c.method in ("getFile", "download")] == ["getFile", "download"]
    attachment = db.exec(select(Attachment)).one()
    case = db.exec(select(Case)).one()
    assert attachment.case_id == case.id and attachment.kind == "photo" and attachment.metadata_removed
    assert attachment.sha256_original == hashlib.sha256(original).hexdigest()
    stored = read_attachment(attachment)
    cleaned = Image.open(io.BytesIO(stored))
    assert not cleaned.getexif() and b"SM-A536E" not in stored
    on_disk = sealed(attachment)
    assert b"\xff\xd8" not in on_disk[:4] and b"Samsung" not in on_disk


async def test_a_telegram_photo_with_caption(tg: Harness, db: Session) -> None:
    """A photo's largest size is fetched; its caption reaches the engine as words about the evidence."""
    original = gps_jpeg()
    await walk_report(tg.resident, tg.deliver, evidence=lambda: tg.resident.photo(original, caption="Ảnh chụp tại UBND xã hôm 3/3"))
    assert any("Đã nhận 1 tệp" in t for t in tg.texts())
    attachment = db.exec(select(Attachment)).one()
    assert attachment.sha256_original == hashlib.sha256(original).hexdigest()
    assert "Ảnh chụp tại UBND xã" in db.exec(select(Case)).one().description


async def test_a_photo_with_a_caption_sent_while_telling_the_story_is_kept_and_acknowledged_once(tg: Harness, db: Session) -> None:
    """Issue 16, item 7: such a photo was fetched, stored and deleted as refused, the caption merged
    silently, and "Chúng tôi đã ghi nhận… [Xong]" sent twice. Now the photo is evidence, the caption is
    part of the story once, and one answer acknowledges both."""
    r = tg.resident
    await tg.deliver(r.text("/start"))
    await tg.deliver(r.press("menu:report"))
    await tg.deliver(r.press("mode:anonymous"))
    mark = len(tg.fake.calls)
    await tg.deliver(r.photo(gps_jpeg(), caption="Chủ tịch xã nhận phong bì ngay tại phòng làm việc, ảnh tôi chụp đây"))
    said = [plain(c.params["text"]) for c in tg.calls_after(mark, "sendMessage")]
    assert sum("làm chứng cứ" in t for t in said) == 1, "told once that the photo is kept as evidence"
    assert len(said) == len(set(said)) and sum(bool(c.params.get("reply_markup")) for c in tg.calls_after(mark, "sendMessage")) == 1, "one question"
    row = db.exec(select(DialogSession)).one()
    draft = decrypt(row.draft_enc)
    assert draft.count("nhận phong bì") == 1
    kept = db.exec(select(Attachment)).one()
    assert str(kept.id) in draft and kept.case_id is None, "kept for the report, not deleted"


async def test_an_edited_message_is_answered_with_what_to_do(tg: Harness) -> None:
    """Issue 16, item 7: an edit got the sticker wording; now the resident is told edits are not taken."""
    await tg.deliver(tg.resident.text("/baocao"))
    mark = len(tg.fake.calls)
    await tg.deliver(tg.resident.edit("sửa lại"))
    said = plain(tg.calls_after(mark, "sendMessage")[0].params["text"])
    assert "tin nhắn mới" in said and "không dùng được" not in said


async def test_commands_registered_in_vietnamese_and_english(tg: Harness) -> None:
    """setMyCommands is called for vi, en and the default, with the Vietnamese command names."""
    await set_commands(tg.bot)
    calls = [c for c in tg.fake.calls if c.method == "setMyCommands"]
    by_lang = {c.params.get("language_code"): c.params["commands"] for c in calls}
    assert set(by_lang) == {"vi", "en", None}
    names = [c["command"] for c in by_lang["vi"]]
    assert names == ["start", "baocao", "tracuu", "huy", "trogiup", "ngonngu"]
    assert by_lang["en"][1]["description"] == "Send a new report"
    assert by_lang["vi"][1]["description"] == vi("Send a new report") and by_lang[None] == by_lang["vi"]


async def test_a_deep_link_start_is_greeted(tg: Harness) -> None:
    """t.me/<bot>?start=<payload> arrives as "/start <payload>" and opens the conversation."""
    await tg.deliver(tg.resident.text("/start tu-to-roi"))
    first = tg.fake.sent("sendMessage", USER_ID)[0]
    assert "Mặt trận" in plain(first.params["text"]) and first.params["reply_markup"]["inline_keyboard"]


async def test_resident_text_is_escaped_where_echoed(tg: Harness) -> None:
    """Markup typed by a resident comes back as text: escaped under parse_mode HTML, shown as typed."""
    r = tg.resident
    await tg.deliver(r.text("/start"))
    await tg.deliver(r.press("menu:report"))
    await tg.deliver(r.press("mode:anonymous"))
    typed = "Chủ tịch xã <b>nhận</b> tiền & <a href='http://x'>quà</a> của dân để cấp sổ đỏ"
    await tg.deliver(r.text(typed))
    if any(b.startswith("facts:ok") for b in r.buttons()):
        await tg.deliver(r.text("đúng"))
    await tg.deliver(r.press(next(p for p in r.buttons() if p.startswith("cat:") and p[4:].isdigit())))
    for text in ("Trần Văn B", "UBND xã", "phường Bến Thành, TP Hồ Chí Minh"):
        await tg.deliver(r.text(text))
    for payload in ("setting:workplace", "unknown", "skip", "no"):
        await tg.deliver(r.press(payload))
    summary = tg.fake.sent("sendMessage", USER_ID)[-1].params["text"]
    assert "&lt;b&gt;nhận&lt;/b&gt; tiền &amp; &lt;a href='http://x'&gt;" in summary
    assert "<b>nhận" not in summary and typed in plain(summary)


async def test_the_same_update_is_processed_once(tg: Harness) -> None:
    """Telegram redelivering an update_id changes nothing the second time."""
    update = tg.resident.text("/start")
    await tg.deliver(update)
    await tg.deliver(update)
    assert len(tg.fake.sent("sendMessage", USER_ID)) == 1


async def test_per_chat_message_limit(db: Session) -> None:
    """Over the per-minute limit: one polite notice, then silence; a pressed button still stops spinning."""
    h = Harness(telegram_settings(chat_messages_per_minute=3))
    for _ in range(3):
        await h.deliver(h.resident.text("/trogiup"))
    assert len(h.fake.sent("sendMessage", USER_ID)) == 3 * 2
    mark = len(h.fake.calls)
    await h.deliver(h.resident.text("/trogiup"))
    await h.deliver(h.resident.text("/trogiup"))
    await h.deliver(h.resident.press("menu:report"))
    sent = h.calls_after(mark, "sendMessage")
    assert len(sent) == 1 and plain(sent[0].params["text"]) == vi(TOO_FAST)
    answers = h.calls_after(mark, "answerCallbackQuery")
    assert len(answers) == 1 and answers[0].params["text"] == vi(TOO_FAST)[:200]
    other = Resident(h.fake, 1111, first_name="Hùng", username="hung")
    await h.deliver(other.text("/start"))
    assert h.fake.sent("sendMessage", 1111), "another chat is not limited"
    assert all(USERNAME not in r.key_hash and str(USER_ID) not in r.key_hash for r in db.exec(select(RateEvent)))
    await h.channel.shutdown()


async def test_per_chat_daily_report_limit(db: Session) -> None:
    """Past the daily limit the report is not filed, the resident is told why, and the draft is kept."""
    h = Harness(telegram_settings(chat_reports_per_day=1, chat_messages_per_minute=100))
    await walk_report(h.resident, h.deliver)
    assert len(db.exec(select(Case)).all()) == 1
    await walk_report(h.resident, h.deliver)
    assert len(db.exec(select(Case)).all()) == 1
    texts = h.texts()
    assert vi(REPORTS_PER_DAY, limit=1, hours=24) in texts[-3:]
    assert "send" in h.resident.buttons(), "the summary is offered again, the draft kept"
    await h.channel.shutdown()


async def test_group_chats_take_no_report(tg: Harness, db: Session) -> None:
    """In a group the bot answers a command with a pointer to a private chat, and keeps nothing."""
    group = {"id": -100200300, "type": "supergroup", "title": "Tổ dân phố 5"}
    member = Resident(tg.fake, USER_ID, first_name=FIRST_NAME, username=USERNAME, chat=group)
    await tg.deliver(member.text("/baocao@phananh_test_bot"))
    await tg.deliver(member.text("Chủ tịch xã nhận tiền"))  # not addressed to the bot: ignored
    await tg.deliver(member.text("/baocao@some_other_bot"))
    sent = tg.fake.sent("sendMessage", -100200300)
    assert len(sent) == 1 and plain(sent[0].params["text"]) == vi(GROUP_REFUSAL)
    assert sent[0].params["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://t.me/phananh_test_bot"
    assert db.exec(select(DialogSession)).all() == []


@pytest.mark.parametrize("kind", ["sticker", "location", "contact", "poll"])
async def test_unsupported_updates_get_a_short_explanation(tg: Harness, kind: str) -> None:
    """Stickers, locations, contacts and polls are explained, and the question asked again (edits: see below)."""
    await tg.deliver(tg.resident.text("/baocao"))
    mark = len(tg.fake.calls)
    make = {k: getattr(tg.resident, k) for k in ("sticker", "location", "contact", "poll")}
    await tg.deliver(make[kind]())
    sent = tg.calls_after(mark, "sendMessage")
    assert "không dùng được" in plain(sent[0].params["text"])
    assert sent[-1].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].startswith("mode:")


async def test_files_over_the_limit_are_refused_before_download(tg: Harness) -> None:
    """A document larger than 20 MB is refused from its announced size; nothing is fetched."""
    await tg.deliver(tg.resident.document(b"%PDF-1.4 tiny", mime_type="application/pdf", size=25 * 2**20))
    assert "tối đa 20 MB" in tg.texts()[-1]
    assert not [c for c in tg.fake.calls if c.method in ("getFile", "download")]


async def test_unreadable_image_is_answered(tg: Harness, db: Session) -> None:
    """Random bytes claiming to be a JPEG get a clear answer, and nothing is stored."""
    await tg.deliver(tg.resident.document(b"\x00\x01not an image" * 50, mime_type="image/jpeg"))
    assert "Không đọc được tệp" in tg.texts()[-1]
    assert db.exec(select(Attachment)).all() == []


async def test_local_bot_api_server_files_are_read_from_disk(db: Session, tmp_path: Path) -> None:
    """With a --local server, a file above 20 MB is accepted, read by its path, and the server's copy deleted."""
    fake = FakeTelegram(local_dir=tmp_path)
    h = Harness(telegram_settings(telegram_local_mode=True, max_local_attachment_mb=100), fake)
    big = b"%PDF-1.4\n" + b"0" * 100
    await walk_report(h.resident, h.deliver, evidence=lambda: h.resident.document(big, mime_type="application/pdf", file_name="to-trinh.pdf", size=30 * 2**20))
    assert [c.method for c in fake.calls if c.method in ("getFile", "download")] == ["getFile"]
    attachment = db.exec(select(Attachment)).one()
    assert attachment.case_id is not None
    assert attachment.sha256_original == hashlib.sha256(big).hexdigest()
    assert list(tmp_path.rglob("*.bin")) == []
    await h.channel.shutdown()


async def test_typing_indicator_during_a_slow_step(db: Session) -> None:
    """A step slower than the threshold shows "typing"; a quick one does not."""
    quick = Harness(telegram_settings(), typing_after=5.0)
    await quick.deliver(quick.resident.text("/start"))
    assert not [c for c in quick.fake.calls if c.method == "sendChatAction"]
    await quick.channel.shutdown()
    slow = Harness(telegram_settings(), typing_after=0.0)
    await slow.deliver(slow.resident.text("/start"))
    actions = [c for c in slow.fake.calls if c.method == "sendChatAction"]
    assert actions and actions[0].params["action"] == "typing"
    await slow.channel.shutdown()


async def test_no_telegram_identity_is_stored_or_logged(tg: Harness, db: Session, caplog: pytest.LogCaptureFixture) -> None:
    """After a report with opt-in, no user id, username or name is in any table or log line in clear."""
    caplog.set_level(logging.DEBUG, logger="bot")
    caplog.set_level(logging.DEBUG, logger="intake")
    await walk_report(tg.resident, tg.deliver, evidence=lambda: tg.resident.photo(gps_jpeg()), notify="yes")
    link = db.exec(select(ChatLink)).one()
    assert link.handle_enc is not None
    needles = [str(USER_ID), USERNAME, FIRST_NAME]
    assert not [n for n in needles for r in caplog.records if n in r.getMessage()]
    engine = get_engine()
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        path = Path(engine.url.database or "")
        blob = b"".join(raw_bytes(p) for p in path.parent.glob(path.name + "*"))  # never read_bytes(): see tests/raw_files.py
        for needle in needles:
            assert needle.encode() not in blob, needle
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                text = json.dumps([str(v) for v in row], ensure_ascii=False)
                assert not [n for n in needles if n in text], table.name


def test_bot_command_needs_polling_and_a_token() -> None:
    """`phananh bot` alone explains itself; with --polling and no token it says what to set."""
    import typer
    from typer.testing import CliRunner

    from phananh.commands.telegram import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    runner = CliRunner()
    result = runner.invoke(app, ["bot"])
    assert result.exit_code == 2 and "--polling" in result.output
    result = runner.invoke(app, ["bot", "--polling", "--no-migrate"])
    assert result.exit_code == 1 and "PHANANH_TELEGRAM_TOKEN" in result.output



def test_opted_in_resident_gets_staff_messages_in_the_chat(db: Session) -> None:
    """An outbox message for an opted-in report reaches the chat once, in parts when long, even when retried."""
    import asyncio

    from intake import outbox
    from intake.models import OutboxMessage, OutboxStatus

    fake = FakeTelegram()

    async def file() -> None:
        h = Harness(telegram_settings(), fake)
        await walk_report(h.resident, h.deliver, notify="yes")
        await h.channel.shutdown()

    asyncio.run(file())
    case = db.exec(select(Case)).one()
    body = "Mặt trận đã chuyển phản ánh tới cơ quan có thẩm quyền. <Chi tiết> " + "x" * 5000
    db.add(OutboxMessage(case_id=case.id, channel="telegram", body=body, delivery_key="case-message:1"))  # type: ignore[arg-type]
    db.commit()
    sender = TelegramSender(telegram_settings(), request=RecordingRequest(fake))
    before = len(fake.sent("sendMessage", USER_ID))
    try:
        assert outbox.deliver_batch({"telegram": sender}) == 1
        sender(str(USER_ID), body, "case-message:1")  # the worker died after sending: a retry shows nothing new
    finally:
        sender.close()
    parts = fake.sent("sendMessage", USER_ID)[before:]
    assert len(parts) == 2 and "&lt;Chi tiết&gt;" in parts[0].params["text"]
    db.expire_all()
    assert db.exec(select(OutboxMessage)).one().status == OutboxStatus.SENT.value


@pytest.mark.parametrize(
    ("answer", "retryable"),
    [
        ((403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}), False),
        ((400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}), False),
        ((429, {"ok": False, "error_code": 429, "description": "Too Many Requests", "parameters": {"retry_after": 0}}), True),
        ((502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}), True),
        (NetworkError("Connection refused"), True),  # it never left: safe to send again
        (TimedOut(), False),  # no answer: it may have been shown, so staff retry it, not the worker
    ],
)
def test_outbox_sender_says_whether_to_retry(db: Session, answer: tuple[int, dict[str, Any]] | Exception, retryable: bool) -> None:
    """Blocked or unknown chats, and calls Telegram never answered, go to the dead letters; flood
    waits, server errors and calls that could not connect are retried."""
    from intake.outbox import DeliveryError

    class Failing(RecordingRequest):
        async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
            if url.endswith("/sendMessage"):
                if isinstance(answer, Exception):
                    raise answer
                return answer[0], json.dumps(answer[1]).encode()
            return await super().do_request(url, method, *args, **kwargs)

    sender = TelegramSender(telegram_settings(), request=Failing())
    try:
        with pytest.raises(DeliveryError) as caught:
            sender("42", "Tin nhắn", "k-1")
    finally:
        sender.close()
    assert caught.value.retryable is retryable


async def test_an_update_whose_step_failed_is_processed_when_redelivered(tg: Harness, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The update's processed mark is written with its step: a step cut short leaves it unmarked, so Telegram's redelivery is done."""
    await tg.deliver(tg.resident.text("/start"))
    press = tg.resident.press("menu:report")
    original = tg.channel.conversation._save
    calls = {"n": 0}

    def crash_once(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("killed mid-step")
        original(*args, **kwargs)

    monkeypatch.setattr(tg.channel.conversation, "_save", crash_once)
    await tg.deliver(press)
    asked_mode = [t for t in tg.texts() if "ẩn danh" in t.lower()]
    await tg.deliver(press)  # Telegram redelivers: the update was never answered
    assert len([t for t in tg.texts() if "ẩn danh" in t.lower()]) > len(asked_mode)
    assert "mode:anonymous" in tg.resident.buttons()


async def test_a_redelivered_update_already_done_is_not_stepped_again(tg: Harness, db: Session) -> None:
    """A duplicate of a processed update (its mark written with its step) changes nothing and sends nothing."""
    await tg.deliver(tg.resident.text("/start"))
    await tg.deliver(tg.resident.press("menu:report"))
    await tg.deliver(tg.resident.press("mode:anonymous"))
    story = tg.resident.text(STORY)
    await tg.deliver(story)
    version = db.exec(select(DialogSession)).one().version
    sent = len(tg.fake.sent("sendMessage", USER_ID))
    await tg.deliver(story)  # the same update_id again
    db.expire_all()
    row = db.exec(select(DialogSession)).one()
    assert row.version == version and decrypt(row.draft_enc).count(STORY[:40]) == 1
    assert len(tg.fake.sent("sendMessage", USER_ID)) == sent
