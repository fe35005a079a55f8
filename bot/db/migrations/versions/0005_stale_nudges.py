"""Stale-communication nudges: a client's country (public holidays) and snooze, Slack users' time zones,
the nudges and escalations sent, and the indexes that find each client's last contact in one lookup.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
NOT_A_NOTE = sa.text("kind <> 'note'")
PLANNED = sa.text("next_contact_on IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("country", sa.String(2)))
        batch.add_column(sa.Column("snoozed_until", sa.Date()))

    op.create_index("ix_interactions_contact_latest", "interactions", ["team_id", "client_id", "occurred_on", "id"],
                    sqlite_where=NOT_A_NOTE, postgresql_where=NOT_A_NOTE)
    op.create_index("ix_interactions_planned", "interactions", ["team_id", "client_id", "logged_at", "id"],
                    sqlite_where=PLANNED, postgresql_where=PLANNED)

    op.create_table(
        "slack_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("tz", sa.String(64)),
        sa.Column("fetched_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("uq_slack_users_team_user", "slack_users", ["team_id", "user_id"], unique=True)

    op.create_table(
        "stale_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("episode", sa.String(16), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("uq_stale_alerts_team_key", "stale_alerts", ["team_id", "key"], unique=True)
    op.create_index("ix_stale_alerts_client", "stale_alerts", ["team_id", "client_id", "episode"])


def downgrade() -> None:
    op.drop_table("stale_alerts")
    op.drop_table("slack_users")
    op.drop_index("ix_interactions_planned", table_name="interactions")
    op.drop_index("ix_interactions_contact_latest", table_name="interactions")
    # SQLite rebuilds the table to drop a column, and its reflection cannot carry indexes on expressions
    # across: drop 0004's unique indexes first and make them again after.
    op.drop_index("uq_clients_team_active_name", table_name="clients")
    op.drop_index("uq_clients_team_key", table_name="clients")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("snoozed_until")
        batch.drop_column("country")
    op.create_index("uq_clients_team_key", "clients", ["team_id", sa.text("lower(key)")], unique=True)
    op.create_index("uq_clients_team_active_name", "clients", ["team_id", sa.text("lower(name)")], unique=True,
                    sqlite_where=sa.text("archived_at IS NULL"), postgresql_where=sa.text("archived_at IS NULL"))
