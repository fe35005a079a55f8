"""The scheduler: APScheduler 3's BackgroundScheduler, and the election of the one active scheduler.

On PostgreSQL any number of processes may run it: the one holding the "scheduler" advisory lock is
active, the others wait as standbys and take over within seconds when it dies (its connection closes,
PostgreSQL releases the lock). On SQLite a second scheduler is refused with a clear message.

The scheduler never stops on a database error: a lost connection, a database that is down or does not
answer is logged in one line, and the scheduler steps down, waits (backing off up to
MAX_RETRY_SECONDS), reconnects and stands for election again, until it is stopped. What it is doing is
kept in a SchedulerState, which `rapport run` shows in /healthz.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

from bot.locks import HeldLock, describe, holder, try_acquire
from bot.runtime import Runtime

logger = logging.getLogger(__name__)

SCHEDULER_LOCK = "scheduler"
STANDBY_POLL_SECONDS = 5.0
DELIVER_SLICE_SECONDS = 2.5  # a scheduled delivery run stops here; the next run (3 s later) goes on
FIRST_RETRY_SECONDS = 1.0  # after a database error: 1 s, 2 s, 4 s ... (with jitter) up to
MAX_RETRY_SECONDS = 30.0

ACTIVE, STANDBY, OFF = "active", "standby", "off"


class SchedulerConflict(RuntimeError):
    """SQLite, and another process already runs the scheduler."""


@dataclass(frozen=True)
class SchedulerStatus:
    role: str  # ACTIVE, STANDBY or OFF
    since: dt.datetime
    last_error: str | None
    last_error_at: dt.datetime | None


class SchedulerState:
    """What this process's scheduler is doing, safe to read from any thread (the web side reads it)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._status = SchedulerStatus(OFF, dt.datetime.now(dt.UTC), None, None)

    @property
    def role(self) -> str:
        return self.status().role

    def status(self) -> SchedulerStatus:
        with self._changed:
            return self._status

    def set_role(self, role: str) -> None:
        with self._changed:
            if role != self._status.role:
                self._status = SchedulerStatus(role, dt.datetime.now(dt.UTC), self._status.last_error,
                                               self._status.last_error_at)
                self._changed.notify_all()

    def record_error(self, error: str) -> None:
        with self._changed:
            self._status = SchedulerStatus(self._status.role, self._status.since, error, dt.datetime.now(dt.UTC))
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[SchedulerStatus], bool], timeout: float) -> bool:
        """Wait until `predicate(status)` holds (True), or `timeout` seconds (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self._status), timeout)


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """Every job, handed the runtime (database, settings, delivery worker) through its kwargs."""
    from jobs import JOBS

    scheduler = BackgroundScheduler(
        timezone=dt.UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    for spec in JOBS.values():
        scheduler.add_job(
            _quiet_about_the_database(spec.name, spec.run), trigger=spec.trigger(), id=spec.name,
            name=spec.description, replace_existing=True,
            kwargs={"runtime": runtime, **({"max_seconds": DELIVER_SLICE_SECONDS} if spec.delivers else {})},
            # Run once at start too: catching up after downtime should not wait for the first interval.
            next_run_time=dt.datetime.now(dt.UTC),
        )
    return scheduler


def _quiet_about_the_database(name: str, run: Callable) -> Callable:
    """A job that meets a database error says so in one line (the next run tries again); other errors
    still reach APScheduler, which logs them with their traceback."""

    @functools.wraps(run)
    def job(*args, **kwargs):
        try:
            return run(*args, **kwargs)
        except SQLAlchemyError as error:
            logger.warning("Job %s: database error (%s); it runs again at its next time", name, describe(error))
            return None

    return job


def run_scheduler(runtime: Runtime, stop: threading.Event, *, poll_seconds: float = STANDBY_POLL_SECONDS,
                  state: SchedulerState | None = None, first_retry: float = FIRST_RETRY_SECONDS,
                  max_retry: float = MAX_RETRY_SECONDS) -> None:
    """Run until `stop` is set: active while holding the lock, else a standby (PostgreSQL only).

    Database errors never end it (see the module's docstring); only SchedulerConflict (SQLite, and
    another process runs the scheduler) does."""
    state = state or SchedulerState()
    database = runtime.database
    failures = 0
    standby_logged = False
    try:
        while not stop.is_set():
            try:
                lock = try_acquire(database, SCHEDULER_LOCK)
                if lock is None:
                    if database.engine.dialect.name == "sqlite":
                        raise SchedulerConflict(
                            f"Another Rapport scheduler ({holder(database, SCHEDULER_LOCK)}) already runs on this "
                            "SQLite database, and only one may. Stop it, run this process with --no-scheduler, or "
                            "use PostgreSQL, where a second scheduler waits as a standby.")
                    state.set_role(STANDBY)
                    if not standby_logged:
                        logger.info("Scheduler standby: another process is the active scheduler; waiting to take "
                                    "over")
                        standby_logged = True
                    failures = 0
                    stop.wait(poll_seconds)
                    continue
                standby_logged = False
                failures = 0
                _serve_as_active(runtime, lock, stop, poll_seconds, state)
            except SchedulerConflict as conflict:
                state.record_error(str(conflict))
                raise
            except Exception as error:  # nothing may stop the scheduler for good
                failures += 1
                delay = min(max_retry, first_retry * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)
                state.set_role(STANDBY)
                if isinstance(error, SQLAlchemyError | OSError):
                    message = f"database unavailable: {describe(error)}"
                    logger.warning("Scheduler: %s; trying again in %.0f s (attempt %d)", message, delay, failures)
                else:  # a bug: its traceback once per run of failures, not on every retry
                    message = f"unexpected error: {error.__class__.__name__}: {error}"
                    logger.error("Scheduler: %s; trying again in %.0f s (attempt %d)", message, delay, failures,
                                 exc_info=error if failures == 1 else None)
                state.record_error(message)
                standby_logged = False
                stop.wait(delay)
    finally:
        state.set_role(OFF)


def _serve_as_active(runtime: Runtime, lock: HeldLock, stop: threading.Event, poll_seconds: float,
                     state: SchedulerState) -> None:
    scheduler = None
    try:
        scheduler = build_scheduler(runtime)
        scheduler.start()
        state.set_role(ACTIVE)
        logger.info("Scheduler active: %s", ", ".join(job.id for job in scheduler.get_jobs()))
        while not stop.wait(poll_seconds):
            if not lock.is_held():
                logger.error("Scheduler lost its database lock; stepping down, then standing for election again")
                state.record_error("lost the scheduler lock (database connection closed)")
                break
    finally:
        state.set_role(STANDBY)
        try:
            if scheduler is not None:
                scheduler.shutdown(wait=True)
        finally:
            lock.release()


def start_in_thread(runtime: Runtime, state: SchedulerState | None = None) -> threading.Event:
    """The scheduler beside the web server, in this process. Set the returned event to stop it."""
    stop = threading.Event()
    state = state or SchedulerState()

    def target() -> None:
        try:
            run_scheduler(runtime, stop, state=state)
        except SchedulerConflict as conflict:
            logger.error("%s This process serves Slack only.", conflict)
        except BaseException:  # run_scheduler gives up only on a conflict; should anything else escape, say so
            logger.exception("The scheduler thread ended; this process serves Slack only")
            raise

    threading.Thread(target=target, name="rapport-scheduler", daemon=True).start()
    return stop
