"""Test set-up: a fresh database (SQLite always; PostgreSQL when PHANANH_TEST_DATABASE_URL is set).

Everything a test run writes outside the repository goes under one directory, removed when the run
ends: TMPDIR points inside it, so pytest's tmp_path, the servers started as child processes,
Chromium's profiles and multiprocessing's sockets all land there, and nothing is left in /tmp.

PHANANH_TEST_DATABASE_URL's schema is dropped at the start of the run: a database whose name does
not say it is for tests ("test" in it) is refused before anything touches it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

_TMP = Path(tempfile.mkdtemp(prefix="phananh-test-"))
(_TMP / "tmp").mkdir()
os.environ["TMPDIR"] = tempfile.tempdir = str(_TMP / "tmp")
os.environ["PHANANH_ENV"] = "test"
os.environ["PHANANH_VAR_DIR"] = str(_TMP / "var")
os.environ.setdefault("PHANANH_SECRET_KEY", "test-secret-key-not-for-production")
# A new web chat's puzzle: 8 bits (256 hashes on average) keeps the tests fast; bot/admission.py.
os.environ.setdefault("PHANANH_WEB_CHAT_POW_BITS", "8")
_PG_URL = os.environ.get("PHANANH_TEST_DATABASE_URL", "")


def is_test_database(url: str) -> bool:
    """Whether a database URL names a database meant for tests, whose schema a test run may drop."""
    return "test" in (make_url(url).database or "").lower()


if _PG_URL and not is_test_database(_PG_URL):
    shutil.rmtree(_TMP, ignore_errors=True)
    raise pytest.UsageError(
        f"PHANANH_TEST_DATABASE_URL names the database {make_url(_PG_URL).database!r}, whose name does not say it is for tests: "
        "a test run drops its schema, so it is refused. Use a database named for tests (test, test_mine, …)."
    )
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


def empty_database() -> None:
    """Removes everything but the committee tree, and puts committee settings back to their defaults."""
    with get_engine().begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name not in KEEP:
                conn.execute(table.delete())
        conn.execute(sa.update(Committee).values(require_totp=False))  # a setting a test may have changed


@pytest.fixture()
def db(migrated: None) -> Iterator[Session]:
    """A session on a database emptied of everything but the committee tree."""
    empty_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    """Each test starts with no rate-limit counts (the limiter is per process, as in a server)."""
    from intake.ratelimit import get_limiter

    get_limiter().reset()


@pytest.fixture()
def settings() -> object:
    return get_settings()


def pytest_unconfigure() -> None:
    """Removes everything the run wrote outside the repository."""
    from intake.db import get_engine as engine

    engine().dispose()
    shutil.rmtree(_TMP, ignore_errors=True)


def pytest_report_header() -> str:
    return f"phananh database: {'postgresql' if _PG_URL else 'sqlite'}"
