"""One voice end to end (issue 12, part 2): `/cmo voice` sets, supersedes, lists and retires the agreed lines;
its form; who may; `/cmo history`; the lines in `/cmo status` and in the meeting brief; and the owner's quiet
direct message when someone else logs contact. Signed slash commands and modal submissions into the real
endpoint; what the user reads, what reached the fake Slack, and the rows written (or not)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.db.models import AuditEvent, Client, Frequency, Interaction, OutboxMessage, VoiceLine
from bot.services import Actor
from bot.services import voice as voice_service
from bot.services.clients import add_client
from bot.services.meetings import add_meeting
from tests.commands_support import (
    assert_error,
    assert_no_raw_markup,
    channel_link,
    interactions,
    mention,
    mrkdwn_texts,
    opened_form,
    reply,
    row_counts,
    rows,
    shown,
    typed,
    unescape,
)
from tests.conftest import env_for_subprocess, rapport_in_process
from tests.slackhttp import external_select, message_text, static_select, text_input

ANA, BOB = mention("U0ANA", "ana"), mention("U0BOB", "bob")
FORM = '/cmo voice <client> [<topic>: "<the agreed line>" | <topic> off]'
PRICING = "List prices hold through Q2; volume rebates from 10 lots"
HOSTILE = "<!channel> R&D says <b> & <@U0EVIL|evil>"


@pytest.fixture
def acme(bot):
    """Acme Biologics GmbH (`acme`, owner ana, a manager, internal #acme-internal) and Beta Labs (`beta`, owner
    bob, who is no manager)."""
    for text in (f'client add "Acme Biologics GmbH" key:acme owner:{ANA} '
                 f'channel:{channel_link("C0ACMEINT", "acme-internal")}',
                 f'client add "Beta Labs" key:beta owner:{BOB} channel:{channel_link("C0BETAINT", "beta-internal")}'):
        assert "Added" in shown(bot.command(text))
    return bot


def voice(bot, text: str, **kwargs) -> str:
    return shown(bot.command("voice " + text, **kwargs))


def lines(database, team: str = "T0ACME") -> list[VoiceLine]:
    return rows(database, VoiceLine, VoiceLine.team_id == team)


def events(database, prefix: str = "voice.") -> list[AuditEvent]:
    return rows(database, AuditEvent, AuditEvent.action.startswith(prefix))


def counts(database) -> dict[str, int]:
    return row_counts(database, VoiceLine, AuditEvent, OutboxMessage, Interaction)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def day(date: dt.date) -> str:
    return f"{date:%a %Y-%m-%d}"


# -- set, supersede, list, retire ---------------------------------------------------------------------------------

def test_set_a_line_records_it_with_author_and_time(acme, database):
    text = voice(acme, f'acme pricing: "{PRICING}"')
    assert "Agreed line for *Acme Biologics GmbH* (`acme`) on *pricing*:" in text
    assert f"“{PRICING}”" in text
    assert "Replaces" not in text
    [row] = lines(database)
    assert (row.topic, row.line, row.author_user_id, row.surface) == ("pricing", PRICING, "U0ANA", "slash_command")
    assert row.ended_at is None and row.created_at is not None
    [event] = events(database)
    assert (event.action, event.actor_user_id, event.entity_id, event.before) == ("voice.set", "U0ANA", row.id, None)
    assert event.after["line"] == PRICING and event.client_id is not None


def test_multi_word_topic_and_unquoted_line(acme, database):
    text = voice(acme, "acme Q1 capacity: Two fill slots a month, no more")
    assert "on *Q1 capacity*" in text
    voice(acme, 'acme "Tech transfer":"Starts in March"')
    assert [(r.topic, r.line) for r in lines(database)] == [("Q1 capacity", "Two fill slots a month, no more"),
                                                            ("Tech transfer", "Starts in March")]


def test_a_quoted_client_name(acme, database):
    voice(acme, '"Beta Labs" pricing: "Firm"', user="U0BOB")
    assert [(r.topic, r.line, r.author_user_id) for r in lines(database)] == [("pricing", "Firm", "U0BOB")]


def test_a_new_line_supersedes_the_old_and_keeps_it(acme, database):
    voice(acme, 'acme pricing: "Prices hold"')
    text = voice(acme, f'acme PRICING: "{PRICING}"')
    assert f"“{PRICING}”" in text
    assert f"Replaces: “Prices hold” (by <@U0ANA> on {day(today())})" in text
    old, new = lines(database)
    assert (old.ended_how, old.ended_by) == ("superseded", "U0ANA") and old.ended_at is not None
    assert new.ended_at is None
    assert new.topic == "pricing"  # shown as first written
    first, second = events(database)
    assert (first.entity_id, second.entity_id) == (old.id, new.id)
    assert second.action == "voice.set" and second.before["line"] == "Prices hold"
    assert second.after["line"] == PRICING


def test_the_same_line_again_changes_nothing(acme, database):
    voice(acme, 'acme pricing: "Prices hold"')
    before = counts(database)
    text = voice(acme, 'acme Pricing: "Prices hold"')
    assert "is already the agreed line" in text and "nothing changed" in text
    assert not text.startswith(":warning:")
    assert counts(database) == before


def test_list_shows_current_lines_with_author_and_replacements(acme, database):
    voice(acme, 'acme pricing: "One"')
    voice(acme, 'acme pricing: "Two"')
    voice(acme, 'acme pricing: "Three"')
    voice(acme, 'acme capacity: "Two slots a month"')
    voice(acme, 'acme audits: "Any time with a week\'s notice"')
    voice(acme, "acme audits off")
    text = voice(acme, "acme")
    assert "Acme Biologics GmbH: agreed lines (one voice)" in text
    assert f"*capacity*: “Two slots a month” (by <@U0ANA> on {day(today())})" in text
    assert f"*pricing*: “Three” (by <@U0ANA> on {day(today())}) · replaced twice" in text
    assert "“One”" not in text and "“Two”" not in text and "audits" not in text
    assert text.index("capacity") < text.index("pricing")
    assert "2 topics" in text


def test_list_is_open_to_everyone_and_says_when_there_is_none(acme):
    response = acme.command("voice beta", user="U0CAT")
    assert "*Beta Labs* (`beta`) has no agreed line yet." in shown(response)
    assert_no_raw_markup(response, "<topic>", "<the agreed line>")
    voice(acme, 'beta pricing: "Firm"', user="U0BOB")
    assert "“Firm”" in voice(acme, "beta", user="U0CAT")


def test_retire_a_line(acme, database):
    voice(acme, 'acme pricing: "Prices hold"')
    text = voice(acme, "acme Pricing off")
    assert "Retired the agreed line for *Acme Biologics GmbH* (`acme`) on *pricing*: “Prices hold”" in text
    [row] = lines(database)
    assert (row.ended_how, row.ended_by) == ("retired", "U0ANA") and row.ended_at is not None
    assert [e.action for e in events(database)] == ["voice.set", "voice.retire"]
    assert "has no agreed line yet" in voice(acme, "acme")
    # The topic can be agreed again afterwards.
    voice(acme, 'acme pricing: "New prices from May"')
    assert [r.ended_how for r in lines(database)] == ["retired", None]


def test_retiring_an_unknown_topic_lists_the_current_ones(acme, database):
    voice(acme, 'acme pricing: "Prices hold"')
    voice(acme, 'acme capacity: "Two slots"')
    before = counts(database)
    text = assert_error(acme.command("voice acme delivery off"), "no agreed line on “delivery”", form=FORM)
    assert "Its current topics: “capacity”, “pricing”." in text
    assert counts(database) == before
    text = assert_error(acme.command("voice beta delivery off", user="U0BOB"), "no agreed line", form=FORM)
    assert "Beta Labs has no agreed line on any topic." in text


# -- bad input ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "fragment"), [
    ("acme pricing", "A topic without a line"),
    ("acme Q1 capacity", "A topic without a line"),
    ("acme pricing:", "Give the agreed line after `pricing:`"),
    ('acme pricing: ""', "Give the agreed line after `pricing:`"),
    ('acme pricing: "   "', "Give the agreed line after `pricing:`"),
    ('acme : "Prices hold"', "Name the topic"),
    ('acme "": "Prices hold"', "Name the topic"),
    ("acme off", "Say which topic to retire"),
    ("acme pricing: off", "(no colon)"),
    ('acme ' + "t" * 81 + ': "x"', "keep it to 80"),
    ('acme pricing: "' + "x" * 1001 + '"', "keep it to 1,000"),
    ('nobody pricing: "Prices hold"', "nobody"),
    ('acme pricing: "unclosed', "quote was left open"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(acme, database, text, fragment):
    before = counts(database)
    assert_error(acme.command("voice " + text), fragment, form=FORM)
    assert counts(database) == before


def test_an_archived_client_cannot_get_a_line(acme, database):
    voice(acme, 'acme pricing: "Prices hold"')
    shown(acme.command("client archive acme"))
    before = counts(database)
    assert_error(acme.command('voice acme pricing: "New"'), "archived", form=FORM)
    assert_error(acme.command("voice acme pricing off"), "archived", form=FORM)
    assert counts(database) == before
    assert "“Prices hold”" in voice(acme, "acme")  # still readable


def test_voice_in_help(acme):
    text = shown(acme.command("help voice"))
    assert FORM in text and "One voice" in text


# -- who may -----------------------------------------------------------------------------------------------------

def test_only_the_owner_or_a_manager_sets_or_retires(acme, database):
    voice(acme, 'beta pricing: "Firm"', user="U0BOB")  # bob owns beta
    before = counts(database)
    text = assert_error(acme.command('voice acme pricing: "Cheaper"', user="U0BOB"),
                        "Only the client's owner, <@U0ANA>, or a manager may set what Acme Biologics GmbH is told "
                        "about “pricing”", form=None)
    assert "Nothing was changed" in text
    assert_error(acme.command("voice beta pricing off", user="U0CAT"), "Only the client's owner, <@U0BOB>",
                 form=None)
    assert counts(database) == before
    voice(acme, 'beta pricing: "Set by a manager"')  # ana is a manager
    assert [r.author_user_id for r in lines(database)] == ["U0BOB", "U0ANA"]


# -- escaping ------------------------------------------------------------------------------------------------------

def test_user_text_is_escaped_everywhere(acme, database, slack):
    response = acme.command(typed(f'voice acme R&D <!here>: "{HOSTILE}"'))
    text = shown(response)
    assert_no_raw_markup(response, "<!channel>", "<!here>", "<b>", "R&D")
    assert "<@U0EVIL>" in text  # a person stays a mention; broadcasts don't
    [row] = lines(database)
    assert (row.topic, row.line) == ("R&D <!here>", HOSTILE)
    for response in (acme.command("voice acme"), acme.command("history acme"),
                     acme.command(typed("voice acme R&D <!here> off"))):
        reply(response)
        assert_no_raw_markup(response, "<!channel>", "<!here>", "<b>", "R&D", "<topic>")
    assert slack.posted() == []  # nothing of it went anywhere but the reply


# -- history -------------------------------------------------------------------------------------------------------

def test_history_words_voice_events(acme):
    voice(acme, 'acme pricing: "Prices hold"')
    voice(acme, 'acme pricing: "Prices rise 3% in July"')
    voice(acme, "acme pricing off")
    text = shown(acme.command("history acme"))
    assert "retired the agreed line on *pricing*: “Prices rise 3% in July”" in text
    assert "set the agreed line on *pricing*: “Prices rise 3% in July” (replacing “Prices hold”)" in text
    assert "set the agreed line on *pricing*: “Prices hold”\n" in text + "\n"
    assert text.index("retired") < text.index("replacing")


# -- the form -----------------------------------------------------------------------------------------------------

def updated_view_text(response) -> str:
    assert response.status == 200, response.body
    assert response.json["response_action"] == "update", response.json
    return unescape(message_text({"blocks": response.json["view"]["blocks"]}))


def modal_errors(response) -> dict[str, str]:
    assert response.status == 200, response.body
    assert response.json["response_action"] == "errors", response.json
    return response.json["errors"]


def test_voice_bare_opens_a_form_and_submitting_records(acme, database, slack):
    view = opened_form(slack, acme.command("voice"))
    assert [b.get("block_id") for b in view["blocks"] if b["type"] == "input"] == ["client", "topic", "line"]
    voice(acme, 'acme pricing: "Prices hold"')
    text = updated_view_text(acme.submit_view(view, {"client": external_select("acme"),
                                                     "topic": text_input("Pricing"),
                                                     "line": text_input(PRICING)}))
    assert f"“{PRICING}”" in text and "Replaces: “Prices hold”" in text
    old, new = lines(database)
    assert (new.line, new.surface, old.ended_how) == (PRICING, "modal", "superseded")


@pytest.mark.parametrize(("values", "field"), [
    ({"client": static_select("acme"), "topic": text_input("pricing"), "line": text_input("   ")}, "line"),
    ({"client": static_select("acme"), "line": text_input("Prices hold")}, "topic"),
    ({"topic": text_input("pricing"), "line": text_input("Prices hold")}, "client"),
])
def test_the_form_shows_errors_under_the_field_and_writes_nothing(acme, database, slack, values, field):
    view = opened_form(slack, acme.command("voice"))
    before = counts(database)
    assert list(modal_errors(acme.submit_view(view, values))) == [field]
    assert counts(database) == before


def test_the_form_refuses_someone_who_may_not(acme, database, slack):
    view = opened_form(slack, acme.command("voice", user="U0CAT"))
    response = acme.submit_view(view, {"client": static_select("acme"), "topic": text_input("pricing"),
                                       "line": text_input("Prices hold")}, user="U0CAT")
    errors = modal_errors(response)
    assert list(errors) == ["client"] and "Only the client's owner, <@U0ANA>, or a manager may" in errors["client"]
    assert lines(database) == []


# -- two writers at once ------------------------------------------------------------------------------------------

def _acme(session) -> Client:
    return session.scalars(select(Client).where(Client.key == "acme")).one()


def test_a_line_set_meanwhile_by_someone_else_is_a_clear_error(acme, database, monkeypatch):
    """The other writer's line was not seen (read before it committed): the unique index refuses the second
    current line, inside a savepoint; the user is told to try again, and nothing of theirs is written."""
    voice(acme, 'acme pricing: "Prices hold"')
    before = counts(database)
    monkeypatch.setattr(voice_service, "current_line", lambda session, client, topic: None)
    with (pytest.raises(voice_service.UserError, match="Someone else just changed the agreed line"),
          database.transaction() as session):
        voice_service.set_line(session, Actor("T0ACME", "U0ANA", "slash_command"), _acme(session),
                               topic="PRICING", line="Cheaper")
    assert counts(database) == before


def test_a_line_ended_meanwhile_by_someone_else_is_a_clear_error(acme, database, monkeypatch):
    voice(acme, 'acme pricing: "Prices hold"')
    voice(acme, "acme pricing off")
    with database.transaction() as session:
        ended = session.scalars(select(VoiceLine)).one()
        session.expunge(ended)
    before = counts(database)
    monkeypatch.setattr(voice_service, "current_line", lambda session, client, topic: ended)
    for write in (lambda s, c, a: voice_service.set_line(s, a, c, topic="pricing", line="Cheaper"),
                  lambda s, c, a: voice_service.retire_line(s, a, c, topic="pricing")):
        with (pytest.raises(voice_service.UserError, match="Someone else just changed the agreed line"),
              database.transaction() as session):
            write(session, _acme(session), Actor("T0ACME", "U0ANA", "slash_command"))
    assert counts(database) == before


# -- status and the meeting brief -----------------------------------------------------------------------------------

def test_status_shows_the_current_lines(acme):
    voice(acme, 'acme pricing: "Prices hold"')
    voice(acme, typed(f'acme capacity: "{HOSTILE}"'))
    response = acme.command("status acme")
    text = shown(response)
    assert "*Agreed lines (one voice)*" in text
    assert f"*pricing*: “Prices hold” (by <@U0ANA>, {day(today())})" in text
    assert "*capacity*: “<!channel> R&D says <b> & <@U0EVIL>”" in text
    assert_no_raw_markup(response, "<!channel>", "<b>")
    assert "No agreed line." in shown(acme.command("status beta"))


BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def jobs(database_url, slack, workdir, monkeypatch):
    slack.user_zones["U0ANA"] = "Europe/Berlin"
    env = env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_TIMEZONE="Europe/Berlin")

    def run(now: dt.datetime, job: str = "meeting-reminders") -> str:
        code, output = rapport_in_process(monkeypatch, workdir, env, "jobs", "run", job, "--now", now.isoformat())
        assert code == 0, output
        return output

    return run


def brief_section(message: dict[str, Any], title: str) -> str:
    [found] = [b["text"]["text"] for b in message["blocks"]
               if b["type"] == "section" and b["text"]["text"].startswith(f"*{title}*\n")]
    return found


def test_the_meeting_brief_shows_the_current_lines(database, jobs, slack):
    actor = Actor("T0ACME", "U0ANA", "slash_command")
    with database.transaction() as session:
        client = add_client(session, actor, "Acme Biologics", key="acme", owner_user_id="U0ANA",
                            internal_channel_id="C0ACMEINT", timezone="Europe/Berlin")
        session.flush()
        voice_service.set_line(session, actor, client, topic="pricing", line="Prices hold")
        voice_service.set_line(session, actor, client, topic="Pricing", line="Prices rise 3% in July")
        voice_service.set_line(session, Actor("T0ACME", "U0BOB", "modal"), client, topic="capacity",
                               line=HOSTILE)
        voice_service.set_line(session, actor, client, topic="audits", line="Any time")
        voice_service.retire_line(session, actor, client, topic="audits")
        add_meeting(session, actor, client, title="Supply review", every=Frequency.WEEK,
                    starts_on=dt.date(2027, 5, 4), at=dt.time(10), timezone="Europe/Berlin",
                    now=dt.datetime(2027, 4, 20, 9, tzinfo=dt.UTC), reminder_minutes=(1440,), channel_id=None)
    jobs(dt.datetime(2027, 5, 3, 10, tzinfo=BERLIN))
    [message] = [m for m in slack.posted("C0ACMEINT") if "starts in" in (m.get("text") or "")]
    section = brief_section(message, "Agreed lines (one voice)")
    found = section.split("\n")[1:]
    made = day(today())
    assert found == [
        f"• *capacity*: “&lt;!channel&gt; R&amp;D says &lt;b&gt; &amp; <@U0EVIL>” (by <@U0BOB>, {made})",
        f"• *pricing*: “Prices rise 3% in July” (by <@U0ANA>, {made})",
    ], section
    assert "Prices hold" not in message_text(message) and "audits" not in section


# -- the owner told quietly -----------------------------------------------------------------------------------------

def dms(slack, user: str, count: int = 1, timeout: float = 8.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = slack.posted(user)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def settle(slack, seconds: float = 0.5) -> None:
    """Long enough for a delivery that was (wrongly) queued to reach the fake Slack."""
    time.sleep(seconds)


def test_someone_else_logging_contact_tells_the_owner_in_a_dm(acme, database, slack):
    voice(acme, 'acme pricing: "Prices hold"')
    voice(acme, typed(f'acme capacity: "{HOSTILE}"'))
    shown(acme.command(typed('log acme call Talked Q3 slots & <!channel> with:"Dr. Roe"'),
                       user="U0BOB"))
    [message] = dms(slack, "U0ANA")
    text = unescape(message_text(message))
    assert f"<@U0BOB> logged a *call* with Dr. Roe of *Acme Biologics GmbH* (`acme`) on {day(today())}:" in text
    assert ">Talked Q3 slots & <!channel>\n" in text
    assert "*Agreed lines:*" in text and "*pricing*: “Prices hold”" in text and "*capacity*:" in text
    for raw in ("<!channel>", "<b>", "R&D", "<!here>"):
        assert raw not in message["text"] and all(raw not in t for t in mrkdwn_texts(message)), raw
    # No conversations.info about a user id: a DM is never a shared channel.
    assert all(call.args.get("channel") != "U0ANA" for call in slack.calls_to("conversations.info"))
    [row] = [r for r in _outbox(database) if r.channel_id == "U0ANA"]
    assert (row.source, row.dedupe_key) == ("owner-told", f"interaction:{interactions(database)[-1].id}:owner-told")
    # Nothing about it in the client's internal channel.
    assert not [m for m in slack.posted("C0ACMEINT") if "Talked Q3" in (m.get("text") or "")]


def test_the_owner_logging_their_own_contact_is_not_told(acme, database, slack):
    shown(acme.command("log acme call Talked Q3 slots"))
    shown(acme.command("log beta call Talked Q3 slots", user="U0BOB"))
    settle(slack)
    assert slack.calls_to("chat.postMessage") == []


def test_a_note_is_not_contact_and_tells_nobody(acme, database, slack):
    shown(acme.command("log acme note Internal: margin is thin", user="U0BOB"))
    settle(slack)
    assert slack.posted("U0ANA") == []


def test_a_client_without_owner_tells_nobody(bot, database, slack):
    shown(bot.command('client add "Gamma" key:gamma'))
    shown(bot.command("log gamma email Sent the quote", user="U0BOB"))
    settle(slack)
    assert slack.calls_to("chat.postMessage") == []


def test_no_agreed_lines_says_so_in_the_dm(acme, slack):
    shown(acme.command("log acme visit Site tour", user="U0BOB"))
    [message] = dms(slack, "U0ANA")
    assert not [text for text in mrkdwn_texts(message) if "<topic>" in text or "<the agreed" in text]
    text = unescape(message_text(message))
    assert "<@U0BOB> logged a *visit* with *Acme Biologics GmbH*" in text
    assert "No agreed lines for this client yet" in text


def test_the_log_form_submitted_twice_tells_the_owner_once(acme, database, slack):
    view = opened_form(slack, acme.command("log", user="U0BOB"))
    state = {"client": external_select("acme"), "kind": static_select("email"),
             "summary": text_input("Sent the revised quote\nInternal: margin is thin"), "on": {"type": "datepicker",
                                                                       "selected_date": today().isoformat()}}
    acme.submit_view(view, state, user="U0BOB")
    acme.submit_view(view, state, user="U0BOB")
    [message] = dms(slack, "U0ANA")
    text = unescape(message_text(message))
    assert "<@U0BOB> logged an *email* with *Acme Biologics GmbH*" in text
    assert "Sent the revised quote" in text and "margin" not in text
    settle(slack)
    assert len(slack.posted("U0ANA")) == 1
    assert len(interactions(database)) == 1


def test_telling_the_owner_twice_about_one_interaction_queues_one_dm(acme, database, settings):
    from bot.commands.context import Context
    from bot.commands.voice import tell_owner
    from bot.services.interactions import log_interaction

    with database.transaction() as session:
        client = session.scalars(select(Client).where(Client.key == "acme")).one()
        actor = Actor("T0ACME", "U0BOB", "slash_command")
        interaction = log_interaction(session, actor, client, kind="call", summary="x", occurred_on=today(),
                                      today=today())
        ctx = Context(session, actor, settings)
        tell_owner(ctx, client, interaction)
        tell_owner(ctx, client, interaction)
    assert len([r for r in _outbox(database) if r.channel_id == "U0ANA"]) == 1


def _outbox(database) -> list[OutboxMessage]:
    return rows(database, OutboxMessage)


def test_the_console_shows_the_dm_as_a_direct_message(tmp_path, database_url):
    from tests.test_console import reply_to, run_console

    output = run_console("\n".join([
        '/cmo client add "Acme Bio" key:acme owner:@ana channel:#acme-int',
        '/cmo voice acme pricing: "Prices hold & <!channel>"',
        "/cmo log acme call Talked about slots",
    ]) + "\n", tmp_path, database_url)
    shown_text = reply_to(output, "/cmo log acme call Talked about slots")
    assert "── posted → DM @ana ──" in shown_text, output
    assert "@you logged a call with Acme Bio (`acme`)" in shown_text
    assert "• pricing: “Prices hold & <!channel>”" in shown_text
