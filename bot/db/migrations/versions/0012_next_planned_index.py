"""A client's next planned contact, one index lookup however long its history: `min(next_contact_on)` from
today on walked every planned interaction of the client (found by `python -m benchmarks`: a client's status at
10,000 interactions per client took twice as long as at 100).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLANNED = sa.text("next_contact_on IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_interactions_next_planned", "interactions", ["team_id", "client_id", "next_contact_on"],
                    sqlite_where=PLANNED, postgresql_where=PLANNED)


def downgrade() -> None:
    op.drop_index("ix_interactions_next_planned", table_name="interactions")
