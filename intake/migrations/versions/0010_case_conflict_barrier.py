"""cases: the committees the conflict rule has ever barred from a case, kept so that corrections never shrink them

Existing cases start with an empty list: their barrier is still worked out from the case as it stands, and
the first correction keeps what was barred before it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 01:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conflict_barrier', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('conflict_barrier')
