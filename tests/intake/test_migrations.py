"""Migrations give exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from intake.db import get_engine


def test_upgrade_from_empty_matches_the_models(migrated: None) -> None:
    """After `upgrade head` on an empty database, autogenerate finds nothing to change."""
    with get_engine().connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
