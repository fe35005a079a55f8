"""What the scheduled jobs run against, set once per process: jobs are module-level functions (as
APScheduler likes them) and find their database and Slack client here."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient

from bot.config import Settings
from bot.db import Database
from bot.delivery import DeliveryWorker


@dataclass
class Runtime:
    settings: Settings
    database: Database
    worker: DeliveryWorker


_current: Runtime | None = None


DELIVERY_CLIENT_TIMEOUT = 15  # seconds; the delivery lease (bot.delivery.LEASE_SECONDS) is well beyond it


def delivery_client(settings: Settings) -> WebClient:
    # No automatic retries here: the delivery worker decides about 429s, 5xx and lost connections itself.
    return WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                     timeout=DELIVERY_CLIENT_TIMEOUT, retry_handlers=[])


def configure(settings: Settings, database: Database | None = None, client: WebClient | None = None,
              **worker_options) -> Runtime:
    """The jobs' database (the jobs profile: nobody is waiting on them) and delivery worker."""
    global _current
    database = database or Database.for_jobs(settings.database_url)
    worker = DeliveryWorker(database, client or delivery_client(settings),
                            managers_channel=settings.managers_channel, **worker_options)
    _current = Runtime(settings, database, worker)
    return _current


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("bot.runtime.configure() was not called in this process")
    return _current
