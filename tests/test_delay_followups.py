"""`delay-followups` run by hand as a process (`rapport jobs run delay-followups --now ...`) against the test
database and the local Slack: a schedule change not told to the client within the disclosure window (4 business
hours by default) nudges the owner once in the internal channel; after one business day (8 business hours) it is
escalated once to the managers channel; nothing is posted outside business hours, after the client was told, or
to a channel the client shares with us."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.commands import REGISTRY, Context
from bot.commands.changes import mark_change_told
from bot.config import Settings
from bot.db.models import Client, OutboxMessage, OutboxStatus, ScheduleChange, utcnow
from bot.services import Actor
from bot.services.changes import mark_told, record_change
from bot.services.clients import add_client, archive_client, update_client
from bot.services.outbox import enqueue
from jobs.delay_followups import NAME, plan
from tests.conftest import env_for_subprocess
from tests.slackhttp import message_text
from tests.test_cli import rapport_command

TIMEOUT = 120  # seconds; only so that a hung process fails instead of hanging the suite
BERLIN = ZoneInfo("Europe/Berlin")
TEAM = "T0ACME"
OWNER = "U0ANA"
ACTOR = Actor(team_id=TEAM, user_id=OWNER, surface="slash_command")
INTERNAL = "C0ACMEINT"
SHARED = "C0ACMESHARED"
MANAGERS = "C0MANAGERS"
NUDGE_WORDS = "has not been told to the client"
ESCALATION_WORDS = "Escalation: schedule change"


def berlin(day: int, hour: int, minute: int = 0, *, month: int = 11) -> dt.datetime:
    """A moment in 2026, Berlin time (CET, UTC+1, in Nov/Dec). 30 Nov 2026 is a Monday, 4 Dec a Friday."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


MONDAY_1000 = berlin(30, 10)


# -- helpers ---------------------------------------------------------------------------------------

@pytest.fixture
def env(database_url, slack) -> dict[str, str]:
    return env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_MANAGERS_CHANNEL=MANAGERS)


def seed_client(database, *, name: str = "Acme Biologics", internal: str | None = INTERNAL,
                shared: str | None = None, timezone: str | None = "Europe/Berlin") -> int:
    with database.transaction() as session:
        client = add_client(session, ACTOR, name, owner_user_id=OWNER, internal_channel_id=internal,
                            timezone=timezone)
        if shared:
            update_client(session, ACTOR, client, {"shared_channel_id": shared})
        return client.id


def log_change(database, client_id: int, logged_at: dt.datetime, *, item: str = "Lot 42 fill",
               new_date: dt.date = dt.date(2026, 12, 18), reason: str = "Media lot failed release testing") -> int:
    """Record a change as `/cmo delay` does, logged at a fixed moment so that --now values are meaningful."""
    with database.transaction() as session:
        client = session.get(Client, client_id)
        change = record_change(session, ACTOR, client, item=item, new_date=new_date, reason=reason,
                               today=logged_at.astimezone(BERLIN).date(), old_date=dt.date(2026, 12, 11))
        change.logged_at = logged_at
        session.flush()
        return change.id


