"""The scheduler: APScheduler 3's BackgroundScheduler, and the election of the one active scheduler.

On PostgreSQL any number of processes may run it: the one holding the "scheduler" advisory lock is
active, the others wait as standbys and take over within seconds when it dies (its connection closes,
PostgreSQL releases the lock). On SQLite a second scheduler is refused with a clear message.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from bot.locks import holder, try_acquire
from bot.runtime import Runtime

logger = logging.getLogger(__name__)

SCHEDULER_LOCK = "scheduler"
STANDBY_POLL_SECONDS = 5.0
DELIVER_SLICE_SECONDS = 2.5  # a scheduled delivery run stops here; the next run (3 s later) goes on


class SchedulerConflict(RuntimeError):
    """SQLite, and another process already runs the scheduler."""


def build_scheduler() -> BackgroundScheduler:
    from jobs import JOBS

    scheduler = BackgroundScheduler(
        timezone=dt.UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    for spec in JOBS.values():
        scheduler.add_job(
            spec.run, trigger=spec.trigger(), id=spec.name, name=spec.description, replace_existing=True,
            kwargs={"max_seconds": DELIVER_SLICE_SECONDS} if spec.delivers else {},
            # Run once at start too: catching up after downtime should not wait for the first interval.
            next_run_time=dt.datetime.now(dt.UTC),
        )
    return scheduler


def run_scheduler(runtime: Runtime, stop: threading.Event, *, poll_seconds: float = STANDBY_POLL_SECONDS) -> None:
    """Run until `stop` is set: active while holding the lock, else a standby (PostgreSQL only)."""
    database = runtime.database
    standby_logged = False
    while not stop.is_set():
        lock = try_acquire(database, SCHEDULER_LOCK)
        if lock is None:
            if database.engine.dialect.name == "sqlite":
                raise SchedulerConflict(
                    f"Another Rapport scheduler ({holder(database, SCHEDULER_LOCK)}) already runs on this SQLite "
                    "database, and only one may. Stop it, run this process with --no-scheduler, or use "
                    "PostgreSQL, where a second scheduler waits as a standby.")
            if not standby_logged:
                logger.info("Scheduler standby: another process is the active scheduler; waiting to take over")
                standby_logged = True
            stop.wait(poll_seconds)
            continue
        standby_logged = False
        scheduler = build_scheduler()
        scheduler.start()
        logger.info("Scheduler active: %s", ", ".join(job.id for job in scheduler.get_jobs()))
        try:
            while not stop.wait(poll_seconds):
                if not lock.is_held():
                    logger.error("Scheduler lost its database lock; stepping down to standby")
                    break
        finally:
            scheduler.shutdown(wait=True)
            lock.release()


def start_in_thread(runtime: Runtime) -> threading.Event:
    """The scheduler beside the web server, in this process. Set the returned event to stop it."""
    stop = threading.Event()

    def target() -> None:
        try:
            run_scheduler(runtime, stop)
        except SchedulerConflict as conflict:
            logger.error("%s This process serves Slack only.", conflict)

    threading.Thread(target=target, name="rapport-scheduler", daemon=True).start()
    return stop
