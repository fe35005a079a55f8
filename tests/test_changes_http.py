"""Schedule changes end to end (issue 4): `/cmo delay`, `/cmo told`, `/cmo changes`, their modals, the
announcement in the client's internal channel, open changes in `/cmo status`. Signed slash commands and
modal submissions into the real endpoint; what the user reads, what is posted, and the rows written (or not)."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db.models import AuditEvent, OutboxMessage, ProcessedRequest, ScheduleChange
from tests.commands_support import (
    assert_error,
    assert_no_raw_markup,
    channel_link,
    mention,
    mrkdwn_texts,
    opened_form,
    reply,
    shown,
    typed,
    unescape,
)
from tests.slackhttp import date_picker, message_text, static_select, text_input

ANA = mention("U0ANA", "ana")
BOB = mention("U0BOB", "bob")
FORMS = {
    "delay": '/cmo delay <client> <item ...> to:<date> [from:<date>] reason:"<why>" [project:<name>]',
    "told": '/cmo told #<id> [how:"<how the client was told>"]',
    "changes": "/cmo changes [<client>] [open]",
}
DATE_FORMS = "2026-12-03, today, tomorrow, yesterday, a weekday (fri), +3d or +2w"
PLANNED, NEW, LATER = dt.date(2027, 3, 1), dt.date(2027, 3, 10), dt.date(2027, 3, 15)  # Mon, Wed, Mon
REASON = "Filter integrity test failed"
TOLD_AT = re.compile(r"already marked told on \d{4}-\d\d-\d\d \d\d:\d\d UTC by <@(U0[A-Z]+)>")


# -- helpers (also used by tests/test_changes_actions_http.py) -------------------------------------------------

def add_clients(bot) -> None:
    """Acme Biologics GmbH (`acme`, owner ana, internal #acme-internal) and Beta Labs (`beta`, owner bob)."""
    for text in (f'client add "Acme Biologics GmbH" key:acme owner:{ANA} '
                 f'channel:{channel_link("C0ACMEINT", "acme-internal")} cadence:2w',
                 f'client add "Beta Labs" key:beta owner:{BOB} channel:{channel_link("C0BETAINT", "beta-internal")}'):
        assert "Added" in shown(bot.command(text))


def delay(bot, text: str, **kwargs) -> str:
    """`/cmo delay <text>` that must succeed: what the user reads."""
    text = shown(bot.command("delay " + text, **kwargs))
    assert "Recorded schedule change" in text, text
    return text


def changes(database, team: str = "T0ACME") -> list[ScheduleChange]:
    with database.transaction() as session:
        return list(session.scalars(select(ScheduleChange).where(ScheduleChange.team_id == team)
                                    .order_by(ScheduleChange.id)))


def change(database, change_id: int) -> ScheduleChange:
    with database.transaction() as session:
        return session.get(ScheduleChange, change_id)


def audit_events(database, action: str | None = None, team: str = "T0ACME") -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.team_id == team)
    if action:
        query = query.where(AuditEvent.action == action)
    with database.transaction() as session:
        return list(session.scalars(query.order_by(AuditEvent.id)))


def outbox(database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def counts(database) -> dict[str, int]:
    """Rows in the tables a schedule change writes."""
    with database.transaction() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (ScheduleChange, AuditEvent, OutboxMessage, ProcessedRequest)}


