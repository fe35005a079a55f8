"""The scheduled jobs. Definitions live here in code (explicit ids); all state lives in the database,
so each job decides for itself what is due and catches up after downtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs.common import JobResult
from jobs.delay_followups import delay_followups
from jobs.deliver import deliver
from jobs.housekeeping import housekeeping
from jobs.meeting_followups import meeting_followups
from jobs.meeting_reminders import meeting_reminders
from jobs.promise_reminders import promise_reminders
from jobs.stale_nudges import stale_nudges
from jobs.weekly_digest import weekly_digest


@dataclass(frozen=True)
class JobSpec:
    name: str
    run: Callable[..., JobResult]
    trigger: Callable[[], BaseTrigger]
    description: str
    delivers: bool = False  # the job is the delivery itself


JOBS: dict[str, JobSpec] = {spec.name: spec for spec in (
    JobSpec("deliver", deliver, lambda: IntervalTrigger(seconds=3),
            "post what is pending in the outbox", delivers=True),
    JobSpec("delay-followups", delay_followups, lambda: IntervalTrigger(minutes=5),
            "nudge the owner about schedule changes not told to the client; escalate after a business day"),
    JobSpec("stale-nudges", stale_nudges, lambda: IntervalTrigger(minutes=5),
            "nudge the owner of a client not heard from within its cadence; escalate at twice the cadence"),
    JobSpec("meeting-reminders", meeting_reminders, lambda: IntervalTrigger(minutes=1),
            "before each meeting (at its lead times): a reminder with the prep brief, mentioning the owner"),
    JobSpec("meeting-followups", meeting_followups, lambda: IntervalTrigger(minutes=5),
            "after a meeting day with no meeting notes logged: one prompt to the owner"),
    JobSpec("promise-reminders", promise_reminders, lambda: IntervalTrigger(minutes=5),
            "a promise due tomorrow reminded, an overdue one nudged; escalated after 2 business days overdue"),
    JobSpec("weekly-digest", weekly_digest, lambda: IntervalTrigger(minutes=5),
            "Mondays from 09:00: every client's health to the managers channel"),
    JobSpec("housekeeping", housekeeping, lambda: IntervalTrigger(hours=24),
            "daily: prune remembered request ids after 24 h and sent outbox messages after the retention"),
)}
