"""Clients, interactions and the append-only audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)

# The audit trail is append-only, enforced by the database itself, not only by the code.
SQLITE_GUARDS = [
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
]
POSTGRES_GUARDS = [
    """CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
       FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_user_id", sa.String(32)),
        sa.Column("internal_channel_id", sa.String(32)),
        sa.Column("shared_channel_id", sa.String(32)),
        sa.Column("cadence_days", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64)),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("archived_at", UTC_DATETIME),
        sa.Column("archived_by", sa.String(32)),
    )
    op.create_index("uq_clients_team_key", "clients", ["team_id", "key"], unique=True)
    op.create_index("ix_clients_team_owner", "clients", ["team_id", "owner_user_id"])

    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("contact_name", sa.String(200)),
        sa.Column("next_contact_on", sa.Date()),
        sa.Column("permalink", sa.String(500)),
        sa.Column("logged_by", sa.String(32), nullable=False),
        sa.Column("logged_at", UTC_DATETIME, nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
    )
    op.create_index(
        "ix_interactions_client_latest", "interactions", ["team_id", "client_id", "occurred_on", "id"]
    )

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("actor_user_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id")),
        sa.Column("before", sa.JSON()),
        sa.Column("after", sa.JSON()),
        sa.Column("occurred_at", UTC_DATETIME, nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
    )
    op.create_index("ix_audit_events_client", "audit_events", ["team_id", "client_id", "occurred_at"])

    guards = POSTGRES_GUARDS if op.get_bind().dialect.name == "postgresql" else SQLITE_GUARDS
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    op.drop_table("audit_events")
    op.drop_table("interactions")
    op.drop_table("clients")
