"""The Zalo channel offline: signed webhook events in, every OA API call answered by a fake Zalo."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import SecretStr
from sqlmodel import Session, SQLModel, select

from bot.zalo.channel import REPORTS_PER_DAY, ZaloChannel
from bot.zalo.fake import API_BASE, APP_ID, APP_SECRET, OA_ID, OA_SECRET, OAUTH_BASE, FakeZalo, ZaloUser
from bot.zalo.signature import SIGNATURE_HEADER
from bot.zalo.webhook import WEBHOOK_PATH, install, router
from intake.attachments import read_attachment
from intake.classify import get_classifier
from intake.config import Settings, get_settings
from intake.crypto import decrypt
from intake.db import get_engine
from intake.dialog.types import Draft
from intake.i18n import translator
from intake.models import Attachment, Case, ChatLink, DialogSession, ProcessedUpdate, ZaloToken
from phananh.web import create_app

USER = "7020412345678901234"
STORY = "Ông phó chủ tịch UBND xã đòi 5 triệu mới ký giấy xác nhận đất cho nhà tôi, nói không đưa thì cứ để đó"
RECEIPT = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\b")
PASSPHRASE = re.compile(r"\b([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})\b")
vi = translator("vi")


@pytest.fixture(scope="session", autouse=True)
def _zalo_tokens_table(migrated: None) -> None:
    """The token table, until its migration lands (created only where it is missing)."""
    SQLModel.metadata.create_all(get_engine(), tables=[ZaloToken.__table__])  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def classifier() -> None:
    """The classifier and its tokenizer loaded once, before any timed wait (seconds on a busy machine)."""
    get_classifier().suggest("Cán bộ xã nhận tiền của dân")


def zalo_settings(fake: FakeZalo | None = None, **changes: Any) -> Settings:
    """The test settings pointed at the fake Zalo, with a refresh token it issued."""
    values: dict[str, Any] = {
        "zalo_app_id": APP_ID,
        "zalo_oa_id": OA_ID,
        "zalo_oa_secret_key": SecretStr(OA_SECRET),
        "zalo_app_secret": SecretStr(APP_SECRET),
        "zalo_api_base": API_BASE,
        "zalo_oauth_base": OAUTH_BASE,
        "zalo_worker_processes": 0,  # threads: most tests need no second process
    }
    if "zalo_initial_refresh_token" not in changes:
        values["zalo_initial_refresh_token"] = SecretStr(fake.issue_refresh_token() if fake else "")
    return get_settings().model_copy(update={**values, **changes})


class Harness:
    """A channel behind the webhook route, a fake Zalo behind the channel, and one resident."""

    def __init__(self, settings: Settings, fake: FakeZalo) -> None:
        self.fake = fake
        self.channel = ZaloChannel(settings, transport=fake.transport)
        self.channel.reply_pauses = (0.0, 0.0)
        app = FastAPI()
        app.include_router(router)
        install(app, self.channel)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://phananh.test")
        self.user = ZaloUser(USER)

    async def post(self, event: dict[str, Any], *, headers: dict[str, str] | None = None, body: bytes | None = None) -> int:
        """Posts one event as Zalo does (signed unless told otherwise) and waits until it is processed."""
        signed_body, signed_headers = self.user.signed(event)
        content = body if body is not None else signed_body
        response = await self.http.post(WEBHOOK_PATH, content=content, headers=headers if headers is not None else signed_headers)
        await self.channel.idle(timeout=120)
        return response.status_code

    async def say(self, text: str) -> list[str]:
        """The resident types (or presses a button labelled) `text`; returns the texts the OA sent back."""
        before = len(self.fake.sent)
        assert await self.post(self.user.text(text)) == 200
        return [s.text for s in self.fake.sent[before:]]

    async def send(self, event: dict[str, Any]) -> list[str]:
        """Posts a signed event; returns the texts the OA sent back for it."""
        before = len(self.fake.sent)
        assert await self.post(event) == 200
        return [s.text for s in self.fake.sent[before:]]

    def last(self) -> Any:
        return self.fake.to(USER)[-1]

    async def close(self) -> None:
        await self.http.aclose()
        await self.channel.shutdown()


@pytest.fixture()
async def zalo(db: Session, classifier: None) -> AsyncIterator[Harness]:
    fake = FakeZalo()
    harness = Harness(zalo_settings(fake), fake)
    yield harness
    await harness.close()


@pytest.fixture()
async def numbered(db: Session, classifier: None) -> AsyncIterator[Harness]:
    fake = FakeZalo()
    harness = Harness(zalo_settings(fake, zalo_buttons="numbers"), fake)
    yield harness
    await harness.close()


async def walk_report(z: Harness, *, notify: bool = False, evidence: dict[str, Any] | None = None, send: bool = True) -> str:
    """Files an anonymous report from following the OA to the receipt, pressing Zalo buttons; returns the receipt text
    (without `send`: stops at the summary and returns its text)."""
    assert await z.post(z.user.follow()) == 200
    assert z.last().buttons == [vi._("New report"), vi._("Check a report"), vi._("Help")]
    await z.say(vi._("New report"))
    await z.say(vi._("Anonymous"))
    await z.say(STORY)
    await z.say("đúng")  # the story named the post and the agency: confirmed
    await z.say(z.last().buttons[0])  # the suggested category
    await z.say(vi._("Name not known"))
    await z.say("phường Bến Thành, TP Hồ Chí Minh")
    await z.say(vi._("At their workplace"))
    await z.say(vi._("I don't remember when"))
    if evidence is not None:
        assert await z.post(evidence) == 200
        await z.say(vi._("No more files"))
    else:
        await z.say(vi._("No evidence"))
    summary = await z.say(vi._("Yes, notify me") if notify else vi._("No notifications"))
    if not send:
        return summary[-1]
    return (await z.say(vi._("Send this report")))[0]


def gps_jpeg() -> bytes:
    """A JPEG as a phone writes it: camera make and model, and where it was taken."""
    exif = Image.Exif()
    exif[0x010F] = "Samsung"
    exif[0x0110] = "SM-A536E"
    exif.get_ifd(0x8825).update({1: "N", 2: (21.0, 1.0, 40.0), 3: "E", 4: (105.0, 50.0, 3.0)})
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


# -- a whole report ----------------------------------------------------------------------------


async def test_a_full_report_walked_through_zalo_events_to_the_receipt(zalo: Harness, db: Session) -> None:
    """Follow, buttons pressed, answers typed: the receipt and passphrase arrive and one case is filed."""
    receipt_text = await walk_report(zalo, notify=True)
    receipt, passphrase = RECEIPT.search(receipt_text), PASSPHRASE.search(receipt_text)
    assert receipt and passphrase, receipt_text
    sent = zalo.fake.to(USER)
    alone = next(i for i, s in enumerate(sent) if s.text == receipt_text)
    assert not sent[alone].buttons and "Cloud của tôi" in sent[alone + 1].text, "the receipt alone, then how to keep it"
    case = db.exec(select(Case)).one()
    assert case.channel == "zalo" and case.anonymity == "anonymous" and case.province_code
    sends = zalo.fake.to(USER)
    assert all(len(s.text) <= 2000 for s in sends)
    with_buttons = [s for s in sends if s.buttons]
    assert with_buttons and all(b["type"] == "oa.query.show" and b["payload"] == b["title"]
                                for s in with_buttons for b in s.message["attachment"]["payload"]["buttons"])
    # The user id is kept only encrypted and hashed.
    link = db.exec(select(ChatLink)).one()
    assert link.channel == "zalo" and link.handle_enc and USER.encode() not in link.handle_enc and USER not in link.handle_hash
    dialog = db.exec(select(DialogSession)).one()
    assert dialog.chat_hash != USER
    assert Draft.model_validate_json(decrypt(dialog.draft_enc)).pending_receipt is None, "the receipt shown, the dialog forgot it"
    await zalo.say(f"/tracuu {receipt.group(1)} {passphrase.group(1)}")
    assert "Mới tiếp nhận" in zalo.last().text


async def test_an_old_buttons_label_answers_only_its_own_question(zalo: Harness, db: Session) -> None:
    """Zalo sends a label as text: the menu's «Gửi phản ánh mới» pressed at the summary files nothing and says
    so; the summary's own label sends; pressed again after the receipt it files nothing more."""
    await walk_report(zalo, send=False)
    said = await zalo.say(vi._("New report"))
    assert "câu hỏi trước" in said[0] and db.exec(select(Case)).all() == []
    assert zalo.last().buttons == [vi._("Send this report"), vi._("Change something"), vi._("Cancel the report")]
    said = await zalo.say(vi._("Send this report"))
    assert RECEIPT.search(said[0]) and len(db.exec(select(Case)).all()) == 1
    said = await zalo.say(vi._("Send this report"))
    assert "câu hỏi trước" in said[0] and len(db.exec(select(Case)).all()) == 1


