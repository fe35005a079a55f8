"""Lessons learned end to end (issue 12): `/cmo lesson`, `/cmo lessons`, the lesson form, history, the lessons
shown under a new schedule change (to the person logging it, not in the announcement) and in the meeting prep
brief. Signed slash commands and modal submissions into the real endpoint: what the user reads, what is
posted, the rows written (or not)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select

from bot.db.models import AuditEvent, Client, Lesson, ScheduleChange
from bot.services import Actor
from bot.services import lessons as lesson_service
from bot.services.changes import record_change
from tests.commands_support import (
    assert_error,
    assert_no_raw_markup,
    channel_link,
    mention,
    opened_form,
    reply,
    row_counts,
    rows,
    shown,
    typed,
    unescape,
)
from tests.slackhttp import message_text, static_select, text_input
from tests.test_meeting_reminders import (  # noqa: F401 (jobs is a fixture)
    BERLIN,
    at,
    brief_section,
    jobs,
    plan_meeting,
    reminders,
    seed,
)

FORMS = {
    "lesson": '/cmo lesson <client> "<lesson>" [change:#<id>]',
    "lessons": "/cmo lessons [<client>] [<words>]",
}
NEW, LATER = dt.date(2027, 3, 10), dt.date(2027, 3, 15)
HOSTILE = "<!channel> & <b>bold</b> <@U0EVE|eve> *stars*"


@pytest.fixture
def acme(bot):
    """Acme Biologics GmbH (`acme`, internal #acme-internal) and Beta Labs (`beta`), one change each."""
    for text in (f'client add "Acme Biologics GmbH" key:acme owner:{mention("U0ANA", "ana")} '
                 f'channel:{channel_link("C0ACMEINT", "acme-internal")}',
                 f'client add "Beta Labs" key:beta channel:{channel_link("C0BETAINT", "beta-internal")}'):
        assert "Added" in shown(bot.command(text))
    for text in (f'delay acme Lot 42 fill to:{NEW} from:2027-03-01 reason:"Filter integrity test failed"',
                 f'delay beta Lot 9 to:{NEW} reason:"Vials late"'):
        assert "Recorded schedule change" in shown(bot.command(text))
    return bot


def lessons(database) -> list[Lesson]:
    return rows(database, Lesson)


def counts(database) -> dict[str, int]:
    return row_counts(database, Lesson, AuditEvent, ScheduleChange)


def lesson(bot, text: str, **kwargs) -> str:
    text = shown(bot.command("lesson " + text, **kwargs))
    assert "Lesson recorded" in text, text
    return text


# --- /cmo lesson ------------------------------------------------------------------------------------------------

def test_a_lesson_is_recorded_with_its_change_and_audited(acme, database):
    text = lesson(acme, 'acme "Book the filter integrity retest a week ahead" change:#1', user="U0BOB")
    assert "Lesson recorded for *Acme Biologics GmbH* (`acme`) from schedule change `#1` Lot 42 fill" in text
    assert "> Book the filter integrity retest a week ahead" in text
    [row] = lessons(database)
    assert (row.text, row.change_id, row.created_by, row.surface, row.team_id) == (
        "Book the filter integrity retest a week ahead", 1, "U0BOB", "slash_command", "T0ACME")
    with database.transaction() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "lesson.add")).all()
        assert (event.entity_type, event.entity_id, event.actor_user_id) == ("lessons", row.id, "U0BOB")
        assert event.after == {"text": "Book the filter integrity retest a week ahead", "change_id": 1}
        assert event.client_id == row.client_id


def test_a_lesson_without_a_change_and_unquoted_words(acme, database):
    text = lesson(acme, "acme Order vials two months early")
    assert "Lesson recorded for *Acme Biologics GmbH* (`acme`):" in text
    assert lessons(database)[0].text == "Order vials two months early"
    assert lessons(database)[0].change_id is None


def test_history_says_a_lesson_was_recorded(acme):
    lesson(acme, 'acme "Book QC early" change:1')
    text = shown(acme.command("history acme"))
    assert "recorded a lesson from schedule change #1: Book QC early" in text


