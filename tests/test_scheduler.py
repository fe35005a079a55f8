"""The scheduler as a process: one active scheduler per database (SQLite refuses a second one; on PostgreSQL a
standby takes over when the active one dies, and nothing is posted twice); `rapport run` runs it beside
the web server unless --no-scheduler. And Slack's own retries reach the bot once: events it retries,
forms submitted twice, a rate-limited Web API call from a listener."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.blocks import Message
from bot.db.models import Client, OutboxMessage, OutboxStatus
from bot.services import Actor
from bot.services.clients import add_client
from bot.services.outbox import enqueue
from tests.conftest import SIGNING_SECRET, env_for_subprocess
from tests.slackhttp import message_text, text_input
from tests.test_cli import free_port, rapport_command, request, wait_until_healthy

TIMEOUT = 60  # seconds; only so that a hung process fails instead of hanging the suite
TAKEOVER = 60  # a standby takes over "within a minute"
MANAGERS = "C0MANAGERS"


# -- helpers ---------------------------------------------------------------------------------------

@pytest.fixture
def env(database_url, slack) -> dict[str, str]:
    return env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_MANAGERS_CHANNEL=MANAGERS)


class Processes:
    """Processes started by a test, each with its log; all of them ended when the test ends."""

    def __init__(self, tmp_path: Path, workdir: Path) -> None:
        self.tmp_path, self.workdir = tmp_path, workdir
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, *args: str, env: dict[str, str], name: str) -> tuple[subprocess.Popen, Path]:
        log = self.tmp_path / f"{name}.log"
        with log.open("w") as output:
            process = subprocess.Popen([*rapport_command(), *args], stdout=output, stderr=subprocess.STDOUT,
                                       env=env, cwd=self.workdir)
        self.started.append((process, log))
        return process, log

    def logs(self) -> str:
        return "\n".join(f"--- {log.name} (pid {process.pid}):\n{log.read_text()}" for process, log in self.started)

    def stop_all(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                process.terminate()
        for process, _ in self.started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def processes(tmp_path, workdir):
    started = Processes(tmp_path, workdir)
    try:
        yield started
    finally:
        started.stop_all()


def queue(database, channel: str, count: int, prefix: str) -> list[int]:
    with database.transaction() as session:
        for n in range(count):
            assert enqueue(session, team_id="T0ACME", dedupe_key=f"{prefix}:{n}", channel_id=channel,
                           message=Message(text=f"{prefix} {n}"), source="test")
    with database.transaction() as session:
        return list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.dedupe_key.startswith(prefix))
                                    .order_by(OutboxMessage.id)))


def posted_ids(slack) -> Counter:
    return Counter(message["metadata"]["event_payload"]["outbox_id"] for message in slack.posted()
                   if message.get("metadata"))


def statuses(database) -> dict[int, str]:
    with database.transaction() as session:
        return dict(session.execute(select(OutboxMessage.id, OutboxMessage.status)).all())


def wait_until(condition, what: str, processes: Processes, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}:\n{processes.logs()}")
        time.sleep(0.1)


def health(port: int) -> tuple[int, dict]:
    status, body = request(port, "GET", "/healthz")
    return status, json.loads(body)


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=TIMEOUT)


def digest_due(now: dt.datetime) -> bool:
    """The weekly digest's rule in UTC (the subprocesses run with RAPPORT_TIMEZONE unset)."""
    monday = now.date() - dt.timedelta(days=now.weekday())
    return now >= dt.datetime.combine(monday, dt.time(9, 0), tzinfo=dt.UTC)


# -- SQLite: one scheduler, a second is refused ------------------------------------------------------