def run_job(env: dict[str, str], cwd: Path, now: dt.datetime, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run([*rapport_command(), "jobs", "run", NAME, "--now", now.isoformat(), *extra],
                            capture_output=True, text=True, env=env, cwd=cwd, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def tell(database, change_id: int, now: dt.datetime) -> None:
    """`/cmo told #<id>`, the path every surface shares (the command, the button, the draft)."""
    with database.transaction() as session:
        ctx = Context(session, ACTOR, Settings(timezone=BERLIN.key), now=now)
        mark_change_told(ctx, change_id, how="phone call with their QA lead")


def nudges(slack, channel: str = INTERNAL) -> list[dict]:
    return [m for m in slack.posted(channel) if NUDGE_WORDS in message_text(m)]


def escalations(slack) -> list[dict]:
    return [m for m in slack.posted(MANAGERS) if ESCALATION_WORDS in message_text(m)]


def buttons(message: dict) -> dict[str, str]:
    """action_id -> value of the buttons on a posted message."""
    return {element["action_id"]: element.get("value") for block in message.get("blocks") or []
            if block.get("type") == "actions" for element in block["elements"]}


def outbox_rows(database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def backoff_elapsed(database) -> None:
    """As if the retry backoff of every waiting row had passed (no sleeping in tests)."""
    with database.transaction() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - dt.timedelta(minutes=1)))


def deliver(env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run([*rapport_command(), "jobs", "run", "deliver"], capture_output=True, text=True,
                            env=env, cwd=cwd, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr


def outbox_count(database) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage))


# -- the window, the nudge, the escalation ---------------------------------------------------------

def test_nudge_after_the_window_then_one_escalation_after_a_business_day(env, workdir, database, slack):
    client_id = seed_client(database)
    change_id = log_change(database, client_id, MONDAY_1000)

    # 3 h 59 min of business time: inside the disclosure window.
    early = run_job(env, workdir, berlin(30, 13, 59))
    assert "queued 0 message(s)" in early.stdout
    assert slack.posted() == []
    assert outbox_count(database) == 0

    # 4 business hours: one nudge to the owner in the internal channel, with the buttons.
    due = run_job(env, workdir, berlin(30, 14))
    assert "queued 1 message(s)" in due.stdout
    assert "1 delivered" in due.stdout
    [nudge] = slack.posted(INTERNAL)
    shown = message_text(nudge)
    assert NUDGE_WORDS in shown
    assert f"<@{OWNER}>" in shown
    assert f"#{change_id}" in shown
    assert "Lot 42 fill" in shown
    assert "4 business hours" in shown
    assert buttons(nudge) == {"change_told": str(change_id), "change_draft": str(change_id)}
    assert slack.posted(MANAGERS) == []

    # Later the same day: still untold, but the nudge is not repeated, and it is not yet a business day.
    again = run_job(env, workdir, berlin(30, 16, 30))
    assert "queued 0 message(s), 1 already queued before" in again.stdout
    assert len(slack.posted(INTERNAL)) == 1
    assert slack.posted(MANAGERS) == []

    # The next morning at 09:59: 7 h 59 min of business time, still no escalation.
    run_job(env, workdir, berlin(1, 9, 59, month=12))
    assert slack.posted(MANAGERS) == []

    # 8 business hours (Mon 10-17, Tue 9-10): one escalation to the managers.
    run_job(env, workdir, berlin(1, 10, month=12))
    [escalation] = slack.posted(MANAGERS)
    shown = message_text(escalation)
    assert ESCALATION_WORDS in shown
    assert f"#{change_id}" in shown
    assert "Acme Biologics" in shown
    assert f"<@{OWNER}>" in shown
    assert "8 business hours" in shown
    assert len(slack.posted(INTERNAL)) == 1  # the nudge is not repeated with the escalation

    # Again, later: nothing more, anywhere.
    for now in (berlin(1, 10, month=12), berlin(1, 15, month=12), berlin(3, 11, month=12)):
        run_job(env, workdir, now)
    assert len(slack.posted(MANAGERS)) == 1
    assert len(slack.posted(INTERNAL)) == 1
    assert len(slack.calls_to("chat.postMessage")) == 2
    assert sorted(row.dedupe_key for row in outbox_rows(database)) == [f"change:{change_id}:escalate",
                                                                         f"change:{change_id}:nudge"]
    assert {row.status for row in outbox_rows(database)} == {OutboxStatus.SENT}


def test_each_untold_change_is_followed_up_on_its_own(env, workdir, database, slack):
    client_id = seed_client(database)
    first = log_change(database, client_id, MONDAY_1000, item="Lot 42 fill")
    second = log_change(database, client_id, berlin(30, 13), item="Stability pull T6")

    run_job(env, workdir, berlin(30, 14))
    assert [f"#{first}" in message_text(m) for m in nudges(slack)] == [True]

    run_job(env, workdir, berlin(30, 16))  # 16:00: 3 business hours for the second
    assert len(nudges(slack)) == 1

    run_job(env, workdir, berlin(1, 9, month=12))  # Tue 09:00: second at 4 h (13-17)
    assert len(nudges(slack)) == 2
    assert f"#{second}" in message_text(nudges(slack)[1])
    assert "Stability pull T6" in message_text(nudges(slack)[1])


# -- business hours only -----------------------------------------------------------------------------

def test_nothing_is_posted_in_the_evening_even_when_due_then_it_is_the_next_morning(env, workdir, database, slack):
    client_id = seed_client(database)
    log_change(database, client_id, MONDAY_1000)

    for evening in (berlin(30, 17), berlin(30, 20), berlin(1, 8, 59, month=12)):  # 7 business hours each
        result = run_job(env, workdir, evening)
        assert "queued 0 message(s)" in result.stdout
    assert slack.posted() == []
    assert outbox_count(database) == 0

    run_job(env, workdir, berlin(1, 9, month=12))  # Tuesday 09:00: 7 business hours, nudge only
    assert len(nudges(slack)) == 1
    assert slack.posted(MANAGERS) == []


def test_nothing_is_posted_on_the_weekend_even_when_due_then_it_is_on_monday_morning(env, workdir, database, slack):
    client_id = seed_client(database)
    log_change(database, client_id, berlin(4, 10, month=12))  # Friday 10:00

    for weekend in (berlin(5, 12, month=12), berlin(6, 10, month=12)):  # Saturday, Sunday: 7 business hours
        result = run_job(env, workdir, weekend)
        assert "queued 0 message(s)" in result.stdout
    assert slack.posted() == []
    assert outbox_count(database) == 0

    run_job(env, workdir, berlin(7, 9, month=12))  # Monday 09:00: the nudge, not the escalation yet
    assert len(nudges(slack)) == 1
    assert slack.posted(MANAGERS) == []

    run_job(env, workdir, berlin(7, 10, month=12))  # Fri 10-17 + Mon 9-10 = 8 business hours
    assert len(escalations(slack)) == 1
    assert len(nudges(slack)) == 1


def test_a_weekend_in_the_middle_counts_only_business_hours(env, workdir, database, slack):
    client_id = seed_client(database)
    log_change(database, client_id, berlin(4, 16, month=12))  # Friday 16:00: one business hour left that day

    run_job(env, workdir, berlin(7, 11, 59, month=12))  # Monday 11:59: 1 h + 2 h 59 min
    assert slack.posted() == []

    run_job(env, workdir, berlin(7, 12, month=12))  # 1 h + 3 h
    assert len(nudges(slack)) == 1
    assert slack.posted(MANAGERS) == []

    run_job(env, workdir, berlin(7, 15, 59, month=12))
    assert slack.posted(MANAGERS) == []

    run_job(env, workdir, berlin(7, 16, month=12))  # 1 h + 7 h
    assert len(escalations(slack)) == 1


def test_business_hours_are_the_clients_not_the_workspace_default(env, workdir, database, slack):
    """The workspace default is New York; the client is in Berlin: 15:00 in Berlin is 09:00 in New York."""
    env = {**env, "RAPPORT_TIMEZONE": "America/New_York"}
    berlin_id = seed_client(database)
    default_id = seed_client(database, name="Borealis Pharma", internal="C0BOREALIS", timezone=None)
    log_change(database, berlin_id, MONDAY_1000)
    log_change(database, default_id, MONDAY_1000)  # 04:00 in New York: its window starts at 09:00 there

    run_job(env, workdir, berlin(30, 14))  # 08:00 in New York: outside its business hours
    assert len(nudges(slack)) == 1
    assert nudges(slack, "C0BOREALIS") == []

    run_job(env, workdir, berlin(30, 19))  # 13:00 in New York, 4 h there; 19:00 in Berlin
    assert len(nudges(slack, "C0BOREALIS")) == 1
    assert len(nudges(slack)) == 1


# -- told ------------------------------------------------------------------------------------------------

def test_after_told_nothing_more_is_posted(env, workdir, database, slack):
    client_id = seed_client(database)
    change_id = log_change(database, client_id, MONDAY_1000)
    run_job(env, workdir, berlin(30, 14))
    assert len(nudges(slack)) == 1

    with database.transaction() as session:  # `/cmo told #<id>` as typed
        ctx = Context(session, ACTOR, Settings(timezone=BERLIN.key), now=berlin(30, 15))
        REGISTRY.execute(REGISTRY.parse(f'told #{change_id} how:"call with their QA lead"'), ctx)

    for now in (berlin(1, 10, month=12), berlin(1, 16, month=12), berlin(7, 10, month=12)):
        result = run_job(env, workdir, now)
        assert "queued 0 message(s)" in result.stdout
    assert slack.posted(MANAGERS) == []
    # The only post after the nudge is the command's own "client told" notice in the internal channel.
    texts = [message_text(m) for m in slack.posted(INTERNAL)]
    assert len(texts) == 2
    assert NUDGE_WORDS in texts[0]
    assert "Client told" in texts[1] and NUDGE_WORDS not in texts[1]
    assert [row.dedupe_key for row in outbox_rows(database)] == [f"change:{change_id}:nudge",
                                                                 f"change:{change_id}:told"]


def test_told_before_the_window_means_no_nudge_at_all(env, workdir, database, slack):
    client_id = seed_client(database)
    change_id = log_change(database, client_id, MONDAY_1000)
    with database.transaction() as session:  # the service alone: the job itself skips what was told
        mark_told(session, ACTOR, session.get(ScheduleChange, change_id), how="email to QA")

    for now in (berlin(30, 14), berlin(1, 10, month=12), berlin(2, 16, month=12)):
        result = run_job(env, workdir, now)
        assert "queued 0 message(s)" in result.stdout
    assert slack.posted() == []
    assert outbox_count(database) == 0


def test_a_nudge_queued_but_not_delivered_is_cancelled_by_told_and_never_posted(env, workdir, database, slack):
    client_id = seed_client(database)
    change_id = log_change(database, client_id, MONDAY_1000)
    # Queued by the job's own planner, as the scheduler does between two deliveries; not delivered yet.
    settings = Settings(managers_channel=MANAGERS)
    with database.transaction() as session:
        [outgoing] = plan(session, settings, TEAM, berlin(30, 14))
        assert enqueue(session, team_id=outgoing.team_id, dedupe_key=outgoing.dedupe_key,
                       channel_id=outgoing.channel_id, message=outgoing.message, source=outgoing.source)
    [row] = outbox_rows(database)
    assert (row.status, row.dedupe_key, row.channel_id) == (OutboxStatus.PENDING, f"change:{change_id}:nudge", INTERNAL)

    tell(database, change_id, berlin(30, 14, 5))
    [row] = [r for r in outbox_rows(database) if r.dedupe_key == f"change:{change_id}:nudge"]
    assert row.status == OutboxStatus.CANCELLED

    run_job(env, workdir, berlin(1, 11, month=12))  # due for the escalation too, but told
    deliver(env, workdir)
    assert nudges(slack) == []
    assert slack.posted(MANAGERS) == []


def test_a_nudge_slack_did_not_take_is_cancelled_by_told_and_never_posted(env, workdir, database, slack):
    client_id = seed_client(database)
    change_id = log_change(database, client_id, MONDAY_1000)
    # Slack refuses for a while (a run by hand waits out only a short Retry-After, not two minutes).
    slack.fail("chat.postMessage", status=429, retry_after=120)
    run_job(env, workdir, berlin(30, 14))
    assert slack.posted() == []  # Slack was not taking it: the nudge is still to be delivered
    [row] = outbox_rows(database)
    assert row.dedupe_key == f"change:{change_id}:nudge"
    assert row.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)

    tell(database, change_id, berlin(30, 14, 30))
    backoff_elapsed(database)  # Slack is back, and the retry is due
    for now in (berlin(30, 16), berlin(1, 11, month=12)):
        run_job(env, workdir, now)
    deliver(env, workdir)
    assert nudges(slack) == []
    assert escalations(slack) == []
    assert {row.dedupe_key: row.status for row in outbox_rows(database)} == {
        f"change:{change_id}:nudge": OutboxStatus.CANCELLED, f"change:{change_id}:told": OutboxStatus.SENT}


