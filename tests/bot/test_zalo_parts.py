"""The Zalo channel's parts: signatures, event shapes, rendering, the OA client's failures, token rotation."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlmodel import Session, select

from bot.zalo.channel import ZaloChannel, ZaloSender
from bot.zalo.client import FileTooLarge, OAClient, ZaloError
from bot.zalo.events import read_event, update_key
from bot.zalo.fake import APP_ID, OA_SECRET, FakeZalo, ZaloUser
from bot.zalo.render import MAX_BUTTONS, TEXT_LIMIT, Outgoing, render, split_text
from bot.zalo.signature import Verdict, check, mac
from bot.zalo.tokens import TokenStore, ZaloAuthError
from intake.dialog.types import Button, Reply
from intake.i18n import translator
from intake.models import ZaloToken, utcnow
from tests.bot.test_zalo import USER, _zalo_tokens_table, zalo_settings  # noqa: F401 - the fixture is used here too

vi = translator("vi")
NOW_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC


def _check(body: bytes, header: str | None, **changes: Any) -> Verdict:
    event = json.loads(body)
    options: dict[str, Any] = {"app_id": APP_ID, "secret": OA_SECRET, "max_age_seconds": 300, "now_ms": NOW_MS, **changes}
    return check(body, header, event, **options)


# -- signatures ---------------------------------------------------------------------------------


def test_the_signature_is_plain_sha256_over_app_id_body_timestamp_and_secret() -> None:
    """mac= + hex SHA-256 of the four parts concatenated (not an HMAC), as Zalo documents it."""
    body = b'{"app_id":"1","timestamp":"2"}'
    assert mac("1", body, "2", "s") == "mac=" + hashlib.sha256(b"1" + body + b"2" + b"s").hexdigest()
    assert mac("1", body, "2", "s") != "mac=" + hmac.new(b"s", b"1" + body + b"2", "sha256").hexdigest()


def test_signatures_good_bad_missing_and_stale() -> None:
    """A good signature within five minutes passes; missing, bad, stale, future and timestamp-less ones do not."""
    user = ZaloUser(USER)
    body, headers = user.signed(user.text("xin chào", at_ms=NOW_MS - 60_000))
    good = headers["X-ZEvent-Signature"]
    assert _check(body, good) is Verdict.OK
    assert _check(body, good.upper()) is Verdict.OK, "hex digits in either case"
    assert _check(body, None) is Verdict.MISSING and _check(body, "") is Verdict.MISSING
    assert _check(body, good[:-1] + ("0" if good[-1] != "0" else "1")) is Verdict.BAD
    assert _check(body, good.removeprefix("mac=")) is Verdict.BAD
    assert _check(body, "mac=ü" + good[5:]) is Verdict.BAD, "non-ASCII is compared, not crashed on"
    assert _check(body, good, secret="another-secret") is Verdict.BAD
    assert _check(body, good, now_ms=NOW_MS + 250_000) is Verdict.STALE
    assert _check(body, good, now_ms=NOW_MS - 400_000) is Verdict.STALE, "too far ahead is as bad as too old"
    assert _check(body, good, now_ms=NOW_MS + 250_000, max_age_seconds=600) is Verdict.OK
    no_time = user.text("xin chào")
    del no_time["timestamp"]
    body2, headers2 = user.signed(no_time)
    assert _check(body2, headers2["X-ZEvent-Signature"]) is Verdict.NO_TIMESTAMP
    for weird in ("soon", "1.5e12", True, None, ["1"]):
        odd = dict(user.text("x"), timestamp=weird)
        body3, headers3 = user.signed(odd)
        assert _check(body3, headers3["X-ZEvent-Signature"]) in (Verdict.NO_TIMESTAMP, Verdict.BAD)


# -- event shapes --------------------------------------------------------------------------------

TEXT_EVENT = {
    "app_id": "360846524940903967",
    "sender": {"id": "246845883529197922"},
    "user_id_by_app": "552177279717587730",
    "recipient": {"id": "388613280878808645"},
    "event_name": "user_send_text",
    "message": {"text": "message", "msg_id": "96d51803f1ba16e44fab"},
    "timestamp": "154390853474",
}
IMAGE_EVENT = {
    "app_id": "360846524940903967",
    "sender": {"id": "246845883529197922"},
    "user_id_by_app": "552177279717587730",
    "recipient": {"id": "388613280878808645"},
    "event_name": "user_send_image",
    "message": {
        "text": "ảnh hiện trường",
        "msg_id": "96d51803f1ba16e44fab",
        "attachments": [{"payload": {"thumbnail": "https://f1.zdn.vn/t.jpg", "url": "https://f1.zdn.vn/i.jpg"}, "type": "image"}],
    },
    "timestamp": "154390853474",
}
FILE_EVENT = {
    "app_id": "360846524940903967",
    "sender": {"id": "246845883529197922"},
    "recipient": {"id": "388613280878808645"},
    "event_name": "user_send_file",
    "message": {
        "msg_id": "ab01cd",
        "attachments": [
            {"payload": {"size": "7158", "name": "bien_ban.docx", "checksum": "4d9c", "type": "docx", "url": "https://f2.zdn.vn/f"}, "type": "file"}
        ],
    },
    "timestamp": "1543908534745",
}
FOLLOW_EVENT = {
    "oa_id": "388613280878808645",
    "follower": {"id": "246845883529197922"},
    "user_id_by_app": "552177279717587730",
    "event_name": "follow",
    "source": "testing_webhook",
    "app_id": "360846524940903967",
    "timestamp": "1543908534745",
}


def test_real_event_shapes_are_read() -> None:
    """Text, image with caption, file, follow and unfollow read from Zalo's documented shapes."""
    text = read_event(TEXT_EVENT)
    assert (text.kind, text.user_id, text.oa_id) == ("message", "246845883529197922", "388613280878808645")
    assert (text.msg_id, text.text) == ("96d51803f1ba16e44fab", "message")
    image = read_event(IMAGE_EVENT)
    assert image.text == "ảnh hiện trường" and [(f.url, f.kind) for f in image.files] == [("https://f1.zdn.vn/i.jpg", "photo")]
    file = read_event(FILE_EVENT)
    assert [(f.kind, f.name, f.size) for f in file.files] == [("document", "bien_ban.docx", 7158)]
    follow = read_event(FOLLOW_EVENT)
    assert (follow.kind, follow.user_id, follow.oa_id) == ("follow", "246845883529197922", "388613280878808645")
    assert read_event(dict(FOLLOW_EVENT, event_name="unfollow")).kind == "unfollow"


