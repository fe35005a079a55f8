"""Client meetings end to end: `/cmo meeting add|list|cancel|skip|move`, their forms, the "Add to calendar"
button (an .ics file sent to whoever pressed it) and the "Log notes" button, and `/cmo help meeting`.

Signed slash commands, button presses and view submissions go into the real endpoint; the tests assert what
the user sees (the reply, Slack date tokens, modal views, the file Slack received) and the rows written
(meetings, meeting_exceptions, audit_events) — or that nothing at all was written on bad input.

Dates are computed from the real clock in the meeting's zone: "the next Wednesday" is whatever Wednesday
comes next when the test runs. An expected start is an independent computation (date + wall time in the
zone, with zoneinfo), so 10:00 Berlin must be 10:00 Berlin on both sides of a daylight-saving change."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import func, select

from bot.db.models import AuditEvent, Interaction, Meeting, MeetingException
from tests.commands_support import (
    assert_error,
    assert_no_raw_markup,
    channel_link,
    mention,
    opened_form,
    reply,
    shown,
    typed,
)
from tests.slackhttp import (
    date_picker,
    external_select,
    message_text,
    static_select,
    text_input,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TEN = dt.time(10, 0)
ANA = mention("U0ANA", "ana")
INTERNAL = "C0ACMEINT"
SHARED = "C0SHARED"
# The grammar lines as PRODUCT.md states them (move's usage adds `[from:<date>]` after this).
FORMS = {
    "add": '/cmo meeting add <client> "<title>" every:<week|2weeks|month|once> on:<mon..sun|date> at:<HH:MM> '
           "[tz:<IANA zone>] [for:<duration>] [remind:<24h,1h>] [channel:#chan]",
    "list": "/cmo meeting list [<client>]",
    "cancel": "/cmo meeting cancel #<id>",
    "skip": "/cmo meeting skip #<id> <date>",
    "move": "/cmo meeting move #<id> <date> at:<HH:MM>",
}
WEEKLY = 'acme "Quarterly review" every:week on:wed at:10:00'
DATE_TOKEN = re.compile(r"<!date\^(\d+)\^[^|>]*\|([^>]*)>")
WEDNESDAY, THURSDAY = 2, 3


# -- helpers -----------------------------------------------------------------------------------------------

def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today_in(zone: ZoneInfo) -> dt.date:
    return now().astimezone(zone).date()


def start(day: dt.date, at: dt.time, zone: ZoneInfo = BERLIN) -> dt.datetime:
    """The instant of a wall time in a zone (an independent oracle: what a calendar would say)."""
    return dt.datetime.combine(day, at, tzinfo=zone)


def stamp(day: dt.date, at: dt.time, zone: ZoneInfo = BERLIN) -> int:
    return int(start(day, at, zone).timestamp())


def days_ahead(matches: Callable[[dt.date], bool], *, at: dt.time = TEN, zone: ZoneInfo = BERLIN,
               count: int = 3) -> list[dt.date]:
    """The first `count` dates, from today in `zone`, that match and whose `at` is still ahead."""
    found, day, moment = [], today_in(zone), now()
    while len(found) < count:
        assert day < today_in(zone) + dt.timedelta(days=800), f"only {found} match"

        if matches(day) and start(day, at, zone) > moment:
            found.append(day)
        day += dt.timedelta(days=1)
    return found


def next_weekdays(weekday: int, count: int = 3, **kwargs) -> list[dt.date]:
    return days_ahead(lambda day: day.weekday() == weekday, count=count, **kwargs)


def date_tokens(text: str) -> list[tuple[int, str]]:
    """Slack date tokens `<!date^<unix ts>^<format>|<fallback>>` in a text: (ts, fallback)."""
    return [(int(ts), fallback) for ts, fallback in DATE_TOKEN.findall(text)]


def assert_starts(tokens: list[tuple[int, str]], days: list[dt.date], at: dt.time = TEN,
                  zone: ZoneInfo = BERLIN) -> None:
    """Each token is exactly `at` in `zone` on its day, and its fallback names the day, time and zone."""
    assert [ts for ts, _ in tokens] == [stamp(day, at, zone) for day in days], (tokens, days)
    for (_, fallback), day in zip(tokens, days, strict=True):
        assert fallback.startswith(f"{day:%a %Y-%m-%d} {at:%H:%M} "), fallback
        assert fallback.endswith(f"({zone.key})"), fallback


def raw_text(response) -> str:
    """The reply's text as Slack receives it (entities not rendered): date tokens are read from it."""
    return message_text(reply(response))


def add_acme(bot, *, tz: str = "Europe/Berlin") -> None:
    text = (f'client add "Acme Biologics" key:acme owner:{ANA} channel:{channel_link(INTERNAL, "acme-internal")}'
            + (f" tz:{tz}" if tz else ""))
    assert "Added" in shown(bot.command(text))


def add_meeting(bot, text: str, **kwargs):
    """`/cmo meeting add <text>` that must succeed (text as Slack sends it)."""
    response = bot.command("meeting add " + text, **kwargs)
    assert "added" in shown(response), shown(response)
    return response


def meetings(database) -> list[Meeting]:
    with database.transaction() as session:
        return list(session.scalars(select(Meeting).order_by(Meeting.id)))


