"""Reports through every channel leave no reporter's name, phone or account id in the database, logs or file store.

Distinctive residents file anonymous, confidential and open reports with a photo through the web
chat, Telegram, Zalo and the terminal, at log level DEBUG (with the library loggers held where
`phananh.logging` holds them). Then the raw database (SQLite file and its WAL, or every PostgreSQL
table as JSON text), the log file and the attachment store are searched byte for byte.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session, SQLModel, select

from bot.terminal import run_chat
from intake.attachments import read_attachment
from intake.crypto import decrypt
from intake.db import get_engine
from intake.i18n import translator
from intake.models import Attachment, Case, ChatLink, ReporterIdentity
from intake.search import fold
from phananh.logging import NOISY
from phananh.web import create_app
from tests.intake.security_helpers import sealed
from tests.raw_files import raw_bytes

vi = translator("vi")._

# Who the residents are: none of this may be found anywhere but inside ciphertext.
WEB_NAME, WEB_PHONE = "Lương Thị Bích Ngọc", "0977123401"
TG_NAME, TG_PHONE = "Hoàng Văn Thạch Sơn", "0911222334"
TG_USER_ID, TG_USERNAME, TG_FIRST = 8123456701, "privacy_probe_tg_u", "Quỳnh Anh Riêngtư"
ZALO_NAME, ZALO_PHONE, ZALO_USER = "Trịnh Minh Khôi Nguyên", "0388777665", "7020499988877766655"
TERM_NAME, TERM_PHONE, TERM_SESSION = "Vũ Đình Phương Thảo", "0354999888", "term-privacy-session-4471"
EXIF_OWNER = "Dang Quoc Bao XQEXIF owner"  # written into the photos' EXIF as the camera owner

# What each resident wrote: allowed in the case (the Front's record), never in a log.
TEXTS = {
    "web": "Chủ tịch xã Đông Hưng nhận phong bì của nhà thầu để nghiệm thu công trình XQWEB",
    "web-anon": "Cán bộ địa chính UBND phường thu tiền ngoài quy định khi làm sổ đỏ XQANON",
    "telegram": "Phó chủ tịch UBND phường đòi tiền mới ký giấy xác nhận đất cho dân XQTELE",
    "zalo": "Trưởng công an xã nhận tiền bảo kê của các quán karaoke XQZALO",
    "terminal": "Bí thư đảng ủy xã tổ chức đánh bạc ăn tiền tại nhà riêng XQTERM",
}
PLACE = "phường Bến Thành, TP Hồ Chí Minh"


def _owner_photo() -> bytes:
    """A JPEG whose EXIF names its owner, camera and where it was taken, as a phone's may."""
    exif = Image.Exif()
    exif[0x013B] = EXIF_OWNER  # Artist
    exif[0x010F] = "Samsung"
    exif.get_ifd(0x8825).update({1: "N", 2: (21.0, 1.0, 40.0), 3: "E", 4: (105.0, 50.0, 3.0)})
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 160, 60)).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


PHOTO = _owner_photo()  # made at import, so the log holds only what phananh itself does with it


def owner_photo() -> bytes:
    return PHOTO


@pytest.fixture()
def debug_log(tmp_path: Path) -> Iterator[Path]:
    """Every log record at DEBUG into a file, library loggers held as `phananh.logging.configure` holds them."""
    path = tmp_path / "phananh.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in NOISY}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    yield path
    root.removeHandler(handler)
    handler.close()
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


def web_report(mode: str, text: str, name: str = "", phone: str = "") -> str:
    """A report through the web chat API with a photo; returns the chat cookie (the web's chat id)."""
    from tests.bot.test_webchat import _say

    client = TestClient(create_app())

    def say(**body: object) -> list[dict[str, object]]:
        return _say(client, **body)

    say(resume=True)
    for body in (
        # Each story names the post and the agency: confirmed in one press.
        {"button": "menu:report"}, {"button": f"mode:{mode}"}, {"text": text}, {"text": "đúng"}, {"button": "cat:7"},
        {"button": "skip"}, {"text": PLACE}, {"button": "setting:workplace"}, {"button": "unknown"},
    ):  # fmt: skip
        say(**body)
    upload = client.post("/api/chat/upload", files={"file": ("anh.jpg", owner_photo(), "image/jpeg")})
    assert upload.status_code == 200, upload.text
    client.last_replies = upload.json()["replies"]  # type: ignore[attr-defined]
    say(button="done")
    if mode != "anonymous":
        say(text=name)
        say(text=phone)
    replies = say(button="send")
    assert replies[0].get("receipt"), replies
    return str(client.cookies.get("pa_chat"))


