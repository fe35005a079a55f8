"""The pure parsing layer: words and quotes, dates, `/cmo` text and submitted modals to commands."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commands import REGISTRY, USAGE, Help, NotYetAvailable, OpenModal
from bot.commands.clients import ClientAdd, ClientArchive, ClientList, ClientSet
from bot.commands.history import History
from bot.commands.log import LogInteraction
from bot.commands.registry import PLANNED
from bot.commands.status import Status
from bot.db.models import INTERACTION_KINDS
from bot.errors import UserError
from bot.parsing import tokens
from bot.parsing.dates import (
    DATE_FORMS,
    DateSpec,
    parse_cadence,
    parse_date,
    parse_duration,
    parse_timezone,
)
from bot.parsing.tokens import parse_channel, parse_user, tokenize, unescape_slack

parse = REGISTRY.parse
command_from_form = REGISTRY.read_form

WEDNESDAY = dt.date(2026, 12, 2)
FRIDAY = dt.date(2026, 12, 4)


def values(tokens) -> list[str]:
    return [token.value for token in tokens]


def parse_error(text: str) -> UserError:
    with pytest.raises(UserError) as caught:
        parse(text)
    return caught.value


# --- tokenize -------------------------------------------------------------------------------------------


@given(st.text(alphabet=st.characters(blacklist_characters="\"\u201c\u201d\u201e"), max_size=80))
def test_quote_free_text_is_split_as_the_character_scan_splits_it(text):
    assert tokenize(text) == tokens._scan(text)



def test_words_split_on_any_white_space():
    assert values(tokenize("  client\tadd \n Acme  ")) == ["client", "add", "Acme"]


def test_empty_text_has_no_tokens():
    assert tokenize("") == []
    assert tokenize("   ") == []


def test_double_quotes_group_words_and_are_removed():
    tokens = tokenize('log acme "Acme Bio" done')
    assert values(tokens) == ["log", "acme", "Acme Bio", "done"]
    assert tokens[2].quoted
    assert tokens[2].raw == '"Acme Bio"'
    assert not tokens[0].quoted


def test_typographic_quotes_group_words_like_plain_ones():
    tokens = tokenize("\u201cAcme Bio\u201d \u201eQ1 slots\u201d")
    assert values(tokens) == ["Acme Bio", "Q1 slots"]
    assert all(token.quoted for token in tokens)


def test_apostrophes_are_letters_not_quotes():
    assert values(tokenize("the client's batch isn't late")) == ["the", "client's", "batch", "isn't", "late"]
    assert values(tokenize("client\u2019s batch")) == ["client\u2019s", "batch"]


def test_quotes_inside_a_word_join_it_but_do_not_make_it_quoted():
    token = tokenize('with:"Dr. Jane Roe"')[0]
    assert token.value == "with:Dr. Jane Roe"
    assert not token.quoted
    assert token.option() == ("with", "Dr. Jane Roe")


def test_a_quoted_option_is_just_a_word():
    token = tokenize('"on:friday"')[0]
    assert token.quoted
    assert token.option() is None


def test_empty_quotes_are_an_empty_quoted_word():
    tokens = tokenize('add ""')
    assert values(tokens) == ["add", ""]
    assert tokens[1].quoted


@pytest.mark.parametrize("text", ['client add "Acme Bio', "log acme call \u201cagreed", 'x "a" "b'])
def test_an_open_quote_is_a_user_error(text):
    with pytest.raises(UserError, match="quote was left open"):
        tokenize(text)


def test_slack_escapes_are_undone_in_values_and_raw():
    token = tokenize("R&amp;D&lt;Lab&gt;")[0]
    assert token.value == "R&D<Lab>"
    assert token.raw == "R&D<Lab>"


def test_a_literally_typed_entity_survives_unescaping():
    # The user typed "&lt;"; Slack sends "&amp;lt;". It must come back as the four characters typed.
    assert unescape_slack("&amp;lt; &amp;amp;") == "&lt; &amp;"
    assert tokenize("&amp;lt;")[0].value == "&lt;"


def test_mentions_stay_single_words():
    assert values(tokenize("owner:<@U123|ana> channel:<#C123|acme-int>")) == [
        "owner:<@U123|ana>", "channel:<#C123|acme-int>"]


# --- parse_user / parse_channel ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["<@U123|ana>", "<@U123>", "U123", " <@U123|ana> "])
def test_parse_user_takes_slack_mentions_and_bare_ids(text):
    assert parse_user(text, option="owner") == "U123"


def test_parse_user_takes_enterprise_user_ids():
    assert parse_user("<@W0AB12|jo>", option="owner") == "W0AB12"


@pytest.mark.parametrize("text", ["ana", "@ana", "<@ana>", "<#C123|acme>", "U1"])
def test_parse_user_rejects_anything_else_naming_the_option(text):
    with pytest.raises(UserError) as caught:
        parse_user(text, option="owner")
    assert caught.value.field == "owner"
    assert "`owner:@ana`" in caught.value.message
    assert "not a Slack user" in caught.value.message


@pytest.mark.parametrize("text", ["<#C123|acme-int>", "<#C123>", "C123", "G123"])
def test_parse_channel_takes_channel_links_and_bare_ids(text):
    assert parse_channel(text, option="channel") == text.strip("<#>").split("|")[0]


@pytest.mark.parametrize("text", ["#acme-int", "acme-int", "<@U123|ana>", "C1"])
def test_parse_channel_rejects_anything_else_naming_the_option(text):
    with pytest.raises(UserError) as caught:
        parse_channel(text, option="shared")
    assert caught.value.field == "shared"
    assert "`shared:#acme-internal`" in caught.value.message


# --- dates and durations --------------------------------------------------------------------------------


def test_iso_date_is_absolute_whatever_today_is():
    assert parse_date("2026-12-03").resolve(WEDNESDAY) == dt.date(2026, 12, 3)
    assert parse_date("2026-12-03").resolve(dt.date(2030, 1, 1), past=True) == dt.date(2026, 12, 3)


def test_iso_date_with_single_digit_month_and_day():
    assert parse_date("2027-1-5").resolve(WEDNESDAY) == dt.date(2027, 1, 5)


@pytest.mark.parametrize(("word", "expected"), [
    ("today", WEDNESDAY), ("tomorrow", dt.date(2026, 12, 3)), ("yesterday", dt.date(2026, 12, 1)),
    ("Today", WEDNESDAY), ("TOMORROW", dt.date(2026, 12, 3)),
])
def test_relative_day_words(word, expected):
    assert parse_date(word).resolve(WEDNESDAY) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("+3d", dt.date(2026, 12, 5)), ("+2w", dt.date(2026, 12, 16)), ("-3d", dt.date(2026, 11, 29)),
    ("-1w", dt.date(2026, 11, 25)), ("+0d", WEDNESDAY), ("+30d", dt.date(2027, 1, 1)),
])
def test_offsets_in_days_and_weeks(word, expected):
    assert parse_date(word).resolve(WEDNESDAY) == expected


@pytest.mark.parametrize("word", ["fri", "friday", "Fri", "FRIDAY"])
def test_a_weekday_is_the_next_one(word):
    assert parse_date(word).resolve(WEDNESDAY) == FRIDAY


def test_a_weekday_named_on_that_day_is_a_week_ahead():
    assert parse_date("fri").resolve(FRIDAY) == dt.date(2026, 12, 11)


def test_a_weekday_in_the_past_is_the_latest_one():
    assert parse_date("fri").resolve(WEDNESDAY, past=True) == dt.date(2026, 11, 27)
    assert parse_date("mon").resolve(WEDNESDAY, past=True) == dt.date(2026, 11, 30)


def test_a_weekday_in_the_past_counts_today():
    assert parse_date("wed").resolve(WEDNESDAY, past=True) == WEDNESDAY


def test_every_weekday_abbreviation_resolves_into_the_coming_week():
    resolved = {word: parse_date(word).resolve(WEDNESDAY)
                for word in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assert sorted(resolved.values()) == [WEDNESDAY + dt.timedelta(days=n) for n in range(1, 8)]
    assert all(date.strftime("%a").lower() == word for word, date in resolved.items())


def test_date_spec_keeps_the_text_as_typed():
    assert parse_date("Fri").text == "Fri"


@pytest.mark.parametrize("text", ["2026-13-45", "2026-02-30", "someday", "+3m", "3d", "+1000d", "12/03/2026", ""])
def test_bad_dates_are_rejected_with_the_accepted_forms(text):
    with pytest.raises(UserError) as caught:
        parse_date(text, option="next")
    assert caught.value.field == "next"
    assert f"`{text}`" in caught.value.message
    assert DATE_FORMS in caught.value.message
    for form in ("2026-12-03", "today", "tomorrow", "yesterday", "fri", "+3d", "+2w"):
        assert form in caught.value.message


@pytest.mark.parametrize(("text", "expected"), [
    ("36h", dt.timedelta(hours=36)), ("3d", dt.timedelta(days=3)), ("2w", dt.timedelta(weeks=2)),
    ("2W", dt.timedelta(weeks=2)), (" 3d ", dt.timedelta(days=3)),
])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0d", "3m", "d", "3", "-3d", "10000h", "3.5d", "fortnight"])
def test_bad_durations_name_the_option_and_show_examples(text):
    with pytest.raises(UserError) as caught:
        parse_duration(text, option="snooze")
    assert caught.value.field == "snooze"
    assert "36h" in caught.value.message and "2w" in caught.value.message


def test_a_duration_unit_not_allowed_for_the_option_is_rejected_and_not_suggested():
    with pytest.raises(UserError) as caught:
        parse_duration("36h", option="cadence", units="dw")
    assert "36h" not in caught.value.message.replace("`36h`", "")
    assert "14d" in caught.value.message


@pytest.mark.parametrize(("text", "days"), [("14d", 14), ("2w", 14), ("1d", 1), ("52w", 364), ("366d", 366)])
def test_cadence_in_days(text, days):
    assert parse_cadence(text) == days


@pytest.mark.parametrize("text", ["367d", "53w", "999w"])
def test_a_cadence_longer_than_a_year_is_rejected(text):
    with pytest.raises(UserError) as caught:
        parse_cadence(text)
    assert caught.value.field == "cadence"
    assert "52w" in caught.value.message


@pytest.mark.parametrize("text", ["36h", "0d", "two weeks"])
def test_a_cadence_must_be_whole_days_or_weeks(text):
    with pytest.raises(UserError) as caught:
        parse_cadence(text)
    assert caught.value.field == "cadence"


@pytest.mark.parametrize(("text", "zone"), [
    ("Europe/Berlin", "Europe/Berlin"), ("europe/berlin", "Europe/Berlin"), ("AMERICA/NEW_YORK", "America/New_York"),
    (" utc ", "UTC"), ("asia/kolkata", "Asia/Kolkata"),
])
def test_time_zones_come_back_in_their_canonical_spelling(text, zone):
    assert parse_timezone(text) == zone


def test_a_misspelt_time_zone_suggests_the_close_ones():
    with pytest.raises(UserError) as caught:
        parse_timezone("Europe/Berlni")
    assert caught.value.field == "tz"
    assert "Did you mean `Europe/Berlin`" in caught.value.message


def test_a_time_zone_with_nothing_close_gets_examples_but_no_guess():
    with pytest.raises(UserError) as caught:
        parse_timezone("xyzzy")
    assert "not an IANA time zone" in caught.value.message
    assert "Europe/Berlin" in caught.value.message
    assert "Did you mean" not in caught.value.message


# --- parse(): the command grammar -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", None])
def test_nothing_typed_is_help(text):
    assert parse(text) == Help()


def test_help_with_a_topic_in_any_case():
    assert parse("help") == Help()
    assert parse("help Health") == Help(topic="health")
    assert parse("HELP client") == Help(topic="client")


def test_unknown_subcommand_is_help_naming_it():
    assert parse("frobnicate now") == Help(unknown="frobnicate")


@pytest.mark.parametrize("subcommand", PLANNED)
def test_planned_subcommands_are_not_yet_available(subcommand):
    assert parse(f"{subcommand} acme something") == NotYetAvailable(subcommand)
    assert parse(subcommand) == NotYetAvailable(subcommand)


@pytest.mark.parametrize(("text", "modal"), [
    ("log", "log"), ("history", "history"), ("client add", "client add"), ("client set", "client set"),
    ("client archive", "client archive"), ("LOG", "log"), ("Client Add", "client add"),
])
def test_a_subcommand_without_arguments_opens_its_modal(text, modal):
    assert parse(text) == OpenModal(modal)
    assert modal in USAGE


def test_client_list():
    assert parse("client list") == ClientList()
    assert parse("CLIENT LIST") == ClientList()


def test_client_without_an_action_lists_the_client_forms():
    error = parse_error("client")
    for key in ("client add", "client list", "client set", "client archive"):
        assert USAGE[key] in error.usage


def test_an_unknown_client_action_is_an_error_naming_it():
    error = parse_error("client frob acme")
    assert "`client frob`" in error.message
    assert USAGE["client add"] in error.usage


def test_client_add_with_every_option():
    assert parse("client add Acme Biologics key:acme owner:<@U123|ana> channel:<#C123|acme-int> cadence:2w "
                 "tz:europe/berlin") == ClientAdd(name="Acme Biologics", key="acme", owner="U123",
                                                  channel="C123", cadence_days=14, timezone="Europe/Berlin")


def test_client_add_options_anywhere_among_the_name_words():
    assert parse("client add cadence:10d Acme key:acme Biologics") == ClientAdd(
        name="Acme Biologics", key="acme", cadence_days=10)


def test_client_add_a_quoted_name_with_unescaped_characters():
    assert parse('client add "R&amp;D &lt;Labs&gt;" key:rd') == ClientAdd(name="R&D <Labs>", key="rd")


def test_client_add_name_only():
    assert parse("client add Acme") == ClientAdd(name="Acme")


def test_client_add_a_mistyped_option_is_an_error_not_part_of_the_name():
    error = parse_error("client add Acme cadnce:14d")
    assert "`cadnce:`" in error.message
    assert "`cadence:`" in error.message
    assert error.usage == USAGE["client add"]


def test_client_add_an_option_given_twice():
    error = parse_error("client add Acme key:a key:b")
    assert "`key:` is given twice" in error.message
    assert error.usage == USAGE["client add"]


@pytest.mark.parametrize("text", ["client add Acme key:", 'client add Acme key:""', "client add Acme tz:"])
def test_client_add_an_option_without_a_value(text):
    error = parse_error(text)
    assert "needs a value" in error.message
    assert error.field in ("key", "tz")
    assert error.usage == USAGE["client add"]


def test_client_add_without_a_name():
    error = parse_error("client add key:acme")
    assert error.field == "name"
    assert error.usage == USAGE["client add"]


@pytest.mark.parametrize(("text", "field"), [
    ("client add Acme owner:ana", "owner"), ("client add Acme channel:acme", "channel"),
    ("client add Acme cadence:36h", "cadence"), ("client add Acme tz:Mars/Base", "tz"),
])
def test_client_add_bad_option_values_name_their_field(text, field):
    error = parse_error(text)
    assert error.field == field
    assert error.usage == USAGE["client add"]


def test_client_add_owner_none_is_not_a_user():
    # `none` clears a field that is set; a new client has nothing to clear.
    assert parse_error("client add Acme owner:none").field == "owner"


def test_client_set_each_field():
    assert parse("client set acme owner:<@U9|bo> channel:<#C9|int> shared:<#C8|ext> cadence:3w tz:UTC") == ClientSet(
        client="acme", changes={"owner_user_id": "U9", "internal_channel_id": "C9", "shared_channel_id": "C8",
                                "cadence_days": 21, "timezone": "UTC"})


def test_client_set_only_what_was_given():
    assert parse("client set acme cadence:10d") == ClientSet(client="acme", changes={"cadence_days": 10})


def test_client_set_owner_none_clears_the_owner():
    assert parse("client set acme owner:none") == ClientSet(client="acme", changes={"owner_user_id": None})


def test_client_set_none_clears_channels_and_zone_in_any_case():
    assert parse("client set acme channel:None shared:NONE tz:none") == ClientSet(
        client="acme", changes={"internal_channel_id": None, "shared_channel_id": None, "timezone": None})


def test_client_set_a_multi_word_client_with_options_first():
    assert parse('client set owner:<@U9> "Acme Bio"') == ClientSet(client="Acme Bio",
                                                                   changes={"owner_user_id": "U9"})


def test_client_set_without_anything_to_change():
    error = parse_error("client set acme")
    assert "Say what to change" in error.message
    assert error.usage == USAGE["client set"]


def test_client_set_without_a_client():
    error = parse_error("client set owner:<@U9>")
    assert error.field == "client"
    assert error.usage == USAGE["client set"]


def test_client_set_an_option_that_belongs_to_add_only():
    error = parse_error("client set acme key:new")
    assert "`key:` is not an option here" in error.message
    assert error.usage == USAGE["client set"]


def test_client_archive():
    assert parse('client archive "Acme Bio"') == ClientArchive(client="Acme Bio")
    assert parse("client archive acme") == ClientArchive(client="acme")


def test_log_with_every_option():
    command = parse('log acme call Agreed Q1 fill slots on:yesterday with:"Dr. Jane Roe" next:+2w')
    assert command == LogInteraction(client="acme", kind="call", summary="Agreed Q1 fill slots",
                                     on=DateSpec("yesterday", offset_days=-1), contact="Dr. Jane Roe",
                                     next=DateSpec("+2w", offset_days=14))


def test_log_options_anywhere_even_before_the_client():
    command = parse("log next:fri acme on:2026-12-01 meeting kickoff done")
    assert isinstance(command, LogInteraction)
    assert (command.client, command.kind, command.summary) == ("acme", "meeting", "kickoff done")
    assert command.on.resolve(WEDNESDAY) == dt.date(2026, 12, 1)
    assert command.next.resolve(WEDNESDAY) == FRIDAY


@pytest.mark.parametrize("kind", INTERACTION_KINDS)
def test_log_every_kind_in_any_case(kind):
    command = parse(f"log acme {kind.upper()} something")
    assert command.kind == kind


def test_log_summary_with_an_unknown_colon_word_keeps_it():
    command = parse("log acme email re: fill slots ratio:3/4")
    assert command.summary == "re: fill slots ratio:3/4"


def test_log_summary_keeps_apostrophes_and_inner_quotes():
    command = parse('log acme call client\'s QA said "fine" twice')
    assert command.summary == 'client\'s QA said "fine" twice'


def test_log_a_wholly_quoted_summary_loses_its_quotes():
    assert parse('log acme call "Agreed: fill slots"').summary == "Agreed: fill slots"
    assert parse("log acme call \u201cAgreed slots\u201d").summary == "Agreed slots"


def test_log_a_quoted_option_word_is_summary_not_an_option():
    command = parse('log acme call "on:friday" was discussed')
    assert command.on is None
    assert "on:friday" in command.summary


def test_log_a_quoted_multi_word_client():
    command = parse('log "Acme Bio" visit plant tour')
    assert (command.client, command.kind, command.summary) == ("Acme Bio", "visit", "plant tour")


def test_log_summary_is_unescaped_from_slack():
    assert parse("log acme note R&amp;D &lt;urgent&gt;").summary == "R&D <urgent>"


@pytest.mark.parametrize(("text", "field"), [
    ("log acme", None), ("log acme call", "summary"), ("log acme chat hi", "kind"),
    ("log acme call hi on:2026-13-45", "on"), ("log acme call hi next:someday", "next"),
])
def test_log_errors_carry_the_log_form(text, field):
    error = parse_error(text)
    assert error.usage == USAGE["log"]
    assert error.field == field


def test_log_a_bad_kind_lists_the_kinds():
    error = parse_error("log acme chat hi")
    assert "`chat`" in error.message
    for kind in INTERACTION_KINDS:
        assert kind in error.message


def test_log_a_bad_date_lists_the_accepted_forms():
    error = parse_error("log acme call hi on:2026-13-45")
    assert "`2026-13-45`" in error.message
    assert DATE_FORMS in error.message


def test_log_an_option_given_twice():
    error = parse_error("log acme call hi on:today on:yesterday")
    assert "given twice" in error.message
    assert error.usage == USAGE["log"]


@pytest.mark.parametrize(("text", "usage_key"), [
    ('client add "Acme', "client add"), ('client set acme tz:"Europe', "client set"),
    ('log acme call "open', "log"), ('history "Acme', "history"), ('"open', "help"),
])
def test_an_open_quote_shows_the_form_of_the_command_typed(text, usage_key):
    error = parse_error(text)
    assert "quote was left open" in error.message
    assert error.usage == USAGE[usage_key]


def test_status_forms():
    assert parse("status") == Status()
    assert parse("status mine") == Status(mine=True)
    assert parse("status MINE") == Status(mine=True)
    assert parse("status acme") == Status(client="acme")
    assert parse("status Acme Bio") == Status(client="Acme Bio")


def test_status_of_a_client_literally_named_mine():
    assert parse('status "mine"') == Status(client="mine")


def test_history():
    assert parse("history acme") == History(client="acme")
    assert parse('history "Acme Bio"') == History(client="Acme Bio")


# --- modals: command_from_form --------------------------------------------------------------------------


def text_input(value):
    return {"value": {"type": "plain_text_input", "value": value}}


def static_select(value):
    option = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
    return {"value": {"type": "static_select", "selected_option": option}}


def users_select(user):
    return {"value": {"type": "users_select", "selected_user": user}}


def conversations_select(channel):
    return {"value": {"type": "conversations_select", "selected_conversation": channel}}


def datepicker(date):
    return {"value": {"type": "datepicker", "selected_date": date}}


def form_error(name: str, state: dict) -> UserError:
    with pytest.raises(UserError) as caught:
        command_from_form(name, state)
    return caught.value


def test_form_client_add_with_everything():
    state = {"name": text_input("Acme Biologics"), "key": text_input("acme"), "owner": users_select("U123"),
             "channel": conversations_select("C123"), "cadence": text_input("2w"), "tz": text_input("europe/berlin")}
    assert command_from_form("client add", state) == ClientAdd(
        name="Acme Biologics", key="acme", owner="U123", channel="C123", cadence_days=14, timezone="Europe/Berlin")


def test_form_client_add_empty_optional_inputs_are_none():
    state = {"name": text_input(" Acme "), "key": text_input(None), "owner": users_select(None),
             "channel": conversations_select(None), "cadence": text_input(""), "tz": text_input("   ")}
    assert command_from_form("client add", state) == ClientAdd(name="Acme")


def test_form_client_add_inputs_missing_from_the_state_are_none():
    assert command_from_form("client add", {"name": text_input("Acme")}) == ClientAdd(name="Acme")


@pytest.mark.parametrize(("state", "field"), [
    ({"name": text_input("  ")}, "name"),
    ({"name": text_input("Acme"), "cadence": text_input("fortnightly")}, "cadence"),
    ({"name": text_input("Acme"), "cadence": text_input("60w")}, "cadence"),
    ({"name": text_input("Acme"), "tz": text_input("Europe/Berlni")}, "tz"),
])
def test_form_client_add_errors_name_their_input(state, field):
    assert form_error("client add", state).field == field


def test_form_client_set_only_the_filled_inputs():
    state = {"client": static_select("acme"), "owner": users_select("U9"), "channel": conversations_select(None),
             "shared": conversations_select("C8"), "cadence": text_input(""), "tz": text_input("utc")}
    assert command_from_form("client set", state) == ClientSet(
        client="acme", changes={"owner_user_id": "U9", "shared_channel_id": "C8", "timezone": "UTC"})


def test_form_client_set_cadence():
    state = {"client": static_select("acme"), "cadence": text_input("3w")}
    assert command_from_form("client set", state) == ClientSet(client="acme", changes={"cadence_days": 21})


def test_form_client_set_with_nothing_filled_in():
    error = form_error("client set", {"client": static_select("acme"), "owner": users_select(None)})
    assert "at least one" in error.message
    assert error.field == "owner"


def test_form_client_set_a_bad_zone_names_the_tz_input():
    error = form_error("client set", {"client": static_select("acme"), "tz": text_input("Nowhere/City")})
    assert error.field == "tz"


@pytest.mark.parametrize("name", ["client archive", "history"])
def test_form_client_only(name):
    command = command_from_form(name, {"client": static_select("acme")})
    assert command == (ClientArchive(client="acme") if name == "client archive" else History(client="acme"))
    assert form_error(name, {"client": static_select(None)}).field == "client"


def test_form_log_with_everything():
    state = {"client": static_select("acme"), "kind": static_select("visit"),
             "summary": text_input("Plant tour\nAll good"), "on": datepicker("2026-12-01"),
             "with": text_input("Dr. Jane Roe"), "next": datepicker("2026-12-15")}
    command = command_from_form("log", state)
    assert command == LogInteraction(client="acme", kind="visit", summary="Plant tour\nAll good",
                                     on=parse_date("2026-12-01", option="on"), contact="Dr. Jane Roe",
                                     next=parse_date("2026-12-15", option="next"))
    assert command.on.resolve(WEDNESDAY) == dt.date(2026, 12, 1)
    assert command.next.resolve(WEDNESDAY) == dt.date(2026, 12, 15)


def test_form_log_summary_is_taken_as_typed_not_unescaped():
    # Modal values are plain text: no Slack escaping to undo.
    state = {"client": static_select("acme"), "kind": static_select("note"), "summary": text_input("R&amp;D <x>"),
             "on": datepicker("2026-12-01")}
    assert command_from_form("log", state).summary == "R&amp;D <x>"


def test_form_log_optional_inputs_left_empty():
    state = {"client": static_select("acme"), "kind": static_select("call"), "summary": text_input("hi"),
             "on": datepicker("2026-12-01"), "with": text_input(None), "next": datepicker(None)}
    command = command_from_form("log", state)
    assert command.contact is None and command.next is None


@pytest.mark.parametrize("missing", ["client", "kind", "summary", "on"])
def test_form_log_required_inputs_name_themselves(missing):
    state = {"client": static_select("acme"), "kind": static_select("call"), "summary": text_input("hi"),
             "on": datepicker("2026-12-01")}
    state[missing] = {"value": {}}
    assert form_error("log", state).field == missing


def test_form_log_a_blank_summary_is_missing():
    state = {"client": static_select("acme"), "kind": static_select("call"), "summary": text_input(" \n "),
             "on": datepicker("2026-12-01")}
    error = form_error("log", state)
    assert error.field == "summary"
    assert "summary" in error.message.lower()


def test_form_for_an_unknown_modal_is_a_programming_error():
    with pytest.raises(ValueError):
        command_from_form("status", {})


def test_an_empty_log_option_is_part_of_the_summary():
    # "agreed on: price" is prose, not a missing date.
    command = parse("log acme call agreed on: price Next: samples with:")
    assert command.summary == "agreed on: price Next: samples with:"
    assert command.on is None and command.next is None and command.contact is None


def test_client_options_ignore_case():
    assert parse("client add Acme Cadence:2w").cadence_days == 14
