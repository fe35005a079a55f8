"""INSERT ... ON CONFLICT DO NOTHING, on SQLite and PostgreSQL: how dedupe keys stay unique under races."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_duplicates(session: Session, table: Table, values: dict[str, Any],
                               unique_columns: list[str]) -> bool:
    """Insert the row unless one with the same unique columns exists. True if it was inserted."""
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = (insert(table).values(**values).on_conflict_do_nothing(index_elements=unique_columns)
                 .returning(*table.primary_key.columns))
    # Not rowcount: SQLAlchemy adds RETURNING for the primary key, and psycopg then reports -1. A row
    # returned is the proof that it was inserted; none, that the key was taken.
    return session.execute(statement).first() is not None
