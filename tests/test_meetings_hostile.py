"""Meetings attacked the way a hostile or careless user, or a forged-but-signed payload, would: through the real
endpoint (signed slash commands, button presses and view submissions) and the jobs as an operator runs them.

- Markup in a meeting's title and in a client's name (`<!channel>`, `<!here>`, `<!subteam^S1>`, `<@U1>`, a link,
  RTL and zero-width characters, emoji) is shown everywhere as text: the add reply, the list, the skip, move and
  cancel replies, the reminder, the "it moved" notice, the notes prompt, `/cmo status`, the App Home, the weekly
  digest; the calendar file has the title as typed.
- Ids, dates, times, lead times, zones and channels no meeting can have are refused with a reply that says what
  is wrong, and nothing is written; a date at the edge of the calendar (9999-12-31 in New York, 0001-01-01 in
  Tokyo) is refused like any other date too far away, not answered with "something went wrong".
- Forged buttons and forms: a value that is not a meeting, another workspace's meeting, a cancelled one, a
  meeting date that is not one, a form's state with numbers, objects or missing blocks.
- Twice or at once: the same signed command replayed, two skips of one occurrence at the same moment, a skip and
  a move of it, a cancel while a move is under way (a delay is put inside the first request so that both are
  surely in flight together); an archived client's meetings; a meeting's channel later shared with a client.

What is checked is what the user sees, what reaches Slack, and the rows written (or not)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

import bot.services.meetings as meeting_service
from tests.commands_support import assert_error, assert_no_raw_markup, mrkdwn_texts, opened_form, reply, shown
from tests.conftest import env_for_subprocess, rapport_in_process
from tests.slackhttp import (
    date_picker,
    message_text,
    static_select,
    text_input,
)
from tests.test_meetings_http import (
    ANA,
    BERLIN,
    FORMS,
    INTERNAL,
    WEDNESDAY,
    WEEKLY,
    add_acme,
    add_form_values,
    add_meeting,
    audit_events,
    channel_link,
    counts,
    exceptions,
    meeting,
    meetings,
    modal_errors,
    next_weekdays,
    press,
    shared_calendar,
    start,
    submit,
    timepicker,
    today_in,
    typed,
    updated_view,
    vevents,
)

NEW_YORK_MEETING = 'acme "NY sync" every:week on:wed at:23:00 tz:America/New_York'
MANAGERS = "C0MANAGERS"
# Raw markup: any of these in a mrkdwn text or a fallback would ping, or link, for real.
# Broadcasts never render live; mentions of people and channels and http links do (issue 11).
LIVE = ("<!channel", "<!here", "<!subteam")
MARKUP = "<!channel> <!here> <!subteam^S1> <@U1> <http://evil.example|x> <#C1>"
EVIL_TITLE = f"Review {MARKUP} \u202eweiver\u202c zw\u200bsp \U0001f389 & co"
EVIL_NAME = f"Acme {MARKUP} \u200b\u202e"
BOOM = "Something went wrong"


# -- helpers -------------------------------------------------------------------------------------------------

@pytest.fixture
def run_job(database_url, slack, workdir, monkeypatch) -> Callable[..., str]:
    """`rapport jobs run <job> [--now <moment>]` in this process, against the test database and the local Slack."""
    slack.user_zones["U0ANA"] = "Europe/Berlin"
    env = env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_MANAGERS_CHANNEL=MANAGERS,
                             RAPPORT_TIMEZONE="Europe/Berlin")

    def run(job: str, now: dt.datetime | None = None) -> str:
        code, output = rapport_in_process(monkeypatch, workdir, env, "jobs", "run", job,
                                          *(["--now", now.isoformat()] if now else []))
        assert code == 0, output
        assert "workspace(s) failed" not in output, output
        return output

    return run


def assert_nothing_live(payload: dict[str, Any], where: str) -> None:
    """No live broadcast in any text Slack parses; and the markup is there, shown as text."""
    for text in mrkdwn_texts(payload):
        for fragment in LIVE:
            assert fragment not in text, f"{where}: {fragment!r} reached Slack live in {text!r}"
    assert "&lt;!channel&gt;" in message_text(payload), f"{where}: the markup is not shown at all"


def responses(slack, count: int = 1) -> list[dict[str, Any]]:
    """What was sent to the response_url (the answer to a button), once there are `count` of them."""
    return [call.args for call in slack.wait_for("response_url", count=count)]


def in_parallel(*requests: Callable[[], Any], stagger: float = 0.0) -> list[Any]:
    """Run the requests in threads, released together (or `stagger` seconds apart, in order)."""
    results: list[Any] = [None] * len(requests)
    gate = threading.Barrier(len(requests))

    def run(index: int, request: Callable[[], Any]) -> None:
        gate.wait()
        time.sleep(stagger * index)
        results[index] = request()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def slowed(monkeypatch, name: str, seconds: float = 0.4) -> None:
    """`bot.services.meetings.<name>` takes `seconds` longer (after doing its work), so that a second request
    arrives while the first is still in its transaction."""
    original = getattr(meeting_service, name)

    def slow(*args, **kwargs):
        result = original(*args, **kwargs)
        time.sleep(seconds)
        return result

    monkeypatch.setattr(meeting_service, name, slow)


def first_line(response) -> str:
    return message_text(reply(response)).split("\n")[0]


@pytest.fixture
def acme(bot):
    add_acme(bot)
    return bot


@pytest.fixture
def two_meetings(acme):
    """#1 Quarterly review, Wednesdays 10:00 Berlin; #2 NY sync, Wednesdays 23:00 New York."""
    add_meeting(acme, typed(WEEKLY))
    add_meeting(acme, typed(NEW_YORK_MEETING))
    return acme


