"""`/cmo whoami` end to end: who you are to Rapport, over signed slash commands into the real endpoint."""

from __future__ import annotations

import dataclasses

import pytest

from tests.commands_support import assert_error, mention, shown, table_counts

WHOAMI_FORM = "/cmo whoami"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, managers=frozenset({"U0MGR"}))


def test_a_team_member_with_clients_sees_their_role_and_clients(bot):
    shown(bot.command(f'client add "Acme Biologics" key:acme owner:{mention("U0ANA", "ana")}'))
    shown(bot.command('client add "Borealis <Pharma>" key:borealis owner:<@U0ANA>'))
    shown(bot.command("client add Cygnus key:cygnus owner:<@U0BOB>"))
    text = shown(bot.command("whoami", user="U0ANA"))
    assert "<@U0ANA>, you are *a team member* in Rapport." in text
    assert "*Your clients* (2): *Acme Biologics* (`acme`), *Borealis <Pharma>* (`borealis`)" in text
    assert "Cygnus" not in text


def test_a_manager_without_clients_is_told_how_to_own_one(bot):
    text = shown(bot.command("whoami", user="U0MGR"))
    assert "<@U0MGR>, you are *a manager* in Rapport." in text
    assert "*Your clients* (0): none yet" in text


def test_whoami_with_words_after_it_shows_the_right_form_and_writes_nothing(bot, database):
    before = table_counts(database)
    assert_error(bot.command("whoami acme"), "takes nothing after it", form=WHOAMI_FORM)
    assert table_counts(database) == before


def test_help_lists_whoami_and_explains_it(bot):
    assert WHOAMI_FORM in shown(bot.command("help"))
    text = shown(bot.command("help whoami"))
    assert "Who you are to Rapport" in text and "RAPPORT_MANAGERS" in text
