"""Forms: a subcommand typed without its arguments opens a modal with the same fields; submitting it does
what the command does. The message shortcut opens the log form filled with the message. App Home.

Everything goes through the real endpoint with signed requests; the bot's Web API calls land in the
local Slack, which records them (listeners call Slack after the ack, so the tests wait for the call)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import func, select

from bot.db.models import AuditEvent, Client, Interaction
from tests.slackhttp import (
    conversation_select,
    date_picker,
    message_text,
    static_select,
    text_input,
    user_select,
)

FORMS = ("client add", "client set", "client archive", "log", "history")
NEEDS_A_CLIENT = ("client set", "client archive", "log", "history")
PAST_DAY = "2025-06-02"  # a Monday, long gone in every zone


# -- helpers ---------------------------------------------------------------------------------------

def add_client(bot, text: str) -> None:
    response = bot.command(f"client add {text}")
    assert response.status == 200
    assert "Added" in response.text, response.text


def open_form(bot, slack, monkeypatch, text: str, trigger: str = "trigger-form.1") -> dict:
    """Type `/cmo <text>`; the ack is empty and the bot opens a modal with that command's trigger_id."""
    following = bot.next_trigger_id
    triggers = iter([trigger])
    monkeypatch.setattr(bot, "next_trigger_id", lambda: next(triggers, None) or following())
    before = len(slack.calls_to("views.open"))
    response = bot.command(text)
    assert response.status == 200
    assert response.body == ""
    calls = slack.wait_for("views.open", count=before + 1)
    assert len(calls) == before + 1, "the bot opened no modal"
    call = calls[-1]
    assert call.args["trigger_id"] == trigger
    assert call.token == "xoxb-test-token"
    return call.args["view"]


def inputs(view: dict) -> dict[str, dict]:
    """{block_id: element} of the modal's inputs, in order."""
    return {block["block_id"]: block["element"] for block in view["blocks"] if block["type"] == "input"}


def optional_inputs(view: dict) -> set[str]:
    return {block["block_id"] for block in view["blocks"] if block["type"] == "input" and block.get("optional")}


def option_values(element: dict) -> list[str]:
    return [option["value"] for option in element["options"]]


def client_picker_offers(bot, typed: str = "") -> list[str]:
    """The client keys the client picker (an external select) offers while `typed` is typed."""
    return [option["value"] for option in bot.suggestions(typed)]


def view_text(view: dict) -> str:
    return message_text({"blocks": view.get("blocks") or []})


def clients(database) -> list[Client]:
    with database.transaction() as session:
        return list(session.scalars(select(Client).order_by(Client.id)))


def interactions(database) -> list[Interaction]:
    with database.transaction() as session:
        return list(session.scalars(select(Interaction).order_by(Interaction.id)))


def audit_events(database) -> list[AuditEvent]:
    with database.transaction() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def row_counts(database) -> tuple[int, int, int]:
    with database.transaction() as session:
        return tuple(session.scalar(select(func.count()).select_from(model))
                     for model in (Client, Interaction, AuditEvent))


def updated_view(response) -> dict:
    assert response.status == 200
    payload = response.json
    assert payload["response_action"] == "update", payload
    return payload["view"]


def errors(response) -> dict[str, str]:
    assert response.status == 200
    payload = response.json
    assert payload["response_action"] == "errors", payload
    return payload["errors"]


@pytest.fixture
def acme(bot):
    add_client(bot, '"Acme Biologics" key:acme owner:<@U0ANA|ana> channel:<#C0ACMEINT|acme-internal> cadence:14d')


# -- opening the forms -----------------------------------------------------------------------------

def test_client_add_form_has_the_commands_fields(bot, slack, monkeypatch):
    view = open_form(bot, slack, monkeypatch, "client add")
    assert view["type"] == "modal"
    assert view["title"]["text"] == "Add a client"
    fields = inputs(view)
    assert list(fields) == ["name", "key", "owner", "channel", "cadence", "tz", "country"]
    assert {block_id: element["type"] for block_id, element in fields.items()} == {
        "name": "plain_text_input", "key": "plain_text_input", "owner": "users_select",
        "channel": "conversations_select", "cadence": "plain_text_input", "tz": "plain_text_input",
        "country": "plain_text_input",
    }
    # Only the name is required, as in the command.
    assert optional_inputs(view) == {"key", "owner", "channel", "cadence", "tz", "country"}


