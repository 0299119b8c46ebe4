"""nudges: a partial index for the scheduled ones

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 18:30:00

Members are planned a few minutes before their nudges, which wait as "scheduled" until their
moment; each tick releases the ones whose moment has come, through this index (the scheduled
rows are a small slice of the day's nudges).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = sa.text("status = 'scheduled'")


def upgrade() -> None:
    op.create_index("ix_nudges_scheduled_due", "nudges", ["due_at"],
                    postgresql_where=_WHERE, sqlite_where=_WHERE)


def downgrade() -> None:
    op.drop_index("ix_nudges_scheduled_due", table_name="nudges")
