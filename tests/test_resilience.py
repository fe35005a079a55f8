"""When the database misbehaves: work someone waits for gives up within about two seconds instead of hanging
(a held write lock, a statement that runs on, an exhausted pool, a server that accepts and never answers);
/healthz says what is wrong (database, scheduler role, stuck delivery); and the scheduler survives its
connections being cut, reconnecting and delivering on, in `rapport scheduler` as in `rapport run`."""

from __future__ import annotations

import datetime as dt
import json
import socket
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bot.blocks import Message
from bot.db import Database
from bot.db.models import OutboxMessage, OutboxStatus, utcnow
from bot.delivery import DeliveryWorker
from bot.health import STUCK_DELIVERY_SECONDS, evaluate
from bot.runtime import Runtime
from bot.scheduler import ACTIVE, OFF, STANDBY, SchedulerState, run_scheduler
from bot.server import wsgi_app
from bot.services.outbox import enqueue
from tests.conftest import SIGNING_SECRET, env_for_subprocess
from tests.slackhttp import BotServer
from tests.test_cli import free_port, request, wait_until_healthy
from tests.test_scheduler import Processes, posted_ids, queue, statuses, wait_until

TIMEOUT = 60  # seconds; only so that a hang fails the test instead of hanging the suite
HOLD_LIMIT = 10.0  # a lock or connection held by a test is let go after this at the latest: far beyond the
# ~2 s request work may wait, far below the 15-30 s it used to wait
MANAGERS = "C0MANAGERS"


# -- helpers ---------------------------------------------------------------------------------------

@pytest.fixture
def processes(tmp_path, workdir) -> Iterator[Processes]:
    started = Processes(tmp_path, workdir)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word: a database that hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
                accepted.append(connection)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    done.set()
    thread.join(TIMEOUT)
    for connection in accepted:
        connection.close()
    listener.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health_server(slack, database: Database, scheduler: SchedulerState | None = None) -> BotServer:
    """The bot's WSGI app on loopback; only /healthz is asked here, so any Bolt app will do."""
    app = App(client=WebClient(token="xoxb-test", base_url=slack.api_url), signing_secret=SIGNING_SECRET)
    return BotServer(wsgi_app(app, database, SIGNING_SECRET, scheduler), SIGNING_SECRET,
                     response_url=slack.response_url())


def queue_due(database, key: str, due: dt.datetime) -> None:
    with database.transaction() as session:
        assert enqueue(session, team_id="T0ACME", dedupe_key=key, channel_id="C0ONE", message=Message(text=key),
                       source="test", not_before=due)


@contextmanager
def write_lock_held(backend, database_url: str) -> Iterator[None]:
    """Another connection holds the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: LOCK TABLE outbox) until
    the block ends, or HOLD_LIMIT seconds at the latest."""
    ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        if backend.name == "sqlite":
            connection = sqlite3.connect(make_url(database_url).database, isolation_level=None)
            connection.execute("BEGIN IMMEDIATE")
            ready.set()
            release.wait(HOLD_LIMIT)
            connection.rollback()
            connection.close()
            return
        engine = create_engine(database_url)
        with engine.connect() as connection:
            connection.execute(text("LOCK TABLE outbox IN EXCLUSIVE MODE"))
            ready.set()
            release.wait(HOLD_LIMIT)
            connection.rollback()
        engine.dispose()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert ready.wait(TIMEOUT)
    try:
        yield
    finally:
        release.set()
        thread.join(TIMEOUT)


def outbox_count(database) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage))


# -- the verdict (no database) ---------------------------------------------------------------------

@pytest.mark.parametrize(("database_ok", "age", "status", "http"), [
    (True, None, "ok", "200 OK"),
    (True, 12.34, "ok", "200 OK"),
    (True, STUCK_DELIVERY_SECONDS, "ok", "200 OK"),
    (True, STUCK_DELIVERY_SECONDS + 1, "delivery stuck", "503 Service Unavailable"),
    (False, None, "database unreachable", "503 Service Unavailable"),
])
def test_health_verdict(database_ok, age, status, http):
    health = evaluate(database_ok=database_ok, oldest_due_age=age, scheduler=STANDBY)
    assert (health.status, health.http_status) == (status, http)
    assert health.as_dict() == {"status": status, "database": "ok" if database_ok else "unreachable",
                                "scheduler": STANDBY,
                                "oldest_due_outbox_age_seconds": None if age is None else round(age, 1)}


# -- /healthz -----------------------------------------------------------------------------------------

