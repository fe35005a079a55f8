"""Stale-communication nudges (issue 9), driven the way an operator drives them: `rapport jobs run stale-nudges
--now ...` (the real CLI entry point, in this process so that weeks can be simulated quickly) against the test
database and the local Slack; the buttons and `/cmo snooze` as signed requests into the real endpoint.

The owner, U0ANA, is in New York as Slack says (users.info); the client's own zone is Berlin and its country
the US (Veterans Day, Wed 2026-11-11, and Thanksgiving, Thu 2026-11-26, are public holidays there)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.db.models import AuditEvent, Client, InteractionKind, OutboxMessage, OutboxStatus, StaleAlert
from bot.services import Actor
from bot.services.business_time import BusinessCalendar
from bot.services.clients import add_client, archive_client
from bot.services.interactions import log_interaction
from bot.services.nudges import stale_clients
from tests.commands_support import assert_error, shown, table_counts
from tests.conftest import env_for_subprocess, rapport_in_process
from tests.slackhttp import message_text, static_select, text_input

NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")
TEAM, OWNER = "T0ACME", "U0ANA"
INTERNAL, MANAGERS = "C0ACMEINT", "C0MANAGERS"
ACTOR = Actor(team_id=TEAM, user_id="U0BOB", surface="cli")
NUDGE_WORDS, ESCALATION_WORDS, NO_OWNER_WORDS = "no contact for", "more than twice its", "nobody can be nudged"
SNOOZE_FORM = "/cmo snooze <client> <duration>|off"


def ny(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


# -- the operator's command, and what reached Slack ------------------------------------------------------

@pytest.fixture
def jobs(database_url, slack, workdir, monkeypatch):
    """`rapport jobs run <job> --now <moment>`: its output (exit code 0 asserted)."""
    slack.user_zones[OWNER] = "America/New_York"
    env = env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_MANAGERS_CHANNEL=MANAGERS,
                             RAPPORT_TIMEZONE="Europe/Berlin")

    def run(now: dt.datetime | None = None, *extra: str, job: str = "stale-nudges",
            managers_channel: str | None = MANAGERS) -> str:
        run_env = {k: v for k, v in env.items() if managers_channel or k != "RAPPORT_MANAGERS_CHANNEL"}
        code, output = rapport_in_process(monkeypatch, workdir, run_env, "jobs", "run", job,
                                          *(["--now", now.isoformat()] if now else []), *extra)
        assert code == 0, output
        return output

    return run


def nudges(slack) -> list[dict[str, Any]]:
    return [m for m in slack.posted(INTERNAL) if NUDGE_WORDS in message_text(m)]


def escalations(slack) -> list[dict[str, Any]]:
    return [m for m in slack.posted(MANAGERS) if ESCALATION_WORDS in message_text(m)]


def seed(database, *, name: str = "Acme Biologics", key: str = "acme", owner: str | None = OWNER,
         channel: str | None = INTERNAL, cadence: int = 14, country: str | None = "US",
         contacts: tuple[tuple[dt.date, str], ...] = ((dt.date(2026, 10, 27), "call"),),
         planned: dt.date | None = None) -> int:
    """A client and its past interactions (the last one may plan a next contact); its id."""
    with database.transaction() as session:
        client = add_client(session, ACTOR, name, key=key, owner_user_id=owner, internal_channel_id=channel,
                            cadence_days=cadence, timezone="Europe/Berlin", country=country)
        for index, (day, kind) in enumerate(contacts):
            last = index == len(contacts) - 1
            logged = log_interaction(session, ACTOR, client, kind=kind,
                                     summary=f"Agreed the Q1 fill slots ({kind})\nmore", occurred_on=day, today=day,
                                     next_contact_on=planned if last else None)
            logged.logged_at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)  # logged the day it happened
        return client.id


def alerts(database) -> list[tuple[str, str, dt.date]]:
    with database.transaction() as session:
        return [(a.kind, a.episode, a.local_date) for a in session.scalars(select(StaleAlert).order_by(StaleAlert.id))]


def outbox_rows(database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# -- over simulated weeks ----------------------------------------------------------------------------------

def test_nudged_in_the_owners_hours_not_on_holidays_weekends_or_at_night_repeated_and_escalated_once(
        database, jobs, slack):
    seed(database)  # last contact Tue 2026-10-27, cadence 14 days: stale from Wed 2026-11-11

    jobs(ny(11, 10, 10))  # 14 days: within the cadence
    jobs(ny(11, 11, 10))  # stale, but Veterans Day in the client's country
    jobs(ny(11, 12, 8, 30))  # 14:30 in Berlin, the client's zone; but the owner's day starts at 09:00 New York
    assert nudges(slack) == []

    out = jobs(ny(11, 12, 10))
    [first] = nudges(slack)
    assert "queued 1 message(s)" in out
    text = message_text(first)
    assert "<@U0ANA>" in text and "*Acme Biologics* (`acme`)" in text
    assert "no contact for *16 days* (cadence 14d)" in text
    assert "Last contact: :telephone_receiver: call by <@U0BOB> on Tue 2026-10-27 — “Agreed the Q1 fill slots (call)”" \
        in text  # only the summary's first line
    actions = [b for b in first["blocks"] if b["type"] == "actions"][0]["elements"]
    assert [(e["type"], e["action_id"]) for e in actions] == [("button", "client_log_contact"),
                                                              ("static_select", "client_snooze")]
    assert [o["text"]["text"] for o in actions[1]["options"]] == ["3 days", "1 week", "2 weeks"]

    for moment in (ny(11, 12, 16), ny(11, 12, 23), ny(11, 13, 10), ny(11, 14, 11), ny(11, 16, 10)):
        jobs(moment)  # the same day later, at night, then 1 and 2 business days on (Saturday between)
    assert len(nudges(slack)) == 1

    jobs(ny(11, 17, 9, 5))  # 3 business days after the first
    jobs(ny(11, 20, 9, 5))  # and 3 more
    assert len(nudges(slack)) == 3 and escalations(slack) == []

    jobs(ny(11, 25, 10))  # 29 days: more than twice the cadence, and 3 business days since the last nudge
    assert len(nudges(slack)) == 4
    [escalation] = escalations(slack)
    text = message_text(escalation)
    assert "has had no contact for *29 days*, more than twice its 14d cadence. Owner: <@U0ANA>" in text
    for moment in (ny(11, 26, 10), ny(11, 27, 10), ny(11, 30, 10)):  # Thanksgiving; 1 and 2 business days on
        jobs(moment)
    assert (len(nudges(slack)), len(escalations(slack))) == (4, 1)
    assert [kind for kind, _, _ in alerts(database)] == ["nudge"] * 4 + ["escalation"]
    assert {episode for _, episode, _ in alerts(database)} == {"2026-10-27"}


def test_a_contact_logged_later_with_a_past_date_resets_the_clock_and_a_new_spell_escalates_again(
        database, jobs, slack, bot):
    seed(database)
    jobs(ny(11, 25, 10))
    assert (len(nudges(slack)), len(escalations(slack))) == (1, 1)

    # Logged after the fact: the call happened on Thanksgiving.
    shown(bot.command("log acme call Caught up on the Q1 slots on:2026-11-26", user="U0BEN"))
    jobs(ny(11, 30, 10))
    jobs(ny(12, 9, 10))  # 13 days
    assert (len(nudges(slack)), len(escalations(slack))) == (1, 1)

    jobs(ny(12, 11, 10))  # 15 days since the call: a new stale spell
    assert len(nudges(slack)) == 2
    assert "call by <@U0BEN> on Thu 2026-11-26 — “Caught up on the Q1 slots”" in message_text(nudges(slack)[-1])
    jobs(ny(12, 28, 10))  # 32 days: escalated again, once, in the new spell (Christmas Day passed without posts)
    assert len(escalations(slack)) == 2
    jobs(ny(12, 31, 10))
    assert len(escalations(slack)) == 2


def test_a_note_is_not_contact(database, jobs, slack):
    seed(database, contacts=((dt.date(2026, 10, 27), "call"), (dt.date(2026, 11, 10), InteractionKind.NOTE)))
    jobs(ny(11, 12, 10))
    assert len(nudges(slack)) == 1


def test_a_planned_next_contact_that_passes_is_due_within_the_cadence(database, jobs, slack):
    seed(database, cadence=30, contacts=((dt.date(2026, 11, 2), "call"),), planned=dt.date(2026, 11, 9))
    jobs(ny(11, 9, 10))  # the planned day itself: not passed yet
    assert nudges(slack) == []
    jobs(ny(11, 10, 10))
    [nudge] = nudges(slack)
    assert "no contact for *8 days* (cadence 30d); the contact planned for Mon 2026-11-09 has passed" \
        in message_text(nudge)


def log_later(database, client_id: int, *, on: dt.date, logged: dt.date, kind: str = "call",
              planned: dt.date | None = None, by: str = "U0BEN") -> None:
    """An interaction logged on `logged` about what happened `on` (a past date)."""
    with database.transaction() as session:
        interaction = log_interaction(session, Actor(TEAM, by, "slash_command"), session.get(Client, client_id),
                                      kind=kind, summary="Logged after the fact", occurred_on=on, today=logged,
                                      next_contact_on=planned)
        interaction.logged_at = dt.datetime.combine(logged, dt.time(15), tzinfo=dt.UTC)


def test_an_old_contact_logged_late_does_not_end_the_spell_nor_escalate_again(database, jobs, slack):
    client_id = seed(database)  # last contact Tue 2026-10-27
    jobs(ny(11, 25, 10))
    assert (len(nudges(slack)), len(escalations(slack))) == (1, 1)
    log_later(database, client_id, on=dt.date(2026, 10, 28), logged=dt.date(2026, 11, 25))  # still 28 days ago
    jobs(ny(11, 27, 10))  # one business day on (Thanksgiving between): nothing
    assert (len(nudges(slack)), len(escalations(slack))) == (1, 1)
    jobs(ny(12, 1, 10))  # three business days on: the spell's next nudge, and no second escalation
    assert (len(nudges(slack)), len(escalations(slack))) == (2, 1)
    assert "on Wed 2026-10-28" in message_text(nudges(slack)[-1])


def test_a_plan_logged_with_a_past_date_counts_from_when_it_was_made(database, jobs, slack):
    client_id = seed(database, cadence=30, contacts=((dt.date(2026, 11, 10), "call"),))
    # On Nov 12, a meeting of Nov 5 is logged late, planning the next contact for Nov 16.
    log_later(database, client_id, on=dt.date(2026, 11, 5), logged=dt.date(2026, 11, 12), kind="meeting",
              planned=dt.date(2026, 11, 16))
    jobs(ny(11, 17, 10))
    [nudge] = nudges(slack)
    assert "the contact planned for Mon 2026-11-16 has passed" in message_text(nudge)


def test_a_later_plan_replaces_an_earlier_one_and_a_contact_fulfils_it(database, jobs, slack):
    client_id = seed(database, cadence=30, contacts=((dt.date(2026, 11, 2), "call"),), planned=dt.date(2026, 11, 9))
    log_later(database, client_id, on=dt.date(2026, 11, 5), logged=dt.date(2026, 11, 5), kind="note",
              planned=dt.date(2026, 11, 20))  # moved: the note plans the 20th instead
    jobs(ny(11, 10, 10))
    assert nudges(slack) == []
    jobs(ny(11, 23, 10))
    assert len(nudges(slack)) == 1
    other = seed(database, name="Borealis", key="borealis", cadence=30, contacts=((dt.date(2026, 11, 2), "call"),),
                 planned=dt.date(2026, 11, 9))
    log_later(database, other, on=dt.date(2026, 11, 6), logged=dt.date(2026, 11, 6), kind="email")  # before the 9th
    jobs(ny(11, 24, 10))
    assert not [n for n in nudges(slack) if "Borealis" in message_text(n)]


def test_what_was_queued_about_the_silence_is_withdrawn_when_a_contact_is_logged_or_nudges_snoozed(
        database, jobs, slack, bot):
    seed(database, contacts=((dt.date(2026, 9, 1), "call"),))
    seed(database, name="Borealis", key="borealis", contacts=((dt.date(2026, 9, 1), "call"),))
    slack.fail("chat.postMessage", status=429, retry_after=7200, times=2)  # refused for two hours, both channels
    assert "queued 4 message(s)" in jobs(now_ny())
    shown(bot.command("log acme call Spoke to Dr. Roe"))  # Acme: its nudge and escalation no longer apply
    shown(bot.command("snooze borealis 1w"))  # Borealis: its nudge waits; the managers' escalation stays
    with database.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
                        .values(next_attempt_at=func.now()))
    jobs(job="deliver")
    assert nudges(slack) == []
    [escalation] = escalations(slack)
    assert "Borealis" in message_text(escalation)
    assert sorted(row.status for row in outbox_rows(database)) == [OutboxStatus.CANCELLED] * 3 + [OutboxStatus.SENT]


def test_with_no_managers_channel_the_run_says_what_it_could_not_tell(database, jobs, slack):
    seed(database, owner=None)
    seed(database, name="Borealis", key="borealis")
    out = jobs(ny(11, 25, 10), managers_channel=None)
    assert "2 client(s) to tell the managers about (acme, borealis), but RAPPORT_MANAGERS_CHANNEL is not set" in out
    assert len(nudges(slack)) == 1 and slack.posted(MANAGERS) == []


def test_an_archived_client_is_never_nudged(database, jobs, slack):
    client_id = seed(database)
    with database.transaction() as session:
        archive_client(session, ACTOR, session.get(Client, client_id))
    for moment in (ny(11, 12, 10), ny(11, 25, 10)):
        jobs(moment)
    assert slack.posted() == []


@pytest.mark.parametrize("owner, channel", [(None, INTERNAL), (OWNER, None), (None, None)])
def test_a_client_nobody_can_be_nudged_about_is_told_to_the_managers_once(database, jobs, slack, owner, channel):
    seed(database, owner=owner, channel=channel, country=None)
    for moment in (ny(11, 12, 10), ny(11, 17, 10), ny(11, 25, 10)):
        jobs(moment)
    assert slack.posted(INTERNAL) == []
    [notice] = slack.posted(MANAGERS)
    text = message_text(notice)
    assert NO_OWNER_WORDS in text and "`/cmo client set acme owner:@someone channel:#channel`" in text
    assert ("no owner" in text) is (owner is None) and ("no internal channel" in text) is (channel is None)


def test_the_same_moment_twice_posts_nothing_twice_and_a_dry_run_changes_nothing(database, jobs, slack):
    seed(database)
    dry = jobs(ny(11, 25, 10), "--dry-run")
    assert "would post 2 message(s)" in dry and "[stale:1:nudge:2026-11-25]" in dry
    assert "[stale:1:escalation:2026-10-27]" in dry
    assert (slack.posted(), outbox_rows(database), alerts(database)) == ([], [], [])

    jobs(ny(11, 25, 10))
    again = jobs(ny(11, 25, 10))
    assert "queued 0 message(s), 2 already queued before" not in again  # nothing planned twice: it was said
    assert "queued 0 message(s)" in again
    assert (len(nudges(slack)), len(escalations(slack)), len(alerts(database))) == (1, 1, 2)


def test_slack_refusing_or_down_during_a_run_loses_nothing_and_posts_nothing_twice(database, jobs, slack):
    seed(database)
    slack.fail("chat.postMessage", status=429, retry_after=120, times=2)  # Slack throttles for two minutes
    out = jobs(ny(11, 25, 10))
    assert "queued 2 message(s)" in out and slack.posted() == []
    assert {row.status for row in outbox_rows(database)} == {OutboxStatus.PENDING}
    jobs(ny(11, 25, 10, 5))  # the next run at the same hour queues nothing more
    assert len(outbox_rows(database)) == 2

    with database.transaction() as session:  # the two minutes are over
        session.execute(update(OutboxMessage).values(next_attempt_at=func.now()))
    slack.fail("chat.postMessage", status=503)  # and Slack fails once more, then is back
    out = jobs(job="deliver")
    assert "2 delivered" in out
    assert (len(nudges(slack)), len(escalations(slack))) == (1, 1)
    assert {row.status for row in outbox_rows(database)} == {OutboxStatus.SENT}


def test_when_slack_cannot_say_where_the_owner_is_the_clients_zone_is_used(database, jobs, slack):
    seed(database)
    slack.fail("users.info", status=503, times=10)
    jobs(ny(11, 12, 8, 30))  # 14:30 in Berlin, the client's zone
    [nudge] = nudges(slack)
    assert "<@U0ANA>" in message_text(nudge)


def test_the_owners_zone_is_asked_once_a_day(database, jobs, slack):
    seed(database)
    seed(database, name="Borealis", key="borealis", contacts=((dt.date(2026, 10, 1), "email"),))
    for moment in (ny(11, 12, 10), ny(11, 13, 10)):
        jobs(moment)
    assert [call.args["user"] for call in slack.calls_to("users.info")] == [OWNER]


# -- the buttons, as Slack sends their payloads --------------------------------------------------------

def act(bot, message: dict[str, Any], action_id: str, *, user: str = OWNER, option: str | None = None):
    """Press the button, or choose `option` in the select, `action_id` on a message the bot posted."""
    [block] = [b for b in message["blocks"] if b["type"] == "actions"]
    [element] = [e for e in block["elements"] if e["action_id"] == action_id]
    action: dict[str, Any] = {"type": element["type"], "action_id": action_id, "block_id": block["block_id"],
                              "action_ts": f"{time.time():.6f}"}
    if element["type"] == "button":
        action["value"] = element["value"]
    else:
        action["selected_option"] = next(o for o in element["options"] if o["text"]["text"] == option)
    return bot.interactive({
        "type": "block_actions", "team": {"id": TEAM, "domain": "acme-cmo"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0RAPPORT", "token": "legacy-verification-token", "trigger_id": bot.next_trigger_id(),
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": INTERNAL, "is_ephemeral": False},
        "channel": {"id": INTERNAL, "name": "acme-internal"},
        "message": {"type": "message", "ts": message["ts"], "text": message["text"], "blocks": message["blocks"]},
        "state": {"values": {}}, "response_url": bot.response_url, "actions": [action],
    })


def answers(slack, count: int = 1) -> list[dict[str, Any]]:
    return [call.args for call in slack.wait_for("response_url", count=count)]


def now_ny() -> dt.datetime:
    """A business hour in New York of this very week (the snooze counts from the real today)."""
    today = dt.datetime.now(NEW_YORK).date()
    monday = today - dt.timedelta(days=today.weekday())
    day = today if today.weekday() < 5 else monday + dt.timedelta(days=7)
    return dt.datetime.combine(day, dt.time(10), tzinfo=NEW_YORK)


def test_log_contact_opens_the_log_form_for_that_client_and_the_logged_call_ends_the_nudges(database, jobs, slack,
                                                                                           bot):
    seed(database, contacts=((dt.date(2026, 9, 1), "call"),))
    jobs(now_ny())
    [nudge] = nudges(slack)
    response = act(bot, nudge, "client_log_contact")
    assert (response.status, response.body) == (200, "")
    [opened] = slack.wait_for("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "cmo:log"
    client_input = next(b for b in view["blocks"] if b.get("block_id") == "client")
    assert client_input["element"]["initial_option"]["value"] == "acme"

    result = bot.submit_view(view, {"client": static_select("acme"), "kind": static_select("call"),
                                    "summary": text_input("Called Dr. Roe about Q1"),
                                    "on": {"type": "datepicker", "selected_date": dt.date.today().isoformat()}})
    assert "Logged for" in message_text(result.json["view"])
    jobs(now_ny() + dt.timedelta(days=7))
    assert len(nudges(slack)) == 1


def test_the_snooze_menu_snoozes_once_and_replaces_the_nudge(database, jobs, slack, bot):
    slack.admins.add("U0BEN")  # snoozing is the owner's or a manager's: a Slack admin is one
    client_id = seed(database, contacts=((dt.date(2026, 9, 1), "call"),))
    jobs(now_ny())
    [nudge] = nudges(slack)
    act(bot, nudge, "client_snooze", option="1 week", user="U0BEN")
    [replaced] = answers(slack)
    assert replaced["replace_original"] is True
    until = dt.datetime.now(NEW_YORK).date() + dt.timedelta(days=7)
    assert f"snoozed by <@U0BEN> until {until:%a %Y-%m-%d}" in message_text(replaced)
    assert not [b for b in replaced["blocks"] if b["type"] == "actions"]
    with database.transaction() as session:
        assert session.get(Client, client_id).snoozed_until == until
    before = table_counts(database)

    act(bot, nudge, "client_snooze", option="1 week")  # pressed again on the old message
    second = answers(slack, 2)[1]
    assert second["replace_original"] is False and "already snoozed until" in message_text(second)
    assert table_counts(database) == before
    with database.transaction() as session:
        snoozes = session.scalars(select(AuditEvent).where(AuditEvent.action == "client.snooze")).all()
    assert [(e.actor_user_id, e.surface, e.after["snoozed_until"]) for e in snoozes] == [
        ("U0BEN", "button", until.isoformat())]

    jobs(now_ny() + dt.timedelta(days=1))
    assert len(nudges(slack)) == 1  # snoozed
    assert f"*Snoozed until* {until:%a %Y-%m-%d}" in shown(bot.command("status acme"))


@pytest.mark.parametrize("fate", ["archived", "gone"])
def test_buttons_on_a_nudge_about_an_archived_or_gone_client_say_so_and_write_nothing(database, jobs, slack, bot,
                                                                                     fate):
    client_id = seed(database, contacts=((dt.date(2026, 9, 1), "call"),))
    jobs(now_ny())
    [nudge] = nudges(slack)
    if fate == "archived":
        shown(bot.command("client archive acme"))
    else:  # a nudge from another workspace's client id: nothing this workspace has
        nudge = json.loads(json.dumps(nudge).replace(f'"{client_id}"', '"999"').replace(f'"{client_id}:', '"999:'))
    before = table_counts(database)
    act(bot, nudge, "client_log_contact")
    act(bot, nudge, "client_snooze", option="3 days")
    said = [message_text(answer) for answer in answers(slack, 2)]
    expected = "was archived on" if fate == "archived" else "no longer in Rapport"
    assert all(expected in text for text in said), said
    assert slack.calls_to("views.open") == []
    assert table_counts(database) == before


# -- /cmo snooze ----------------------------------------------------------------------------------------------

def test_snooze_and_its_end_over_slash_commands(database, bot):
    seed(database)
    # Counted from today where the owner is; Slack was not asked yet, so in the client's zone.
    until = dt.datetime.now(BERLIN).date() + dt.timedelta(days=14)
    assert f"No nudges about *Acme Biologics* (`acme`) until {until:%a %Y-%m-%d}" in shown(
        bot.command("snooze acme 2w"))
    assert "already snoozed" in shown(bot.command("snooze acme 2w"))
    assert "are on again" in shown(bot.command("snooze acme off"))
    assert "were not snoozed" in shown(bot.command("snooze acme off"))
    history = shown(bot.command("history acme"))
    assert f"snoozed the contact reminders until {until.isoformat()}" in history
    assert "ended the snooze of the contact reminders" in history


@pytest.mark.parametrize("text, fragments", [
    ("snooze nobody 3d", ["No client matches `nobody`"]),
    ("snooze acme 0d", ["not a duration"]),
    ("snooze acme -3d", ["not a duration"]),
    ("snooze acme 400w", ["longer than a quarter", "13w"]),
    ("snooze acme tomorrow-ish", ["not a duration"]),
    ("snooze acme 36h", ["not a duration", "14d", "2w"]),
    ("snooze acme ３d", ["not a duration"]),
    ("snooze acme", ["Give the client and how long"]),
])
def test_snooze_bad_input_shows_the_right_form_and_writes_nothing(database, bot, text, fragments):
    seed(database)
    before = table_counts(database)
    assert_error(bot.command(text), *fragments, form=SNOOZE_FORM)
    assert table_counts(database) == before


def test_snooze_typed_bare_opens_its_form(database, bot, slack):
    seed(database)
    response = bot.command("snooze")
    assert (response.status, response.body) == (200, "")
    [opened] = slack.wait_for("views.open")
    assert opened.args["view"]["callback_id"] == "cmo:snooze"


@pytest.mark.parametrize("command", ["client add Zeta country:XX", "client set acme country:XX",
                                     "client add Zeta country:Germany", "client add Zeta country:ß",
                                     "client set acme country:ıt"])
def test_an_unknown_country_is_refused_with_the_right_form(database, bot, command):
    seed(database)
    before = table_counts(database)
    assert_error(bot.command(command), "is not a country whose public holidays Rapport knows", "`DE`",
                 form="/cmo client")
    assert table_counts(database) == before


def test_an_alias_that_is_not_the_iso_code_is_refused_naming_the_code(database, bot):
    seed(database)
    assert_error(bot.command("client set acme country:UK"), "`UK` is not an ISO 3166 code; use `GB`",
                 form="/cmo client set")


def test_a_country_is_set_and_cleared(database, bot):
    seed(database)
    assert "country: US → DE" in shown(bot.command("client set acme country:de"))
    assert "country: DE → none" in shown(bot.command("client set acme country:none"))


# -- the calendar and the scan, piece by piece ----------------------------------------------------------------

def test_the_business_calendar_skips_weekends_and_public_holidays():
    calendar = BusinessCalendar(NEW_YORK, dt.time(9), dt.time(17), "US")
    assert not calendar.is_working_day(dt.date(2026, 11, 26))  # Thanksgiving
    assert calendar.is_working_day(dt.date(2026, 11, 27))
    assert calendar.working_days_after(dt.date(2026, 11, 25), dt.date(2026, 11, 30)) == 2  # Fri, Mon
    assert calendar.next_opening(ny(11, 25, 18)) == ny(11, 27, 9)
    assert calendar.next_opening(ny(11, 27, 10)) == ny(11, 27, 10)
    assert BusinessCalendar(NEW_YORK).is_working_day(dt.date(2026, 11, 26))  # no country: no holidays


def test_the_business_calendar_follows_daylight_saving_time():
    calendar = BusinessCalendar(NEW_YORK)
    # New York leaves daylight saving time on Sun 2026-11-01: 09:00 is 13:00 UTC before, 14:00 UTC after.
    assert calendar.is_open(dt.datetime(2026, 10, 30, 13, 0, tzinfo=dt.UTC))
    assert not calendar.is_open(dt.datetime(2026, 11, 2, 13, 0, tzinfo=dt.UTC))
    assert calendar.is_open(dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC))
    assert calendar.hours_between(ny(10, 30, 16), ny(11, 2, 10)) == pytest.approx(2.0)


def test_the_scan_finds_the_latest_contact_of_any_kind_but_a_note(database):
    seed(database, contacts=((dt.date(2026, 10, 1), "visit"), (dt.date(2026, 10, 20), "email"),
                             (dt.date(2026, 10, 30), "note")))
    seed(database, name="Fresh", key="fresh", contacts=((dt.date(2026, 11, 20), "meeting"),))
    with database.transaction() as session:
        [stale] = stale_clients(session, TEAM, BERLIN, ny(11, 25, 10))
    assert (stale.client.key, stale.last_contact.kind, stale.since, stale.days) == ("acme", "email",
                                                                                    dt.date(2026, 10, 20), 36)
    assert stale.twice_the_cadence and stale.episode == "2026-10-20"


# -- what Slack or a forger may send ---------------------------------------------------------------------------

@pytest.mark.parametrize("tz", ["Etc", "America", "A" * 300, "Mars/Olympus_Mons"])
def test_a_zone_slack_gives_that_is_not_one_is_no_zone_and_the_run_goes_on(database, jobs, slack, tz):
    seed(database)
    slack.user_zones[OWNER] = tz
    out = jobs(ny(11, 12, 8, 30))  # 14:30 in Berlin, the client's zone
    assert "workspace(s) failed" not in out
    assert len(nudges(slack)) == 1


def test_a_users_info_answer_without_a_user_object_is_no_zone(database, jobs, slack, monkeypatch):
    seed(database)
    answer = slack.answer
    monkeypatch.setattr(slack, "answer", lambda method, args: {"ok": True, "user": "x"} if method == "users.info"
                        else answer(method, args))
    out = jobs(ny(11, 12, 8, 30))
    assert "workspace(s) failed" not in out and len(nudges(slack)) == 1


def click(bot, nudge: dict[str, Any], option: str, trigger_id: str) -> Any:
    """A signed Snooze choice with a given trigger_id (to replay it)."""
    [block] = [b for b in nudge["blocks"] if b["type"] == "actions"]
    [select_menu] = [e for e in block["elements"] if e["action_id"] == "client_snooze"]
    return bot.interactive({
        "type": "block_actions", "team": {"id": TEAM}, "user": {"id": OWNER, "team_id": TEAM},
        "api_app_id": "A0RAPPORT", "trigger_id": trigger_id, "response_url": bot.response_url,
        "container": {"type": "message", "message_ts": nudge["ts"], "channel_id": INTERNAL},
        "channel": {"id": INTERNAL}, "message": {"ts": nudge["ts"], "text": nudge["text"], "blocks": nudge["blocks"]},
        "actions": [{"type": "static_select", "action_id": "client_snooze", "block_id": block["block_id"],
                     "selected_option": next(o for o in select_menu["options"] if o["text"]["text"] == option)}],
    })


def snooze_events(database) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "client.snooze"))


def test_a_replayed_snooze_click_runs_once(database, jobs, slack, bot):
    seed(database, contacts=((dt.date(2026, 9, 1), "call"),))
    jobs(now_ny())
    [nudge] = nudges(slack)
    click(bot, nudge, "1 week", trigger_id="click.1")
    answers(slack)
    shown(bot.command("snooze acme off"))
    assert click(bot, nudge, "1 week", trigger_id="click.1").status == 200  # the same signed click, again
    time.sleep(0.3)
    assert len(answers(slack)) == 1
    assert snooze_events(database) == 2  # the snooze and its end, not a second snooze
    with database.transaction() as session:
        assert session.scalar(select(Client.snoozed_until)) is None


def test_simultaneous_snooze_clicks_snooze_once(database, jobs, slack, bot):
    import threading

    seed(database, contacts=((dt.date(2026, 9, 1), "call"),))
    jobs(now_ny())
    [nudge] = nudges(slack)
    clicks = [threading.Thread(target=click, args=(bot, nudge, "1 week", f"click.{n}")) for n in range(8)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    said = [message_text(a) for a in answers(slack, 8)]
    assert sum("snoozed by" in text for text in said) == 1
    assert sum("already snoozed" in text for text in said) == 7
    assert snooze_events(database) == 1


def test_log_contact_without_a_trigger_says_why_and_opens_nothing(database, jobs, slack, bot):
    seed(database, contacts=((dt.date(2026, 9, 1), "call"),))
    jobs(now_ny())
    [nudge] = nudges(slack)
    [block] = [b for b in nudge["blocks"] if b["type"] == "actions"]
    response = bot.interactive({
        "type": "block_actions", "team": {"id": TEAM}, "user": {"id": OWNER, "team_id": TEAM},
        "response_url": bot.response_url, "channel": {"id": INTERNAL},
        "actions": [{"type": "button", "action_id": "client_log_contact", "block_id": block["block_id"],
                     "value": block["elements"][0]["value"]}],
    })
    assert response.status == 200
    [answer] = answers(slack)
    assert "could not read (no trigger_id)" in message_text(answer)
    assert slack.calls_to("views.open") == []
