"""INSERT ... ON CONFLICT DO NOTHING, on SQLite and PostgreSQL: how dedupe keys stay unique under races."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db.core import connection


@functools.cache
def _statement(dialect: str, table: Table, unique_columns: tuple[str, ...]) -> Insert:
    # Built once per table: every request inserts its replay guard through here. The values are bound at
    # execution, so the statement (and SQLAlchemy's compiled form of it) is reused.
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    return (insert(table).on_conflict_do_nothing(index_elements=list(unique_columns))
            .returning(*table.primary_key.columns))


def insert_ignoring_duplicates(session: Session, table: Table, values: dict[str, Any],
                               unique_columns: list[str]) -> bool:
    """Insert the row unless one with the same unique columns exists. True if it was inserted."""
    statement = _statement(session.get_bind().dialect.name, table, tuple(unique_columns))
    # Not rowcount: SQLAlchemy adds RETURNING for the primary key, and psycopg then reports -1. A row
    # returned is the proof that it was inserted; none, that the key was taken.
    return connection(session).execute(statement, values).first() is not None
