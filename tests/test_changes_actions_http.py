"""The buttons on a schedule change's announcement (issue 4): "Mark client told" updates the announcement
in place through the response_url; "Draft message to client" opens a modal whose text, on submit, is posted
to the client's shared (Slack Connect) channel by that explicit action only, and marks the change told.

Button presses are block_actions payloads as Slack posts them, built from the message the bot really posted."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
from typing import Any

import pytest

from bot.runtime import Runtime
from jobs.delay_followups import delay_followups
from tests.commands_support import channel_link, shown, typed, unescape
from tests.slackhttp import message_text, text_input
from tests.test_changes_http import (
    NEW,
    PLANNED,
    REASON,
    TOLD_AT,
    add_clients,
    assert_nothing_raw,
    audit_events,
    buttons,
    change,
    changes,
    counts,
    delay,
    modal_errors,
    outbox,
    posted_text,
    posts,
    updated_view_text,
)

SHARED = "C0SHARED"
INTERNAL = "C0ACMEINT"


# -- helpers ---------------------------------------------------------------------------------------------------

def press(bot, message: dict[str, Any], action_id: str, *, user: str = "U0ANA", team: str = "T0ACME",
          channel: str = INTERNAL, trigger_id: str | None = None):
    """Click the button `action_id` on a message the bot posted, as Slack posts the click."""
    [button] = [b for b in buttons(message) if b["action_id"] == action_id]
    [block] = [b for b in message["blocks"] if b["type"] == "actions" and button in b["elements"]]
    return bot.interactive({
        "type": "block_actions",
        "team": {"id": team, "domain": "acme-cmo"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
        "api_app_id": "A0RAPPORT",
        "token": "legacy-verification-token",
        "trigger_id": trigger_id or bot.next_trigger_id(),  # every click has its own
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": "acme-internal"},
        "message": {"type": "message", "ts": message["ts"], "text": message["text"], "blocks": message["blocks"],
                    "bot_id": "B0RAPPORT", "user": "U0RAPPORT"},
        "state": {"values": {}},
        "response_url": bot.response_url,
        "actions": [{"type": "button", "action_id": action_id, "block_id": block["block_id"],
                     "value": button["value"], "text": button["text"], "action_ts": f"{time.time():.6f}"}],
    })


def responses(slack, count: int = 1) -> list[dict[str, Any]]:
    """What the bot posted to the response_url (the message the button was on, or an ephemeral error)."""
    return [call.args for call in slack.wait_for("response_url", count=count)]


def opened_draft(slack, count: int = 1) -> tuple[dict[str, Any], str]:
    """The draft modal opened by the `count`-th views.open, and the trigger it was opened with."""
    calls = slack.wait_for("views.open", count=count)
    assert len(calls) >= count, "no modal was opened"
    call = calls[count - 1]
    view = call.args["view"]
    return (json.loads(view) if isinstance(view, str) else view), call.args["trigger_id"]


def draft_of(view: dict[str, Any]) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == "draft"]
    return block["element"]["initial_value"]


def submit_draft(bot, view: dict[str, Any], text: str, *, view_id: str = "V0DRAFT1", user: str = "U0ANA",
                 team: str = "T0ACME"):
    return bot.submit_view({**view, "id": view_id}, {"draft": text_input(text)}, user=user, team=team)


def announcement(slack, number: int = 1, channel: str = INTERNAL) -> dict[str, Any]:
    found = posts(slack, channel, number)
    assert len(found) >= number, f"only {len(found)} posts in {channel}"
    return found[number - 1]


def quiet(slack, seconds: float = 0.3) -> None:
    """Let anything the bot would wrongly post arrive before asserting it did not."""
    time.sleep(seconds)


@pytest.fixture
def acme(bot, slack):
    """Acme with #1 Lot 42 fill (logged by bob, owned by ana), its announcement posted."""
    add_clients(bot)
    delay(bot, f'acme Lot 42 fill to:{NEW} from:{PLANNED} reason:"{REASON}"', user="U0BOB")
    announcement(slack)
    return bot


