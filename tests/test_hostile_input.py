"""Input anyone can send (issue 7): ids out of range and control characters (item 7), signed but forged
payloads (item 9), replayed slash commands (item 10), an unexpected error in a modal (item 12), more
clients than a static select holds (item 13), and a database that does not answer in time (item 5's reply).

Everything goes through the real endpoint, signed as Slack signs; what is checked is the answer the user
sees and the rows written (or not)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bot.db.models import AuditEvent, Client, Interaction, ProcessedRequest, ScheduleChange
from tests.commands_support import opened_form, shown
from tests.slackhttp import external_select, message_text, text_input, user_select
from tests.test_changes_actions_http import announcement, opened_draft, press, responses
from tests.test_changes_http import add_clients, change, delay

NEW, PLANNED = "2027-03-10", "2027-03-01"


def rows(database, model) -> list[Any]:
    with database.transaction() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def count(database, model) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def written(database) -> dict[str, int]:
    return {model.__tablename__: count(database, model)
            for model in (Client, Interaction, ScheduleChange, AuditEvent)}


@pytest.fixture
def acme(bot, slack):
    add_clients(bot)
    delay(bot, f'acme Lot 42 fill to:{NEW} from:{PLANNED} reason:"Filter integrity test failed"')
    announcement(slack)
    return bot


# -- item 7: ids out of range, control characters ---------------------------------------------------------------

@pytest.mark.parametrize("number", ["9223372036854775808", "2147483648", "99999999999999999999999999999"])
def test_an_id_no_record_can_have_is_no_such_record(acme, database, number):
    before = written(database)
    response = acme.command(f"told #{number}")
    assert response.status == 200
    assert f"There is no schedule change #{number}" in shown(response)
    assert written(database) == before


def test_the_largest_id_is_looked_up_like_any_other(acme, database):
    assert "There is no schedule change #2147483647" in shown(acme.command("told #2147483647"))


def test_a_nul_byte_in_a_summary_or_a_reason_is_removed(acme, database):
    text = shown(acme.command("log acme call Agreed\x00 the fill\x07 slots\x1b[31m"))
    assert "Logged for" in text
    [interaction] = rows(database, Interaction)
    assert interaction.summary == "Agreed the fill slots[31m"
    delay(acme, 'acme Lot 7 to:2027-04-01 reason:"Resin\x00 late\x0b"')
    assert rows(database, ScheduleChange)[-1].reason == "Resin late"


def test_control_characters_in_a_form_are_removed(acme, database, slack):
    view = opened_form(slack, acme.command("log"))
    response = acme.submit_view(view, {
        "client": external_select("acme"), "kind": {"type": "static_select", "selected_option": {"value": "call"}},
        "summary": text_input("Spoke\x00 to\ud800 Jane"), "on": {"type": "datepicker", "selected_date": "2025-06-02"},
    })
    assert response.json["response_action"] == "update", response.body
    assert rows(database, Interaction)[0].summary == "Spoke to Jane"


# -- item 9: signed but forged payloads ---------------------------------------------------------------------------

def forged_press(bot, message: dict, *, drop_user: bool = False, value: Any = None, **changes: Any):
    """A click on the announcement's "Mark client told", with parts of the payload forged."""
    [block] = [b for b in message["blocks"] if b["type"] == "actions"]
    button = block["elements"][0]
    payload = {
        "type": "block_actions", "team": {"id": "T0ACME", "domain": "acme-cmo"},
        "user": {"id": "U0ANA", "username": "ana", "team_id": "T0ACME"},
        "api_app_id": "A0RAPPORT", "token": "legacy-verification-token", "trigger_id": "trigger.forged",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": "C0ACMEINT"},
        "channel": {"id": "C0ACMEINT", "name": "acme-internal"},
        "response_url": bot.response_url,
        "actions": [{"type": "button", "action_id": button["action_id"], "block_id": block["block_id"],
                     "value": button["value"] if value is None else value, "action_ts": "1.2"}],
        **changes,
    }
    if drop_user:
        del payload["user"]
    return bot.interactive(payload)


