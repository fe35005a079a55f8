"""Schedule changes, piece by piece: business hours, the `/cmo delay|told|changes` grammar and forms, the Block
Kit builders (announcement, follow-ups, list, the client-facing draft), the health rules, and the services
against a real database (SQLite, or PostgreSQL with RAPPORT_TEST_DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.blocks import changes as blocks
from bot.blocks import text as t
from bot.blocks.health import HEALTH_RULES, reason
from bot.blocks.ids import ActionId, CallbackId
from bot.commands import REGISTRY, USAGE, OpenModal
from bot.commands.changes import Changes, Delay, Told
from bot.db.models import AuditEvent, Client, ScheduleChange, utcnow
from bot.errors import USER, UserError
from bot.parsing.dates import DateSpec
from bot.services import Actor
from bot.services.business_time import BusinessCalendar, business_hours_between, in_business_hours
from bot.services.changes import (
    SlipHistory,
    check_open,
    list_changes,
    mark_told,
    open_changes_by_client,
    record_change,
    slip_history,
)
from bot.services.clients import add_client, archive_client
from bot.services.status import HealthLevel, client_health
from tests.slackhttp import message_text, mrkdwn_texts

parse = REGISTRY.parse
command_from_form = REGISTRY.read_form

BERLIN = ZoneInfo("Europe/Berlin")
BERLIN_CALENDAR = BusinessCalendar(BERLIN)
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC
NASTY = "<!channel> & <b>"
NASTY_ESCAPED = "&lt;!channel&gt; &amp; &lt;b&gt;"
TEAM = "T0ACME"
ANA = Actor(team_id=TEAM, user_id="U0ANA", surface="slash_command")
BO = Actor(team_id=TEAM, user_id="U0BO", surface="button")
TODAY = dt.date(2026, 11, 30)  # a Monday

GREEN, AMBER, RED = HealthLevel


def berlin(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


# === business hours =======================================================================================


@pytest.mark.parametrize("moment, expected", [
    (berlin(11, 30, 9), True),  # Monday, opening time
    (berlin(11, 30, 8, 59), False),
    (berlin(11, 30, 16, 59), True),
    (berlin(11, 30, 17), False),  # closing time is already after hours
    (berlin(12, 4, 12), True),  # Friday
    (berlin(12, 5, 12), False),  # Saturday
    (berlin(12, 6, 12), False),  # Sunday
    (berlin(11, 30, 23, 30), False),
])
def test_in_business_hours_is_monday_to_friday_nine_to_five(moment, expected):
    assert in_business_hours(moment, BERLIN) is expected


def test_in_business_hours_is_judged_in_the_given_zone():
    moment = dt.datetime(2026, 11, 30, 8, 30, tzinfo=UTC)  # 09:30 in Berlin, 03:30 in New York
    assert in_business_hours(moment, BERLIN)
    assert not in_business_hours(moment, UTC)
    assert not in_business_hours(moment, NEW_YORK)
    # Friday 23:30 in New York is already Saturday in Berlin, and Friday evening in New York.
    late = dt.datetime(2026, 12, 4, 16, 30, tzinfo=NEW_YORK)  # 22:30 in Berlin
    assert in_business_hours(late, NEW_YORK)
    assert not in_business_hours(late, BERLIN)


@pytest.mark.parametrize("start, end, hours", [
    (berlin(11, 30, 10), berlin(11, 30, 14), 4.0),  # same day
    (berlin(11, 30, 10), berlin(11, 30, 10, 30), 0.5),
    (berlin(11, 30, 7), berlin(11, 30, 9), 0.0),  # before opening
    (berlin(11, 30, 7), berlin(11, 30, 20), 8.0),  # the whole day, from before to after
    (berlin(11, 30, 16), berlin(12, 1, 10), 2.0),  # across a night
    (berlin(11, 30, 20), berlin(12, 1, 11), 2.0),  # started at night
    (berlin(11, 30, 10), berlin(12, 1, 10), 8.0),  # one business day
    (berlin(12, 4, 16), berlin(12, 7, 10), 2.0),  # across a weekend: Fri 16-17, Mon 9-10
    (berlin(12, 5, 10), berlin(12, 6, 18), 0.0),  # within a weekend
    (berlin(12, 5, 10), berlin(12, 7, 9, 30), 0.5),  # from a Saturday
    (berlin(11, 30, 9), berlin(12, 7, 9), 40.0),  # a whole week
])
def test_business_hours_between(start, end, hours):
    assert business_hours_between(start, end, BERLIN) == pytest.approx(hours)


def test_business_hours_between_takes_any_zone_for_its_arguments():
    start = berlin(11, 30, 10).astimezone(UTC)
    end = berlin(12, 1, 10).astimezone(NEW_YORK)
    assert business_hours_between(start, end, BERLIN) == pytest.approx(8.0)


def test_business_hours_are_counted_in_the_zone_given():
    start = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 Berlin, 04:00 New York
    end = dt.datetime(2026, 11, 30, 19, 0, tzinfo=UTC)  # 20:00 Berlin, 14:00 New York
    assert business_hours_between(start, end, BERLIN) == pytest.approx(7.0)
    assert business_hours_between(start, end, NEW_YORK) == pytest.approx(5.0)
    assert business_hours_between(start, end, UTC) == pytest.approx(8.0)


def test_business_hours_across_the_end_of_summer_time_in_berlin():
    """Summer time ends on Sunday 2026-10-25: 03:00 CEST becomes 02:00 CET. A weekend hour more on the clock,
    not one more business hour; and 09:00 on Monday is 08:00 UTC, not 07:00."""
    friday = berlin(10, 23, 16)  # CEST, UTC+2
    monday = berlin(10, 26, 10)  # CET, UTC+1
    assert friday.utcoffset() == dt.timedelta(hours=2) and monday.utcoffset() == dt.timedelta(hours=1)
    assert business_hours_between(friday, monday, BERLIN) == pytest.approx(2.0)
    assert business_hours_between(berlin(10, 23, 9), berlin(10, 26, 17), BERLIN) == pytest.approx(16.0)
    assert not in_business_hours(dt.datetime(2026, 10, 26, 7, 30, tzinfo=UTC), BERLIN)  # 08:30 CET
    assert in_business_hours(dt.datetime(2026, 10, 26, 8, 0, tzinfo=UTC), BERLIN)  # 09:00 CET
    assert in_business_hours(dt.datetime(2026, 10, 23, 7, 0, tzinfo=UTC), BERLIN)  # 09:00 CEST
    # In UTC terms: Friday 14:00 UTC (16:00 CEST) to Monday 09:00 UTC (10:00 CET).
    assert business_hours_between(dt.datetime(2026, 10, 23, 14, 0, tzinfo=UTC),
                                  dt.datetime(2026, 10, 26, 9, 0, tzinfo=UTC), BERLIN) == pytest.approx(2.0)


def test_business_hours_between_is_zero_when_the_end_is_not_after_the_start():
    assert business_hours_between(berlin(12, 1, 10), berlin(11, 30, 10), BERLIN) == 0.0
    assert business_hours_between(berlin(12, 1, 10), berlin(12, 1, 10), BERLIN) == 0.0


# === parsing: /cmo delay, told, changes ====================================================================


def parse_error(text: str) -> UserError:
    with pytest.raises(UserError) as caught:
        parse(text)
    return caught.value


def test_delay_with_everything():
    command = parse('delay acme Lot 42 fill to:2026-12-18 from:2026-12-11 reason:"media lot failed QC" '
                    'project:Q1-fill')
    assert command == Delay(client="acme", item="Lot 42 fill",
                            to=DateSpec("2026-12-18", absolute=dt.date(2026, 12, 18)),
                            old=DateSpec("2026-12-11", absolute=dt.date(2026, 12, 11)),
                            reason="media lot failed QC", project="Q1-fill")


def test_delay_options_can_come_anywhere():
    command = parse('delay reason:"media lot failed QC" acme to:fri Lot from:+1d 42 fill')
    assert isinstance(command, Delay)
    assert (command.client, command.item, command.reason) == ("acme", "Lot 42 fill", "media lot failed QC")
    assert command.to.resolve(TODAY) == dt.date(2026, 12, 4)
    assert command.old.resolve(TODAY) == dt.date(2026, 12, 1)
    assert command.project is None


def test_delay_reason_in_typographic_quotes_keeps_its_words():
    command = parse("delay \u201cAcme Bio\u201d Stability pull to:+2w reason:\u201cchamber out of spec: "
                    "re-qualify\u201d")
    assert command.client == "Acme Bio"
    assert command.item == "Stability pull"
    assert command.reason == "chamber out of spec: re-qualify"
    assert command.to.resolve(TODAY) == dt.date(2026, 12, 14)


def test_delay_without_from_leaves_the_old_date_to_the_service():
    command = parse('delay acme Lot 42 to:tomorrow reason:"late API"')
    assert command.old is None


@pytest.mark.parametrize("text, field, words", [
    ('delay acme Lot 42 fill reason:"media lot failed"', "to", "to:"),
    ("delay acme Lot 42 fill to:2026-12-18", "reason", "reason"),
    ('delay acme Lot 42 fill to:2026-12-18 reason:""', "reason", "reason"),
    ('delay acme Lot 42 fill to:2026-12-18 reason:"   "', "reason", "reason"),
    ('delay acme to:2026-12-18 reason:"late"', "item", "what moves"),
    ('delay acme Lot 42 to:someday reason:"late"', "to", "someday"),
    ('delay acme Lot 42 to:fri from:never reason:"late"', "from", "never"),
])
def test_delay_errors_name_the_field_and_show_the_form(text, field, words):
    error = parse_error(text)
    assert error.field == field
    assert words.lower() in error.message.lower()
    assert error.usage == USAGE["delay"]


def test_delay_reason_given_twice_is_an_error():
    error = parse_error('delay acme Lot 42 to:fri reason:"a" reason:"b"')
    assert "twice" in error.message
    assert error.usage == USAGE["delay"]


def test_delay_and_told_alone_open_their_forms():
    assert parse("delay") == OpenModal("delay")
    assert parse("told") == OpenModal("told")
    assert parse("  TOLD  ") == OpenModal("told")


@pytest.mark.parametrize("text, expected", [
    ("told #12", Told(12)),
    ("told 12", Told(12)),
    ('told #12 how:"call with Dr. Roe"', Told(12, "call with Dr. Roe")),
    ('told how:"email to QA" #7', Told(7, "email to QA")),
])
def test_told(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["told x12", "told #0", "told #12a", "told #-3", "told 12 13", "told \u0661\u0662"])
def test_told_with_a_bad_id_says_how_to_name_a_change(text):
    error = parse_error(text)
    assert error.field == "change"
    assert "#12" in error.message
    assert error.usage == USAGE["told"]


def test_told_with_an_unknown_option_is_an_error():
    error = parse_error('told #12 via:"call"')
    assert "`via:`" in error.message
    assert error.usage == USAGE["told"]


@pytest.mark.parametrize("text, expected", [
    ("changes", Changes()),
    ("changes open", Changes(open_only=True)),
    ("changes OPEN", Changes(open_only=True)),
    ("changes acme", Changes(client="acme")),
    ("changes acme open", Changes(client="acme", open_only=True)),
    ('changes "Acme Bio" open', Changes(client="Acme Bio", open_only=True)),
    ("changes Acme Bio", Changes(client="Acme Bio")),
    ('changes "open"', Changes(client="open")),  # a client named Open, quoted
])
def test_changes(text, expected):
    assert parse(text) == expected


# === forms =============================================================================================


def text_input(value):
    return {"value": {"type": "plain_text_input", "value": value}}


def static_select(value):
    option = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
    return {"value": {"type": "static_select", "selected_option": option}}


def datepicker(date):
    return {"value": {"type": "datepicker", "selected_date": date}}


def delay_state(**overrides) -> dict[str, Any]:
    state = {"client": static_select("acme"), "item": text_input("Lot 42 fill"), "project": text_input(None),
             "from": datepicker(None), "to": datepicker("2026-12-18"), "reason": text_input(" Media lot failed QC ")}
    state.update(overrides)
    return state


def form_error(name: str, state: dict) -> UserError:
    with pytest.raises(UserError) as caught:
        command_from_form(name, state)
    return caught.value


def test_form_delay_gives_the_same_command_as_the_text():
    typed = parse('delay acme Lot 42 fill to:2026-12-18 reason:"Media lot failed QC"')
    assert command_from_form("delay", delay_state()) == typed


def test_form_delay_with_from_and_project():
    command = command_from_form("delay", delay_state(**{"from": datepicker("2026-12-11"),
                                                        "project": text_input("Q1 fill")}))
    assert command.old.resolve(TODAY) == dt.date(2026, 12, 11)
    assert command.to.resolve(TODAY) == dt.date(2026, 12, 18)
    assert command.project == "Q1 fill"


@pytest.mark.parametrize("block_id", ["client", "item", "to", "reason"])
def test_form_delay_required_inputs_name_their_block(block_id):
    empty = {"client": static_select(None), "item": text_input("  "), "to": datepicker(None),
             "reason": text_input("   ")}
    error = form_error("delay", delay_state(**{block_id: empty[block_id]}))
    assert error.field == block_id


def test_form_delay_reason_missing_from_the_state_is_required():
    state = delay_state()
    del state["reason"]
    error = form_error("delay", state)
    assert error.field == "reason"
    assert "reason is required" in error.message.lower()


def test_form_told():
    state = {"change": static_select("12"), "how": text_input("call with Dr. Roe")}
    assert command_from_form("told", state) == Told(12, "call with Dr. Roe")
    assert command_from_form("told", {"change": static_select("#3"), "how": text_input("")}) == Told(3)


def test_form_told_needs_a_change():
    assert form_error("told", {"change": static_select(None)}).field == "change"
    assert form_error("told", {"change": static_select("x12")}).field == "change"


# === Block Kit builders ==================================================================================


def make_client(**fields: Any) -> Client:
    values: dict[str, Any] = dict(id=1, team_id=TEAM, key="acme", name="Acme Biologics", owner_user_id="U0ANA",
                                  internal_channel_id="C0ACMEINT", shared_channel_id="C0ACMESHARED",
                                  cadence_days=14, timezone="Europe/Berlin", archived_at=None, archived_by=None,
                                  created_by="U0ANA")
    values.update(fields)
    return Client(**values)


def make_change(**fields: Any) -> ScheduleChange:
    values: dict[str, Any] = dict(id=7, team_id=TEAM, client_id=1, item="Lot 42 fill", project=None,
                                  old_date=dt.date(2026, 12, 11), new_date=dt.date(2026, 12, 18),
                                  reason="Media lot failed release testing", logged_by="U0BO",
                                  logged_at=berlin(11, 30, 10), surface="slash_command", told_at=None,
                                  told_by=None, told_how=None, told_text=None)
    values.update(fields)
    return ScheduleChange(**values)




def buttons(message) -> list[dict]:
    return [element for block in message.blocks if block["type"] == "actions" for element in block["elements"]]


def shown(message) -> str:
    return message_text(message.as_kwargs())


@pytest.mark.parametrize("days, text", [
    (7, "slips 7 days"),
    (1, "slips 1 day"),
    (-1, "pulled in 1 day"),
    (-4, "pulled in 4 days"),
    (None, "previous date not given"),
])
def test_slip_text(days, text):
    assert blocks.slip_text(days) == text


def test_announcement_has_both_buttons_with_the_change_id_and_mentions_the_owner():
    message = blocks.announcement(make_change(), make_client(), SlipHistory(0, 0))
    text = shown(message)
    assert "#7" in text
    assert "Acme Biologics" in text and "Lot 42 fill" in text
    assert "Sat 2026-12-11" not in text and "Fri 2026-12-11" in text and "Fri 2026-12-18" in text
    assert "slips 7 days" in text
    assert "Media lot failed release testing" in text
    assert "<@U0ANA>" in text  # the owner is asked to tell the client
    assert "<@U0BO>" in text  # who logged it
    assert [(b["action_id"], b["value"]) for b in buttons(message)] == [
        (ActionId.MARK_TOLD, "7"), (ActionId.DRAFT, "7"), (ActionId.EDIT_RECORD, "#7")]
    assert "moved" not in text  # no history line the first time
    assert message.text.startswith("Schedule change #7 for Acme Biologics")


def test_announcement_without_an_owner_says_so():
    text = shown(blocks.announcement(make_change(), make_client(owner_user_id=None), SlipHistory(0, 0)))
    assert "Nobody owns this client" in text
    assert "<@None>" not in text


def test_announcement_of_a_change_with_no_old_date():
    text = shown(blocks.announcement(make_change(old_date=None), make_client(), SlipHistory(0, 0)))
    assert "new date *Fri 2026-12-18* (previous date not given)" in text


def test_announcement_once_told_has_no_buttons_and_says_who_told_the_client():
    change = make_change(told_at=dt.datetime(2026, 11, 30, 13, 5, tzinfo=UTC), told_by="U0ANA",
                         told_how="call with Dr. Roe")
    message = blocks.announcement(change, make_client(), SlipHistory(0, 0))
    assert buttons(message) == []
    text = shown(message)
    assert "Client told by <@U0ANA> on 2026-11-30 13:05 UTC" in text
    assert "call with Dr. Roe" in text


def test_announcement_shows_the_items_earlier_slips():
    once = shown(blocks.announcement(make_change(), make_client(), SlipHistory(1, 5)))
    assert "moved once before (+5 days in total)" in once
    twice = shown(blocks.announcement(make_change(), make_client(), SlipHistory(3, -2)))
    assert "moved 3 times before (-2 days in total)" in twice


def test_announcement_escapes_what_users_typed():
    change = make_change(item=NASTY, reason=NASTY, project=NASTY)
    message = blocks.announcement(change, make_client(name=NASTY), SlipHistory(0, 0))
    texts = mrkdwn_texts(message.blocks)
    joined = "\n".join(texts)
    assert NASTY not in joined
    assert joined.count(NASTY_ESCAPED) == 4  # client, item, project, reason
    assert "<!channel>" not in joined


@pytest.mark.parametrize("build", [
    lambda c, k: blocks.followup_nudge(c, k, 4.2),
    lambda c, k: blocks.followup_escalation(c, k, 8.0),
    lambda c, k: blocks.change_recorded(c, k, SlipHistory(1, 3)),
    lambda c, k: blocks.told_notice(c, k),
    lambda c, k: blocks.told_recorded(c, k),
])
def test_every_change_message_escapes_what_users_typed(build):
    change = make_change(item=NASTY, reason=NASTY, told_at=utcnow(), told_by="U0ANA", told_how=NASTY)
    joined = "\n".join(mrkdwn_texts(build(change, make_client(name=NASTY)).blocks))
    assert "<!channel>" not in joined
    assert NASTY_ESCAPED in joined


def test_followup_nudge_mentions_the_owner_with_the_buttons():
    message = blocks.followup_nudge(make_change(), make_client(), 4.0)
    text = shown(message)
    assert "<@U0ANA>" in text and "#7" in text and "4 business hours" in text
    assert [(b["action_id"], b["value"]) for b in buttons(message)] == [
        (ActionId.MARK_TOLD, "7"), (ActionId.DRAFT, "7")]


def test_followup_escalation_names_the_owner_and_the_reason():
    text = shown(blocks.followup_escalation(make_change(), make_client(), 8.0))
    assert "Escalation" in text and "#7" in text and "8 business hours" in text
    assert "Owner: <@U0ANA>" in text
    assert "Media lot failed release testing" in text


def test_changes_list_escapes_reasons_and_marks_the_untold():
    told = make_change(id=8, reason="fine", told_at=dt.datetime(2026, 12, 1, 9, tzinfo=UTC), told_by="U0ANA")
    untold = make_change(id=7, reason=NASTY)
    message = blocks.changes_list([told, untold], {1: make_client()}, title="All clients: schedule changes",
                                  one_client=False)
    joined = "\n".join(mrkdwn_texts(message.blocks))
    assert NASTY not in joined and NASTY_ESCAPED in joined
    assert "not told yet" in joined
    assert "told by <@U0ANA> 2026-12-01" in joined
    assert "Acme Biologics" in joined
    assert message.text == "All clients: schedule changes: 2, 1 not told yet"


def test_changes_list_empty():
    message = blocks.changes_list([], {}, title="Acme Biologics: open schedule changes", one_client=True)
    assert message.text == "Acme Biologics: open schedule changes: none."


def test_draft_text_is_client_facing():
    change = make_change(project="Q1 fill", told_how="internal note: blame supplier")
    client = make_client()
    draft = blocks.draft_text(change, client)
    assert "Acme Biologics" in draft
    assert "Lot 42 fill" in draft and "Q1 fill" in draft
    assert "Friday 18 December 2026" in draft
    assert "Friday 11 December 2026" in draft
    assert "Media lot failed release testing" in draft
    for internal in ("U0BO", "U0ANA", "C0ACMEINT", "C0ACMESHARED", "internal", "Internal", "<@", "<#",
                     "#7", "slack", "blame supplier"):
        assert internal not in draft, internal


def test_draft_text_without_an_old_date_says_only_the_new_one():
    draft = blocks.draft_text(make_change(old_date=None), make_client())
    assert "previously" not in draft
    assert "Friday 18 December 2026" in draft


def test_draft_modal_prefills_the_draft_and_says_where_it_goes():
    view = blocks.draft_modal(make_change(), make_client())
    assert view["callback_id"] == CallbackId.DRAFT
    assert json.loads(view["private_metadata"]) == {"change_id": 7}
    [field] = [block for block in view["blocks"] if block["type"] == "input"]
    assert field["block_id"] == "draft"
    assert field["element"]["initial_value"] == blocks.draft_text(make_change(), make_client())
    assert "<#C0ACMESHARED>" in json.dumps(view)
    alone = json.dumps(blocks.draft_modal(make_change(), make_client(shared_channel_id=None)))
    assert "no shared channel" in alone


def test_draft_modal_keeps_a_long_draft_within_the_input_limit():
    view = blocks.draft_modal(make_change(reason="x" * 2000, item="y" * 300), make_client(name="z" * 200))
    [field] = [block for block in view["blocks"] if block["type"] == "input"]
    assert len(field["element"]["initial_value"]) <= blocks.DRAFT_INPUT_LIMIT


# === health ===============================================================================================


def test_health_without_untold_changes_is_the_contact_health():
    health = client_health(TODAY, 14, TODAY, open_changes=[], now=berlin(11, 30, 12), calendar=BERLIN_CALENDAR)
    assert health.level == GREEN


def test_health_with_an_untold_change_is_at_least_amber_and_says_why():
    change = make_change(logged_at=berlin(11, 30, 10))
    health = client_health(TODAY, 14, TODAY, open_changes=[change], now=berlin(11, 30, 11), calendar=BERLIN_CALENDAR)
    assert health.level == AMBER
    assert reason(health).startswith("1 schedule change not told to the client; ")
    assert "last contact today" in reason(health)


def test_health_is_red_after_eight_business_hours_untold():
    change = make_change(logged_at=berlin(11, 30, 10))
    almost = client_health(TODAY, 14, TODAY, open_changes=[change], now=berlin(12, 1, 9, 59), calendar=BERLIN_CALENDAR)
    assert almost.level == AMBER
    red = client_health(TODAY, 14, TODAY, open_changes=[change], now=berlin(12, 1, 10), calendar=BERLIN_CALENDAR)
    assert red.level == RED
    assert "1 schedule change not told to the client for 8 business hours" in reason(red)


def test_health_counts_business_hours_not_the_clock():
    change = make_change(logged_at=berlin(12, 4, 16))  # Friday 16:00
    health = client_health(dt.date(2026, 12, 7), 14, dt.date(2026, 12, 7), open_changes=[change],
                           now=berlin(12, 7, 10), calendar=BERLIN_CALENDAR)  # 66 clock hours, 2 business hours
    assert health.level == AMBER


def test_health_counts_from_the_oldest_untold_change():
    old = make_change(id=1, logged_at=berlin(11, 30, 10))
    new = make_change(id=2, logged_at=berlin(12, 1, 9, 30))
    health = client_health(TODAY, 14, TODAY, open_changes=[new, old], now=berlin(12, 1, 10), calendar=BERLIN_CALENDAR)
    assert health.level == RED
    assert reason(health).startswith("2 schedule changes not told to the client for 8 business hours")


def test_health_keeps_the_worse_of_contact_and_changes():
    change = make_change(logged_at=berlin(11, 30, 10))
    stale = TODAY - dt.timedelta(days=40)
    health = client_health(stale, 14, TODAY, open_changes=[change], now=berlin(11, 30, 11), calendar=BERLIN_CALENDAR)
    assert health.level == RED
    assert "not told to the client" in reason(health) and "more than twice the 14d cadence" in reason(health)


def test_health_rules_explain_the_untold_changes():
    rules = " ".join(HEALTH_RULES)
    assert "schedule change not yet told to the client" in rules
    assert "8 business hours" in rules


# === services, on a real database ===========================================================================


def seed(session, name: str = "Acme Biologics") -> Client:
    return add_client(session, ANA, name, owner_user_id="U0ANA", internal_channel_id="C0ACMEINT",
                      timezone="Europe/Berlin")


def delay(session, client: Client, *, item: str = "Lot 42 fill", to: dt.date, old: dt.date | None = None,
          reason: str = "Media lot failed QC", today: dt.date = TODAY, project: str | None = None) -> ScheduleChange:
    return record_change(session, ANA, client, item=item, new_date=to, old_date=old, reason=reason, today=today,
                         project=project)


def service_error(call, *args, **kwargs) -> UserError:
    with pytest.raises(UserError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_record_change_stores_what_was_given_and_audits_it(database):
    with database.transaction() as session:
        client = seed(session)
        change = delay(session, client, item="  Lot 42   fill ", to=dt.date(2026, 12, 18), old=dt.date(2026, 12, 11),
                       reason="  Media lot failed QC  ", project="Q1")
        change_id, client_id = change.id, client.id
    with database.transaction() as session:
        stored = session.get(ScheduleChange, change_id)
        assert (stored.team_id, stored.client_id, stored.item, stored.project) == (TEAM, client_id, "Lot 42 fill", "Q1")
        assert (stored.old_date, stored.new_date, stored.slip_days) == (dt.date(2026, 12, 11), dt.date(2026, 12, 18), 7)
        assert stored.reason == "Media lot failed QC"
        assert (stored.logged_by, stored.surface) == ("U0ANA", "slash_command")
        assert stored.told_at is None and stored.logged_at.tzinfo is not None
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "change.record"))
        assert (event.entity_type, event.entity_id, event.client_id, event.actor_user_id) == (
            "schedule_changes", change_id, client_id, "U0ANA")
        assert event.before is None
        assert event.after["new_date"] == "2026-12-18" and event.after["reason"] == "Media lot failed QC"


def test_record_change_defaults_the_old_date_to_the_items_last_new_date_ignoring_case(database):
    with database.transaction() as session:
        acme, other = seed(session), seed(session, "Borealis Pharma")
        delay(session, acme, item="Lot 42 fill", to=dt.date(2026, 12, 18), old=dt.date(2026, 12, 11))
        delay(session, acme, item="Lot 42 fill", to=dt.date(2026, 12, 22))
        third = delay(session, acme, item="LOT 42  FILL", to=dt.date(2026, 12, 20))
        assert third.old_date == dt.date(2026, 12, 22)
        assert third.slip_days == -2
        assert delay(session, acme, item="Lot 43 fill", to=dt.date(2026, 12, 20)).old_date is None
        assert delay(session, other, item="Lot 42 fill", to=dt.date(2026, 12, 20)).old_date is None
        # An explicit from: wins over the history.
        assert delay(session, acme, item="lot 42 fill", to=dt.date(2027, 1, 8),
                     old=dt.date(2027, 1, 4)).old_date == dt.date(2027, 1, 4)


def test_record_change_refuses_to_equal_to_from(database):
    with database.transaction() as session:
        client = seed(session)
        error = service_error(delay, session, client, to=dt.date(2026, 12, 18), old=dt.date(2026, 12, 18))
        assert error.field == "to"
        assert "nothing moves" in error.message
        delay(session, client, to=dt.date(2026, 12, 18), old=dt.date(2026, 12, 11))
        # The old date taken from the item's last change counts too.
        error = service_error(delay, session, client, item="lot 42 FILL", to=dt.date(2026, 12, 18))
        assert error.field == "to"


def test_record_change_refuses_a_new_date_in_the_past(database):
    with database.transaction() as session:
        client = seed(session)
        error = service_error(delay, session, client, to=TODAY - dt.timedelta(days=1))
        assert error.field == "to"
        assert "in the past" in error.message and "Sun 2026-11-29" in error.message
        assert delay(session, client, to=TODAY).new_date == TODAY  # today is not the past


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_record_change_requires_a_reason(database, reason):
    with database.transaction() as session:
        client = seed(session)
        assert service_error(delay, session, client, to=dt.date(2026, 12, 18), reason=reason).field == "reason"


def test_record_change_refuses_an_overlong_reason_and_an_empty_item(database):
    with database.transaction() as session:
        client = seed(session)
        assert service_error(delay, session, client, to=dt.date(2026, 12, 18), reason="x" * 2001).field == "reason"
        assert service_error(delay, session, client, item="   ", to=dt.date(2026, 12, 18)).field == "item"


def test_record_change_refuses_an_overlong_project_or_item_with_a_user_error(database):
    """The typed command does not limit `project:`; the database column does (PostgreSQL would raise)."""
    with database.transaction() as session:
        client = seed(session)
        assert service_error(delay, session, client, to=dt.date(2026, 12, 18), project="p" * 201).field == "project"
        assert service_error(delay, session, client, to=dt.date(2026, 12, 18), item="i" * 301).field == "item"


def test_record_change_refuses_an_archived_client(database):
    with database.transaction() as session:
        client = seed(session)
        archive_client(session, ANA, client)
        error = service_error(delay, session, client, to=dt.date(2026, 12, 18))
        assert error.field == "client"
        assert "archived" in error.message


def test_slip_history_counts_and_sums_the_items_earlier_changes(database):
    with database.transaction() as session:
        client = seed(session)
        first = delay(session, client, to=dt.date(2026, 12, 18))  # old date unknown: counted, not summed
        delay(session, client, to=dt.date(2026, 12, 22))  # +4
        delay(session, client, item="Lot 43 fill", to=dt.date(2027, 1, 22))  # another item
        delay(session, client, item="lot 42 FILL", to=dt.date(2026, 12, 20))  # -2
        last = delay(session, client, to=dt.date(2027, 1, 5))
        assert slip_history(session, client, first) == SlipHistory(0, 0)
        assert slip_history(session, client, last) == SlipHistory(3, 2)


def test_mark_told_records_who_when_how_and_audits_it(database):
    with database.transaction() as session:
        client = seed(session)
        change = delay(session, client, to=dt.date(2026, 12, 18))
        before = utcnow()
        mark_told(session, BO, change, how="  call with Dr. Roe ", text="Dear Acme team, ...")
        assert change.told_by == "U0BO"
        assert before <= change.told_at <= utcnow()
        assert change.told_how == "call with Dr. Roe"
        assert change.told_text == "Dear Acme team, ..."
        change_id = change.id
    with database.transaction() as session:
        stored = session.get(ScheduleChange, change_id)
        assert stored.told_at is not None and stored.told_by == "U0BO"
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "change.told"))
        assert (event.actor_user_id, event.surface, event.entity_id) == ("U0BO", "button", change_id)
        assert event.before["told_at"] is None and event.before["told_by"] is None
        assert event.after["told_by"] == "U0BO" and event.after["told_how"] == "call with Dr. Roe"
        assert event.after["told_at"] == stored.told_at.isoformat()
        assert list_changes(session, TEAM, open_only=True) == []
        assert open_changes_by_client(session, TEAM) == {}


def test_mark_told_with_an_empty_how_stores_none(database):
    with database.transaction() as session:
        change = delay(session, seed(session), to=dt.date(2026, 12, 18))
        mark_told(session, ANA, change, how="   ")
        assert change.told_how is None


def test_a_second_mark_told_names_when_and_by_whom(database):
    with database.transaction() as session:
        change = delay(session, seed(session), to=dt.date(2026, 12, 18))
        mark_told(session, BO, change, how="call with Dr. Roe")
        told_at = change.told_at
        error = service_error(mark_told, session, ANA, change, how="email")
        assert f"{told_at:%Y-%m-%d %H:%M} UTC" in error.message
        # Who told the client is data the reply renders (a mention in Slack), not markup in the service's words.
        assert error.user_id == "U0BO" and f"UTC by {USER} (call with Dr. Roe)" in error.message
        assert "<@" not in error.message
        assert "call with Dr. Roe" in error.message
        assert f"#{change.id}" in error.message
        assert change.told_by == "U0BO" and change.told_how == "call with Dr. Roe"  # unchanged
        assert service_error(check_open, change).message == error.message
        assert len(list(session.scalars(select(AuditEvent).where(AuditEvent.action == "change.told")))) == 1


def test_open_changes_are_listed_per_client_oldest_first(database):
    with database.transaction() as session:
        acme, borealis = seed(session), seed(session, "Borealis Pharma")
        a1 = delay(session, acme, to=dt.date(2026, 12, 18))
        b1 = delay(session, borealis, to=dt.date(2026, 12, 18))
        a2 = delay(session, acme, item="Lot 43", to=dt.date(2026, 12, 19))
        told = delay(session, acme, item="Lot 44", to=dt.date(2026, 12, 20))
        mark_told(session, ANA, told)
        assert open_changes_by_client(session, TEAM) == {acme.id: [a1, a2], borealis.id: [b1]}
        assert open_changes_by_client(session, "T0OTHER") == {}
        assert list_changes(session, TEAM, client=acme) == [told, a2, a1]
        assert list_changes(session, TEAM, client=acme, open_only=True) == [a2, a1]


def test_user_text_helpers_used_by_the_builders_escape():
    assert t.user_text(NASTY, 100) == NASTY_ESCAPED