@pytest.fixture
def shared(acme):
    assert "shared channel: none → <#C0SHARED>" in shown(
        acme.command(f"client set acme shared:{channel_link(SHARED, 'acme-shared')}"))
    return acme


# --- "Mark client told" -----------------------------------------------------------------------------------------

def test_mark_client_told_replaces_the_announcement_with_who_told(acme, database, slack):
    message = announcement(slack)
    response = press(acme, message, "change_told", user="U0ANA")
    assert (response.status, response.body) == (200, "")

    [answer] = responses(slack)
    assert answer["replace_original"] is True
    assert answer.get("response_type") != "ephemeral"
    assert [b for b in answer["blocks"] if b["type"] == "actions"] == []
    text = unescape(message_text(answer))
    row = change(database, 1)
    assert f"Client told by <@U0ANA> on {row.told_at:%Y-%m-%d %H:%M} UTC" in text
    # Still the announcement: item, dates, reason, who logged it.
    assert "Schedule change #1* for *Acme Biologics GmbH*: *Lot 42 fill*" in text
    assert "(slips 9 days)" in text and f"*Reason:* {REASON}" in text and "Logged by <@U0BOB>" in text

    assert (row.told_by, row.told_how, row.told_text) == ("U0ANA", None, None)
    [event] = audit_events(database, "change.told")
    assert (event.surface, event.actor_user_id, event.entity_id) == ("button", "U0ANA", 1)
    assert event.before["told_at"] is None and event.after["told_by"] == "U0ANA"
    # The announcement itself now says it: no second message in the channel.
    quiet(slack)
    assert len(slack.posted(INTERNAL)) == 1
    assert "All clients: open schedule changes: none." in shown(acme.command("changes open"))


def test_the_button_on_a_change_already_told_says_when_and_by_whom(acme, database, slack):
    shown(acme.command('told #1 how:"Call with Dr. Roe"', user="U0BOB"))
    before = counts(database)
    press(acme, announcement(slack), "change_told", user="U0ANA")
    [answer] = responses(slack)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    text = unescape(message_text(answer))
    assert ":warning:" in text
    assert TOLD_AT.search(text) and TOLD_AT.search(text).group(1) == "U0BOB"
    assert "(Call with Dr. Roe)" in text
    assert counts(database) == before
    assert change(database, 1).told_by == "U0BOB"


def test_pressing_mark_told_twice_tells_once(acme, database, slack):
    message = announcement(slack)
    press(acme, message, "change_told", user="U0ANA")
    responses(slack)
    press(acme, message, "change_told", user="U0BOB")
    first, second = responses(slack, 2)
    assert first["replace_original"] is True
    assert second["replace_original"] is False and "already marked told" in second["text"]
    assert len(audit_events(database, "change.told")) == 1
    assert change(database, 1).told_by == "U0ANA"


def test_another_workspace_cannot_mark_the_change_with_a_button(acme, database, slack):
    acme.command(f"client add Acme key:acme channel:{channel_link('C0OTHERINT', 'acme')}", team="T0OTHER",
                 user="U0ZED")
    before = counts(database)
    press(acme, announcement(slack), "change_told", user="U0ZED", team="T0OTHER")
    [answer] = responses(slack)
    assert answer["replace_original"] is False
    assert "There is no schedule change #1" in answer["text"]
    assert counts(database) == before
    assert change(database, 1).told_at is None


def test_mark_told_pressed_by_several_people_at_once_tells_once(acme, database, slack):
    message = announcement(slack)
    presses = [threading.Thread(target=press, args=(acme, message, "change_told"), kwargs={"user": f"U0P{n}"})
               for n in range(6)]
    for thread in presses:
        thread.start()
    for thread in presses:
        thread.join()
    answers = responses(slack, 6)
    assert sorted(a["replace_original"] for a in answers) == [False] * 5 + [True]
    [event] = audit_events(database, "change.told")
    assert change(database, 1).told_by == event.actor_user_id
    assert all("already marked told" in a["text"] for a in answers if not a["replace_original"])