@pytest.mark.parametrize(("text", "fragments"), [
    ("acme", ["Say what was learned"]),
    ('acme ""', ["Say what was learned"]),
    ('acme "   "', ["Say what was learned"]),
    ('acme "!!! ..."', ["Say what was learned"]),
    ('acme "' + "x" * 2001 + '"', ["2,001 characters", "under 2,000"]),
    ('acme "Learned" change:#2', ["Schedule change #2 is not Acme Biologics GmbH's"]),
    ('acme "Learned" change:#99', ["There is no schedule change #99"]),
    ('acme "Learned" change:abc', ["`abc` is not a change id"]),
    ('acme "Learned" change:#0', ["is not a change id"]),
    ('nobody "Learned"', ["No client matches `nobody`"]),
    ('acme "Learned', ["quote was left open"]),
])
def test_bad_lessons_are_refused_and_nothing_is_written(acme, database, text, fragments):
    before = counts(database)
    assert_error(acme.command("lesson " + text), *fragments, form=FORMS["lesson"])
    assert counts(database) == before


def test_a_lesson_for_an_archived_client_is_refused(acme, database):
    shown(acme.command("client archive beta"))
    before = counts(database)
    assert_error(acme.command('lesson beta "Learned"'), "archived", form=FORMS["lesson"])
    assert counts(database) == before


def test_a_lesson_is_escaped_everywhere(acme, database):
    response = acme.command(typed(f'lesson acme "{HOSTILE}" change:1'))
    assert "Lesson recorded" in shown(response)
    assert_no_raw_markup(response, "<!channel>", "<b>")
    assert lessons(database)[0].text == HOSTILE
    for command in ("lessons", "lessons acme", "lessons channel bold", "history acme"):
        listed = acme.command(command)
        shown_text = message_text(reply(listed))
        assert ("&lt;!channel&gt; &amp; &lt;b&gt;" in shown_text  # a search puts the words found in bold
                or "&lt;!*channel*&gt; &amp; &lt;b&gt;*bold*&lt;/b&gt;" in shown_text), command
        assert_no_raw_markup(listed, "<!channel>", "<b>")


# --- the form ---------------------------------------------------------------------------------------------------

def test_lesson_without_arguments_opens_the_form_and_submitting_it_records(acme, database, slack):
    view = opened_form(slack, acme.command("lesson"))
    assert view["title"]["text"] == "Lesson learned" and view["submit"]["text"] == "Record"
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == ["client", "lesson", "change"]
    response = acme.submit_view(view, {"client": static_select("acme"), "lesson": text_input("Retest early"),
                                       "change": text_input("#1")})
    assert response.status == 200 and response.json["response_action"] == "update", response.body
    assert "Lesson recorded for *Acme Biologics GmbH*" in unescape(
        message_text({"blocks": response.json["view"]["blocks"]}))
    [row] = lessons(database)
    assert (row.text, row.change_id, row.surface) == ("Retest early", 1, "modal")


@pytest.mark.parametrize(("values", "field", "fragment"), [
    ({"lesson": text_input("  ")}, "lesson", "Say what was learned"),
    ({"change": text_input("#2")}, "change", "is not Acme Biologics GmbH's"),
    ({"change": text_input("twelve")}, "change", "is not a change id"),
    ({"client": static_select("gone")}, "client", "No client matches"),
])
def test_lesson_form_errors_show_under_their_input_and_write_nothing(acme, database, slack, values, field,
                                                                      fragment):
    view = opened_form(slack, acme.command("lesson"))
    before = counts(database)
    response = acme.submit_view(view, {"client": static_select("acme"), "lesson": text_input("Retest early"),
                                       **values})
    assert response.status == 200 and response.json["response_action"] == "errors", response.body
    assert list(response.json["errors"]) == [field]
    assert fragment in response.json["errors"][field]
    assert counts(database) == before


# --- /cmo lessons -----------------------------------------------------------------------------------------------