def meeting(database, meeting_id: int = 1) -> Meeting:
    with database.transaction() as session:
        return session.get(Meeting, meeting_id)


def exceptions(database) -> list[MeetingException]:
    with database.transaction() as session:
        return list(session.scalars(select(MeetingException).order_by(MeetingException.id)))


def audit_events(database, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    with database.transaction() as session:
        return list(session.scalars(query))


def interactions(database) -> list[Interaction]:
    with database.transaction() as session:
        return list(session.scalars(select(Interaction).order_by(Interaction.id)))


def counts(database) -> dict[str, int]:
    with database.transaction() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Meeting, MeetingException, AuditEvent, Interaction)}


def buttons(payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(block_id, button) of every button in a message or view."""
    return [(block["block_id"], element) for block in payload.get("blocks") or [] if block["type"] == "actions"
            for element in block["elements"] if element["type"] == "button"]


def press(bot, slack, action_id: str, value: str, *, block_id: str = "meeting:1", user: str = "U0ANA",
          channel: str = "C0GENERAL"):
    """A button pressed on an ephemeral reply, as Slack posts the block_actions payload."""
    return bot.interactive({
        "type": "block_actions",
        "team": {"id": "T0ACME", "domain": "acme-cmo"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0ACME"},
        "api_app_id": "A0RAPPORT",
        "token": "legacy-verification-token",
        "trigger_id": bot.next_trigger_id(),
        "container": {"type": "message", "message_ts": "1732400000.000200", "channel_id": channel,
                      "is_ephemeral": True},
        "channel": {"id": channel, "name": "general"},
        "state": {"values": {}},
        "response_url": slack.response_url("button"),
        "actions": [{"type": "button", "action_id": action_id, "block_id": block_id, "value": value,
                     "text": {"type": "plain_text", "text": "button"}, "action_ts": f"{time.time():.6f}"}],
    })


def press_calendar_button(bot, slack, added_reply, *, user: str = "U0ANA"):
    """Press the "Add to calendar" button the add reply shows."""
    [(block_id, button)] = buttons(reply(added_reply))
    assert (button["text"]["text"], button["action_id"]) == ("Add to calendar", "meeting_calendar")
    response = press(bot, slack, button["action_id"], button["value"], block_id=block_id, user=user)
    assert (response.status, response.body) == (200, "")  # acknowledged at once; the file follows
    return response


def shared_calendar(slack, number: int = 1) -> tuple[dict[str, Any], icalendar.Calendar]:
    """The `number`-th file shared through files_upload_v2, and its content parsed as iCalendar."""
    slack.wait_for("files.completeUploadExternal", count=number)
    files = slack.shared_files()
    assert len(files) >= number, f"only {len(files)} files shared"
    shared = files[number - 1]
    return shared, icalendar.Calendar.from_ical(shared["content"])


def vevents(calendar: icalendar.Calendar) -> list[icalendar.Event]:
    return list(calendar.walk("VEVENT"))


def exdates(event: icalendar.Event) -> list[dt.datetime]:
    found = event.get("EXDATE")
    found = found if isinstance(found, list) else [found] if found is not None else []
    return [item.dt for group in found for item in group.dts]


def submit(bot, view: dict[str, Any], values: dict[str, dict[str, Any]], *, view_id: str = "V0MEETING1",
           user: str = "U0ANA"):
    return bot.submit_view({**view, "id": view_id}, values, user=user)


def timepicker(value: str | None) -> dict[str, Any]:
    return {"type": "timepicker", "selected_time": value}


def empty_text() -> dict[str, Any]:
    return {"type": "plain_text_input", "value": None}


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block["element"] for block in view["blocks"] if block["type"] == "input"}


def updated_view(response) -> dict[str, Any]:
    assert response.status == 200, response.body
    assert response.json["response_action"] == "update", response.json
    return response.json["view"]


def modal_errors(response) -> dict[str, str]:
    assert response.status == 200, response.body
    assert response.json["response_action"] == "errors", response.json
    return response.json["errors"]


def add_form_values(day: dt.date, *, every: str = "week", tz: str | None = None) -> dict[str, dict[str, Any]]:
    """The add form filled in as Slack sends its state: each element's own shape, empty inputs included."""
    return {
        "client": external_select("acme"),
        "title": text_input("Quarterly review"),
        "every": static_select(every),
        "on": date_picker(day.isoformat()),
        "at": timepicker("10:00"),
        "tz": text_input(tz) if tz else empty_text(),
        "for": static_select("90m"),
        "remind": text_input("24h,1h"),
        "channel": {"type": "conversations_select", "selected_conversation": None},
    }


@pytest.fixture
def acme(bot):
    """Acme Biologics (`acme`, owner ana, internal #acme-internal), in Europe/Berlin."""
    add_acme(bot)
    return bot


@pytest.fixture
def weekly(acme):
    """Meeting #1: Acme's quarterly review every Wednesday at 10:00 Berlin."""
    add_meeting(acme, typed(WEEKLY))
    return acme


# -- add -----------------------------------------------------------------------------------------------------

def test_add_weekly_meeting_shows_the_rule_next_dates_and_a_calendar_button(acme, database):
    response = acme.command("meeting add " + typed(WEEKLY))
    text, raw = shown(response), raw_text(response)

    assert "Meeting `#1` *Quarterly review* with *Acme Biologics* (`acme`)" in text
    assert "every Wednesday at 10:00 Europe/Berlin, 1 h." in text
    wednesdays = next_weekdays(WEDNESDAY)
    assert_starts(date_tokens(raw), wednesdays)  # each exactly 10:00 Berlin, whatever the season
    assert "Reminders 24 hours before, 1 hour before, in <#C0ACMEINT>" in text and "<@U0ANA>" in text
    [(block_id, button)] = buttons(reply(response))
    assert (button["text"]["text"], button["action_id"], button["value"]) == ("Add to calendar",
                                                                               "meeting_calendar", "1")

    [row] = meetings(database)
    assert (row.id, row.team_id, row.title, row.every, row.rule) == (1, "T0ACME", "Quarterly review", "week",
                                                                     "FREQ=WEEKLY;BYDAY=WE")
    assert (row.starts_on, row.at, row.timezone) == (wednesdays[0], TEN, "Europe/Berlin")
    assert (row.duration_minutes, row.reminder_minutes, row.channel_id) == (60, [1440, 60], None)
    assert (row.created_by, row.surface, row.cancelled_at) == ("U0ANA", "slash_command", None)
    [event] = audit_events(database, "meeting.add")
    assert (event.entity_type, event.entity_id, event.actor_user_id, event.surface) == ("meetings", 1, "U0ANA",
                                                                                         "slash_command")
    assert event.before is None
    assert event.after["rule"] == "FREQ=WEEKLY;BYDAY=WE" and event.after["timezone"] == "Europe/Berlin"


def _monthday() -> dt.date:
    return today_in(BERLIN) + dt.timedelta(days=10)


def _once() -> dt.date:
    return today_in(BERLIN) + dt.timedelta(days=5)


def _last_of_month(day: dt.date) -> bool:
    return (day + dt.timedelta(days=7)).month != day.month


RULES = {
    # id: (options after the title, the rule stored, the rule in words, the dates it falls on)
    "every 2 weeks": (lambda: "every:2weeks on:mon at:10:00", lambda: "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
                      lambda: "every 2 weeks on Monday at 10:00 Europe/Berlin",
                      lambda: [next_weekdays(0, 1)[0] + dt.timedelta(weeks=n) for n in (0, 2, 4)]),
    "first tuesday": (lambda: "every:month on:tue at:10:00", lambda: "FREQ=MONTHLY;BYDAY=1TU",
                      lambda: "the first Tuesday of every month at 10:00 Europe/Berlin",
                      lambda: days_ahead(lambda d: d.weekday() == 1 and d.day <= 7)),
    "last friday": (lambda: "every:month on:last-fri at:10:00", lambda: "FREQ=MONTHLY;BYDAY=-1FR",
                    lambda: "the last Friday of every month at 10:00 Europe/Berlin",
                    lambda: days_ahead(lambda d: d.weekday() == 4 and _last_of_month(d))),
    "same date monthly": (lambda: f"every:month on:{_monthday()} at:10:00",
                          lambda: f"FREQ=MONTHLY;BYMONTHDAY={_monthday().day}",
                          lambda: f"every month on the {_monthday().day}",
                          lambda: days_ahead(lambda d: d >= _monthday() and d.day == _monthday().day)),
    "once": (lambda: f"every:once on:{_once()} at:10:00", lambda: None,
             lambda: f"once, on {_once():%a %Y-%m-%d} at 10:00 Europe/Berlin",
             lambda: [_once()]),
}


@pytest.mark.parametrize("case", list(RULES))
def test_add_turns_every_and_on_into_the_rule(acme, database, case):
    options, rule, words, dates = (make() for make in RULES[case])
    response = acme.command("meeting add " + typed(f'acme "Supply review" {options}'))
    assert words in shown(response)
    assert_starts(date_tokens(raw_text(response)), dates)
    [row] = meetings(database)
    assert (row.rule, row.starts_on) == (rule, dates[0])
    assert [e.action for e in audit_events(database, "meeting.add")] == ["meeting.add"]


def test_a_meeting_more_than_a_year_ahead_shows_its_date(acme, database):
    day = today_in(BERLIN) + dt.timedelta(days=400)
    response = acme.command("meeting add " + typed(f'acme "Audit" every:once on:{day} at:10:00'))
    assert "Next: none" not in shown(response)
    assert_starts(date_tokens(raw_text(response)), [day])
    assert meeting(database).starts_on == day


def test_add_with_zone_duration_reminders_and_channel(acme, database):
    ops = channel_link("C0OPS", "acme-ops")
    response = acme.command("meeting add " + typed('acme "Ops sync" every:week on:thu at:09:30 tz:America/New_York '
                                                   "for:90m remind:2d,30m") + f" channel:{ops}")
    text = shown(response)
    assert "every Thursday at 09:30 America/New_York, 1 h 30 min." in text
    assert "Reminders 2 days before, 30 minutes before, in <#C0OPS>" in text
    half_past_nine = dt.time(9, 30)
    assert_starts(date_tokens(raw_text(response)), next_weekdays(THURSDAY, at=half_past_nine, zone=NEW_YORK),
                  half_past_nine, NEW_YORK)
    [row] = meetings(database)
    assert (row.timezone, row.at, row.duration_minutes) == ("America/New_York", half_past_nine, 90)
    assert (row.reminder_minutes, row.channel_id) == ([2880, 30], "C0OPS")


def test_add_with_remind_none_has_no_reminders(acme, database):
    response = acme.command("meeting add " + typed(WEEKLY + " remind:none"))
    assert "No reminders (`remind:none`)." in shown(response)
    assert "Reminders 24 hours" not in shown(response)
    assert meeting(database).reminder_minutes == []


def test_without_tz_the_meeting_takes_the_workspace_zone_when_the_client_has_none(bot, database):
    add_acme(bot, tz="")
    response = add_meeting(bot, typed(WEEKLY))
    assert "every Wednesday at 10:00 UTC" in shown(response)
    utc = ZoneInfo("UTC")
    assert_starts(date_tokens(raw_text(response)), next_weekdays(WEDNESDAY, zone=utc), TEN, utc)
    assert meeting(database).timezone == "UTC"


def test_a_title_with_markup_is_stored_whole_and_shown_escaped(acme, database):
    title = "Review <!channel> <@U123> & co"
    response = acme.command("meeting add " + typed(f'acme "{title}" every:week on:wed at:10:00'))
    assert f"*{title}*" in shown(response)
    assert_no_raw_markup(response, "<!channel>", "& co")  # the mention renders as one (issue 11), not these
    assert meeting(database).title == title

    listed = acme.command("meeting list")
    assert f"*{title}*" in shown(listed)
    assert_no_raw_markup(listed, "<!channel>", "& co")


def test_a_mention_picked_into_the_title_shows_as_a_mention(acme, database):
    response = acme.command(f'meeting add acme "Review with {mention("U0BOB", "bob")}" every:week on:wed at:10:00')
    assert "*Review with <@U0BOB>*" in shown(response)  # rendered as a mention (issue 11), its label dropped
    assert_no_raw_markup(response, "<@U0BOB|")
    assert meeting(database).title == "Review with <@U0BOB|bob>"


def test_a_channel_shared_with_a_client_is_refused(acme, database):
    acme.command(f"client set acme shared:{channel_link(SHARED, 'acme-shared')}")
    before = counts(database)
    response = acme.command("meeting add " + typed(WEEKLY) + f" channel:{channel_link(SHARED, 'acme-shared')}")
    assert_error(response, "That channel is shared with Acme Biologics", "never go there", form=FORMS["add"])
    assert counts(database) == before


# -- bad input -----------------------------------------------------------------------------------------------

def _days_ago(days: int) -> str:
    return f"{today_in(BERLIN) - dt.timedelta(days=days)}"


def _thursday_ahead() -> str:
    return f"{next_weekdays(THURSDAY, 1)[0]}"


BAD_INPUT = {
    # id: (the command after `/cmo`, what the error must say, the right form shown)
    "unknown zone": (lambda: WEEKLY + " tz:Mars/Base", ["`Mars/Base` is not an IANA time zone"], "add"),
    "hour 25": (lambda: WEEKLY.replace("at:10:00", "at:25:00"), ["`25:00` is not a time of day", "HH:MM"], "add"),
    "no such day": (lambda: WEEKLY.replace("on:wed", "on:funday"), ["`on:funday` is neither a weekday"], "add"),
    "unknown repeat": (lambda: WEEKLY.replace("every:week", "every:fortnightly"),
                       ["`every:fortnightly` is not a repeat I know", "every:2weeks"], "add"),
    "reminder in words": (lambda: WEEKLY + " remind:soon", ["`remind:soon` is not a lead time", "30m"], "add"),
    "reminder at the start": (lambda: WEEKLY + " remind:0h", ["`remind:0h` would remind as the meeting starts"],
                              "add"),
    "too long": (lambda: WEEKLY + " for:13h", ["`for:13h` is longer than 12 hours"], "add"),
    "no time": (lambda: WEEKLY.replace(" at:10:00", ""), ["Say when with `at:`"], "add"),
    "no title": (lambda: "acme every:week on:wed at:10:00", ["Give the meeting a title"], "add"),
    "unknown client": (lambda: WEEKLY.replace("acme", "zeta"), ["No client matches `zeta`", "Acme Biologics"],
                       "add"),
    "once in the past": (lambda: f'acme "Audit" every:once on:{_days_ago(2)} at:10:00',
                         ["is in the past", "a meeting that happens once must be ahead"], "add"),
    "cancel unknown": (lambda: "#999", ["There is no meeting #999"], "cancel"),
    "skip unknown": (lambda: f"#999 {_thursday_ahead()}", ["There is no meeting #999"], "skip"),
    "move to the past": (lambda: f"#1 {_days_ago(1)} at:10:00", ["is in the past: move it ahead"], "move"),
    "move into the clock change": (lambda: "#1 2027-03-28 at:02:30",
                                   ["02:30 does not exist on Sun 2027-03-28 in Europe/Berlin",
                                    "the clocks go forward"], "move"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_a_clear_error_and_writes_nothing(weekly, database, case):
    command, fragments, form = BAD_INPUT[case]
    before = counts(database)
    assert before["meetings"] == 1
    # Titles and options are typed; Slack escapes what was typed.
    response = weekly.command(f"meeting {form} " + typed(command()))
    assert_error(response, *fragments, form=FORMS[form])
    assert counts(database) == before


def test_skipping_a_date_the_meeting_is_not_on_lists_its_next_dates(weekly, database):
    thursday = next_weekdays(THURSDAY, 1)[0]
    before = counts(database)
    response = weekly.command(f"meeting skip #1 {thursday}")
    wednesdays = ", ".join(f"{day:%a %Y-%m-%d}" for day in next_weekdays(WEDNESDAY, 4))
    assert_error(response, f"The meeting is not on {thursday:%a %Y-%m-%d}", f"Its next dates: {wednesdays}.",
                 form=FORMS["skip"])
    assert counts(database) == before


def test_cancelling_a_cancelled_meeting_says_when_and_by_whom(weekly, database, slack):
    slack.admins.add("U0BOB")  # cancelling is the client's owner's or a manager's: a Slack admin is one
    assert "Cancelled meeting `#1` *Quarterly review*" in shown(weekly.command("meeting cancel #1", user="U0BOB"))
    row = meeting(database)
    assert row.cancelled_by == "U0BOB"
    before = counts(database)
    for command in ("meeting cancel 1", f"meeting skip #1 {next_weekdays(WEDNESDAY, 1)[0]}"):
        response = weekly.command(command)
        assert_error(response, f"Meeting #1 was cancelled on {row.cancelled_at:%a %Y-%m-%d} by <@U0BOB>",
                     form=FORMS[command.split()[1]])
    assert counts(database) == before
    assert meeting(database).cancelled_by == "U0BOB"


# -- list ----------------------------------------------------------------------------------------------------

def test_list_shows_each_active_meeting_with_its_next_occurrence(weekly, database):
    assert "Added" in shown(weekly.command('client add "Beta Labs" key:beta tz:America/New_York'))
    add_meeting(weekly, typed('beta "Tech transfer" every:week on:thu at:09:30'))
    add_meeting(weekly, typed('acme "Old sync" every:week on:fri at:11:00'))
    weekly.command("meeting cancel #3")

    response = weekly.command("meeting list")
    text = shown(response)
    assert "All clients: meetings (2)" in text
    assert "`#1` *Quarterly review* · *Acme Biologics* (`acme`) · every Wednesday at 10:00 Europe/Berlin" in text
    assert "`#2` *Tech transfer* · *Beta Labs* (`beta`) · every Thursday at 09:30 America/New_York" in text
    assert "Old sync" not in text and "#3" not in text
    tokens = dict((ts, fallback) for ts, fallback in date_tokens(raw_text(response)))
    assert stamp(next_weekdays(WEDNESDAY, 1)[0], TEN) in tokens
    assert stamp(next_weekdays(THURSDAY, 1, at=dt.time(9, 30), zone=NEW_YORK)[0], dt.time(9, 30), NEW_YORK) in tokens
    assert len(tokens) == 2

    only_beta = shown(weekly.command("meeting list beta"))
    assert "Beta Labs: meetings (1)" in only_beta
    assert "Tech transfer" in only_beta and "Quarterly review" not in only_beta


def test_list_with_nothing_planned_says_how_to_plan_one(acme, database):
    for command, scope in (("meeting list", "All clients"), ("meeting list acme", "Acme Biologics")):
        text = shown(acme.command(command))
        assert f"{scope}: meetings: none" in text
        assert 'No meetings planned. Add one: `/cmo meeting add <client> "<title>" every:week' in text
    assert counts(database)["meetings"] == 0


def test_list_when_every_meeting_was_cancelled_is_empty(weekly):
    weekly.command("meeting cancel #1")
    assert "No meetings planned" in shown(weekly.command("meeting list"))


def test_cancel_keeps_the_meeting_and_records_who(weekly, database, slack):
    slack.admins.add("U0BOB")  # cancelling is the client's owner's or a manager's: a Slack admin is one
    response = weekly.command("meeting cancel #1", user="U0BOB")
    assert "Cancelled meeting `#1` *Quarterly review* with *Acme Biologics* (`acme`)." in shown(response)
    row = meeting(database)
    assert row.cancelled_by == "U0BOB" and row.cancelled_at is not None
    [event] = audit_events(database, "meeting.cancel")
    assert (event.entity_id, event.actor_user_id) == (1, "U0BOB")
    assert event.before["cancelled_at"] is None and event.after["cancelled_at"] is not None


# -- skip and move -------------------------------------------------------------------------------------------

def test_skip_one_occurrence_and_the_list_moves_on(weekly, database):
    first, second, third = next_weekdays(WEDNESDAY)
    response = weekly.command(f"meeting skip #1 {first}")
    text = shown(response)
    assert "Skipped the *Quarterly review* with *Acme Biologics* (`acme`) of " in text
    assert "no reminder, no prompt for it. Next: " in text
    assert_starts(date_tokens(raw_text(response)), [first, second])  # the skipped one, then the next

    [row] = exceptions(database)
    assert (row.meeting_id, row.occurrence_on, row.kind, row.moved_to, row.created_by) == (1, first, "skip", None,
                                                                                          "U0ANA")
    [event] = audit_events(database, "meeting.skip")
    assert event.after["occurrence_on"] == first.isoformat()

    assert_starts(date_tokens(raw_text(weekly.command("meeting list"))), [second])
    weekly.command(f"meeting skip #1 {second}")
    assert_starts(date_tokens(raw_text(weekly.command("meeting list"))), [third])


def test_skipping_the_same_date_twice_is_refused(weekly, database):
    first = next_weekdays(WEDNESDAY, 1)[0]
    weekly.command(f"meeting skip #1 {first}")
    before = counts(database)
    assert_error(weekly.command(f"meeting skip #1 {first}"), f"The meeting of {first:%a %Y-%m-%d} is already "
                 "skipped", form=FORMS["skip"])
    assert counts(database) == before


def test_move_the_next_occurrence_to_another_day_and_time(weekly, database):
    first, second = next_weekdays(WEDNESDAY, 2)
    day_after, two_pm = first + dt.timedelta(days=1), dt.time(14, 0)
    response = weekly.command(f"meeting move #1 {day_after} at:14:00")
    text = shown(response)
    assert "Moved the *Quarterly review* with *Acme Biologics* (`acme`) of " in text
    assert "Only this one moves; its reminders follow it." in text
    [before, after] = date_tokens(raw_text(response))
    assert_starts([before], [first])
    assert_starts([after], [day_after], two_pm)

    [row] = exceptions(database)
    assert (row.occurrence_on, row.kind, row.moved_to) == (first, "move", start(day_after, two_pm))
    [event] = audit_events(database, "meeting.move")
    assert event.before["starts_at"] == start(first, TEN).astimezone(dt.UTC).isoformat()
    assert event.after["starts_at"] == start(day_after, two_pm).astimezone(dt.UTC).isoformat()
    assert_starts(date_tokens(raw_text(weekly.command("meeting list"))), [day_after], two_pm)


def test_move_with_from_moves_that_occurrence(weekly, database):
    first, second = next_weekdays(WEDNESDAY, 2)
    friday, three_pm = second + dt.timedelta(days=2), dt.time(15, 0)
    response = weekly.command(f"meeting move #1 {friday} at:15:00 from:{second}")
    [before, after] = date_tokens(raw_text(response))
    assert_starts([before], [second])
    assert_starts([after], [friday], three_pm)
    [row] = exceptions(database)
    assert (row.occurrence_on, row.kind, row.moved_to) == (second, "move", start(friday, three_pm))
    assert_starts(date_tokens(raw_text(weekly.command("meeting list"))), [first])  # the next one stays


# -- forms ---------------------------------------------------------------------------------------------------

def test_meeting_add_bare_opens_the_form(acme, slack):
    view = opened_form(slack, acme.command("meeting add"))
    assert view["callback_id"] == "cmo:meeting add"
    assert view["title"]["text"] == "Plan a meeting"
    fields = inputs(view)
    assert list(fields) == ["client", "title", "every", "on", "at", "tz", "for", "remind", "channel"]
    assert {block_id: element["type"] for block_id, element in fields.items()} == {
        "client": "external_select", "title": "plain_text_input", "every": "static_select", "on": "datepicker",
        "at": "timepicker", "tz": "plain_text_input", "for": "static_select", "remind": "plain_text_input",
        "channel": "conversations_select",
    }
    assert [o["value"] for o in fields["every"]["options"]] == ["week", "2weeks", "month", "month-weekday", "once"]
    assert fields["at"]["initial_time"] == "10:00"
    assert fields["remind"]["initial_value"] == "24h,1h"


def test_submitting_the_add_form_creates_the_meeting(acme, slack, database):
    view = opened_form(slack, acme.command("meeting add"))
    wednesday = next_weekdays(WEDNESDAY, 1)[0]
    result = updated_view(submit(acme, view, add_form_values(wednesday)))
    assert result["title"]["text"] == "Plan a meeting"
    text = message_text(result)
    assert "Meeting `#1` *Quarterly review* with *Acme Biologics* (`acme`): every Wednesday at 10:00 " \
           "Europe/Berlin, 1 h 30 min." in text
    assert_starts(date_tokens(text), next_weekdays(WEDNESDAY))
    assert [button["action_id"] for _, button in buttons(result)] == ["meeting_calendar"]

    [row] = meetings(database)
    assert (row.rule, row.starts_on, row.at, row.timezone) == ("FREQ=WEEKLY;BYDAY=WE", wednesday, TEN,
                                                               "Europe/Berlin")
    assert (row.duration_minutes, row.reminder_minutes, row.surface) == (90, [1440, 60], "modal")
    [event] = audit_events(database, "meeting.add")
    assert event.surface == "modal"


def test_the_add_form_with_a_bad_zone_shows_the_error_under_tz(acme, slack, database):
    view = opened_form(slack, acme.command("meeting add"))
    wednesday = next_weekdays(WEDNESDAY, 1)[0]
    before = counts(database)
    errors = modal_errors(submit(acme, view, add_form_values(wednesday, tz="Mars/Base")))
    assert list(errors) == ["tz"]
    assert "Mars/Base is not an IANA time zone" in errors["tz"]
    assert counts(database) == before
    # Corrected and sent again (the same view), it goes through.
    updated_view(submit(acme, view, add_form_values(wednesday, tz="America/New_York")))
    assert meeting(database).timezone == "America/New_York"


def _nth_tuesday_ahead(nth: int) -> dt.date:
    """The next Tuesday (from tomorrow) that is the nth of its month (5: a fifth one)."""
    return days_ahead(lambda d: d.weekday() == 1 and (d.day - 1) // 7 + 1 == nth and d > today_in(BERLIN),
                      count=1)[0]


@pytest.mark.parametrize(("nth", "rule", "words"), [
    (2, "FREQ=MONTHLY;BYDAY=2TU", "the second Tuesday of every month"),
    (5, "FREQ=MONTHLY;BYDAY=-1TU", "the last Tuesday of every month"),
])
def test_the_month_weekday_choice_repeats_the_weekday_of_the_date_picked(acme, slack, database, nth, rule, words):
    picked = _nth_tuesday_ahead(nth)
    view = opened_form(slack, acme.command("meeting add"))
    result = updated_view(submit(acme, view, add_form_values(picked, every="month-weekday")))
    assert words in message_text(result)
    [row] = meetings(database)
    assert (row.every, row.rule, row.starts_on) == ("month", rule, picked)
    [first, *_] = date_tokens(message_text(result))
    assert_starts([first], [picked])


def test_the_month_choice_repeats_the_date_picked(acme, slack, database):
    picked = today_in(BERLIN) + dt.timedelta(days=9)
    view = opened_form(slack, acme.command("meeting add"))
    updated_view(submit(acme, view, add_form_values(picked, every="month")))
    assert meeting(database).rule == f"FREQ=MONTHLY;BYMONTHDAY={picked.day}"


@pytest.mark.parametrize(("subcommand", "fields"), [
    ("cancel", ["meeting"]),
    ("skip", ["meeting", "date"]),
    ("move", ["meeting", "from", "date", "at"]),
])
def test_cancel_skip_and_move_bare_open_forms_with_a_meeting_select(weekly, slack, subcommand, fields):
    view = opened_form(slack, weekly.command(f"meeting {subcommand}"))
    assert view["callback_id"] == f"cmo:meeting {subcommand}"
    found = inputs(view)
    assert list(found) == fields
    select_ = found["meeting"]
    assert select_["type"] == "static_select"
    assert [(o["value"], o["text"]["text"]) for o in select_["options"]] == [("1", "#1 Acme Biologics: "
                                                                                   "Quarterly review")]
    if "at" in found:
        assert found["at"]["type"] == "timepicker"


def test_meeting_forms_with_no_meeting_planned_say_how_to_add_one(acme, slack, database):
    response = acme.command("meeting skip")
    assert_error(response, "No meetings are planned", form=FORMS["skip"])
    assert slack.calls_to("views.open") == []


def test_submitting_the_skip_form_skips_the_date(weekly, slack, database):
    first, second = next_weekdays(WEDNESDAY, 2)
    view = opened_form(slack, weekly.command("meeting skip"))
    result = updated_view(submit(weekly, view, {"meeting": static_select("1"), "date": date_picker(str(first))}))
    assert "Skipped the *Quarterly review*" in message_text(result)
    assert_starts(date_tokens(message_text(result)), [first, second])
    [row] = exceptions(database)
    assert (row.occurrence_on, row.kind) == (first, "skip")


def test_submitting_the_move_form_moves_the_occurrence(weekly, slack, database):
    first, second = next_weekdays(WEDNESDAY, 2)
    thursday = second + dt.timedelta(days=1)
    view = opened_form(slack, weekly.command("meeting move"))
    result = updated_view(submit(weekly, view, {
        "meeting": static_select("1"), "from": date_picker(str(second)), "date": date_picker(str(thursday)),
        "at": timepicker("16:30")}))
    assert "Moved the *Quarterly review*" in message_text(result)
    [row] = exceptions(database)
    assert (row.occurrence_on, row.kind, row.moved_to) == (second, "move", start(thursday, dt.time(16, 30)))


def test_submitting_the_cancel_form_cancels(weekly, slack, database):
    view = opened_form(slack, weekly.command("meeting cancel"))
    result = updated_view(submit(weekly, view, {"meeting": static_select("1")}))
    assert "Cancelled meeting `#1`" in message_text(result)
    assert meeting(database).cancelled_by == "U0ANA"


# -- the "Add to calendar" button ----------------------------------------------------------------------------

def test_add_to_calendar_sends_the_ics_to_whoever_pressed_it(acme, slack, database):
    added = add_meeting(acme, typed(WEEKLY))
    first, second, third = next_weekdays(WEDNESDAY)
    acme.command(f"meeting skip #1 {second}")

    press_calendar_button(acme, slack, added, user="U0BOB")
    shared, calendar = shared_calendar(slack)
    [opened] = slack.calls_to("conversations.open")
    assert opened.args["users"] == "U0BOB"
    assert (shared["channel"], shared["filename"]) == ("D0BOB", "rapport-meeting-1.ics")
    assert shared["title"] == "Quarterly review — Acme Biologics"

    [event] = vevents(calendar)
    assert str(event["SUMMARY"]) == "Quarterly review — Acme Biologics"
    assert dict(event["RRULE"]) == {"FREQ": ["WEEKLY"], "BYDAY": ["WE"]}
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event["DTSTART"].dt == start(first, TEN)
    assert event["DTEND"].dt == start(first, dt.time(11, 0))
    assert exdates(event) == [start(second, TEN)]
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]

    # A second press: the same event (same UID), so a calendar updates it instead of doubling it.
    press_calendar_button(acme, slack, added, user="U0BOB")
    _, again = shared_calendar(slack, 2)
    assert [str(e["UID"]) for e in vevents(again)] == [str(event["UID"])]
    assert counts(database)["meeting_exceptions"] == 1


def test_a_moved_occurrence_is_an_override_in_the_calendar_file(acme, slack):
    added = add_meeting(acme, typed(WEEKLY))
    first, second = next_weekdays(WEDNESDAY, 2)
    thursday = second + dt.timedelta(days=1)
    acme.command(f"meeting move #1 {thursday} at:14:00 from:{second}")
    press_calendar_button(acme, slack, added)
    _, calendar = shared_calendar(slack)
    series, moved = vevents(calendar)
    assert str(moved["UID"]) == str(series["UID"])
    assert moved["RECURRENCE-ID"].dt == start(second, TEN)
    assert moved["DTSTART"].dt == start(thursday, dt.time(14, 0))
    assert exdates(series) == []


def test_a_skipped_one_off_meeting_is_exported_as_cancelled(acme, slack):
    day = today_in(BERLIN) + dt.timedelta(days=4)
    added = add_meeting(acme, typed(f'acme "Site visit" every:once on:{day} at:10:00'))
    press_calendar_button(acme, slack, added)
    _, calendar = shared_calendar(slack)
    [event] = vevents(calendar)
    assert "RRULE" not in event and event["DTSTART"].dt == start(day, TEN)
    assert str(event.get("STATUS", "CONFIRMED")) != "CANCELLED"

    acme.command(f"meeting skip #1 {day}")
    press_calendar_button(acme, slack, added)
    _, calendar = shared_calendar(slack, 2)
    [event] = vevents(calendar)
    assert str(event["STATUS"]) == "CANCELLED"  # its only occurrence is skipped: not in anyone's calendar


@pytest.mark.parametrize("fault", [{"error": "internal_error"}, {"status": 500, "times": 2}],
                         ids=["slack error", "http 500 twice"])
def test_when_slack_does_not_take_the_file_the_presser_is_told(acme, slack, database, fault):
    added = add_meeting(acme, typed(WEEKLY))
    slack.fail("files.getUploadURLExternal", **fault)
    press_calendar_button(acme, slack, added)
    [told] = slack.wait_for("response_url")
    assert told.args["response_type"] == "ephemeral" and told.args["replace_original"] is False
    assert "Slack did not take the calendar file (internal_error). Press the button again" in told.args["text"]
    assert ":warning:" in message_text(told.args)
    assert slack.shared_files() == []
    assert slack.calls_to("files.completeUploadExternal") == []


def test_the_calendar_button_of_a_cancelled_meeting_says_so(acme, slack):
    added = add_meeting(acme, typed(WEEKLY))
    acme.command("meeting cancel #1")
    press_calendar_button(acme, slack, added)
    [told] = slack.wait_for("response_url")
    assert told.args["response_type"] == "ephemeral"
    assert "Meeting #1 was cancelled on" in told.args["text"]
    assert slack.calls_to("conversations.open") == [] and slack.shared_files() == []


# -- the "Log notes" button ----------------------------------------------------------------------------------

def test_log_notes_opens_the_log_form_filled_with_the_meeting_and_logs_it(weekly, slack, database):
    day = today_in(BERLIN) - dt.timedelta(days=1)  # the prompt comes after the meeting day
    response = press(weekly, slack, "meeting_log_notes", f"1:{day}", block_id="notes:1", channel=INTERNAL)
    assert (response.status, response.body) == (200, "")
    [opened] = slack.wait_for("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "cmo:log"
    fields = inputs(view)
    assert fields["client"]["initial_option"]["value"] == "acme"
    assert fields["kind"]["initial_option"]["value"] == "meeting"
    assert fields["on"]["initial_date"] == day.isoformat()
    summary = fields["summary"]["initial_value"]
    assert summary.startswith(f"Quarterly review ({day:%a %Y-%m-%d})")

    result = updated_view(submit(weekly, view, {
        "client": external_select("acme"), "kind": static_select("meeting"),
        "summary": text_input(summary + "Agreed the Q3 fill slots."), "on": date_picker(day.isoformat()),
        "with": empty_text(), "next": date_picker(None)}))
    assert ":white_check_mark: Logged for *Acme Biologics* (`acme`)" in message_text(result)
    assert "Agreed the Q3 fill slots." in message_text(result)
    [interaction] = interactions(database)
    assert (interaction.kind, interaction.occurred_on) == ("meeting", day)
    assert interaction.summary == f"Quarterly review ({day:%a %Y-%m-%d}): Agreed the Q3 fill slots."


# -- help ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("topic", ["meeting", "meetings"])
def test_help_meeting_shows_the_forms_and_how_it_works(bot, topic):
    text = shown(bot.command(f"help {topic}"))
    for form in FORMS.values():
        assert form in text
    assert "10:00 Berlin stays 10:00 Berlin across daylight-saving changes" in text
    assert "`on:last-fri`" in text and "`remind:none`" in text
    assert "*Add to calendar* sends you the meeting as an .ics file" in text