def test_healthz_reports_database_scheduler_and_the_oldest_due_message(database, slack):
    state = SchedulerState()
    state.set_role(ACTIVE)
    server = health_server(slack, database, state)
    try:
        response = server.request("GET", "/healthz")
        assert response.status == 200
        assert response.json == {"status": "ok", "database": "ok", "scheduler": "active",
                                 "oldest_due_outbox_age_seconds": None}

        now = utcnow()
        queue_due(database, "later", now + dt.timedelta(hours=1))  # not due yet: not late
        queue_due(database, "a-minute-late", now - dt.timedelta(minutes=1))
        state.set_role(STANDBY)
        response = server.request("GET", "/healthz")
        assert response.status == 200
        assert (response.json["status"], response.json["scheduler"]) == ("ok", "standby")
        assert 60 <= response.json["oldest_due_outbox_age_seconds"] < STUCK_DELIVERY_SECONDS

        queue_due(database, "stuck", now - dt.timedelta(seconds=STUCK_DELIVERY_SECONDS + 60))
        response = server.request("GET", "/healthz")
        assert response.status == 503
        assert response.json["status"] == "delivery stuck"
        assert response.json["database"] == "ok"
        assert response.json["oldest_due_outbox_age_seconds"] >= STUCK_DELIVERY_SECONDS + 60
    finally:
        server.stop()


def test_healthz_without_a_scheduler_in_this_process_says_off(database, slack):
    server = health_server(slack, database)
    try:
        response = server.request("GET", "/healthz")
    finally:
        server.stop()
    assert (response.status, response.json["scheduler"]) == (200, "off")


def test_healthz_answers_503_when_the_database_accepts_connections_and_never_answers(black_hole, slack):
    database = Database(f"postgresql+psycopg://rapport@127.0.0.1:{black_hole}/rapport")
    server = health_server(slack, database)
    try:
        response = server.request("GET", "/healthz")  # the client gives up after 10 s: a hang fails here
    finally:
        server.stop()
        database.dispose()
    assert response.status == 503
    assert response.json == {"status": "database unreachable", "database": "unreachable", "scheduler": "off",
                             "oldest_due_outbox_age_seconds": None}


# -- request work gives up; jobs are patient ----------------------------------------------------------

def test_request_work_gives_up_while_another_connection_holds_the_write_lock(backend, database_url):
    database = Database(database_url)  # the request profile: the default
    try:
        with write_lock_held(backend, database_url), pytest.raises(OperationalError) as raised, \
                database.transaction() as session:
            enqueue(session, team_id="T0ACME", dedupe_key="blocked", channel_id="C0ONE",
                    message=Message(text="blocked"), source="test")
        assert any(reason in str(raised.value) for reason in ("database is locked", "lock timeout")), raised.value
        assert outbox_count(database) == 0
    finally:
        database.dispose()


def test_a_request_statement_that_runs_on_is_cancelled(backend, database):
    if backend.name != "postgresql":
        pytest.skip("PostgreSQL's statement_timeout")
    with pytest.raises(OperationalError, match="statement timeout"), database.transaction() as session:
        session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": HOLD_LIMIT})


def test_request_work_does_not_wait_long_for_a_pooled_connection(database_url):
    database = Database(database_url)
    pool = database.engine.pool
    taken = [database.engine.connect() for _ in range(pool.size() + pool._max_overflow)]
    giving_back = threading.Timer(HOLD_LIMIT, lambda: [connection.close() for connection in taken])
    giving_back.start()
    try:
        with pytest.raises(PoolTimeoutError), database.transaction() as session:
            session.execute(text("SELECT 1"))
    finally:
        giving_back.cancel()
        for connection in taken:
            connection.close()
        database.dispose()


def test_each_profile_sets_its_timeouts_on_every_connection(backend, database_url):
    expected = {"requests": ("2000", "2s", "1500ms"), "jobs": ("15000", "1min", "15s")}
    for database in (Database(database_url), Database.for_jobs(database_url)):
        busy, statement, lock = expected[database.purpose]
        try:
            with database.engine.connect() as connection:
                for _ in range(2):  # a rollback does not undo them
                    if backend.name == "sqlite":
                        assert str(connection.execute(text("PRAGMA busy_timeout")).scalar()) == busy
                    else:
                        assert connection.execute(text("SHOW statement_timeout")).scalar() == statement
                        assert connection.execute(text("SHOW lock_timeout")).scalar() == lock
                    connection.rollback()
        finally:
            database.dispose()


