"""Meetings under faults: nothing lost, nothing posted twice, nothing stops for good.

- Slack answers a reminder's post with 429 (Retry-After), 5xx, or drops the connection, or takes the post
  and never answers: the reminder is posted exactly once later (checked in conversations.history through
  its metadata when the first post may have arrived), and never once its meeting has started.
- A process killed (SIGKILL) while Slack holds its post: run again, the reminder is there once.
- PostgreSQL connections cut (pg_terminate_backend) during a meeting-reminders run: the next run posts each
  due reminder once.
- "Add to calendar" while Slack is slow or failing at any step of files_upload_v2: the button is answered
  at once, the presser is told when the file could not be sent, pressing again works, and no file is shown
  half made.
- meeting-reminders run twice at the same moment (threads, processes): each reminder once.
- The scheduler has the meeting jobs.

Simulated moments are in 2027 (as in tests/test_meeting_reminders.py); the tests with processes that run
without --now plan a meeting a little ahead of the real clock instead."""

from __future__ import annotations

import datetime as dt
import importlib
import subprocess
import threading
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text, update

from bot.db import Database
from bot.db.models import Client, Frequency, Meeting, OutboxMessage, OutboxStatus, utcnow
from bot.delivery import METADATA_EVENT
from bot.localslack import UPLOAD
from bot.runtime import Runtime
from bot.services.clients import archive_client
from bot.services.meetings import add_meeting, skip_occurrence
from jobs import JOBS
from jobs.common import DATABASE_UNAVAILABLE
from jobs.deliver import deliver
from jobs.manual import run_by_hand
from tests.commands_support import reply
from tests.conftest import env_for_subprocess
from tests.test_cli import rapport_command
from tests.test_meeting_reminders import (
    ACTOR,
    BERLIN,
    DAY,
    HOUR,
    MANAGERS,
    MINUTE,
    at,
    outbox_rows,
    plan_meeting,
    reminders,
    seed,
    slack_back,
)
from tests.test_meeting_reminders import jobs as jobs  # noqa: F401 -- a fixture: `rapport jobs run` in-process
from tests.test_meetings_http import WEEKLY, add_acme, buttons, press, shared_calendar, typed
from tests.test_meetings_http import add_meeting as add_meeting_command
from tests.test_resilience import cut_connections, named_env
from tests.test_scheduler import Processes, kill, statuses, wait_until

# The module (the package `jobs` names its function `meeting_reminders` too).
reminders_job = importlib.import_module("jobs.meeting_reminders")
POST, HISTORY = "chat.postMessage", "conversations.history"
GET_URL, COMPLETE = "files.getUploadURLExternal", "files.completeUploadExternal"
TIMEOUT = 60  # seconds; only so that a hang fails the test instead of hanging the suite
ROOMS = ("C0ROOMONE", "C0ROOMTWO", "C0ROOMTHREE")


# -- helpers -----------------------------------------------------------------------------------------------

@pytest.fixture
def processes(tmp_path, workdir):
    started = Processes(tmp_path, workdir)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def job_settings(settings):
    """What `rapport jobs run` would read from the environment (the tests' Slack, the managers channel)."""
    return settings.with_overrides(slack_bot_token="xoxb-test", managers_channel=MANAGERS, timezone="Europe/Berlin")


def make_runtime(settings, **worker) -> Runtime:
    """A process's runtime, as `rapport jobs run` makes it: its own jobs database and delivery worker."""
    return Runtime.create(settings, Database.for_jobs(settings.database_url), **worker)


def backoff_over(database) -> None:
    """The backoff of an unconfirmed post has run out: it is checked at the next run."""
    with database.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENDING)
                        .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))


def outbox_ids(messages: list[dict[str, Any]]) -> list[int]:
    return [m["metadata"]["event_payload"]["outbox_id"] for m in messages
            if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT]