# --- "Draft message to client": the modal ------------------------------------------------------------------------

def test_draft_opens_a_modal_with_a_client_facing_draft(shared, database, slack):
    shown(shared.command("log acme note Internal: the filter supplier is unreliable, don't tell Acme"))
    before = counts(database)
    response = press(shared, announcement(slack), "change_draft", trigger_id="trigger.draft.7")
    assert (response.status, response.body) == (200, "")
    view, trigger = opened_draft(slack)
    assert trigger == "trigger.draft.7"
    assert view["callback_id"] == "change_draft"
    assert json.loads(view["private_metadata"]) == {"change_id": 1}
    assert view["submit"]["text"] == "Send"

    draft = draft_of(view)
    assert "Dear Acme Biologics GmbH team" in draft
    assert "Lot 42 fill" in draft
    assert "Wednesday 10 March 2027" in draft and "previously Monday 01 March 2027" in draft
    assert f"Reason: {REASON}" in draft
    # Nothing internal: no people, channels, notes, ids or the bot's own wording.
    for internal in ("U0ANA", "U0BOB", "<@", "<#", INTERNAL, "Internal:", "supplier", "#1", "Logged by",
                     "slips", "Schedule change"):
        assert internal not in draft, internal
    assert "Posted to the client's shared channel <#C0SHARED> when you press Send" in unescape(
        message_text({"blocks": view["blocks"]}))
    assert counts(database) == before
    assert change(database, 1).told_at is None


def test_draft_includes_the_project_but_no_old_date_when_none_was_given(acme, database, slack):
    delay(acme, f'acme Lot 9 to:{NEW} reason:"QC backlog" project:"GT-X"')
    press(acme, announcement(slack, 2), "change_draft")
    view, _ = opened_draft(slack)
    draft = draft_of(view)
    assert "Lot 9 (GT-X)" in draft and "Wednesday 10 March 2027" in draft and "previously" not in draft
    assert json.loads(view["private_metadata"]) == {"change_id": 2}


def test_draft_without_a_shared_channel_says_it_will_not_be_sent(acme, slack):
    press(acme, announcement(slack), "change_draft")
    view, _ = opened_draft(slack)
    assert "has no shared channel: Send records this text and marks the change told; send it to the client " \
           "yourself" in unescape(message_text({"blocks": view["blocks"]}))


def test_draft_of_a_change_already_told_is_an_error_and_opens_nothing(acme, database, slack):
    shown(acme.command("told #1", user="U0BOB"))
    press(acme, announcement(slack), "change_draft")
    [answer] = responses(slack)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert TOLD_AT.search(unescape(message_text(answer)))
    quiet(slack)
    assert slack.calls_to("views.open") == []


def test_another_workspace_cannot_draft_the_change(acme, database, slack):
    press(acme, announcement(slack), "change_draft", user="U0ZED", team="T0OTHER")
    [answer] = responses(slack)
    assert "There is no schedule change #1" in answer["text"]
    quiet(slack)
    assert slack.calls_to("views.open") == []


# --- "Draft message to client": sending ---------------------------------------------------------------------------

def test_sending_the_draft_posts_it_to_the_shared_channel_and_marks_the_change_told(shared, database, slack):
    press(shared, announcement(slack), "change_draft")
    view, _ = opened_draft(slack)
    edited = draft_of(view).replace("Dear Acme Biologics GmbH team", "Dear Dr. Roe")
    response = submit_draft(shared, view, edited + "\n", user="U0ANA")
    assert "Sending it to <#C0SHARED> now, and #1 is marked as told." in updated_view_text(response)

    [sent] = posts(slack, SHARED)
    assert unescape(sent["text"]) == edited
    assert not sent.get("blocks")
    [call] = [c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == SHARED]
    assert call.token == "xoxb-test-token"

    row = change(database, 1)
    assert (row.told_by, row.told_text) == ("U0ANA", edited)
    assert row.told_how == "message sent to the client's shared channel"
    [event] = audit_events(database, "change.told")
    assert (event.surface, event.actor_user_id) == ("draft_to_client", "U0ANA")
    assert event.after["told_text"] == edited and event.before["told_text"] is None

    # The internal channel hears that the loop is closed; the shared channel only ever got the message.
    notice = announcement(slack, 2)
    assert "Client told by <@U0ANA>" in posted_text(notice)
    assert "message sent to the client's shared channel" in posted_text(notice)
    quiet(slack)
    assert slack.posted(SHARED) == [sent]
    [to_client] = [row for row in outbox(database) if row.channel_id == SHARED]
    assert (to_client.source, to_client.status, unescape(to_client.text)) == ("client-message", "sent", edited)
    text = shown(shared.command("changes acme"))
    assert "told by <@U0ANA>" in text