def test_sqlite_runs_one_scheduler_and_refuses_a_second(backend, env, workdir, database, slack, processes):
    if backend.name != "sqlite":
        pytest.skip("on PostgreSQL a second scheduler waits as a standby (test_postgresql_standby_takes_over)")
    [first_id] = queue(database, "C0ONE", 1, "before")
    first, first_log = processes.start("scheduler", env=env, name="scheduler-1")
    wait_until(lambda: posted_ids(slack)[first_id] == 1, "the first scheduler to deliver", processes)
    assert "Scheduler active" in first_log.read_text()

    second = subprocess.run([*rapport_command(), "scheduler"], capture_output=True, text=True, env=env,
                            cwd=workdir, timeout=TIMEOUT)
    assert second.returncode == 3, second.stdout + second.stderr
    assert "Another Rapport scheduler" in second.stderr
    assert f"pid {first.pid}" in second.stderr  # who holds it
    assert "only one may" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.poll() is None  # the first one goes on

    # The lock dies with its process: after a SIGKILL a new scheduler starts and delivers.
    kill(first)
    [later_id] = queue(database, "C0ONE", 1, "after")
    third, third_log = processes.start("scheduler", env=env, name="scheduler-3")
    wait_until(lambda: posted_ids(slack)[later_id] == 1, "the new scheduler to deliver", processes)
    assert third.poll() is None
    assert "Scheduler active" in third_log.read_text()
    assert posted_ids(slack) == Counter({first_id: 1, later_id: 1})
    # Slack has the post a moment before the row is marked sent (the worker marks it once Slack answers).
    wait_until(lambda: set(statuses(database).values()) == {OutboxStatus.SENT}, "the rows to be marked sent",
               processes)


def test_scheduler_needs_the_bot_token(env, workdir):
    env = {key: value for key, value in env.items() if key != "SLACK_BOT_TOKEN"}
    result = subprocess.run([*rapport_command(), "scheduler"], capture_output=True, text=True, env=env,
                            cwd=workdir, timeout=TIMEOUT)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr


# -- PostgreSQL: an active scheduler and a standby ---------------------------------------------------

def test_postgresql_standby_takes_over_and_nothing_is_posted_twice(backend, env, database, slack, processes):
    if backend.name != "postgresql":
        pytest.skip("needs PostgreSQL (RAPPORT_TEST_DATABASE_URL): advisory locks elect the scheduler")
    with database.transaction() as session:  # a client, so that a due weekly digest has something to say
        add_client(session, Actor("T0ACME", "U0ANA", "cli"), "Acme Biologics", owner_user_id="U0ANA")
    started_at = dt.datetime.now(dt.UTC)

    one = processes.start("scheduler", env=env, name="scheduler-a")
    two = processes.start("scheduler", env=env, name="scheduler-b")

    def roles() -> tuple[list, list]:
        texts = [(process, log.read_text()) for process, log in (one, two)]
        return ([process for process, text in texts if "Scheduler active" in text],
                [process for process, text in texts if "Scheduler standby" in text])

    wait_until(lambda: len(roles()[0]) + len(roles()[1]) == 2, "one active scheduler and one standby", processes)
    [active], [standby] = roles()
    assert active is not standby

    # Six messages to one channel (paced about one a second): the active one dies in the middle.
    first_batch = queue(database, "C0ONE", 6, "first")
    wait_until(lambda: sum(posted_ids(slack)[i] for i in first_batch) >= 2, "the first posts", processes)
    kill(active)
    second_batch = queue(database, "C0TWO", 3, "second")

    [standby_log] = [log for process, log in (one, two) if process is standby]
    wait_until(lambda: "Scheduler active" in standby_log.read_text(), "the standby to take over", processes,
               timeout=TAKEOVER)
    everything = first_batch + second_batch
    wait_until(lambda: set(posted_ids(slack)) >= set(everything), "every message to arrive", processes)
    assert standby.poll() is None

    counts = posted_ids(slack)
    assert {outbox_id: counts[outbox_id] for outbox_id in everything} == dict.fromkeys(everything, 1)
    assert not [n for n in counts.values() if n > 1], counts
    # Everything queued (the digest too, if it was due) ends up sent, by one scheduler or the other.
    wait_until(lambda: set(statuses(database).values()) == {OutboxStatus.SENT}, "every row to be sent", processes)

    digests = [m for m in slack.posted(MANAGERS) if "Weekly portfolio health" in message_text(m)]
    assert len(digests) <= 1
    if digest_due(started_at):  # due all along: the first active scheduler posted it, the second did not repeat it
        assert len(digests) == 1
        assert "Acme Biologics" in message_text(digests[0])


# -- rapport run, with and without the scheduler ------------------------------------------------------

