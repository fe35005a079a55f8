"""Locks that die with their process: who runs the scheduler, who delivers the outbox.

PostgreSQL: a session advisory lock on a connection held for the lock's life; when the process dies
its connection closes and PostgreSQL releases the lock. SQLite (one machine by definition): an
operating-system lock on a file beside the database (the `filelock` package: flock on Unix, LockFileEx
on Windows), which the system releases when the process dies. Who holds it is written beside it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from pathlib import Path

import filelock
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from bot.db import Database

logger = logging.getLogger(__name__)


class HeldLock:
    name: str

    def is_held(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class AdvisoryLock(HeldLock):
    """Held as long as its connection lives. Once the connection is found broken the lock counts as lost
    for good: a new connection (SQLAlchemy reconnects transparently) would not hold it."""

    _HELD = text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                 "AND pid = pg_backend_pid() AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) "
                 "AND objsubid = 1)")

    def __init__(self, name: str, connection: Connection, key: int) -> None:
        self.name, self._connection, self._key = name, connection, key
        self._lost = self._released = False

    def is_held(self) -> bool:
        """Asks PostgreSQL whether this connection still holds the lock; never raises."""
        if self._lost or self._released:
            return False
        high, low = (self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF
        try:
            held = bool(self._connection.execute(self._HELD, {"high": high, "low": low}).scalar())
            self._connection.commit()
        except SQLAlchemyError as error:
            logger.warning("The %s lock's database connection is gone (%s)", self.name, describe(error))
            held = False
        if not held:
            self._lost = True
        return held

    def release(self) -> None:
        """Unlock and give the connection back; never raises (a dead connection took the lock with it)."""
        if self._released:
            return
        self._released = True
        try:
            if not self._lost:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
                self._connection.commit()
        except SQLAlchemyError:
            self._lost = True
        try:
            if self._lost:
                # Never back into the pool while it might still hold the lock: closing it for good releases it.
                self._connection.invalidate()
            self._connection.close()
        except SQLAlchemyError:
            pass


class FileLock(HeldLock):
    def __init__(self, name: str, lock: filelock.BaseFileLock) -> None:
        self.name, self._lock = name, lock

    def is_held(self) -> bool:
        return self._lock.is_locked

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)


class ProcessLocalLock(HeldLock):
    """An in-memory SQLite database lives in one process: there is nobody to exclude."""

    def __init__(self, name: str) -> None:
        self.name = name

    def is_held(self) -> bool:
        return True

    def release(self) -> None:
        pass


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, from the lock's name."""
    return int.from_bytes(hashlib.blake2b(f"rapport:{name}".encode(), digest_size=8).digest(), "big", signed=True)


def lock_file(database: Database, name: str) -> Path | None:
    path = database.engine.url.database
    if database.engine.dialect.name != "sqlite" or path in (None, "", ":memory:"):
        return None
    return Path(f"{path}.{name}.lock")


def _advisory_key(connection: Connection, name: str) -> int:
    # Advisory locks belong to the whole database: deployments (or test runs) in separate schemas of one
    # database must not elect one another, so the schema is part of the key.
    # The schema of a pooled connection does not change (it comes with the URL's search_path): asked once per
    # connection, not on every audited write.
    if "current_schema" not in connection.info:
        connection.info["current_schema"] = connection.execute(text("SELECT current_schema()")).scalar()
    schema = connection.info["current_schema"]
    return advisory_key(name if schema in (None, "public") else f"{schema}:{name}")


def try_acquire(database: Database, name: str) -> HeldLock | None:
    """The lock if nobody holds it, else None (never waits). Raises SQLAlchemyError if the database can't
    be reached, OSError if SQLite's lock file can't be opened."""
    if database.engine.dialect.name == "postgresql":
        connection = database.engine.connect()
        try:
            key = _advisory_key(connection, name)
            acquired = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
            connection.commit()  # the lock belongs to the session, not to this transaction
        except BaseException:
            connection.invalidate()  # whatever happened, this connection must not carry a lock into the pool
            connection.close()
            raise
        if acquired:
            return AdvisoryLock(name, connection, key)
        connection.close()
        return None
    path = lock_file(database, name)
    if path is None:
        return ProcessLocalLock(name)
    if not path.parent.is_dir():  # filelock would create it; a database whose directory is gone is unreachable
        raise FileNotFoundError(f"no directory {path.parent} for the SQLite database and its locks")
    # Not thread-local: the scheduler may release from another thread. No soft (marker-file) fallback: a
    # lock must die with its process, and a marker file outlives it.
    lock = filelock.FileLock(path, timeout=0, thread_local=False, fallback_to_soft=False)
    try:
        lock.acquire()
    except filelock.Timeout:
        return None
    _owner_file(path).write_text(f"pid {os.getpid()} on {socket.gethostname()}\n")
    return FileLock(name, lock)


def _owner_file(path: Path) -> Path:
    return path.with_name(path.name + ".owner")


def advisory_holder(database: Database, name: str) -> int | None:
    """PostgreSQL: the backend pid of the connection holding the lock, None if nobody holds it."""
    with database.engine.connect() as connection:
        key = _advisory_key(connection, name)
        return connection.execute(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = CAST(:high AS oid) "
            "AND objid = CAST(:low AS oid) AND objsubid = 1"),
            {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}).scalar()


def describe(error: BaseException) -> str:
    """One line about a database error, for logs: its kind and its first line (no SQL, no traceback)."""
    original = getattr(error, "orig", None) or error
    first_line = (str(original).strip().splitlines() or [""])[0]
    return f"{original.__class__.__name__}: {first_line}"[:300]


def holder(database: Database, name: str) -> str:
    """Who holds the lock, as far as can be told (SQLite records it in the lock file)."""
    path = lock_file(database, name)
    owner = _owner_file(path) if path is not None else None
    if owner is not None and owner.exists():
        return owner.read_text().strip() or "another process"
    return "another process"