def test_odd_events_are_ignored_or_unsupported_never_a_crash() -> None:
    """Receipts, anonymous chats, missing senders, broken attachments and junk map to ignore or unsupported."""
    assert read_event({"event_name": "user_seen_message", "sender": {"id": "1"}}).kind == "ignore"
    assert read_event({"event_name": "anonymous_send_text", "sender": {"id": "1"}}).kind == "ignore"
    assert read_event({"event_name": "user_send_text"}).kind == "ignore"
    assert read_event({"event_name": "follow"}).kind == "ignore"
    assert read_event({}).kind == "ignore"
    assert read_event({"event_name": 5, "sender": "x", "message": []}).kind == "ignore"
    broken = dict(IMAGE_EVENT, message={"msg_id": "1", "attachments": [{"type": "image", "payload": {"url": "file:///etc/passwd"}}]})
    assert read_event(broken).unsupported == "image", "a non-HTTP URL is never fetched"
    assert read_event(dict(TEXT_EVENT, event_name="user_send_sticker")).unsupported == "sticker"
    assert read_event(dict(TEXT_EVENT, event_name="user_send_location")).unsupported == "location"
    assert read_event(dict(TEXT_EVENT, event_name="user_send_hologram")).unsupported == "hologram"
    link = dict(TEXT_EVENT, event_name="user_send_link", message={"msg_id": "2", "attachments": [{"type": "link", "payload": {"url": "https://vnexpress.net/a"}}]})
    assert read_event(link).text == "https://vnexpress.net/a"
    many = dict(IMAGE_EVENT, message={"msg_id": "3", "attachments": [IMAGE_EVENT["message"]["attachments"][0]] * 40})  # type: ignore[index]
    assert len(read_event(many).files) == 10


def test_update_keys_follow_the_message_id_else_the_body() -> None:
    """The same msg_id gives the same key whatever the timestamp; events without one are keyed by body."""
    a, b = read_event(TEXT_EVENT), read_event(dict(TEXT_EVENT, timestamp="1"))
    assert update_key(a, b"x") == update_key(b, b"y") and len(update_key(a, b"x")) == 64
    follow = read_event(FOLLOW_EVENT)
    assert update_key(follow, b"one") != update_key(follow, b"two")


