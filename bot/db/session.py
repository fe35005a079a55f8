"""Engine and sessions. The session's lifecycle lives here, outside the services that use it.

Two profiles of timeouts, chosen where the `Database` is made:

- `requests` (the default): work someone is waiting for. Slack gives a command 3 seconds, so nothing here
  may wait longer than about 2: PostgreSQL connect 2 s (libpq's minimum), statements 2 s, lock waits
  1.5 s, 2 s for a pooled connection; SQLite waits 2 s for another process's write lock. Past that the
  work fails with a SQLAlchemy error (OperationalError, or TimeoutError for the pool) instead of hanging.
- `jobs` (`Database.for_jobs`): the scheduler, the jobs and the delivery worker, which nobody waits on:
  connect 10 s, statements 60 s, locks 15 s, SQLite's write lock 15 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


@dataclass(frozen=True)
class Profile:
    name: str
    connect_timeout: int  # seconds to open a PostgreSQL connection (libpq: whole seconds, at least 2)
    statement_timeout: float  # seconds, PostgreSQL
    lock_timeout: float  # seconds a statement waits for a row or table lock, PostgreSQL
    pool_timeout: float  # seconds to wait for a free pooled connection
    busy_timeout: float  # seconds SQLite waits for another connection's write lock


# A lock wait gives up a little before the statement would: the error then names its cause ("lock timeout").
REQUESTS = Profile("requests", connect_timeout=2, statement_timeout=2.0, lock_timeout=1.5, pool_timeout=2.0,
                   busy_timeout=2.0)
JOBS = Profile("jobs", connect_timeout=10, statement_timeout=60.0, lock_timeout=15.0, pool_timeout=30.0,
               busy_timeout=15.0)
PROFILES = {profile.name: profile for profile in (REQUESTS, JOBS)}


def make_engine(url: str, profile: Profile = REQUESTS) -> Engine:
    # hide_parameters: SQL errors and echo never show bound values (user text, ids) in logs or exceptions.
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True, pool_timeout=profile.pool_timeout, hide_parameters=True,
                               connect_args={"connect_timeout": profile.connect_timeout})
        statement_ms, lock_ms = int(profile.statement_timeout * 1000), int(profile.lock_timeout * 1000)

        @event.listens_for(engine, "connect")
        def _postgresql_timeouts(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET statement_timeout = {statement_ms}")
            cursor.execute(f"SET lock_timeout = {lock_ms}")
            cursor.close()
            dbapi_connection.commit()  # SET is transactional: a later rollback must not undo it

        return engine
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_timeout=profile.pool_timeout, hide_parameters=True)
    engine = create_engine(url, pool_timeout=profile.pool_timeout, hide_parameters=True,
                           connect_args={"timeout": profile.busy_timeout})
    busy_ms = int(profile.busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        if parsed.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL syncs at checkpoints, not at every commit: a killed process loses nothing and
            # the file never corrupts; only a power cut can drop the last commits. A command's commit then
            # costs no fsync (every request writes: its replay guard).
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    return engine


class Database:
    """One engine per process and purpose; one session per command and per job run.

    `Database(url)` is for request work (what Slack or a person waits for); `Database.for_jobs(url)` for
    the scheduler, the jobs and the delivery worker. See the module's docstring for the timeouts."""

    def __init__(self, url: str, purpose: str = "requests") -> None:
        if purpose not in PROFILES:
            raise ValueError(f"unknown database purpose {purpose!r}; one of {', '.join(PROFILES)}")
        self.url = url
        self.purpose = purpose
        self.profile = PROFILES[purpose]
        self.engine = make_engine(url, self.profile)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def for_requests(cls, url: str) -> Database:
        return cls(url, purpose="requests")

    @classmethod
    def for_jobs(cls, url: str) -> Database:
        return cls(url, purpose="jobs")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for several transactions in a row (`with session.begin(): ...` each), e.g. one job run
        that commits each workspace's work on its own."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed together, or not at all."""
        with self._sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def upgrade(self) -> None:
        """Apply the migrations, with the jobs profile's patience whatever this database's purpose."""
        from bot.db.migrate import upgrade

        if self.purpose == JOBS.name or make_url(self.url).database in (None, "", ":memory:"):
            upgrade(self.engine)  # an in-memory SQLite database exists only on this engine
            return
        engine = make_engine(self.url, JOBS)
        try:
            upgrade(engine)
        finally:
            engine.dispose()

    def dispose(self) -> None:
        self.engine.dispose()
