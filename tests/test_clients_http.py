"""`/cmo help` and `/cmo client add|list|set|archive` end to end: signed slash commands into the real
endpoint, the ephemeral reply the user reads, and the rows (clients, audit_events) written or not."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from bot.db.models import AuditEvent
from tests.commands_support import (
    FORMS,
    assert_error,
    assert_no_raw_markup,
    assert_shows_cadence,
    audit_events,
    channel_link,
    client_row,
    clients,
    mention,
    opened_form,
    reply,
    shown,
    table_counts,
    typed,
)

ANA = mention("U0ANA", "ana")
BOB = mention("U0BOB", "bob")


def add(bot, text: str, **kwargs) -> str:
    return shown(bot.command("client add " + text, **kwargs))


# --- help -------------------------------------------------------------------------------------------


def test_help_lists_every_command_form(bot):
    text = shown(bot.command("help"))
    for form in FORMS.values():
        assert form in text


def test_empty_command_shows_help(bot):
    assert FORMS["log"] in shown(bot.command(""))


@pytest.mark.parametrize(("topic", "expected"), [
    ("client", ["Clients", FORMS["client add"], FORMS["client set"], "`none` clears"]),
    ("log", [FORMS["log"], "a note does not count as contact", "latest Friday"]),
    ("health", ["Green", "Amber", "Red", "notes don't count"]),
    ("status", [FORMS["status"], "mine"]),
    ("history", [FORMS["history"], "append-only"]),
])
def test_help_topic(bot, topic, expected):
    text = shown(bot.command(f"help {topic}"))
    for fragment in expected:
        assert fragment in text


def test_help_on_an_unknown_topic_says_so_and_lists_the_commands(bot):
    text = shown(bot.command("help astrology"))
    assert "There is no help on `astrology`" in text
    assert FORMS["client add"] in text


def test_unknown_subcommand_shows_help_and_writes_nothing(bot, database):
    before = table_counts(database)
    response = bot.command("frobnicate acme now")
    payload = reply(response)
    text = shown(response)
    assert payload["blocks"][0]["text"]["text"].startswith(":warning:")
    assert "`frobnicate` is not a `/cmo` command" in text
    for form in FORMS.values():
        assert form in text
    assert table_counts(database) == before


def test_unknown_subcommand_is_escaped(bot):
    response = bot.command(typed("<!channel>&co"))
    assert "<!channel>&co" in shown(response)
    assert_no_raw_markup(response, "<!channel>", "&co")


def test_unknown_client_action_shows_the_client_forms(bot, database):
    response = bot.command("client delete acme")
    assert_error(response, "`client delete` is not a client command", form=FORMS["client archive"])
    assert FORMS["client add"] in shown(response)
    assert table_counts(database) == {"clients": 0, "interactions": 0, "audit_events": 0}


# --- client add ---------------------------------------------------------------------------------------


def test_client_add_with_every_option(bot, database):
    before = dt.datetime.now(dt.UTC)
    response = bot.command(f'client add "Acme Biologics GmbH" key:acme owner:{ANA} '
                           f"channel:{channel_link('C0ACMEINT', 'acme-int')} cadence:2w tz:europe/berlin country:de")
    text = shown(response)
    assert "Added *Acme Biologics GmbH* (`acme`)" in text
    assert "owner <@U0ANA>" in text
    assert_shows_cadence(text, "cadence {}", 14)
    assert "internal <#C0ACMEINT>" in text
    assert "Europe/Berlin" in text
    assert "· DE" in text

    [client] = clients(database)
    assert (client.team_id, client.key, client.name) == ("T0ACME", "acme", "Acme Biologics GmbH")
    assert (client.owner_user_id, client.internal_channel_id, client.shared_channel_id) == ("U0ANA", "C0ACMEINT",
                                                                                            None)
    assert (client.cadence_days, client.timezone, client.created_by) == (14, "Europe/Berlin", "U0ANA")
    assert (client.country, client.snoozed_until) == ("DE", None)
    assert client.archived_at is None

    [event] = audit_events(database)
    assert (event.action, event.actor_user_id, event.surface) == ("client.add", "U0ANA", "slash_command")
    assert (event.entity_type, event.entity_id, event.client_id) == ("clients", client.id, client.id)
    assert event.before is None
    assert event.after == {"key": "acme", "name": "Acme Biologics GmbH", "owner_user_id": "U0ANA",
                           "internal_channel_id": "C0ACMEINT", "shared_channel_id": None, "cadence_days": 14,
                           "timezone": "Europe/Berlin", "country": "DE", "snoozed_until": None,
                           "archived_at": None}
    assert event.occurred_at.utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(seconds=1) <= event.occurred_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)


def test_client_add_defaults_and_hints(bot, database):
    text = add(bot, "Beta Labs")
    assert "Added *Beta Labs* (`beta-labs`)" in text
    assert "owner nobody" in text
    assert_shows_cadence(text, "cadence {}", 14)
    # What to do next, in the right form.
    assert "/cmo client set beta-labs owner:@someone" in text
    assert "/cmo client set beta-labs channel:#channel" in text
    assert "/cmo log beta-labs call <summary>" in text
    [client] = clients(database)
    assert (client.key, client.cadence_days, client.owner_user_id, client.timezone) == ("beta-labs", 14, None, None)


def test_client_add_takes_a_bare_mention_without_a_name(bot, database):
    add(bot, "Gamma owner:<@U0GAMMA> channel:<#C0GAMMA>")
    [client] = clients(database)
    assert (client.owner_user_id, client.internal_channel_id) == ("U0GAMMA", "C0GAMMA")


def test_client_add_cadence_in_days(bot, database):
    assert_shows_cadence(add(bot, "Delta cadence:10d"), "cadence {}", 10)
    assert client_row(database, "delta").cadence_days == 10


def test_name_with_ampersand_and_channel_ping_is_stored_whole_and_shown_escaped(bot, database):
    response = bot.command("client add " + typed('"Smith & Jones <!channel>" key:sj'))
    assert "Added *Smith & Jones <!channel>* (`sj`)" in shown(response)
    assert_no_raw_markup(response, "<!channel>", "Smith & Jones")
    assert client_row(database, "sj").name == "Smith & Jones <!channel>"

    for command in ("client list", "status sj", "history sj", "status"):
        response = bot.command(command)
        assert "Smith & Jones <!channel>" in shown(response), command
        assert_no_raw_markup(response, "<!channel>", "Smith & Jones")


def test_client_list(bot, database):
    add(bot, f'"Zeta Pharma" key:zeta owner:{ANA}')
    add(bot, f"Acme key:acme channel:{channel_link('C0ACMEINT', 'acme-int')} cadence:3w tz:Asia/Tokyo")
    add(bot, "Old Co key:old")
    bot.command("client archive old")

    response = bot.command("client list")
    text = shown(response)
    assert "Clients (2)" in text
    assert text.index("*Acme* (`acme`)") < text.index("*Zeta Pharma* (`zeta`)")  # by name
    assert "internal <#C0ACMEINT>" in text and "Asia/Tokyo" in text
    assert_shows_cadence(text, "cadence {}", 21)
    assert "owner <@U0ANA>" in text
    assert "Old Co" not in text  # archived clients are not listed ...
    assert client_row(database, "old").archived_at is not None  # ... but kept


def test_client_list_when_empty(bot):
    assert "No clients yet. Add one with `/cmo client add <name>`." in shown(bot.command("client list"))


def test_client_list_of_many_clients_stays_within_block_kit(bot):
    for number in range(60):
        add(bot, f'"Client number {number:02} with a rather long name for packing" key:c{number:02}')
    response = bot.command("client list")
    text = shown(response)  # reply() checks the limits
    assert "Clients (60)" in text
    assert "(`c00`)" in text and "(`c59`)" in text


# --- client add: bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "fragments"), [
    ("client add key:x", ["Give the client's name"]),
    ("client add Acme cadnce:14d", ["`cadnce:` is not an option here"]),
    ("client add Acme cadence:fortnight", ["`fortnight` is not a cadence"]),
    ("client add Acme cadence:0d", ["is not a cadence"]),
    ("client add Acme cadence:60w", ["longer than a year"]),
    ("client add Acme tz:Mars/Olympus", ["`Mars/Olympus` is not an IANA time zone"]),
    ("client add Acme tz:europe/berln", ["is not an IANA time zone", "Europe/Berlin"]),
    ("client add Acme owner:ana", ["`owner:ana` is not a Slack user"]),
    ("client add Acme channel:acme-int", ["`channel:acme-int` is not a Slack channel"]),
    ("client add Acme key:\"has space\"", ["can't be a key"]),
    ("client add Acme key:Acme_Corp!", ["can't be a key"]),
    ("client add Acme key:a key:b", ["`key:` is given twice"]),
    ("client add Acme key:", ["`key:` needs a value"]),
    ('client add "Acme Biologics', ["A quote was left open"]),
])
def test_client_add_bad_input_writes_nothing(bot, database, command, fragments):
    response = bot.command(command)
    assert_error(response, *fragments, form=FORMS["client add"])
    assert table_counts(database) == {"clients": 0, "interactions": 0, "audit_events": 0}


def test_client_add_name_too_long(bot, database):
    assert_error(bot.command("client add " + "x" * 201), "at most 200 characters", form=FORMS["client add"])
    assert table_counts(database)["clients"] == 0


def test_duplicate_key_is_refused_and_writes_nothing(bot, database):
    add(bot, '"Acme Biologics" key:acme')
    before = table_counts(database)
    response = bot.command('client add "Acme Two" key:ACME')
    assert_error(response, "The key `acme` is already used by Acme Biologics", "key:", form=FORMS["client add"])
    # A key made from the name can collide too.
    response = bot.command("client add acme")
    assert_error(response, "The key `acme` is already used by Acme Biologics", form=FORMS["client add"])
    assert table_counts(database) == before


def test_duplicate_name_is_refused(bot, database):
    add(bot, '"Acme Biologics" key:acme')
    before = table_counts(database)
    assert_error(bot.command('client add "ACME biologics" key:acme2'),
                 "There is already a client named Acme Biologics (key `acme`)", form=FORMS["client add"])
    assert table_counts(database) == before


def test_key_of_an_archived_client_stays_taken(bot, database):
    add(bot, "Acme key:acme")
    bot.command("client archive acme")
    before = table_counts(database)
    assert_error(bot.command("client add Acme key:acme"), "already used by Acme (archived)",
                 form=FORMS["client add"])
    assert table_counts(database) == before


def test_client_add_without_arguments_opens_the_form(bot, slack, database):
    view = opened_form(slack, bot.command("client add"))
    assert view["callback_id"] == "cmo:client add"
    assert view["title"]["text"] == "Add a client"
    assert table_counts(database)["clients"] == 0


# --- resolving a client ----------------------------------------------------------------------------------


@pytest.fixture
def portfolio(bot):
    add(bot, f'"Acme Biologics GmbH" key:acme owner:{ANA}')
    add(bot, '"Acme Two" key:acme-two')
    add(bot, '"Acorn Therapeutics" key:acorn')
    add(bot, '"Beta Labs" key:bl')
    return bot


@pytest.mark.parametrize(("reference", "expected"), [
    ("acme", "Acme Biologics GmbH"),  # a key, even though it is also a prefix of `acme-two`
    ("ACME", "Acme Biologics GmbH"),  # case-insensitive
    ("acme-t", "Acme Two"),  # prefix of a key
    ('"Acme Biologics GmbH"', "Acme Biologics GmbH"),  # the full name
    ('"acme biologics"', "Acme Biologics GmbH"),  # a prefix of the name
    ("acor", "Acorn Therapeutics"),
    ("Beta", "Beta Labs"),  # a prefix of the name, not of the key
    ('"beta labs"', "Beta Labs"),
    ("bl", "Beta Labs"),
])
def test_client_resolves_by_key_name_or_prefix(portfolio, reference, expected):
    for command in (f"status {reference}", f"history {reference}"):
        text = shown(portfolio.command(command))
        assert expected in text, command
        assert ":warning:" not in text


def test_client_set_resolves_a_quoted_name(portfolio, database):
    text = shown(portfolio.command('client set "beta labs" cadence:1w'))
    assert "Updated *Beta Labs* (`bl`)" in text
    assert client_row(database, "bl").cadence_days == 7


def test_ambiguous_reference_lists_the_candidates_and_writes_nothing(portfolio, database):
    before = table_counts(database)
    response = portfolio.command("client set ac cadence:1w")
    text = assert_error(response, "`ac` could be", form=FORMS["client set"])
    for candidate in ("Acme Biologics GmbH (`acme`)", "Acme Two (`acme-two`)", "Acorn Therapeutics (`acorn`)"):
        assert candidate in text
    assert "Beta Labs" not in text
    assert table_counts(database) == before
    assert {c.cadence_days for c in clients(database)} == {14}


def test_unknown_reference_suggests_close_candidates(portfolio, database):
    before = table_counts(database)
    text = assert_error(portfolio.command("client archive acne"), "No client matches `acne`", "Did you mean",
                        form=FORMS["client archive"])
    assert "Acme Biologics GmbH (`acme`)" in text
    assert table_counts(database) == before
    assert all(c.archived_at is None for c in clients(database))


def test_unknown_reference_lists_the_clients_when_nothing_is_close(portfolio, database):
    text = assert_error(portfolio.command("status zzz"), "No client matches `zzz`", form=FORMS["status"])
    for name in ("Acme Biologics GmbH", "Acme Two", "Acorn Therapeutics", "Beta Labs"):
        assert name in text


def test_unknown_reference_with_no_clients_says_how_to_add_one(bot):
    assert_error(bot.command("status acme"), "there are no clients yet", "/cmo client add <name>",
                 form=FORMS["status"])


def test_reference_with_markup_is_escaped_in_the_error(portfolio):
    response = portfolio.command("history " + typed("<!channel>"))
    assert_error(response, "No client matches `<!channel>`", form=FORMS["history"])
    assert_no_raw_markup(response, "<!channel>")


# --- client set ------------------------------------------------------------------------------------------


def test_client_set_every_field_shows_before_and_after(portfolio, database):
    response = portfolio.command(
        f"client set acme owner:{BOB} channel:{channel_link('C0ACMEINT', 'acme-int')} "
        f"shared:{channel_link('C0ACMEEXT', 'acme-ext')} cadence:3w tz:europe/berlin")
    text = shown(response)
    assert "Updated *Acme Biologics GmbH* (`acme`)" in text
    assert "owner: <@U0ANA> → <@U0BOB>" in text
    assert "internal channel: none → <#C0ACMEINT>" in text
    assert "shared channel: none → <#C0ACMEEXT>" in text
    assert_shows_cadence(text, "cadence: {} → {}", 14, 21)
    assert "time zone: none → Europe/Berlin" in text

    client = client_row(database, "acme")
    assert (client.owner_user_id, client.internal_channel_id, client.shared_channel_id, client.cadence_days,
            client.timezone) == ("U0BOB", "C0ACMEINT", "C0ACMEEXT", 21, "Europe/Berlin")

    event = audit_events(database)[-1]
    assert (event.action, event.actor_user_id, event.surface, event.client_id) == (
        "client.update", "U0ANA", "slash_command", client.id)
    assert event.before["owner_user_id"] == "U0ANA" and event.after["owner_user_id"] == "U0BOB"
    assert event.before["internal_channel_id"] is None and event.after["internal_channel_id"] == "C0ACMEINT"
    assert event.before["shared_channel_id"] is None and event.after["shared_channel_id"] == "C0ACMEEXT"
    assert event.before["cadence_days"] == 14 and event.after["cadence_days"] == 21
    assert event.before["timezone"] is None and event.after["timezone"] == "Europe/Berlin"
    assert event.before["name"] == event.after["name"] == "Acme Biologics GmbH"
    assert event.occurred_at.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(("option", "field", "label"), [
    ("owner", "owner_user_id", "owner: <@U0BOB> → none"),
    ("channel", "internal_channel_id", "internal channel: <#C0X> → none"),
    ("shared", "shared_channel_id", "shared channel: <#C0X> → none"),
    ("tz", "timezone", "time zone: Asia/Tokyo → none"),
])
def test_client_set_none_clears(portfolio, database, option, field, label):
    value = {"owner": BOB, "channel": "<#C0X|x>", "shared": "<#C0X|x>", "tz": "Asia/Tokyo"}[option]
    portfolio.command(f"client set acme {option}:{value}")
    assert getattr(client_row(database, "acme"), field) is not None
    text = shown(portfolio.command(f"client set acme {option}:NONE"))
    assert label in text
    assert getattr(client_row(database, "acme"), field) is None
    event = audit_events(database)[-1]
    assert event.after[field] is None and event.before[field] is not None


def test_client_set_cadence_cannot_be_cleared(portfolio, database):
    before = table_counts(database)
    assert_error(portfolio.command("client set acme cadence:none"), "`none` is not a cadence",
                 form=FORMS["client set"])
    assert table_counts(database) == before


def test_client_set_nothing_changed_writes_no_event(portfolio, database):
    before = table_counts(database)
    text = shown(portfolio.command(f"client set acme owner:{ANA} cadence:2w"))
    assert "Nothing changed: Acme Biologics GmbH already has those settings." in text
    assert table_counts(database) == before


@pytest.mark.parametrize(("command", "fragments"), [
    ("client set acme", ["Say what to change"]),
    ("client set owner:<@U0BOB|bob>", ["Say which client to change"]),
    ("client set acme colour:red", ["`colour:` is not an option here"]),
    ("client set acme key:acme2", ["`key:` is not an option here"]),
    ("client set acme owner:bob", ["`owner:bob` is not a Slack user"]),
    ("client set acme shared:acme-ext", ["`shared:acme-ext` is not a Slack channel"]),
    ("client set acme cadence:soon", ["`soon` is not a cadence"]),
    ("client set acme tz:Europe/Atlantis", ["`Europe/Atlantis` is not an IANA time zone"]),
    ("client set nobody cadence:1w", ["No client matches `nobody`"]),
    ("client set ac cadence:1w", ["`ac` could be"]),
    ('client set "acme cadence:1w', ["A quote was left open"]),
])
def test_client_set_bad_input_writes_nothing(portfolio, database, command, fragments):
    before = table_counts(database)
    assert_error(portfolio.command(command), *fragments, form=FORMS["client set"])
    assert table_counts(database) == before
    client = client_row(database, "acme")
    assert (client.owner_user_id, client.cadence_days, client.shared_channel_id) == ("U0ANA", 14, None)


def test_one_bad_option_writes_none_of_the_good_ones(portfolio, database):
    before = table_counts(database)
    assert_error(portfolio.command(f"client set acme owner:{BOB} cadence:1w tz:Nowhere/Land"),
                 "not an IANA time zone", form=FORMS["client set"])
    assert table_counts(database) == before
    client = client_row(database, "acme")
    assert (client.owner_user_id, client.cadence_days) == ("U0ANA", 14)


# --- client archive ----------------------------------------------------------------------------------------


def test_archive_keeps_the_client_and_its_history(portfolio, database, slack):
    slack.admins.add("U0BOB")  # archiving is a manager's: a Slack workspace admin is one
    portfolio.command("log acme call Agreed the Q1 fill slots")
    response = portfolio.command("client archive acme", user="U0BOB")
    text = shown(response)
    assert "Archived *Acme Biologics GmbH* (`acme`)" in text
    assert "/cmo history acme" in text

    client = client_row(database, "acme")
    assert client.archived_at is not None and client.archived_by == "U0BOB"
    assert len(clients(database)) == 4  # nothing deleted
    event = audit_events(database)[-1]
    assert (event.action, event.actor_user_id, event.surface) == ("client.archive", "U0BOB", "slash_command")
    assert event.before["archived_at"] is None
    assert event.after["archived_at"] == client.archived_at.isoformat()

    # The archived client no longer takes new records ...
    before = table_counts(database)
    assert_error(portfolio.command("log acme call Another call"), "Acme Biologics GmbH (`acme`) is archived since",
                 form=FORMS["log"])
    assert_error(portfolio.command("client set acme cadence:1w"), "is archived", form=FORMS["client set"])
    assert_error(portfolio.command("client archive acme"), "is archived", form=FORMS["client archive"])
    assert_error(portfolio.command("status acme"), "is archived", form=FORMS["status"])
    assert table_counts(database) == before

    # ... and no longer makes `acme-two` ambiguous,
    assert "Acme Two" in shown(portfolio.command("status acme-"))
    assert "Acme Biologics" not in shown(portfolio.command("client list"))

    # ... but its history is all there.
    text = shown(portfolio.command("history acme"))
    assert "History of Acme Biologics GmbH (acme)" in text
    assert "archived the client" in text
    assert "logged a call" in text and "Agreed the Q1 fill slots" in text
    assert "added the client as *Acme Biologics GmbH* (`acme`)" in text
    assert text.index("archived the client") < text.index("logged a call") < text.index("added the client")


def test_archive_without_a_client_opens_the_form(portfolio, slack, database):
    before = table_counts(database)
    view = opened_form(slack, portfolio.command("client archive"))
    assert view["callback_id"] == "cmo:client archive"
    assert table_counts(database) == before


# --- the audit trail ---------------------------------------------------------------------------------------


def test_audit_events_for_add_set_archive_and_log(bot, database, slack):
    slack.admins.update({"U0BOB", "U0DAVE"})  # cadence and archiving are managers': Slack admins are
    add(bot, f"Acme key:acme owner:{ANA}")
    bot.command("client set acme cadence:1w", user="U0BOB")
    bot.command("log acme email Sent the batch record", user="U0CAROL")
    bot.command("client archive acme", user="U0DAVE")

    events = audit_events(database)
    assert [(e.action, e.actor_user_id, e.surface) for e in events] == [
        ("client.add", "U0ANA", "slash_command"),
        ("client.update", "U0BOB", "slash_command"),
        ("interaction.log", "U0CAROL", "slash_command"),
        ("client.archive", "U0DAVE", "slash_command"),
    ]
    client_id = client_row(database, "acme").id
    assert all(e.client_id == client_id and e.team_id == "T0ACME" for e in events)
    assert all(e.occurred_at.utcoffset() == dt.timedelta(0) for e in events)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert events[1].before["cadence_days"] == 14 and events[1].after["cadence_days"] == 7
    logged = events[2]
    assert logged.entity_type == "interactions" and logged.before is None
    assert logged.after["kind"] == "email" and logged.after["summary"] == "Sent the batch record"

    text = shown(bot.command("history acme"))
    assert "<@U0BOB>" in text
    assert_shows_cadence(text, "cadence {} → {}", 14, 7)
    assert "<@U0CAROL>" in text and "email on" in text and "Sent the batch record" in text
    assert "<@U0DAVE>" in text and "slash command" in text
    assert "UTC" in text


def test_audit_events_refuse_update_and_delete_in_the_database(bot, database):
    add(bot, "Acme key:acme")
    [event] = audit_events(database)

    with pytest.raises(DBAPIError), database.transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(actor_user_id="U0MALLORY"))
    with pytest.raises(DBAPIError), database.transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == event.id))
    with pytest.raises(DBAPIError), database.transaction() as session:
        session.execute(text("UPDATE audit_events SET action = 'client.nothing'"))
    with pytest.raises(DBAPIError), database.transaction() as session:
        session.execute(text("DELETE FROM audit_events"))

    [still] = audit_events(database)
    assert (still.id, still.action, still.actor_user_id) == (event.id, "client.add", "U0ANA")


def test_audit_events_refuse_update_through_the_orm(bot, database):
    add(bot, "Acme key:acme")
    with pytest.raises(DBAPIError), database.transaction() as session:
        event = session.get(AuditEvent, audit_events(database)[0].id)
        event.after = {"name": "Forged"}
    assert audit_events(database)[0].after["name"] == "Acme"


# --- workspaces --------------------------------------------------------------------------------------------


def test_second_workspace_sees_none_of_the_first_ones_clients(bot, database):
    add(bot, f'"Acme Biologics" key:acme owner:{ANA}')
    bot.command("log acme call Kick-off")

    assert "No clients yet" in shown(bot.command("client list", team="T0OTHER", user="U0ZED"))
    assert "No clients yet" in shown(bot.command("status", team="T0OTHER", user="U0ZED"))
    for command in ("status acme", "history acme", "client set acme cadence:1w", "client archive acme",
                    "log acme call Hello"):
        before = table_counts(database)
        response = bot.command(command, team="T0OTHER", user="U0ZED")
        assert_error(response, "No client matches `acme`", form=None)
        assert "Acme Biologics" not in shown(response)
        assert table_counts(database) == before

    # The same key is free in the other workspace, and stays separate.
    assert "Added *Acme Other* (`acme`)" in add(bot, '"Acme Other" key:acme', team="T0OTHER", user="U0ZED")
    other_list = shown(bot.command("client list", team="T0OTHER", user="U0ZED"))
    assert "Acme Other" in other_list and "Acme Biologics" not in other_list
    first_list = shown(bot.command("client list"))
    assert "Acme Biologics" in first_list and "Acme Other" not in first_list

    status = shown(bot.command("status acme", team="T0OTHER", user="U0ZED"))
    assert "Acme Other" in status and "Kick-off" not in status and "none logged yet" in status

    # Candidate lists never leak another workspace's clients.
    text = assert_error(bot.command("status acm-other-thing", team="T0OTHER", user="U0ZED"), "No client matches",
                        form=FORMS["status"])
    assert "Acme Biologics" not in text

    [mine] = clients(database, "T0ACME")
    [theirs] = clients(database, "T0OTHER")
    assert (mine.name, theirs.name) == ("Acme Biologics", "Acme Other")
    assert {e.team_id for e in audit_events(database, "T0OTHER")} == {"T0OTHER"}
    assert len(audit_events(database, "T0OTHER")) == 1
    assert "Kick-off" not in shown(bot.command("history acme", team="T0OTHER", user="U0ZED"))
