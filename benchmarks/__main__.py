"""`python -m benchmarks`: Rapport's speed and memory at a portfolio's size, against a bare Bolt app.

For each size (clients × interactions), on a scratch database (a new SQLite file, or a schema of its own in
the PostgreSQL database given, dropped after):
1. a portfolio generated as CSV files and brought in with `rapport import` (timed), then schedule changes,
   meetings and promises added through the services (see benchmarks/portfolio.py);
2. `rapport run --no-scheduler` (HTTP mode, gunicorn as deployed) and two bare slack-bolt apps that only ack
   `/cmo` (process_before_response on and off, served the same way), with signed slash commands sent to all
   three in turn, one command's rounds after the other's: `/cmo log <client> call ...`, `/cmo status <client>`,
   `/cmo status`; p50/p95/p99, and
   Rapport's ratio to the bare app in process_before_response mode (benchmarks/latency.py);
3. each feature job's scan, dry, as of the next Monday 10:00 UTC (benchmarks/job_scans.py);
4. peak RSS of the server's worker and of a job run.
One Markdown table, printed and written to --output. Targets missed are marked ✗. Nothing here is asserted
in the test suite. Usage:

    python -m benchmarks [--sizes 100x10000,1000x1000000] [--database sqlite|postgresql] [--database-url URL]
                         [--rounds 100] [--output benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, text

from benchmarks import job_scans, latency, portfolio, servers
from benchmarks.portfolio import Size
from benchmarks.scratch import scratch_database
from benchmarks.slack_process import local_slack_process
from bot.db.models import Interaction

DEFAULT_SIZES = "100x10000"
FULL_MATRIX = "100x10000,1000x10000,10000x10000,100x1000000,1000x1000000,10000x1000000"
DEFAULT_POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
JOB_SHORT = {"delay-followups": "delay", "stale-nudges": "stale", "meeting-reminders": "mtg-rem",
             "meeting-followups": "mtg-fup", "promise-reminders": "promise", "weekly-digest": "digest"}

# The targets.
RATIO_TARGET = 3.0  # /cmo log and /cmo status <client>: p50 within 3× the bare app (process_before_response)
PORTFOLIO_P99_MS = 300.0  # /cmo status (portfolio), p99, at 1,000 clients (checked at every size up to 1,000)
JOB_SCAN_SECONDS = 2.0  # each job's scan (checked at every size)
SERVER_RSS_MB = 200.0  # the server's peak RSS (checked at every size)


@dataclass
class Row:
    size: Size
    import_seconds: float = math.nan
    setup: dict[str, int] = field(default_factory=dict)
    latencies: latency.Latencies | None = None
    jobs: list[job_scans.JobTiming] = field(default_factory=list)
    server_rss_mb: float | None = None
    logged: int = 0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure(size: Size, database_url: str | None, *, rounds: int, warmup: int) -> Row:
    row = Row(size)
    workdir = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    try:
        with scratch_database(database_url) as database, local_slack_process() as slack_api_url:
            now = dt.datetime.now(dt.UTC)
            log(f"{size.label}: generating and importing the portfolio")
            row.import_seconds = portfolio.import_portfolio(size, database.url, slack_api_url, workdir, now.date())
            row.setup = portfolio.add_the_rest(database, now.date(), now)
            if database.engine.dialect.name == "postgresql":
                with database.engine.begin() as connection:
                    connection.execute(text("ANALYZE"))  # what autovacuum does soon after a bulk load
            log(f"{size.label}: imported in {row.import_seconds:.1f}s; added {row.setup}")
            row.latencies, row.server_rss_mb, row.logged = _latencies(size, database, slack_api_url, workdir,
                                                                      rounds, warmup)
            moment = job_scans.next_monday_ten(dt.datetime.now(dt.UTC))
            log(f"{size.label}: job scans as of {moment:%a %Y-%m-%d %H:%M} UTC")
            row.jobs = job_scans.time_jobs(moment, database.url, slack_api_url, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return row


def _latencies(size: Size, database, slack_api_url: str, workdir: Path, rounds: int,
               warmup: int) -> tuple[latency.Latencies, float | None, int]:
    def logged_by_us() -> int:
        with database.transaction() as session:
            return session.scalar(select(func.count()).select_from(Interaction)
                                  .where(Interaction.logged_by == servers.USER))

    before = logged_by_us()
    started: list[servers.Server] = []
    try:
        for start in (lambda: servers.start_rapport(database.url, slack_api_url, workdir),
                      lambda: servers.start_bare(True, slack_api_url, workdir),
                      lambda: servers.start_bare(False, slack_api_url, workdir)):
            started.append(start())
        ports = {server.name: server.port for server in started}
        log(f"{size.label}: {rounds} rounds (+{warmup} warm-up) against {', '.join(ports)}")
        result = latency.measure(ports, lambda i: portfolio.key((i * 7919) % size.clients), rounds=rounds,
                                 warmup=warmup)
        rss = started[0].peak_rss_mb()
    finally:
        for server in started:
            server.stop()
    logged = logged_by_us() - before
    if logged != rounds + warmup:  # every `/cmo log` answered "Logged" must have written its row
        raise latency.BadAnswer(f"{rounds + warmup} `/cmo log` answered, but {logged} interactions were written")
    return result, rss, logged


# -- the table -----------------------------------------------------------------------------------------------

def _ms(value: float) -> str:
    return "–" if math.isnan(value) else (f"{value:.1f}" if value < 100 else f"{value:.0f}")


def _mark(text: str, missed: bool) -> str:
    return f"**{text}** ✗" if missed else text


def columns(jobs: list[str]) -> list[str]:
    return (["clients × interactions", "import s", "log p50/p95/p99 ms", "status client p50/p99 ms",
             "status portfolio p50/p99 ms", "bare p50 ms (pbr / plain)", "log ÷ bare", "status ÷ bare"]
            + [f"{JOB_SHORT.get(job, job)} s" for job in jobs] + ["server RSS MB", "job RSS MB"])


def cells(row: Row, jobs: list[str]) -> list[str]:
    lat = row.latencies
    bare = lat.p("bare-pbr", 50)
    log_ratio, status_ratio = lat.p("log", 50) / bare, lat.p("status-client", 50) / bare
    portfolio_p99 = lat.p("portfolio", 99)
    out = [row.size.label, f"{row.import_seconds:.1f}",
           "/".join(_ms(lat.p("log", pct)) for pct in (50, 95, 99)),
           "/".join(_ms(lat.p("status-client", pct)) for pct in (50, 99)),
           _ms(lat.p("portfolio", 50)) + "/" + _mark(_ms(portfolio_p99),
                                                     row.size.clients <= 1000 and portfolio_p99 >= PORTFOLIO_P99_MS),
           f"{_ms(bare)} / {_ms(lat.p('bare', 50))}",
           _mark(f"{log_ratio:.1f}×", log_ratio > RATIO_TARGET),
           _mark(f"{status_ratio:.1f}×", status_ratio > RATIO_TARGET)]
    by_job = {timing.job: timing for timing in row.jobs}
    for job in jobs:
        timing = by_job.get(job)
        out.append("–" if timing is None else
                   _mark(f"{timing.scan_seconds:.2f}", timing.scan_seconds >= JOB_SCAN_SECONDS)
                   + f" ({timing.cli_seconds:.1f})")
    rss = row.server_rss_mb
    out.append("–" if rss is None else _mark(f"{rss:.0f}", rss >= SERVER_RSS_MB))
    out.append(f"{max((timing.cli_peak_rss_mb for timing in row.jobs), default=math.nan):.0f}")
    return out


def machine(database_url: str | None) -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if database_url and database_url.startswith("postgresql"):
        from sqlalchemy import create_engine

        engine = create_engine(database_url)
        try:
            with engine.connect() as connection:
                version = connection.execute(text("SHOW server_version")).scalar()
        finally:
            engine.dispose()
        database = f"PostgreSQL {version}"
    else:
        database = f"SQLite {sqlite3.sqlite_version}"
    memory = ""
    try:
        total = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        memory = f", {int(total.split()[1]) / 1024 / 1024:.1f} GB RAM"
    except (OSError, StopIteration):
        pass
    return (f"{platform.platform()}, {cpu} × {os.cpu_count()} CPUs{memory}; Python {platform.python_version()}; "
            f"{database}")


def table(rows: list[Row], database_url: str | None, rounds: int) -> str:
    jobs = job_scans.feature_jobs()
    header = columns(jobs)
    lines = [f"### Rapport benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
             "",
             f"Machine: {machine(database_url)}. {rounds} rounds per command after a warm-up, one command "
             "after the other; the three servers in turn on one keep-alive connection each.",
             "",
             "| " + " | ".join(header) + " |",
             "|" + "|".join("---" if n == 0 else "---:" for n in range(len(header))) + "|"]
    lines += ["| " + " | ".join(cells(row, jobs)) + " |" for row in rows]
    lines += [""] + [f"- {row.size.label}: setup added {', '.join(f'{n:,} {what}' for what, n in row.setup.items())}"
                     "; messages the scans planned: "
                     + ", ".join(f"{JOB_SHORT.get(t.job, t.job)} {t.planned:,}" for t in row.jobs) for row in rows]
    lines += ["",
              "Latency over loopback, in ms. *bare*: a slack-bolt app that only acks `/cmo`, with "
              "process_before_response (pbr) and without (plain); the ratios are Rapport's p50 to the pbr app's. "
              "Jobs (" + ", ".join(f"{JOB_SHORT.get(job, job)} = `{job}`" for job in jobs) + "): the scan inside "
              "the process, dry, seconds (in brackets: `rapport jobs run <job> --dry-run` as typed, start-up and "
              "printing included). *server RSS*: the gunicorn worker's peak; *job RSS*: the largest peak of a "
              "`rapport jobs run`. *import s*: `rapport import` of clients, contacts and interactions. "
              f"✗ = a target missed: ratio ≤ {RATIO_TARGET:g}×; portfolio p99 < {PORTFOLIO_P99_MS:g} ms up to 1,000 "
              f"clients; each scan < {JOB_SCAN_SECONDS:g} s; server RSS < {SERVER_RSS_MB:g} MB."]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"clients x interactions, comma separated (default {DEFAULT_SIZES}; the issue's "
                        f"matrix: {FULL_MATRIX})")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", help=f"a PostgreSQL database to make a scratch schema in (default with "
                        f"--database postgresql: {DEFAULT_POSTGRESQL}), or a SQLite file URL")
    parser.add_argument("--rounds", type=int, default=100, help="requests per command (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="rounds not counted, first (default 5)")
    parser.add_argument("--output", default=str(Path(__file__).parent / "RESULTS.md"),
                        help="the Markdown file the table is written to (default benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    if args.database == "postgresql" and not args.database_url:
        args.database_url = DEFAULT_POSTGRESQL
    try:
        args.sizes = [Size.parse(size) for size in args.sizes.split(",") if size.strip()]
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: give clients x interactions, like 100x10000,1000x1000000")
    if not args.sizes or any(size.clients < 1 or size.interactions < 0 for size in args.sizes):
        parser.error("--sizes needs at least one size with at least one client")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = []
    for size in args.sizes:
        rows.append(measure(size, args.database_url, rounds=args.rounds, warmup=args.warmup))
    result = table(rows, args.database_url, args.rounds)
    print(result)
    Path(args.output).write_text(result)
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
