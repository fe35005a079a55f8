"""Migrations: shipped in the package, reach head from nothing, agree with the models, go down and up again;
the audit trail is append-only in the database itself.

Downgrades run only on brand-new databases made here (a SQLite file in tmp_path, and a PostgreSQL schema
of their own when RAPPORT_TEST_DATABASE_URL is set), never on the shared test database."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, TextClause, create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.db import Database
from bot.db import migrate as migrations
from bot.db.models import AuditEvent, Client
from bot.services import Actor
from bot.services.clients import add_client
from tests.conftest import TEST_DATABASE_ENV

HEAD = migrations.head()
TABLES = {"clients", "interactions", "audit_events", "outbox", "processed_requests", "schedule_changes",
          "slack_users", "stale_alerts", "meetings", "meeting_exceptions", "contacts", "promises", "promise_moves",
          "voice_lines", "lessons", "imports"}
# SQLite's full-text index of lessons: an FTS5 table and the shadow tables it keeps.
FULL_TEXT_TABLES = {"lessons_fts", "lessons_fts_data", "lessons_fts_idx", "lessons_fts_docsize",
                    "lessons_fts_config"}
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(TEST_DATABASE_ENV) else [])
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=BACKENDS)
def empty_database(request, tmp_path) -> Iterator[Database]:
    """A database with nothing in it, made for this test alone."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
        yield database
        database.dispose()
        return
    admin = create_engine(os.environ[TEST_DATABASE_ENV], isolation_level="AUTOCOMMIT")
    schema = f"rapport_migrate_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(os.environ[TEST_DATABASE_ENV]).update_query_dict({"options": f"-csearch_path={schema}"})
    database = Database(url.render_as_string(hide_password=False))
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"} - FULL_TEXT_TABLES


def test_an_empty_database_migrates_to_head(empty_database):
    assert migrations.current(empty_database.engine) is None
    assert tables(empty_database.engine) == set()
    empty_database.upgrade()
    assert migrations.current(empty_database.engine) == HEAD
    assert tables(empty_database.engine) == TABLES
    # Upgrading again is a no-op (it runs on every start).
    empty_database.upgrade()
    assert migrations.current(empty_database.engine) == HEAD


def test_models_and_migrations_agree(empty_database):
    empty_database.upgrade()
    # `alembic check`: autogenerate finds nothing to add, drop or alter.
    command.check(migrations.alembic_config(empty_database.engine))


def test_downgrade_to_base_and_upgrade_again(empty_database):
    engine = empty_database.engine
    empty_database.upgrade()
    config = migrations.alembic_config(engine)
    command.downgrade(config, "base")
    assert migrations.current(engine) is None
    assert tables(engine) == set()
    command.upgrade(config, "head")
    assert migrations.current(engine) == HEAD
    assert tables(engine) == TABLES
    # The guards came back with the tables.
    write_an_audit_event(empty_database)
    with pytest.raises(DBAPIError), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events"))
    assert audit_count(empty_database) == 1


def test_migrations_ship_inside_the_package(tmp_path):
    """What gets installed (setuptools' build of the package) holds the migrations, and they run."""
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    for package in ("bot", "handlers", "jobs"):
        if (REPO / package).is_dir():
            shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    built = tmp_path / "built"
    build = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "build_py", "-d",
                            str(built)], cwd=source, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    shipped = built / "bot" / "db" / "migrations"
    assert (shipped / "env.py").is_file()
    assert (shipped / "script.py.mako").is_file()
    assert (shipped / "versions" / "0001_foundation.py").is_file()

    database = tmp_path / "from-package.db"
    check = subprocess.run(
        [sys.executable, "-c",
         "import sys; from bot.db import Database, migrate; d = Database(sys.argv[1]); d.upgrade(); "
         "assert migrate.MIGRATIONS.is_relative_to(sys.argv[2]), migrate.MIGRATIONS; print(migrate.current(d.engine))",
         f"sqlite:///{database}", str(built)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(built), "PYTHONNOUSERSITE": "1"},
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == HEAD


# -- the audit trail is append-only -------------------------------------------------------------------

def write_an_audit_event(database: Database) -> None:
    actor = Actor(team_id="T0ACME", user_id="U0ANA", surface="cli")
    with database.transaction() as session:
        add_client(session, actor, "Acme Biologics", key="acme")


def audit_count(database: Database) -> int:
    with database.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one()


def test_audit_trail_refuses_update(database):
    write_an_audit_event(database)
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor_user_id = 'U0EVIL'"))
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT actor_user_id FROM audit_events")).scalars().all() == ["U0ANA"]


def test_audit_trail_refuses_delete(database):
    write_an_audit_event(database)
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events"))
    assert audit_count(database) == 1


def test_audit_trail_refuses_changes_through_the_orm(database):
    write_an_audit_event(database)
    with pytest.raises(DBAPIError), database.transaction() as session:
        event = session.scalars(select(AuditEvent)).one()
        event.occurred_at = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        session.flush()
    with pytest.raises(DBAPIError), database.transaction() as session:
        session.delete(session.scalars(select(AuditEvent)).one())
        session.flush()
    assert audit_count(database) == 1


def test_audit_trail_still_takes_new_events(database):
    write_an_audit_event(database)
    with database.transaction() as session:
        add_client(session, Actor("T0ACME", "U0BEN", "cli"), "Borealis Pharma", key="borealis")
    assert audit_count(database) == 2


@pytest.mark.skipif(not os.environ.get(TEST_DATABASE_ENV), reason="TRUNCATE is PostgreSQL's")
def test_audit_trail_refuses_truncate_on_postgresql(database):
    write_an_audit_event(database)
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_events"))
    assert audit_count(database) == 1


# -- no REPLACE or upsert rewrites an audit row (migration 0004) --------------------------------------------

AUDIT_COLUMNS = ("team_id, actor_user_id, action, entity_type, entity_id, client_id, before, after, occurred_at, "
                 "surface")
FORGED_VALUES = "'T0ACME', 'U0EVIL', 'client.add', 'clients', 1, NULL, NULL, NULL, CURRENT_TIMESTAMP, 'cli'"


def audit_rows(database: Database) -> list[tuple]:
    with database.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(f"SELECT id, {AUDIT_COLUMNS} FROM audit_events "
                                                              "ORDER BY id"))]