# -- rendering ----------------------------------------------------------------------------------


def test_long_texts_are_split_under_zalos_limit_without_losing_a_character() -> None:
    """A long reply is cut at line breaks, else spaces, every piece at most 2,000 characters."""
    text = "\n".join(f"Dòng {i}: " + "phản ánh " * 30 for i in range(40)) + "\n" + "x" * 4500
    pieces = split_text(text)
    assert all(0 < len(p) <= TEXT_LIMIT for p in pieces) and len(pieces) > 3
    assert "".join(pieces).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
    assert split_text("ngắn") == ["ngắn"]


def test_buttons_ride_on_the_last_piece_and_too_many_become_numbers() -> None:
    """Up to five choices are buttons on the last piece; more are numbered at a choice step, listed elsewhere."""
    few = Reply("a" * 2500, (Button("Có", "yes"), Button("Không", "no")))
    out = render([few], choosing=True, buttons=True, t=vi)
    assert [m.choices for m in out] == [(), ("Có", "Không")]
    payload = out[-1].payload()
    assert payload["attachment"]["payload"]["buttons"][0] == {"title": "Có", "type": "oa.query.show", "payload": "Có"}
    many = Reply("Chọn loại", tuple(Button(f"Loại {i}", f"cat:{i}") for i in range(MAX_BUTTONS + 1)))
    numbered = render([many], choosing=True, buttons=True, t=vi)
    assert len(numbered) == 1 and not numbered[0].choices and "6. Loại 5" in numbered[0].text
    listed = render([many], choosing=False, buttons=True, t=vi)
    assert "• Loại 5" in listed[0].text and "6." not in listed[0].text
    earlier = render([Reply("cũ", (Button("A", "a"),)), Reply("mới", (Button("B", "b"),))], choosing=True, buttons=False, t=vi)
    assert "• A" in earlier[0].text and "1. B" in earlier[1].text, "only the question now asked is numbered"
    assert render([Reply("chỉ chữ")], choosing=True, buttons=True, t=vi) == [Outgoing("chỉ chữ")]


# -- the OA client against a failing Zalo ----------------------------------------------------------


@pytest.fixture()
async def sending(db: Session) -> AsyncIterator[tuple[ZaloChannel, FakeZalo]]:
    fake = FakeZalo()
    channel = ZaloChannel(zalo_settings(fake), transport=fake.transport)
    yield channel, fake
    await channel.shutdown()


async def test_error_codes_say_whether_to_retry(sending: tuple[ZaloChannel, FakeZalo]) -> None:
    """-230 (out of the 7-day window) is final; -32 is a rate limit with a wait; an unknown code may be retried."""
    channel, fake = sending
    fake.fail("error:-230", "rate_limit", "error:-999")
    with pytest.raises(ZaloError) as final:
        await channel.deliver(USER, "Ủy ban đã nhận phản ánh.")
    assert final.value.code == -230 and not final.value.retryable
    with pytest.raises(ZaloError) as limited:
        await channel.deliver(USER, "Ủy ban đã nhận phản ánh.")
    assert limited.value.code == -32 and limited.value.retryable and limited.value.retry_after == 60
    with pytest.raises(ZaloError) as unknown:
        await channel.deliver(USER, "Ủy ban đã nhận phản ánh.")
    assert unknown.value.retryable and unknown.value.retry_after is None
    assert fake.sent == []
    assert await channel.deliver(USER, "Ủy ban đã nhận phản ánh.")
    assert fake.texts(USER) == ["Ủy ban đã nhận phản ánh."]


async def test_timeouts_and_server_errors_tell_whether_the_message_may_have_arrived(sending: tuple[ZaloChannel, FakeZalo]) -> None:
    """No connection: not sent; an answer lost after Zalo took it: maybe sent; HTTP 503 and 429 carry Retry-After."""
    channel, fake = sending
    fake.fail("timeout", "timeout_after_send", "http:503", "http:429")
    with pytest.raises(ZaloError) as refused:
        await channel.deliver(USER, "một")
    assert refused.value.retryable and not refused.value.maybe_sent
    with pytest.raises(ZaloError) as lost:
        await channel.deliver(USER, "hai")
    assert lost.value.maybe_sent and fake.texts(USER) == ["hai"], "Zalo delivered it although the answer was lost"
    with pytest.raises(ZaloError) as down:
        await channel.deliver(USER, "ba")
    assert down.value.code == 503 and down.value.retry_after == 7
    with pytest.raises(ZaloError) as busy:
        await channel.deliver(USER, "bốn")
    assert busy.value.code == 429 and busy.value.retry_after == 7