async def telegram_report() -> None:
    """A confidential report through the offline Telegram bot, with a photo, opted in to updates."""
    from bot.telegram.fake import Resident
    from tests.bot.test_telegram import Harness, telegram_settings

    tg = Harness(telegram_settings())
    try:
        r = Resident(tg.fake, TG_USER_ID, first_name=TG_FIRST, username=TG_USERNAME)
        steps = [r.text("/start"), "menu:report", "mode:confidential", r.text(TEXTS["telegram"]), r.text("đúng"), "cat:7", "skip"]
        steps += [r.text(PLACE), "setting:workplace", "unknown"]
        steps += [r.photo(owner_photo(), caption="ảnh chụp hồ sơ"), "done", r.text(TG_NAME), r.text(TG_PHONE), "yes", "send"]
        for step in steps:
            await tg.deliver(r.press(step) if isinstance(step, str) else step)
        assert any("Mã tiếp nhận" in t for t in tg.fake.texts(r.chat_id))
    finally:
        await tg.channel.shutdown()


async def zalo_report() -> None:
    """A confidential report through signed Zalo webhook events, with a photo, opted in to updates."""
    from bot.zalo.fake import FakeZalo, ZaloUser
    from tests.bot.test_zalo import Harness, zalo_settings

    fake = FakeZalo()
    z = Harness(zalo_settings(fake), fake)
    z.user = ZaloUser(ZALO_USER)
    try:
        assert await z.post(z.user.follow()) == 200
        for answer in (vi("New report"), vi("Confidential identity"), TEXTS["zalo"], "đúng"):
            await z.say(answer)
        await z.say(z.fake.to(ZALO_USER)[-1].buttons[0])  # the suggested category
        for answer in (vi("Name not known"), PLACE, vi("At their workplace"), vi("I don't remember when")):
            await z.say(answer)
        assert await z.post(z.user.image(fake.host_file(owner_photo(), "image/jpeg", "IMG_0001.jpg"))) == 200
        for answer in (vi("No more files"), ZALO_NAME, ZALO_PHONE, vi("Yes, notify me")):
            await z.say(answer)
        assert any("-" in t for t in await z.say(vi("Send this report")))
    finally:
        await z.close()


def terminal_report() -> None:
    """An open report through `phananh chat --json`, in a named session."""
    press = [vi(label) for label in ("New report", "Open", "That's right, go on", "Name not known")]
    press += [vi(label) for label in ("I don't remember when", "No evidence", "Send this report")]
    lines = [  # the story names the post, the agency and that it was at home: confirmed in one press
        f"[{press[0]}]", f"[{press[1]}]", TEXTS["terminal"], f"[{press[2]}]",
        "[Tệ nạn xã hội, vi phạm thuần phong mỹ tục]", f"[{press[3]}]", PLACE,
        f"[{press[4]}]", f"[{press[5]}]", TERM_NAME, TERM_PHONE, f"[{press[6]}]",
    ]  # fmt: skip
    out = io.StringIO()
    run_chat(io.StringIO("\n".join(lines) + "\n"), out, as_json=True, session_name=TERM_SESSION)
    assert any("receipt" in line for line in out.getvalue().splitlines()[-3:]), out.getvalue()[-500:]


def variants(value: str) -> set[bytes]:
    """The forms a value could take in a file: UTF-8, JSON-escaped, folded for search, spaced like a phone."""
    forms = {value, json.dumps(value)[1:-1], fold(value)}
    if value.isdigit() and len(value) == 10:
        forms |= {f"{value[:4]} {value[4:7]} {value[7:]}", "+84" + value[1:], "84" + value[1:]}
    return {f.encode("utf-8") for f in forms if f}


def database_bytes(*extra_tables: str) -> dict[str, bytes]:
    """The raw database: the SQLite file and its WAL, or every PostgreSQL table as JSON text."""
    engine = get_engine()
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database or "")
        # Never read_bytes() here: closing it would drop this process's SQLite locks (tests/raw_files.py).
        return {p.name: raw_bytes(p) for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()}
    dump = {}
    with engine.connect() as conn:
        for name in [t.name for t in SQLModel.metadata.sorted_tables] + list(extra_tables):
            rows = conn.execute(sa.text(f"SELECT row_to_json(r_)::text FROM {name} r_")).scalars().all()  # noqa: S608
            dump[name] = "\n".join(rows).encode("utf-8")
    return dump


def store_bytes() -> dict[str, bytes]:
    """The evidence store as stored: each attachment's encrypted chunks."""
    with Session(get_engine()) as session:
        return {f"evidence/{a.id}": sealed(a) for a in session.exec(select(Attachment)).all()}


def hits(haystacks: dict[str, bytes], needles: dict[str, str]) -> list[str]:
    """Which needle (by label) was found in which haystack, in any of its forms."""
    found = []
    for label, value in needles.items():
        for form in variants(value):
            found += [f"{label} in {where}" for where, data in haystacks.items() if form in data]
    return sorted(set(found))