# -- settings and edge cases -----------------------------------------------------------------------

def test_a_shorter_disclosure_window_moves_the_nudge_earlier(env, workdir, database, slack):
    env = {**env, "RAPPORT_DISCLOSURE_HOURS": "2"}
    client_id = seed_client(database)
    log_change(database, client_id, MONDAY_1000)

    run_job(env, workdir, berlin(30, 11, 59))
    assert slack.posted() == []
    run_job(env, workdir, berlin(30, 12))
    [nudge] = nudges(slack)
    assert "2 business hours" in message_text(nudge)
    assert slack.posted(MANAGERS) == []  # escalation stays at one business day
    run_job(env, workdir, berlin(1, 9, 59, month=12))
    assert slack.posted(MANAGERS) == []
    run_job(env, workdir, berlin(1, 10, month=12))
    assert len(escalations(slack)) == 1


def test_a_client_without_an_internal_channel_still_escalates(env, workdir, database, slack):
    client_id = seed_client(database, internal=None)
    change_id = log_change(database, client_id, MONDAY_1000)

    run_job(env, workdir, berlin(30, 14))
    assert slack.posted() == []  # nowhere to nudge

    run_job(env, workdir, berlin(1, 10, month=12))
    [escalation] = slack.posted(MANAGERS)
    assert f"#{change_id}" in message_text(escalation)
    assert [message for message in slack.posted() if message is not escalation] == []


