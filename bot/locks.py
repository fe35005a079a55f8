"""Locks that die with their process: who runs the scheduler, who delivers the outbox.

PostgreSQL: a session advisory lock on a connection held for the lock's life; when the process dies
its connection closes and PostgreSQL releases the lock. SQLite (one machine by definition): an
exclusive `flock` on a file beside the database, which the kernel releases when the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

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
    def __init__(self, name: str, connection: Connection, key: int) -> None:
        self.name, self._connection, self._key = name, connection, key

    def is_held(self) -> bool:
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except DBAPIError:
            return False

    def release(self) -> None:
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            self._connection.commit()
        except DBAPIError:
            pass  # the connection is gone, and the lock with it
        finally:
            self._connection.close()


class FileLock(HeldLock):
    def __init__(self, name: str, descriptor: int) -> None:
        self.name, self._descriptor = name, descriptor

    def is_held(self) -> bool:
        return self._descriptor >= 0

    def release(self) -> None:
        if self._descriptor >= 0:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            os.close(self._descriptor)
            self._descriptor = -1


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


def try_acquire(database: Database, name: str) -> HeldLock | None:
    """The lock if nobody holds it, else None (never waits)."""
    if database.engine.dialect.name == "postgresql":
        connection = database.engine.connect()
        # Advisory locks belong to the whole database: deployments (or test runs) in separate schemas of one
        # database must not elect one another, so the schema is part of the key.
        schema = connection.execute(text("SELECT current_schema()")).scalar()
        key = advisory_key(name if schema in (None, "public") else f"{schema}:{name}")
        acquired = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        connection.commit()  # the lock belongs to the session, not to this transaction
        if acquired:
            return AdvisoryLock(name, connection, key)
        connection.close()
        return None
    path = lock_file(database, name)
    if path is None:
        return ProcessLocalLock(name)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
    return FileLock(name, descriptor)


def holder(database: Database, name: str) -> str:
    """Who holds the lock, as far as can be told (SQLite records it in the lock file)."""
    path = lock_file(database, name)
    if path is not None and path.exists():
        return path.read_text().strip() or "another process"
    return "another process"