@pytest.mark.slow
async def test_no_identity_in_database_logs_or_attachment_store(db: Session, debug_log: Path) -> None:
    """Names, phones, Telegram ids and usernames, Zalo ids, chat names: zero hits; report text: not in the logs."""
    web_chat = web_report("open", TEXTS["web"], WEB_NAME, WEB_PHONE)
    web_report("anonymous", TEXTS["web-anon"])
    await telegram_report()
    await zalo_report()
    terminal_report()
    with get_engine().connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # everything committed; nothing checkpointed on purpose (the WAL is read too)

    # The reports are there, identities encrypted and readable by the key holder, handles linked.
    cases = db.exec(select(Case).order_by(Case.id)).all()  # type: ignore[arg-type]
    assert [(c.channel, c.anonymity) for c in cases] == [
        ("web", "open"), ("web", "anonymous"), ("telegram", "confidential"), ("zalo", "confidential"), ("terminal", "open")
    ]  # fmt: skip
    names = {decrypt(i.name_enc): decrypt(i.phone_enc) for i in db.exec(select(ReporterIdentity)).all()}
    assert names == {WEB_NAME: WEB_PHONE, TG_NAME: TG_PHONE, ZALO_NAME: ZALO_PHONE, TERM_NAME: TERM_PHONE}
    links = {link.channel: decrypt(link.handle_enc or b"") for link in db.exec(select(ChatLink)).all()}
    assert links == {"telegram": str(TG_USER_ID), "zalo": ZALO_USER}
    attachments = db.exec(select(Attachment)).all()
    assert len(attachments) == 4 and all(a.case_id is not None and a.metadata_removed for a in attachments)
    assert all(EXIF_OWNER.encode() not in read_attachment(a) and b"Samsung" not in read_attachment(a) for a in attachments)
    assert all(marker.split()[-1] in c.description for c, marker in zip(cases, TEXTS.values(), strict=True))

    identities = {
        "web name": WEB_NAME, "web phone": WEB_PHONE, "web chat cookie": web_chat,
        "telegram name": TG_NAME, "telegram phone": TG_PHONE, "telegram user id": str(TG_USER_ID),
        "telegram username": TG_USERNAME, "telegram first name": TG_FIRST,
        "zalo name": ZALO_NAME, "zalo phone": ZALO_PHONE, "zalo user id": ZALO_USER,
        "zalo user id by app": "55" + ZALO_USER[-8:],
        "terminal name": TERM_NAME, "terminal phone": TERM_PHONE, "terminal session": TERM_SESSION,
        "exif owner": EXIF_OWNER,
    }  # fmt: skip
    log = debug_log.read_bytes()
    assert len(log) > 1000, "the log captured the run"
    assert hits(database_bytes(), identities) == []
    assert hits(store_bytes(), identities) == []
    assert hits({"log": log}, identities) == []
    assert hits({"log": log}, {f"{k} report text": v for k, v in TEXTS.items()}) == []
    assert hits({"log": log}, {f"{k} marker": v.split()[-1] for k, v in TEXTS.items()}) == []


def test_the_search_can_find_what_it_looks_for(db: Session) -> None:
    """The byte search is not blind: an identity written in clear into a table is found in the raw database."""
    case_text = "Kiểm tra bộ dò: Tôn Nữ Thị Kiểm Thử 0966000111"
    with get_engine().begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS privacy_probe (t TEXT)"))
        conn.execute(sa.text("INSERT INTO privacy_probe (t) VALUES (:t)"), {"t": case_text})
    try:
        found = hits(database_bytes("privacy_probe"), {"name": "Tôn Nữ Thị Kiểm Thử", "phone": "0966000111"})
        where = {k: len(v) for k, v in database_bytes("privacy_probe").items()}
        assert any(h.startswith("name in ") for h in found) and any(h.startswith("phone in ") for h in found), (found, get_engine().url, where)
    finally:
        with get_engine().begin() as conn:
            conn.execute(sa.text("DROP TABLE privacy_probe"))


def test_database_errors_logged_by_the_server_do_not_carry_the_values_written(db: Session) -> None:
    """A failed statement, logged with its traceback as uvicorn logs a failed request, names no value bound to it."""
    from sqlalchemy.exc import IntegrityError

    from intake.models import StaffSession
    from phananh.logging import WithholdExceptionMessages, withhold_exception_messages

    secret = "Ngô Thị Lộ Ra 0912000999"
    with pytest.raises(IntegrityError) as failed:  # noqa: PT012
        with get_engine().begin() as conn:
            conn.execute(sa.insert(StaffSession.__table__).values(token_hash="x", user_id=987654321, csrf_token=secret))  # type: ignore[attr-defined]
    assert "parameters hidden" in str(failed.value)  # SQLAlchemy's part; PostgreSQL's DETAIL may still quote the row

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        withhold_exception_messages()
        logger.error("Exception in ASGI application", exc_info=failed.value)
    finally:
        logger.removeHandler(handler)
        for name in ("uvicorn.error", "uvicorn", "asyncio", "concurrent.futures"):
            for f in [f for f in logging.getLogger(name).filters if isinstance(f, WithholdExceptionMessages)]:
                logging.getLogger(name).removeFilter(f)
        for h in logging.getLogger().handlers:
            for f in [f for f in h.filters if isinstance(f, WithholdExceptionMessages)]:
                h.removeFilter(f)
    logged = out.getvalue()
    assert "IntegrityError: (message withheld)" in logged and 'File "' in logged
    assert "Lộ Ra" not in logged and "0912000999" not in logged
