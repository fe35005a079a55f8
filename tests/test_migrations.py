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
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.db import Database
from bot.db import migrate as migrations
from bot.db.models import AuditEvent
from bot.services import Actor
from bot.services.clients import add_client
from tests.conftest import TEST_DATABASE_ENV

HEAD = migrations.head()
TABLES = {"clients", "interactions", "audit_events", "outbox", "processed_requests", "schedule_changes"}
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
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


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