@pytest.fixture
def learned(acme):
    lesson(acme, 'acme "Filter integrity tests were delayed twice: book the retest early" change:1')
    lesson(acme, 'beta "Vials from one supplier only: order two months ahead" change:2')
    lesson(acme, 'acme "Filter delays and more filter delays: keep a spare filter housing"')
    lesson(acme, 'beta "Tell the client before the announcement goes out"')
    return acme


def test_lessons_lists_the_latest_of_every_client(learned):
    text = shown(learned.command("lessons"))
    assert "Lessons learned" in text
    assert text.index("keep a spare filter") < text.index("Vials from one") < text.index("book the retest early")
    assert "*Beta Labs*" in text and "*Acme Biologics GmbH*" in text
    assert "from `#1` Lot 42 fill" in text and "from `#2` Lot 9" in text
    assert "<@U0ANA>" in text and "newest first" in text


def test_lessons_of_one_client(learned):
    text = shown(learned.command("lessons acme"))
    assert "Acme Biologics GmbH: lessons learned" in text
    assert "book the retest early" in text and "spare filter" in text
    assert "Vials" not in text and "Tell the client" not in text
    assert "*Acme Biologics GmbH* ·" not in text  # one client: not repeated


def test_a_search_finds_every_form_of_the_words_best_first_with_the_words_in_bold(learned):
    text = shown(learned.command("lessons filter delay"))
    assert "Lessons matching filter delay" in text
    assert text.index("housing") < text.index("book the retest early")
    assert "*Filter* *delays* and more *filter* *delays*" in text
    assert "*Filter* integrity tests were *delayed* twice" in text
    assert "Vials" not in text and "best matches first" in text


def test_a_search_within_a_client(learned):
    text = shown(learned.command("lessons beta supplier"))
    assert "Beta Labs's lessons matching supplier" in text and "*supplier*" in text
    assert "No lesson of Acme Biologics GmbH matches supplier." in shown(learned.command("lessons acme supplier"))
    assert "No lesson matches zebra." in shown(learned.command("lessons zebra"))


def test_an_empty_list_says_how_to_add_one(acme):
    assert "No lesson recorded yet" in shown(acme.command("lessons"))
    assert "No lesson recorded for Acme Biologics GmbH yet" in shown(acme.command("lessons acme"))


@pytest.mark.parametrize("words", ["*", "OR", "-", "'", ":*", "&|!()", "the or and", "acme ***", "NOT AND"])
def test_a_search_of_only_operators_or_punctuation_is_a_clear_error(learned, database, words):
    before = counts(database)
    assert_error(learned.command(typed(f"lessons {words}")), "Give words to search for", form=FORMS["lessons"])
    assert counts(database) == before


@pytest.mark.parametrize("words", ['NEAR(filter delay)', 'filter* OR delay', '"filter" -delay', "filter:*",
                                   "filter & delay | x", "lessons_fts MATCH", "filter'; DROP TABLE lessons; --"])
def test_query_syntax_in_a_search_is_plain_words_never_a_database_error(learned, database, words):
    response = learned.command(typed(f"lessons {words}"))
    text = shown(response)
    assert "Lessons matching" in text or "No lesson matches" in text, text
    assert len(lessons(database)) == 4


def test_an_open_quote_in_a_search_is_a_clear_error(learned):
    assert_error(learned.command('lessons "filter'), "quote was left open", form=FORMS["lessons"])


def test_a_long_list_says_how_many_more(acme, database):
    with database.transaction() as session:
        client = session.scalars(select(Client).where(Client.key == "acme")).one()
        for i in range(20):
            lesson_service.add_lesson(session, Actor("T0ACME", "U0ANA", "cli"), client, f"Resin lesson {i}")
    text = shown(acme.command("lessons resin"))
    assert "*Resin* lesson 19" in text and "lesson 4\n" not in text and "lesson 5\n" in text
    assert "…and 5 more" in text
    assert "…and 5 more" in shown(acme.command("lessons"))


def test_help_on_lessons(bot):
    text = shown(bot.command("help lessons"))
    assert FORMS["lesson"] in text and FORMS["lessons"] in text
    assert "delayed" in text


# --- under a new schedule change --------------------------------------------------------------------------------

