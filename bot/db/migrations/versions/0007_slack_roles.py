"""Slack workspace roles of the people Rapport knows (users.info is_admin, is_owner): admins and owners are
managers by right.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slack_users") as batch:
        batch.add_column(sa.Column("is_admin", sa.Boolean()))
        batch.add_column(sa.Column("is_owner", sa.Boolean()))


def downgrade() -> None:
    with op.batch_alter_table("slack_users") as batch:
        batch.drop_column("is_owner")
        batch.drop_column("is_admin")