def meeting_soon(database, client_id: int, *, minutes: int = 30, channel: str | None = None,
                 title: str = "Supply review") -> int:
    """A meeting once, `minutes` ahead of the real clock, reminded 1 h before: its reminder is due now."""
    now = dt.datetime.now(dt.UTC)
    starts = (now + dt.timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    with database.transaction() as session:
        meeting = add_meeting(session, ACTOR, session.get(Client, client_id), title=title, every=Frequency.ONCE,
                              starts_on=starts.date(), at=starts.time(), timezone="UTC", now=now,
                              reminder_minutes=(60,), channel_id=channel)
        session.flush()
        return meeting.id


def process_env(database_url: str, slack) -> dict[str, str]:
    """No managers channel: a `rapport scheduler` posts nothing but the reminders (no weekly digest)."""
    return env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_TIMEZONE="Europe/Berlin")


def wait_for_files(slack, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + TIMEOUT
    while len(slack.shared_files()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    files = slack.shared_files()
    assert len(files) >= count, f"only {len(files)} file(s) shared"
    return files


def rapport(*args: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*rapport_command(), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=TIMEOUT)


def assert_each_posted_once(database, slack, expected: int) -> None:
    """`expected` reminders reached Slack, each once, and each outbox row says sent with its ts."""
    rows = outbox_rows(database)
    assert len(rows) == expected, [(r.dedupe_key, r.status) for r in rows]
    counts = Counter(outbox_ids(slack.posted()))
    assert counts == Counter({row.id: 1 for row in rows}), counts
    assert len(reminders(slack)) + sum(len(reminders(slack, room)) for room in ROOMS) == expected
    landed = {outbox_ids([m])[0]: m["ts"] for m in slack.posted()}
    assert {r.id: (r.status, r.slack_ts, r.claimed_by) for r in rows} == {
        r.id: (OutboxStatus.SENT, landed[r.id], None) for r in rows}


# -- 1. Slack fails the post of a reminder ---------------------------------------------------------------

@pytest.mark.parametrize("fault", [
    {"status": 429, "retry_after": 1}, {"status": 500}, {"status": 503}, {"status": 200, "error": "internal_error"},
    {"drop": True}], ids=["429 retry-after", "500", "503", "ok false internal_error", "dropped connection"])
def test_a_reminder_slack_fails_to_take_is_posted_once_later(database, jobs, slack, fault):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    starts = at(BERLIN, 2027, 5, 4, 10)
    slack.fail(POST, **fault)

    out = jobs(starts - HOUR)  # a run by hand waits out the short Retry-After or backoff

    assert "1 delivered" in out, out
    assert_each_posted_once(database, slack, 1)
    [row] = outbox_rows(database)
    posts = slack.calls_to(POST)  # (a dropped call is not recorded: Slack never had it)
    assert len(posts) == (1 if fault.get("drop") else 2)
    assert {p.args["metadata"]["event_payload"]["outbox_id"] for p in posts} == {row.id}
    if fault.get("status") != 429:  # it may have arrived: Slack was asked before the post that counted
        [checked] = slack.calls_to(HISTORY)[:1]
        assert posts[0].at < checked.at < posts[-1].at if len(posts) == 2 else checked.at < posts[0].at
        assert checked.args["include_all_metadata"] in (True, "true", "1", 1)
    for moment in (starts - HOUR + MINUTE, starts - 30 * MINUTE, starts + MINUTE):  # the runs after: nothing
        jobs(moment)
    assert len(slack.calls_to(POST)) == len(posts) and len(reminders(slack)) == 1


def test_a_post_that_landed_while_slack_did_not_answer_is_confirmed_not_posted_again(database, jobs, slack,
                                                                                    monkeypatch):
    monkeypatch.setattr("bot.slack_client.DELIVERY_TIMEOUT", 1)  # the worker gives up waiting after 1 s
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    starts = at(BERLIN, 2027, 5, 4, 10)
    slack.slow(POST, 2.5)  # Slack takes the post, and answers after the worker gave up

    out = jobs(starts - HOUR)

    assert "1 confirmed after a restart" in out, out
    assert len(slack.calls_to(POST)) == 1
    assert_each_posted_once(database, slack, 1)
    jobs(starts - 30 * MINUTE)
    assert len(slack.calls_to(POST)) == 1


@pytest.mark.parametrize("landed", [False, True], ids=["never arrived", "arrived unanswered"])
def test_a_reminder_unconfirmed_until_its_meeting_started_is_withdrawn_unless_it_arrived(
        database, jobs, slack, job_settings, monkeypatch, landed):
    """Slack answered the 1 h reminder's post with a 500 (or not at all), and nobody could check before the
    meeting started. Checked then: found, it is marked sent; not found, it expired: never posted late."""
    if landed:
        monkeypatch.setattr("bot.slack_client.DELIVERY_TIMEOUT", 1)
        slack.slow(POST, 2.5)
    else:
        slack.fail(POST, status=500)
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    starts = at(BERLIN, 2027, 5, 4, 10)
    runtime = make_runtime(job_settings)
    try:
        reminders_job.meeting_reminders(runtime, now=starts - HOUR)
        report = deliver(runtime, now=starts - HOUR)  # the scheduler's kind of run: it does not wait
    finally:
        runtime.database.dispose()
    assert "1 waiting to retry" in report.summary(), report.summary()
    [row] = outbox_rows(database)
    assert row.status == OutboxStatus.SENDING and row.claimed_by is None
    assert len(reminders(slack)) == (1 if landed else 0)

    backoff_over(database)
    out = jobs(starts + MINUTE)  # the meeting has started
    jobs(starts + 30 * MINUTE, job="deliver")

    [row] = outbox_rows(database)
    assert len(slack.calls_to(POST)) == 1  # the one attempt only
    assert slack.calls_to(HISTORY), "Slack was not asked whether the post had arrived"
    if landed:
        assert_each_posted_once(database, slack, 1)
    else:
        assert "1 expired unposted" in out, out
        assert (row.status, row.error) == (OutboxStatus.CANCELLED, "expired: not posted in time, no longer useful")
        assert slack.posted() == []


def test_a_dry_run_after_the_meeting_started_does_not_say_it_would_post_the_expired_reminder(database, jobs, slack):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    starts = at(BERLIN, 2027, 5, 4, 10)
    slack.fail(POST, status=429, retry_after=7200)
    jobs(starts - HOUR)
    slack_back(database)

    assert "would post 1 message(s)" in jobs(starts - MINUTE, "--dry-run", job="deliver")
    dry = jobs(starts + MINUTE, "--dry-run", job="deliver")

    assert "would post 0 message(s)" in dry and "Supply review" not in dry, dry
    assert "1 expired unposted" in jobs(starts + MINUTE, job="deliver")  # what the real run does
    assert slack.posted() == []


def test_a_24_hour_reminder_left_unconfirmed_is_withdrawn_when_the_1_hour_one_is_due(database, jobs, slack,
                                                                                   job_settings):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    starts = at(BERLIN, 2027, 5, 4, 10)
    slack.fail(POST, status=502)
    runtime = make_runtime(job_settings)
    try:
        reminders_job.meeting_reminders(runtime, now=starts - DAY)
        deliver(runtime, now=starts - DAY)
    finally:
        runtime.database.dispose()
    [unconfirmed] = outbox_rows(database)
    assert unconfirmed.status == OutboxStatus.SENDING

    jobs(starts - HOUR)  # Slack is back; the 24 h one never arrived and no longer applies

    later, soon = outbox_rows(database)
    assert (later.status, soon.status) == (OutboxStatus.CANCELLED, OutboxStatus.SENT)
    [message] = reminders(slack)
    assert "starts in 1 hour" in message["text"] and outbox_ids([message]) == [soon.id]


# -- 2. a process killed while Slack holds its post ------------------------------------------------------

@pytest.mark.parametrize("killed", ["jobs run meeting-reminders", "scheduler"])
def test_a_process_killed_mid_post_leaves_the_reminder_posted_once(database, database_url, slack, workdir,
                                                                    processes, killed):
    client_id = seed(database)
    meeting_soon(database, client_id)
    held = slack.hold(POST)
    env = process_env(database_url, slack)
    process, log = processes.start(*killed.split(), env=env, name="killed")
    try:
        assert held.wait_arrived(TIMEOUT), processes.logs()
        [row] = outbox_rows(database)
        assert row.status == OutboxStatus.SENDING and row.claimed_by.split(":")[1] == str(process.pid)
        kill(process)
    finally:
        held.release()  # Slack finishes what it received: the post lands, its answer goes nowhere
    wait_until(lambda: len(reminders(slack)) == 1, "the held post to land", processes)

    if killed == "scheduler":
        processes.start("scheduler", env=env, name="restarted")
        wait_until(lambda: set(statuses(database).values()) == {OutboxStatus.SENT}, "the row to be confirmed",
                   processes)
    else:
        again = rapport("jobs", "run", "deliver", env=env, cwd=workdir)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "0 delivered" in again.stdout and "1 confirmed after a restart" in again.stdout, again.stdout
        rerun = rapport("jobs", "run", "meeting-reminders", env=env, cwd=workdir)
        assert rerun.returncode == 0 and "0 delivered" in rerun.stdout, rerun.stdout + rerun.stderr
    assert len(slack.calls_to(POST)) == 1
    assert_each_posted_once(database, slack, 1)


# -- 3. the database connections cut during a meeting-reminders run --------------------------------------

def test_connections_cut_while_reminders_are_posted_then_the_next_run_posts_each_once(
        backend, database, database_url, slack, workdir, processes):
    if backend.name != "postgresql":
        pytest.skip("needs PostgreSQL (pg_terminate_backend)")
    client_id = seed(database)
    for room in ROOMS:
        meeting_soon(database, client_id, channel=room, title=f"Review in {room}")
    name = f"rapport-reminders-{time.monotonic_ns() % 10**8}"
    held = slack.hold(POST)
    process, _ = processes.start("jobs", "run", "meeting-reminders", env=named_env(database_url, slack, name),
                                 name="cut")
    try:
        assert held.wait_arrived(TIMEOUT), processes.logs()
        assert cut_connections(database, name) >= 1  # the delivery lock's connection at least
    finally:
        held.release()
    process.wait(TIMEOUT)
    assert len(slack.calls_to(POST)) == 1, processes.logs()  # nothing posted after the lock was lost

    again = rapport("jobs", "run", "meeting-reminders", env=process_env(database_url, slack), cwd=workdir)

    assert again.returncode == 0, again.stdout + again.stderr
    assert_each_posted_once(database, slack, len(ROOMS))
    assert len(slack.calls_to(POST)) == len(ROOMS)


@pytest.mark.parametrize("cut_at", [1, 2], ids=["planning the first", "planning the second"])
def test_connection_cut_while_reminders_are_planned_then_the_next_run_posts_each_once(
        backend, database, slack, job_settings, monkeypatch, cut_at):
    if backend.name != "postgresql":
        pytest.skip("needs PostgreSQL (pg_terminate_backend)")
    client_id = seed(database)
    for room in ROOMS[:2]:
        plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4), channel=room)
    moment = at(BERLIN, 2027, 5, 4, 9)
    briefs = {"made": 0}
    prepare = reminders_job.prepare

    def cut_midway(session, scope):
        briefs["made"] += 1
        if briefs["made"] == cut_at:  # the run's own connection is terminated mid-transaction
            backend_pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
            with database.engine.connect() as connection:
                assert connection.execute(text("SELECT pg_terminate_backend(:pid, 10000)"),
                                          {"pid": backend_pid}).scalar()
        return prepare(session, scope)

    runtime = make_runtime(job_settings)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(reminders_job, "prepare", cut_midway)
            with pytest.raises(DATABASE_UNAVAILABLE):
                run_by_hand(JOBS["meeting-reminders"], runtime, now=moment, dry_run=False, max_delivery_seconds=30)
        assert outbox_rows(database) == []  # the run's transaction was rolled back whole
        out = run_by_hand(JOBS["meeting-reminders"], runtime, now=moment, dry_run=False, max_delivery_seconds=30)
    finally:
        runtime.database.dispose()
    assert "queued 2 message(s)" in out and "2 delivered" in out, out
    assert_each_posted_once(database, slack, 2)


