"""How fast `/cmo` answers over HTTP (Slack gives a listener 3 seconds to acknowledge).

Runs the real WSGI endpoint on loopback against a local Slack, sends signed slash commands as Slack
does, and prints the latency of each kind of command. Usage:

    python benchmarks/command_latency.py [--database-url URL] [--clients 200] [--rounds 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import create_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.localslack import LocalSlack  # noqa: E402
from bot.server import wsgi_app  # noqa: E402
from tests.slackhttp import BotServer  # noqa: E402

SECRET = "benchmark-signing-secret"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    database = Database(url)
    database.upgrade()
    with LocalSlack(team_id="T0BENCH") as slack:
        settings = Settings(slack_bot_token="xoxb-bench", slack_signing_secret=SECRET,
                            slack_api_url=slack.api_url, database_url=url)
        server = BotServer(wsgi_app(create_app(settings, database=database), database, SECRET), SECRET,
                           response_url=slack.response_url())
        team = f"T{int(time.time())}"
        for n in range(args.clients):
            server.command(f'client add "Client {n:04d} Pharma" key:c{n:04d} owner:<@U{n % 7}|u{n % 7}>', team=team)
            for day in range(5):
                server.command(f"log c{n:04d} call Weekly check-in number {day} on:-{day * 3}d", team=team)
        commands = {
            "help": "help",
            "client list": "client list",
            "log": "log c0100 email Sent the CoA",
            "status <client>": "status c0100",
            "status (portfolio)": "status",
            "history": "history c0100",
            "unknown client": "status nosuchclient",
        }
        print(f"{args.clients} clients, {args.rounds} rounds each, database {database.engine.url.get_backend_name()}")
        print(f"{'command':<22}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
        for name, text in commands.items():
            timings = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                response = server.command(text, team=team)
                timings.append((time.perf_counter() - start) * 1000)
                assert response.status == 200, response.body
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(f"{name:<22}{statistics.median(timings):>10.1f}{p95:>10.1f}{timings[-1]:>10.1f}")
        server.stop()


if __name__ == "__main__":
    main()