UNREADABLE = "Slack sent a request Rapport could not read"


@pytest.mark.parametrize(("forgery", "said"), [
    ({"drop_user": True}, f"{UNREADABLE} (no user)"),
    ({"user": {"id": ""}}, f"{UNREADABLE} (no user)"),
    ({"user": {"id": "<!channel>"}}, f"{UNREADABLE} (no user)"),
    ({"value": "abc"}, "`abc` is not a change id"),
    ({"value": "99999999999"}, "There is no schedule change #99999999999"),
    ({"value": 7}, f"{UNREADABLE} (a button without its value)"),
    ({"value": "0"}, "`0` is not a change id"),
])
def test_a_forged_button_press_changes_nothing_and_says_why(acme, database, slack, forgery, said):
    before = written(database)
    response = forged_press(acme, announcement(slack), **forgery)
    assert response.status == 200
    [answer] = responses(slack)
    assert answer["response_type"] == "ephemeral"
    assert said in message_text(answer)
    assert change(database, 1).told_at is None
    assert written(database) == before


def test_a_button_press_with_no_user_never_marks_told_with_an_empty_actor(acme, database, slack):
    forged_press(acme, announcement(slack), drop_user=True)
    responses(slack)
    assert all(event.actor_user_id for event in rows(database, AuditEvent))
    assert change(database, 1).told_by is None


def submit_raw_view(bot, view: dict[str, Any]):
    return bot.interactive({"type": "view_submission", "team": {"id": "T0ACME", "domain": "acme-cmo"},
                            "user": {"id": "U0ANA", "username": "ana", "team_id": "T0ACME"},
                            "api_app_id": "A0RAPPORT", "token": "t", "trigger_id": "1.2.3", "view": view})


@pytest.mark.parametrize("damage", [
    lambda view: view.pop("state", None),
    lambda view: view.update(state={"values": "none"}),
    lambda view: view.update(state={"values": {"client": "acme"}}),
    lambda view: view.update(private_metadata="not json"),
    lambda view: view.update(private_metadata="[1, 2]"),
    lambda view: view.update(private_metadata=json.dumps({"surface": "x" * 5000})),
])
def test_a_form_with_missing_or_broken_state_is_refused_in_the_form(acme, database, slack, damage):
    view = {**opened_form(slack, acme.command("log")), "id": "V0FORGED", "hash": "1.a"}
    view["state"] = {"values": {"client": {"client_picker": external_select("acme")},
                                "kind": {"value": {"type": "static_select", "selected_option": {"value": "call"}}},
                                "summary": {"value": text_input("Spoke")},
                                "on": {"value": {"type": "datepicker", "selected_date": "2025-06-02"}}}}
    damage(view)
    before = written(database)
    response = submit_raw_view(acme, view)
    assert response.status == 200
    assert response.json["response_action"] == "errors", response.body
    assert written(database) == before


def test_a_draft_without_its_metadata_is_refused_in_the_form(acme, database, slack):
    acme.command("client set acme shared:<#C0SHARED|acme-shared>")
    press(acme, announcement(slack), "change_draft")
    view, _ = opened_draft(slack)
    for metadata in ("", "{}", '{"change_id": "x"}', '{"change_id": 99999999999}', "nope"):
        response = submit_raw_view(acme, {**view, "id": "V0D", "private_metadata": metadata,
                                          "state": {"values": {"draft": {"value": text_input("Hello")}}}})
        assert response.status == 200
        assert response.json["response_action"] == "errors", (metadata, response.body)
    assert change(database, 1).told_at is None
    assert slack.posted("C0SHARED") == []