# -- 4. Add to calendar while Slack is slow or failing ---------------------------------------------------

def calendar_button(bot, slack):
    """Meeting #1, added; its Add to calendar button."""
    add_acme(bot)
    added = add_meeting_command(bot, typed(WEEKLY))
    [(block_id, button)] = buttons(reply(added))
    return block_id, button


def press_timed(bot, slack, block_id: str, button: dict[str, Any]) -> float:
    started = time.monotonic()
    response = press(bot, slack, button["action_id"], button["value"], block_id=block_id)
    assert (response.status, response.body) == (200, "")
    return time.monotonic() - started


@pytest.mark.parametrize("method, fault, reason", [
    ("conversations.open", {"status": 500, "times": 2}, "internal_error"),
    (GET_URL, {"status": 503, "times": 2}, "internal_error"),
    (GET_URL, {"status": 429, "retry_after": 1, "times": 2}, "ratelimited"),
    (GET_URL, {"drop": True, "times": 2}, "no answer"),
    (UPLOAD, {"status": 500}, "no answer"),
    (UPLOAD, {"status": 403}, "no answer"),
    (UPLOAD, {"drop": True}, "no answer"),
    (COMPLETE, {"status": 500, "times": 2}, "internal_error"),
    (COMPLETE, {"error": "internal_error"}, "internal_error"),
    (COMPLETE, {"drop": True, "times": 2}, "no answer"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_the_calendar_file_slack_fails_to_take_is_told_and_a_second_press_sends_it_once(bot, slack, method, fault,
                                                                                          reason):
    block_id, button = calendar_button(bot, slack)
    slack.fail(method, **fault)

    press_timed(bot, slack, block_id, button)

    [told] = slack.wait_for("response_url", timeout=TIMEOUT)
    assert told.args["response_type"] == "ephemeral" and told.args["replace_original"] is False
    assert f"Slack did not take the calendar file ({reason}). Press the button again" in told.args["text"]
    assert slack.shared_files() == []  # nothing half made is shown
    if method in (GET_URL, "conversations.open", UPLOAD):
        assert slack.calls_to(COMPLETE) == []  # never completed an upload whose bytes Slack does not have

    press_timed(bot, slack, block_id, button)  # again, Slack is fine now

    wait_for_files(slack, 1)
    shared, calendar = shared_calendar(slack)
    assert (shared["channel"], shared["filename"]) == ("D0ANA", "rapport-meeting-1.ics")
    assert len(list(calendar.walk("VEVENT"))) == 1
    time.sleep(0.3)  # anything more would come right after
    assert len(slack.shared_files()) == 1 and len(slack.calls_to("response_url")) == 1


@pytest.mark.parametrize("method", ["conversations.open", GET_URL, UPLOAD, COMPLETE])
def test_a_slow_slack_does_not_hold_up_the_answer_to_the_button(bot, slack, method):
    block_id, button = calendar_button(bot, slack)
    slack.slow(method, 3)

    press_timed(bot, slack, block_id, button)

    # Answered before Slack's slow step was over: the file is not there yet (ordering, not a stopwatch).
    assert slack.shared_files() == []
    [shared] = wait_for_files(slack, 1)
    assert shared["channel"] == "D0ANA"
    assert len(slack.shared_files()) == 1 and slack.calls_to("response_url") == []


def test_a_press_while_an_upload_is_held_answers_at_once_and_both_files_arrive(bot, slack):
    block_id, button = calendar_button(bot, slack)
    held = slack.hold(COMPLETE)
    try:
        press_timed(bot, slack, block_id, button)
        assert held.wait_arrived(TIMEOUT)
        press_timed(bot, slack, block_id, button)  # another press meanwhile: answered at once, and sent
        wait_for_files(slack, 1)
    finally:
        held.release()
    assert [f["channel"] for f in wait_for_files(slack, 2)] == ["D0ANA", "D0ANA"]
    assert slack.calls_to("response_url") == []


# -- 5. meeting-reminders twice at the same moment -------------------------------------------------------

def three_meetings(database) -> list[dt.datetime]:
    """Three weekly meetings on Tuesday 2027-05-04 (two in one channel); the moments their reminders are due."""
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4), hour=10, minute=30, title="Quality review")
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4), channel=ROOMS[0], title="Tech transfer")
    return [at(BERLIN, 2027, 5, 3, 10, 30), at(BERLIN, 2027, 5, 4, 9, 30)]


