"""How long the meeting-reminders job's plan takes when it runs (every minute): every active meeting's next
occurrences expanded from its rule, and the prep brief built for the reminders that are due. Usage:

    python benchmarks/meeting_scan.py [--database-url URL] [--meetings 10000]

Each of N clients (Berlin, New York or London) has one meeting: weekly, every two weeks or monthly, on a
weekday and hour spread over the week, with reminders 24 h and 1 h before, and a few skipped or moved
occurrences. Without --database-url it runs on a new SQLite file; a PostgreSQL URL gets a schema of its own,
dropped after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from benchmarks.scratch import scratch_database  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.db.models import Frequency  # noqa: E402
from bot.services import Actor  # noqa: E402
from bot.services.clients import add_client  # noqa: E402
from bot.services.meetings import add_meeting, get_meeting, skip_occurrence  # noqa: E402
from bot.services.outbox import enqueue  # noqa: E402
from jobs.meeting_reminders import plan  # noqa: E402

TEAM = "T0BENCH"
ACTOR = Actor(TEAM, "U0BENCH", "benchmark")
CREATED = dt.datetime(2027, 1, 4, 8, tzinfo=dt.UTC)
ZONES = ("Europe/Berlin", "America/New_York", "Europe/London")
EVERY = (Frequency.WEEK, Frequency.WEEK, Frequency.TWO_WEEKS, Frequency.MONTH)
ROUNDS = 5


def seed(database: Database, meetings: int) -> None:
    with database.transaction() as session:
        for n in range(meetings):
            zone = ZONES[n % len(ZONES)]
            client = add_client(session, ACTOR, f"Client {n}", key=f"client-{n}", owner_user_id="U0OWNER",
                                internal_channel_id="C0BENCH", timezone=zone)
            every = EVERY[n % len(EVERY)]
            first = dt.date(2027, 1, 11) + dt.timedelta(days=n % 7)
            meeting = add_meeting(session, ACTOR, client, title=f"Review {n}", every=every, starts_on=first,
                                  at=dt.time(8 + n % 9, 30 * (n % 2)), timezone=zone, now=CREATED,
                                  nth=1 if every is Frequency.MONTH else None)
            if n % 10 == 0:
                session.flush()
                skip_occurrence(session, ACTOR, get_meeting(session, TEAM, meeting.id), first, CREATED)


def time_plan(database: Database, now: dt.datetime, *, queue: bool = False) -> tuple[float, int]:
    """The median plan time as of `now`; with `queue`, what was planned is then queued (as a real run does)."""
    settings = Settings(timezone="Europe/Berlin")
    timings, due = [], 0
    for _ in range(ROUNDS):
        with database.transaction() as session:
            start = time.perf_counter()
            planned = plan(session, settings, TEAM, now)
            timings.append(time.perf_counter() - start)
            due = len(planned)
    if queue:
        with database.transaction() as session:
            for outgoing in planned:
                enqueue(session, team_id=TEAM, dedupe_key=outgoing.dedupe_key, channel_id=outgoing.channel_id,
                        message=outgoing.message, source=outgoing.source, expires_at=outgoing.expires_at)
    return statistics.median(timings), due


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--meetings", type=int, default=10_000)
    args = parser.parse_args()
    with scratch_database(args.database_url) as database:
        start = time.perf_counter()
        seed(database, args.meetings)
        seeded = time.perf_counter() - start
        backend = database.engine.url.get_backend_name()
        print(f"{backend}: {args.meetings:,} meetings (added in {seeded:.1f}s)")
        now = dt.datetime(2027, 3, 15, 7, 30, tzinfo=dt.UTC)
        median, due = time_plan(database, now, queue=True)
        print(f"  first run after downtime, as of {now:%a %H:%M} UTC: plan {median * 1000:.0f} ms (median of "
              f"{ROUNDS}), {due:,} reminders due (each with its brief)")
        for minutes in (1, 2):
            median, due = time_plan(database, now + dt.timedelta(minutes=minutes), queue=True)
            print(f"  {minutes} minute(s) later: plan {median * 1000:.0f} ms, {due:,} new reminder(s) due")


if __name__ == "__main__":
    main()
