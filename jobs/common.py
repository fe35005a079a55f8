"""What every feature job shares: for each workspace, plan the messages for a moment, then queue them (or,
dry, show them). One session for the run; each workspace's work is its own transaction, so one
workspace's failure is logged and the others' work in that run goes on."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from bot.blocks import Message
from bot.config import Settings
from bot.db.models import Client
from bot.runtime import Runtime
from bot.services.outbox import SharedChannelRefused, enqueue

logger = logging.getLogger(__name__)
# The database itself is gone: no other workspace would fare better; the run ends (the next one retries).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


@dataclass(frozen=True)
class Outgoing:
    team_id: str
    dedupe_key: str
    channel_id: str
    message: Message
    source: str
    expires_at: dt.datetime | None = None  # not posted after this (a reminder of a meeting that started)
    # What else the message means once queued (a nudge remembered), written in the same transaction.
    record: Callable[[Session], object] | None = field(default=None, compare=False)


class Plan(list):
    """A planner's messages to queue, and what else the run has to tell (what waits, and until when)."""

    def __init__(self, outgoing=(), notes=()) -> None:
        super().__init__(outgoing)
        self.notes: list[str] = list(notes)


@dataclass
class JobResult:
    job: str
    now: dt.datetime
    dry_run: bool = False
    planned: list[Outgoing] = field(default_factory=list)
    queued: int = 0
    failed_teams: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        when = f"as of {self.now.isoformat(timespec='seconds')}"
        failed = (f"; {len(self.failed_teams)} workspace(s) failed, see the log: {', '.join(self.failed_teams)}"
                  if self.failed_teams else "")
        notes = "".join(f"\n  {note}" for note in self.notes)
        if self.dry_run:
            return f"{self.job} {when} (dry run): would post {len(self.planned)} message(s){failed}{notes}"
        if self.lines:
            return f"{self.job}: " + "; ".join(self.lines)
        repeats = len(self.planned) - self.queued
        return (f"{self.job} {when}: queued {self.queued} message(s)"
                + (f", {repeats} already queued before" if repeats else "") + failed + notes)


Planner = Callable[[Session, Settings, str, dt.datetime], list[Outgoing]]  # (session, settings, team_id, now)
Prepare = Callable[[Runtime, str], object]  # (runtime, team_id): what a run needs from Slack first


def workspaces(session: Session) -> list[str]:
    """The workspaces with at least one active client: the ones a job may have something to say to."""
    return sorted(session.scalars(select(Client.team_id).where(Client.archived_at.is_(None)).distinct()))


def run_planner(job: str, planner: Planner, runtime: Runtime, now: dt.datetime | None, dry_run: bool, *,
                prepare: Prepare | None = None) -> JobResult:
    """`prepare` (not on a dry run: it changes nothing) runs for each workspace before its plan."""
    now = now or dt.datetime.now(dt.UTC)
    result = JobResult(job=job, now=now, dry_run=dry_run)
    with runtime.database.session() as session:
        with session.begin():
            teams = workspaces(session)
        for team_id in teams:
            try:
                if prepare is not None and not dry_run:
                    prepare(runtime, team_id)
                with session.begin():
                    planned = planner(session, runtime.settings, team_id, now)
                    queued = 0 if dry_run else _queue(session, job, planned)
            except DATABASE_UNAVAILABLE:
                raise
            except Exception:  # one workspace's defect or bad data must not stop the others' work
                logger.exception("%s: the work for workspace %s failed and was rolled back; the other "
                                 "workspaces go on", job, team_id)
                result.failed_teams.append(team_id)
                continue
            result.planned += planned
            result.queued += queued
            result.notes += getattr(planned, "notes", [])
    return result


def _queue(session: Session, job: str, planned: list[Outgoing]) -> int:
    queued = 0
    for outgoing in list(planned):
        try:
            queued += enqueue(session, team_id=outgoing.team_id, dedupe_key=outgoing.dedupe_key,
                              channel_id=outgoing.channel_id, message=outgoing.message, source=outgoing.source,
                              expires_at=outgoing.expires_at)
        except SharedChannelRefused as refused:  # one misconfigured client must not stop the rest
            logger.warning("%s: not queued: %s", job, refused)
            planned.remove(outgoing)
            continue
        if outgoing.record is not None:
            outgoing.record(session)
    return queued
