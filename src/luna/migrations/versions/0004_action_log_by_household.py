"""The action log, by household and id

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 16:00:00

Each `luna serve` worker keeps the household's word lists (tasks, chores, ...) for its grammar;
a turn asks whether another process has logged a tool write in the household since the lists
were read, through this index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_action_log_household_id", "action_log", ["household_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_action_log_household_id", table_name="action_log")