@pytest.mark.parametrize(("block_id", "element", "where"), [
    ("owner", user_select("U" + "X" * 99), "owner"),
    ("owner", user_select("<!channel>"), "owner"),
    ("channel", {"type": "conversations_select", "selected_conversation": "<!channel>"}, "channel"),
    ("channel", {"type": "conversations_select", "selected_conversation": "C" + "1" * 60}, "channel"),
])
def test_a_select_value_the_form_never_offered_is_refused_under_its_input(bot, database, slack, block_id, element,
                                                                          where):
    view = opened_form(slack, bot.command("client add"))
    response = bot.submit_view(view, {"name": text_input("Acme Biologics"), block_id: element})
    assert response.json["response_action"] == "errors", response.body
    assert list(response.json["errors"]) == [where]
    assert count(database, Client) == 0


# -- item 10: replayed slash commands -----------------------------------------------------------------------------

def test_a_replayed_slash_command_runs_once(bot, database):
    add_clients(bot)
    body = urlencode({"token": "t", "team_id": "T0ACME", "team_domain": "acme-cmo", "channel_id": "C0GENERAL",
                      "user_id": "U0ANA", "user_name": "ana", "command": "/cmo",
                      "text": "log acme call Agreed the fill slots", "api_app_id": "A0RAPPORT",
                      "response_url": bot.response_url, "trigger_id": "777.1234.replayed"})
    answers = [bot.signed_post(body, "application/x-www-form-urlencoded") for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    assert "Logged for" in message_text(answers[0].json)
    assert all("already handled" in message_text(a.json) for a in answers[1:])
    assert count(database, Interaction) == 1


def test_a_replayed_read_only_command_shows_again_and_writes_nothing(bot, database):
    """`/cmo status` only reads: a replay shows the status again, and no replay guard (no write) is taken."""
    add_clients(bot)
    guards = count(database, ProcessedRequest)
    body = urlencode({"token": "t", "team_id": "T0ACME", "team_domain": "acme-cmo", "channel_id": "C0GENERAL",
                      "user_id": "U0ANA", "user_name": "ana", "command": "/cmo", "text": "status acme",
                      "api_app_id": "A0RAPPORT", "response_url": bot.response_url,
                      "trigger_id": "778.1234.replayed"})
    answers = [bot.signed_post(body, "application/x-www-form-urlencoded") for _ in range(2)]
    assert [a.status for a in answers] == [200, 200]
    assert all("Acme" in message_text(a.json) and "already handled" not in message_text(a.json) for a in answers)
    assert count(database, ProcessedRequest) == guards


def test_only_subcommands_that_only_read_skip_the_replay_guard():
    from bot.commands import REGISTRY

    assert all(REGISTRY.reads_only(text) for text in ("status", "status acme", "STATUS mine", "help log",
                                                      "client list", "promises overdue", "meeting list acme"))
    assert not any(REGISTRY.reads_only(text) for text in ("", "log acme call hi", "client add Acme",
                                                          "promise acme \"CoA\" by:friday", "meeting add acme",
                                                          "statuses", "nonsense words"))


def test_a_command_that_failed_can_be_sent_again(bot, database):
    """A refused command wrote nothing, not even its trigger: the same request is refused the same way."""
    body = urlencode({"team_id": "T0ACME", "user_id": "U0ANA", "command": "/cmo", "channel_id": "C0GENERAL",
                      "text": "log nobody call hello", "response_url": bot.response_url, "trigger_id": "9.9.9"})
    for _ in range(2):
        answer = bot.signed_post(body, "application/x-www-form-urlencoded")
        assert "No client matches `nobody`" in message_text(answer.json)
    assert count(database, ProcessedRequest) == 0


def test_a_command_without_a_trigger_is_refused(bot, database):
    body = urlencode({"team_id": "T0ACME", "user_id": "U0ANA", "command": "/cmo", "text": "client add Acme",
                      "response_url": bot.response_url})
    answer = bot.signed_post(body, "application/x-www-form-urlencoded")
    assert answer.status == 200
    assert "could not read" in message_text(answer.json)
    assert count(database, Client) == 0


# -- item 12: an unexpected error in a modal is shown in the modal ---------------------------------------------

def test_an_unexpected_error_in_a_form_is_shown_in_the_form(bot, database, slack, monkeypatch):
    from bot.commands import REGISTRY

    def broken(*args, **kwargs):
        raise RuntimeError("a defect")

    view = opened_form(slack, bot.command("client add"))
    monkeypatch.setattr(REGISTRY, "execute", broken)
    response = bot.submit_view(view, {"name": text_input("Acme Biologics")})
    assert response.status == 200
    assert response.json["response_action"] == "errors"
    assert "Something went wrong on our side and nothing was saved" in response.json["errors"]["name"]
    assert count(database, Client) == 0


def test_an_unexpected_error_in_a_command_is_answered(bot, database, monkeypatch):
    from bot.commands import REGISTRY

    monkeypatch.setattr(REGISTRY, "execute", lambda *a, **k: 1 / 0)
    response = bot.command("status")
    assert response.status == 200
    assert "Something went wrong on our side" in message_text(response.json)


def test_an_unexpected_error_after_a_button_is_told_through_the_response_url(acme, slack, monkeypatch):
    import handlers.actions

    monkeypatch.setattr(handlers.actions, "mark_change_told", lambda *a, **k: 1 / 0)
    response = press(acme, announcement(slack), "change_told")
    assert (response.status, response.body) == (200, "")
    [answer] = responses(slack)
    assert "Something went wrong on our side" in message_text(answer)


# -- item 13: the client picker reaches every client ------------------------------------------------------------

def test_the_client_picker_reaches_all_110_clients(bot, database, slack):
    with database.transaction() as session:
        for n in range(110):
            session.add(Client(team_id="T0ACME", key=f"client-{n:03d}", name=f"Client {n:03d} Pharma",
                               cadence_days=14, created_by="U0ANA"))
    assert len(bot.suggestions("")) == 100  # Slack's limit for one answer
    assert [o["value"] for o in bot.suggestions("109")] == ["client-109"]
    assert [o["value"] for o in bot.suggestions("CLIENT 10")][:3] == ["client-100", "client-101", "client-102"]
    assert bot.suggestions("no such client") == []
    # Another workspace's picker offers none of them.
    assert bot.suggestions("", team="T0OTHER") == []

    view = opened_form(slack, bot.command("history"))
    response = bot.submit_view(view, {"client": external_select("client-109")})
    assert response.json["response_action"] == "update", response.body
    assert "Client 109 Pharma" in message_text({"blocks": response.json["view"]["blocks"]})


def test_the_client_picker_offers_prefix_matches_first_and_never_archived_clients(bot, database):
    add_clients(bot)
    shown(bot.command('client add "Zeta Acme Holdings" key:zeta'))
    shown(bot.command('client add "Acme Old" key:acme-old'))
    shown(bot.command("client archive acme-old"))
    assert [o["value"] for o in bot.suggestions("acme")] == ["acme", "zeta"]
    assert [o["value"] for o in bot.suggestions("%")] == []


# -- item 5: a database that does not answer in time --------------------------------------------------------------

@pytest.mark.skipif(bool(os.environ.get("RAPPORT_TEST_DATABASE_URL")), reason="SQLite's write lock")
def test_a_command_while_another_process_holds_the_write_lock_is_told_to_try_again(bot, database, database_url):
    path = database_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, timeout=0)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        blocker.execute("INSERT INTO processed_requests (team_id, key, received_at) VALUES ('T0X', 'k', '2026')")
        started = time.monotonic()
        response = bot.command('client add "Acme Biologics"')
        waited = time.monotonic() - started
    finally:
        blocker.rollback()
        blocker.close()
    assert response.status == 200
    assert "did not answer in time" in message_text(response.json) and "try again" in message_text(response.json)
    assert count(database, Client) == 0
    print(f"answered after {waited:.1f}s")  # measured, not asserted: speed belongs in benchmarks/