def test_a_slow_slack_does_not_hold_the_answer_and_the_client_gets_the_message_once(shared, database, slack):
    """Slack answering chat.postMessage late must not time the modal out: the answer comes first, the
    post after it, through the outbox, exactly once, and the change is told exactly once."""
    press(shared, announcement(slack), "change_draft")
    view, _ = opened_draft(slack)
    held = slack.hold("chat.postMessage")  # Slack takes its time over the next post (the delivery waits on it)
    try:
        response = submit_draft(shared, view, draft_of(view))
        # Answered while the delivery is still held back by Slack.
        assert "Sending it to <#C0SHARED> now" in updated_view_text(response)
        assert held.wait_arrived()
        assert change(database, 1).told_at is not None
        assert slack.posted(SHARED) == []
        # Sending the same form again, or another draft, posts nothing more.
        assert "already submitted" in updated_view_text(submit_draft(shared, view, draft_of(view)))
        press(shared, announcement(slack), "change_draft")
        assert "already marked told" in message_text(responses(slack)[-1])
    finally:
        held.release()
    [sent] = posts(slack, SHARED)
    assert unescape(sent["text"]) == draft_of(view)
    quiet(slack)
    assert len(slack.posted(SHARED)) == 1
    assert len(audit_events(database, "change.told")) == 1


def test_sending_the_draft_without_a_shared_channel_records_the_text_and_says_send_it_yourself(acme, database,
                                                                                              slack):
    press(acme, announcement(slack), "change_draft")
    view, _ = opened_draft(slack)
    response = submit_draft(acme, view, "Dear Dr. Roe, Lot 42 moves to 10 March.", user="U0BOB")
    assert "Marked #1 as told with this text: send it to the client yourself." in updated_view_text(response)
    row = change(database, 1)
    assert (row.told_by, row.told_text) == ("U0BOB", "Dear Dr. Roe, Lot 42 moves to 10 March.")
    assert row.told_how == "drafted in Rapport; to be sent outside Slack"
    assert audit_events(database, "change.told")[0].surface == "draft_to_client"
    announcement(slack, 2)
    quiet(slack)
    assert {c.args["channel"] for c in slack.calls_to("chat.postMessage")} == {INTERNAL}


def test_an_empty_draft_is_refused_under_the_input(shared, database, slack):
    press(shared, announcement(slack), "change_draft")
    view, _ = opened_draft(slack)
    before = counts(database)
    errors = modal_errors(submit_draft(shared, view, "  \n "))
    assert list(errors) == ["draft"] and "Write the message" in errors["draft"]
    assert counts(database) == before
    quiet(slack)
    assert slack.posted(SHARED) == []


def test_a_draft_for_a_change_told_meanwhile_is_not_sent(shared, database, slack):
    press(shared, announcement(slack), "change_draft")
    view, _ = opened_draft(slack)
    shown(shared.command('told #1 how:"Phoned Dr. Roe"', user="U0BOB"))
    before = counts(database)
    errors = modal_errors(submit_draft(shared, view, draft_of(view)))
    assert list(errors) == ["draft"]
    assert TOLD_AT.search(errors["draft"]) and "U0BOB" in errors["draft"]
    assert counts(database) == before
    assert change(database, 1).told_text is None
    quiet(slack)
    assert slack.posted(SHARED) == []