def posts(slack, channel: str, count: int = 1, timeout: float = 8.0) -> list[dict[str, Any]]:
    """The messages posted in `channel`, once there are at least `count` (or fewer at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        found = slack.posted(channel)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def posted_text(message: dict[str, Any]) -> str:
    """A posted message as its reader sees it (Slack's entities rendered)."""
    return unescape(message_text(message))


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [element for block in message.get("blocks") or [] if block["type"] == "actions"
            for element in block["elements"]]


def assert_nothing_raw(payload: dict[str, Any], *raw: str) -> None:
    for text in mrkdwn_texts(payload):
        for fragment in raw:
            assert fragment not in text, f"{fragment!r} reached Slack unescaped: {text!r}"


def day(date: dt.date) -> str:
    return f"{date:%a %Y-%m-%d}"


def inputs(view: dict) -> dict[str, dict]:
    return {block["block_id"]: block["element"] for block in view["blocks"] if block["type"] == "input"}


def optional_inputs(view: dict) -> set[str]:
    return {block["block_id"] for block in view["blocks"] if block["type"] == "input" and block.get("optional")}


def modal_errors(response) -> dict[str, str]:
    assert response.status == 200, response.body
    assert response.json["response_action"] == "errors", response.json
    return response.json["errors"]


def updated_view_text(response) -> str:
    assert response.status == 200, response.body
    assert response.json["response_action"] == "update", response.json
    return unescape(message_text({"blocks": response.json["view"]["blocks"]}))


@pytest.fixture
def acme(bot):
    add_clients(bot)
    return bot


# --- /cmo delay ---------------------------------------------------------------------------------------------

def test_delay_records_the_change_and_says_where_it_was_announced(acme, database):
    text = delay(acme, f'acme Lot 42 fill to:{NEW} from:{PLANNED} reason:"{REASON}"', user="U0BOB")
    assert "Recorded schedule change *#1* for *Acme Biologics GmbH*: *Lot 42 fill*" in text
    assert f"*{day(PLANNED)}* → *{day(NEW)}* (slips 9 days)" in text
    assert "Announced in <#C0ACMEINT>." in text
    assert "`/cmo told #1`" in text

    [row] = changes(database)
    assert (row.item, row.old_date, row.new_date, row.reason) == ("Lot 42 fill", PLANNED, NEW, REASON)
    assert (row.logged_by, row.surface, row.team_id, row.project) == ("U0BOB", "slash_command", "T0ACME", None)
    assert (row.told_at, row.told_by, row.told_how, row.told_text) == (None, None, None, None)
    assert row.slip_days == 9

    [event] = audit_events(database, "change.record")
    assert (event.actor_user_id, event.surface, event.entity_type, event.entity_id) == (
        "U0BOB", "slash_command", "schedule_changes", row.id)
    assert event.client_id == row.client_id and event.before is None
    assert event.after == {"item": "Lot 42 fill", "project": None, "old_date": "2027-03-01",
                           "new_date": "2027-03-10", "reason": REASON, "told_at": None, "told_by": None,
                           "told_how": None, "told_text": None}

    [queued] = outbox(database)
    assert (queued.channel_id, queued.dedupe_key, queued.team_id) == ("C0ACMEINT", "change:1:announce", "T0ACME")


def test_the_change_is_announced_at_once_in_the_internal_channel(acme, slack):
    acme.command(f'delay acme Lot 42 fill to:{NEW} from:{PLANNED} reason:"{REASON}"', user="U0BOB")
    [call] = slack.wait_for("chat.postMessage")
    assert call.args["channel"] == "C0ACMEINT"
    [message] = posts(slack, "C0ACMEINT")
    text = posted_text(message)
    assert "Schedule change #1* for *Acme Biologics GmbH*: *Lot 42 fill*" in text
    assert f"*{day(PLANNED)}* → *{day(NEW)}* (slips 9 days)" in text
    assert f"*Reason:* {REASON}" in text
    assert "Logged by <@U0BOB>." in text
    assert "<@U0ANA>, please tell the client and mark it told." in text  # the owner is mentioned
    assert "moved" not in text  # first time this item moves
    assert "Schedule change #1 for Acme Biologics GmbH: Lot 42 fill to 2027-03-10" in message["text"]

    told, draft, edit_button = buttons(message)
    assert (edit_button["action_id"], edit_button["value"]) == ("record_edit", f"#{told['value']}")
    assert (told["action_id"], told["value"], told["text"]["text"]) == ("change_told", "1", "Mark client told")
    assert (draft["action_id"], draft["value"], draft["text"]["text"]) == (
        "change_draft", "1", "Draft message to client")
    # Nothing anywhere else: not the channel the command was typed in, not Beta's channel.
    time.sleep(0.3)
    assert [c.args["channel"] for c in slack.calls_to("chat.postMessage")] == ["C0ACMEINT"]


def test_a_pull_in_is_a_change_too(acme, database, slack):
    text = delay(acme, f'acme "PPQ batch 3" to:2027-03-05 from:{NEW} reason:"Capacity freed up on line 2"')
    assert f"*{day(NEW)}* → *Fri 2027-03-05* (pulled in 5 days)" in text
    [row] = changes(database)
    assert (row.item, row.old_date, row.new_date, row.slip_days) == ("PPQ batch 3", NEW, dt.date(2027, 3, 5), -5)
    [message] = posts(slack, "C0ACMEINT")
    assert "(pulled in 5 days)" in posted_text(message)


def test_a_one_day_slip_and_pull_in_are_singular(acme):
    assert "(slips 1 day)" in delay(acme, f'acme Lot 1 to:2027-03-02 from:{PLANNED} reason:"QC"')
    assert "(pulled in 1 day)" in delay(acme, f'acme Lot 2 to:{PLANNED} from:2027-03-02 reason:"QC"')


def test_without_from_the_old_date_is_the_items_last_recorded_new_date(acme, database, slack):
    text = delay(acme, f'acme Lot 42 fill to:{NEW} reason:"{REASON}"')
    assert f"new date *{day(NEW)}* (previous date not given)" in text
    # The same item, in other case and spacing: it moved from the date recorded last.
    text = delay(acme, f'acme lot 42  FILL to:{LATER} reason:"Retest of the filter"')
    assert f"*{day(NEW)}* → *{day(LATER)}* (slips 5 days)" in text
    first, second = changes(database)
    assert (first.old_date, first.new_date) == (None, NEW)
    assert (second.old_date, second.new_date, second.item) == (NEW, LATER, "lot 42 FILL")
    # Another client's item of the same name is another item.
    assert "(previous date not given)" in delay(acme, f'beta Lot 42 fill to:{LATER} reason:"Own plan"')
    assert changes(database)[2].old_date is None


def test_an_item_that_moved_before_says_how_often_and_by_how_much(acme, database, slack):
    delay(acme, f'acme Lot 42 fill to:{NEW} from:{PLANNED} reason:"Filter failed"')  # +9
    text = delay(acme, f'acme Lot 42 fill to:{LATER} reason:"Retest"')  # +5
    assert "This item has moved once before (+9 days in total)" in text
    text = delay(acme, 'acme Lot 42 fill to:2027-03-12 reason:"Line freed up"')  # -3
    assert "This item has moved 2 times before (+14 days in total)" in text
    delay(acme, f'acme Lot 43 fill to:{NEW} from:{PLANNED} reason:"Other lot"')

    first, second, third, other = posts(slack, "C0ACMEINT", 4)
    assert "moved" not in posted_text(first)
    assert "This item has moved once before (+9 days in total)" in posted_text(second)
    assert "This item has moved 2 times before (+14 days in total)" in posted_text(third)
    assert "(pulled in 3 days)" in posted_text(third)
    assert "moved" not in posted_text(other)


def test_project_is_kept_and_shown(acme, database, slack):
    text = delay(acme, f'acme Lot 7 to:{NEW} from:{PLANNED} reason:"Vial shortage" project:"Gene therapy X"')
    assert "*Lot 7* (project Gene therapy X)" in text
    assert changes(database)[0].project == "Gene therapy X"
    assert audit_events(database, "change.record")[0].after["project"] == "Gene therapy X"
    [message] = posts(slack, "C0ACMEINT")
    assert "*Lot 7* (project Gene therapy X)" in posted_text(message)


def test_item_words_that_look_like_options_stay_in_the_item(acme, database):
    delay(acme, f'acme Release note: CoA for lot 9 to:{NEW} reason:"QA backlog"')
    assert changes(database)[0].item == "Release note: CoA for lot 9"


def test_relative_dates_count_from_today(acme, database):
    delay(acme, 'acme Lot 5 to:+2w from:+1w reason:"Media delay"')
    [row] = changes(database)
    assert (row.new_date - row.old_date).days == 7
    today = dt.datetime.now(dt.UTC).date()
    assert row.old_date in (today + dt.timedelta(days=7), today + dt.timedelta(days=6))


def test_a_client_without_internal_channel_is_not_announced_and_the_user_is_told(bot, database, slack):
    assert "Added" in shown(bot.command(f"client add Gamma key:gamma owner:{ANA}"))
    text = shown(bot.command(f'delay gamma Lot 1 to:{NEW} reason:"QC"'))
    assert "Recorded schedule change *#1*" in text
    assert "Not announced: Gamma has no internal channel (`/cmo client set gamma channel:#channel`)" in text
    assert len(changes(database)) == 1
    assert outbox(database) == []


def test_a_client_without_owner_is_announced_asking_for_one(bot, slack):
    bot.command(f"client add Gamma key:gamma channel:{channel_link('C0GAMMAINT', 'gamma-int')}")
    delay(bot, f'gamma Lot 1 to:{NEW} reason:"QC"')
    [message] = posts(slack, "C0GAMMAINT")
    assert "Nobody owns this client: name an owner to tell them." in posted_text(message)


def test_the_client_can_be_named_by_prefix_or_quoted_name(acme, database):
    delay(acme, f'"acme biologics gmbh" Lot 1 to:{NEW} reason:"QC"')
    delay(acme, f'Acm Lot 2 to:{NEW} reason:"QC"')
    assert [c.item for c in changes(database)] == ["Lot 1", "Lot 2"]


# --- /cmo delay: bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("command", "fragments"), [
    (f"delay acme Lot 42 to:{NEW} from:{PLANNED}", ["A reason is required", 'reason:"<why>"']),
    (f'delay acme Lot 42 to:{NEW} reason:""', ["A reason is required"]),
    (f'delay acme Lot 42 to:{NEW} reason:"   "', ["A reason is required"]),
    (f'delay zeta Lot 42 to:{NEW} reason:"QC"', ["No client matches `zeta`", "Beta Labs (`beta`)"]),
    (f'delay xyzzy Lot 42 to:{NEW} reason:"QC"', ["No client matches `xyzzy`", "Acme Biologics GmbH (`acme`)"]),
    ('delay acme Lot 42 to:2027-02-30 reason:"QC"', ["`2027-02-30` is not a date", "`to:`", DATE_FORMS]),
    ('delay acme Lot 42 to:someday reason:"QC"', ["`someday` is not a date"]),
    (f'delay acme Lot 42 to:{NEW} from:2027-13-01 reason:"QC"', ["`2027-13-01` is not a date", "`from:`"]),
    (f'delay acme Lot 42 to:{NEW} from:{NEW} reason:"QC"', ["`to:` is the same date as `from:`",
                                                           day(NEW), "nothing moves"]),
    (f'delay acme Lot 42 reason:"QC" from:{PLANNED}', ["Give the new date with `to:`"]),
    (f'delay acme to:{NEW} reason:"QC"', ["Say what moves"]),
    ('delay acme Lot 42 to:2025-01-06 reason:"QC"', ["in the past"]),
    ('delay acme Lot 42 to:yesterday reason:"QC"', ["in the past"]),
    (f'delay acme Lot 42 to:{NEW} to:{LATER} reason:"QC"', ["`to:` is given twice"]),
    (f'delay acme Lot 42 to:{NEW} reason:"QC" reason:"Again"', ["`reason:` is given twice"]),
    (f'delay acme Lot 42 to:{NEW} reason:"Filter failed', ["A quote was left open"]),
    (f'delay acme Lot 42 to:{NEW} reason:"{"x" * 2001}"', ["2,001 characters"]),
    (f'delay acme {"L" * 301} to:{NEW} reason:"QC"', ["at most 300 characters"]),
])
def test_delay_bad_input_is_a_clear_error_and_writes_nothing(acme, database, slack, command, fragments):
    before = counts(database)
    assert_error(acme.command(command), *fragments, form=FORMS["delay"])
    assert counts(database) == before
    time.sleep(0.1)
    assert slack.calls_to("chat.postMessage") == []