def test_client_set_form_lists_the_clients_and_takes_people_and_channels(bot, slack, monkeypatch, acme):
    add_client(bot, '"Borealis Pharma" key:borealis')
    view = open_form(bot, slack, monkeypatch, "client set")
    fields = inputs(view)
    assert list(fields) == ["client", "owner", "channel", "shared", "cadence", "tz", "country"]
    assert fields["client"]["type"] == "external_select"
    assert client_picker_offers(bot) == ["acme", "borealis"]
    assert fields["owner"]["type"] == "users_select"
    assert fields["channel"]["type"] == "conversations_select"
    assert fields["shared"]["type"] == "conversations_select"
    assert "client" not in optional_inputs(view)


def test_client_archive_form_lists_only_active_clients(bot, slack, monkeypatch, acme):
    add_client(bot, '"Borealis Pharma" key:borealis')
    assert "Archived" in bot.command("client archive borealis").text
    view = open_form(bot, slack, monkeypatch, "client archive")
    fields = inputs(view)
    assert list(fields) == ["client"]
    assert fields["client"]["type"] == "external_select"
    assert client_picker_offers(bot) == ["acme"]


def test_log_form_has_client_kind_summary_and_date_pickers(bot, slack, monkeypatch, acme):
    view = open_form(bot, slack, monkeypatch, "log")
    fields = inputs(view)
    assert list(fields) == ["client", "kind", "summary", "on", "with", "next"]
    assert client_picker_offers(bot) == ["acme"]
    assert "initial_option" not in fields["client"]  # typed in #general: no client guessed
    assert fields["kind"]["type"] == "static_select"
    assert option_values(fields["kind"]) == ["call", "meeting", "email", "visit", "note"]
    assert fields["summary"]["type"] == "plain_text_input"
    assert fields["summary"].get("multiline") is True
    assert fields["on"]["type"] == "datepicker"
    # Defaults to today (in UTC here, the workspace zone; allow for midnight passing).
    today = dt.datetime.now(dt.UTC).date()
    assert fields["on"]["initial_date"] in (today.isoformat(), (today - dt.timedelta(days=1)).isoformat())
    assert fields["next"]["type"] == "datepicker"
    assert "initial_date" not in fields["next"]
    assert optional_inputs(view) == {"with", "next"}


def test_history_form_is_a_client_select(bot, slack, monkeypatch, acme):
    view = open_form(bot, slack, monkeypatch, "history")
    fields = inputs(view)
    assert list(fields) == ["client"]
    assert fields["client"]["type"] == "external_select"
    assert client_picker_offers(bot) == ["acme"]


@pytest.mark.parametrize("subcommand", NEEDS_A_CLIENT)
def test_forms_that_need_a_client_answer_an_error_when_there_is_none(bot, slack, monkeypatch, subcommand):
    response = bot.command(subcommand)
    assert response.status == 200
    assert response.json["response_type"] == "ephemeral"
    assert "no clients yet" in response.text
    assert "/cmo client add" in response.text
    # The form that needs no client still opens, and it is the only modal opened.
    view = open_form(bot, slack, monkeypatch, "client add")
    assert view["callback_id"] == "cmo:client add"
    assert len(slack.calls_to("views.open")) == 1


def test_client_add_form_is_opened_on_the_typed_command_trigger(bot, slack):
    # Two forms in a row: each views.open carries its own command's trigger_id.
    # (Listeners open forms after the ack, on threads of their own: their order is not the commands'.)
    bot.command("client add")
    bot.command("client add")
    triggers = sorted(call.args["trigger_id"] for call in slack.wait_for("views.open", count=2))
    assert triggers == ["1.1234.abcdef", "2.1234.abcdef"]


def test_a_form_slack_refuses_to_open_is_not_met_with_silence(bot, slack):
    slack.fail("views.open", error="expired_trigger_id")
    response = bot.command("client add")
    assert (response.status, response.body) == (200, "")
    [reply] = slack.wait_for("response_url")
    assert reply.args["response_type"] == "ephemeral"
    assert "Slack did not open the form (expired_trigger_id)" in reply.args["text"]
    assert "/cmo client add &lt;name&gt;" in reply.args["text"]


# -- submitting the forms --------------------------------------------------------------------------

