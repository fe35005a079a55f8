"""The Bolt app factory. Nothing is built at import time."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.db import Database
from bot.services.requests import first_time

logger = logging.getLogger(__name__)


def create_web_client(settings: Settings) -> WebClient:
    """The listeners' client: one quick retry on 429, 5xx or a lost connection (listeners ack before
    they call Slack, so a retry never delays Slack's 3-second ack)."""
    return WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10,
                     retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1),
                                     RateLimitErrorRetryHandler(max_retry_count=1),
                                     ServerErrorRetryHandler(max_retry_count=1)])


def create_app(settings: Settings, client: WebClient | None = None, *, database: Database | None = None,
               process_before_response: bool = False, deliver_after_commands: bool = True,
               deliveries: ImmediateDelivery | None = None) -> App:
    """A Bolt app wired to Rapport's handlers.

    `client` is the Web API client (tests and the console point it at a local Slack); `database`
    defaults to one opened from `settings.database_url`. With `process_before_response` a request
    returns only once its listener is done (the console wants its output in order). With
    `deliver_after_commands`, what a command queued (an announcement) is delivered at once from this
    process instead of at the scheduler's next round (by `deliveries`, made here unless given; the
    delivery lock keeps that to one deliverer).
    """
    import handlers

    database = database or Database(settings.database_url)
    if client is None:
        client = create_web_client(settings)
    elif client.token is None:
        client.token = settings.slack_bot_token
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or "",
        process_before_response=process_before_response,
        logger=logging.getLogger("rapport.bolt"),
    )

    if deliver_after_commands:
        deliver_soon = (deliveries or ImmediateDelivery(settings, database)).submit
    else:
        deliver_soon = lambda: None  # noqa: E731

    @app.middleware
    def provide_services(context: BoltContext, next) -> None:  # noqa: A002 (Bolt's name)
        context["db"] = database
        context["settings"] = settings
        context["deliver_soon"] = deliver_soon
        next()

    @app.middleware
    def once_per_event(body: dict, context: BoltContext, next) -> BoltResponse | None:  # noqa: A002
        """Slack retries an event it thinks was lost: the event_id, remembered in the database, stops it."""
        if body.get("type") == "event_callback" and body.get("event_id"):
            with database.transaction() as session:
                if not first_time(session, context.team_id or body.get("team_id") or "", f"event:{body['event_id']}"):
                    return BoltResponse(status=200, body="")
        return next()

    app.error(handle_unexpected_error)
    handlers.register_all(app)
    return app


class ImmediateDelivery:
    """Delivers what a command queued right after it, on one background thread of this process."""

    def __init__(self, settings: Settings, database: Database) -> None:
        from bot.delivery import DeliveryWorker
        from bot.runtime import delivery_client

        self._worker = DeliveryWorker(database, delivery_client(settings),
                                      managers_channel=settings.managers_channel)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rapport-deliver")

    def submit(self) -> None:
        self._executor.submit(self._deliver)

    def close(self) -> None:
        """Wait for a delivery under way, then stop (tests; a process on its way out)."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _deliver(self) -> None:
        try:
            self._worker.deliver(max_seconds=10)
        except Exception:  # a background thread: nobody else would see it; the scheduler retries anyway
            logger.exception("Immediate delivery failed; the scheduler will deliver")


def handle_unexpected_error(error: Exception, body: dict, respond, logger: logging.Logger) -> None:
    """The one place the unexpected ends up: logged with its traceback, and the user told."""
    logger.error("Unhandled error in a listener: %s", error, exc_info=error)
    if body.get("response_url"):
        respond(response_type="ephemeral", replace_original=False,
                text=":boom: Something went wrong on our side and nothing was saved. Please try again; "
                     "if it keeps failing, tell the Rapport admins.")