def test_two_threads_running_meeting_reminders_at_once_post_each_reminder_once(database, slack, job_settings):
    moments = three_meetings(database)
    runtimes = [make_runtime(job_settings, per_channel_interval=0.0) for _ in range(2)]
    try:
        for moment in moments:
            start = threading.Barrier(2)
            outputs: list[str] = []
            errors: list[BaseException] = []

            def run(runtime, moment=moment, start=start, outputs=outputs, errors=errors):
                try:
                    start.wait(TIMEOUT)
                    outputs.append(run_by_hand(JOBS["meeting-reminders"], runtime, now=moment, dry_run=False,
                                               max_delivery_seconds=30))
                except BaseException as error:  # the test thread says so
                    errors.append(error)

            threads = [threading.Thread(target=run, args=(runtime,)) for runtime in runtimes]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(TIMEOUT)
            assert errors == [] and len(outputs) == 2, (errors, outputs)
            assert sum(int(o.split("queued ")[1].split(" ")[0]) for o in outputs) == 3, outputs
    finally:
        for runtime in runtimes:
            runtime.database.dispose()
    # Three 24 h reminders, then three 1 h (30 min for the 10:30 one) reminders; each once.
    rows = outbox_rows(database)
    assert len({row.dedupe_key for row in rows}) == len(rows) == 6
    assert_each_posted_once(database, slack, 6)


