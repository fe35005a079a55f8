"""Expectations and one voice: promises (and their moves), agreed voice lines, the client's contacts and our
peers for them (interactions may name a known contact), and lessons learned with full-text search: an FTS5
table kept by triggers on SQLite, a generated tsvector with a GIN index on PostgreSQL.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)

# Porter stemming ("delays" finds "delayed"), diacritics folded. External content: the text lives once, in
# `lessons`; the triggers keep the index in step (lessons are never updated or deleted, but a repair may).
SQLITE_FTS = [
    """CREATE VIRTUAL TABLE lessons_fts USING fts5(text, content='lessons', content_rowid='id',
       tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER lessons_fts_insert AFTER INSERT ON lessons BEGIN
       INSERT INTO lessons_fts(rowid, text) VALUES (new.id, new.text); END""",
    """CREATE TRIGGER lessons_fts_delete AFTER DELETE ON lessons BEGIN
       INSERT INTO lessons_fts(lessons_fts, rowid, text) VALUES ('delete', old.id, old.text); END""",
    """CREATE TRIGGER lessons_fts_update AFTER UPDATE OF text ON lessons BEGIN
       INSERT INTO lessons_fts(lessons_fts, rowid, text) VALUES ('delete', old.id, old.text);
       INSERT INTO lessons_fts(rowid, text) VALUES (new.id, new.text); END""",
]
POSTGRES_FTS = [
    "ALTER TABLE lessons ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
    "CREATE INDEX ix_lessons_search ON lessons USING gin (search)",
]


def _who_when(prefix: str) -> list[sa.Column]:
    return [sa.Column(f"{prefix}_at", UTC_DATETIME), sa.Column(f"{prefix}_by", sa.String(32))]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(100)),
        sa.Column("peer_user_id", sa.String(32)),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
        *_who_when("archived"),
    )
    op.create_index("ix_contacts_client", "contacts", ["team_id", "client_id", "archived_at"])
    op.create_index("uq_contacts_active_name", "contacts", ["team_id", "client_id", sa.text("lower(name)")],
                    unique=True, sqlite_where=sa.text("archived_at IS NULL"),
                    postgresql_where=sa.text("archived_at IS NULL"))

    # A plain ADD COLUMN on both, not a copy of what may be a big table (SQLite takes REFERENCES there).
    if dialect == "sqlite":
        op.execute("ALTER TABLE interactions ADD COLUMN contact_id INTEGER REFERENCES contacts (id)")
    else:
        op.add_column("interactions", sa.Column("contact_id", sa.Integer(),
                                                sa.ForeignKey("contacts.id", name="fk_interactions_contact")))
    op.create_index("ix_interactions_contact_person", "interactions", ["team_id", "contact_id", "occurred_on"],
                    sqlite_where=sa.text("contact_id IS NOT NULL"), postgresql_where=sa.text("contact_id IS NOT NULL"))

    op.create_table(
        "promises",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("owner_user_id", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
        *_who_when("done"),
        sa.Column("done_note", sa.Text()),
    )
    op.create_index("ix_promises_open", "promises", ["team_id", "done_at", "due_on"])
    op.create_index("ix_promises_client", "promises", ["team_id", "client_id", "done_at"])

    op.create_table(
        "promise_moves",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("promise_id", sa.Integer(), sa.ForeignKey("promises.id"), nullable=False),
        sa.Column("old_due_on", sa.Date(), nullable=False),
        sa.Column("new_due_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("moved_by", sa.String(32), nullable=False),
        sa.Column("moved_at", UTC_DATETIME, nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
    )
    op.create_index("ix_promise_moves_promise", "promise_moves", ["promise_id", "id"])

    op.create_table(
        "voice_lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("topic", sa.String(80), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("author_user_id", sa.String(32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
        *_who_when("ended"),
        sa.Column("ended_how", sa.String(16)),
    )
    op.create_index("ix_voice_lines_client", "voice_lines", ["team_id", "client_id", "ended_at"])
    op.create_index("uq_voice_lines_current_topic", "voice_lines", ["team_id", "client_id", sa.text("lower(topic)")],
                    unique=True, sqlite_where=sa.text("ended_at IS NULL"), postgresql_where=sa.text("ended_at IS NULL"))

    op.create_table(
        "lessons",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("change_id", sa.Integer(), sa.ForeignKey("schedule_changes.id")),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
    )
    op.create_index("ix_lessons_client", "lessons", ["team_id", "client_id", "id"])
    op.create_index("ix_lessons_change", "lessons", ["team_id", "change_id"])
    for statement in SQLITE_FTS if dialect == "sqlite" else POSTGRES_FTS:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("lessons_fts_update", "lessons_fts_delete", "lessons_fts_insert"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE lessons_fts")
    op.drop_table("lessons")
    op.drop_table("voice_lines")
    op.drop_table("promise_moves")
    op.drop_table("promises")
    op.drop_index("ix_interactions_contact_person", "interactions")
    if dialect == "sqlite":  # SQLite 3.35+ drops a column in place (its FK goes with it)
        op.execute("ALTER TABLE interactions DROP COLUMN contact_id")
    else:
        op.drop_constraint("fk_interactions_contact", "interactions", type_="foreignkey")
        op.drop_column("interactions", "contact_id")
    op.drop_table("contacts")
