"""scheduler tables: autovacuum and analyze thresholds for their churn

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 06:00:00

`member_schedules` gets a non-HOT update for every planning (its indexed `next_fire_at`
moves), and `nudges` grows from empty by hundreds of thousands of rows a day: PostgreSQL's
default thresholds (20% of the table) let dead index entries and stale statistics pile up
in between. The values are luna.db.models.SCHEDULE_RELOPTIONS / NUDGE_RELOPTIONS.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from luna.db.models import NUDGE_RELOPTIONS, SCHEDULE_RELOPTIONS

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = (("member_schedules", SCHEDULE_RELOPTIONS), ("nudges", NUDGE_RELOPTIONS))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, options in _TABLES:
        values = ", ".join(f"{k} = {v}" for k, v in options.items())
        op.execute(f"ALTER TABLE {table} SET ({values})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, options in _TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({', '.join(options)})")
