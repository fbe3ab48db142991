"""/healthz, /readyz and /metrics: what the proxy, the supervisor and the monitoring read."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session

from intake.classify import get_classifier, reset_classifier
from intake.config import get_settings
from intake.places.gazetteer import get_gazetteer
from phananh import health
from phananh.web import create_app
from tests.chat import chat_post
from tests.intake.security_helpers import file_full_report

LOCAL = ("127.0.0.1", 50123)
REMOTE = ("203.0.113.7", 50123)


@pytest.fixture()
def loaded() -> None:
    """The classifier and the gazetteer in memory, as `serve` has them before it answers."""
    get_classifier()
    get_gazetteer()


def test_healthz_answers_whatever_else_is_wrong(db: Session) -> None:
    """The process answers: 200, nothing else said."""
    r = TestClient(create_app()).get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"} and r.headers["cache-control"] == "no-store"


def test_readyz_is_200_with_everything_loaded(db: Session, loaded: None) -> None:
    """Database, migrations at head, classifier and committee tree: all pass, 200."""
    r = TestClient(create_app()).get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"ready": True, "checks": {"database": True, "migrations": True, "classifier": True, "committees": True}}


def test_readyz_names_what_is_not_ready(db: Session, loaded: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No classifier loaded, or a schema behind the code: 503 naming the failed check only."""
    client = TestClient(create_app())
    reset_classifier()
    try:
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"] == {"database": True, "migrations": True, "classifier": False, "committees": True}
    finally:
        get_classifier()
    monkeypatch.setattr(health, "schema_head", lambda: "9999")
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["migrations"] is False and r.json()["checks"]["database"] is True


def test_readyz_is_503_when_the_database_does_not_answer(db: Session, loaded: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that does not answer: 503 with every database check false, never a 500."""
    nowhere = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    monkeypatch.setattr("intake.db.get_engine", lambda: nowhere)
    r = TestClient(create_app()).get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": False, "migrations": False, "classifier": True, "committees": False}


def _value(text: str, line: str) -> float:
    found = re.search(rf"^{re.escape(line)} (\S+)$", text, re.MULTILINE)
    assert found, f"{line} not in the exposition"
    return float(found.group(1))


def test_metrics_count_cases_outbox_and_steps_without_a_person(db: Session) -> None:
    """Cases by status and level, the outbox, step times: in the Prometheus format, with no name, phone or text."""
    full = file_full_report(db, name="Nguyễn Văn Đo Lường", phone="0912000111")
    level = full.filed.committee.level
    client = TestClient(create_app(), client=LOCAL)
    assert chat_post(client, "/api/chat", resume=True).status_code == 200
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    case_lines = [line for line in text.splitlines() if line.startswith("phananh_cases{")]
    assert case_lines == [f'phananh_cases{{level="{level}",status="new"}} 1.0']
    assert _value(text, "phananh_cases_overdue") == 0.0
    assert _value(text, 'phananh_outbox_messages{status="dead"}') == 0.0
    assert _value(text, 'phananh_conversation_step_seconds_count{channel="web"}') >= 1.0
    assert "Nguyễn" not in text and "0912000111" not in text and "doanh nghiệp" not in text


def test_metrics_are_for_this_machine_or_the_token_holder(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """A remote client gets 404; with the bearer token from the settings it reads them; a wrong token is 404."""
    assert TestClient(create_app(), client=REMOTE).get("/metrics").status_code == 404
    token = "metrics-token-for-the-test-0123456789"
    with_token = get_settings().model_copy(update={"metrics_token": SecretStr(token)})
    monkeypatch.setattr(health, "get_settings", lambda: with_token)
    remote = TestClient(create_app(), client=REMOTE)
    assert remote.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert remote.get("/metrics", headers={"Authorization": f"Bearer {token}x"}).status_code == 404
    assert remote.get("/metrics", headers={"Authorization": token}).status_code == 404
