"""`/cmo log`, `/cmo status` and `/cmo history` end to end: signed slash commands into the real endpoint,
the ephemeral reply the user reads, and the interactions and audit events written (or not)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.commands_support import (
    FORMS,
    SECTION_LIMIT,
    assert_error,
    assert_no_raw_markup,
    assert_shows_cadence,
    audit_events,
    client_row,
    interactions,
    latest_weekday,
    mention,
    mrkdwn_texts,
    opened_form,
    reply,
    shown,
    table_counts,
    today_utc,
    typed,
)

ANA = mention("U0ANA", "ana")
BOB = mention("U0BOB", "bob")
DATE_FORMS = "2026-12-03, today, tomorrow, yesterday, a weekday (fri), +3d or +2w"


def day(date: dt.date) -> str:
    return f"{date:%a %Y-%m-%d}"


@pytest.fixture
def acme(bot):
    """Acme Biologics GmbH (`acme`, owned by ana, cadence 1w) and Beta Labs (`beta`, owned by bob)."""
    shown(bot.command(f'client add "Acme Biologics GmbH" key:acme owner:{ANA} cadence:1w'))
    shown(bot.command(f'client add "Beta Labs" key:beta owner:{BOB}'))
    return bot


def log(bot, text: str, **kwargs) -> str:
    return shown(bot.command("log " + text, **kwargs))


# --- log ---------------------------------------------------------------------------------------------------


def test_log_a_call_with_every_option(acme, database):
    today = today_utc()
    text = log(acme, 'acme call Agreed the Q1 fill slots with:"Dr. Jane Roe" next:+2w')
    assert "Logged for *Acme Biologics GmbH* (`acme`)" in text
    assert f"*call* with Dr. Jane Roe · {day(today)} (today) · by <@U0ANA>" in text
    assert "> Agreed the Q1 fill slots" in text
    assert f"Next contact planned {day(today + dt.timedelta(days=14))}" in text

    [row] = interactions(database)
    assert row.client_id == client_row(database, "acme").id
    assert (row.kind, row.summary, row.contact_name) == ("call", "Agreed the Q1 fill slots", "Dr. Jane Roe")
    assert (row.occurred_on, row.next_contact_on) == (today, today + dt.timedelta(days=14))
    assert (row.logged_by, row.surface, row.team_id, row.permalink) == ("U0ANA", "slash_command", "T0ACME", None)

    event = audit_events(database)[-1]
    assert (event.action, event.actor_user_id, event.surface) == ("interaction.log", "U0ANA", "slash_command")
    assert (event.entity_type, event.entity_id, event.client_id) == ("interactions", row.id, row.client_id)
    assert event.before is None
    assert event.after == {"kind": "call", "summary": "Agreed the Q1 fill slots", "occurred_on": today.isoformat(),
                           "contact_name": "Dr. Jane Roe", "next_contact_on": (today + dt.timedelta(days=14))
                           .isoformat(), "permalink": None}
    assert event.occurred_at.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("kind", ["call", "meeting", "email", "visit", "note", "Email", "VISIT"])
def test_log_every_kind(acme, database, kind):
    text = log(acme, f"beta {kind} Walked through the tech transfer plan")
    assert f"*{kind.lower()}*" in text
    assert "Logged for *Beta Labs* (`beta`)" in text
    [row] = interactions(database)
    assert row.kind == kind.lower()


def test_log_quoted_summary_and_quoted_client_name(acme, database):
    text = log(acme, '"beta labs" meeting "Quarterly business review"')
    assert "Logged for *Beta Labs*" in text
    assert "> Quarterly business review" in text
    assert interactions(database)[0].summary == "Quarterly business review"


def test_log_summary_keeps_words_that_look_like_options(acme, database):
    log(acme, "acme email re: fill slots, see: batch 12 on:yesterday")
    [row] = interactions(database)
    assert row.summary == "re: fill slots, see: batch 12"
    assert row.occurred_on == today_utc() - dt.timedelta(days=1)


def test_log_by_client_name_prefix(acme, database):
    assert "Logged for *Acme Biologics GmbH*" in log(acme, "Acme call Short check-in")
    assert "Logged for *Acme Biologics GmbH*" in log(acme, "ACM call Short check-in")
    assert len(interactions(database)) == 2


@pytest.mark.parametrize(("on", "days_back"), [
    ("today", 0), ("yesterday", 1), ("-3d", 3), ("-2w", 14), ("Yesterday", 1),
])
def test_log_on_relative_dates(acme, database, on, days_back):
    text = log(acme, f"acme call Catch-up on:{on}")
    expected = today_utc() - dt.timedelta(days=days_back)
    assert day(expected) in text
    assert interactions(database)[0].occurred_on == expected


def test_log_on_an_absolute_date(acme, database):
    when = today_utc() - dt.timedelta(days=40)
    text = log(acme, f"acme visit Audit of the fill line on:{when.isoformat()}")
    assert f"{day(when)} (40 days ago)" in text
    assert interactions(database)[0].occurred_on == when


@pytest.mark.parametrize(("word", "weekday"), [("fri", 4), ("friday", 4), ("Mon", 0), ("sun", 6)])
def test_log_on_a_weekday_means_the_latest_one_not_in_the_future(acme, database, word, weekday):
    before = today_utc()
    text = log(acme, f"acme call Weekly sync on:{word}")
    after = today_utc()
    [row] = interactions(database)
    assert row.occurred_on in {latest_weekday(weekday, before), latest_weekday(weekday, after)}
    assert row.occurred_on.weekday() == weekday
    assert row.occurred_on <= after and (after - row.occurred_on).days < 7
    assert day(row.occurred_on) in text


@pytest.mark.parametrize("on", ["tomorrow", "+1d", "+3d", "+2w", "FUTURE_ISO"])
def test_log_on_a_future_date_is_refused(acme, database, on):
    if on == "FUTURE_ISO":
        on = (today_utc() + dt.timedelta(days=2)).isoformat()
    before = table_counts(database)
    assert_error(acme.command(f"log acme call Not yet happened on:{on}"), "`on:`", "in the future",
                 "next:", form=FORMS["log"])
    assert table_counts(database) == before


def test_log_next_in_the_past_is_refused(acme, database):
    before = table_counts(database)
    assert_error(acme.command("log acme call Catch-up next:yesterday"), "`next:`", "in the past", form=FORMS["log"])
    assert table_counts(database) == before


def test_log_dates_are_in_the_clients_zone(bot, database):
    # 25 hours apart: "today" is never the same date in both.
    bot.command("client add East key:east tz:Pacific/Kiritimati")
    bot.command("client add West key:west tz:Pacific/Pago_Pago")
    log(bot, "east call Hello")
    log(bot, "west call Hello")
    east, west = interactions(database)
    now = dt.datetime.now(dt.UTC)
    assert east.occurred_on == now.astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    assert west.occurred_on == now.astimezone(ZoneInfo("Pacific/Pago_Pago")).date()
    assert east.occurred_on > west.occurred_on


# --- log: bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "fragments"), [
    ("log acme lunch Discussed the plan", ["`lunch` is not a kind of interaction",
                                           "call, meeting, email, visit, note"]),
    ("log acme", ["Give the client, the kind of interaction and a summary"]),
    ("log acme call", ["Add a summary"]),
    ('log acme call with:"Jane Roe" on:yesterday', ["Add a summary"]),
    ("log acme call Catch-up on:2026-13-45", ["`2026-13-45` is not a date", DATE_FORMS]),
    ("log acme call Catch-up on:2026-02-30", ["`2026-02-30` is not a date"]),
    ("log acme call Catch-up on:someday", ["`someday` is not a date"]),
    ("log acme call Catch-up next:2026-13-45", ["`2026-13-45` is not a date", "next"]),
    ("log acme call Catch-up on:today on:yesterday", ["`on:` is given twice"]),
    ('log acme call "Agreed Q1 fill slots', ["A quote was left open"]),
    ('log acme call Agreed with:"Jane Roe', ["A quote was left open"]),
    ("log xyzzy call Hello", ["No client matches `xyzzy`", "Acme Biologics GmbH (`acme`)", "Beta Labs (`beta`)"]),
    ("log zeta call Hello", ["No client matches `zeta`", "Did you mean Beta Labs (`beta`)"]),
])
def test_log_bad_input_writes_nothing(acme, database, command, fragments):
    before = table_counts(database)
    response = acme.command(command)
    assert_error(response, *fragments, form=FORMS["log"])
    assert table_counts(database) == before
    assert interactions(database) == []


def test_ambiguous_log_lists_only_the_candidates(acme, database):
    acme.command('client add "Betamax Ltd" key:betamax')
    text = assert_error(acme.command("log bet call Hello"), "`bet` could be", form=FORMS["log"])
    assert "Beta Labs (`beta`)" in text and "Betamax Ltd (`betamax`)" in text
    assert "Acme" not in text
    assert interactions(database) == []


def test_log_without_arguments_opens_the_form_and_writes_nothing(acme, slack, database):
    before = table_counts(database)
    view = opened_form(slack, acme.command("log"))
    assert view["callback_id"] == "cmo:log"
    assert table_counts(database) == before


def test_summary_too_long_to_store_is_refused(acme, database):
    before = table_counts(database)
    assert_error(acme.command("log acme note " + "x" * 20_001), "20,001 characters", form=FORMS["log"])
    assert table_counts(database) == before


# --- escaping and size --------------------------------------------------------------------------------------


def test_summary_markup_is_stored_as_typed_and_shown_escaped(acme, database):
    # `<!channel>` as Slack sends "@channel", and the same characters typed literally (escaped by Slack).
    response = acme.command("log acme call " + typed("R&D says ") + "<!channel>" + typed(" and <!here> & <@U0EVIL> <http://x|y>")
                            + ' with:"' + typed("Jane <!everyone> & co") + '"')
    text = shown(response)
    summary = "R&D says <!channel> and <!here> & <@U0EVIL> <http://x|y>"
    assert summary in text
    assert "with Jane <!everyone> & co" in text
    # A mention and a link render live (issue 11); broadcasts and the rest never.
    assert any("&amp; <@U0EVIL> <http://x|y>" in text for text in mrkdwn_texts(reply(response)))
    assert_no_raw_markup(response, "<!channel>", "<!here>", "<!everyone>", "R&D", " & ")
    [row] = interactions(database)
    assert row.summary == summary
    assert row.contact_name == "Jane <!everyone> & co"

    for command in ("status acme", "history acme"):
        response = acme.command(command)
        assert "R&D says <!channel>" in shown(response), command
        assert_no_raw_markup(response, "<!channel>", "<!here>", "R&D")


def test_5000_character_summary_is_stored_whole_and_shown_within_block_kit_limits(acme, database):
    words = [f"R&D<{n:04}>" for n in range(500)]  # 10 characters each, and every one grows when escaped
    summary = " ".join(words) + "!"
    assert len(summary) == 5000
    response = acme.command("log acme meeting " + typed(summary))
    payload = reply(response)  # also checks every block's size
    assert len(payload["blocks"]) < 50
    for block in payload["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_LIMIT
    text = shown(response)
    assert "Logged for *Acme Biologics GmbH*" in text
    assert "R&D<0000> R&D<0001>" in text
    assert "5,000 characters" in text  # says the summary was kept whole though shown clipped
    assert_no_raw_markup(response, "R&D", "<0000>")

    [row] = interactions(database)
    assert row.summary == summary
    assert audit_events(database)[-1].after["summary"] == summary

    for command in ("status acme", "history acme", "status"):
        payload = reply(acme.command(command))
        assert len(payload["blocks"]) < 50


def test_many_long_interactions_keep_status_and_history_within_limits(acme, database):
    summary = typed(("Q&A <!channel> " * 400)[:4990])
    for _ in range(30):
        acme.command(f"log acme email {summary}")
    assert len(interactions(database)) == 30
    for command in ("status acme", "history acme", "status", "status mine"):
        reply(acme.command(command))


# --- status of one client -----------------------------------------------------------------------------------


def test_status_of_a_client(acme, database):
    today = today_utc()
    acme.command("client set acme channel:<#C0ACMEINT|acme-int> shared:<#C0ACMEEXT|acme-ext> tz:Etc/UTC")
    log(acme, 'acme call Agreed the Q1 fill slots with:"Dr. Jane Roe" on:-3d next:+5d', user="U0BOB")
    log(acme, "acme note Internal: watch the CoA turnaround")

    response = acme.command("status acme")
    text = shown(response)
    assert "Acme Biologics GmbH (acme)" in text
    assert "*Owner* <@U0ANA>" in text
    assert_shows_cadence(text, "*cadence* {}", 7)
    assert "*internal* <#C0ACMEINT>" in text and "*shared* <#C0ACMEEXT>" in text
    assert f"*Last contact* {day(today - dt.timedelta(days=3))} (3 days ago), call by <@U0BOB>" in text
    assert f"*Next contact planned* {day(today + dt.timedelta(days=5))}" in text
    assert "*green*" in text and "last contact 3 days ago" in text
    assert "Latest interactions" in text
    # Newest first, the note included (it is logged), but it is not the last contact.
    assert text.index("Internal: watch the CoA turnaround") < text.index("Agreed the Q1 fill slots")
    assert "with Dr. Jane Roe" in text


def test_notes_do_not_count_as_contact(acme, database):
    log(acme, "acme note Talked about Acme among ourselves")
    text = shown(acme.command("status acme"))
    assert "*Last contact* none logged yet" in text
    assert "*amber*" in text and "no contact logged yet" in text
    assert "Talked about Acme among ourselves" in text  # still among the latest interactions

    log(acme, "acme email Sent the stability data on:-2d")
    log(acme, "acme note Another internal note")
    text = shown(acme.command("status acme"))
    assert f"*Last contact* {day(today_utc() - dt.timedelta(days=2))} (2 days ago), email" in text


def test_the_last_contact_behind_five_newer_notes_is_still_found(acme):
    """Status reads the last contact off the latest interactions; behind five notes it looks further."""
    log(acme, "acme call Agreed the fill slots on:-9d")
    for number in range(1, 6):
        log(acme, f"acme note Internal note {number} on:-{6 - number}d")
    text = shown(acme.command("status acme"))
    assert f"*Last contact* {day(today_utc() - dt.timedelta(days=9))} (9 days ago), call" in text
    assert "Agreed the fill slots" not in text  # not among the five latest shown


@pytest.mark.parametrize(("days_ago", "level", "reason"), [
    (0, "green", "last contact today, cadence"),
    (7, "green", "last contact 7 days ago, cadence"),
    (8, "amber", "past the"),
    (14, "amber", "past the"),
    (15, "red", "more than twice the"),
])
def test_status_health_follows_the_cadence(acme, days_ago, level, reason):
    log(acme, f"acme visit Site visit on:-{days_ago}d")
    text = shown(acme.command("status acme"))
    assert f"*{level}*" in text and reason in text


def test_status_shows_the_five_latest_interactions(acme):
    for number in range(1, 8):
        log(acme, f"acme email Update number {number} on:-{10 - number}d")
    text = shown(acme.command("status acme"))
    for number in range(3, 8):
        assert f"Update number {number}" in text
    assert "Update number 1" not in text and "Update number 2" not in text
    assert text.index("Update number 7") < text.index("Update number 3")


def test_status_of_a_client_without_interactions(acme):
    text = shown(acme.command("status beta"))
    assert "Beta Labs (beta)" in text
    assert "*Owner* <@U0BOB>" in text
    assert "*Last contact* none logged yet" in text
    assert "/cmo log beta call <summary>" in text


def test_status_of_a_client_without_owner_says_nobody(bot):
    bot.command("client add Gamma key:gamma")
    assert "*Owner* nobody" in shown(bot.command("status gamma"))


def test_status_of_a_client_named_mine_when_quoted(acme, database):
    acme.command('client add "Mine Co" key:mine')
    assert "Mine Co (mine)" in shown(acme.command('status "mine"'))
    assert "My clients" in shown(acme.command("status mine"))


# --- portfolio status ---------------------------------------------------------------------------------------


@pytest.fixture
def portfolio(acme):
    acme.command(f"client add Gamma key:gamma owner:{ANA} cadence:1w")
    acme.command("client add Delta key:delta")
    acme.command("client add Old key:old")
    log(acme, "acme call Fine on:-1d")  # green
    log(acme, "gamma call Long ago on:-30d")  # red
    log(acme, "delta note Only a note")  # amber: no contact
    acme.command("client archive old")
    return acme


def test_portfolio_status_worst_first(portfolio):
    text = shown(portfolio.command("status"))
    assert "Portfolio health" in text
    assert ":red_circle: 1 red" in text and ":large_orange_circle: 2 amber" in text
    assert ":large_green_circle: 1 green" in text
    assert text.index("*Gamma*") < text.index("*Delta*") < text.index("*Acme Biologics GmbH*")
    assert text.index("*Gamma*") < text.index("*Beta Labs*") < text.index("*Acme Biologics GmbH*")
    assert "more than twice" in text and "no contact logged yet" in text and "last contact 1 day ago" in text
    assert "owner <@U0ANA>" in text and "owner <@U0BOB>" in text and "owner nobody" in text
    assert "Old" not in text.replace("Gold", "")
    assert "/cmo status <client>" in text and "/cmo help health" in text


def test_status_mine_shows_only_my_clients(portfolio):
    text = shown(portfolio.command("status mine"))
    assert "My clients" in text
    assert "*Acme Biologics GmbH*" in text and "*Gamma*" in text
    assert "Beta Labs" not in text and "Delta" not in text

    text = shown(portfolio.command("status MINE", user="U0BOB"))
    assert "*Beta Labs*" in text and "Acme" not in text and "Gamma" not in text

    text = shown(portfolio.command("status mine", user="U0NOBODY"))
    assert "You own no clients" in text and "/cmo status" in text


def test_portfolio_when_there_are_no_clients(bot):
    assert "No clients yet. Add one with `/cmo client add <name>`." in shown(bot.command("status"))


def test_status_of_an_unknown_client_lists_candidates(portfolio, database):
    before = table_counts(database)
    text = assert_error(portfolio.command("status gamm4"), "No client matches `gamm4`", "Did you mean",
                        form=FORMS["status"])
    assert "Gamma (`gamma`)" in text
    assert table_counts(database) == before


# --- history ----------------------------------------------------------------------------------------------


def test_history_shows_who_what_when_and_how(acme, slack):
    slack.admins.add("U0BOB")  # a cadence is a manager's to change: a Slack admin is one
    acme.command("client set acme cadence:2w tz:Europe/Berlin", user="U0BOB")
    log(acme, "acme call Agreed the Q1 fill slots on:yesterday", user="U0CAROL")
    response = acme.command("history acme")
    text = shown(response)
    assert "History of Acme Biologics GmbH (acme)" in text
    assert "added the client as *Acme Biologics GmbH* (`acme`)" in text
    assert "<@U0BOB>" in text and "time zone none → Europe/Berlin" in text
    assert_shows_cadence(text, "cadence {} → {}", 7, 14)
    # "yesterday" is the client's (Berlin's) yesterday, which is not always UTC's.
    berlin_yesterday = dt.datetime.now(ZoneInfo("Europe/Berlin")).date() - dt.timedelta(days=1)
    assert f"logged a call on {berlin_yesterday.isoformat()}: Agreed the Q1 fill slots" in text
    assert "<@U0CAROL>" in text and "slash command" in text
    # Times are shown in the client's zone (UTC underneath).
    assert "times in Europe/Berlin" in text
    assert " CET " in text or " CEST " in text
    assert text.index("logged a call") < text.index("time zone none") < text.index("added the client")


def test_history_is_in_utc_by_default(acme):
    assert "UTC ·" in shown(acme.command("history beta"))


def test_history_of_an_unknown_client(acme, database):
    assert_error(acme.command("history zzz"), "No client matches `zzz`", form=FORMS["history"])


def test_history_without_a_client_opens_the_form(acme, slack, database):
    before = table_counts(database)
    view = opened_form(slack, acme.command("history"))
    assert view["callback_id"] == "cmo:history"
    assert table_counts(database) == before


def test_history_keeps_the_latest_events_within_limits(acme):
    for number in range(40):
        log(acme, f"acme note Note {number:02}")
    text = shown(acme.command("history acme"))
    assert "Note 39" in text and "Note 15" in text
    assert "Note 14" not in text
    assert "the latest 25 events" in text


# --- workspaces -------------------------------------------------------------------------------------------


def test_logs_and_status_stay_in_their_workspace(acme, database):
    acme.command("client add Acme key:acme", team="T0OTHER", user="U0ZED")
    log(acme, "acme call Other workspace call", team="T0OTHER", user="U0ZED")
    log(acme, "acme call First workspace call on:-2d")

    other = shown(acme.command("status acme", team="T0OTHER", user="U0ZED"))
    assert "Other workspace call" in other and "First workspace call" not in other
    first = shown(acme.command("status acme"))
    assert "First workspace call" in first and "Other workspace call" not in first

    other = shown(acme.command("status", team="T0OTHER", user="U0ZED"))
    assert "*Acme*" in other and "Beta Labs" not in other and "Acme Biologics" not in other
    assert "Beta Labs" not in shown(acme.command("status mine", team="T0OTHER", user="U0BOB"))

    assert [i.summary for i in interactions(database, "T0OTHER")] == ["Other workspace call"]
    assert [i.summary for i in interactions(database)] == ["First workspace call"]
    assert client_row(database, "acme", "T0OTHER").id != client_row(database, "acme").id
    assert interactions(database, "T0OTHER")[0].client_id == client_row(database, "acme", "T0OTHER").id