# -- markup in titles and client names -------------------------------------------------------------------------

def test_markup_in_a_title_and_a_client_name_is_text_wherever_a_meeting_shows(bot, database, slack, run_job):
    response = bot.command(typed(f'client add "{EVIL_NAME}" key:acme tz:Europe/Berlin') + f" owner:{ANA} "
                           f"channel:{channel_link(INTERNAL, 'acme-internal')}")
    assert "Added" in shown(response)
    w1, w2, _ = next_weekdays(WEDNESDAY)
    seen: dict[str, dict[str, Any]] = {}

    added = add_meeting(bot, typed(f'acme "{EVIL_TITLE}" every:week on:wed at:10:00'))
    seen["add reply"] = reply(added)
    assert meeting(database, 1).title == EVIL_TITLE  # stored as typed
    add_meeting(bot, typed(f'acme "Old {MARKUP}" every:week on:thu at:10:00'))
    seen["cancel reply"] = reply(bot.command("meeting cancel #2"))
    seen["list"] = reply(bot.command("meeting list"))
    seen["status"] = reply(bot.command("status acme"))
    seen["portfolio"] = reply(bot.command("status"))

    # What the prep brief quotes: a contact's summary and contact name, a schedule change's item and reason.
    assert "Logged" in shown(bot.command(typed(f'log acme call Agreed {MARKUP} with:"Jane {MARKUP}"')))
    assert "Recorded" in shown(bot.command(typed(f'delay acme Lot {MARKUP} to:{w2} reason:"Resin {MARKUP}"')))

    # The 24-hour reminder is posted; then that occurrence moves, and the channel reminded of it is told.
    moment = start(w1, dt.time(10)) - dt.timedelta(hours=23)
    run_job("meeting-reminders", moment)
    # The bot's own delivery of the announcement above may still hold the delivery lock: deliver again then.
    for _ in range(50):
        if [m for m in slack.posted(INTERNAL) if "starts in" in m["text"]]:
            break
        time.sleep(0.1)
        run_job("deliver", moment)
    [seen["reminder"]] = [m for m in slack.posted(INTERNAL) if "starts in" in m["text"]]
    assert "Jane &lt;!channel&gt;" in message_text(seen["reminder"])  # the brief quotes both
    assert "Resin &lt;!channel&gt;" in message_text(seen["reminder"])
    thursday = w1 + dt.timedelta(days=1)
    seen["move reply"] = reply(bot.command(f"meeting move #1 {thursday} at:11:00 from:{w1}"))
    slack.wait_for("chat.postMessage", count=3)
    [seen["moved notice"]] = [m for m in slack.posted(INTERNAL) if "moves to" in message_text(m)]
    seen["skip reply"] = reply(bot.command(f"meeting skip #1 {w2}"))

    bot.event({"type": "app_home_opened", "user": "U0ANA", "channel": "D0HOME", "tab": "home",
               "event_ts": "1732400000.000100"})
    [home] = slack.wait_for("views.publish")
    seen["app home"] = {"blocks": home.args["view"]["blocks"]}

    friday = dt.datetime.combine(w1 + dt.timedelta(days=2), dt.time(10), tzinfo=BERLIN)
    run_job("meeting-followups", friday)
    [prompt] = [m for m in slack.posted(INTERNAL) if "no meeting notes are logged" in message_text(m)]
    seen["notes prompt"] = prompt
    monday = dt.datetime.combine(w1 - dt.timedelta(days=w1.weekday()), dt.time(9, 5), tzinfo=BERLIN)
    run_job("weekly-digest", monday)
    [seen["weekly digest"]] = slack.posted(MANAGERS)
    assert "This week's meetings* (1)" in message_text(seen["weekly digest"])

    for where, payload in seen.items():
        assert_nothing_live(payload, where)
    assert "&lt;!channel&gt;" in seen["reminder"]["text"]  # the notification's fallback too

    [(_, button)] = [(b["block_id"], e) for b in seen["add reply"]["blocks"] if b["type"] == "actions"
                     for e in b["elements"]]
    press(bot, slack, button["action_id"], button["value"])
    _, calendar = shared_calendar(slack)
    series, moved = vevents(calendar)
    assert str(series["SUMMARY"]) == str(moved["SUMMARY"]) == f"{EVIL_TITLE} — {' '.join(EVIL_NAME.split())}"