def test_a_new_delay_shows_the_lessons_of_earlier_changes_and_those_matching_its_reason(learned, slack):
    response = learned.command(f'delay acme Lot 42 fill to:{LATER} reason:"Filter housing cracked"')
    text = shown(response)
    assert "Recorded schedule change *#3*" in text
    part = text[text.index("Lessons from before"):]
    # Tied to the same item's earlier change #1 first, then the reason's words (filter, housing) matched.
    assert part.index("book the retest early") < part.index("keep a spare *filter* *housing*")
    assert "from `#1` Lot 42 fill" in part
    assert part.count("book the retest early") == 1  # no duplicates
    assert "Vials" not in part and "Tell the client" not in part
    # The announcement in the channel stays as it is: no lessons there.
    deadline = time.monotonic() + 8
    while len(slack.posted("C0ACMEINT")) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    announcement = slack.posted("C0ACMEINT")[-1]
    assert "Schedule change #3" in message_text(announcement)
    assert "Lessons" not in message_text(announcement) and "retest early" not in message_text(announcement)


def test_a_delay_shows_other_clients_matching_lessons_with_their_name(learned):
    text = shown(learned.command(f'delay acme Lot 50 to:{LATER} reason:"Vials supplier short"'))
    part = text[text.index("Lessons from before"):]
    assert "*Beta Labs*" in part and "order two months ahead" in part
    assert "book the retest early" in part  # tied to acme's earlier change #1 (another item)


def test_a_delay_with_nothing_learned_before_shows_no_lessons(acme):
    text = shown(acme.command(f'delay acme Lot 7 to:{LATER} reason:"Power cut"'))
    assert "Recorded schedule change" in text and "Lessons from before" not in text


def test_a_delay_whose_reason_is_only_common_words_still_records(learned):
    text = shown(learned.command(f'delay beta Lot 9 to:{LATER} reason:"the and or !!"'))
    assert "Recorded schedule change" in text
    assert "Vials from one supplier" in text  # tied to beta's change #2 of the same item


# --- the meeting prep brief ---------------------------------------------------------------------------------------

def test_the_brief_shows_the_clients_recent_lessons(database, jobs, slack):  # noqa: F811
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    actor = Actor("T0ACME", "U0BOB", "cli")
    with database.transaction() as session:
        client = session.get(Client, client_id)
        lesson_service.add_lesson(session, actor, client, f"Old lesson {HOSTILE}")
        for i in range(6):
            lesson_service.add_lesson(session, actor, client, f"Recent lesson {i}")
    jobs(at(BERLIN, 2027, 5, 10, 10))
    [message] = reminders(slack)
    part = brief_section(message, "Lessons learned")
    lines = part.split("\n")[1:]
    assert lines[0].startswith("• Recent lesson 5 — ") and "<@U0BOB>" in lines[0]
    assert "Recent lesson 1" in part and "Recent lesson 0" not in part and "Old lesson" not in part
    assert "2 more" in part, part


def test_the_brief_escapes_lessons_and_names_their_change(database, jobs, slack):  # noqa: F811
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    with database.transaction() as session:
        client = session.get(Client, client_id)
        change = record_change(session, Actor("T0ACME", "U0BOB", "cli"), client, item="Lot <42> fill",
                               new_date=dt.date(2027, 6, 1), reason="QC", today=dt.date(2027, 4, 1))
        lesson_service.add_lesson(session, Actor("T0ACME", "U0BOB", "cli"), client, HOSTILE, change_id=change.id)
    jobs(at(BERLIN, 2027, 5, 10, 10))
    [message] = reminders(slack)
    part = brief_section(message, "Lessons learned")
    assert "&lt;!channel&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in part
    assert f"from `#{change.id}` Lot &lt;42&gt; fill" in part
    assert "<!channel>" not in message_text(message)


def test_a_quoted_client_name_and_an_archived_clients_lessons(learned):
    assert "Beta Labs's lessons matching supplier" in shown(learned.command('lessons "Beta Labs" supplier'))
    shown(learned.command("client archive beta"))
    text = shown(learned.command("lessons beta"))
    assert "Beta Labs: lessons learned" in text and "Vials from one supplier" in text
