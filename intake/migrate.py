"""Database set-up: Alembic migrations, the committee tree and the first admin, run by `phananh db upgrade` and at start.

Several servers may start together on one empty PostgreSQL: each would run Alembic (two of them
creating `alembic_version` at once, one failing) and create the first admin (one failing on the
unique name). So the whole set-up runs under one lock (`intake.locks`), and each part finds the
work done when another server did it first.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from intake.config import get_settings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SETUP_LOCK = "setup"
FIRST_ADMIN = "admin"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url or get_settings().effective_database_url)
    return cfg


def upgrade(url: str | None = None, *, load_committees: bool = True) -> None:
    """Brings the schema to the newest revision and loads or refreshes the committee tree."""
    setup(url, load_committees=load_committees)


def setup(
    url: str | None = None, *, migrate_schema: bool = True, load_committees: bool = True, first_admin: bool = False
) -> str | None:
    """Migrates, loads the committee tree and (with `first_admin`) creates the first admin, once however
    many servers start together; returns that admin's password when this call created it."""
    from intake.db import get_engine, make_engine
    from intake.locks import exclusive

    engine = make_engine(url, pool=2) if url else get_engine()
    try:
        with exclusive(SETUP_LOCK, engine=engine):
            if migrate_schema:
                command.upgrade(alembic_config(url), "head")
                if not url:
                    from intake.attachments import retire_legacy_files

                    retire_legacy_files()  # the files migration 0008 moved into the database
            if migrate_schema and load_committees:
                _load_committees(engine)
            return _create_first_admin(engine) if first_admin else None
    finally:
        if url:
            engine.dispose()


def _load_committees(engine: Engine) -> None:
    from intake.committees import load_committee_tree
    from intake.db import session_scope

    with session_scope(engine) as session:
        load_committee_tree(session)


def _create_first_admin(engine: Engine) -> str | None:
    """An admin account when there is no staff account at all; its password (shown once), or None."""
    from sqlmodel import select

    from intake.actions import create_staff
    from intake.committees import CENTRAL_CODE, committee_by_code
    from intake.db import session_scope
    from intake.errors import ConfigurationError
    from intake.models import StaffRole, StaffUser

    with session_scope(engine) as session:
        if session.exec(select(StaffUser).limit(1)).first() is not None:
            return None
        central = committee_by_code(session, CENTRAL_CODE)
        if central is None:
            raise ConfigurationError("the committee tree is not loaded: run `phananh db upgrade`")
        password = secrets.token_urlsafe(12)
        create_staff(session, username=FIRST_ADMIN, password=password, role=StaffRole.ADMIN, committee=central, display_name="Quản trị")
    log.info("first admin account created")
    return password