def test_two_processes_running_meeting_reminders_at_once_post_each_reminder_once(database, database_url, slack,
                                                                                  workdir):
    moments = three_meetings(database)
    env = process_env(database_url, slack)
    for moment in moments:
        started = [subprocess.Popen([*rapport_command(), "jobs", "run", "meeting-reminders", "--now",
                                     moment.isoformat()], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, env=env, cwd=workdir) for _ in range(2)]
        outputs = [process.communicate(timeout=TIMEOUT)[0] for process in started]
        assert [process.returncode for process in started] == [0, 0], outputs
        assert not any("Traceback" in output or "workspace(s) failed" in output for output in outputs), outputs
    assert_each_posted_once(database, slack, 6)


def test_a_skip_committed_while_the_reminders_are_planned_is_not_reminded_of(database, slack, job_settings,
                                                                           monkeypatch):
    """The run read the schedule before the skip and queues after it: the reminder is withdrawn again."""
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    moment = at(BERLIN, 2027, 5, 4, 9)
    prepare = reminders_job.prepare

    def skipped_meanwhile(session, scope):  # `/cmo meeting skip` by someone, committed in between
        with database.transaction() as other:
            skip_occurrence(other, ACTOR, other.get(Meeting, meeting_id), dt.date(2027, 5, 4), now=moment)
        return prepare(session, scope)

    monkeypatch.setattr(reminders_job, "prepare", skipped_meanwhile)
    runtime = make_runtime(job_settings)
    try:
        run_by_hand(JOBS["meeting-reminders"], runtime, now=moment, dry_run=False, max_delivery_seconds=10)
    finally:
        runtime.database.dispose()
    assert reminders(slack) == []