def insert_audit_row(verb: str = "INSERT INTO", *, with_id: bool = True, tail: str = "") -> TextClause:
    columns, values = (f"id, {AUDIT_COLUMNS}", f":id, {FORGED_VALUES}") if with_id else (AUDIT_COLUMNS,
                                                                                          FORGED_VALUES)
    return text(f"{verb} audit_events ({columns}) VALUES ({values}) {tail}")


@pytest.mark.skipif(bool(os.environ.get(TEST_DATABASE_ENV)), reason="INSERT OR REPLACE and REPLACE INTO are SQLite's")
@pytest.mark.parametrize("verb", ["INSERT OR REPLACE INTO", "REPLACE INTO"])
def test_audit_trail_refuses_replace_on_sqlite(database, verb):
    """SQLite's REPLACE deletes the old row without firing the delete trigger: the insert trigger refuses it."""
    write_an_audit_event(database)
    before = audit_rows(database)
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(insert_audit_row(verb), {"id": before[0][0]})
    assert audit_rows(database) == before


def test_audit_trail_refuses_an_upsert_on_an_existing_id(database):
    """INSERT ... ON CONFLICT (id) DO UPDATE (SQLite >= 3.24 and PostgreSQL): refused, the row unchanged."""
    write_an_audit_event(database)
    before = audit_rows(database)
    upsert = insert_audit_row(tail="ON CONFLICT (id) DO UPDATE SET actor_user_id = 'U0EVIL'")
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(upsert, {"id": before[0][0]})
    assert audit_rows(database) == before


def test_audit_trail_takes_a_plain_insert_of_a_new_event(database):
    write_an_audit_event(database)
    before = audit_rows(database)
    with database.engine.begin() as connection:
        connection.execute(insert_audit_row(with_id=False))
        connection.execute(insert_audit_row(), {"id": before[0][0] + 1000})  # a new id given explicitly
    after = audit_rows(database)
    assert len(after) == 3 and after[0] == before[0]
    assert after[2][0] == before[0][0] + 1000
    assert [row[2] for row in after[1:]] == ["U0EVIL", "U0EVIL"]  # actor_user_id


# -- migration 0004 on a database that already holds active clients sharing a name -------------------------

def test_upgrade_renames_active_clients_that_share_a_name(empty_database):
    engine = empty_database.engine
    config = migrations.alembic_config(engine)
    command.upgrade(config, "0003")
    archived = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    with engine.begin() as connection:
        for team, key, name, archived_at in [("T0ACME", "acme", "Acme", None), ("T0ACME", "acme-2", "ACME", None),
                                             ("T0ACME", "acme-old", "acme", archived),
                                             ("T0OTHER", "acme", "Acme", None)]:
            connection.execute(insert(Client).values(team_id=team, key=key, name=name, archived_at=archived_at,
                                                     cadence_days=14, created_by="U0ANA"))

    command.upgrade(config, "head")

    with empty_database.transaction() as session:
        rows = {(c.team_id, c.key): c for c in session.scalars(select(Client))}
        events = list(session.scalars(select(AuditEvent)))
    oldest, second, old = rows["T0ACME", "acme"], rows["T0ACME", "acme-2"], rows["T0ACME", "acme-old"]
    assert (oldest.name, oldest.archived_at) == ("Acme", None)
    assert (second.name, second.archived_at) == (f"ACME (duplicate #{second.id})", None)
    assert (old.name, old.archived_at) == ("acme", archived)
    assert rows["T0OTHER", "acme"].name == "Acme"  # another workspace's Acme is no duplicate
    [renamed] = events
    assert (renamed.team_id, renamed.actor_user_id, renamed.action, renamed.surface) == (
        "T0ACME", "migration", "client.update", "migration")
    assert (renamed.entity_type, renamed.entity_id, renamed.client_id) == ("clients", second.id, second.id)
    assert (renamed.before, renamed.after) == ({"name": "ACME"}, {"name": f"ACME (duplicate #{second.id})"})

    # From now on the database itself refuses a second active client of that name, whatever its case.
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(Client).values(team_id="T0ACME", key="acme-3", name="acme", cadence_days=14,
                                                 created_by="U0BEN"))
