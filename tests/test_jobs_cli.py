"""`rapport jobs` and `rapport outbox` as processes against the test database and the local Slack: a job run
by hand queues, then delivers; the same moment twice posts once; --dry-run changes nothing; a process
killed with SIGKILL in the middle of delivery and restarted delivers every message exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.blocks import Message
from bot.db.models import Client, OutboxMessage, OutboxStatus
from bot.services import Actor
from bot.services.clients import add_client
from bot.services.outbox import enqueue
from tests.conftest import env_for_subprocess
from tests.slackhttp import message_text
from tests.test_cli import rapport_command

TIMEOUT = 60  # seconds; only so that a hung process fails instead of hanging the suite
MANAGERS = "C0MANAGERS"
CLIENTS = ("Acme Biologics", "Borealis Pharma", "Cygnus Diagnostics")
MONDAY_0905 = "2026-11-30T09:05"  # a Monday (ISO week 49), just after the digest is due


# -- helpers ---------------------------------------------------------------------------------------

@pytest.fixture
def env(database_url, slack) -> dict[str, str]:
    return env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_MANAGERS_CHANNEL=MANAGERS)


def rapport(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*rapport_command(), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=TIMEOUT)


def seed_clients(database, names=CLIENTS) -> None:
    with database.transaction() as session:
        for name in names:
            add_client(session, Actor("T0ACME", "U0ANA", "cli"), name, owner_user_id="U0ANA")


def queue(database, channel: str, count: int, prefix: str = "msg") -> list[int]:
    """`count` messages to `channel`; their outbox ids."""
    with database.transaction() as session:
        for n in range(count):
            assert enqueue(session, team_id="T0ACME", dedupe_key=f"{prefix}:{channel}:{n}", channel_id=channel,
                           message=Message(text=f"{prefix} {n} for {channel}"), source="test")
    with database.transaction() as session:
        return list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.channel_id == channel,
                                                                   OutboxMessage.dedupe_key.startswith(prefix))))


def rows(database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def outbox_count(database) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage))


def posted_ids(slack) -> Counter:
    """How many times each outbox id arrived in Slack (the id travels in the message metadata)."""
    return Counter(message["metadata"]["event_payload"]["outbox_id"] for message in slack.posted()
                   if message.get("metadata"))


def digests(slack) -> list[dict]:
    return slack.posted(MANAGERS)


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=TIMEOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=TIMEOUT)


def start_deliver(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    with log.open("a") as output:
        return subprocess.Popen([*rapport_command(), "jobs", "run", "deliver"], stdout=output,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd)


def wait_until(condition, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.05)


# -- jobs list ---------------------------------------------------------------------------------------

def test_jobs_list_names_the_jobs(env, workdir):
    result = rapport("jobs", "list", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert names == ["deliver", "delay-followups", "stale-nudges", "meeting-reminders", "meeting-followups",
                     "promise-reminders", "weekly-digest", "housekeeping"]
    assert "Mondays from 09:00" in result.stdout


# -- weekly-digest run by hand ---------------------------------------------------------------------

def test_weekly_digest_posts_once_per_iso_week(env, workdir, database, slack):
    seed_clients(database)

    early = rapport("jobs", "run", "weekly-digest", "--now", "2026-11-30T08:00", env=env, cwd=workdir)
    assert early.returncode == 0, early.stderr
    assert "queued 0 message(s)" in early.stdout
    assert digests(slack) == []
    assert outbox_count(database) == 0

    first = rapport("jobs", "run", "weekly-digest", "--now", MONDAY_0905, env=env, cwd=workdir)
    assert first.returncode == 0, first.stderr
    assert "queued 1 message(s)" in first.stdout
    assert "1 delivered" in first.stdout
    [digest] = digests(slack)
    shown = message_text(digest)
    assert "Weekly portfolio health" in shown
    assert "week 49" in shown
    for name in CLIENTS:
        assert name in shown
    assert slack.posted() == [digest]  # nothing anywhere else

    for now in (MONDAY_0905, "2026-12-02T15:00"):  # the same moment again; later in the same ISO week
        again = rapport("jobs", "run", "weekly-digest", "--now", now, env=env, cwd=workdir)
        assert again.returncode == 0, again.stderr
        assert "queued 0 message(s), 1 already queued before" in again.stdout
    assert len(digests(slack)) == 1
    assert len(slack.calls_to("chat.postMessage")) == 1
    [row] = rows(database)
    assert (row.status, row.dedupe_key, row.channel_id) == (OutboxStatus.SENT, "weekly-digest:2026-W49", MANAGERS)

    # The next week has its own digest.
    next_week = rapport("jobs", "run", "weekly-digest", "--now", "2026-12-07T10:00", env=env, cwd=workdir)
    assert next_week.returncode == 0, next_week.stderr
    assert len(digests(slack)) == 2
    assert "week 50" in message_text(digests(slack)[-1])


def test_weekly_digest_catches_up_later_in_the_week(env, workdir, database, slack):
    seed_clients(database, ["Acme Biologics"])
    result = rapport("jobs", "run", "weekly-digest", "--now", "2026-12-03T16:30", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    [digest] = digests(slack)
    assert "Acme Biologics" in message_text(digest)
    assert "week 49" in message_text(digest)  # the week that began on Monday 30 Nov


def test_dry_run_prints_the_digest_and_changes_nothing(env, workdir, database, slack):
    seed_clients(database)
    result = rapport("jobs", "run", "weekly-digest", "--now", MONDAY_0905, "--dry-run", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "would post 1 message(s)" in result.stdout
    assert "Weekly portfolio health" in result.stdout
    assert "weekly-digest:2026-W49" in result.stdout
    for name in CLIENTS:
        assert name in result.stdout
    assert outbox_count(database) == 0
    assert slack.calls_to("chat.postMessage") == []

    # Nothing was remembered either: the real run afterwards posts it.
    real = rapport("jobs", "run", "weekly-digest", "--now", MONDAY_0905, env=env, cwd=workdir)
    assert real.returncode == 0, real.stderr
    assert len(digests(slack)) == 1


def test_dry_run_needs_no_token(env, workdir, database, slack):
    seed_clients(database)
    env = {key: value for key, value in env.items() if key != "SLACK_BOT_TOKEN"}
    result = rapport("jobs", "run", "weekly-digest", "--now", MONDAY_0905, "--dry-run", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "Acme Biologics" in result.stdout


def test_dry_run_of_deliver_lists_what_is_pending_and_posts_nothing(env, workdir, database, slack):
    queue(database, "C0ONE", 2, prefix="pending")
    result = rapport("jobs", "run", "deliver", "--dry-run", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "would post 2 message(s)" in result.stdout
    assert "pending 1 for C0ONE" in result.stdout
    assert slack.calls_to("chat.postMessage") == []
    assert {row.status for row in rows(database)} == {OutboxStatus.PENDING}


# -- mistakes ----------------------------------------------------------------------------------------

def test_an_unknown_job_exits_2_naming_the_jobs(env, workdir, slack):
    result = rapport("jobs", "run", "weekly-digets", env=env, cwd=workdir)
    assert result.returncode == 2
    assert "no job named 'weekly-digets'" in result.stderr
    jobs = ("deliver, delay-followups, stale-nudges, meeting-reminders, meeting-followups, promise-reminders, "
            "weekly-digest, "
            "housekeeping")
    assert jobs in result.stderr
    assert "Traceback" not in result.stderr
    assert slack.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("now", ["next monday", "2026-13-01T09:00", "30/11/2026 09:05"])
def test_a_bad_now_exits_2_with_an_example(env, workdir, database, slack, now):
    seed_clients(database)
    result = rapport("jobs", "run", "weekly-digest", "--now", now, env=env, cwd=workdir)
    assert result.returncode == 2
    assert f"--now {now!r} is not an ISO-8601 time" in result.stderr
    assert "2026-11-30T09:05" in result.stderr  # an example of what works
    assert "Traceback" not in result.stderr
    assert outbox_count(database) == 0


def test_a_real_run_without_a_token_exits_2_naming_it(env, workdir, database, slack):
    seed_clients(database)
    env = {key: value for key, value in env.items() if key != "SLACK_BOT_TOKEN"}
    result = rapport("jobs", "run", "weekly-digest", "--now", MONDAY_0905, env=env, cwd=workdir)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "--dry-run" in result.stderr
    assert outbox_count(database) == 0
    assert slack.calls_to("chat.postMessage") == []


# -- rapport outbox --------------------------------------------------------------------------------

def test_outbox_lists_a_failed_message_and_retry_queues_it_again(env, workdir, database, slack):
    empty = rapport("outbox", env=env, cwd=workdir)
    assert empty.returncode == 0, empty.stderr
    assert "Nothing pending or failed" in empty.stdout

    [row_id] = queue(database, "C0GONE", 1)
    slack.fail("chat.postMessage", error="channel_not_found")
    delivered = rapport("jobs", "run", "deliver", env=env, cwd=workdir)
    assert delivered.returncode == 0, delivered.stderr
    assert "1 failed" in delivered.stdout
    failed = {row.id: row for row in rows(database)}[row_id]
    assert failed.status == OutboxStatus.FAILED
    assert "channel_not_found" in failed.error
    # The managers were told, once.
    [notice] = slack.posted(MANAGERS)
    assert f"rapport outbox retry {row_id}" in message_text(notice)

    listed = rapport("outbox", env=env, cwd=workdir)
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if "C0GONE" in line]
    assert line.split()[:3] == [str(row_id), "failed", "C0GONE"]
    assert "channel_not_found" in line
    assert "1 failed" in listed.stdout
    assert "rapport outbox retry <id>" in listed.stdout

    retried = rapport("outbox", "retry", str(row_id), env=env, cwd=workdir)
    assert retried.returncode == 0, retried.stderr
    assert f"#{row_id}" in retried.stdout and "queued again" in retried.stdout
    row = {row.id: row for row in rows(database)}[row_id]
    assert (row.status, row.attempts, row.error) == (OutboxStatus.PENDING, 0, None)

    again = rapport("outbox", "retry", str(row_id), env=env, cwd=workdir)
    assert again.returncode == 2
    assert "not failed" in again.stderr
    missing = rapport("outbox", "retry", "999999", env=env, cwd=workdir)
    assert missing.returncode == 2
    assert "no outbox message #999999" in missing.stderr

    # The channel is fixed: the next delivery posts it, once.
    delivered = rapport("jobs", "run", "deliver", env=env, cwd=workdir)
    assert delivered.returncode == 0, delivered.stderr
    assert [message["text"] for message in slack.posted("C0GONE")] == ["msg 0 for C0GONE"]
    assert posted_ids(slack)[row_id] == 1
    assert {row.status for row in rows(database)} == {OutboxStatus.SENT}
    assert "Nothing pending or failed" in rapport("outbox", env=env, cwd=workdir).stdout


# -- SIGKILL in the middle of delivery --------------------------------------------------------------

def assert_each_delivered_once(database, slack, ids: list[int]) -> None:
    counts = posted_ids(slack)
    twice = {outbox_id: n for outbox_id, n in counts.items() if n > 1}
    assert not twice, f"posted more than once: {twice}"
    assert sorted(counts) == sorted(ids), "some message never arrived"
    assert {row.id: row.status for row in rows(database)} == dict.fromkeys(ids, OutboxStatus.SENT)


def test_sigkill_while_slack_answers_a_post_then_restart_delivers_each_once(env, workdir, database, slack,
                                                                              tmp_path):
    ids = queue(database, "C0ONE", 4) + queue(database, "C0TWO", 4)
    slack.pass_through("chat.postMessage", times=3)
    slack.slow("chat.postMessage", 10)  # the 4th post lands in the channel, the answer comes late
    log = tmp_path / "deliver.log"
    process = start_deliver(env, workdir, log)
    try:
        calls = slack.wait_for("chat.postMessage", count=4, timeout=TIMEOUT)
        assert len(calls) == 4, log.read_text()
        kill(process)
    finally:
        stop(process)
    slow_id = calls[3].args["metadata"]["event_payload"]["outbox_id"]
    wait_until(lambda: posted_ids(slack)[slow_id] == 1, "the slow post to land")
    # The crash fell between the post and its confirmation: the row is left "sending".
    assert [row.id for row in rows(database) if row.status == OutboxStatus.SENDING] == [slow_id]

    result = rapport("jobs", "run", "deliver", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "1 confirmed after a restart" in result.stdout
    assert_each_delivered_once(database, slack, ids)
    # Each channel's messages arrived in the order they were queued.
    for channel in ("C0ONE", "C0TWO"):
        assert [m["text"] for m in slack.posted(channel)] == [f"msg {n} for {channel}" for n in range(4)]


def test_sigkill_at_arbitrary_points_of_paced_delivery_then_restart_delivers_each_once(env, workdir, database,
                                                                                       slack, tmp_path):
    ids = queue(database, "C0ONE", 5) + queue(database, "C0TWO", 5)
    log = tmp_path / "deliver.log"
    kills = 0
    for kill_at in (2, 5, 8):  # killed as soon as Slack has seen this many posts in all
        process = start_deliver(env, workdir, log)
        try:
            calls = slack.wait_for("chat.postMessage", count=kill_at, timeout=TIMEOUT)
            if len(calls) >= kill_at and process.poll() is None:
                kill(process)
                kills += 1
        finally:
            stop(process)
        assert not [n for n in posted_ids(slack).values() if n > 1], log.read_text()
    assert kills >= 2, f"the deliveries finished before they could be killed:\n{log.read_text()}"

    result = rapport("jobs", "run", "deliver", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert_each_delivered_once(database, slack, ids)
    for channel in ("C0ONE", "C0TWO"):
        assert [m["text"] for m in slack.posted(channel)] == [f"msg {n} for {channel}" for n in range(5)]


# -- one workspace's failure in a job run does not stop the others -------------------------------------------

def test_a_workspace_whose_data_breaks_the_job_is_skipped_and_the_others_get_their_digest(database, env,
                                                                                         workdir, slack):
    seed_clients(database, ["Acme Biologics"])  # workspace T0ACME
    with database.transaction() as session:
        add_client(session, Actor("T0BETA", "U0BEA", "cli"), "Beta Pharma", owner_user_id="U0BEA")
        # Data no command can write any more (a zone name the zone database dropped): the digest can't be made.
        session.execute(update(Client).where(Client.team_id == "T0ACME").values(timezone="Mars/Olympus_Mons"))
    result = rapport("jobs", "run", "weekly-digest", "--now", MONDAY_0905, env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "queued 1 message(s); 1 workspace(s) failed, see the log: T0ACME" in result.stdout
    assert "the work for workspace T0ACME failed and was rolled back" in result.stderr
    [digest] = digests(slack)
    assert "Beta Pharma" in message_text(digest) and "Acme" not in message_text(digest)
    assert [(row.team_id, row.status) for row in rows(database)] == [("T0BETA", OutboxStatus.SENT)]
