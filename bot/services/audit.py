"""The append-only audit trail: who changed what, before and after, when (UTC), through which surface.

Tamper-evident: each event carries `hash`, the SHA-256 of its canonical content (canonical JSON of team,
actor, action, entity, client, before, after, occurred_at in UTC ISO, surface) and of `prev_hash`, the
hash of the previous event of its workspace (in id order; the first event's `prev_hash` is NULL).
`verify_chains` walks each workspace's chain and reports the first altered, inserted or deleted event.
Writers of one workspace are serialized (a transaction-scoped advisory lock on PostgreSQL, SQLite's single
writer), so two requests at once never fork the chain.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Select, bindparam, insert, select, text
from sqlalchemy.orm import Session

from bot.db.core import connection
from bot.db.models import AuditEvent, Base, utcnow
from bot.services import Actor


def canonical_time(value: dt.datetime) -> str:
    if value.tzinfo is None:  # SQLite keeps no zone: what it stores is UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(*, team_id: str, actor_user_id: str, action: str, entity_type: str, entity_id: int,
               client_id: int | None, before: Any, after: Any, occurred_at: dt.datetime, surface: str,
               prev_hash: str | None) -> str:
    """The hash of one event. Fixed format: migration 0008 and `rapport audit verify` rely on it."""
    content = {
        "team": team_id,
        "actor": actor_user_id,
        "action": action,
        "entity": [entity_type, entity_id],
        "client": client_id,
        "before": before,
        "after": after,
        "occurred_at": canonical_time(occurred_at),
        "surface": surface,
        "prev": prev_hash or "",
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def hash_of(event: AuditEvent, prev_hash: str | None) -> str:
    return event_hash(team_id=event.team_id, actor_user_id=event.actor_user_id, action=event.action,
                      entity_type=event.entity_type, entity_id=event.entity_id, client_id=event.client_id,
                      before=event.before, after=event.after, occurred_at=event.occurred_at,
                      surface=event.surface, prev_hash=prev_hash)


def _lock_chain(session: Session, team_id: str) -> None:
    """Serializes the writers of one workspace's chain until the transaction ends."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        from bot.locks import _advisory_key

        key = _advisory_key(connection, f"audit-chain:{team_id}")
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif not connection.connection.driver_connection.in_transaction:
        # SQLite has one writer, but a transaction only becomes it at its first write: a statement that
        # writes (nothing: no row matches, no trigger fires) takes the write lock before the head is read.
        # A transaction that has written already (a command's replay guard, the entity just flushed) has it.
        connection.execute(text("UPDATE audit_events SET id = id WHERE 0 = 1"))


@functools.cache
def _head_query() -> Select:
    # Every change asks for the chain's head: built once, bound at execution.
    return (select(AuditEvent.hash).where(AuditEvent.team_id == bindparam("team_id"))
            .order_by(AuditEvent.id.desc()).limit(1))


@functools.cache
def _insert_statement() -> Insert:
    return insert(AuditEvent.__table__)


def snapshot(record: Base, fields: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of a record, as JSON-safe values."""
    values: dict[str, Any] = {}
    for name in fields:
        value = getattr(record, name)
        values[name] = value.isoformat() if isinstance(value, dt.date | dt.datetime | dt.time) else value
    return values


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: Base,
    *,
    client_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    session.flush()  # the entity needs its id
    _lock_chain(session, actor.team_id)
    prev_hash = connection(session).scalar(_head_query(), {"team_id": actor.team_id})
    # What the database hands back is what gets hashed: JSON round trip, microsecond UTC time.
    values = {
        "team_id": actor.team_id,
        "actor_user_id": actor.user_id,
        "action": action,
        "entity_type": entity.__tablename__,
        "entity_id": entity.id,
        "client_id": client_id,
        "before": json.loads(json.dumps(before)) if before is not None else None,
        "after": json.loads(json.dumps(after)) if after is not None else None,
        "surface": actor.surface,
        "occurred_at": utcnow(),
        "prev_hash": prev_hash,
    }
    values["hash"] = event_hash(**values)
    # Inserted now, under the lock (id order is chain order), as one prepared INSERT: an event is never
    # read back or changed, so it needs no place in the session's unit of work.
    connection(session).execute(_insert_statement(), values)


@dataclass(frozen=True)
class ChainReport:
    team_id: str
    events: int
    problem: str | None = None  # the first break found, None if the chain holds


def verify_chain(session: Session, team_id: str) -> ChainReport:
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.team_id == team_id)
                                  .order_by(AuditEvent.id)))
    expected: str | None = None  # the hash the next event must point back to
    for i, event in enumerate(events):
        content_ok = event.hash is not None and event.hash == hash_of(event, event.prev_hash)
        link_ok = event.prev_hash == expected
        if content_ok and link_ok:
            expected = event.hash
            continue
        following = events[i + 1] if i + 1 < len(events) else None
        if not content_ok:
            if (following is not None and following.prev_hash == expected) or (following is None and not link_ok):
                problem = f"event #{event.id} was inserted (it is not part of the chain)"
            else:
                problem = f"event #{event.id} was altered (its content no longer matches its hash)"
        elif i >= 1 and event.prev_hash == expected_before(events, i):
            problem = f"event #{events[i - 1].id} was inserted (event #{event.id} points past it)"
        else:
            after_id = f"#{events[i - 1].id}" if i else "the start"
            problem = (f"events were deleted between {after_id} and #{event.id} "
                       f"(or {after_id} was rewritten with a new hash)")
        return ChainReport(team_id, len(events), problem)
    return ChainReport(team_id, len(events))


def expected_before(events: list[AuditEvent], i: int) -> str | None:
    """The hash before events[i - 1] (None at the start of the chain)."""
    return events[i - 2].hash if i >= 2 else None


def verify_chains(session: Session) -> list[ChainReport]:
    teams = session.scalars(select(AuditEvent.team_id).distinct().order_by(AuditEvent.team_id)).all()
    return [verify_chain(session, team_id) for team_id in teams]


def client_history(session: Session, team_id: str, client_id: int, limit: int = 25) -> list[AuditEvent]:
    """The client's audit events, newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.team_id == team_id, AuditEvent.client_id == client_id)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )
