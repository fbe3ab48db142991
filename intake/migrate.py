"""Database set-up: Alembic migrations and the committee tree, run by `phananh db upgrade` and at start."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from intake.config import get_settings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url or get_settings().effective_database_url)
    return cfg


def upgrade(url: str | None = None, *, load_committees: bool = True) -> None:
    """Brings the schema to the newest revision, loads or refreshes the committee tree, and starts missing clocks."""
    command.upgrade(alembic_config(url), "head")
    if load_committees:
        from intake.committees import load_committee_tree
        from intake.db import make_engine, session_scope

        engine = make_engine(url) if url else None
        from intake.clock import start_missing_clocks

        with session_scope(engine) as session:
            load_committee_tree(session)
            start_missing_clocks(session)  # cases filed before the first-handling clock existed
        if engine is not None:
            engine.dispose()