def test_client_add_submission_adds_the_client(bot, slack, monkeypatch, database):
    view = open_form(bot, slack, monkeypatch, "client add")
    response = bot.submit_view(view, {
        "name": text_input("Acme Biologics"),
        "key": text_input("acme"),
        "owner": user_select("U0BEN"),
        "channel": conversation_select("C0ACMEINT"),
        "cadence": text_input("3w"),
        "tz": text_input("europe/berlin"),
    })
    result = updated_view(response)
    assert result["type"] == "modal"
    assert "Added" in view_text(result)
    assert "Acme Biologics" in view_text(result)
    assert "<@U0BEN>" in view_text(result)

    [client] = clients(database)
    assert (client.team_id, client.key, client.name) == ("T0ACME", "acme", "Acme Biologics")
    assert (client.owner_user_id, client.internal_channel_id) == ("U0BEN", "C0ACMEINT")
    assert (client.cadence_days, client.timezone) == (21, "Europe/Berlin")
    assert client.created_by == "U0ANA"
    [event] = audit_events(database)
    assert (event.action, event.surface, event.actor_user_id) == ("client.add", "modal", "U0ANA")

    # The same client the command would have made: the command sees it.
    assert "Acme Biologics" in bot.command("client list").text


def test_client_add_submission_with_only_a_name_makes_the_key(bot, slack, monkeypatch, database):
    view = open_form(bot, slack, monkeypatch, "client add")
    empty = {"type": "plain_text_input", "value": None}
    response = bot.submit_view(view, {"name": text_input("Borealis Pharma"), "key": empty, "cadence": empty,
                                      "tz": empty, "owner": user_select(None), "channel": conversation_select(None)})
    assert "Borealis Pharma" in view_text(updated_view(response))
    [client] = clients(database)
    assert (client.key, client.cadence_days, client.owner_user_id, client.timezone) == (
        "borealis-pharma", 14, None, None)


def test_client_set_submission_changes_only_what_was_filled_in(bot, slack, monkeypatch, database, acme):
    view = open_form(bot, slack, monkeypatch, "client set")
    response = bot.submit_view(view, {
        "client": static_select("acme"),
        "owner": user_select("U0BEN"),
        "shared": conversation_select("C0ACMESHARED"),
        "cadence": text_input("1w"),
    })
    shown = view_text(updated_view(response))
    assert "Updated" in shown
    assert "<@U0ANA> → <@U0BEN>" in shown

    [client] = clients(database)
    assert client.owner_user_id == "U0BEN"
    assert client.shared_channel_id == "C0ACMESHARED"
    assert client.cadence_days == 7
    assert client.internal_channel_id == "C0ACMEINT"  # left empty in the form: unchanged
    event = audit_events(database)[-1]
    assert (event.action, event.surface) == ("client.update", "modal")
    assert event.before["owner_user_id"] == "U0ANA"
    assert event.after["owner_user_id"] == "U0BEN"


def test_client_archive_submission_archives(bot, slack, monkeypatch, database, acme):
    view = open_form(bot, slack, monkeypatch, "client archive")
    shown = view_text(updated_view(bot.submit_view(view, {"client": static_select("acme")})))
    assert "Archived" in shown
    [client] = clients(database)
    assert client.archived_at is not None
    assert client.archived_by == "U0ANA"
    event = audit_events(database)[-1]
    assert (event.action, event.surface) == ("client.archive", "modal")
    assert "No clients yet" in bot.command("client list").text


def test_log_submission_logs_the_interaction(bot, slack, monkeypatch, database, acme):
    view = open_form(bot, slack, monkeypatch, "log")
    next_day = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    response = bot.submit_view(view, {
        "client": static_select("acme"),
        "kind": static_select("meeting"),
        "summary": text_input("Quarterly review: fill slots for Q1 agreed"),
        "on": date_picker(PAST_DAY),
        "with": text_input("Dr. Jane Roe"),
        "next": date_picker(next_day),
    })
    shown = view_text(updated_view(response))
    assert "Logged for" in shown
    assert "Quarterly review: fill slots for Q1 agreed" in shown
    assert "Dr. Jane Roe" in shown

    [interaction] = interactions(database)
    assert interaction.kind == "meeting"
    assert interaction.summary == "Quarterly review: fill slots for Q1 agreed"
    assert interaction.occurred_on == dt.date(2025, 6, 2)
    assert interaction.contact_name == "Dr. Jane Roe"
    assert interaction.next_contact_on.isoformat() == next_day
    assert (interaction.surface, interaction.logged_by, interaction.permalink) == ("modal", "U0ANA", None)
    event = audit_events(database)[-1]
    assert (event.action, event.surface) == ("interaction.log", "modal")

    assert "Quarterly review" in bot.command("status acme").text