async def test_a_long_message_resumes_where_it_stopped(sending: tuple[ZaloChannel, FakeZalo]) -> None:
    """Part two fails: the error says one part arrived; retrying from there sends each part exactly once."""
    channel, fake = sending
    text = "\n".join(["Kết quả xác minh: " + "nội dung " * 150] * 3)
    await channel.deliver("warm-up", "x")  # the token is fetched before the scripted failure
    fake.fail("ok", "error:-999")
    with pytest.raises(ZaloError) as stopped:
        await channel.deliver(USER, text)
    assert stopped.value.parts_sent == 1
    ids = await channel.deliver(USER, text, start_part=stopped.value.parts_sent)
    parts = fake.texts(USER)
    assert len(ids) == len(parts) - 1 and len(parts) == len(split_text(text)) and "".join(parts).replace("\n", "") == text.replace("\n", "")


async def test_an_expired_access_token_is_refreshed_once_and_the_send_goes_through(sending: tuple[ZaloChannel, FakeZalo], db: Session) -> None:
    """After 25 hours Zalo answers -216: the channel refreshes (rotating the refresh token) and sends."""
    channel, fake = sending
    await channel.deliver(USER, "một")
    first = db.exec(select(ZaloToken)).one().refresh_token_enc
    fake.expire_access_tokens()
    await channel.deliver(USER, "hai")
    assert fake.texts(USER) == ["một", "hai"] and fake.calls.count("oauth") == 2
    db.expire_all()
    assert db.exec(select(ZaloToken)).one().refresh_token_enc != first and len(fake.refresh_tokens) == 1


async def test_the_sync_sender_delivers_from_plain_threads(db: Session) -> None:
    """ZaloSender (for the outbox worker) delivers from a blocking caller and reports Zalo's refusals."""
    fake = FakeZalo()
    sender = ZaloSender(zalo_settings(fake), transport=fake.transport)
    try:
        ids = await asyncio.to_thread(sender.deliver, USER, "Phản ánh của Anh/Chị đã được chuyển cơ quan có thẩm quyền.")
        assert len(ids) == 1 and fake.texts(USER) == ["Phản ánh của Anh/Chị đã được chuyển cơ quan có thẩm quyền."]
        fake.fail("error:-213")
        with pytest.raises(ZaloError) as gone:
            await asyncio.to_thread(sender.deliver, USER, "Lần hai")
        assert gone.value.code == -213 and not gone.value.retryable
        assert await asyncio.to_thread(sender.send_replies, USER, [Reply("Chọn", (Button("Có", "yes"),))])
        assert fake.sent[-1].buttons == ["Có"]
    finally:
        await asyncio.to_thread(sender.close)


# -- tokens -------------------------------------------------------------------------------------


def _stores(fake: FakeZalo, **changes: Any) -> tuple[TokenStore, TokenStore]:
    settings = zalo_settings(fake, **changes)
    return TokenStore(settings, transport=fake.transport), TokenStore(settings, transport=fake.transport)


def test_tokens_are_stored_encrypted_and_the_refresh_token_rotates(db: Session) -> None:
    """The first refresh uses the configured token; both tokens are kept only encrypted; each refresh rotates."""
    fake = FakeZalo()
    initial = fake.issue_refresh_token()
    store = TokenStore(zalo_settings(fake, zalo_initial_refresh_token=SecretStr(initial)), transport=fake.transport)
    access = store.current()
    assert access in fake.access_tokens and initial not in fake.refresh_tokens, "the configured token is used up"
    before = db.exec(select(ZaloToken)).one().refresh_token_enc
    raw = db.execute(sa.text("SELECT access_token_enc, refresh_token_enc FROM zalo_tokens")).one()
    issued = next(iter(fake.refresh_tokens))
    assert access.encode() not in raw[0] and issued.encode() not in raw[1] and initial.encode() not in raw[1]
    assert store.current() == access and fake.calls.count("oauth") == 1, "a fresh token is reused"
    new = store.rejected(access)
    assert new != access and fake.calls.count("oauth") == 2
    db.expire_all()
    assert db.exec(select(ZaloToken)).one().refresh_token_enc != before
    assert len(fake.refresh_tokens) == 1 and issued not in fake.refresh_tokens, "the previous refresh token is spent"


