"""A portfolio of N clients and M interactions spread over the two years up to today, brought in as a team
would bring theirs: CSV files (clients, contacts, interactions; the import's own column names) through
`rapport import` as a subprocess. Then what can't be imported is added through the services, in bulk-ish
numbers: one schedule change per 10 clients, one meeting per 2 clients, one promise per 3 clients (a third of
them overdue). Deterministic: the same sizes give the same portfolio."""

from __future__ import annotations

import csv
import datetime as dt
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from benchmarks.servers import TEAM, USER, rapport_command, rapport_env
from bot.db import Database
from bot.db.models import Client, Frequency
from bot.services import Actor, Surface
from bot.services.changes import record_change
from bot.services.meetings import add_meeting
from bot.services.promises import add_promise

ZONES = ("Europe/Berlin", "Europe/London", "Europe/Zurich", "America/New_York", "Europe/Berlin")
COUNTRIES = {"Europe/Berlin": "DE", "Europe/London": "GB", "Europe/Zurich": "CH", "America/New_York": "US"}
CADENCES = (7, 14, 14, 30, 30, 60)
KINDS = ("call", "email", "meeting", "call", "visit", "note", "email")
TOPICS = ("fill slots", "CoA for lot", "tech transfer", "stability data", "deviation report", "batch record review",
          "capacity forecast", "audit findings", "raw material delay", "pricing")
OWNERS = 25
CHANNELS = 40
HISTORY_DAYS = 730
SETUP_BATCH = 500


@dataclass(frozen=True)
class Size:
    clients: int
    interactions: int

    @classmethod
    def parse(cls, text: str) -> Size:
        clients, _, interactions = text.lower().replace(",", "").replace("_", "").partition("x")
        return cls(int(clients), int(interactions))

    @property
    def label(self) -> str:
        return f"{self.clients:,} × {self.interactions:,}"


def key(n: int) -> str:
    return f"c{n:05d}"


def write_csvs(size: Size, directory: Path, today: dt.date) -> dict[str, Path]:
    """clients.csv, contacts.csv (two per client) and interactions.csv, in the import's canonical columns."""
    rng = random.Random(size.clients * 1_000_003 + size.interactions)
    paths = {kind: directory / f"{kind}.csv" for kind in ("clients", "contacts", "interactions")}
    with paths["clients"].open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(("key", "name", "owner", "channel", "cadence_days", "timezone", "country"))
        for n in range(size.clients):
            zone = ZONES[n % len(ZONES)]
            out.writerow((key(n), f"Client {n:05d} Biologics", f"U0OWN{n % OWNERS:02d}", f"C0INT{n % CHANNELS:03d}",
                          CADENCES[n % len(CADENCES)], zone, COUNTRIES[zone]))
    with paths["contacts"].open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(("client", "name", "role", "peer"))
        for n in range(size.clients):
            out.writerow((key(n), f"Jane Roe {n}", "Head of Quality", f"U0OWN{n % OWNERS:02d}"))
            out.writerow((key(n), f"John Moe {n}", "VP Supply Chain", ""))
    with paths["interactions"].open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(("client", "kind", "summary", "occurred_on", "contact", "logged_by", "next_contact_on", "id"))
        for m in range(size.interactions):
            n = rng.randrange(size.clients)
            # more of the history is recent than old (a triangular spread over two years)
            occurred = today - dt.timedelta(days=int(rng.triangular(0, HISTORY_DAYS, 0)))
            contact = (f"Jane Roe {n}", f"John Moe {n}", "")[m % 3]
            following = (occurred + dt.timedelta(days=14)).isoformat() if m % 10 == 3 else ""
            out.writerow((key(n), KINDS[m % len(KINDS)], f"Discussed {TOPICS[m % len(TOPICS)]} ({m})",
                          occurred.isoformat(), contact, f"U0OWN{n % OWNERS:02d}", following, f"bench-{m}"))
    return paths


def run_import(kind: str, path: Path, database_url: str, slack_api_url: str, workdir: Path) -> float:
    """`rapport import <kind> <path> --team T0BENCH`: seconds, wall clock of the subprocess."""
    start = time.perf_counter()
    done = subprocess.run([*rapport_command(), "import", kind, str(path), "--team", TEAM, "--as", USER],
                          env=rapport_env(database_url, slack_api_url), cwd=workdir, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"rapport import {kind} failed ({done.returncode}):\n{done.stdout[-2000:]}"
                           f"\n{done.stderr[-2000:]}")
    return elapsed


def import_portfolio(size: Size, database_url: str, slack_api_url: str, workdir: Path,
                     today: dt.date) -> float:
    paths = write_csvs(size, workdir, today)
    return sum(run_import(kind, paths[kind], database_url, slack_api_url, workdir)
               for kind in ("clients", "contacts", "interactions"))


def add_the_rest(database: Database, today: dt.date, now: dt.datetime) -> dict[str, int]:
    """Schedule changes, meetings and promises through the services (audited, as a command would)."""
    actor = Actor(TEAM, USER, Surface.SLASH_COMMAND)
    counts = {"changes": 0, "meetings": 0, "promises": 0}
    with database.transaction() as session:
        ids = list(session.scalars(select(Client.id).where(Client.team_id == TEAM).order_by(Client.id)))
    for start in range(0, len(ids), SETUP_BATCH):
        with database.transaction() as session:
            clients = session.scalars(select(Client).where(Client.id.in_(ids[start:start + SETUP_BATCH]))
                                      .order_by(Client.id)).all()
            for client in clients:
                n = int(client.key[1:])
                if n % 10 == 0:
                    record_change(session, actor, client, item=f"Batch {n}", old_date=today + dt.timedelta(days=7),
                                  new_date=today + dt.timedelta(days=14 + n % 30), reason="Raw material delay",
                                  today=today)
                    counts["changes"] += 1
                if n % 2 == 0:
                    every = (Frequency.WEEK, Frequency.TWO_WEEKS, Frequency.MONTH)[n % 3]
                    add_meeting(session, actor, client, title=f"Review {n}", every=every,
                                starts_on=today - dt.timedelta(days=60 - n % 7), at=dt.time(8 + n % 9, 30 * (n % 2)),
                                timezone=client.timezone or "Europe/Berlin", now=now,
                                nth=1 if every is Frequency.MONTH else None)
                    counts["meetings"] += 1
                if n % 3 == 0:
                    due = today + dt.timedelta(days=n % 15 - 5)  # a third overdue, the rest due within ten days
                    add_promise(session, actor, client, what=f"Send the CoA for lot {n}", due_on=due,
                                today=min(due, today), owner_user_id=client.owner_user_id)
                    counts["promises"] += 1
    return counts
