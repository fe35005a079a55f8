"""What the scheduled jobs are handed: the settings, the jobs' database (patient timeouts: nobody waits on
a job) and the delivery worker with its Slack client. Made once per process by whoever runs jobs (the
scheduler, `rapport jobs run`, the console) and passed to each job; there is no process-wide global."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient

from bot.config import Settings
from bot.db import Database
from bot.delivery import DeliveryWorker
from bot.slack_client import web_client


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    database: Database
    worker: DeliveryWorker

    @property
    def slack(self) -> WebClient:
        """The jobs' Slack client (the delivery worker's: no automatic retries)."""
        return self.worker.client

    @classmethod
    def create(cls, settings: Settings, database: Database | None = None, client: WebClient | None = None,
               **worker_options) -> Runtime:
        database = database or Database.for_jobs(settings.database_url)
        worker = DeliveryWorker(database, client or web_client(settings, for_delivery=True),
                                managers_channel=settings.managers_channel, **worker_options)
        return cls(settings, database, worker)
