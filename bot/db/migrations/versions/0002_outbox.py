"""The outbox of messages the bot posts on its own, and the requests from Slack already handled.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("blocks", sa.JSON()),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("claimed_at", UTC_DATETIME),
        sa.Column("sent_at", UTC_DATETIME),
        sa.Column("slack_ts", sa.String(32)),
        sa.Column("error", sa.Text()),
    )
    op.create_index("uq_outbox_team_dedupe", "outbox", ["team_id", "dedupe_key"], unique=True)
    op.create_index("ix_outbox_status_due", "outbox", ["status", "next_attempt_at"])

    op.create_table(
        "processed_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("uq_processed_requests_team_key", "processed_requests", ["team_id", "key"], unique=True)


def downgrade() -> None:
    op.drop_table("processed_requests")
    op.drop_table("outbox")
