"""How long the stale-nudges scan takes (each active client's last contact and pending plan, then who is due),
and that it grows with the number of clients, not of interactions: the same clients are scanned at two sizes
of interaction history. Usage:

    python benchmarks/stale_scan.py [--database-url URL] [--clients 10000] [--interactions 1000000]

Without --database-url it runs on a new SQLite file; a PostgreSQL URL gets a schema of its own, dropped after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from benchmarks.scratch import scratch_database  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.services.nudges import stale_clients  # noqa: E402

TEAM = "T0BENCH"
NOW = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
ROUNDS = 5


def seed_clients(database: Database, clients: int) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO clients (team_id, key, name, cadence_days, created_at, created_by, updated_at, "
            "owner_user_id, internal_channel_id) VALUES (:team, :key, :name, 14, :now, 'U0BENCH', :now, 'U0OWNER', "
            "'C0BENCH')"),
            [{"team": TEAM, "key": f"client-{n}", "name": f"Client {n}", "now": NOW} for n in range(clients)])


def add_interactions(database: Database, first: int, last: int, clients: int) -> None:
    """Interactions number `first`..`last`-1, one per client a round, each round a week further back (so more
    history does not change who is due: the latest contacts are the first round's); every fifth is a note,
    every tenth plans a next contact."""
    params = {"first": first, "last": last, "clients": clients, "team": TEAM, "now": NOW}
    columns = ("team_id, client_id, kind, summary, occurred_on, next_contact_on, logged_by, logged_at, surface")
    with database.engine.begin() as connection:
        low = connection.execute(text("SELECT min(id) FROM clients WHERE team_id = :team"), params).scalar()
        params["low"] = low
        if database.engine.dialect.name == "postgresql":
            connection.execute(text(
                f"INSERT INTO interactions ({columns}) SELECT :team, :low + i % :clients, "
                "CASE WHEN i % 5 = 0 THEN 'note' ELSE 'call' END, 'Benchmark interaction', "
                "DATE '2026-11-30' - (i % :clients) % 40 - (i / :clients) * 7, "
                "CASE WHEN i % 10 = 3 THEN DATE '2026-12-07' - (i / :clients) * 7 END, 'U0BENCH', "
                ":now - (i / :clients) * INTERVAL '7 days', 'benchmark' "
                "FROM generate_series(:first, :last - 1) AS i"), params)
        else:
            connection.execute(text(
                f"WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :last) "
                f"INSERT INTO interactions ({columns}) SELECT :team, :low + i % :clients, "
                "CASE WHEN i % 5 = 0 THEN 'note' ELSE 'call' END, 'Benchmark interaction', "
                "date('2026-11-30', '-' || ((i % :clients) % 40 + (i / :clients) * 7) || ' days'), "
                "CASE WHEN i % 10 = 3 THEN date('2026-12-07', '-' || ((i / :clients) * 7) || ' days') END, "
                "'U0BENCH', strftime('%Y-%m-%d %H:%M:%f+00:00', '2026-12-01 10:00:00', '-' || ((i / :clients) * 7) "
                "|| ' days'), 'benchmark' FROM n"),
                params)
        connection.execute(text("ANALYZE"))  # both databases: fresh statistics for the planner


def time_scan(database: Database) -> tuple[float, int]:
    timings, found = [], 0
    for _ in range(ROUNDS):
        with database.transaction() as session:
            start = time.perf_counter()
            found = len(stale_clients(session, TEAM, ZoneInfo("UTC"), NOW))
            timings.append(time.perf_counter() - start)
    return statistics.median(timings), found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    args = parser.parse_args()
    with scratch_database(args.database_url) as database:
        seed_clients(database, args.clients)
        done = 0
        for size in (args.interactions // 10, args.interactions):
            start = time.perf_counter()
            add_interactions(database, done, size, args.clients)
            done = size
            seeded = time.perf_counter() - start
            median, found = time_scan(database)
            print(f"{database.engine.url.get_backend_name()}: {args.clients:,} clients, {size:,} interactions "
                  f"(added in {seeded:.1f}s): scan {median * 1000:.0f} ms (median of {ROUNDS}), "
                  f"{found:,} clients due")


if __name__ == "__main__":
    main()
