"""Indexes for lookups every command makes, so that they cost the same at 10,000 clients as at 100 (found by
`python -m benchmarks`): a channel's client (every message queued checks that its channel is not a client's
shared channel), and a client's open promises in due order (the planner used to walk all of the workspace's
open promises to get the order).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_clients_team_shared_channel", "clients", ["team_id", "shared_channel_id"])
    op.create_index("ix_clients_team_internal_channel", "clients", ["team_id", "internal_channel_id"])
    op.drop_index("ix_promises_client", table_name="promises")
    op.create_index("ix_promises_client", "promises", ["team_id", "client_id", "done_at", "due_on"])


def downgrade() -> None:
    op.drop_index("ix_promises_client", table_name="promises")
    op.create_index("ix_promises_client", "promises", ["team_id", "client_id", "done_at"])
    op.drop_index("ix_clients_team_internal_channel", table_name="clients")
    op.drop_index("ix_clients_team_shared_channel", table_name="clients")
