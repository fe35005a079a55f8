"""Integrity the database enforces itself, and delivery leases.

- A client's key is unique in its workspace, ignoring case; an active client's name too. Before this,
  two simultaneous `client add` could both pass the code's check. Active clients that already share a
  name are renamed "<name> (duplicate #<id>)" (the oldest keeps it), with an audit event saying so.
- SQLite: `INSERT OR REPLACE` / `REPLACE INTO` on an existing audit id is refused (a REPLACE deletes
  the old row without firing the delete trigger).
- The outbox records who is posting a row and until when that claim holds (`claimed_by`,
  `lease_until`), so a deliverer that lost its lock never races another over the same row.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import datetime as dt
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
SQLITE_NO_REPLACE = """CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events
   WHEN EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id)
   BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"""


def _rename_duplicate_active_names() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, team_id, name FROM clients WHERE archived_at IS NULL ORDER BY id")).all()
    seen: set[tuple[str, str]] = set()
    now = dt.datetime.now(dt.UTC)
    for client_id, team_id, name in rows:
        if (team_id, name.lower()) not in seen:
            seen.add((team_id, name.lower()))
            continue
        renamed = f"{name[:170]} (duplicate #{client_id})"
        bind.execute(sa.text("UPDATE clients SET name = :name, updated_at = :now WHERE id = :id"),
                     {"name": renamed, "now": now, "id": client_id})
        bind.execute(sa.text(
            "INSERT INTO audit_events (team_id, actor_user_id, action, entity_type, entity_id, client_id, "
            "before, after, occurred_at, surface) VALUES (:team, 'migration', 'client.update', 'clients', :id, "
            ":id, :before, :after, :now, 'migration')"),
            {"team": team_id, "id": client_id, "before": json.dumps({"name": name}),
             "after": json.dumps({"name": renamed}), "now": now})


def upgrade() -> None:
    _rename_duplicate_active_names()
    op.drop_index("uq_clients_team_key", table_name="clients")
    op.create_index("uq_clients_team_key", "clients", ["team_id", sa.text("lower(key)")], unique=True)
    op.create_index("uq_clients_team_active_name", "clients", ["team_id", sa.text("lower(name)")], unique=True,
                    sqlite_where=sa.text("archived_at IS NULL"), postgresql_where=sa.text("archived_at IS NULL"))

    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64)))
        batch.add_column(sa.Column("lease_until", UTC_DATETIME))

    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_NO_REPLACE)
    # PostgreSQL needs nothing more: INSERT ... ON CONFLICT DO UPDATE fires the statement-level UPDATE
    # trigger installed by 0001, which refuses it.


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_events_no_replace")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
    op.drop_index("uq_clients_team_active_name", table_name="clients")
    op.drop_index("uq_clients_team_key", table_name="clients")
    op.create_index("uq_clients_team_key", "clients", ["team_id", "key"], unique=True)
