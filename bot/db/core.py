"""Statements that return values or rows rather than ORM objects, run on the session's own connection.

The ORM's per-statement work (its compile state, identity map, result wrapping) costs more than such a statement
itself on a hot path (~0.1 ms each, several per command), and gives nothing when no object is loaded. What
the session holds unflushed is flushed first, as its autoflush would, so a read never misses a pending change.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.orm import Session


def connection(session: Session) -> Connection:
    """The session's connection, in its transaction, with pending changes flushed."""
    session.flush()  # nothing to do (and next to free) when the session is clean
    return session.connection()