def test_a_second_process_uses_the_token_another_one_refreshed(db: Session) -> None:
    """Two stores (two workers): the second finds the token the first refreshed, with no refresh of its own."""
    fake = FakeZalo()
    one, two = _stores(fake)
    token = one.current()
    assert two.current() == token and fake.calls.count("oauth") == 1
    newer = one.rejected(token)
    assert two.rejected(token) == newer and fake.calls.count("oauth") == 2


def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(db: Session) -> None:
    """Both workers see the token refused at the same moment: one refreshes, the other waits and takes its result."""
    fake = FakeZalo(oauth_latency=0.3)
    one, two = _stores(fake)
    token = one.current()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda store: store.rejected(token), [one, two]))
    assert results[0] == results[1] != token and fake.calls.count("oauth") == 2, "one refresh for both, after the first"


def test_an_old_or_expiring_token_is_refreshed_before_use(db: Session) -> None:
    """An access token ten minutes from expiry, or a refresh token unused for a week, is refreshed first."""
    fake = FakeZalo()
    store, _ = _stores(fake)
    store.current()
    db.execute(sa.update(ZaloToken).values(expires_at=utcnow() + timedelta(minutes=5)))
    db.commit()
    store._cached = None
    store.current()
    assert fake.calls.count("oauth") == 2
    db.execute(sa.update(ZaloToken).values(updated_at=utcnow() - timedelta(days=8)))
    db.commit()
    store._cached = None
    store.current()
    assert fake.calls.count("oauth") == 3


def test_a_refused_refresh_token_falls_back_to_the_configured_one(db: Session) -> None:
    """The stored refresh token was revoked; an administrator set a new one: the store recovers with it."""
    fake = FakeZalo()
    store, _ = _stores(fake)
    store.current()
    fake.refresh_tokens.clear()  # the app was re-authorized: old tokens are void
    fake.expire_access_tokens()
    fresh = fake.issue_refresh_token()
    recovered = TokenStore(zalo_settings(fake, zalo_initial_refresh_token=SecretStr(fresh)), transport=fake.transport)
    assert recovered.rejected(store.current()) in fake.access_tokens


def test_without_any_refresh_token_sending_fails_clearly(db: Session) -> None:
    """No configured or stored refresh token: ZaloAuthError, and nothing sent to OAuth."""
    fake = FakeZalo()
    store = TokenStore(zalo_settings(None), transport=fake.transport)
    with pytest.raises(ZaloAuthError, match="PHANANH_ZALO_INITIAL_REFRESH_TOKEN"):
        store.current()
    wrong_secret = TokenStore(zalo_settings(fake, zalo_app_secret=SecretStr("nope")), transport=fake.transport)
    with pytest.raises(ZaloAuthError) as refused:
        wrong_secret.current()
    assert refused.value.code == -14001


async def test_the_client_reports_a_missing_token_as_a_retryable_failure(db: Session) -> None:
    """Sending with no refresh token configured raises ZaloError (retry later), not an unexpected exception."""
    fake = FakeZalo()
    client = OAClient(zalo_settings(None), transport=fake.transport)
    try:
        with pytest.raises(ZaloError) as err:
            await client.send(USER, {"text": "x"})
        assert err.value.retryable and "no access token" in str(err.value)
    finally:
        await client.close()


async def test_downloads_stop_at_the_cap(sending: tuple[ZaloChannel, FakeZalo]) -> None:
    """A file over the cap is refused while reading, whatever size was announced."""
    channel, fake = sending
    url = fake.host_file(b"x" * 5000, "application/pdf", "a.pdf")
    data, kind = await channel.client.download(url, 5000)
    assert len(data) == 5000 and kind == "application/pdf"
    with pytest.raises(FileTooLarge):
        await channel.client.download(url, 4999)
    with pytest.raises(ZaloError):
        await channel.client.download("https://files.zalo.test/missing", 5000)