def test_delay_to_the_items_current_date_is_refused(acme, database):
    delay(acme, f'acme Lot 42 to:{NEW} reason:"QC"')
    before = counts(database)
    assert_error(acme.command(f'delay acme lot 42 to:{NEW} reason:"Again"'), "`to:` is the same date",
                 form=FORMS["delay"])
    assert counts(database) == before


def test_delay_for_an_archived_client_is_refused(acme, database):
    acme.command("client archive beta")
    before = counts(database)
    assert_error(acme.command(f'delay beta Lot 1 to:{NEW} reason:"QC"'), "Beta Labs (`beta`) is archived",
                 form=FORMS["delay"])
    assert counts(database) == before


def test_the_announcement_never_lands_in_a_channel_shared_with_a_client(acme, database, slack):
    # Beta's Slack Connect channel can't be Acme's internal channel (nor the reverse): refused up front.
    response = acme.command(f"client set beta shared:{channel_link('C0ACMEINT', 'acme-internal')}")
    assert reply(response)["blocks"][0]["text"]["text"].startswith(":warning:")
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    delay(acme, f'acme Lot 42 fill to:{NEW} reason:"{REASON}"')
    assert len(posts(slack, "C0ACMEINT")) == 1
    [row] = outbox(database)
    assert row.channel_id == "C0ACMEINT"