def test_without_a_managers_channel_the_nudge_still_comes(env, workdir, database, slack):
    env = {key: value for key, value in env.items() if key != "RAPPORT_MANAGERS_CHANNEL"}
    client_id = seed_client(database)
    log_change(database, client_id, MONDAY_1000)
    run_job(env, workdir, berlin(1, 11, month=12))
    assert len(nudges(slack)) == 1
    assert slack.posted(MANAGERS) == []


def test_dry_run_prints_the_nudge_and_writes_nothing(env, workdir, database, slack):
    client_id = seed_client(database)
    change_id = log_change(database, client_id, MONDAY_1000)

    result = run_job(env, workdir, berlin(30, 14), "--dry-run")
    assert "would post 1 message(s)" in result.stdout
    assert f"[change:{change_id}:nudge]" in result.stdout
    assert "#C0ACMEINT" in result.stdout
    assert NUDGE_WORDS in result.stdout
    assert f"@{OWNER}" in result.stdout
    assert "[Mark client told]" in result.stdout
    assert outbox_count(database) == 0
    assert slack.calls_to("chat.postMessage") == []

    # Nothing was remembered: the real run posts it.
    run_job(env, workdir, berlin(30, 14))
    assert len(nudges(slack)) == 1


def test_dry_run_at_escalation_time_shows_both(env, workdir, database, slack):
    client_id = seed_client(database)
    change_id = log_change(database, client_id, MONDAY_1000)
    result = run_job(env, workdir, berlin(1, 10, month=12), "--dry-run")
    assert "would post 2 message(s)" in result.stdout
    assert f"[change:{change_id}:nudge]" in result.stdout
    assert f"[change:{change_id}:escalate]" in result.stdout
    assert "#C0MANAGERS" in result.stdout
    assert outbox_count(database) == 0


