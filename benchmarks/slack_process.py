"""The benchmark's Slack (a LocalSlack) in a process of its own: what Rapport posts after a command (the owner's
direct message) is answered there, not in the measuring process, whose timings it would otherwise hold up (one
interpreter lock). `python -m benchmarks.slack_process` prints its Web API URL, then serves until its stdin
closes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.servers import REPO, TEAM


@contextmanager
def local_slack_process() -> Iterator[str]:
    """The URL of a LocalSlack served by a child process, stopped on the way out."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.slack_process"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the benchmark's Slack did not start (exit {process.poll()})")
        yield url
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    from bot.localslack import LocalSlack

    with LocalSlack(team_id=TEAM, default_tz="Europe/Berlin") as slack:
        print(slack.api_url, flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin (or exits)


if __name__ == "__main__":
    main()