# -- 6. the scheduler has the meeting jobs ---------------------------------------------------------------

def test_the_scheduler_runs_meeting_reminders_every_minute_and_meeting_followups(job_settings):
    from apscheduler.triggers.interval import IntervalTrigger

    from bot.scheduler import build_scheduler

    reminders_trigger = JOBS["meeting-reminders"].trigger()
    assert isinstance(reminders_trigger, IntervalTrigger)
    assert reminders_trigger.interval == dt.timedelta(minutes=1)
    assert JOBS["meeting-reminders"].run is reminders_job.meeting_reminders
    assert "meeting-followups" in JOBS and isinstance(JOBS["meeting-followups"].trigger(), IntervalTrigger)
    assert JOBS["meeting-followups"].trigger().interval <= dt.timedelta(minutes=5)

    runtime = make_runtime(job_settings)
    try:
        scheduler = build_scheduler(runtime)
        registered = {job.id: job for job in scheduler.get_jobs()}
        assert set(registered) == set(JOBS)
        for name, spec in JOBS.items():
            job = registered[name]
            assert job.kwargs["runtime"] is runtime
            assert str(job.trigger) == str(spec.trigger())
            assert job.func.__wrapped__ is spec.run  # wrapped only to log database errors in one line
    finally:
        runtime.database.dispose()


