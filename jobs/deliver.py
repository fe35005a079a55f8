"""`deliver`: posts what is pending in the outbox (every few seconds, and after every job run by hand)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select

from bot.blocks import Message
from bot.db.models import OutboxMessage, OutboxStatus, utcnow
from bot.runtime import Runtime
from jobs.common import JobResult, Outgoing


def deliver(runtime: Runtime, now: dt.datetime | None = None, dry_run: bool = False,
            max_seconds: float = 50.0, drain: bool = False) -> JobResult:
    result = JobResult(job="deliver", now=now or dt.datetime.now(dt.UTC), dry_run=dry_run)
    if dry_run:
        with runtime.database.transaction() as session:
            # Not one that has expired (as of the run's moment, as a real run judges it): it would be withdrawn.
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING,
                                                               OutboxMessage.next_attempt_at <= utcnow(),
                                                               or_(OutboxMessage.expires_at.is_(None),
                                                                   OutboxMessage.expires_at > result.now))
                                   .order_by(OutboxMessage.id))
            result.planned = [Outgoing(r.team_id, r.dedupe_key, r.channel_id, _message(r), r.source) for r in rows]
        return result
    # Run for a moment (`--now`), expiries are judged as of that moment.
    result.lines.append(str(runtime.worker.deliver(max_seconds=max_seconds, drain=drain, as_of=now)))
    return result


def _message(row: OutboxMessage) -> Message:
    return Message(text=row.text, blocks=row.blocks or [])