async def test_choices_are_numbered_where_numbers_are_taken_and_listed_as_words_elsewhere(numbered: Harness, db: Session) -> None:
    """Numbers mode: the menu and choice questions are numbered and "1" chooses; a skip is offered as words."""
    await numbered.post(numbered.user.follow())
    menu = numbered.last()
    assert not menu.buttons and "attachment" not in menu.message
    assert f"1. {vi._('New report')}\n2. {vi._('Check a report')}\n3. {vi._('Help')}" in menu.text
    assert vi._("Reply with the number of your choice.") in menu.text
    await numbered.say("1")
    assert f"1. {vi._('Anonymous')}" in numbered.last().text
    await numbered.say("1")
    await numbered.say(STORY)
    # The confirmation of what the story said is a choice: numbered, and "1" confirms.
    facts = numbered.last().text
    confirm = vi._("Right, at their workplace")  # the story does not say work or home: the confirmation asks it
    assert f"1. {confirm}" in facts and vi._("Reply with the number of your choice.") in facts
    await numbered.say("1")
    await numbered.say(vi._("Another type"))
    categories = numbered.last().text
    assert "9. " in categories and "10. " in categories, "ten choices: more than Zalo's buttons, numbered"
    await numbered.say("7")
    assert db.exec(select(DialogSession)).one().state["step"] == "accused_name"
    # A name question: "1" is an answer, not a choice; and "Không rõ tên" is offered as words to send.
    assert f"• {vi._('Name not known')}" in numbered.last().text and vi._("To choose, send one of these answers as it is written.") in numbered.last().text
    await numbered.say("1")
    assert db.exec(select(DialogSession)).one().state["step"] == "place"


