"""What GET /healthz reports: can this process reach its database, what is its scheduler doing, and is
the outbox being delivered.

    {"status": "ok", "database": "ok", "scheduler": "active", "oldest_due_outbox_age_seconds": 1.2}

200 while the database answers and delivery is not stuck; 503 when the database can't be reached (or
does not answer in time) or when the oldest pending message has been due for more than
STUCK_DELIVERY_SECONDS (no scheduler delivers anywhere, or Slack has refused or not answered for that
long). `scheduler` is this process's own role: `active`, `standby` (another process is the active one,
or this one is reconnecting after a database error) or `off` (`--no-scheduler`, or refused on SQLite).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.db import Database
from bot.db.models import OutboxMessage, OutboxStatus, utcnow
from bot.locks import describe
from bot.scheduler import OFF, SchedulerState

logger = logging.getLogger(__name__)

# A pending message due for longer than this means delivery is stuck: the scheduler delivers every 3 s, and
# even a 429 or a backoff (whose rows are not due meanwhile) does not keep a due message waiting this long.
STUCK_DELIVERY_SECONDS = 600.0

OK, UNREACHABLE, STUCK = "ok", "database unreachable", "delivery stuck"


@dataclass(frozen=True)
class Health:
    status: str  # OK, UNREACHABLE or STUCK
    database: str  # "ok" or "unreachable"
    scheduler: str  # "active", "standby" or "off"
    oldest_due_outbox_age_seconds: float | None

    @property
    def healthy(self) -> bool:
        return self.status == OK

    @property
    def http_status(self) -> str:
        return "200 OK" if self.healthy else "503 Service Unavailable"

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "database": self.database, "scheduler": self.scheduler,
                "oldest_due_outbox_age_seconds": self.oldest_due_outbox_age_seconds}


def evaluate(*, database_ok: bool, oldest_due_age: float | None, scheduler: str,
             stuck_after: float = STUCK_DELIVERY_SECONDS) -> Health:
    """The verdict from what was observed (pure: no database, no clock)."""
    age = None if oldest_due_age is None else round(max(0.0, oldest_due_age), 1)
    if not database_ok:
        return Health(UNREACHABLE, "unreachable", scheduler, None)
    if age is not None and age > stuck_after:
        return Health(STUCK, "ok", scheduler, age)
    return Health(OK, "ok", scheduler, age)


def oldest_due_age(database: Database, now: dt.datetime | None = None) -> float | None:
    """Seconds since the oldest pending message became due; None if none is due. Raises SQLAlchemyError."""
    now = now or utcnow()
    with database.engine.connect() as connection:
        oldest = connection.execute(select(func.min(OutboxMessage.next_attempt_at))
                                    .where(OutboxMessage.status == OutboxStatus.PENDING,
                                           OutboxMessage.next_attempt_at <= now)).scalar()
    return None if oldest is None else (now - oldest).total_seconds()


def check(database: Database, scheduler: SchedulerState | None = None, *, now: dt.datetime | None = None) -> Health:
    """Asks the database (within its profile's timeouts: a request database answers or fails in ~2 s)."""
    role = scheduler.role if scheduler is not None else OFF
    try:
        age = oldest_due_age(database, now)
    except SQLAlchemyError as error:
        logger.warning("Health check: database unreachable (%s)", describe(error))
        return evaluate(database_ok=False, oldest_due_age=None, scheduler=role)
    health = evaluate(database_ok=True, oldest_due_age=age, scheduler=role)
    if not health.healthy:
        logger.warning("Health check: delivery stuck: a message has been due for %.0f s", age)
    return health