def test_history_submission_shows_the_history_and_writes_nothing(bot, slack, monkeypatch, database, acme):
    view = open_form(bot, slack, monkeypatch, "history")
    before = row_counts(database)
    shown = view_text(updated_view(bot.submit_view(view, {"client": static_select("acme")})))
    assert "History of Acme Biologics" in shown
    assert "added the client" in shown
    assert row_counts(database) == before


# -- invalid submissions: errors next to the input, nothing written ---------------------------------

@pytest.mark.parametrize(("values", "block_id", "words"), [
    ({"name": text_input("Acme Biologics"), "cadence": text_input("3x")}, "cadence", "3x"),
    ({"name": text_input("Acme Biologics"), "cadence": text_input("2y")}, "cadence", "2y"),
    ({"name": text_input("Acme Biologics"), "tz": text_input("Mars/Olympus")}, "tz", "Mars/Olympus"),
    ({"name": text_input("Acme Biologics"), "key": text_input("no spaces allowed")}, "key", "no spaces allowed"),
], ids=["bad-cadence", "cadence-unit", "bad-tz", "bad-key"])
def test_client_add_submission_errors(bot, slack, monkeypatch, database, values, block_id, words):
    view = open_form(bot, slack, monkeypatch, "client add")
    found = errors(bot.submit_view(view, values))
    assert list(found) == [block_id]
    assert words in found[block_id]
    assert "`" not in found[block_id]  # modal errors are plain text
    assert row_counts(database) == (0, 0, 0)


def test_client_add_submission_with_a_taken_key_is_refused(bot, slack, monkeypatch, database, acme):
    before = row_counts(database)
    view = open_form(bot, slack, monkeypatch, "client add")
    found = errors(bot.submit_view(view, {"name": text_input("Acme Two"), "key": text_input("acme")}))
    assert list(found) == ["key"]
    assert "already used by Acme Biologics" in found["key"]
    assert row_counts(database) == before


def test_client_add_submission_with_a_taken_name_is_refused(bot, slack, monkeypatch, database, acme):
    before = row_counts(database)
    view = open_form(bot, slack, monkeypatch, "client add")
    found = errors(bot.submit_view(view, {"name": text_input("acme biologics"), "key": text_input("acme2")}))
    assert list(found) == ["name"]
    assert row_counts(database) == before


def test_log_submission_dated_in_the_future_is_refused(bot, slack, monkeypatch, database, acme):
    before = row_counts(database)
    view = open_form(bot, slack, monkeypatch, "log")
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    found = errors(bot.submit_view(view, {
        "client": static_select("acme"), "kind": static_select("call"),
        "summary": text_input("Will call them"), "on": date_picker(future),
    }))
    assert list(found) == ["on"]
    assert "in the future" in found["on"]
    assert row_counts(database) == before
    assert interactions(database) == []


def test_log_submission_with_next_contact_in_the_past_is_refused(bot, slack, monkeypatch, database, acme):
    before = row_counts(database)
    view = open_form(bot, slack, monkeypatch, "log")
    found = errors(bot.submit_view(view, {
        "client": static_select("acme"), "kind": static_select("call"), "summary": text_input("Spoke"),
        "on": date_picker(PAST_DAY), "next": date_picker("2025-01-01"),
    }))
    assert list(found) == ["next"]
    assert row_counts(database) == before


def test_log_submission_with_a_blank_summary_is_refused(bot, slack, monkeypatch, database, acme):
    view = open_form(bot, slack, monkeypatch, "log")
    found = errors(bot.submit_view(view, {
        "client": static_select("acme"), "kind": static_select("call"), "summary": text_input("   "),
        "on": date_picker(PAST_DAY),
    }))
    assert list(found) == ["summary"]
    assert interactions(database) == []


def test_client_set_submission_with_nothing_to_change_is_refused(bot, slack, monkeypatch, database, acme):
    before = row_counts(database)
    view = open_form(bot, slack, monkeypatch, "client set")
    found = errors(bot.submit_view(view, {"client": static_select("acme")}))
    assert list(found) == ["owner"]  # the first of the inputs that change something
    assert "at least one thing to change" in found["owner"]
    assert row_counts(database) == before