def test_nothing_is_ever_posted_to_the_clients_shared_channel(env, workdir, database, slack):
    client_id = seed_client(database, shared=SHARED)
    change_id = log_change(database, client_id, MONDAY_1000)
    for now in (berlin(30, 14), berlin(1, 10, month=12)):
        run_job(env, workdir, now)
    tell(database, change_id, berlin(1, 11, month=12))
    run_job(env, workdir, berlin(1, 12, month=12))

    assert len(nudges(slack)) == 1
    assert len(escalations(slack)) == 1
    assert slack.posted(SHARED) == []
    assert all(call.args.get("channel") != SHARED for call in slack.calls)
    assert all(row.channel_id != SHARED for row in outbox_rows(database))


def test_an_archived_clients_changes_are_not_followed_up(env, workdir, database, slack):
    client_id = seed_client(database)
    log_change(database, client_id, MONDAY_1000)
    with database.transaction() as session:
        archive_client(session, ACTOR, session.get(Client, client_id))
    run_job(env, workdir, berlin(1, 11, month=12))
    assert slack.posted() == []


def test_a_client_whose_internal_channel_is_its_shared_channel_gets_nothing_and_others_still_do(
        env, workdir, database, slack):
    """Misconfigured (the internal channel set to the Slack Connect channel): never post there, and
    don't let it stop the follow-ups of every other client."""
    acme_id = seed_client(database)
    # `/cmo client set` refuses this now; a database from before that check may still hold it.
    mixed_id = seed_client(database, name="Borealis Pharma", internal="C0BOREALIS")
    with database.transaction() as session:
        session.get(Client, mixed_id).shared_channel_id = "C0BOREALIS"
    log_change(database, mixed_id, MONDAY_1000)
    log_change(database, acme_id, MONDAY_1000)

    run_job(env, workdir, berlin(1, 10, month=12))
    assert slack.posted("C0BOREALIS") == []
    assert len(nudges(slack)) == 1
    assert len(escalations(slack)) == 2  # the managers still hear about both