def test_run_no_scheduler_delivers_nothing_while_run_delivers(env, database, slack, processes):
    [queued] = queue(database, "C0ONE", 1, "waiting")
    port = free_port()
    web_env = {**env, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "PORT": str(port)}
    web_only, log = processes.start("run", "--no-scheduler", env=web_env, name="run-no-scheduler")
    wait_until_healthy(port, web_only, log)
    status, body = health(port)
    assert (status, body["status"], body["database"], body["scheduler"]) == (200, "ok", "ok", "off")
    assert body["oldest_due_outbox_age_seconds"] >= 0  # the queued message is due and waits: nobody delivers here
    # The scheduler delivers at start and every 3 s: a few seconds with nothing posted means none runs here.
    assert slack.wait_for("chat.postMessage", timeout=6) == [], log.read_text()
    assert statuses(database) == {queued: "pending"}
    assert "Scheduler active" not in log.read_text()
    web_only.terminate()
    web_only.wait(timeout=30)

    port = free_port()
    with_scheduler, log = processes.start("run", env={**web_env, "PORT": str(port)}, name="run")
    wait_until_healthy(port, with_scheduler, log)
    wait_until(lambda: posted_ids(slack)[queued] == 1, "rapport run to deliver", processes)
    assert "Scheduler active" in log.read_text()
    assert posted_ids(slack) == Counter({queued: 1})
    wait_until(lambda: health(port) == (200, {"status": "ok", "database": "ok", "scheduler": "active",
                                              "oldest_due_outbox_age_seconds": None}),
               "/healthz to report the active scheduler and nothing due", processes)


def test_healthz_of_run_beside_another_scheduler_says_standby_or_off(backend, env, slack, processes):
    scheduler, scheduler_log = processes.start("scheduler", env=env, name="scheduler")
    wait_until(lambda: "Scheduler active" in scheduler_log.read_text(), "the scheduler to be active", processes)
    port = free_port()
    run, log = processes.start("run", env={**env, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "PORT": str(port)},
                               name="run")
    wait_until_healthy(port, run, log)
    # PostgreSQL: a standby, ready to take over. SQLite: refused, it serves Slack only.
    expected = "standby" if backend.name == "postgresql" else "off"
    wait_until(lambda: health(port)[1]["scheduler"] == expected, f"/healthz to say {expected}", processes)
    assert health(port)[0] == 200
    if backend.name == "sqlite":
        assert "This process serves Slack only" in log.read_text()
    assert scheduler.poll() is None


# -- Slack's retries, handled once ------------------------------------------------------------------

def home_opened(bot, event_id: str, **signing):
    return bot.event({"type": "app_home_opened", "user": "U0ANA", "channel": "D0HOME", "tab": "home",
                      "event_ts": "1732400000.000100"}, event_id=event_id, **signing)


def test_an_event_slack_retries_is_handled_once(bot, slack):
    first = home_opened(bot, "Ev0RETRY")
    assert first.status == 200
    assert len(slack.wait_for("views.publish")) == 1

    retry = home_opened(bot, "Ev0RETRY", extra_headers={"X-Slack-Retry-Num": "1",
                                                        "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status == 200
    # Listeners run after the ack: give a second publish every chance to happen.
    assert len(slack.wait_for("views.publish", count=2, timeout=2)) == 1

    # Another event is another event.
    assert home_opened(bot, "Ev0OTHER").status == 200
    assert len(slack.wait_for("views.publish", count=2)) == 2


def test_a_form_submitted_twice_is_done_once(bot, slack, database):
    response = bot.command("client add")
    assert (response.status, response.body) == (200, "")
    [call] = slack.wait_for("views.open")
    view = {**call.args["view"], "id": "V0TWICE"}
    values = {"name": text_input("Acme Biologics"), "key": text_input("acme")}

    first = bot.submit_view(view, values)
    assert first.status == 200
    assert first.json["response_action"] == "update"
    assert "Added" in message_text({"blocks": first.json["view"]["blocks"]})

    second = bot.submit_view(view, values)  # same view id, same hash: a double click, a retry
    assert second.status == 200
    assert second.json["response_action"] == "update", second.json
    assert "already submitted" in message_text({"blocks": second.json["view"]["blocks"]})

    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Client)) == 1


def test_a_rate_limited_listener_call_is_retried(bot, slack):
    slack.fail("views.open", status=429, retry_after=1)
    response = bot.command("client add")
    assert (response.status, response.body) == (200, "")  # the ack does not wait for the retry
    calls = slack.wait_for("views.open", count=2, timeout=TIMEOUT)
    assert len(calls) == 2
    assert calls[0].args["trigger_id"] == calls[1].args["trigger_id"]
    assert calls[1].args["view"]["callback_id"] == "cmo:client add"
    # The form opened: nobody was told it failed.
    assert not [call for call in slack.calls_to("response_url") if "did not open" in call.args.get("text", "")]