# --- escaping -------------------------------------------------------------------------------------------------

def test_user_text_is_stored_as_typed_and_shown_escaped_everywhere(acme, database, slack):
    # `<!channel>` as Slack sends "@channel"; `&`, `<` and `>` typed literally arrive escaped.
    reason = "<!channel>" + typed(" R&D says <b> & <@U0EVIL> <http://x|y>")
    item = typed("Lot <42> & co")
    response = acme.command(f'delay acme "{item}" to:{NEW} reason:"{reason}" project:"{typed("P&G <x>")}"')
    raw = ("<!channel>", "<b>", "R&D", " & ", "<42>", "P&G")  # a mention and a link render live (issue 11)
    assert "Lot <42> & co" in shown(response)
    assert_no_raw_markup(response, *raw)
    [row] = changes(database)
    assert row.reason == "<!channel> R&D says <b> & <@U0EVIL> <http://x|y>"
    assert (row.item, row.project) == ("Lot <42> & co", "P&G <x>")

    [message] = posts(slack, "C0ACMEINT")
    assert "*Reason:* <!channel> R&D says <b> & <@U0EVIL> <http://x|y>" in posted_text(message)
    assert_nothing_raw(message, *raw)

    for command in ("changes", "changes acme", "changes open", "status acme", "history acme"):
        response = acme.command(command)
        assert "<!channel> R&D says" in shown(response) or "Lot <42> & co" in shown(response), command
        assert_no_raw_markup(response, *raw)

    response = acme.command("told #1 how:\"" + typed("Call & <!here>") + '"')
    assert_no_raw_markup(response, "<!here>", " & ", "<42>")
    [_, notice] = posts(slack, "C0ACMEINT", 2)
    assert "Call & <!here>" in posted_text(notice)
    assert_nothing_raw(notice, "<!here>", " & ", "<42>", "P&G")
    assert_no_raw_markup(acme.command("told #1"), "<!here>")  # the "already told" error quotes how


