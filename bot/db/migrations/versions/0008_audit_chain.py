"""The audit trail, tamper-evident: each event is chained to the previous one of its workspace by a SHA-256
hash (bot/services/audit.py). Events written before this migration are chained here, in id order per
workspace; the append-only triggers are dropped for that backfill and installed again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As installed by 0001 (UPDATE, DELETE) and 0004 (REPLACE, SQLite only).
SQLITE_GUARDS = {
    "audit_events_no_update": """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
    "audit_events_no_delete": """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
}
POSTGRES_DROP = "DROP TRIGGER audit_events_append_only ON audit_events"
POSTGRES_CREATE = """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
       FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"""

EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("team_id", sa.String()),
    sa.column("actor_user_id", sa.String()),
    sa.column("action", sa.String()),
    sa.column("entity_type", sa.String()),
    sa.column("entity_id", sa.Integer()),
    sa.column("client_id", sa.Integer()),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("surface", sa.String()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def _drop_guards(dialect: str) -> None:
    if dialect == "sqlite":
        for name in SQLITE_GUARDS:
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute(POSTGRES_DROP)


def _create_guards(dialect: str) -> None:
    if dialect == "sqlite":
        for statement in SQLITE_GUARDS.values():
            op.execute(statement)
    else:
        op.execute(POSTGRES_CREATE)


def _chain_existing_events() -> None:
    from bot.services.audit import event_hash

    bind = op.get_bind()
    last: dict[str, str] = {}
    for row in bind.execute(sa.select(EVENTS).order_by(EVENTS.c.id)).mappings().all():
        prev_hash = last.get(row["team_id"])
        digest = event_hash(team_id=row["team_id"], actor_user_id=row["actor_user_id"], action=row["action"],
                            entity_type=row["entity_type"], entity_id=row["entity_id"], client_id=row["client_id"],
                            before=row["before"], after=row["after"], occurred_at=row["occurred_at"],
                            surface=row["surface"], prev_hash=prev_hash)
        bind.execute(EVENTS.update().where(EVENTS.c.id == row["id"]).values(prev_hash=prev_hash, hash=digest))
        last[row["team_id"]] = digest


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # Plain ADD COLUMN, not a batch (on SQLite a batch copies the table and loses its triggers).
    op.add_column("audit_events", sa.Column("prev_hash", sa.String(64)))
    op.add_column("audit_events", sa.Column("hash", sa.String(64)))
    _drop_guards(dialect)
    _chain_existing_events()
    _create_guards(dialect)
    op.create_index("ix_audit_events_team_chain", "audit_events", ["team_id", "id"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_audit_events_team_chain", table_name="audit_events")
    if dialect == "sqlite":  # DROP COLUMN copies nothing on SQLite >= 3.35, but the triggers are in the way
        _drop_guards(dialect)
    op.drop_column("audit_events", "hash")
    op.drop_column("audit_events", "prev_hash")
    if dialect == "sqlite":
        _create_guards(dialect)
