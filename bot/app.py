"""The Bolt app factory. Nothing is built at import time."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from bot.afterwards import AFTERWARDS, STARTED_BY_TRANSPORT, Afterwards, BackgroundRunner, Runner
from bot.blocks import Message
from bot.blocks.forms import input_ids, result_view
from bot.blocks.layout import section
from bot.channels import CHECK_TIMEOUT, ChannelGuard
from bot.config import Settings
from bot.db import Database
from bot.services.requests import first_time
from bot.slack_client import web_client

logger = logging.getLogger(__name__)


def create_app(settings: Settings, client: WebClient | None = None, *, database: Database | None = None,
               runner: Runner | None = None, deliver_after_commands: bool = True,
               deliveries: ImmediateDelivery | None = None) -> App:
    """A Bolt app wired to Rapport's handlers.

    `client` is the Web API client (tests and the console point it at a local Slack); `database`
    defaults to one opened from `settings.database_url`. Every request is answered in its own thread;
    what must follow the answer (opening a modal, a `respond()`, a delivery) runs on `runner`: a
    background pool by default, at once for the console (`InlineRunner`), which wants its output in
    order. With `deliver_after_commands`, what a command queued (an announcement) is delivered right
    after it from this process instead of at the scheduler's next round (by `deliveries`, made here
    unless given; the delivery lock keeps that to one deliverer).
    """
    import handlers

    database = database or Database(settings.database_url)
    runner = runner or BackgroundRunner()
    if client is None:
        client = web_client(settings)
    elif client.token is None:
        client.token = settings.slack_bot_token
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or "",
        # The answer is made in the request thread, with no polling for it; see bot/afterwards.py.
        process_before_response=True,
        logger=logging.getLogger("rapport.bolt"),
    )

    # Whether a channel being configured is shared with another organisation (asked of Slack, cached).
    channel_guard = ChannelGuard(WebClient(token=client.token, base_url=client.base_url, timeout=CHECK_TIMEOUT,
                                           retry_handlers=[]))

    if deliver_after_commands:
        deliver_soon = (deliveries or ImmediateDelivery(settings, database)).submit
    else:
        deliver_soon = lambda: None  # noqa: E731

    # One middleware, not two: Bolt builds each middleware's arguments on every request.
    @app.middleware
    def provide_services(body: dict, context: BoltContext, next) -> BoltResponse | None:  # noqa: A002 (Bolt's name)
        # Slack retries an event it thinks was lost: the event_id, remembered in the database, stops it.
        if body.get("type") == "event_callback" and body.get("event_id"):
            with database.transaction() as session:
                if not first_time(session, context.team_id or body.get("team_id") or "", f"event:{body['event_id']}"):
                    return BoltResponse(status=200, body="")
        context["db"] = database
        context["settings"] = settings
        context["deliver_soon"] = deliver_soon
        context["channel_guard"] = channel_guard
        context[AFTERWARDS] = afterwards = Afterwards(runner)
        if context.get(STARTED_BY_TRANSPORT):  # the front door starts it once the answer is written
            return next()
        try:
            return next()
        finally:
            afterwards.start()

    app.error(handle_unexpected_error)
    handlers.register_all(app)
    return app


class ImmediateDelivery:
    """Delivers what a command queued right after it, on one background thread of this process."""

    def __init__(self, settings: Settings, database: Database) -> None:
        from bot.runtime import Runtime

        self._worker = Runtime.create(settings, database).worker
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


DATABASE_BUSY = ("Rapport's database did not answer in time, so nothing was saved. Please try again in a "
                 "minute.")
SOMETHING_WRONG = ("Something went wrong on our side and nothing was saved. Please try again; if it keeps "
                   "failing, tell the Rapport admins.")


def handle_unexpected_error(error: Exception, body: dict, context: BoltContext, logger: logging.Logger) -> BoltResponse:
    """The one place the unexpected ends up: logged with its traceback, and the user told on the surface
    they used (the reply to a command, the modal itself, a message through the response_url)."""
    unavailable = isinstance(error, OperationalError | InterfaceError | SQLAlchemyTimeoutError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)
    if unavailable:
        logger.error("The database did not answer: %s", error.__class__.__name__)
    else:
        logger.error("Unhandled error in a listener: %s", error, exc_info=error)
    text = (":hourglass: " if unavailable else ":boom: ") + (DATABASE_BUSY if unavailable else SOMETHING_WRONG)
    return error_answer(body, text, context.get(AFTERWARDS))


def error_answer(body: dict, text: str, afterwards: Afterwards | None) -> BoltResponse:
    message = Message(text=text, blocks=[section(text)])
    kind = body.get("type") if isinstance(body, dict) else None
    if kind == "view_submission":
        inputs = input_ids(body.get("view"))
        if inputs:  # the form stays open with what the user typed, the error under its first field
            return _json({"response_action": "errors", "errors": {inputs[0]: text[:2000]}})
        return _json({"response_action": "update", "view": result_view("Rapport", message)})
    if kind == "block_suggestion":
        return _json({"options": []})
    if kind is None and body.get("command"):
        return _json({"response_type": "ephemeral", **message.as_kwargs()})
    url = body.get("response_url")
    if isinstance(url, str) and afterwards is not None:  # buttons, shortcuts: the answer is an empty 200
        afterwards.add(lambda: WebhookClient(url, timeout=5).send(response_type="ephemeral", replace_original=False,
                                                                  **message.as_kwargs()))
    return BoltResponse(status=200, body="")


def _json(payload: dict) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(payload), headers={"content-type": "application/json"})