def test_a_client_name_with_markup_is_escaped_in_the_announcement(bot, slack):
    bot.command(f'client add "{typed("R&D <Partners>")}" key:rnd channel:{channel_link("C0RNDINT", "rnd")}')
    delay(bot, f'rnd Lot 1 to:{NEW} reason:"QC"')
    [message] = posts(slack, "C0RNDINT")
    assert "R&D <Partners>" in posted_text(message)
    assert_nothing_raw(message, "R&D", "<Partners>")


# --- /cmo told ------------------------------------------------------------------------------------------------

@pytest.fixture
def logged(acme, slack):
    """#1 Lot 42 fill and #2 PPQ batch 3 for Acme; #3 Lot 9 for Beta; their announcements posted."""
    delay(acme, f'acme Lot 42 fill to:{NEW} from:{PLANNED} reason:"{REASON}"', user="U0BOB")
    delay(acme, f'acme "PPQ batch 3" to:{LATER} from:{NEW} reason:"Column resin late"', user="U0BOB")
    delay(acme, f'beta Lot 9 to:{LATER} reason:"QC backlog"', user="U0CAROL")
    posts(slack, "C0ACMEINT", 2)
    posts(slack, "C0BETAINT", 1)
    return acme


@pytest.mark.parametrize("reference", ["#1", "1"])
def test_told_marks_the_change_and_closes_the_loop_in_the_internal_channel(logged, database, slack, reference):
    text = shown(logged.command(f"told {reference}"))
    assert "#1 *Lot 42 fill* for *Acme Biologics GmbH*: marked as told to the client." in text
    row = change(database, 1)
    assert row.told_by == "U0ANA" and row.told_at is not None
    assert (row.told_how, row.told_text) == (None, None)
    assert abs(row.told_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert change(database, 2).told_at is None

    [event] = audit_events(database, "change.told")
    assert (event.actor_user_id, event.surface, event.entity_id) == ("U0ANA", "slash_command", 1)
    assert event.before["told_at"] is None and event.before["told_by"] is None
    assert event.after["told_by"] == "U0ANA" and event.after["told_at"] == row.told_at.isoformat()

    notice = posts(slack, "C0ACMEINT", 3)[2]
    text = posted_text(notice)
    assert f"Client told by <@U0ANA> on {row.told_at:%Y-%m-%d %H:%M} UTC" in text
    assert f"schedule change #1 for *Acme Biologics GmbH*, *Lot 42 fill* → {day(NEW)}" in text
    assert buttons(notice) == []


def test_told_with_how(logged, database, slack):
    shown(logged.command('told #2 how:"Call with Dr. Roe"', user="U0BOB"))
    row = change(database, 2)
    assert (row.told_by, row.told_how) == ("U0BOB", "Call with Dr. Roe")
    assert audit_events(database, "change.told")[0].after["told_how"] == "Call with Dr. Roe"
    notice = posts(slack, "C0ACMEINT", 3)[2]
    assert "Client told by <@U0BOB>" in posted_text(notice) and "— Call with Dr. Roe" in posted_text(notice)


def test_told_twice_says_when_and_by_whom_and_writes_nothing(logged, database, slack):
    shown(logged.command('told #1 how:"Call with Dr. Roe"', user="U0BOB"))
    posts(slack, "C0ACMEINT", 3)
    before = counts(database)
    told_at = change(database, 1).told_at
    text = assert_error(logged.command("told #1"), f"#1 was already marked told on {told_at:%Y-%m-%d %H:%M} UTC",
                        "by <@U0BOB> (Call with Dr. Roe)", form=FORMS["told"])
    assert TOLD_AT.search(text)
    # The mention is a real mention, not escaped text.
    assert "<@U0BOB>" in reply(logged.command("told 1"))["blocks"][0]["text"]["text"]
    assert counts(database) == before
    assert change(database, 1).told_by == "U0BOB"
    time.sleep(0.2)
    assert len(slack.posted("C0ACMEINT")) == 3


@pytest.mark.parametrize(("command", "fragments"), [
    ("told #99", ["There is no schedule change #99", "`/cmo changes open`"]),
    ("told 99", ["There is no schedule change #99"]),
    ("told #0", ["`#0` is not a change id"]),
    ("told abc", ["`abc` is not a change id", "like `#12`"]),
    ("told #1x", ["`#1x` is not a change id"]),
    ("told #1 #2", ["Say which change"]),
    ('told #1 how:"Call', ["A quote was left open"]),
    ("told #1 via:phone", ["`via:` is not an option here", "`how:`"]),
    (f'told #1 how:"{"x" * 501}"', ["`how:` can be at most 500 characters"]),
])
def test_told_bad_input_writes_nothing(logged, database, slack, command, fragments):
    before = counts(database)
    assert_error(logged.command(command), *fragments, form=FORMS["told"])
    assert counts(database) == before
    assert [c.told_at for c in changes(database)] == [None, None, None]
    time.sleep(0.2)
    assert len(slack.posted("C0ACMEINT")) == 2


def test_told_without_arguments_opens_a_form_listing_the_open_changes(logged, database, slack):
    shown(logged.command("told #2"))
    before = counts(database)
    view = opened_form(slack, logged.command("told"))
    assert view["callback_id"] == "cmo:told"
    assert view["title"]["text"] == "Client told" and view["submit"]["text"] == "Mark told"
    fields = inputs(view)
    assert list(fields) == ["change", "how"]
    options = fields["change"]["options"]
    assert [o["value"] for o in options] == ["1", "3"]  # #2 is told
    assert options[0]["text"]["text"] == "#1 Acme Biologics GmbH: Lot 42 fill → 2027-03-10"
    assert optional_inputs(view) == {"how"}
    # Nothing written but the command's trigger, remembered so that a replay is not run twice.
    assert counts(database) == {**before, "processed_requests": before["processed_requests"] + 1}


def test_told_form_lists_every_open_change_of_the_workspace(logged, slack):
    view = opened_form(slack, logged.command("told"))
    values = [o["value"] for o in inputs(view)["change"]["options"]]
    assert values == ["1", "2", "3"]
    labels = [o["text"]["text"] for o in inputs(view)["change"]["options"]]
    assert labels[2].startswith("#3 Beta Labs: Lot 9 → 2027-03-15")


def test_submitting_the_told_form_marks_the_change(logged, database, slack):
    view = opened_form(slack, logged.command("told"))
    response = logged.submit_view(view, {"change": static_select("2"), "how": text_input("Email to Dr. Roe")},
                                  user="U0BOB")
    assert "#2 *PPQ batch 3* for *Acme Biologics GmbH*: marked as told to the client." in updated_view_text(response)
    row = change(database, 2)
    assert (row.told_by, row.told_how) == ("U0BOB", "Email to Dr. Roe")
    [event] = audit_events(database, "change.told")
    assert (event.surface, event.actor_user_id, event.entity_id) == ("modal", "U0BOB", 2)
    notice = posts(slack, "C0ACMEINT", 3)[2]
    assert "Client told by <@U0BOB>" in posted_text(notice) and "#2" in posted_text(notice)


def test_the_told_form_on_a_change_told_meanwhile_shows_the_error_under_the_select(logged, database, slack):
    view = opened_form(slack, logged.command("told"))
    shown(logged.command("told #1", user="U0BOB"))
    before = counts(database)
    errors = modal_errors(logged.submit_view(view, {"change": static_select("1")}))
    assert list(errors) == ["change"]
    assert TOLD_AT.search(errors["change"]) and "U0BOB" in errors["change"]
    assert counts(database) == before


def test_told_form_when_nothing_is_open(logged, database, slack):
    for number in (1, 2, 3):
        shown(logged.command(f"told #{number}"))
    text = assert_error(logged.command("told"), "nothing is open", form=FORMS["told"])
    assert "Every schedule change has been told" in text
    assert slack.calls_to("views.open") == []


# --- the delay form ---------------------------------------------------------------------------------------------

def test_delay_without_arguments_opens_the_form(acme, database, slack):
    before = counts(database)
    view = opened_form(slack, acme.command("delay"))
    assert view["callback_id"] == "cmo:delay"
    assert view["title"]["text"] == "Schedule change"
    fields = inputs(view)
    assert list(fields) == ["client", "item", "project", "from", "to", "reason"]
    assert {block_id: element["type"] for block_id, element in fields.items()} == {
        "client": "external_select", "item": "plain_text_input", "project": "plain_text_input",
        "from": "datepicker", "to": "datepicker", "reason": "plain_text_input"}
    assert [o["value"] for o in acme.suggestions("")] == ["acme", "beta"]
    assert fields["reason"].get("multiline") is True
    assert optional_inputs(view) == {"project", "from"}
    assert counts(database) == {**before, "processed_requests": before["processed_requests"] + 1}


def test_delay_form_with_no_clients_says_add_one_first(bot, slack):
    text = assert_error(bot.command("delay"), "no clients yet", form=None)
    assert "/cmo client add" in text
    assert slack.calls_to("views.open") == []


def test_submitting_the_delay_form_records_and_announces(acme, database, slack):
    view = opened_form(slack, acme.command("delay"))
    response = acme.submit_view(view, {
        "client": static_select("acme"), "item": text_input("Lot 42 fill"), "project": text_input("GT-X"),
        "from": date_picker(PLANNED.isoformat()), "to": date_picker(NEW.isoformat()),
        "reason": text_input(REASON)}, user="U0BOB")
    text = updated_view_text(response)
    assert "Recorded schedule change *#1* for *Acme Biologics GmbH*: *Lot 42 fill* (project GT-X)" in text
    assert "(slips 9 days)" in text
    [row] = changes(database)
    assert (row.item, row.project, row.old_date, row.new_date, row.reason) == (
        "Lot 42 fill", "GT-X", PLANNED, NEW, REASON)
    assert (row.logged_by, row.surface) == ("U0BOB", "modal")
    [event] = audit_events(database, "change.record")
    assert (event.surface, event.actor_user_id) == ("modal", "U0BOB")
    [message] = posts(slack, "C0ACMEINT")
    assert "Logged by <@U0BOB>" in posted_text(message) and "<@U0ANA>, please tell the client" in posted_text(message)
    assert [b["action_id"] for b in buttons(message)] == ["change_told", "change_draft", "record_edit"]


def test_the_delay_form_without_from_uses_the_last_recorded_date(acme, database, slack):
    delay(acme, f'acme Lot 42 fill to:{NEW} reason:"QC"')
    view = opened_form(slack, acme.command("delay"))
    response = acme.submit_view(view, {"client": static_select("acme"), "item": text_input("Lot 42 fill"),
                                       "from": date_picker(None), "to": date_picker(LATER.isoformat()),
                                       "reason": text_input("Retest")})
    assert "moved once before" in updated_view_text(response)
    assert changes(database)[1].old_date == NEW


@pytest.mark.parametrize(("values", "field", "fragment"), [
    ({"reason": text_input("   ")}, "reason", "A reason is required"),
    ({"to": date_picker(PLANNED.isoformat())}, "to", "to: is the same date as from:"),
    ({"to": date_picker("2025-01-06")}, "to", "in the past"),
    ({"to": date_picker(None)}, "to", "Pick the new date"),
    ({"item": text_input(" ")}, "item", "Say what moves"),
    ({"client": static_select("gone")}, "client", "No client matches gone"),
])
def test_delay_form_errors_show_under_their_input_and_write_nothing(acme, database, slack, values, field,
                                                                     fragment):
    view = opened_form(slack, acme.command("delay"))
    state = {"client": static_select("acme"), "item": text_input("Lot 42 fill"),
             "from": date_picker(PLANNED.isoformat()), "to": date_picker(NEW.isoformat()),
             "reason": text_input(REASON), **values}
    before = counts(database)
    errors = modal_errors(acme.submit_view(view, state))
    assert list(errors) == [field]
    assert fragment in errors[field] and "`" not in errors[field]
    assert counts(database) == before
    time.sleep(0.1)
    assert slack.calls_to("chat.postMessage") == []


def test_the_delay_form_submitted_twice_records_once(acme, database, slack):
    view = opened_form(slack, acme.command("delay"))
    state = {"client": static_select("acme"), "item": text_input("Lot 42 fill"),
             "to": date_picker(NEW.isoformat()), "reason": text_input(REASON)}
    assert "Recorded" in updated_view_text(acme.submit_view(view, state))
    assert "already submitted" in updated_view_text(acme.submit_view(view, state))
    assert len(changes(database)) == 1
    assert len(posts(slack, "C0ACMEINT")) == 1


# --- /cmo changes ------------------------------------------------------------------------------------------------

def test_changes_lists_every_change_newest_first_with_its_state(logged, database):
    shown(logged.command('told #1 how:"Call"', user="U0BOB"))
    told_at = change(database, 1).told_at
    text = shown(logged.command("changes"))
    assert "All clients: schedule changes" in text
    assert text.index("*#3*") < text.index("*#2*") < text.index("*#1*")
    assert (f"*#1* *Acme Biologics GmbH* · *Lot 42 fill* · *{day(PLANNED)}* → *{day(NEW)}* (slips 9 days) · "
            f"told by <@U0BOB> {told_at:%Y-%m-%d}") in text
    assert f"_{REASON}_" in text
    assert (f"*#2* *Acme Biologics GmbH* · *PPQ batch 3* · *{day(NEW)}* → *{day(LATER)}* (slips 5 days) · "
            ":hourglass: *not told yet*") in text
    assert "_Column resin late_" in text
    assert f"*#3* *Beta Labs* · *Lot 9* · new date *{day(LATER)}* (previous date not given)" in text
    assert reply(logged.command("changes"))["text"] == "All clients: schedule changes: 3, 2 not told yet"


def test_changes_of_one_client_and_only_open_ones(logged):
    shown(logged.command("told #1"))
    text = shown(logged.command("changes acme"))
    assert "Acme Biologics GmbH: schedule changes" in text
    assert "*#1*" in text and "*#2*" in text and "*#3*" not in text and "Lot 9" not in text
    assert "*Acme Biologics GmbH* ·" not in text  # one client: not repeated on every line

    text = shown(logged.command("changes acme open"))
    assert "Acme Biologics GmbH: open schedule changes" in text
    assert "*#2*" in text and "*#1*" not in text and "*#3*" not in text

    text = shown(logged.command("changes open"))
    assert "All clients: open schedule changes" in text
    assert "*#2*" in text and "*#3*" in text and "*#1*" not in text

    text = shown(logged.command('changes "Beta Labs"'))
    assert "*#3*" in text and "*#1*" not in text


def test_changes_when_there_are_none(acme):
    assert "All clients: schedule changes: none." in shown(acme.command("changes"))
    assert "Beta Labs: open schedule changes: none." in shown(acme.command("changes beta open"))


def test_changes_of_an_archived_client_are_still_listed(logged):
    logged.command("client archive beta")
    assert "*#3*" in shown(logged.command("changes beta"))


def test_changes_for_an_unknown_client(logged, database):
    before = counts(database)
    assert_error(logged.command("changes zeta"), "No client matches `zeta`", form=FORMS["changes"])
    assert counts(database) == before


# --- status and health -----------------------------------------------------------------------------------------

def test_status_shows_open_changes_and_turns_amber_until_told(acme, database):
    shown(acme.command("log acme call Weekly sync"))
    text = shown(acme.command("status acme"))
    assert "*green*" in text and "Open schedule changes" not in text

    delay(acme, f'acme Lot 42 fill to:{NEW} from:{PLANNED} reason:"{REASON}"')
    text = shown(acme.command("status acme"))
    assert "*amber* — 1 schedule change not told to the client; last contact" in text
    assert "*Open schedule changes* (not told to the client)" in text
    assert f"*#1* *Lot 42 fill* · *{day(PLANNED)}* → *{day(NEW)}* (slips 9 days) · :hourglass: *not told yet*" in text
    assert f"_{REASON}_" in text
    portfolio = shown(acme.command("status"))
    assert ":large_orange_circle: *Acme Biologics GmbH* (`acme`) · 1 schedule change not told to the client" \
        in portfolio

    delay(acme, f'acme Lot 43 fill to:{NEW} reason:"QC"')
    assert "2 schedule changes not told to the client" in shown(acme.command("status acme"))

    shown(acme.command("told #1"))
    text = shown(acme.command("status acme"))
    assert "*amber* — 1 schedule change not told" in text and "Lot 42 fill" not in text
    shown(acme.command("told #2"))
    text = shown(acme.command("status acme"))
    assert "*green*" in text and "Open schedule changes" not in text and "not told" not in text
    assert ":large_green_circle: *Acme Biologics GmbH*" in shown(acme.command("status"))


def test_an_untold_change_does_not_make_a_red_client_better(acme):
    shown(acme.command("log acme call Long ago on:-40d"))
    delay(acme, f'acme Lot 42 fill to:{NEW} reason:"QC"')
    text = shown(acme.command("status acme"))
    assert "*red*" in text and "1 schedule change not told to the client" in text


def test_history_shows_the_change_and_who_told(logged, database):
    shown(logged.command('told #1 how:"Call with Dr. Roe"'))
    text = shown(logged.command("history acme"))
    assert f"recorded schedule change #1: Lot 42 fill 2027-03-01 → 2027-03-10; reason: {REASON}" in text
    assert "marked schedule change #1 as told to the client (Call with Dr. Roe)" in text
    assert text.index("marked schedule change #1") < text.index("recorded schedule change #1")


# --- help ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("topic", ["delay", "told", "changes"])
def test_help_on_schedule_changes_shows_the_three_forms(bot, topic):
    text = shown(bot.command(f"help {topic}"))
    assert "Schedule changes" in text
    for form in FORMS.values():
        assert form in text
    assert "Draft message to client" in text


def test_help_health_counts_untold_changes(bot):
    assert "a schedule change not yet told to the client" in shown(bot.command("help health"))


# --- workspaces ----------------------------------------------------------------------------------------------------

def test_another_workspace_can_neither_see_nor_mark_the_changes(logged, database, slack):
    other = {"team": "T0OTHER", "user": "U0ZED"}
    logged.command(f"client add Acme key:acme channel:{channel_link('C0OTHERINT', 'acme')}", **other)
    before = counts(database)
    assert_error(logged.command("told #1", **other), "There is no schedule change #1", form=FORMS["told"])
    assert_error(logged.command("told 3", **other), "There is no schedule change #3", form=FORMS["told"])
    assert counts(database) == before
    assert [c.told_at for c in changes(database)] == [None, None, None]

    assert "All clients: schedule changes: none." in shown(logged.command("changes", **other))
    assert "open schedule changes: none." in shown(logged.command("changes acme open", **other))
    assert "Open schedule changes" not in shown(logged.command("status acme", **other))
    assert_error(logged.command("told", **other), "nothing is open", form=FORMS["told"])

    # Its own change gets its own id and is listed only there.
    delay(logged, f'acme Lot 42 fill to:{LATER} reason:"Theirs"', **other)
    [theirs] = changes(database, "T0OTHER")
    assert theirs.old_date is None  # not the other workspace's Lot 42 fill
    text = shown(logged.command("changes", **other))
    assert f"*#{theirs.id}*" in text and REASON not in text
    assert "Theirs" not in shown(logged.command("changes"))
    assert len(posts(slack, "C0OTHERINT")) == 1
    assert len(slack.posted("C0ACMEINT")) == 2
