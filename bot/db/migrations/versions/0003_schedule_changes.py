"""Schedule changes: announced, told to the client, followed up.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "schedule_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("item", sa.String(300), nullable=False),
        sa.Column("project", sa.String(200)),
        sa.Column("old_date", sa.Date()),
        sa.Column("new_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("logged_by", sa.String(32), nullable=False),
        sa.Column("logged_at", UTC_DATETIME, nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
        sa.Column("told_at", UTC_DATETIME),
        sa.Column("told_by", sa.String(32)),
        sa.Column("told_how", sa.Text()),
        sa.Column("told_text", sa.Text()),
    )
    op.create_index("ix_schedule_changes_client_open", "schedule_changes", ["team_id", "client_id", "told_at"])
    op.create_index("ix_schedule_changes_open", "schedule_changes", ["team_id", "told_at"])


def downgrade() -> None:
    op.drop_table("schedule_changes")