# -- the scheduler survives the database ----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_the_scheduler_keeps_trying_while_the_database_is_unreachable(settings, slack, tmp_path, kind):
    url = (f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/rapport" if kind == "postgresql"
           else f"sqlite:///{tmp_path / 'no-such-directory' / 'rapport.db'}")
    database = Database.for_jobs(url)
    client = WebClient(token="xoxb-test", base_url=slack.api_url, retry_handlers=[], timeout=5)
    runtime = Runtime(settings, database, DeliveryWorker(database, client))
    state, stop = SchedulerState(), threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(runtime, stop), daemon=True,
                              kwargs={"state": state, "poll_seconds": 0.05, "first_retry": 0.01, "max_retry": 0.05})
    thread.start()
    try:
        assert state.wait_until(lambda status: status.last_error is not None, TIMEOUT)
        first = state.status()
        assert state.wait_until(lambda status: status.last_error_at != first.last_error_at, TIMEOUT)  # again
        assert thread.is_alive()
        status = state.status()
        assert status.role == STANDBY
        assert status.last_error.startswith("database unavailable")
    finally:
        stop.set()
        thread.join(TIMEOUT)
        database.dispose()
    assert not thread.is_alive()
    assert state.role == OFF
    assert slack.calls_to("chat.postMessage") == []


def cut_connections(database, application_name: str) -> int:
    """pg_terminate_backend on every connection of the process(es) under test; how many there were."""
    with database.engine.connect() as connection:
        results = connection.execute(text(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": application_name}).scalars().all()
        connection.commit()
    return sum(1 for terminated in results if terminated)


def named_env(database_url: str, slack, name: str, **extra: str) -> dict[str, str]:
    url = make_url(database_url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)
    return env_for_subprocess(url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_MANAGERS_CHANNEL=MANAGERS, **extra)


def assert_delivered_once(database, slack, ids: list[int], processes: Processes) -> None:
    wait_until(lambda: set(posted_ids(slack)) >= set(ids), "every message to be posted", processes)
    counts = posted_ids(slack)
    assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1), counts
    wait_until(lambda: {statuses(database)[i] for i in ids} == {OutboxStatus.SENT}, "every row to be sent", processes)


def test_rapport_scheduler_survives_its_database_connections_being_cut(backend, database_url, database, slack,
                                                                      processes):
    if backend.name != "postgresql":
        pytest.skip("needs PostgreSQL (pg_terminate_backend)")
    name = f"rapport-under-test-{uuid.uuid4().hex[:8]}"
    process, log = processes.start("scheduler", env=named_env(database_url, slack, name), name="scheduler")
    wait_until(lambda: "Scheduler active" in log.read_text(), "the scheduler to be active", processes)

    delivered: list[int] = []
    for attempt in range(2):  # cut, again and again: it comes back every time
        [before] = queue(database, "C0ONE", 1, f"before-cut-{attempt}")
        assert_delivered_once(database, slack, [*delivered, before], processes)
        delivered.append(before)
        elected = log.read_text().count("Scheduler active")
        assert cut_connections(database, name) >= 1  # its lock's connection at least
        wait_until(lambda elected=elected: log.read_text().count("Scheduler active") > elected,
                   "the scheduler to be elected again", processes)
    [after] = queue(database, "C0TWO", 1, "after-the-cuts")
    assert_delivered_once(database, slack, [*delivered, after], processes)

    assert process.poll() is None, processes.logs()
    output = log.read_text()
    assert "lost its database lock" in output
    assert "Traceback" not in output, output


def test_rapport_run_keeps_its_scheduler_when_its_database_connections_are_cut(backend, database_url, database,
                                                                              slack, processes):
    if backend.name != "postgresql":
        pytest.skip("needs PostgreSQL (pg_terminate_backend)")
    name = f"rapport-under-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = named_env(database_url, slack, name, SLACK_SIGNING_SECRET=SIGNING_SECRET, PORT=str(port))
    process, log = processes.start("run", env=env, name="run")
    wait_until_healthy(port, process, log)

    def scheduler_role() -> str | None:
        status, body = request(port, "GET", "/healthz")
        return json.loads(body)["scheduler"] if status == 200 else None

    wait_until(lambda: scheduler_role() == "active", "/healthz to report the active scheduler", processes)
    [before] = queue(database, "C0ONE", 1, "before-cut")
    assert_delivered_once(database, slack, [before], processes)

    elected = log.read_text().count("Scheduler active")
    assert cut_connections(database, name) >= 1
    wait_until(lambda: log.read_text().count("Scheduler active") > elected, "the scheduler to be elected again",
               processes)
    [after] = queue(database, "C0TWO", 1, "after-cut")
    assert_delivered_once(database, slack, [before, after], processes)
    status, body = request(port, "GET", "/healthz")
    assert (status, json.loads(body)["scheduler"], json.loads(body)["database"]) == (200, "active", "ok")
    assert process.poll() is None, processes.logs()
    assert Counter(posted_ids(slack)) == Counter({before: 1, after: 1})
