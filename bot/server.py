"""HTTP mode: Slack's requests at POST /slack/events, GET /healthz, served by gunicorn."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from gunicorn.app.base import BaseApplication
from slack_bolt import App

from bot.db import Database
from bot.frontdoor import SlackEndpoint
from bot.health import check
from bot.scheduler import SchedulerState

logger = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def wsgi_app(app: App, database: Database, signing_secret: str,
             scheduler: SchedulerState | None = None) -> Callable:
    """`database` is the request database (its timeouts keep /healthz prompt); `scheduler` is this process's
    scheduler state, if it runs one (else /healthz reports "off")."""
    slack = SlackEndpoint(app, signing_secret)

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return _health(database, scheduler, start_response)
        if path == EVENTS_PATH:
            return slack(environ, start_response)
        body = json.dumps({"error": "not found"}).encode()
        start_response("404 Not Found", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return application


def _health(database: Database, scheduler: SchedulerState | None, start_response: Callable) -> Iterable[bytes]:
    result = check(database, scheduler)
    body = json.dumps(result.as_dict()).encode()
    start_response(result.http_status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
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
