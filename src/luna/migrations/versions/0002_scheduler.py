"""scheduler: member_schedules, nudges, tasks.critical

Revision ID: 0002_scheduler
Revises: 0001
Create Date: 2026-12-01 20:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import luna.db.types

revision: str = "0002_scheduler"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_schedules",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("next_fire_at", luna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("planned_through", luna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"],
            name=op.f("fk_member_schedules_member_id_members"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_schedules")),
    )
    op.create_index(
        op.f("ix_member_schedules_next_fire_at"), "member_schedules", ["next_fire_at"],
        unique=False,
    )
    # Everyone who exists already is planned at the first tick.
    pg = op.get_bind().dialect.name == "postgresql"
    stale = "'2000-01-01 00:00:00+00'" if pg else "'2000-01-01 00:00:00.000000'"
    op.execute(f"INSERT INTO member_schedules (member_id, next_fire_at) SELECT id, {stale} FROM members")
    op.create_table(
        "nudges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=True),
        sa.Column("due_at", luna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", luna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", luna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"],
            name=op.f("fk_nudges_household_id_households"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"],
            name=op.f("fk_nudges_member_id_members"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nudges")),
        sa.UniqueConstraint("key", name=op.f("uq_nudges_key")),
    )
    op.create_index("ix_nudges_member_due", "nudges", ["member_id", "due_at"], unique=False)
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("critical", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("critical")
    op.drop_index("ix_nudges_member_due", table_name="nudges")
    op.drop_table("nudges")
    op.drop_index(op.f("ix_member_schedules_next_fire_at"), table_name="member_schedules")
    op.drop_table("member_schedules")
