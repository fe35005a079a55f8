"""Roles end to end (issue 11, part 3): managers (RAPPORT_MANAGERS, Slack workspace admins and owners) may
archive clients and change owners and cadences; a client's owner may change their own client's other
settings; a refused action says who may do it and writes nothing. Signed slash commands into the real
endpoint; Slack's users.info is the local fake's."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from bot.db.models import SlackUser
from tests.commands_support import assert_error, channel_link, client_row, mention, shown, table_counts

ANA, BOB = mention("U0ANA", "ana"), mention("U0BOB", "bob")
ACME_CHANNEL = channel_link("C0ACME", "acme-internal")


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, managers=frozenset({"U0MGR"}))


@pytest.fixture
def acme(bot):
    """Acme, owned by Ana; added by Bob (anyone may add a client)."""
    shown(bot.command(f'client add "Acme Biologics" key:acme owner:{ANA} cadence:14d', user="U0BOB"))
    return "acme"


def users_info_calls(slack) -> list[str]:
    return [call.args.get("user") for call in slack.calls if call.method == "users.info"]


def assert_refused(bot, database, text: str, user: str, *fragments: str) -> str:
    before = table_counts(database)
    shown_text = assert_error(bot.command(text, user=user), *fragments, "Nothing was changed",
                              "RAPPORT_MANAGERS", "admins and owners", form=None)
    assert table_counts(database) == before
    return shown_text


def test_the_owner_is_refused_archiving_and_told_who_may(bot, database, acme):
    text = assert_refused(bot, database, "client archive acme", "U0ANA", "Only a manager may archive Acme Biologics",
                          "its owner, <@U0ANA>")
    assert "Right form" not in text
    assert client_row(database, "acme").archived_at is None


def test_the_owner_changes_their_own_clients_channel(bot, database, acme):
    text = shown(bot.command(f"client set acme channel:{ACME_CHANNEL}", user="U0ANA"))
    assert ":warning:" not in text
    assert client_row(database, "acme").internal_channel_id == "C0ACME"


def test_someone_not_the_owner_is_refused_the_channel_and_told_the_owner_may(bot, database, acme):
    assert_refused(bot, database, f"client set acme channel:{ACME_CHANNEL} tz:Europe/Berlin", "U0BOB",
                   "Only the client's owner, <@U0ANA>, or a manager may change Acme Biologics's `channel`, `tz`")
    row = client_row(database, "acme")
    assert row.internal_channel_id is None and row.timezone is None


def test_the_owner_may_not_change_owner_or_cadence(bot, database, acme):
    assert_refused(bot, database, f"client set acme owner:{BOB}", "U0ANA", "Only a manager may change",
                   "`owner`")
    assert_refused(bot, database, "client set acme cadence:7d", "U0ANA", "Only a manager may", "`cadence`")
    row = client_row(database, "acme")
    assert (row.owner_user_id, row.cadence_days) == ("U0ANA", 14)


def test_a_slack_workspace_admin_may_archive_and_is_asked_about_once(bot, database, slack, acme):
    slack.admins.add("U0ADM")
    shown(bot.command("client set acme cadence:7d", user="U0ADM"))
    shown(bot.command("client archive acme", user="U0ADM"))
    assert client_row(database, "acme").archived_at is not None
    assert client_row(database, "acme").cadence_days == 7
    assert users_info_calls(slack).count("U0ADM") == 1  # the second command read the cache
    with database.transaction() as session:
        row = session.scalars(select(SlackUser).where(SlackUser.user_id == "U0ADM")).one()
        assert (row.is_admin, row.team_id) == (True, "T0ACME")
    assert "you are *a manager* in Rapport. You are a Slack workspace admin" in shown(
        bot.command("whoami", user="U0ADM"))


def test_a_slack_workspace_owner_may_change_the_owner(bot, database, slack, acme):
    slack.owners.add("U0OWN")
    shown(bot.command(f"client set acme owner:{BOB}", user="U0OWN"))
    assert client_row(database, "acme").owner_user_id == "U0BOB"


def test_rapport_managers_may_do_it_without_asking_slack(bot, database, slack, acme):
    shown(bot.command(f"client set acme owner:{BOB} cadence:3w", user="U0MGR"))
    row = client_row(database, "acme")
    assert (row.owner_user_id, row.cadence_days) == ("U0BOB", 21)
    shown(bot.command("client archive acme", user="U0MGR"))
    assert client_row(database, "acme").archived_at is not None
    assert "U0MGR" not in users_info_calls(slack)


def test_the_owner_is_not_asked_about_for_their_own_clients_settings(bot, slack, acme):
    shown(bot.command("client set acme tz:Europe/Berlin", user="U0ANA"))
    assert "U0ANA" not in users_info_calls(slack)


def test_slack_not_answering_counts_as_no_admin_and_says_so(bot, database, slack, acme):
    slack.admins.add("U0ADM")
    slack.fail("users.info", status=500)
    assert_refused(bot, database, "client archive acme", "U0ADM", "Slack did not say in time")
    shown(bot.command("client archive acme", user="U0ADM"))  # Slack answers again: asked again, allowed
    assert client_row(database, "acme").archived_at is not None


def test_snooze_is_the_owners_or_a_managers(bot, database, acme):
    assert_refused(bot, database, "snooze acme 1w", "U0BOB", "Only the client's owner, <@U0ANA>, or a manager "
                   "may snooze the nudges about Acme Biologics")
    assert client_row(database, "acme").snoozed_until is None
    shown(bot.command("snooze acme 1w", user="U0ANA"))
    assert client_row(database, "acme").snoozed_until is not None


def test_anyone_may_log_contact(bot, database, acme):
    text = shown(bot.command("log acme call talked about the tech transfer", user="U0BOB"))
    assert ":warning:" not in text


def test_help_roles_says_who_may_do_what(bot):
    text = shown(bot.command("help roles"))
    for fragment in ("Roles: who may do what", "RAPPORT_MANAGERS", "admins and owners", "archive a client",
                     "owner or cadence", "owner", "Everyone", "log contact"):
        assert fragment in text, fragment
    assert "help roles" in shown(bot.command("help whoami"))