def test_when_slack_refuses_the_message_the_change_opens_again_and_sending_again_works(shared, database, slack):
    press(shared, announcement(slack), "change_draft")
    view, _ = opened_draft(slack)
    slack.fail("chat.postMessage", error="channel_not_found")
    assert "Sending it to <#C0SHARED>" in updated_view_text(submit_draft(shared, view, draft_of(view)))

    # The owner hears of it in the internal channel, with the buttons to try again; the change is open again.
    notices = [m for m in posts(slack, INTERNAL, 3) if "could not be posted" in posted_text(m)]
    assert len(notices) == 1, [posted_text(m) for m in slack.posted(INTERNAL)]
    assert "<@U0ANA>" in posted_text(notices[0]) and "channel_not_found" in posted_text(notices[0])
    assert change(database, 1).told_at is None
    reopened = audit_events(database, "change.reopen")
    assert [(e.actor_user_id, e.surface, e.after["told_at"]) for e in reopened] == [("rapport", "delivery", None)]
    assert slack.posted(SHARED) == []

    # Sent again from the notice's button once Slack is fine: delivered once, told once more.
    press(shared, notices[0], "change_draft")
    again, _ = opened_draft(slack, 2)
    assert "Sending it to" in updated_view_text(submit_draft(shared, again, draft_of(again), view_id="V0DRAFT2"))
    [sent] = posts(slack, SHARED)
    assert unescape(sent["text"]) == draft_of(again)
    assert change(database, 1).told_text == draft_of(again)
    assert len(audit_events(database, "change.told")) == 2


def test_the_draft_submitted_twice_is_posted_once(shared, database, slack):
    press(shared, announcement(slack), "change_draft")
    view, _ = opened_draft(slack)
    assert "Sending it to" in updated_view_text(submit_draft(shared, view, draft_of(view)))
    assert "already submitted" in updated_view_text(submit_draft(shared, view, draft_of(view)))
    posts(slack, SHARED)
    quiet(slack)
    assert len(slack.posted(SHARED)) == 1
    assert len(audit_events(database, "change.told")) == 1


def test_two_drafts_sent_at_once_reach_the_client_once(shared, database, slack):
    for _ in range(2):
        press(shared, announcement(slack), "change_draft")
    (first, _), (second, _) = opened_draft(slack, 1), opened_draft(slack, 2)
    slack.slow("chat.postMessage", 0.5)  # the first post takes a while: the second send comes meanwhile
    results: list = [None, None]

    def send(index: int, view: dict, user: str) -> None:
        results[index] = submit_draft(shared, view, f"Message from {user}", view_id=f"V0DRAFT{index}", user=user)

    senders = [threading.Thread(target=send, args=(0, first, "U0ANA")),
               threading.Thread(target=send, args=(1, second, "U0BOB"))]
    for thread in senders:
        thread.start()
        time.sleep(0.1)
    for thread in senders:
        thread.join()
    [sent] = posts(slack, SHARED)
    [event] = audit_events(database, "change.told")
    row = change(database, 1)
    assert row.told_text == unescape(sent["text"]) == f"Message from {row.told_by}"
    assert event.actor_user_id == row.told_by
    outcomes = sorted(r.json["response_action"] for r in results)
    assert outcomes == ["errors", "update"]


def test_another_workspace_cannot_send_a_draft_for_the_change(shared, database, slack):
    press(shared, announcement(slack), "change_draft")
    view, _ = opened_draft(slack)
    before = counts(database)
    errors = modal_errors(submit_draft(shared, view, "Hello", user="U0ZED", team="T0OTHER"))
    assert "There is no schedule change #1" in errors["draft"]
    assert counts(database) == before
    quiet(slack)
    assert slack.posted(SHARED) == []


