"""Meetings: recurring client meetings and their skipped or moved occurrences; an outbox row's expiry (a
reminder is never posted after its meeting has started).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("expires_at", UTC_DATETIME))

    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("every", sa.String(8), nullable=False),
        sa.Column("rule", sa.String(200)),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("at", sa.Time(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("reminder_minutes", sa.JSON(), nullable=False),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
        sa.Column("cancelled_at", UTC_DATETIME),
        sa.Column("cancelled_by", sa.String(32)),
    )
    op.create_index("ix_meetings_team_active", "meetings", ["team_id", "cancelled_at", "client_id"])

    op.create_table(
        "meeting_exceptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("meeting_id", sa.Integer(), sa.ForeignKey("meetings.id"), nullable=False),
        sa.Column("occurrence_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("moved_to", UTC_DATETIME),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("uq_meeting_exceptions_occurrence", "meeting_exceptions", ["meeting_id", "occurrence_on"],
                    unique=True)


def downgrade() -> None:
    op.drop_table("meeting_exceptions")
    op.drop_table("meetings")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("expires_at")
