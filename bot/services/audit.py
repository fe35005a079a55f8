"""The append-only audit trail: who changed what, before and after, when (UTC), through which surface."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import AuditEvent, Base
from bot.services import Actor


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
) -> AuditEvent:
    session.flush()  # the entity needs its id
    event = AuditEvent(
        team_id=actor.team_id,
        actor_user_id=actor.user_id,
        action=action,
        entity_type=entity.__tablename__,
        entity_id=entity.id,
        client_id=client_id,
        before=before,
        after=after,
        surface=actor.surface,
    )
    session.add(event)
    return event


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
