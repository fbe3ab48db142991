"""Bad input gets a clean answer: never a 500, and nothing invisible or unencodable is stored."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from intake.db import get_engine
from intake.models import Case, CaseMessage
from intake.validation import clean_text
from phananh.web import create_app
from tests.admin.conftest import BEN_THANH, csrf_for, file_case, make_staff, signed_in
from tests.bot.test_webchat import WEB_REPORT, _say, file_the_rest

HIDDEN = "\u202eCho\u200bt\u1ecbch\u2066 x\u00e3\u200d \u0111\u00f2i ti\u1ec1n\ufeff"


def _raw(client: TestClient, body: bytes) -> Any:
    return client.post("/api/chat", content=body, headers={"content-type": "application/json"})


def test_a_lone_surrogate_in_a_chat_message_is_answered_not_a_500(db: Session) -> None:
    """Seen: "\\ud800" in the story gave a 500 (the reply could not be written as JSON); it is dropped now."""
    client = TestClient(create_app(), raise_server_exceptions=False)
    for body in WEB_REPORT[:3]:
        _say(client, **dict(body))
    r = _raw(client, b'{"text": "Ch\\u1ee7 t\\u1ecbch x\\u00e3 \\ud800\\udfff nh\\u1eadn ti\\u1ec1n c\\u1ee7a d\\u00e2n \\ud800"}')
    assert r.status_code == 200 and r.json()["replies"]
    r = _raw(client, b'{"text": "x", "button": "\\udfff", "lang": "\\ud800"}')
    assert r.status_code == 422 and "Traceback" not in r.text


def test_bidirectional_and_zero_width_characters_are_not_stored(db: Session) -> None:
    """A right-to-left override or a zero-width space would make a report display otherwise than it says."""
    assert clean_text(HIDDEN) == "Chotịch xã đòi tiền"
    client = TestClient(create_app())
    for body in [*WEB_REPORT[:3], {"text": HIDDEN + " năm triệu mới ký giấy xác nhận đất"}]:
        _say(client, **dict(body))
    file_the_rest(client)
    case = db.exec(select(Case)).one()
    for ch in "\u202e\u200b\u2066\u200d\ufeff":
        assert ch not in case.description
    officer = signed_in(make_staff(db, "cb_note", case_committee_code(db, case)))
    officer.post(f"/admin/cases/{case.id}/note", data={"csrf": csrf_for(officer), "text": "ghi chú \u202eđảo chiều"})
    note = db.exec(select(CaseMessage).where(CaseMessage.direction == "note")).one()
    assert note.body == "ghi chú đảo chiều"


def case_committee_code(db: Session, case: Case) -> str:
    from intake.models import Committee

    committee = db.get(Committee, case.committee_id)
    assert committee is not None
    return committee.code


@pytest.mark.parametrize("path", ["/admin/cases/99999999999999999999", "/admin/cases/9223372036854775808",
                                  "/admin/cases/1/attachments/99999999999999999999",
                                  # Seen later: a sign, a space or a zero fraction still reached the driver (500).
                                  "/admin/cases/-99999999999999999999", "/admin/cases/-9223372036854775809",
                                  "/admin/cases/%2B99999999999999999999", "/admin/cases/%2099999999999999999999",
                                  "/admin/cases/99999999999999999999%20", "/admin/cases/99999999999999999999.0",
                                  "/admin/cases/-99999999999999999999/attachments/1"])
def test_ids_beyond_64_bits_are_not_found(db: Session, path: str) -> None:
    """Seen: /admin/cases/99999999999999999999 gave a 500 (OverflowError); it names nothing: 404."""
    client = signed_in(make_staff(db, "cb_ids", BEN_THANH))
    assert client.get(path, follow_redirects=False).status_code == 404


def test_a_decision_on_a_transfer_beyond_64_bits_is_not_found(db: Session) -> None:
    """Form posts with such ids are refused the same way."""
    client = signed_in(make_staff(db, "cb_ids", BEN_THANH))
    r = client.post("/admin/transfers/99999999999999999999/decide", data={"csrf": csrf_for(client), "decision": "approve"})
    assert r.status_code == 404
    r = client.post("/admin/transfers/-99999999999999999999/decide", data={"csrf": csrf_for(client), "decision": "approve"})
    assert r.status_code == 404


def test_a_busy_database_answers_503_with_retry_after_and_the_text_comes_back(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's write lock held past the wait: the chat gets 503, Retry-After and the polite words; nothing is lost."""
    if get_engine().dialect.name != "sqlite":
        pytest.skip("SQLite's single writer")
    import intake.db as dbmod

    client = TestClient(create_app(), raise_server_exceptions=False)
    for body in WEB_REPORT[:3]:
        _say(client, **dict(body))
    lock = dbmod._WRITE_LOCKS[get_engine().url.database or ""]
    monkeypatch.setattr(dbmod, "_WRITE_WAIT_SECONDS", 0.2)
    lock.acquire()
    try:
        r = client.post("/api/chat", json={"text": "Chủ tịch xã đòi tiền mới ký giấy", "lang": "vi"})
    finally:
        lock.release()
    assert r.status_code == 503 and r.headers["retry-after"] == "30"
    assert r.json()["error"] == "busy" and r.json()["replies"][0]["text"]
    assert "Traceback" not in r.text and "Chủ tịch" not in r.text
    r = client.post("/api/chat", json={"text": "Chủ tịch xã đòi tiền mới ký giấy", "lang": "vi"})
    assert r.status_code == 200, "once the lock is free, the same message goes through"


def test_a_busy_database_shows_the_admin_a_page_not_a_trace(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """An officer gets the admin's own page with 503 and Retry-After."""
    filed = file_case(db)
    client = signed_in(make_staff(db, "cb_busy", BEN_THANH))
    import intake.casework.queries as queries

    def locked(*_a: object, **_k: object) -> None:
        raise sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(queries, "case_view", locked)
    r = TestClient(client.app, raise_server_exceptions=False, cookies=client.cookies).get(f"/admin/cases/{filed.case.id}")
    assert r.status_code == 503 and r.headers["retry-after"] == "30" and "bận" in r.text
