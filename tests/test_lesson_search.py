"""The full-text search over lessons (bot/services/lessons.py), on the database the suite runs on: SQLite's
FTS5 index or PostgreSQL's tsvector. Stemming, ranking, the client filter, any word, and user text that
looks like query syntax: never a database error."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.db.models import AuditEvent, Client, Lesson
from bot.errors import UserError
from bot.services import Actor
from bot.services import lessons as lesson_service
from bot.services.changes import record_change
from bot.services.clients import add_client

TEAM = "T0ACME"
ACTOR = Actor(team_id=TEAM, user_id="U0ANA", surface="cli")
TODAY = dt.date(2026, 12, 1)


@pytest.fixture
def clients(database) -> dict[str, int]:
    with database.transaction() as session:
        acme = add_client(session, ACTOR, "Acme Biologics", key="acme")
        beta = add_client(session, ACTOR, "Beta Labs", key="beta")
        other = add_client(session, Actor(team_id="T0OTHER", user_id="U0ZED", surface="cli"), "Acme Other",
                           key="acme")
        session.flush()
        return {"acme": acme.id, "beta": beta.id, "other": other.id}


def add(database, client_id: int, text: str, *, team: str = TEAM, change_id: int | None = None) -> int:
    with database.transaction() as session:
        client = session.get(Client, client_id)
        lesson = lesson_service.add_lesson(session, Actor(team_id=team, user_id="U0ANA", surface="cli"), client,
                                           text, change_id=change_id)
        return lesson.id


def found(database, words: str, **kwargs) -> list[int]:
    with database.transaction() as session:
        return [lesson.id for lesson in lesson_service.search(session, kwargs.pop("team", TEAM), words, **kwargs)]


def counted(database, words: str, **kwargs) -> int:
    with database.transaction() as session:
        return lesson_service.search_count(session, TEAM, words, **kwargs)


def lesson_count(database) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(Lesson))


# -- stemming --------------------------------------------------------------------------------------------------

def test_delays_finds_delayed_and_delay_and_delaying(database, clients):
    delayed = add(database, clients["acme"], "The fill was delayed by the filter test")
    delay = add(database, clients["acme"], "A delay of the resin is told at once")
    delaying = add(database, clients["beta"], "Delaying the release cost us a week")
    unrelated = add(database, clients["beta"], "Order vials early")
    for words in ("delays", "delay", "DELAYED", "delaying"):
        assert set(found(database, words)) == {delayed, delay, delaying}, words
    assert unrelated not in found(database, "delays")


def test_all_the_words_must_match_in_any_form(database, clients):
    both = add(database, clients["acme"], "Filters were late and the fill slipped")
    one = add(database, clients["acme"], "The filter arrived on time")
    assert found(database, "filter slips") == [both]
    assert set(found(database, "filter")) == {both, one}
    assert found(database, "filter nothinglikethis") == []


def test_any_word_finds_lessons_with_one_of_the_words(database, clients):
    filters = add(database, clients["acme"], "Filter integrity tests fail in winter")
    resin = add(database, clients["beta"], "Column resin ships from one supplier only")
    add(database, clients["beta"], "Order vials early")
    assert found(database, "filter resin") == []
    assert set(found(database, "filter resin", any_word=True)) == {filters, resin}
    assert counted(database, "filter resin", any_word=True) == 2


# -- ranking ---------------------------------------------------------------------------------------------------

def test_a_lesson_with_the_words_more_often_ranks_first_whatever_its_age(database, clients):
    often = add(database, clients["acme"], "Filter test delays: every filter test delay hit the filter schedule")
    once = add(database, clients["acme"], "A filter arrived late once; the fill moved a day and the shift was lost")
    add(database, clients["acme"], "Nothing to do with it at all")
    assert found(database, "filter") == [often, once]
    assert found(database, "filter delay") == [often]  # the other has no delay


def test_words_close_together_rank_before_words_far_apart(database, clients):
    far = add(database, clients["acme"], "Filter " + " ".join(f"word{i}" for i in range(40)) + " integrity")
    close = add(database, clients["acme"], "Filter integrity " + " ".join(f"other{i}" for i in range(40)))
    assert found(database, "filter integrity") == [close, far]


def test_ties_go_to_the_newest(database, clients):
    first = add(database, clients["acme"], "Resin late")
    second = add(database, clients["beta"], "Resin late")
    third = add(database, clients["acme"], "Resin late")
    assert found(database, "resin") == [third, second, first]


def test_the_limit_keeps_the_best_and_the_count_says_how_many_in_all(database, clients):
    ids = [add(database, clients["acme"], f"Resin lesson number {i}") for i in range(5)]
    assert found(database, "resin", limit=2) == [ids[4], ids[3]]
    assert counted(database, "resin") == 5


# -- scope -----------------------------------------------------------------------------------------------------

def test_the_client_filter_and_the_workspace(database, clients):
    acme = add(database, clients["acme"], "Resin late again")
    beta = add(database, clients["beta"], "Resin late for Beta")
    other_team = add(database, clients["other"], "Resin late elsewhere", team="T0OTHER")
    assert set(found(database, "resin")) == {acme, beta}
    assert found(database, "resin", client_id=clients["acme"]) == [acme]
    assert found(database, "resin", client_id=clients["beta"]) == [beta]
    assert found(database, "resin", team="T0OTHER") == [other_team]


# -- user text that looks like query syntax ---------------------------------------------------------------------

@pytest.mark.parametrize("words", ['"', "*", "-", "'", ":*", "&|!()", "(", ")", "^", "OR", "AND", "NOT", "or and not",
                                   "the", '"" ** -- ::', "   ", "", "_", "___"])
def test_nothing_searchable_is_a_clear_user_error_not_a_database_error(database, clients, words):
    add(database, clients["acme"], "The filter was late, or not")
    with pytest.raises(UserError) as raised:
        found(database, words)
    assert "Give words to search for" in raised.value.message
    assert counted(database, words) == 0


@pytest.mark.parametrize(("words", "expected"), [
    ('"filter', True), ("filter*", True), ("filter:*", True), ("-filter", True), ("filter -late", True),
    ("NEAR(filter late)", False), ("filter OR nothingatall", False), ("filter AND late", True),
    ("filter & late", True), ("filter | nothingatall", False), ("!filter", True), ("(filter)", True),
    ("filter's", True), ("'filter'", True), ("filter:late", True), ("text:filter", False), ("filter:", True),
    ("filter^2", False),
    ("lessons_fts", False), ("filter\\", True), ("filter;drop table lessons", False), ("near", False),
])
def test_operators_and_punctuation_are_plain_words(database, clients, words, expected):
    lesson = add(database, clients["acme"], "The filter was late")
    assert found(database, words) == ([lesson] if expected else [])
    assert lesson_count(database) == 1


def test_fts_keywords_typed_by_the_user_are_searched_as_words(database, clients):
    near = add(database, clients["acme"], "The warehouse near the fill line floods")
    add(database, clients["acme"], "The fill line is fine")
    assert found(database, "NEAR warehouse") == [near]
    assert found(database, "near") == [near]


def test_unicode_words_are_searched(database, clients):
    lesson = add(database, clients["acme"], "Die Füllung in München wurde verschoben")
    assert found(database, "München") == [lesson]
    assert found(database, "füllung!") == [lesson]


# -- adding ----------------------------------------------------------------------------------------------------

def test_a_lesson_is_audited_and_a_change_must_be_the_clients(database, clients):
    with database.transaction() as session:
        acme, beta = session.get(Client, clients["acme"]), session.get(Client, clients["beta"])
        change = record_change(session, ACTOR, acme, item="Lot 42 fill", new_date=TODAY + dt.timedelta(days=9),
                               reason="QC", today=TODAY)
        session.flush()
        change_id = change.id
        lesson = lesson_service.add_lesson(session, ACTOR, acme, "  Book QC early  ", change_id=change_id)
        assert (lesson.text, lesson.change_id, lesson.created_by) == ("Book QC early", change_id, "U0ANA")
        with pytest.raises(UserError, match="is not Beta Labs's"):
            lesson_service.add_lesson(session, ACTOR, beta, "Nope", change_id=change_id)
        with pytest.raises(UserError, match="no schedule change #999"):
            lesson_service.add_lesson(session, ACTOR, acme, "Nope", change_id=999)
        for text in ("", "   ", "!!!", "x" * 2001):
            with pytest.raises(UserError):
                lesson_service.add_lesson(session, ACTOR, acme, text)
    with database.transaction() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "lesson.add")).all()
        assert event.after == {"text": "Book QC early", "change_id": change_id}
        assert event.client_id == clients["acme"]


def test_a_huge_word_or_many_words_are_searched_without_a_database_error(database, clients):
    lesson = add(database, clients["acme"], "The filter was late")
    assert found(database, "x" * 5000) == []
    assert found(database, "filter " + "y" * 3000, any_word=True) == [lesson]
    assert found(database, " ".join(f"w{i}" for i in range(500)) + " filter", any_word=True) == []  # 32 words
    assert found(database, "filter " + " ".join(f"w{i}" for i in range(500)), any_word=True) == [lesson]


@pytest.mark.parametrize("words", ['"filter" OR *', "NEAR(filter, 2)", "filter:* | !late & (x)"])
def test_any_word_with_operators_is_safe_too(database, clients, words):
    lesson = add(database, clients["acme"], "The filter was late")
    assert found(database, words, any_word=True) == [lesson]


def test_the_search_runs_on_the_databases_own_full_text_index(database):
    # Not the plain LIKE fallback: stemming and ranking are what is tested above.
    assert database.engine.dialect.name in ("sqlite", "postgresql")