def test_the_draft_is_escaped_when_posted_but_kept_as_written(bot, database, slack):
    add_clients(bot)
    bot.command(f"client set acme shared:{channel_link(SHARED, 'acme-shared')}")
    reason = "<!channel>" + typed(" R&D found <particles> & retested")
    delay(bot, f'acme "{typed("Lot <42> & co")}" to:{NEW} reason:"{reason}"')
    message = announcement(slack)
    assert_nothing_raw(message, "<!channel>", "R&D", "<particles>", "<42>")

    press(bot, message, "change_draft")
    view, _ = opened_draft(slack)
    draft = draft_of(view)  # plain text in an input: shown literally, so kept as typed
    assert "Lot <42> & co" in draft and "Reason: <!channel> R&D found <particles> & retested" in draft
    assert_nothing_raw(view, "<!channel>", "R&D", "<42>")

    submit_draft(bot, view, draft + " <!here>")
    [sent] = posts(slack, SHARED)
    assert "<!channel>" not in sent["text"] and "<!here>" not in sent["text"] and "R&D" not in sent["text"]
    assert "&lt;!channel&gt; R&amp;D" in sent["text"]
    assert unescape(sent["text"]) == draft + " <!here>"
    assert change(database, 1).told_text == draft + " <!here>"


# --- the shared channel only ever gets what a person sent -----------------------------------------------------------

def second_weekday_after(today: dt.date) -> dt.datetime:
    """14:00 UTC on the second weekday after `today`: more than one business day after anything logged now."""
    day, weekdays = today, 0
    while weekdays < 2:
        day += dt.timedelta(days=1)
        weekdays += day.weekday() < 5
    return dt.datetime.combine(day, dt.time(14, 0), tzinfo=dt.UTC)


def test_nothing_internal_reaches_the_shared_channel(shared, database, slack, settings, monkeypatch):
    # More changes and every way of closing them: typed, button, follow-ups, draft.
    delay(shared, f'acme "PPQ batch 3" to:{NEW} from:{PLANNED} reason:"Column resin late"')
    delay(shared, 'acme Lot 42 fill to:2027-03-20 reason:"Second filter failure"')
    delay(shared, f'acme Stability pull to:{NEW} reason:"Chamber excursion"')
    announcement(slack, 4)
    shown(shared.command('told #2 how:"Call"'))
    press(shared, announcement(slack), "change_told")
    responses(slack)

    # The follow-ups job a couple of business days later: nudges in the internal channel, escalations to managers.
    runtime = Runtime.create(dataclasses.replace(settings, managers_channel="C0MANAGERS"), database,
                             per_channel_interval=0.0)
    result = delay_followups(runtime, now=second_weekday_after(dt.datetime.now(dt.UTC).date()))
    assert result.queued == 4, result.summary()  # #3 and #4: a nudge and an escalation each
    while runtime.worker.deliver(max_seconds=10).skipped:
        time.sleep(0.1)
    nudges = [m for m in slack.posted(INTERNAL) if "has not been told to the client" in posted_text(m)]
    assert sorted(m["blocks"][1]["elements"][0]["value"] for m in nudges) == ["3", "4"]
    assert len(slack.posted("C0MANAGERS")) == 2

    # A nudge's own button drafts the message; only that is posted to the shared channel.
    [nudge_on_3] = [m for m in nudges if buttons(m)[0]["value"] == "3"]
    press(shared, nudge_on_3, "change_draft")
    view, _ = opened_draft(slack)
    assert json.loads(view["private_metadata"]) == {"change_id": 3}
    submit_draft(shared, view, draft_of(view))
    shown(shared.command("told #4"))
    shown(shared.command("changes"))
    shown(shared.command("status acme"))

    [sent] = posts(slack, SHARED)
    quiet(slack, 1.5)
    assert slack.posted(SHARED) == [sent]
    assert unescape(sent["text"]) == draft_of(view)
    assert change(database, 3).told_text == draft_of(view)
    assert [row.source for row in outbox(database) if row.channel_id == SHARED] == ["client-message"]
    assert all(c.told_at is not None for c in changes(database))
    everything_else = [m for channel in (INTERNAL, "C0MANAGERS") for m in slack.posted(channel)]
    assert everything_else and all(m["text"] != sent["text"] for m in everything_else)