@pytest.mark.parametrize(("values", "block_id"), [
    ({"cadence": text_input("fortnightly")}, "cadence"),
    ({"tz": text_input("Europe/Berln")}, "tz"),
], ids=["bad-cadence", "bad-tz"])
def test_client_set_submission_errors(bot, slack, monkeypatch, database, acme, values, block_id):
    before = row_counts(database)
    view = open_form(bot, slack, monkeypatch, "client set")
    found = errors(bot.submit_view(view, {"client": static_select("acme"), "owner": user_select("U0BEN"),
                                          **values}))
    assert list(found) == [block_id]
    assert row_counts(database) == before
    assert clients(database)[0].owner_user_id == "U0ANA"  # one submission, one transaction


def test_tz_error_suggests_the_close_zone(bot, slack, monkeypatch, acme):
    view = open_form(bot, slack, monkeypatch, "client set")
    found = errors(bot.submit_view(view, {"client": static_select("acme"), "tz": text_input("Europe/Berln")}))
    assert "Europe/Berlin" in found["tz"]


def test_archived_client_submission_is_refused_next_to_the_client(bot, slack, monkeypatch, database, acme):
    view = open_form(bot, slack, monkeypatch, "log")  # opened while acme was still active
    assert "Archived" in bot.command("client archive acme").text
    before = row_counts(database)
    found = errors(bot.submit_view(view, {
        "client": static_select("acme"), "kind": static_select("call"), "summary": text_input("Spoke"),
        "on": date_picker(PAST_DAY),
    }))
    assert list(found) == ["client"]
    assert "archived" in found["client"]
    assert row_counts(database) == before


# -- the message shortcut ---------------------------------------------------------------------------

def shortcut_view(bot, slack, **kwargs) -> dict:
    response = bot.message_shortcut(**kwargs)
    assert response.status == 200
    assert response.body == ""
    [call] = slack.wait_for("views.open")
    return call.args["view"]


def wait_until(condition, timeout: float = 5.0) -> None:
    """For what happens after the answer to Slack (a follow-up on a background thread)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "it did not happen"
        time.sleep(0.02)


def permalink_for(channel: str, ts: str) -> str:
    """What the local Slack answers to chat.getPermalink, as Slack's own links look."""
    return f"https://local.slack.invalid/archives/{channel}/p{ts.replace('.', '')}"


def test_shortcut_opens_the_log_form_filled_with_the_message(bot, slack, monkeypatch, acme):
    add_client(bot, '"Borealis Pharma" key:borealis')
    monkeypatch.setattr(bot, "next_trigger_id", lambda: "trigger-shortcut.7")
    view = shortcut_view(bot, slack, text="Batch B-12 &lt;urgent&gt;: fill moved to Tue &amp; QA agreed",
                         channel="C0ACMEINT", message_ts="1732400000.000100")
    assert view["callback_id"] == "cmo:log"
    fields = inputs(view)
    assert fields["summary"]["initial_value"] == "Batch B-12 <urgent>: fill moved to Tue & QA agreed"
    # Shared from acme's internal channel: acme is chosen already.
    assert fields["client"]["initial_option"]["value"] == "acme"
    assert client_picker_offers(bot) == ["acme", "borealis"]
    assert "link is kept" in view_text(view)
    assert slack.calls_to("views.open")[0].args["trigger_id"] == "trigger-shortcut.7"
    # The form opens at once: the message's link is asked for only once the form is submitted.
    assert slack.calls_to("chat.getPermalink") == []


def test_shortcut_from_another_channel_selects_no_client(bot, slack, acme):
    view = shortcut_view(bot, slack, text="Thanks, talk next week", channel="C0RANDOM")
    fields = inputs(view)
    assert "initial_option" not in fields["client"]
    assert fields["summary"]["initial_value"] == "Thanks, talk next week"


