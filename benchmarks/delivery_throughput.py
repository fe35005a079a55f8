"""How fast the delivery worker drains the outbox, with Slack's per-channel pacing switched off, so what is
measured is Rapport's own cost per message (claim, post, mark sent). Usage:

    python benchmarks/delivery_throughput.py [--database-url URL] [--messages 500] [--channels 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_sdk import WebClient  # noqa: E402

from bot.blocks import Message  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.delivery import DeliveryWorker  # noqa: E402
from bot.localslack import LocalSlack  # noqa: E402
from bot.services.outbox import enqueue  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--channels", type=int, default=20)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    database = Database(url)
    database.upgrade()
    team = f"T{int(time.time())}"
    with LocalSlack(team_id=team) as slack:
        start = time.perf_counter()
        with database.transaction() as session:
            for n in range(args.messages):
                enqueue(session, team_id=team, dedupe_key=f"bench:{n}", channel_id=f"C{n % args.channels:04d}",
                        message=Message(text=f"Benchmark message {n}"), source="benchmark")
        queued = time.perf_counter() - start
        worker = DeliveryWorker(database, WebClient(token="xoxb-bench", base_url=slack.api_url, retry_handlers=[]),
                                per_channel_interval=0.0)
        start = time.perf_counter()
        report = worker.deliver(max_seconds=600)
        elapsed = time.perf_counter() - start
    print(f"database {database.engine.url.get_backend_name()}: queued {args.messages} in {queued:.2f}s; {report} "
          f"in {elapsed:.2f}s = {report.sent / elapsed:.0f} messages/s ({elapsed / max(report.sent, 1) * 1000:.1f} "
          "ms each)")


if __name__ == "__main__":
    main()
