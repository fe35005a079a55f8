"""Imports from a CRM (`rapport import`): each run is one row of `imports` (and one audit event), and an
imported interaction keeps its natural key, `import_key`, unique in its workspace, so that importing the same
file twice adds nothing twice.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("bad", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
    )
    op.create_index("ix_imports_team", "imports", ["team_id", "at"])
    # A plain ADD COLUMN on both (no copy of what may be a big table); NULL for everything logged in Slack.
    op.add_column("interactions", sa.Column("import_key", sa.String(64)))
    op.create_index("uq_interactions_import_key", "interactions", ["team_id", "import_key"], unique=True,
                    sqlite_where=sa.text("import_key IS NOT NULL"), postgresql_where=sa.text("import_key IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_interactions_import_key", "interactions")
    if op.get_bind().dialect.name == "sqlite":  # SQLite 3.35+ drops a column in place
        op.execute("ALTER TABLE interactions DROP COLUMN import_key")
    else:
        op.drop_column("interactions", "import_key")
    op.drop_index("ix_imports_team", "imports")
    op.drop_table("imports")
