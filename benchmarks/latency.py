"""Signed `/cmo` slash commands, form-encoded as Slack posts them, over one keep-alive HTTP connection per
server, alternating between Rapport and the two bare Bolt apps so that all three see the same machine load.
Each answer is checked (200, and for Rapport what the user should read), so an error is never timed as a
fast answer."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from benchmarks.servers import SECRET, TEAM, USER

COMMANDS = ("log", "status-client", "portfolio")
BARE = ("bare-pbr", "bare")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p50 of 1..100 is 50, p99 is 99)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def body(text: str, trigger: int) -> bytes:
    return urlencode({
        "token": "legacy-verification-token", "team_id": TEAM, "team_domain": "bench", "channel_id": "C0BENCH",
        "channel_name": "bench", "user_id": USER, "user_name": "bench", "command": "/cmo", "text": text,
        "api_app_id": "A0RAPPORT", "is_enterprise_install": "false",
        "response_url": "http://127.0.0.1:9/respond/1", "trigger_id": f"{trigger}.1234.benchmark",
    }).encode()


class Client:
    """One keep-alive connection to a server; reconnects if the server closed it (gunicorn's keepalive)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection: http.client.HTTPConnection | None = None
        self.trigger = 0

    def _connect(self) -> http.client.HTTPConnection:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        return self.connection

    def command(self, text: str) -> tuple[float, int, str]:
        """(milliseconds, status, body) of one signed `/cmo <text>`; signing is outside the timing."""
        self.trigger += 1
        payload = body(text, self.trigger)
        timestamp = str(int(time.time()))
        signature = "v0=" + hmac.new(SECRET.encode(), f"v0:{timestamp}:".encode() + payload,
                                     hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
                   "X-Slack-Signature": signature}
        for attempt in (1, 2):
            connection = self._connect()
            try:
                start = time.perf_counter()
                connection.request("POST", "/slack/events", body=payload, headers=headers)
                response = connection.getresponse()
                answer = response.read()
                elapsed = (time.perf_counter() - start) * 1000
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return elapsed, response.status, answer.decode("utf-8", "replace")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()  # the server dropped an idle keep-alive connection: once more on a new one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class BadAnswer(Exception):
    pass


def check_rapport(kind: str, status: int, text: str) -> None:
    if status != 200:
        raise BadAnswer(f"Rapport answered {kind} with HTTP {status}: {text[:300]}")
    try:
        reply = json.loads(text)
    except ValueError:
        raise BadAnswer(f"Rapport answered {kind} with no JSON reply: {text[:300]}") from None
    blocks = reply.get("blocks") or [{}]
    first = (blocks[0].get("text") or {}).get("text", "") if isinstance(blocks[0].get("text"), dict) else ""
    said = reply.get("text") or ""
    if first.startswith(":warning:") or "Right form:" in said or "nothing was saved" in said:
        raise BadAnswer(f"Rapport answered {kind} with an error: {said[:300]}")
    if kind == "log" and "Logged for" not in text:
        raise BadAnswer(f"Rapport's answer to log says nothing was logged: {text[:300]}")


def check_bare(name: str, status: int, text: str) -> None:
    if status != 200:
        raise BadAnswer(f"the {name} app answered /cmo with HTTP {status}: {text[:300]}")


@dataclass
class Latencies:
    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, ms: float) -> None:
        self.samples.setdefault(name, []).append(ms)

    def p(self, name: str, pct: float) -> float:
        return percentile(self.samples.get(name, []), pct)


def command_text(kind: str, key: str, round_: int) -> str:
    if kind == "log":
        return f"log {key} call Benchmark check-in {round_}: fill slots & CoA for lot {round_}"
    if kind == "status-client":
        return f"status {key}"
    return "status"


def measure(ports: dict[str, int], client_keys: Callable[[int], str], *, rounds: int, warmup: int = 5) -> Latencies:
    """`ports`: "rapport", "bare-pbr", "bare" -> port. For each of Rapport's commands in turn, its rounds: the
    command to Rapport, then the same slash command to both bare apps; the warm-up rounds are not counted.

    One command's rounds at a time, not the commands mixed in each round: the portfolio at 10,000 clients
    works through half a second and most of the CPU's caches, and the request after it (Rapport's own; the
    bare apps never do that work) ran up to twice as slow (measured: `/cmo log` 1.4 ms in the process
    alone, 3.0 ms right after a portfolio), a cost of the portfolio charged to the next command."""
    clients = {name: Client(port) for name, port in ports.items()}
    result = Latencies()
    try:
        for kind in COMMANDS:
            for round_ in range(-warmup, rounds):
                text = command_text(kind, client_keys(round_ + warmup), round_)
                ms, status, answer = clients["rapport"].command(text)
                check_rapport(kind, status, answer)
                if round_ >= 0:
                    result.add(kind, ms)
                for name in BARE:
                    ms, status, answer = clients[name].command(text)
                    check_bare(name, status, answer)
                    if round_ >= 0:
                        result.add(name, ms)
    finally:
        for client in clients.values():
            client.close()
    return result