def test_shortcut_submission_keeps_the_permalink(bot, slack, database, acme):
    view = shortcut_view(bot, slack, text="Client confirmed the PO &amp; the CoA template",
                         channel="C0ACMEINT", message_ts="1732400123.000200")
    fields = inputs(view)
    response = bot.submit_view(view, {
        "client": static_select(fields["client"]["initial_option"]["value"]),
        "kind": static_select("email"),
        "summary": text_input(fields["summary"]["initial_value"]),
        "on": date_picker(fields["on"]["initial_date"]),
    })
    shown = view_text(updated_view(response))
    assert "Logged for" in shown
    permalink = permalink_for("C0ACMEINT", "1732400123.000200")
    [permalink_call] = slack.wait_for("chat.getPermalink")
    assert (permalink_call.args["channel"], permalink_call.args["message_ts"]) == ("C0ACMEINT", "1732400123.000200")
    wait_until(lambda: interactions(database)[0].permalink is not None)

    [interaction] = interactions(database)
    assert interaction.summary == "Client confirmed the PO & the CoA template"
    assert interaction.kind == "email"
    assert interaction.permalink == permalink
    assert interaction.surface == "message_shortcut"
    logged, linked = audit_events(database)[-2:]
    assert (logged.action, logged.surface) == ("interaction.log", "message_shortcut")
    assert (linked.action, linked.surface) == ("interaction.link", "message_shortcut")
    assert (linked.before["permalink"], linked.after["permalink"]) == (None, permalink)
    # The link is shown with the interaction.
    assert permalink in bot.command("status acme").text


def test_shortcut_still_logs_when_the_permalink_fails(bot, slack, database, acme):
    slack.fail("chat.getPermalink", error="channel_not_found")
    view = shortcut_view(bot, slack, text="Spoke to Jane about the deviation", channel="C0ACMEINT")
    fields = inputs(view)
    assert fields["summary"]["initial_value"] == "Spoke to Jane about the deviation"
    response = bot.submit_view(view, {
        "client": static_select("acme"), "kind": static_select("call"),
        "summary": text_input("Spoke to Jane about the deviation"), "on": date_picker(PAST_DAY),
    })
    assert "Logged for" in view_text(updated_view(response))
    assert len(slack.wait_for("chat.getPermalink")) == 1
    [interaction] = interactions(database)
    assert interaction.permalink is None
    assert interaction.surface == "message_shortcut"


def test_shortcut_with_no_clients_says_so(bot, slack):
    response = bot.message_shortcut(text="hello")
    assert response.status == 200
    [reply] = slack.wait_for("response_url")
    assert reply.args["response_type"] == "ephemeral"
    assert "no clients yet" in message_text(reply.args)
    assert slack.calls_to("views.open") == []


# -- App Home ------------------------------------------------------------------------------------------

def home_opened(bot, slack, user: str, event_id: str = "Ev0001") -> dict:
    response = bot.event({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home",
                          "event_ts": "1732400000.000100"}, event_id=event_id)
    assert response.status == 200
    calls = [call for call in slack.wait_for("views.publish") if call.args["user_id"] == user]
    assert calls, f"no home published for {user}"
    return calls[-1].args["view"]


def test_app_home_lists_clients_with_health(bot, slack, acme):
    add_client(bot, '"Borealis Pharma" key:borealis owner:<@U0BEN|ben>')
    assert "Logged for" in bot.command("log acme call Agreed the Q1 fill slots").text
    view = home_opened(bot, slack, "U0ANA")
    assert view["type"] == "home"
    shown = view_text(view)
    assert "My clients" in shown  # U0ANA owns acme
    assert "Portfolio health" in shown
    assert "Acme Biologics" in shown and "Borealis Pharma" in shown
    assert ":large_green_circle: *Acme Biologics*" in shown
    assert ":large_orange_circle: *Borealis Pharma*" in shown
    assert "no contact logged yet" in shown
    # "My clients" lists only the reader's own.
    mine = shown.split("Portfolio health")[0]
    assert "Acme Biologics" in mine and "Borealis" not in mine


def test_app_home_for_someone_owning_nothing_shows_the_portfolio(bot, slack, acme):
    view = home_opened(bot, slack, "U0CARL")
    shown = view_text(view)
    assert "My clients" not in shown
    assert "Acme Biologics" in shown


def test_app_home_with_no_clients_says_how_to_start(bot, slack):
    shown = view_text(home_opened(bot, slack, "U0ANA"))
    assert "No clients yet" in shown


def test_app_home_messages_tab_publishes_nothing(bot, slack, acme):
    response = bot.event({"type": "app_home_opened", "user": "U0ANA", "channel": "D0HOME", "tab": "messages",
                          "event_ts": "1732400000.000100"}, event_id="Ev0002")
    assert response.status == 200
    home_opened(bot, slack, "U0BEN", event_id="Ev0003")  # a later home tab: published
    assert [call.args["user_id"] for call in slack.calls_to("views.publish")] == ["U0BEN"]
