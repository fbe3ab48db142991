"""Test set-up: a fresh database (SQLite always; PostgreSQL when PHANANH_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="phananh-test-"))
os.environ["PHANANH_ENV"] = "test"
os.environ["PHANANH_VAR_DIR"] = str(_TMP / "var")
os.environ.setdefault("PHANANH_SECRET_KEY", "test-secret-key-not-for-production")
# A new web chat's puzzle: 8 bits (256 hashes on average) keeps the tests fast; bot/admission.py.
os.environ.setdefault("PHANANH_WEB_CHAT_POW_BITS", "8")
_PG_URL = os.environ.get("PHANANH_TEST_DATABASE_URL", "")
os.environ["PHANANH_DATABASE_URL"] = _PG_URL or f"sqlite:///{_TMP / 'test.sqlite3'}"
# The classifier artifact is shared across test runs so it is trained once per machine.
os.environ.setdefault("PHANANH_CLASSIFIER_MODEL_PATH", str(Path(__file__).resolve().parent.parent / "var" / "models" / "classifier.joblib"))

import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

from intake.config import get_settings  # noqa: E402
from intake.db import get_engine  # noqa: E402
from intake.models import Committee  # noqa: E402

KEEP = {"committees", "alembic_version"}


def _reset_schema() -> None:
    engine = get_engine()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def migrated() -> Iterator[None]:
    """The schema at head with the committee tree loaded, once per test session."""
    from intake.migrate import upgrade

    _reset_schema()
    upgrade()
    yield


@pytest.fixture()
def db(migrated: None) -> Iterator[Session]:
    """A session on a database emptied of everything but the committee tree."""
    engine = get_engine()
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name not in KEEP:
                conn.execute(table.delete())
        conn.execute(sa.update(Committee).values(require_totp=False))  # a setting a test may have changed
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture()
def settings() -> object:
    return get_settings()


def pytest_report_header() -> str:
    return f"phananh database: {'postgresql' if _PG_URL else 'sqlite'}"
