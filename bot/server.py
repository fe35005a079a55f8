"""HTTP mode: Slack's requests at POST /slack/events, GET /healthz, served by gunicorn."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from gunicorn.app.base import BaseApplication
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy.exc import SQLAlchemyError

from bot.db import Database

logger = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def wsgi_app(app: App, database: Database) -> Callable:
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return _health(database, start_response)
        return slack(environ, start_response)

    return application


def _health(database: Database, start_response: Callable) -> Iterable[bytes]:
    try:
        database.ping()
        status, payload = "200 OK", {"status": "ok"}
    except SQLAlchemyError as error:
        logger.warning("Health check: database unreachable: %s", error.__class__.__name__)
        status, payload = "503 Service Unavailable", {"status": "database unreachable"}
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class GunicornServer(BaseApplication):
    """gunicorn's documented "custom application": our WSGI app, our settings, no config file."""

    def __init__(self, application: Callable, options: dict) -> None:
        self.application = application
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Callable:
        return self.application


def serve(application: Callable, port: int, *, threads: int = 8,
          on_worker_start: Callable[[], object] | None = None) -> None:
    # One worker process with threads: listeners wait on Slack and the database, not on the CPU.
    hooks = {"post_worker_init": lambda worker: on_worker_start()} if on_worker_start else {}
    GunicornServer(application, {
        **hooks,
        "bind": f"0.0.0.0:{port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "accesslog": "-",
        "errorlog": "-",
        "timeout": 30,
    }).run()
