"""Fixtures: a real database (SQLite by default, PostgreSQL with RAPPORT_TEST_DATABASE_URL), a local
Slack Web API on loopback, and the bot's real HTTP endpoint driven with signed requests."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.afterwards import BackgroundRunner
from bot.app import ImmediateDelivery, create_app
from bot.config import Settings
from bot.db import Database
from bot.localslack import LocalSlack
from bot.server import wsgi_app
from tests.slackhttp import BotServer

TEST_DATABASE_ENV = "RAPPORT_TEST_DATABASE_URL"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TABLES = ("audit_events", "lessons", "voice_lines", "promise_moves", "promises", "interactions", "contacts",
          "schedule_changes", "stale_alerts", "meeting_exceptions", "meetings",
          "clients", "outbox", "processed_requests", "slack_users", "imports")


class SQLiteBackend:
    name = "sqlite"

    def __init__(self, directory: Path) -> None:
        self.template = directory / "template.db"
        database = Database(f"sqlite:///{self.template}")
        database.upgrade()
        database.dispose()

    def fresh_url(self, directory: Path) -> str:
        path = directory / "rapport.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def close(self) -> None:
        pass


class PostgresBackend:
    """One schema per test session (so parallel runs never meet), emptied between tests."""

    name = "postgresql"

    def __init__(self, url: str) -> None:
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with self.admin.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as error:
            pytest.exit(f"{TEST_DATABASE_ENV} is set but PostgreSQL is unreachable: {error.orig}", returncode=3)
        self.schema = f"rapport_test_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        parsed = make_url(url)
        self.url = parsed.update_query_dict({"options": f"-csearch_path={self.schema}"}).render_as_string(
            hide_password=False)
        database = Database(self.url)
        database.upgrade()
        database.dispose()

    def fresh_url(self, directory: Path) -> str:
        engine = create_engine(self.url)
        with engine.begin() as connection:
            # Superuser only: lets the test reset the append-only audit table between tests.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return self.url

    def close(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def backend(tmp_path_factory) -> Iterator[SQLiteBackend | PostgresBackend]:
    url = os.environ.get(TEST_DATABASE_ENV)
    chosen = PostgresBackend(url) if url else SQLiteBackend(tmp_path_factory.mktemp("template"))
    yield chosen
    chosen.close()


@pytest.fixture
def database_url(backend, tmp_path) -> str:
    return backend.fresh_url(tmp_path)


@pytest.fixture
def database(database_url) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack(team_id="T0ACME") as local:
        yield local


@pytest.fixture
def settings(database_url, slack) -> Settings:
    return Settings(
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        database_url=database_url,
        timezone="UTC",
        # The tests act as U0ANA unless they say otherwise: a manager (RAPPORT_MANAGERS), so that archiving
        # and changing owners and cadences are allowed. tests/test_roles.py checks who else may.
        managers=frozenset({"U0ANA"}),
    )


@pytest.fixture
def bot(settings, database, slack) -> Iterator[BotServer]:
    """The real endpoint on loopback, driven the way Slack drives it."""
    deliveries = ImmediateDelivery(settings, database)
    runner = BackgroundRunner()
    app = create_app(settings, database=database, deliveries=deliveries, runner=runner)
    server = BotServer(wsgi_app(app, database, SIGNING_SECRET), SIGNING_SECRET, response_url=slack.response_url("cmd"))
    yield server
    server.stop()
    runner.close()  # no follow-up or delivery of this test's may run on into the next one
    deliveries.close()


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A directory of its own for a `rapport` process: no .env or rapport.db from elsewhere is picked up."""
    path = tmp_path / "work"
    path.mkdir()
    return path


def rapport_in_process(monkeypatch, workdir: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    """`rapport <args>` run in this process (weeks of job runs simulated quickly) with exactly `env` for its
    SLACK_/RAPPORT_/DATABASE_ settings and `workdir` as its directory: its exit code and what it printed."""
    from bot.cli import main

    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(("SLACK_", "RAPPORT_", "DATABASE_"))]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        patch.chdir(workdir)
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            code = main(list(args))
    return code, output.getvalue()


def env_for_subprocess(database_url: str, slack: LocalSlack | None = None, **extra: str) -> dict[str, str]:
    """The environment for running `rapport` as a process against the test database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "RAPPORT_"))}
    env.update({"DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"})
    if slack is not None:
        env["SLACK_API_URL"] = slack.api_url
    env.update(extra)
    return env


