"""Writing checked rows: batched INSERT ... ON CONFLICT DO NOTHING, one transaction per batch.

A row the database already has (the same natural key: an interaction's import_key, a client's key or active
name, a contact's active name) is not inserted and counts as "already there"; a second import of a file, or
one run again after an interruption, adds only what is missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db.models import Client, Contact, Interaction, utcnow
from bot.importing.rows import ClientRow, ContactRow, InteractionRow, Person
from bot.services import Actor
from bot.services.contacts import link_earlier

BATCH = 5000  # rows per statement group (SQLAlchemy sends them as multi-row VALUES, 1,000 a statement)

Resolve = Callable[[Person | None], str | None]


def _insert(session: Session, table: Table):
    dialect = session.get_bind().dialect.name
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect](table)


def insert_new(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Inserts the rows that conflict with no unique index; the ids of those inserted."""
    if not rows:
        return []
    statement = _insert(session, table).on_conflict_do_nothing().returning(table.c.id)
    # executemany with RETURNING: SQLAlchemy's "insertmanyvalues" sends multi-row VALUES, and only the rows
    # really inserted come back (psycopg's rowcount would not say).
    return list(session.scalars(statement, rows))


def write_clients(session: Session, actor: Actor, rows: Iterable[ClientRow], resolve: Resolve) -> int:
    added = 0
    for row in rows:
        values = dict(team_id=actor.team_id, key=row.key, name=row.name, owner_user_id=resolve(row.owner),
                      internal_channel_id=row.channel, cadence_days=row.cadence_days, timezone=row.timezone,
                      country=row.country, created_by=actor.user_id, created_at=utcnow(), updated_at=utcnow())
        added += len(insert_new(session, Client.__table__, [values]))
    return added


def write_contacts(session: Session, actor: Actor, rows: Iterable[ContactRow], resolve: Resolve) -> int:
    added = 0
    for row in rows:
        values = dict(team_id=actor.team_id, client_id=row.client_id, name=row.name, role=row.role,
                      peer_user_id=resolve(row.peer), created_by=actor.user_id, created_at=utcnow(),
                      surface=actor.surface)
        for contact_id in insert_new(session, Contact.__table__, [values]):
            added += 1
            # Interactions logged or imported earlier with their name are linked to them, as `contact add` does.
            link_earlier(session, session.get(Client, row.client_id), session.get(Contact, contact_id))
    return added


def interaction_values(actor: Actor, row: InteractionRow, resolve: Resolve, logged_at: dt.datetime) -> dict:
    return dict(team_id=actor.team_id, client_id=row.client_id, kind=row.kind, summary=row.summary,
                occurred_on=row.occurred_on, contact_name=row.contact_name, contact_id=row.contact_id,
                next_contact_on=row.next_contact_on, permalink=None, logged_by=resolve(row.logged_by) or actor.user_id,
                logged_at=logged_at, surface=actor.surface, import_key=row.import_key)


INTERACTION_COLUMNS = ("team_id", "client_id", "kind", "summary", "occurred_on", "contact_name", "contact_id",
                       "next_contact_on", "permalink", "logged_by", "logged_at", "surface", "import_key")
_STAGING = "import_interactions"


def insert_interactions(session: Session, rows: list[dict[str, Any]]) -> int:
    """Inserts a batch of interactions, those whose import_key is new; how many were inserted."""
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        return _insert_interactions_sqlite(session, rows)
    if dialect.name != "postgresql":
        return len(insert_new(session, Interaction.__table__, rows))
    # PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT ... ON CONFLICT DO NOTHING. Far
    # quicker than thousands of bound parameters a statement (psycopg rewrites each such statement's text).
    columns = ", ".join(INTERACTION_COLUMNS)
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} ON COMMIT DELETE ROWS AS "
                       f"SELECT {columns} FROM interactions WITH NO DATA")
        with cursor.copy(f"COPY {_STAGING} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[column] for column in INTERACTION_COLUMNS))
        cursor.execute(f"INSERT INTO interactions ({columns}) SELECT {columns} FROM {_STAGING} "
                       "ON CONFLICT DO NOTHING")
        inserted = cursor.rowcount
        cursor.execute(f"TRUNCATE {_STAGING}")
    finally:
        cursor.close()
    return inserted


def _insert_interactions_sqlite(session: Session, rows: list[dict[str, Any]]) -> int:
    """SQLite: one prepared INSERT OR IGNORE-like statement run for every row (the DB-API's executemany), with
    the values converted by the columns' own SQLAlchemy types, so they are stored exactly as the ORM stores them."""
    dialect = session.get_bind().dialect
    table = Interaction.__table__
    processors = [table.c[column].type.bind_processor(dialect) for column in INTERACTION_COLUMNS]
    converters = [(column, processor) for column, processor in zip(INTERACTION_COLUMNS, processors, strict=True)]
    values = [tuple(processor(row[column]) if processor else row[column] for column, processor in converters)
              for row in rows]
    columns = ", ".join(INTERACTION_COLUMNS)
    marks = ", ".join("?" * len(INTERACTION_COLUMNS))
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.executemany(f"INSERT INTO interactions ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING", values)
        return cursor.rowcount  # executemany: the rows inserted, all statements together
    finally:
        cursor.close()