def test_a_title_cannot_break_out_of_its_calendar_event(acme, slack):
    view = opened_form(slack, acme.command("meeting add"))
    wednesday = next_weekdays(WEDNESDAY, 1)[0]
    forged = "Review\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Pwned\nDTSTART:20300101T000000Z"
    result = updated_view(submit(acme, view, {**add_form_values(wednesday), "title": text_input(forged)}))
    [(_, button)] = [(b["block_id"], e) for b in result["blocks"] if b["type"] == "actions" for e in b["elements"]]
    press(acme, slack, button["action_id"], button["value"])
    _, calendar = shared_calendar(slack)
    [event] = vevents(calendar)
    assert str(event["SUMMARY"]) == ("Review END:VEVENT BEGIN:VEVENT SUMMARY:Pwned DTSTART:20300101T000000Z — "
                                     "Acme Biologics")
    assert event["DTSTART"].dt == start(wednesday, dt.time(10))


# -- input no meeting can have ---------------------------------------------------------------------------------

def _ahead(days: int) -> str:
    return str(today_in(BERLIN) + dt.timedelta(days=days))


BAD_INPUT = {
    # id: (what follows `/cmo meeting`, typed (escaped by Slack) or sent raw, what the error must say)
    "id 0": ("cancel #0", True, ["`#0` is not a meeting id"]),
    "id -1": ("skip #-1 wed", True, ["`#-1` is not a meeting id"]),
    "id too big": ("cancel #99999999999999999999", True, ["There is no meeting #99999999999999999999"]),
    "id 1e3": ("move #1e3 wed at:10:00", True, ["`#1e3` is not a meeting id"]),
    "id in arabic digits": ("cancel #١٢", True, ["`#١٢` is not a meeting id"]),
    "no such day": ('add acme "T" every:week on:2026-02-30 at:10:00', True, ["`on:2026-02-30` is neither"]),
    "999 weeks ahead": ('add acme "T" every:week on:+999w at:10:00', True, ["is more than two years ahead"]),
    "the last day in New York": ('add acme "T" every:once on:9999-12-31 at:23:00 tz:America/New_York', True,
                                 ["Fri 9999-12-31 is more than two years ahead"]),
    "the first day in Tokyo": ('add acme "T" every:week on:0001-01-01 at:00:30 tz:Asia/Tokyo', True,
                               ["Mon 0001-01-01 is more than a year ago"]),
    "skip in 9999": ("skip #1 9999-12-31", True, ["9999-12-31 is more than two years ahead"]),
    "move to 9999 in New York": ("move #2 9999-12-31 at:23:30", True, ["9999-12-31 is more than two years ahead"]),
    "move from year 1": (f"move #1 {_ahead(9)} at:11:00 from:0001-01-01", True, ["0001-01-01 is more than a year ago"]),
    "hour 24": ("add " + WEEKLY.replace("at:10:00", "at:24:00"), True, ["`24:00` is not a time of day"]),
    "minute 5": ("add " + WEEKLY.replace("at:10:00", "at:9:5"), True, ["`9:5` is not a time of day"]),
    "hour -1": ("move #1 wed at:-1:00", True, ["`-1:00` is not a time of day"]),
    "nth weekday weekly": ('add acme "T" every:week on:2tue at:10:00', True,
                           ["`on:2tue` names a weekday of the month"]),
    "50 reminders": ("add " + WEEKLY + " remind:" + ",".join(f"{n}m" for n in range(1, 51)), True,
                     ["At most 5 reminders per meeting"]),
    "reminder in minutes galore": ("add " + WEEKLY + " remind:999999m", True, ["`remind:999999m` is not a lead time"]),
    "reminders all empty": ("add " + WEEKLY + " remind:,,", True, ["`remind:` needs lead times"]),
    "no duration": ("add " + WEEKLY + " for:0m", True, ["`for:0m` is not how long a meeting takes"]),
    "the server's zone": ("add " + WEEKLY + " tz:localtime", True, ["`localtime` is not an IANA time zone"]),
    "a placeholder zone": ("add " + WEEKLY + " tz:Factory", True, ["`Factory` is not an IANA time zone"]),
    "zone path": ("add " + WEEKLY + " tz:../../etc/passwd", True, ["`../../etc/passwd` is not an IANA time zone"]),
    "channel is a person": ("add " + WEEKLY + " channel:<@U0BOB|bob>", False, ["is not a Slack channel"]),
    "channel is a broadcast": ("add " + WEEKLY + " channel:<!channel>", False, ["is not a Slack channel"]),
    "quote left open": ('add acme "Quarterly review every:week on:wed at:10:00', True, ["A quote was left open"]),
    "10,000 characters": (f'add acme "{"x" * 10_000}" every:week on:wed at:10:00', True,
                          ["The title can be at most 200 characters"]),
    "zero-width title": ('add acme "\u200b\u200d\u2060" every:week on:wed at:10:00', True,
                         ["Give the meeting a title"]),
    "NUL title": ('add acme "\x00\x00" every:week on:wed at:10:00', True, ["Give the meeting a title"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_input_no_meeting_can_have_is_a_clear_error_and_writes_nothing(two_meetings, database, case):
    command, is_typed, fragments = BAD_INPUT[case]
    before = counts(database)
    response = two_meetings.command("meeting " + (typed(command) if is_typed else command))
    assert BOOM not in response.body
    assert_error(response, *fragments, form=FORMS[command.split()[0]])
    assert_no_raw_markup(response, "<!channel>", "<@U0BOB")
    assert counts(database) == before


ECHOED = {
    # id: (what follows `/cmo meeting`, sent as Slack sends a mention or a broadcast: raw)
    "client": 'add <!channel> "T" every:week on:wed at:10:00',
    "every": 'add acme "T" every:<!here> on:wed at:10:00',
    "on": 'add acme "T" every:week on:<@U1> at:10:00',
    "at": 'add acme "T" every:week on:wed at:<!subteam^S1>',
    "tz": 'add acme "T" every:week on:wed at:10:00 tz:<http://evil.example|x>',
    "remind": 'add acme "T" every:week on:wed at:10:00 remind:<!channel>',
    "for": 'add acme "T" every:week on:wed at:10:00 for:<!here>',
    "list": "list <!channel>",
    "id": "cancel <!here>",
    "date": "skip #1 <@U1>",
    "from": "move #1 wed at:11:00 from:<!channel>",
}


@pytest.mark.parametrize("case", list(ECHOED))
def test_markup_quoted_back_in_an_error_is_text(two_meetings, database, case):
    before = counts(database)
    response = two_meetings.command("meeting " + ECHOED[case])
    payload = reply(response)
    assert message_text(payload).splitlines()[0] and BOOM not in response.body
    assert payload["blocks"][0]["text"]["text"].startswith(":warning:")
    for text in mrkdwn_texts(payload):
        for fragment in LIVE:
            assert fragment not in text, f"{fragment!r} reached Slack live in {text!r}"
    assert counts(database) == before


ODD_BUT_FINE = {
    # id: (options after WEEKLY, the meeting row's (reminder_minutes, timezone))
    "the same reminder 50 times": (" remind:" + ",".join(["1h"] * 50), ([60], "Europe/Berlin")),
    "an empty lead between two": (" remind:1h,,2h", ([120, 60], "Europe/Berlin")),
    "UTC": (" tz:UTC", ([1440, 60], "UTC")),
    "a fixed offset zone": (" tz:Etc/GMT+5", ([1440, 60], "Etc/GMT+5")),
}


@pytest.mark.parametrize("case", list(ODD_BUT_FINE))
def test_odd_but_meaningful_options_are_taken_as_meant(acme, database, case):
    options, (leads, zone) = ODD_BUT_FINE[case]
    add_meeting(acme, typed(WEEKLY + options))
    [row] = meetings(database)
    assert (row.reminder_minutes, row.timezone) == (leads, zone)


def test_control_characters_and_emoji_in_a_title(acme, database):
    text = shown(add_meeting(acme, typed('acme "Fill\x00 plan\x07 \U0001f389" every:week on:wed at:10:00')))
    assert "*Fill plan \U0001f389*" in text
    assert meeting(database).title == "Fill plan \U0001f389"


# -- forged buttons ----------------------------------------------------------------------------------------------

UNREADABLE = "Slack sent a request Rapport could not read"
FORGED_BUTTONS = {
    # id: (action_id, value, what the presser is told)
    "calendar: not a number": ("meeting_calendar", "abc", "`abc` is not a meeting id"),
    "calendar: a float": ("meeting_calendar", "1e3", "`1e3` is not a meeting id"),
    "calendar: no such meeting": ("meeting_calendar", "99999999999", "There is no meeting #99999999999"),
    "calendar: a number, not a string": ("meeting_calendar", 1, f"{UNREADABLE} (a button without its value)"),
    "calendar: no value": ("meeting_calendar", None, f"{UNREADABLE} (a button without its value)"),
    "notes: not a date": ("meeting_log_notes", "1:not-a-date", f"{UNREADABLE} (a meeting date that is not one)"),
    "notes: month 13": ("meeting_log_notes", "1:2026-13-01", f"{UNREADABLE} (a meeting date that is not one)"),
    "notes: not a meeting": ("meeting_log_notes", "x:2026-12-01", "`x` is not a meeting id"),
    "notes: no date": ("meeting_log_notes", "1", f"{UNREADABLE} (a meeting date that is not one)"),
    "notes: no value": ("meeting_log_notes", None, f"{UNREADABLE} (a button without its value)"),
}


def forged_button(bot, slack, action_id: str, value: Any, *, team: str = "T0ACME", user: str = "U0ANA"):
    action = {"type": "button", "action_id": action_id, "block_id": "meeting:1", "action_ts": "1.2"}
    if value is not None:
        action["value"] = value
    return bot.interactive({
        "type": "block_actions", "team": {"id": team, "domain": "x"},
        "user": {"id": user, "username": user.lower(), "team_id": team}, "api_app_id": "A0RAPPORT",
        "token": "legacy-verification-token", "trigger_id": bot.next_trigger_id(),
        "container": {"type": "message", "message_ts": "1732400000.000200", "channel_id": INTERNAL},
        "channel": {"id": INTERNAL, "name": "acme-internal"}, "response_url": slack.response_url("button"),
        "actions": [action],
    })


def assert_told_and_nothing_done(slack, database, before: dict[str, int], said: str, *, presses: int = 1) -> None:
    answers = responses(slack, presses)
    assert len(answers) == presses
    answer = answers[-1]
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert said in message_text(answer), message_text(answer)
    assert BOOM not in message_text(answer)
    time.sleep(0.1)  # whatever would follow the answer (a file, a form) has had its chance
    for method in ("views.open", "conversations.open", "files.getUploadURLExternal"):
        assert slack.calls_to(method) == [], method
    assert counts(database) == before


@pytest.mark.parametrize("case", list(FORGED_BUTTONS))
def test_a_forged_meeting_button_is_answered_and_does_nothing(two_meetings, database, slack, case):
    action_id, value, said = FORGED_BUTTONS[case]
    before = counts(database)
    response = forged_button(two_meetings, slack, action_id, value)
    assert (response.status, response.body) == (200, "")
    assert_told_and_nothing_done(slack, database, before, said)


@pytest.mark.parametrize(("action_id", "value"), [("meeting_calendar", "1"), ("meeting_log_notes", "1:2026-11-30")])
def test_another_workspaces_meeting_is_no_meeting(two_meetings, database, slack, action_id, value):
    before = counts(database)
    response = forged_button(two_meetings, slack, action_id, value, team="T0OTHER", user="U0EVE")
    assert (response.status, response.body) == (200, "")
    assert_told_and_nothing_done(slack, database, before, "There is no meeting #1")


# -- forged forms ------------------------------------------------------------------------------------------------

ADD_FORGERIES = {
    # id: (the blocks changed (None: left out), the input the error is under, what it says)
    "time 25:99": ({"at": timepicker("25:99")}, "at", "25:99 is not a time of day"),
    "time as a number": ({"at": {"type": "timepicker", "selected_time": 1000}}, "at", "Pick the time"),
    "repeat not offered": ({"every": static_select("yearly")}, "every", "every:yearly is not a repeat I know"),
    "repeat as an object": ({"every": {"type": "static_select", "selected_option": {"value": {"v": 1}}}}, "every",
                            "Choose how it repeats"),
    "date in 9999": ({"on": date_picker("9999-12-31")}, "on", "9999-12-31 is more than two years ahead"),
    "date in year 1": ({"on": date_picker("0001-01-01")}, "on", "0001-01-01 is more than a year ago"),
    "duration not offered": ({"for": static_select("13h")}, "for", "for:13h is longer than 12 hours"),
    "title of 10,000": ({"title": text_input("x" * 10_000)}, "title", "at most 5,000 characters"),
    "title missing": ({"title": None}, "title", "Give the meeting a title"),
    "client as a number": ({"client": {"type": "external_select", "selected_option": {"value": 5}}}, "client",
                           "Choose a client"),
    "channel is a person": ({"channel": {"type": "conversations_select", "selected_conversation": "U0BOB"}}, "channel",
                            "That is not a Slack channel"),
}


@pytest.mark.parametrize("case", list(ADD_FORGERIES))
def test_a_forged_add_form_is_refused_under_its_input(acme, database, slack, case):
    changes, where, said = ADD_FORGERIES[case]
    view = opened_form(slack, acme.command("meeting add"))
    values = {**add_form_values(next_weekdays(WEDNESDAY, 1)[0]), **changes}
    before = counts(database)
    errors = modal_errors(submit(acme, view, {k: v for k, v in values.items() if v is not None}))
    assert list(errors) == [where]
    assert said in errors[where]
    assert counts(database) == before


@pytest.fixture
def other_workspace_meeting(two_meetings):
    """Meeting #3 belongs to another workspace; #2 is cancelled."""
    assert "Added" in shown(two_meetings.command('client add "Zeta" key:zeta tz:Europe/Berlin', team="T0OTHER"))
    add_meeting(two_meetings, typed('zeta "Theirs" every:week on:wed at:10:00'), team="T0OTHER")
    two_meetings.command("meeting cancel #2")
    return two_meetings


@pytest.mark.parametrize("subcommand", ["cancel", "skip", "move"])
@pytest.mark.parametrize(("chosen", "said"), [
    ("99", "There is no meeting #99"),
    ("3", "There is no meeting #3"),  # another workspace's
    ("2", "Meeting #2 was cancelled"),
    ("abc", "abc is not a meeting id"),
    ("0", "0 is not a meeting id"),
])
def test_a_meeting_the_select_never_offered_is_refused(other_workspace_meeting, database, slack, subcommand, chosen,
                                                      said):
    view = opened_form(slack, other_workspace_meeting.command(f"meeting {subcommand}"))
    offered = [o["value"] for b in view["blocks"] if b.get("block_id") == "meeting" for o in b["element"]["options"]]
    assert offered == ["1"]
    wednesday = next_weekdays(WEDNESDAY, 1)[0]
    values = {"meeting": static_select(chosen), "date": date_picker(str(wednesday)), "at": timepicker("11:00"),
              "from": date_picker(None)}
    fields = {"cancel": ["meeting"], "skip": ["meeting", "date"], "move": ["meeting", "from", "date", "at"]}
    before = counts(database)
    errors = modal_errors(submit(other_workspace_meeting, view, {k: values[k] for k in fields[subcommand]}))
    assert list(errors) == ["meeting"]
    assert said in errors["meeting"]
    assert counts(database) == before


@pytest.mark.parametrize(("values", "where", "said"), [
    ({"meeting": static_select("1"), "date": date_picker("2026-12-10"), "at": timepicker("25:99")}, "at",
     "25:99 is not a time of day"),
    ({"meeting": static_select("1"), "date": date_picker("9999-12-31"), "at": timepicker("10:00")}, "date",
     "more than two years ahead"),
    ({"meeting": static_select("1"), "at": timepicker("10:00")}, "date", "Pick the new date"),
    ({"meeting": {"type": "static_select", "selected_option": None}, "date": date_picker("2026-12-10"),
      "at": timepicker("10:00")}, "meeting", "Choose the meeting"),
])
def test_a_forged_move_form_is_refused_under_its_input(two_meetings, database, slack, values, where, said):
    view = opened_form(slack, two_meetings.command("meeting move"))
    before = counts(database)
    errors = modal_errors(submit(two_meetings, view, values))
    assert list(errors) == [where]
    assert said in errors[where]
    assert counts(database) == before


@pytest.mark.parametrize("state", [
    {"values": {"meeting": "1"}},
    {"values": ["meeting"]},
    {},
])
def test_a_meeting_form_without_a_readable_state_is_refused(two_meetings, database, slack, state):
    view = {**opened_form(slack, two_meetings.command("meeting cancel")), "id": "V0BROKEN", "hash": "1.a",
            "state": state}
    before = counts(database)
    response = two_meetings.interactive({
        "type": "view_submission", "team": {"id": "T0ACME"}, "user": {"id": "U0ANA", "team_id": "T0ACME"},
        "api_app_id": "A0RAPPORT", "token": "t", "trigger_id": "1.2.3", "view": view})
    assert response.status == 200
    assert response.json["response_action"] == "errors"
    assert UNREADABLE in response.json["errors"]["meeting"]
    assert counts(database) == before
    assert meeting(database).cancelled_at is None


# -- twice, or at once -------------------------------------------------------------------------------------------

def test_the_same_signed_meeting_add_replayed_adds_one_meeting(acme, database):
    body = urlencode({"token": "t", "team_id": "T0ACME", "team_domain": "acme-cmo", "channel_id": "C0GENERAL",
                      "user_id": "U0ANA", "user_name": "ana", "command": "/cmo",
                      "text": "meeting add " + typed(WEEKLY), "api_app_id": "A0RAPPORT",
                      "response_url": acme.response_url, "trigger_id": "4242.1234.replayed"})
    answers = [acme.signed_post(body, "application/x-www-form-urlencoded") for _ in range(3)]
    assert "Meeting #1 added" in message_text(answers[0].json)
    assert all("already handled" in message_text(a.json) for a in answers[1:])
    assert len(meetings(database)) == 1
    assert len(audit_events(database, "meeting.add")) == 1


def test_two_skips_of_one_occurrence_at_once_skip_it_once(two_meetings, database, monkeypatch):
    first = next_weekdays(WEDNESDAY, 1)[0]
    slowed(monkeypatch, "schedule")  # each skip reads the meeting's schedule, then waits before writing
    answers = in_parallel(*[lambda: two_meetings.command(f"meeting skip #1 {first}")] * 2)
    lines = sorted(first_line(a) for a in answers)
    assert lines == [f"Skipped Quarterly review on {first}", f"The meeting of {first:%a %Y-%m-%d} is already skipped."]
    assert [(e.occurrence_on, e.kind) for e in exceptions(database)] == [(first, "skip")]
    assert len(audit_events(database, "meeting.skip")) == 1


def test_a_skip_and_a_move_of_one_occurrence_at_once_end_as_one_of_them(two_meetings, database, monkeypatch):
    first = next_weekdays(WEDNESDAY, 1)[0]
    thursday = first + dt.timedelta(days=1)
    slowed(monkeypatch, "schedule")
    answers = in_parallel(lambda: two_meetings.command(f"meeting skip #1 {first}"),
                          lambda: two_meetings.command(f"meeting move #1 {thursday} at:11:00 from:{first}"))
    for answer in answers:
        assert BOOM not in answer.body
    [row] = exceptions(database)
    assert row.occurrence_on == first
    done = [e.action for e in audit_events(database) if e.action in ("meeting.skip", "meeting.move")]
    # What was done is what the replies said; what is stored is the last of it.
    told = [("meeting.skip" if "Skipped" in first_line(a) else "meeting.move") for a in answers
            if first_line(a).startswith(("Skipped", "Moved"))]
    assert sorted(done) == sorted(told) and done
    assert row.kind == done[-1].removeprefix("meeting.")


def test_a_move_that_arrives_while_the_meeting_is_being_cancelled_is_refused(two_meetings, database, monkeypatch):
    first = next_weekdays(WEDNESDAY, 1)[0]
    slowed(monkeypatch, "cancel_meeting")  # the cancel is still in its transaction when the move arrives
    cancelled, moved = in_parallel(lambda: two_meetings.command("meeting cancel #1"),
                                   lambda: two_meetings.command(f"meeting move #1 {first} at:11:00"), stagger=0.15)
    assert first_line(cancelled) == "Cancelled meeting #1: Quarterly review"
    assert_error(moved, "Meeting #1 was cancelled on", form=FORMS["move"])
    assert exceptions(database) == []
    assert audit_events(database, "meeting.move") == []


def test_a_skipped_occurrence_cannot_be_moved_and_a_moved_one_can_be_skipped(two_meetings, database):
    first, second = next_weekdays(WEDNESDAY, 2)
    assert "Skipped" in shown(two_meetings.command(f"meeting skip #1 {first}"))
    before = counts(database)
    assert_error(two_meetings.command(f"meeting move #1 {first + dt.timedelta(days=1)} at:11:00 from:{first}"),
                 f"The meeting of {first:%a %Y-%m-%d} is already skipped", form=FORMS["move"])
    assert counts(database) == before

    thursday = second + dt.timedelta(days=1)
    assert "Moved" in shown(two_meetings.command(f"meeting move #1 {thursday} at:11:00 from:{second}"))
    # Skipped by the date it was due on, the moved occurrence is the one skipped, wherever it went.
    assert f"Skipped Quarterly review on {thursday}" in shown(two_meetings.command(f"meeting skip #1 {second}"))
    assert sorted((e.occurrence_on, e.kind, e.moved_to) for e in exceptions(database)) == [
        (first, "skip", None), (second, "skip", None)]


# -- an archived client's meetings ------------------------------------------------------------------------------

def test_an_archived_clients_meetings_are_neither_listed_nor_reminded_nor_changed(two_meetings, database, slack,
                                                                                 run_job):
    first = next_weekdays(WEDNESDAY, 1)[0]
    # Another client keeps the workspace active, so the jobs do look at its meetings.
    assert "Added" in shown(two_meetings.command(f'client add "Beta Labs" key:beta owner:{ANA}'))
    assert "Archived" in shown(two_meetings.command("client archive acme"))
    before = counts(database)

    assert "No meetings planned" in shown(two_meetings.command("meeting list"))
    assert_error(two_meetings.command("meeting list acme"), "archived", form=FORMS["list"])
    for command in (f"skip #1 {first}", f"move #1 {first} at:11:00", "cancel #2"):
        assert_error(two_meetings.command(f"meeting {command}"), "with Acme Biologics, which is archived",
                     form=FORMS[command.split()[0]])
    assert_error(two_meetings.command("meeting skip"), "No meetings are planned", form=FORMS["skip"])

    forged_button(two_meetings, slack, "meeting_calendar", "1")
    assert_told_and_nothing_done(slack, database, before, "Meeting #1 is with Acme Biologics, which is archived")
    forged_button(two_meetings, slack, "meeting_log_notes", f"1:{first - dt.timedelta(days=7)}")
    assert_told_and_nothing_done(slack, database, before, "Acme Biologics (`acme`) was archived on", presses=2)

    for moment in (start(first, dt.time(10)) - dt.timedelta(hours=23), start(first, dt.time(9, 30)),
                   start(first, dt.time(10)) + dt.timedelta(days=1)):
        run_job("meeting-reminders", moment)
        run_job("meeting-followups", moment)
    assert slack.posted(INTERNAL) == []
    assert counts(database) == before


# -- a reminder channel shared with a client later -------------------------------------------------------------

def test_a_meetings_channel_shared_with_a_client_later_still_lets_it_be_skipped_and_moved(acme, database, slack,
                                                                                        run_job):
    ops = channel_link("C0OPS", "acme-ops")
    add_meeting(acme, typed(WEEKLY) + f" channel:{ops}")
    first, second = next_weekdays(WEDNESDAY, 2)
    run_job("meeting-reminders", start(first, dt.time(10)) - dt.timedelta(hours=23))
    run_job("meeting-reminders", start(second, dt.time(10)) - dt.timedelta(hours=23))
    assert len(slack.posted("C0OPS")) == 2  # both occurrences were reminded of there
    assert "Added" in shown(acme.command('client add "Beta Labs" key:beta'))
    assert "Updated" in shown(acme.command(f"client set beta shared:{ops}"))  # now a Slack Connect channel

    assert f"Skipped Quarterly review on {first}" in shown(acme.command(f"meeting skip #1 {first}"))
    assert "Moved Quarterly review" in shown(acme.command(f"meeting move #1 {second} at:11:00"))
    assert [(e.occurrence_on, e.kind) for e in exceptions(database)] == [(first, "skip"), (second, "move")]
    time.sleep(0.2)  # a delivery after the commands would have happened by now
    assert len(slack.posted("C0OPS")) == 2  # internal news never goes to the shared channel
