"""Issue 11, parts 1 and 2: nothing internal reaches a channel shared with another organisation, and what
the bot posts in a client's channel concerns that client only.

Slack (the local fake) says which channels are shared (`conversations.info`); the bot is driven with signed
requests, the jobs with `rapport jobs run` in this process, the delivery worker directly."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from sqlalchemy import select, update

from bot.blocks import Message
from bot.db.models import Client, Meeting, OutboxMessage, OutboxStatus
from bot.delivery import DeliveryWorker
from bot.services import Actor
from bot.services.clients import add_client
from bot.services.outbox import CLIENT_MESSAGE, enqueue
from tests.commands_support import assert_error, channel_link, client_row, shown, table_counts, typed
from tests.conftest import SIGNING_SECRET, env_for_subprocess, rapport_in_process
from tests.slackhttp import conversation_select, message_text, static_select
from tests.test_cli import free_port, rapport_command
from tests.test_delivery import deliver_until_settled, make_client
from tests.test_modals_http import open_form

TEAM = "T0ACME"
MANAGERS = "C0MANAGERS"
ACME_INT, BORE_INT = "C0ACMEINT", "C0BOREINT"
EXT = "C0ACMEEXT"  # a Slack Connect channel shared with Acme
INFO = "conversations.info"
FLAGS = ("is_ext_shared", "is_shared", "is_org_shared", "is_pending_ext_shared")


def worker(database, slack, **options) -> DeliveryWorker:
    options = {"managers_channel": MANAGERS, "per_channel_interval": 0.0, "base_backoff": 0.05,
               "max_backoff": 0.2, **options}
    return DeliveryWorker(database, make_client(slack), **options)


def queue(database, key: str, channel: str, *, source: str = "test", text: str | None = None) -> int:
    with database.transaction() as session:
        assert enqueue(session, team_id=TEAM, dedupe_key=key, channel_id=channel,
                       message=Message(text=text or f"message {key}"), source=source)
        return session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))


def outbox_row(database, outbox_id: int) -> OutboxMessage:
    with database.transaction() as session:
        return session.get(OutboxMessage, outbox_id)


# -- part 1: configuring a channel ------------------------------------------------------------------------

@pytest.mark.parametrize("flag", FLAGS)
def test_client_add_refuses_a_shared_internal_channel(bot, database, slack, flag):
    slack.shared_channels = {EXT: {flag: True}}
    before = table_counts(database)
    response = bot.command("client add " + typed(f"Acme key:acme channel:{channel_link(EXT, 'acme-ext')}"))
    text = assert_error(response, "shared with another organisation", flag, form=None)
    assert "internal channel" in text
    assert table_counts(database) == before  # nothing written
    assert [call.args["channel"] for call in slack.calls_to(INFO)] == [EXT]


def test_client_add_with_an_internal_channel_asks_slack_and_is_accepted(bot, database, slack):
    slack.shared_channels = {EXT}
    text = f"Acme key:acme owner:<@U0ANA> channel:{channel_link(ACME_INT, 'a')}"
    assert "Added" in shown(bot.command("client add " + typed(text)))
    assert client_row(database, "acme").internal_channel_id == ACME_INT
    assert [call.args["channel"] for call in slack.calls_to(INFO)] == [ACME_INT]


def test_client_set_refuses_a_shared_internal_channel_but_takes_it_as_the_shared_channel(bot, database, slack):
    slack.shared_channels = {EXT}
    shown(bot.command("client add " + typed(f"Acme key:acme owner:<@U0ANA> channel:{channel_link(ACME_INT, 'a')}")))
    before = table_counts(database)
    response = bot.command("client set " + typed(f"acme channel:{channel_link(EXT, 'acme-ext')}"))
    assert_error(response, "shared with another organisation", "Acme's internal channel", form=None)
    assert table_counts(database) == before
    assert client_row(database, "acme").internal_channel_id == ACME_INT
    # The Slack Connect channel is what `shared:` is for.
    assert "Updated" in shown(bot.command("client set " + typed(f"acme shared:{channel_link(EXT, 'acme-ext')}")))
    assert client_row(database, "acme").shared_channel_id == EXT


@pytest.mark.parametrize("fault", ["error", "unknown"])
def test_a_channel_slack_cannot_be_asked_about_is_refused_not_guessed(bot, database, slack, fault):
    shown(bot.command("client add " + typed("Acme key:acme owner:<@U0ANA>")))
    if fault == "error":
        slack.fail(INFO, status=500, error="internal_error")
    else:
        slack.unknown_channels.add(ACME_INT)
    before = table_counts(database)
    response = bot.command("client set " + typed(f"acme channel:{channel_link(ACME_INT, 'a')}"))
    assert_error(response, "Could not ask Slack", form=None)
    assert table_counts(database) == before
    assert client_row(database, "acme").internal_channel_id is None


def test_the_client_set_form_refuses_a_shared_internal_channel(bot, database, slack, monkeypatch):
    slack.shared_channels = {EXT}
    shown(bot.command("client add " + typed(f"Acme key:acme owner:<@U0ANA> channel:{channel_link(ACME_INT, 'a')}")))
    view = open_form(bot, slack, monkeypatch, "client set")
    response = bot.submit_view(view, {"client": static_select("acme"), "channel": conversation_select(EXT)})
    assert response.status == 200
    assert response.json["response_action"] == "errors", response.json
    assert "shared with another organisation" in " ".join(response.json["errors"].values())
    assert client_row(database, "acme").internal_channel_id == ACME_INT


def test_meeting_add_refuses_a_shared_channel(bot, database, slack):
    slack.shared_channels = {EXT}
    shown(bot.command("client add " + typed(f"Acme key:acme owner:<@U0ANA> channel:{channel_link(ACME_INT, 'a')}")))
    before = table_counts(database)
    response = bot.command("meeting add " + typed(f'acme "Weekly" every:week on:mon at:10:00 '
                                                  f"channel:{channel_link(EXT, 'acme-ext')}"))
    assert_error(response, "shared with another organisation", "meeting's channel", form=None)
    assert table_counts(database) == before
    with database.transaction() as session:
        assert session.scalars(select(Meeting)).all() == []


def test_rapport_run_stops_when_the_managers_channel_is_shared(tmp_path, workdir, slack):
    slack.shared_channels = {"C0MGRSEXT": {"is_org_shared": True}}
    env = env_for_subprocess("sqlite:///" + str(tmp_path / "run.db"), slack, SLACK_BOT_TOKEN="xoxb-test-token",
                             SLACK_SIGNING_SECRET=SIGNING_SECRET, RAPPORT_MANAGERS_CHANNEL="C0MGRSEXT",
                             PORT=str(free_port()))
    result = subprocess.run([*rapport_command(), "run"], capture_output=True, text=True, env=env, cwd=workdir,
                            timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "RAPPORT_MANAGERS_CHANNEL C0MGRSEXT is shared with another organisation" in result.stderr
    assert "Traceback" not in result.stderr


def test_rapport_scheduler_stops_too_but_goes_on_when_slack_cannot_say(tmp_path, workdir, slack):
    slack.shared_channels = {"C0MGRSEXT": {"is_ext_shared": True}}
    env = env_for_subprocess("sqlite:///" + str(tmp_path / "run.db"), slack, SLACK_BOT_TOKEN="xoxb-test-token",
                             RAPPORT_MANAGERS_CHANNEL="C0MGRSEXT")
    result = subprocess.run([*rapport_command(), "scheduler"], capture_output=True, text=True, env=env, cwd=workdir,
                            timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "RAPPORT_MANAGERS_CHANNEL C0MGRSEXT is shared with another organisation" in result.stderr

    slack.fail("conversations.info", times=5, status=500)
    env["RAPPORT_MANAGERS_CHANNEL"] = "C0MANAGERS"
    process = subprocess.Popen([*rapport_command(), "scheduler"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, cwd=workdir)
    try:
        with pytest.raises(subprocess.TimeoutExpired):  # still running: Slack being down does not stop it
            process.wait(timeout=4)
    finally:
        process.terminate()
        process.wait(timeout=30)


# -- part 1: at delivery -----------------------------------------------------------------------------------

def test_a_channel_that_became_shared_gets_nothing_and_the_managers_are_told(database, slack):
    outbox_id = queue(database, "nudge", ACME_INT, text="Acme internal: lot 7 slips")
    slack.shared_channels = {ACME_INT}  # shared after it was configured
    deliver_until_settled(worker(database, slack), database)
    assert slack.posted(ACME_INT) == []
    row = outbox_row(database, outbox_id)
    assert row.status == OutboxStatus.FAILED
    assert "shared with another organisation" in row.error
    assert len(slack.posted(MANAGERS)) == 1  # the failure notice


def test_the_check_at_delivery_is_cached_for_a_while(database, slack):
    deliverer = worker(database, slack)
    for n in range(3):
        queue(database, f"m{n}", ACME_INT)
        deliver_until_settled(deliverer, database)
    assert len(slack.posted(ACME_INT)) == 3
    assert len(slack.calls_to(INFO)) == 1


def test_a_client_message_still_goes_to_the_clients_shared_channel(database, slack):
    with database.transaction() as session:
        client = add_client(session, Actor(TEAM, "U0ANA", "cli"), "Acme", internal_channel_id=ACME_INT)
        client.shared_channel_id = EXT
    slack.shared_channels = {EXT}
    outbox_id = queue(database, "to-client", EXT, source=CLIENT_MESSAGE, text="Dear Acme")
    deliver_until_settled(worker(database, slack), database)
    assert [message_text(m) for m in slack.posted(EXT)] == ["Dear Acme"]
    assert outbox_row(database, outbox_id).status == OutboxStatus.SENT


def test_a_managers_channel_that_became_shared_gets_nothing(database, slack):
    outbox_id = queue(database, "digest", MANAGERS, text="Portfolio: Acme red, Borealis green")
    slack.shared_channels = {MANAGERS}
    deliver_until_settled(worker(database, slack), database)
    assert slack.posted(MANAGERS) == []
    assert "shared with another organisation" in outbox_row(database, outbox_id).error


def test_slack_not_answering_at_delivery_holds_the_post_until_it_can_be_asked(database, slack):
    outbox_id = queue(database, "later", ACME_INT)
    slack.fail(INFO, status=500, error="internal_error")
    deliverer = worker(database, slack)
    deliverer.deliver(max_seconds=5)
    row = outbox_row(database, outbox_id)
    assert (row.status, slack.posted(ACME_INT)) == (OutboxStatus.PENDING, [])
    assert "could not ask Slack" in row.error
    deliver_until_settled(deliverer, database)
    assert len(slack.posted(ACME_INT)) == 1


# -- part 2: segregation -----------------------------------------------------------------------------------

NAMES = {ACME_INT: ("Acme Biologics", "acme"), BORE_INT: ("Borealis Pharma", "bore")}


def next_monday(weeks_ahead: int = 4) -> dt.date:
    today = dt.datetime.now(dt.UTC).date()
    return today + dt.timedelta(days=(7 - today.weekday()) % 7 + 7 * weeks_ahead)


def run_job(monkeypatch, workdir, env: dict[str, str], job: str, now: dt.datetime) -> str:
    code, output = rapport_in_process(monkeypatch, workdir, env, "jobs", "run", job, "--now", now.isoformat())
    assert code == 0, output
    return output


def assert_segregated(slack) -> None:
    for channel in NAMES:
        texts = [message_text(m) for m in slack.posted(channel)]
        others = [other for c, other in NAMES.items() if c != channel]
        for text in texts:
            for other_name, other_key in others:
                assert other_name not in text, (channel, text)
                assert other_name.split()[0] not in text, (channel, text)
                assert f"`{other_key}`" not in text, (channel, text)


def test_another_clients_name_never_lands_in_a_clients_channel(bot, database, database_url, slack, workdir,
                                                              monkeypatch):
    for user in ("U0ANA", "U0BOB"):
        slack.user_zones[user] = "UTC"
    monday = next_monday()
    for (channel, (name, key)), owner in zip(NAMES.items(), ("U0ANA", "U0BOB"), strict=True):
        first = name.split()[0]
        shown(bot.command("client add " + typed(f'"{name}" key:{key} owner:<@{owner}> channel:<#{channel}> '
                                                "cadence:1w")))
        shown(bot.command("delay " + typed(f'{key} {first} lot 7 fill to:+60d reason:"{first} QC hold"')))
        shown(bot.command("meeting add " + typed(f'{key} "{first} review" every:week on:mon at:15:00 tz:UTC')))
        shown(bot.command("promise " + typed(f'{key} "{first} CoA copy" due:+3d')))
        shown(bot.command("log " + typed(f"{key} call {first} asked about the audit")))
    # Commands that answer with a portfolio, typed in a client's channel: ephemeral, nothing posted there.
    for command in ("status", "client list", "changes", "promises", "meeting list"):
        response = bot.command(command, channel=ACME_INT)
        assert response.json.get("response_type") == "ephemeral", (command, response.json)
    slack.wait_for("chat.postMessage", count=2)  # the two schedule-change announcements
    assert_segregated(slack)

    env = env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_MANAGERS_CHANNEL=MANAGERS)
    with database.transaction() as session:  # both went quiet long ago
        session.execute(update(Client).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=90)))
    at = dt.datetime.combine(monday, dt.time(14, 5), dt.UTC)
    for job in ("stale-nudges", "delay-followups", "meeting-reminders", "promise-reminders", "weekly-digest"):
        run_job(monkeypatch, workdir, env, job, at)
    run_job(monkeypatch, workdir, env, "meeting-followups", at + dt.timedelta(days=1))
    for channel, (name, _key) in NAMES.items():  # each job posted in each channel: the test proves something
        posted = "\n".join(message_text(m) for m in slack.posted(channel))
        for words in (f"{name}: no contact for", f"not told to {name}", "starts in", f"to *{name}* was due"):
            assert words in posted, (channel, words, posted)
    assert_segregated(slack)
    # The portfolio (the digest) went to the managers channel only, and names both clients there.
    managers = "\n".join(message_text(m) for m in slack.posted(MANAGERS))
    assert "Acme" in managers and "Borealis" in managers
    for channel in NAMES:
        assert not any("digest" in message_text(m).lower() for m in slack.posted(channel))
