"""Promises end to end (issue 12): `/cmo promise`, `/cmo promise move`, `/cmo done`, `/cmo promises`, their forms,
promises in `/cmo status`, in the health and in `/cmo history`. Signed slash commands and modal submissions into
the real endpoint; what the user reads, and the rows written (or not)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.blocks import Message
from bot.commands import REGISTRY, OpenModal
from bot.commands.promises import AddPromise, MovePromise
from bot.db.models import AuditEvent, OutboxMessage, OutboxStatus, Promise, PromiseMove
from bot.errors import UserError
from bot.services.outbox import enqueue
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
    today_utc,
    typed,
)
from tests.slackhttp import date_picker, external_select, static_select, text_input, user_select

ANA, BOB = mention("U0ANA", "ana"), mention("U0BOB", "bob")
FORMS = {
    "promise": '/cmo promise <client> "<what was promised>" due:<date> [owner:@user]',
    "promise move": '/cmo promise move #<id> to:<date> reason:"<why>"',
    "promises": "/cmo promises [<client>|mine|overdue]",
    "done": '/cmo done #<id> [note:"<note>"]',
}
WHAT = "Send the CoA for lot 42"


def day(date: dt.date) -> str:
    return f"{date:%a %Y-%m-%d}"


def ahead(days: int) -> dt.date:
    return today_utc() + dt.timedelta(days=days)


@pytest.fixture
def acme(bot):
    for text in (f'client add "Acme Biologics GmbH" key:acme owner:{ANA} '
                 f'channel:{channel_link("C0ACMEINT", "acme-internal")}',
                 f'client add "Beta Labs" key:beta owner:{BOB}'):
        assert "Added" in shown(bot.command(text))
    return bot


def promise(bot, text: str, **kwargs) -> str:
    text = shown(bot.command("promise " + text, **kwargs))
    assert "Recorded promise" in text, text
    return text


def promises(database) -> list[Promise]:
    return rows(database, Promise)


def moves(database) -> list[PromiseMove]:
    return rows(database, PromiseMove)


def events(database, action: str) -> list[AuditEvent]:
    return rows(database, AuditEvent, AuditEvent.action == action)


def counts(database) -> dict[str, int]:
    return row_counts(database, Promise, PromiseMove, AuditEvent, OutboxMessage)


def set_due(database, promise_id: int, due_on: dt.date) -> None:
    """Make a promise overdue (or due at any date): as if recorded days ago."""
    with database.transaction() as session:
        session.execute(update(Promise).where(Promise.id == promise_id).values(due_on=due_on))


def queue(database, key: str) -> None:
    with database.transaction() as session:
        enqueue(session, team_id="T0ACME", dedupe_key=key, channel_id="C0ACMEINT", message=Message(text="reminder"),
                source="promise-reminders")


def outbox_status(database, key: str) -> str:
    with database.transaction() as session:
        return session.scalar(select(OutboxMessage.status).where(OutboxMessage.dedupe_key == key))


# --- /cmo promise ---------------------------------------------------------------------------------------------

def test_promise_is_recorded_quietly_with_its_owner_defaulting_to_who_recorded_it(acme, database, slack):
    due = ahead(10)
    text = promise(acme, f'acme "{WHAT}" due:{due}', user="U0BOB")
    assert f"Recorded promise *#1* to *Acme Biologics GmbH*: *{WHAT}*" in text
    assert f"Due *{day(due)}* · owner <@U0BOB>" in text
    assert "`/cmo done #1`" in text and "reminded in the client's internal channel" in text
    [row] = promises(database)
    assert (row.what, row.due_on, row.owner_user_id, row.created_by, row.surface, row.team_id) == (
        WHAT, due, "U0BOB", "U0BOB", "slash_command", "T0ACME")
    assert (row.done_at, row.done_by, row.done_note) == (None, None, None)
    [event] = events(database, "promise.add")
    assert (event.actor_user_id, event.entity_type, event.entity_id, event.client_id) == (
        "U0BOB", "promises", 1, row.client_id)
    assert event.before is None and event.after["what"] == WHAT and event.after["due_on"] == due.isoformat()
    assert counts(database)["outbox"] == 0  # logged quietly: the reminders post, not the promise
    assert slack.calls_to("chat.postMessage") == []


def test_promise_with_an_owner_and_a_relative_date(acme, database):
    text = promise(acme, f'acme "{WHAT}" due:+3d owner:{BOB}')
    assert f"Due *{day(ahead(3))}* · owner <@U0BOB>" in text
    [row] = promises(database)
    assert (row.owner_user_id, row.created_by, row.due_on) == ("U0BOB", "U0ANA", ahead(3))


def test_promise_for_a_client_without_internal_channel_says_no_reminders(acme, database):
    text = promise(acme, f'beta "{WHAT}" due:tomorrow')
    assert "No reminders: Beta Labs has no internal channel (`/cmo client set beta channel:#channel`)" in text


def test_promise_due_today_is_allowed(acme, database):
    promise(acme, f'acme "{WHAT}" due:today')
    assert promises(database)[0].due_on == today_utc()


@pytest.mark.parametrize(("command", "fragments", "form"), [
    (f'acme "{WHAT}" due:yesterday', ["in the past"], "promise"),
    (f'acme "{WHAT}" due:{ahead(-30)}', ["in the past"], "promise"),
    (f'acme "{WHAT}"', ["due:"], "promise"),
    ('acme "" due:tomorrow', ["say what was promised"], "promise"),
    ("acme due:tomorrow", ["say what was promised"], "promise"),
    (f'acme "{"x" * 501}" due:tomorrow', ["501 characters"], "promise"),
    (f'acme "{WHAT}" due:someday', ["not a date"], "promise"),
    (f'acme "{WHAT}" due:tomorrow owner:ana', ["not a Slack user"], "promise"),
    (f'acme "{WHAT}" due:tomorrow dew:fri', ["`dew:` is not an option"], "promise"),
    (f'zeta "{WHAT}" due:tomorrow', ["zeta"], None),
])
def test_bad_promise_is_refused_and_nothing_is_written(acme, database, command, fragments, form):
    before = counts(database)
    assert_error(acme.command("promise " + command), *fragments, form=FORMS[form] if form else None)
    assert counts(database) == before


def test_promise_text_with_markup_is_stored_as_typed_and_shown_escaped(acme, database):
    nasty = "Call <!channel> & <!here> about R&D <b>"
    response = acme.command(typed(f'promise acme "{nasty}" due:tomorrow'))
    assert nasty in shown(response)
    assert_no_raw_markup(response, "<!channel>", "<!here>", "<b>")
    assert promises(database)[0].what == nasty
    for command in ("promises", "promises acme", "status acme", "history acme"):
        listed = acme.command(command)
        assert nasty in shown(listed), command
        assert_no_raw_markup(listed, "<!channel>", "<!here>", "<b>")


def test_promise_bare_opens_its_form_and_the_form_records_it(acme, database, slack):
    view = opened_form(slack, acme.command("promise"))
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == ["client", "what", "due", "owner"]
    assert counts(database)["promises"] == 0
    due = ahead(5)
    response = acme.submit_view(view, {"client": external_select("acme"), "what": text_input(WHAT),
                                       "due": date_picker(due.isoformat()), "owner": user_select("U0BOB")})
    assert response.status == 200 and response.json["response_action"] == "update", response.body
    [row] = promises(database)
    assert (row.what, row.due_on, row.owner_user_id, row.surface) == (WHAT, due, "U0BOB", "modal")


def test_promise_form_with_a_past_date_shows_the_error_at_the_date(acme, database, slack):
    view = opened_form(slack, acme.command("promise"))
    response = acme.submit_view(view, {"client": external_select("acme"), "what": text_input(WHAT),
                                       "due": date_picker(ahead(-1).isoformat())})
    assert response.json["response_action"] == "errors"
    assert "in the past" in response.json["errors"]["due"]
    assert counts(database)["promises"] == 0


# --- the registry: `promise` and `promise move` -----------------------------------------------------------------

def test_a_client_called_like_no_member_goes_to_promise_and_move_to_the_member(acme, database):
    promise(acme, f'acme "{WHAT}" due:{ahead(10)}')
    assert "moved" in shown(acme.command(f'promise move #1 to:{ahead(12)} reason:"QC slipped"'))
    assert_error(acme.command("promise move"), "which promise", form=FORMS["promise move"])


def test_the_registry_tells_promise_from_promise_move():
    assert isinstance(REGISTRY.parse('promise acme "x" due:fri'), AddPromise)
    assert isinstance(REGISTRY.parse('promise move #1 to:fri reason:"why"'), MovePromise)
    assert isinstance(REGISTRY.parse('PROMISE MOVE #1 to:fri reason:"why"'), MovePromise)
    quoted = REGISTRY.parse('promise "move" "x" due:fri')  # a client called "move", quoted
    assert isinstance(quoted, AddPromise) and quoted.client == "move" and quoted.what == "x"
    assert REGISTRY.parse("promise") == OpenModal("promise")
    with pytest.raises(UserError) as refused:  # a group without a subcommand of its own still wants a member
        REGISTRY.parse("client")
    assert "client add" in refused.value.usage


def test_help_on_promises(acme):
    for topic in ("promise", "promises", "done"):
        text = shown(acme.command(f"help {topic}"))
        for form in FORMS.values():
            assert form in text, (topic, form)
        assert "amber (red after a week)" in text


# --- /cmo done ------------------------------------------------------------------------------------------------

def test_done_marks_it_kept_and_withdraws_its_queued_reminders(acme, database):
    due = ahead(10)
    promise(acme, f'acme "{WHAT}" due:{due}')
    queue(database, f"promise:1:due:{due}")
    queue(database, f"promise:1:overdue:{due}")
    text = shown(acme.command('done #1 note:"Sent by email to Dr. Roe"', user="U0BOB"))
    assert f"Promise *#1* to *Acme Biologics GmbH* (*{WHAT}*) is done." in text
    assert "Note: Sent by email to Dr. Roe" in text
    [row] = promises(database)
    assert (row.done_by, row.done_note) == ("U0BOB", "Sent by email to Dr. Roe") and row.done_at is not None
    assert outbox_status(database, f"promise:1:due:{due}") == OutboxStatus.CANCELLED
    assert outbox_status(database, f"promise:1:overdue:{due}") == OutboxStatus.CANCELLED
    [event] = events(database, "promise.done")
    assert event.before["done_at"] is None and event.after["done_by"] == "U0BOB"


def test_done_twice_says_when_and_by_whom_and_writes_nothing(acme, database):
    promise(acme, f'acme "{WHAT}" due:tomorrow')
    shown(acme.command("done 1", user="U0BOB"))
    before = counts(database)
    text = assert_error(acme.command("done #1"), "already marked done on", form=FORMS["done"])
    assert "by <@U0BOB>" in text
    assert counts(database) == before


@pytest.mark.parametrize(("command", "fragment"), [
    ("done #7", "There is no promise #7"),
    ("done #x", "is not a promise id"),
    ("done #1 #2", "which promise"),
    ("done #1 how:x", "`how:` is not an option"),
])
def test_done_bad_input(acme, database, command, fragment):
    promise(acme, f'acme "{WHAT}" due:tomorrow')
    before = counts(database)
    assert_error(acme.command(command), fragment, form=FORMS["done"])
    assert counts(database) == before


def test_done_on_another_workspaces_promise_is_unknown(acme, database):
    promise(acme, f'acme "{WHAT}" due:tomorrow')
    assert_error(acme.command("done #1", team="T0OTHER"), "There is no promise #1", form=FORMS["done"])
    assert promises(database)[0].done_at is None


def test_done_bare_opens_a_form_of_the_open_promises(acme, database, slack):
    assert_error(acme.command("done"), "No promise is open", form=FORMS["done"])
    promise(acme, f'acme "{WHAT}" due:tomorrow')
    promise(acme, 'beta "Quote for 2 extra batches" due:+4d')
    shown(acme.command("done #2"))
    view = opened_form(slack, acme.command("done"))
    [select_block] = [b for b in view["blocks"] if b["block_id"] == "promise"]
    assert [o["value"] for o in select_block["element"]["options"]] == ["1"]
    response = acme.submit_view(view, {"promise": static_select("1"), "note": text_input("Emailed")})
    assert response.json["response_action"] == "update", response.body
    row = promises(database)[0]
    assert (row.done_by, row.done_note) == ("U0ANA", "Emailed")


# --- /cmo promise move ------------------------------------------------------------------------------------------

def test_move_records_the_move_with_its_reason_and_withdraws_old_reminders(acme, database):
    first, second, third = ahead(5), ahead(9), ahead(14)
    promise(acme, f'acme "{WHAT}" due:{first}')
    queue(database, f"promise:1:due:{first}")
    text = shown(acme.command(f'promise move #1 to:{second} reason:"QC release slipped"', user="U0BOB"))
    assert f"moved: *{day(first)}* → *{day(second)}*" in text and "*Reason:* QC release slipped" in text
    assert outbox_status(database, f"promise:1:due:{first}") == OutboxStatus.CANCELLED
    [move] = moves(database)
    assert (move.old_due_on, move.new_due_on, move.reason, move.moved_by) == (first, second, "QC release slipped",
                                                                              "U0BOB")
    assert promises(database)[0].due_on == second
    [event] = events(database, "promise.move")
    assert (event.before["due_on"], event.after["due_on"], event.after["move_reason"]) == (
        first.isoformat(), second.isoformat(), "QC release slipped")
    text = shown(acme.command(f'promise move 1 to:{third} reason:"Courier strike"'))
    assert "moved twice" in text
    listed = shown(acme.command("promises acme"))
    assert "moved twice, last: _Courier strike_" in listed
    history = shown(acme.command("history acme"))
    assert f"moved promise #1 from {second} to {third}; reason: Courier strike" in history
    assert f"recorded promise #1: {WHAT}, due {first}" in history


@pytest.mark.parametrize(("command", "fragment"), [
    ('promise move #1 to:{due} reason:"x"', "nothing moves"),
    ('promise move #1 to:yesterday reason:"x"', "in the past"),
    ("promise move #1 to:{later}", "reason is required"),
    ('promise move #1 to:{later} reason:"   "', "reason"),
    ('promise move #1 reason:"x"', "`to:`"),
    ('promise move #9 to:{later} reason:"x"', "There is no promise #9"),
])
def test_bad_move_is_refused_and_nothing_is_written(acme, database, command, fragment):
    due = ahead(5)
    promise(acme, f'acme "{WHAT}" due:{due}')
    before = counts(database)
    assert_error(acme.command(command.format(due=due, later=ahead(8))), fragment, form=FORMS["promise move"])
    assert counts(database) == before
    assert promises(database)[0].due_on == due


def test_a_done_promise_does_not_move(acme, database):
    promise(acme, f'acme "{WHAT}" due:tomorrow')
    shown(acme.command("done #1"))
    before = counts(database)
    assert_error(acme.command(f'promise move #1 to:{ahead(8)} reason:"late"'), "already marked done",
                 form=FORMS["promise move"])
    assert counts(database) == before


# --- /cmo promises ----------------------------------------------------------------------------------------------

def test_promises_lists_open_ones_overdue_first(acme, database):
    promise(acme, 'acme "Later thing" due:+20d')
    promise(acme, 'beta "Quote for 2 extra batches" due:+4d owner:' + BOB)
    promise(acme, 'acme "Long overdue" due:+1d')
    promise(acme, 'acme "Kept already" due:+2d')
    shown(acme.command("done #4"))
    set_due(database, 3, ahead(-3))
    text = shown(acme.command("promises"))
    assert "All clients: open promises" in text
    assert "Kept already" not in text
    order = [text.index(what) for what in ("Long overdue", "Quote for 2 extra batches", "Later thing")]
    assert order == sorted(order)
    assert "*#3* *Acme Biologics GmbH* · *Long overdue*" in text
    assert ":warning: *overdue 3 days*" in text

    mine = shown(acme.command("promises mine", user="U0BOB"))
    assert "My open promises" in mine and "Quote for 2 extra batches" in mine and "Later thing" not in mine

    overdue = shown(acme.command("promises overdue"))
    assert "Long overdue" in overdue and "Later thing" not in overdue and "Quote" not in overdue

    beta = shown(acme.command("promises beta"))
    assert "Beta Labs: open promises" in beta and "Quote for 2 extra batches" in beta and "Later" not in beta
    assert "Nobody" not in beta


def test_promises_of_nothing_says_none(acme):
    assert "All clients: open promises: none." in shown(acme.command("promises"))
    assert_error(acme.command("promises zeta"), "zeta", form=None)


def test_due_today_is_not_overdue(acme, database):
    promise(acme, f'acme "{WHAT}" due:today')
    assert "none" in shown(acme.command("promises overdue"))
    assert "overdue" not in shown(acme.command("promises acme")).split("\n", 1)[1].replace("0 overdue", "")


# --- health, status and history ---------------------------------------------------------------------------------

def test_an_overdue_promise_makes_the_client_amber_then_red_after_a_week(acme, database):
    acme.command("log acme call Weekly call")
    promise(acme, f'acme "{WHAT}" due:tomorrow')
    status = shown(acme.command("status acme"))
    assert "Open promises" in status and f"`#1` {WHAT} — due {day(ahead(1))} · owner <@U0ANA>" in status
    assert "green" in status

    set_due(database, 1, ahead(-2))
    status = shown(acme.command("status acme"))
    assert "amber" in status and "1 promise overdue (by 2 days)" in status
    assert ":warning: overdue 2 days" in status
    assert "amber" in shown(acme.command("status"))

    set_due(database, 1, ahead(-8))
    assert "red" in shown(acme.command("status acme"))
    portfolio = shown(acme.command("status"))
    assert "red" in portfolio and "1 promise overdue (by 8 days)" in portfolio

    shown(acme.command("done #1"))
    status = shown(acme.command("status acme"))
    assert "green" in status and "promise overdue" not in status


def test_help_health_says_overdue_promises_count(acme):
    text = shown(acme.command("help health"))
    assert "a promise overdue" in text and "a promise overdue for more than a week" in text


def test_history_words_promise_events(acme, database):
    promise(acme, f'acme "{WHAT}" due:tomorrow owner:{BOB}')
    shown(acme.command('done #1 note:"Emailed"'))
    text = shown(acme.command("history acme"))
    assert f"recorded promise #1: {WHAT}, due {ahead(1)}, owner <@U0BOB>" in text
    assert "marked promise #1 done (Emailed)" in text


def test_replies_are_ephemeral(acme):
    promise(acme, f'acme "{WHAT}" due:tomorrow')
    for command in ("promises", "done #1"):
        reply(acme.command(command))
