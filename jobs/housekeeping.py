"""`housekeeping`: once a day, forget what is no longer needed. Remembered request ids (`processed_requests`,
the dedupe of Slack's retries, which come within minutes) after 24 hours; outbox messages that were sent or
withdrawn (cancelled) after `RAPPORT_OUTBOX_RETENTION_DAYS` (default 90). Pending, sending and failed
messages are never touched (they still have to be posted, or looked at by a person), and neither is the
audit trail. Posts nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select

from bot.db.models import OutboxMessage, OutboxStatus, ProcessedRequest
from bot.runtime import Runtime
from jobs.common import JobResult

NAME = "housekeeping"
REQUEST_MEMORY = dt.timedelta(hours=24)
PRUNED_STATUSES = (OutboxStatus.SENT, OutboxStatus.CANCELLED)


def housekeeping(runtime: Runtime, now: dt.datetime | None = None, dry_run: bool = False) -> JobResult:
    now = now or dt.datetime.now(dt.UTC)
    result = JobResult(job=NAME, now=now, dry_run=dry_run)
    requests_before = now - REQUEST_MEMORY
    outbox_before = now - dt.timedelta(days=runtime.settings.outbox_retention_days)
    old_requests = ProcessedRequest.received_at < requests_before
    # A sent row's age is its sending; a withdrawn one (never sent) counts from when it was queued.
    old_outbox = (OutboxMessage.status.in_(PRUNED_STATUSES)
                  & (func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at) < outbox_before))
    with runtime.database.transaction() as session:
        if dry_run:
            requests = session.scalar(select(func.count()).select_from(ProcessedRequest).where(old_requests))
            messages = session.scalar(select(func.count()).select_from(OutboxMessage).where(old_outbox))
        else:
            requests = session.execute(delete(ProcessedRequest).where(old_requests)).rowcount
            messages = session.execute(delete(OutboxMessage).where(old_outbox)).rowcount
    verb = "would prune" if dry_run else "pruned"
    when = now.isoformat(timespec="seconds")
    (result.notes if dry_run else result.lines).append(
        f"as of {when}: {verb} {requests} remembered request id(s) older than 24 h and {messages} sent or "
        f"withdrawn outbox message(s) older than {runtime.settings.outbox_retention_days} days")
    return result