# -- delivery for a moment: another call's moment does not leak into a run under way ---------------------

def test_a_run_for_a_moment_keeps_its_moment_while_another_call_is_turned_away(database, slack, job_settings):
    """Queued: the 10:00 meeting's reminder (at 09:30) and the 09:45 one's (at 09:35, another channel). A run
    for 09:50 is under way (Slack holds its first post) when another call of the same worker, for the real
    clock, is turned away (a run is under way): the run goes on judging expiry as of 09:50, so the 09:45
    meeting's reminder is withdrawn, not posted after its meeting started."""
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4), reminders=(30,))
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4), hour=9, minute=45, channel=ROOMS[0],
                 title="Early review", reminders=(10,))
    runtime = make_runtime(job_settings, per_channel_interval=0.0)
    try:
        reminders_job.meeting_reminders(runtime, now=at(BERLIN, 2027, 5, 4, 9, 30))
        reminders_job.meeting_reminders(runtime, now=at(BERLIN, 2027, 5, 4, 9, 36))
        assert [row.status for row in outbox_rows(database)] == [OutboxStatus.PENDING] * 2
        held = slack.hold(POST)
        reports: list[Any] = []
        thread = threading.Thread(target=lambda: reports.append(
            runtime.worker.deliver(max_seconds=20, as_of=at(BERLIN, 2027, 5, 4, 9, 50))))
        thread.start()
        try:
            assert held.wait_arrived(TIMEOUT)
            assert runtime.worker.deliver(max_seconds=1).skipped  # the scheduler's run, say: turned away
        finally:
            held.release()
        thread.join(TIMEOUT)
    finally:
        runtime.database.dispose()
    [report] = reports
    assert (report.sent, report.expired) == (1, 1), str(report)
    [posted] = slack.posted()
    assert posted["text"].startswith("Supply review")
    assert {r.dedupe_key.split(":")[-1]: r.status for r in outbox_rows(database)} == {
        "30m": OutboxStatus.SENT, "10m": OutboxStatus.CANCELLED}


def test_archiving_the_client_withdraws_a_reminder_still_waiting_for_slack(database, jobs, slack):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    starts = at(BERLIN, 2027, 5, 4, 10)
    slack.fail(POST, status=429, retry_after=7200)
    jobs(starts - HOUR)
    [waiting] = [row for row in outbox_rows(database) if row.source == "meeting-reminders"]
    assert waiting.status == OutboxStatus.PENDING

    with database.transaction() as session:
        archive_client(session, ACTOR, session.get(Client, client_id))
    slack_back(database)
    jobs(starts - MINUTE, job="deliver")

    assert reminders(slack) == []
    [withdrawn] = [row for row in outbox_rows(database) if row.id == waiting.id]
    assert withdrawn.status == OutboxStatus.CANCELLED