async def test_more_choices_than_buttons_fall_back_to_numbers_in_template_mode(zalo: Harness) -> None:
    """The ten categories do not fit Zalo's five buttons: they are numbered in the text, and a number picks one."""
    await zalo.post(zalo.user.follow())
    for text in (vi._("New report"), vi._("Anonymous"), STORY, "đúng", vi._("Another type")):
        await zalo.say(text)
    message = zalo.last()
    assert not message.buttons and "10. " in message.text
    await zalo.say("3")
    assert zalo.last().buttons == [vi._("Name not known")]


async def test_an_oa_that_refuses_buttons_gets_numbered_text_from_then_on(db: Session) -> None:
    """Zalo refuses the buttons template (-201): the same message goes out as text, and later ones skip buttons."""
    fake = FakeZalo(refuse_templates=True)
    z = Harness(zalo_settings(fake), fake)
    try:
        await z.post(z.user.follow())
        assert f"1. {vi._('New report')}" in z.last().text and z.channel.buttons is False
        await z.say("1")
        assert f"1. {vi._('Anonymous')}" in z.last().text
        assert z.fake.calls.count("send") == 3, "one refused call, then one per message"
    finally:
        await z.close()


# -- the webhook --------------------------------------------------------------------------------


async def test_signatures_missing_bad_or_for_another_app_are_refused(zalo: Harness, db: Session) -> None:
    """No header, a wrong mac, a body changed after signing, another app id: 401 and nothing processed."""
    event = zalo.user.text("xin chào")
    body, headers = zalo.user.signed(event)
    assert await zalo.post(event, headers={"Content-Type": "application/json"}) == 401
    wrong = dict(headers, **{SIGNATURE_HEADER: "mac=" + "0" * 64})
    assert await zalo.post(event, headers=wrong) == 401
    assert await zalo.post(event, body=body.replace("xin chào".encode(), b"xin chao"), headers=headers) == 401
    other = ZaloUser(USER, app_id="1111111111111111111")
    other_body, other_headers = other.signed(other.text("xin chào"))
    assert await zalo.post(event, body=other_body, headers=other_headers) == 401
    assert zalo.fake.sent == [] and db.exec(select(ProcessedUpdate)).all() == []
    assert await zalo.post(event, headers=headers) == 200
    assert len(zalo.fake.sent) == 1


async def test_stale_events_and_replays_are_not_processed(zalo: Harness, db: Session) -> None:
    """An event older than five minutes is dropped; the same event twice, or re-signed, is processed once."""
    old = zalo.user.text("xin chào", at_ms=int(time.time() * 1000) - 301_000)
    assert await zalo.post(old) == 200, "acknowledged, so that Zalo stops sending it"
    ahead = zalo.user.text("xin chào", at_ms=int(time.time() * 1000) + 400_000)
    assert await zalo.post(ahead) == 200
    assert zalo.fake.sent == [] and zalo.channel.refused["stale"] == 2
    event = zalo.user.text("xin chào")
    assert await zalo.post(event) == 200
    assert await zalo.post(event) == 200
    resigned = dict(event, timestamp=str(int(event["timestamp"]) + 1000))
    assert await zalo.post(resigned) == 200
    assert len(zalo.fake.sent) == 1, "the same msg_id is processed once"
    assert len(db.exec(select(ProcessedUpdate).where(ProcessedUpdate.channel == "zalo")).all()) == 1


