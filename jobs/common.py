"""What every feature job shares: plan the messages for a moment, then queue them (or, dry, show them)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.blocks import Message
from bot.config import Settings
from bot.runtime import current
from bot.services.outbox import SharedChannelRefused, enqueue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    team_id: str
    dedupe_key: str
    channel_id: str
    message: Message
    source: str


@dataclass
class JobResult:
    job: str
    now: dt.datetime
    dry_run: bool = False
    planned: list[Outgoing] = field(default_factory=list)
    queued: int = 0
    lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        when = f"as of {self.now.isoformat(timespec='seconds')}"
        if self.dry_run:
            return f"{self.job} {when} (dry run): would post {len(self.planned)} message(s)"
        if self.lines:
            return f"{self.job}: " + "; ".join(self.lines)
        repeats = len(self.planned) - self.queued
        return (f"{self.job} {when}: queued {self.queued} message(s)"
                + (f", {repeats} already queued before" if repeats else ""))


Planner = Callable[[Session, Settings, dt.datetime], list[Outgoing]]


def run_planner(job: str, planner: Planner, now: dt.datetime | None, dry_run: bool) -> JobResult:
    """One session for the run; the planner only reads, the queueing is one transaction."""
    runtime = current()
    now = now or dt.datetime.now(dt.UTC)
    result = JobResult(job=job, now=now, dry_run=dry_run)
    with runtime.database.transaction() as session:
        result.planned = planner(session, runtime.settings, now)
        if not dry_run:
            for outgoing in list(result.planned):
                try:
                    result.queued += enqueue(session, team_id=outgoing.team_id, dedupe_key=outgoing.dedupe_key,
                                             channel_id=outgoing.channel_id, message=outgoing.message,
                                             source=outgoing.source)
                except SharedChannelRefused as refused:  # one misconfigured client must not stop the rest
                    logger.warning("%s: not queued: %s", job, refused)
                    result.planned.remove(outgoing)
    return result
