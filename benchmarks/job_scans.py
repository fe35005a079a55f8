"""Each feature job's scan, dry (nothing queued, nothing posted), as of one moment, two ways:
- `scan`: inside a small runner (`python -m benchmarks.job_scans <job>... --now ...`, one subprocess with the
  same environment as `rapport`): each job's own run, timed after start-up and imports, the second of two runs
  (the first warms the caches and the connection pool: a deployed scheduler runs every few minutes);
- `cli`: `rapport jobs run <job> --dry-run --now ...` as an operator would type it, wall clock, start-up and
  printing every planned message included; its peak RSS is the job's peak memory (ru_maxrss of the child).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.servers import REPO, rapport_command, rapport_env

SKIPPED = ("deliver", "housekeeping")  # not scans of the portfolio


def feature_jobs() -> list[str]:
    from jobs import JOBS

    return [name for name in JOBS if name not in SKIPPED]


def next_monday_ten(after: dt.datetime) -> dt.datetime:
    """The first Monday 10:00 UTC after `after`: a weekday in business hours in Europe, the weekly digest's day,
    and after everything the setup added (schedule changes not told for days, promises overdue)."""
    day = after.date() + dt.timedelta(days=1)
    while day.weekday() != 0:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)


@dataclass
class JobTiming:
    job: str
    scan_seconds: float
    planned: int
    cli_seconds: float
    cli_peak_rss_mb: float
    runner_peak_rss_mb: float


def _run_child(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str, str, float]:
    """(seconds, exit code, stdout, stderr, peak RSS MB) of a child process, from its own rusage (wait4)."""
    out_path, err_path = cwd / "job.out", cwd / "job.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    return (elapsed, process.returncode, out_path.read_text(errors="replace"), err_path.read_text(errors="replace"),
            usage.ru_maxrss / 1024)  # Linux: kilobytes


def time_jobs(now: dt.datetime, database_url: str, slack_api_url: str, workdir: Path,
              jobs: list[str] | None = None) -> list[JobTiming]:
    """Every feature job (or `jobs`): the scans in one runner process, then each `rapport jobs run` on its own."""
    jobs = jobs or feature_jobs()
    env = rapport_env(database_url, slack_api_url)
    moment = now.isoformat()
    _, code, out, err, runner_rss = _run_child(
        [sys.executable, "-m", "benchmarks.job_scans", *jobs, "--now", moment], env, workdir)
    if code != 0:
        raise RuntimeError(f"the job runner failed ({code}):\n{out[-1500:]}\n{err[-3000:]}")
    inside = {scan["job"]: scan for scan in json.loads(out.strip().splitlines()[-1])}
    timings = []
    for job in jobs:
        if inside[job]["failed"]:
            raise RuntimeError(f"{job} failed in workspace(s) {inside[job]['failed']}:\n{err[-3000:]}")
        cli_seconds, code, out, err, cli_rss = _run_child(
            [*rapport_command(), "jobs", "run", job, "--dry-run", "--now", moment], env, workdir)
        if code != 0:
            raise RuntimeError(f"rapport jobs run {job} --dry-run failed ({code}):\n{err[-3000:]}")
        if "(dry run)" not in out:
            raise RuntimeError(f"rapport jobs run {job} --dry-run said no dry run:\n{out[:1500]}")
        timings.append(JobTiming(job, inside[job]["seconds"], inside[job]["planned"], cli_seconds, cli_rss,
                                 runner_rss))
    return timings


# -- the runner, in its own process --------------------------------------------------------------------------

def _runner(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.job_scans")
    parser.add_argument("jobs", nargs="+")
    parser.add_argument("--now", required=True)
    args = parser.parse_args(argv)
    import logging

    from bot.cli import tune_garbage_collector
    from bot.config import load_settings
    from bot.db import Database
    from bot.runtime import Runtime
    from jobs import JOBS

    tune_garbage_collector()  # as every `rapport` process does
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(dotenv_path=None)
    now = dt.datetime.fromisoformat(args.now)
    database = Database.for_jobs(settings.database_url)
    scans = []
    try:
        runtime = Runtime.create(settings, database)
        for job in args.jobs:
            timings = []
            for _ in range(2):
                start = time.perf_counter()
                result = JOBS[job].run(runtime, now=now, dry_run=True)
                timings.append(time.perf_counter() - start)
            scans.append({"job": job, "seconds": timings[-1], "first_seconds": timings[0],
                          "planned": len(result.planned), "failed": result.failed_teams})
    finally:
        database.dispose()
    print(json.dumps(scans))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    _runner()