async def test_bodies_that_are_not_events_are_refused(zalo: Harness, db: Session) -> None:
    """Garbage, a JSON list, and a body over the size cap get a 4xx and never reach the engine."""
    headers = {SIGNATURE_HEADER: "mac=00", "Content-Type": "application/json"}
    assert await zalo.post({}, body=b"\xff\xfe not json", headers=headers) == 400
    assert await zalo.post({}, body=b"[1, 2]", headers=headers) == 400
    assert await zalo.post({}, body=b"{" + b" " * 300_000 + b"}", headers=headers) == 413
    assert db.exec(select(DialogSession)).all() == []


async def test_the_webhook_answers_before_the_event_is_processed(zalo: Harness) -> None:
    """A slow OA API does not hold the answer: 200 comes back while the reply is still being sent."""
    zalo.fake.latency = 0.5
    body, headers = zalo.user.signed(zalo.user.text("/start"))
    started = time.perf_counter()
    response = await zalo.http.post(WEBHOOK_PATH, content=body, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and elapsed < 0.4
    assert zalo.fake.sent == []
    await zalo.channel.idle()
    assert len(zalo.fake.sent) == 1


async def test_events_for_another_oa_and_unknown_events_send_nothing(zalo: Harness, db: Session) -> None:
    """Another OA's event, delivery receipts and unfollow are acknowledged without a reply."""
    stranger = ZaloUser(USER, oa_id="999")
    assert await zalo.post(stranger.text("xin chào")) == 200
    seen = zalo.user.event("user_seen_message")
    assert await zalo.post(seen) == 200
    assert await zalo.post(zalo.user.unfollow()) == 200
    assert zalo.fake.sent == [] and db.exec(select(DialogSession)).all() == []


# -- what residents send --------------------------------------------------------------------------


async def test_follow_greets_and_stickers_and_locations_are_explained(zalo: Harness) -> None:
    """Following the OA brings the greeting; a sticker or a location gets the engine's "cannot use this" answer."""
    await zalo.post(zalo.user.follow())
    assert "Mặt trận" in zalo.last().text
    cannot = vi._("This kind of message cannot be used here. Please send text, or photos and documents as evidence.")
    assert (await zalo.send(zalo.user.sticker()))[0] == cannot
    assert (await zalo.send(zalo.user.location()))[0] == cannot


async def test_a_photo_is_stored_without_its_gps_and_tied_to_the_case(zalo: Harness, db: Session) -> None:
    """A user_send_image event: the photo is fetched, stored encrypted without EXIF, and filed with the report."""
    original = gps_jpeg()
    url = zalo.fake.host_file(original, "image/jpeg", "IMG_2031.jpg")
    await walk_report(zalo, evidence=zalo.user.image(url))
    assert any("Thông tin vị trí và thiết bị" in t for t in zalo.fake.texts(USER))
    attachment = db.exec(select(Attachment)).one()
    case = db.exec(select(Case)).one()
    assert attachment.case_id == case.id and attachment.kind == "photo" and attachment.metadata_removed
    assert attachment.sha256_original == hashlib.sha256(original).hexdigest()
    stored = read_attachment(attachment)
    assert not Image.open(io.BytesIO(stored)).getexif() and b"SM-A536E" not in stored


async def test_files_too_large_or_unreachable_are_refused_with_a_reason(zalo: Harness, db: Session) -> None:
    """A file announced over the cap is not fetched; one the file server does not have is asked for again."""
    await zalo.post(zalo.user.follow())
    huge = zalo.user.file("https://files.zalo.test/1/big.pdf", "big.pdf", 50 * 2**20)
    await zalo.post(huge)
    assert zalo.last().text == vi._("This file could not be received. Files must be at most {mb} MB.", mb=20)
    await zalo.post(zalo.user.file("https://files.zalo.test/404/gone.pdf", "gone.pdf", 1000))
    assert zalo.last().text == vi._("This file could not be received. Please send it again.")
    assert "file" not in zalo.fake.calls[:2] and db.exec(select(Attachment)).all() == []


async def test_a_document_keeps_its_type_from_its_name(zalo: Harness, db: Session) -> None:
    """A PDF served as octet-stream, sent as evidence, is stored as application/pdf, as a document."""
    url = zalo.fake.host_file(b"%PDF-1.4 fake evidence", "application/octet-stream", "bien-ban.pdf")
    await walk_report(zalo, evidence=zalo.user.file(url, "bien-ban.pdf", 22))
    attachment = db.exec(select(Attachment)).one()
    assert attachment.kind == "document" and attachment.content_type == "application/pdf"
    assert attachment.case_id == db.exec(select(Case)).one().id


async def test_a_flood_is_limited_and_told_once(db: Session) -> None:
    """Over the per-minute limit the chat is told once to slow down, and the extra messages are not stepped."""
    fake = FakeZalo()
    z = Harness(zalo_settings(fake, chat_messages_per_minute=3), fake)
    try:
        answers = [await z.say(f"/trogiup {i}") for i in range(6)]
        slow_down = vi._("You are sending messages too quickly. Please wait a minute, then continue: nothing you have written is lost.")
        assert all(a and slow_down not in a for a in answers[:3])
        assert answers[3:] == [[slow_down], [], []]
    finally:
        await z.close()


async def test_logs_carry_no_user_id_and_no_message_text(zalo: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """A whole report, a refused signature and a failed send: no log line names the user or quotes them."""
    caplog.set_level(logging.DEBUG)
    await zalo.post(zalo.user.text("xin chào"), headers={SIGNATURE_HEADER: "mac=1"})
    await walk_report(zalo)
    zalo.fake.fail("error:-230")
    await zalo.say("phó chủ tịch UBND xã Bến Thành")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert USER not in text and "phó chủ tịch" not in text and "Bến Thành" not in text
    assert "refused" in text, "the failed send is logged, with Zalo's code"


async def test_the_conversation_can_run_in_a_worker_process(db: Session, capfd: pytest.CaptureFixture[str]) -> None:
    """With a worker process (the default under serve), events are stepped there and answered the same,
    and the worker logs like the server (issue 16, item 7: "case filed via zalo" was lost)."""
    fake = FakeZalo()
    z = Harness(zalo_settings(fake, zalo_worker_processes=1), fake)
    try:
        assert z.channel.processes == 1
        receipt = await walk_report(z)  # every step in the worker process
        assert RECEIPT.search(receipt)
    finally:
        await z.close()
    case = db.exec(select(Case)).one()
    logged = capfd.readouterr().err
    assert f"case {case.id} filed via zalo" in logged, "logged by the worker process"
    assert USER not in logged


def test_the_webhook_exists_only_when_zalo_is_configured(db: Session, classifier: None) -> None:
    """`create_app` without the app id and OA secret has no Zalo route; with them a signed event is answered."""
    with TestClient(create_app()) as client:
        assert client.post(WEBHOOK_PATH, content=b"{}").status_code == 404
    saved = dict(os.environ)
    os.environ.update({"PHANANH_ZALO_APP_ID": APP_ID, "PHANANH_ZALO_OA_SECRET_KEY": OA_SECRET, "PHANANH_ZALO_WORKER_PROCESSES": "0"})
    get_settings.cache_clear()
    try:
        app = create_app()
        fake = FakeZalo()
        install(app, ZaloChannel(zalo_settings(fake), transport=fake.transport))
        user = ZaloUser(USER)
        body, headers = user.signed(user.follow())
        with TestClient(app) as client:
            assert client.post(WEBHOOK_PATH, content=body, headers=headers).status_code == 200
            deadline = time.monotonic() + 60
            while not fake.sent and time.monotonic() < deadline:
                time.sleep(0.02)
        assert "Mặt trận" in fake.sent[0].text
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


async def test_the_daily_report_limit_keeps_the_draft_and_says_when(db: Session, classifier: None) -> None:
    """One report a day: the second filing is refused with the wait in hours, and no second case is made."""
    fake = FakeZalo()
    z = Harness(zalo_settings(fake, chat_reports_per_day=1, chat_messages_per_minute=100), fake)
    try:
        assert RECEIPT.search(await walk_report(z))
        refused = await walk_report(z)
        assert refused in {vi._(REPORTS_PER_DAY, limit=1, hours=h) for h in (23, 24)}  # 23 if an hour turned meanwhile
        assert len(db.exec(select(Case)).all()) == 1
        assert db.exec(select(DialogSession)).one().state["step"] == "review", "the draft waits to be sent"
    finally:
        await z.close()
