"""The servers under test, each a subprocess served by gunicorn as deployed: `rapport run --no-scheduler`
(HTTP mode, its Slack a LocalSlack in the benchmark's process) and the two bare Bolt apps (benchmarks/bare_app.py).
Peak memory is read from /proc (VmHWM), of the gunicorn worker that serves the requests."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECRET = "benchmark-signing-secret"
TEAM = "T0BENCH"
USER = "U0BENCH"  # the acting user, a manager (RAPPORT_MANAGERS)
MANAGERS_CHANNEL = "C0MANAGERS"


def rapport_command() -> list[str]:
    script = Path(sys.executable).parent / "rapport"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def rapport_env(database_url: str, slack_api_url: str, **extra: str) -> dict[str, str]:
    """The environment of every `rapport` subprocess (server, jobs, import)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLACK_", "RAPPORT_", "DATABASE_URL", "PORT"))}
    env.update({
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-benchmark",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_api_url,
        "RAPPORT_MANAGERS": USER,
        "RAPPORT_MANAGERS_CHANNEL": MANAGERS_CHANNEL,
        "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        **extra,
    })
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (the peak resident set) of a live process, in MB; None if /proc can't say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path
    _log: object = field(repr=False, default=None)

    def worker_pids(self) -> list[int]:
        return children(self.process.pid)

    def peak_rss_mb(self) -> float | None:
        """The gunicorn worker's peak RSS (the process that serves); the arbiter's if no worker is found."""
        values = [peak_rss_mb(pid) for pid in self.worker_pids()] or [peak_rss_mb(self.process.pid)]
        values = [value for value in values if value is not None]
        return max(values) if values else None

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the server answers HTTP (any status) on its port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                connection.close()
                if self.worker_pids():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer on port {self.port} within {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # gunicorn: a graceful stop of the arbiter and its worker
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()


def _start(name: str, command: list[str], env: dict[str, str], port: int, cwd: Path) -> Server:
    log_path = cwd / f"{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 (closed by Server.stop)
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    server = Server(name, port, process, log_path, log)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


def start_rapport(database_url: str, slack_api_url: str, workdir: Path | None = None) -> Server:
    """`rapport run --no-scheduler` in HTTP mode (no SLACK_APP_TOKEN), in a directory with no .env."""
    port = free_port()
    workdir = workdir or Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    env = rapport_env(database_url, slack_api_url, PORT=str(port))
    return _start("rapport", [*rapport_command(), "run", "--no-scheduler"], env, port, workdir)


def start_bare(process_before_response: bool, slack_api_url: str, workdir: Path) -> Server:
    port = free_port()
    env = {**os.environ, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack_api_url,
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "benchmarks.bare_app", "--port", str(port)]
    if process_before_response:
        command.append("--process-before-response")
    name = "bare-pbr" if process_before_response else "bare"
    return _start(name, command, env, port, workdir)
