"""Meeting reminders with their prep brief, and the prompt to log a meeting's notes afterwards, driven the
way an operator drives them: `rapport jobs run meeting-reminders|meeting-followups|deliver --now ...` (the
real CLI entry point, in this process, so that weeks and daylight-saving changes are simulated in seconds)
against the test database and the local Slack. Meetings, contacts and schedule changes are written through
the services; one skip goes through a signed `/cmo meeting skip` into the real endpoint.

Acme Biologics (client zone Berlin) is owned by U0ANA, whose zone Slack gives (users.info). Its weekly
"Supply review" is on Tuesdays at 10:00 Berlin, with reminders 24 h and 1 h before in its internal channel.
Every simulated moment is in 2027 (Berlin changes its clocks on 2027-03-28 and 2027-10-31, New York on
2027-03-14 and 2027-11-07): ahead of the real clock, which delivery's expiry ignores for a run `--now`."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.db.models import Client, Frequency, Meeting, OutboxMessage, OutboxStatus, ScheduleChange
from bot.services import Actor
from bot.services.changes import mark_told, record_change
from bot.services.clients import add_client
from bot.services.interactions import log_interaction
from bot.services.meetings import add_meeting, cancel_meeting, move_occurrence, skip_occurrence
from tests.commands_support import assert_within_block_kit_limits, shown
from tests.conftest import env_for_subprocess, rapport_in_process
from tests.slackhttp import message_text

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
TEAM, OWNER = "T0ACME", "U0ANA"
INTERNAL, MANAGERS, MEETING_ROOM = "C0ACMEINT", "C0MANAGERS", "C0ACMEMEET"
ACTOR = Actor(team_id=TEAM, user_id="U0BOB", surface="cli")
DAY, HOUR, MINUTE = dt.timedelta(days=1), dt.timedelta(hours=1), dt.timedelta(minutes=1)
REMINDER_WORDS, PROMPT_WORDS = "starts in", "no meeting notes are logged"
STAMP = re.compile(r"<!date\^(\d+)\^\{date_short_pretty\} at \{time\}\|([^>]*)>")


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=zone)


def utc(month: int, day: int, hour: int, minute: int = 0, year: int = 2027) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


# -- the operator's command, and what reached Slack ------------------------------------------------------

@pytest.fixture
def jobs(database_url, slack, workdir, monkeypatch):
    """`rapport jobs run <job> --now <moment>`: its output (exit code 0 asserted)."""
    slack.user_zones[OWNER] = "Europe/Berlin"
    env = env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_MANAGERS_CHANNEL=MANAGERS,
                             RAPPORT_TIMEZONE="Europe/Berlin")

    def run(now: dt.datetime | None = None, *extra: str, job: str = "meeting-reminders") -> str:
        code, output = rapport_in_process(monkeypatch, workdir, env, "jobs", "run", job,
                                          *(["--now", now.isoformat()] if now else []), *extra)
        assert code == 0, output
        assert "workspace(s) failed" not in output, output
        return output

    return run


def seed(database, *, tz: str | None = "Europe/Berlin", owner: str | None = OWNER,
         channel: str | None = INTERNAL) -> int:
    with database.transaction() as session:
        client = add_client(session, ACTOR, "Acme Biologics", key="acme", owner_user_id=owner,
                            internal_channel_id=channel, timezone=tz)
        session.flush()
        return client.id


def plan_meeting(database, client_id: int, *, starts_on: dt.date, hour: int = 10, minute: int = 0,
                 zone: str = "Europe/Berlin", every: Frequency = Frequency.WEEK, created: dt.datetime | None = None,
                 reminders: tuple[int, ...] = (1440, 60), channel: str | None = None,
                 title: str = "Supply review") -> int:
    """A meeting added at `created` (default: two weeks before its first occurrence); its id."""
    created = created or dt.datetime.combine(starts_on - dt.timedelta(days=14), dt.time(9), tzinfo=dt.UTC)
    with database.transaction() as session:
        meeting = add_meeting(session, ACTOR, session.get(Client, client_id), title=title, every=every,
                              starts_on=starts_on, at=dt.time(hour, minute), timezone=zone, now=created,
                              reminder_minutes=reminders, channel_id=channel)
        session.flush()
        return meeting.id


def reminders(slack, channel: str = INTERNAL) -> list[dict[str, Any]]:
    return [m for m in slack.posted(channel) if REMINDER_WORDS in (m.get("text") or "")]


def prompts(slack, channel: str = INTERNAL) -> list[dict[str, Any]]:
    return [m for m in slack.posted(channel) if PROMPT_WORDS in message_text(m)]


def first_section(message: dict[str, Any]) -> str:
    return message["blocks"][0]["text"]["text"]


def stamp(message: dict[str, Any]) -> tuple[dt.datetime, str]:
    """The instant of the Slack date token in the message's first section, and its fallback text."""
    [(seconds, fallback)] = STAMP.findall(first_section(message))
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC), fallback


def outbox_rows(database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def slack_back(database) -> None:
    """Slack's Retry-After is over: what waits is due now."""
    with database.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
                        .values(next_attempt_at=func.now()))


def assert_reminder(message: dict[str, Any], *, starts: dt.datetime, lead: str, fallback: str) -> None:
    text = first_section(message)
    assert f"<@{OWNER}>, *Supply review* with *Acme Biologics* (`acme`) starts in {lead}:" in text, text
    assert message["text"].startswith(f"Supply review with Acme Biologics starts in {lead}: "), message["text"]
    assert stamp(message) == (starts, fallback)



# -- a week of runs ----------------------------------------------------------------------------------------

def test_a_weekly_meeting_is_reminded_24_hours_and_1_hour_before_once_each_week_after_week(database, jobs, slack):
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))  # Tuesdays 10:00 Berlin
    first, second = at(BERLIN, 2027, 5, 4, 10), at(BERLIN, 2027, 5, 11, 10)
    assert first.utcoffset() == HOUR * 2  # CEST: 08:00 UTC
    leads = [(first, DAY), (first, HOUR), (second, DAY), (second, HOUR)]

    hourly = [first - 26 * HOUR + n * HOUR for n in range(29)]  # Mon 08:00 to Tue 12:00
    chosen = [first - DAY - MINUTE, first - DAY + MINUTE, first - HOUR - MINUTE, first - MINUTE, first + MINUTE,
              second - DAY - MINUTE, second - DAY, second - DAY + 15 * MINUTE, second - HOUR - MINUTE,
              second - HOUR, second - 45 * MINUTE, second + 5 * MINUTE]
    midweek = [first + n * 6 * HOUR for n in range(1, 24)]  # Tue 16:00 to Sun 16:00, every 6 hours
    for moment in sorted(set(hourly + chosen + midweek)):
        before = len(reminders(slack))
        jobs(moment)
        due = [(starts, lead) for starts, lead in leads if starts - lead <= moment]
        posted = reminders(slack)
        assert len(posted) == len(due), f"as of {moment.isoformat()}: {[m['text'] for m in posted]}"
        for message, (starts, lead) in zip(posted[before:], due[before:], strict=True):
            assert moment == starts - lead, f"posted as of {moment.isoformat()}, due {(starts - lead).isoformat()}"
            assert stamp(message)[0] == starts

    words = ["24 hours", "1 hour", "24 hours", "1 hour"]
    for message, (starts, _), lead in zip(reminders(slack), leads, words, strict=True):
        assert_reminder(message, starts=starts.astimezone(dt.UTC), lead=lead,
                        fallback=f"Tue {starts:%Y-%m-%d} 10:00 CEST (Europe/Berlin)")
        assert f"*<!date^{int(starts.timestamp())}^" in first_section(message)
        assert ", 1 h." in first_section(message)  # its duration
        assert_within_block_kit_limits(message)
    assert slack.posted(MANAGERS) == [] and len(slack.posted()) == 4
    assert sorted(row.dedupe_key for row in outbox_rows(database)) == sorted([
        f"meeting:{meeting_id}:2027-05-04:20270504T0800Z:1440m", f"meeting:{meeting_id}:2027-05-04:20270504T0800Z:60m",
        f"meeting:{meeting_id}:2027-05-11:20270511T0800Z:1440m", f"meeting:{meeting_id}:2027-05-11:20270511T0800Z:60m"])
    assert {row.status for row in outbox_rows(database)} == {OutboxStatus.SENT}
    assert "queued 0 message(s)" in jobs(second - HOUR)  # the same moment again: nothing twice
    assert len(reminders(slack)) == 4


def test_reminders_go_to_the_meetings_own_channel_else_the_clients_and_without_either_the_run_says_so(
        database, jobs, slack):
    with_room = seed(database)
    plan_meeting(database, with_room, starts_on=dt.date(2027, 5, 4), channel=MEETING_ROOM)
    plan_meeting(database, with_room, starts_on=dt.date(2027, 5, 4), hour=11, title="Quality review")
    out = jobs(at(BERLIN, 2027, 5, 4, 9, 30))  # 30 minutes before the first, 90 before the second
    [in_room] = reminders(slack, MEETING_ROOM)
    [internal] = reminders(slack, INTERNAL)
    assert "Supply review" in in_room["text"] and "starts in 30 minutes" in in_room["text"]
    assert internal["text"].startswith("Quality review with Acme Biologics starts in 90 minutes: ")
    assert "<@U0ANA>" in first_section(in_room) and "<@U0ANA>" in first_section(internal)
    assert "no channel to go to" not in out

    with database.transaction() as session:
        session.get(Client, with_room).internal_channel_id = None
    out = jobs(at(BERLIN, 2027, 5, 11, 9, 30))
    assert "reminders of meeting(s) #2 have no channel to go to" in out
    assert len(reminders(slack, MEETING_ROOM)) == 2 and len(reminders(slack, INTERNAL)) == 1



@pytest.mark.parametrize("leads, words", [
    ((2160, 90), ("36 hours", "90 minutes")),
    ((2880, 30), ("2 days", "30 minutes")),
])
def test_other_lead_times_are_reminded_at_their_moment_and_say_how_soon(database, jobs, slack, leads, words):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4), reminders=leads)
    starts = at(BERLIN, 2027, 5, 4, 10)
    for lead, said in zip(leads, words, strict=True):
        count = len(reminders(slack))
        jobs(starts - lead * MINUTE - MINUTE)
        assert len(reminders(slack)) == count
        jobs(starts - lead * MINUTE)
        assert len(reminders(slack)) == count + 1
        assert_reminder(reminders(slack)[-1], starts=starts.astimezone(dt.UTC), lead=said,
                        fallback="Tue 2027-05-04 10:00 CEST (Europe/Berlin)")
    assert len(reminders(slack)) == 2

# -- the prep brief --------------------------------------------------------------------------------------------

def log(session, client: Client, day: dt.date, kind: str, summary: str, *, by: str = "U0BEN",
        contact: str | None = None) -> None:
    """A contact logged the day it happened."""
    interaction = log_interaction(session, Actor(TEAM, by, "slash_command"), client, kind=kind, summary=summary,
                                  occurred_on=day, today=day, contact_name=contact)
    interaction.logged_at = dt.datetime.combine(day, dt.time(15), tzinfo=dt.UTC)


def change(session, client: Client, item: str, *, logged: dt.date, to: dt.date, reason: str,
           told: dt.date | None = None) -> int:
    """A schedule change logged on `logged` (and marked told to the client on `told`); its id."""
    recorded = record_change(session, ACTOR, client, item=item, new_date=to, reason=reason, today=logged,
                             old_date=to - dt.timedelta(days=7))
    when = dt.datetime.combine(logged, dt.time(13), tzinfo=dt.UTC)
    session.execute(update(ScheduleChange).where(ScheduleChange.id == recorded.id).values(logged_at=when))
    if told is not None:
        mark_told(session, Actor(TEAM, OWNER, "button"), recorded, how="call")
        session.execute(update(ScheduleChange).where(ScheduleChange.id == recorded.id)
                        .values(told_at=dt.datetime.combine(told, dt.time(14), tzinfo=dt.UTC)))
    return recorded.id


def brief_section(message: dict[str, Any], title: str) -> str:
    [found] = [b["text"]["text"] for b in message["blocks"]
               if b["type"] == "section" and b["text"]["text"].startswith(f"*{title}*\n")]
    return found


def test_the_brief_has_the_contact_since_the_last_meeting_and_the_changes_open_or_told_since(database, jobs, slack):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))  # the previous: Tue 2027-05-04 10:00
    with database.transaction() as session:
        client = session.get(Client, client_id)
        log(session, client, dt.date(2027, 5, 3), "email", "Old news from before the last meeting")
        log(session, client, dt.date(2027, 5, 6), "call", "Agreed the Q3 fill slots\nInternal: margin is thin",
            contact="Dr. Roe")
        log(session, client, dt.date(2027, 5, 10), "visit", "Site tour <!channel> & audit prep", by=OWNER)
        untold = change(session, client, "Lot 42 fill", logged=dt.date(2027, 4, 26), to=dt.date(2027, 6, 1),
                        reason="Column resin shortage")
        told_since = change(session, client, "Lot 43 release", logged=dt.date(2027, 5, 5), to=dt.date(2027, 6, 8),
                            reason="QC retest", told=dt.date(2027, 5, 6))
        told_before = change(session, client, "Lot 40 fill", logged=dt.date(2027, 4, 20), to=dt.date(2027, 5, 20),
                             reason="Filter change", told=dt.date(2027, 4, 22))
        open_then_told = change(session, client, "Lot 41 release", logged=dt.date(2027, 4, 27),
                                to=dt.date(2027, 5, 28), reason="Label reprint", told=dt.date(2027, 5, 7))

    jobs(at(BERLIN, 2027, 5, 10, 10))  # 24 hours before Tue 2027-05-11 10:00
    [message] = reminders(slack)
    contact = brief_section(message, "Contact since the last meeting")
    lines = contact.split("\n")[1:]
    assert len(lines) == 2, contact
    assert "Mon 2027-05-10 · visit by <@U0ANA> — Site tour &lt;!channel&gt; &amp; audit prep" in lines[0]
    assert "Thu 2027-05-06 · call with Dr. Roe by <@U0BEN> — Agreed the Q3 fill slots" in lines[1]
    assert "margin is thin" not in contact and "Old news" not in message_text(message)
    assert "<!channel>" not in message_text(message)

    changes = brief_section(message, "Schedule changes")
    lines = changes.split("\n")[1:]
    assert lines[0].startswith(f"• `#{untold}` Lot 42 fill → Tue 2027-06-01") and "Column resin shortage" in lines[0]
    assert lines[0].endswith(":warning: *not told to the client yet*")
    told = {line for line in lines[1:]}
    assert any(line.startswith(f"• `#{told_since}` Lot 43 release → Tue 2027-06-08") and "QC retest" in line
               and line.endswith(":white_check_mark: told Thu 06 May by <@U0ANA>") for line in told), changes
    # Open at the last meeting (its brief said "not told"), told since: this brief says the client knows now.
    assert any(line.startswith(f"• `#{open_then_told}` Lot 41 release")
               and line.endswith(":white_check_mark: told Fri 07 May by <@U0ANA>") for line in told), changes
    assert f"`#{told_before}`" not in changes and len(lines) == 3
    assert "more" not in contact + changes
    assert_within_block_kit_limits(message)


def test_the_first_occurrences_brief_has_the_latest_contact_and_says_when_there_is_nothing(database, jobs, slack):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    jobs(at(BERLIN, 2027, 5, 4, 9))
    [message] = reminders(slack)
    assert brief_section(message, "Latest contact") == "*Latest contact*\n_No contact logged since then._"
    assert brief_section(message, "Schedule changes") == ("*Schedule changes*\n"
                                                           "_No open schedule change, none since the last meeting._")


def test_a_busy_clients_brief_summarises_and_stays_within_block_kit_limits(database, jobs, slack):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    with database.transaction() as session:
        client = session.get(Client, client_id)
        for n in range(40):
            day = dt.date(2027, 5, 4) + dt.timedelta(days=n % 7)
            log(session, client, day, ("call", "email", "visit", "meeting")[n % 4],
                f"Contact {n:02d}: " + "<@U0EVIL> long talk " * 60 + "\nsecond line", contact="x" * 200)
        for n in range(20):
            change(session, client, f"Lot {100 + n} " + "fill " * 55, logged=dt.date(2027, 5, 5),
                   to=dt.date(2027, 7, 1) + dt.timedelta(days=n), reason="Reason " + "& why " * 200)
    jobs(at(BERLIN, 2027, 5, 10, 10))
    [message] = reminders(slack)
    contact = brief_section(message, "Contact since the last meeting")
    assert contact.endswith("\n_…and 35 more._") and contact.count("\n• ") == 5
    assert "Mon 2027-05-10" in contact.split("\n")[1]  # the latest first
    changes = brief_section(message, "Schedule changes")
    assert changes.endswith("\n_…and 15 more._") and changes.count("\n• ") == 5
    assert "`#20` Lot 119" in changes.split("\n")[1]  # the newest first
    text = message_text(message)  # mentions render (issue 11); clipping never cuts one in half
    assert "<@U0EVIL>" in text and "<@…" not in text and "<@U…" not in text and "<@U0EVIL…" not in text
    assert len(message["blocks"]) < 50
    for block in message["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000, len(block["text"]["text"])
    assert_within_block_kit_limits(message)


# -- daylight saving time ------------------------------------------------------------------------------------

@pytest.mark.parametrize("zone, first_day, utc_hours", [
    # Sundays at 10:00: each change of the clocks falls between a reminder 24 hours ahead and its meeting.
    ("Europe/Berlin", dt.date(2027, 3, 21), (9, 8, 8)),  # CET, then CEST from Sun 2027-03-28
    ("Europe/Berlin", dt.date(2027, 10, 24), (8, 9, 9)),  # CEST, then CET from Sun 2027-10-31
    ("America/New_York", dt.date(2027, 3, 7), (15, 14, 14)),  # EST, then EDT from Sun 2027-03-14
    ("America/New_York", dt.date(2027, 10, 31), (14, 15, 15)),  # EDT, then EST from Sun 2027-11-07
])
def test_across_a_change_of_the_clocks_the_meeting_stays_at_10_and_reminders_are_24_and_1_hours_before(
        database, jobs, slack, zone, first_day, utc_hours):
    client_id = seed(database, tz=zone)
    plan_meeting(database, client_id, starts_on=first_day, zone=zone)
    local_zone = ZoneInfo(zone)
    for week, utc_hour in enumerate(utc_hours):
        day = first_day + dt.timedelta(weeks=week)
        starts = dt.datetime.combine(day, dt.time(utc_hour), tzinfo=dt.UTC)
        assert starts.astimezone(local_zone).time() == dt.time(10)
        for lead, words in ((DAY, "24 hours"), (HOUR, "1 hour")):
            count = len(reminders(slack))
            jobs(starts - lead - MINUTE)
            assert len(reminders(slack)) == count, f"early, {lead} before {starts.isoformat()}"
            jobs(starts - lead)
            assert len(reminders(slack)) == count + 1, f"{lead} before {starts.isoformat()}"
            local = starts.astimezone(local_zone)
            assert_reminder(reminders(slack)[-1], starts=starts, lead=words,
                            fallback=f"Sun {day:%Y-%m-%d} 10:00 {local.tzname()} ({zone})")
            assert ":clock3:" not in first_section(reminders(slack)[-1])
    assert len(reminders(slack)) == 6


def test_a_meeting_at_a_time_the_clocks_skip_is_just_after_the_gap_and_the_reminder_says_so(database, jobs, slack):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 3, 21), hour=2, minute=30)  # Sundays 02:30 Berlin
    gap_day = utc(3, 28, 1, 30)  # 02:30 does not exist on Sun 2027-03-28: 03:30 CEST
    jobs(gap_day - HOUR - MINUTE)
    jobs(gap_day - HOUR)
    [early, message] = reminders(slack)  # the 24 h reminder, posted as the 1 h one is due: nothing else was run
    assert stamp(early)[0] == gap_day and "starts in 61 minutes" in early["text"]
    assert_reminder(message, starts=gap_day, lead="1 hour", fallback="Sun 2027-03-28 03:30 CEST (Europe/Berlin)")
    assert (":clock3: On Sun 2027-03-28 02:30 does not exist in Europe/Berlin (the clocks go forward): that meeting "
            "is at 03:30 CEST.") in first_section(message)
    after = utc(4, 4, 0, 30)  # the next Sunday: 02:30 CEST again
    jobs(after - HOUR)
    assert_reminder(reminders(slack)[-1], starts=after, lead="1 hour",
                    fallback="Sun 2027-04-04 02:30 CEST (Europe/Berlin)")
    assert ":clock3:" not in first_section(reminders(slack)[-1])


def test_a_meeting_at_a_time_that_happens_twice_is_at_the_first_and_the_reminder_says_so(database, jobs, slack):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 10, 24), hour=2, minute=30)
    first_of_two = utc(10, 31, 0, 30)  # 02:30 CEST, not 02:30 CET (01:30 UTC)
    jobs(first_of_two - DAY - MINUTE)
    assert reminders(slack) == []
    jobs(first_of_two - DAY)
    [message] = reminders(slack)
    assert_reminder(message, starts=first_of_two, lead="24 hours", fallback="Sun 2027-10-31 02:30 CEST (Europe/Berlin)")
    assert ("On Sun 2027-10-31 02:30 happens twice in Europe/Berlin (the clocks go back): that meeting is at the "
            "first, CEST.") in first_section(message)
    jobs(first_of_two - HOUR)
    assert stamp(reminders(slack)[-1])[0] == first_of_two and len(reminders(slack)) == 2
    jobs(utc(10, 31, 0, 45))  # 02:45 CEST: under way, and no second 02:30 (CET) meeting to remind of
    jobs(utc(10, 31, 1, 15))
    assert len(reminders(slack)) == 2


# -- after downtime ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("before_start, expected", [
    (30 * MINUTE, [("60m", "30 minutes")]),  # both leads passed: only the latest, not the 24 h one too
    (3 * HOUR, [("1440m", "3 hours")]),  # the 1 h one is not due yet
    (-5 * MINUTE, []),  # started: nothing about it, and next week's is not due yet
])
def test_after_months_of_downtime_only_the_latest_reminder_of_a_meeting_still_ahead_is_posted(
        database, jobs, slack, before_start, expected):
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 1, 5), created=utc(1, 1, 9))
    starts = at(BERLIN, 2027, 5, 11, 10)  # the 19th Tuesday since; nothing ran in between
    jobs(starts - before_start)
    posted = reminders(slack)
    assert [(row.dedupe_key.rsplit(":", 1)[1], row.status) for row in outbox_rows(database)] == [
        (lead, OutboxStatus.SENT) for lead, _ in expected]
    assert [m["text"] for m in posted] == [
        f"Supply review with Acme Biologics starts in {words}: Tue 2027-05-11 10:00 CEST (Europe/Berlin)"
        for _, words in expected]
    assert all(row.dedupe_key.startswith(f"meeting:{meeting_id}:2027-05-11:") for row in outbox_rows(database))
    assert len(slack.calls_to("chat.postMessage")) == len(expected)



# -- skipped, moved, cancelled: what was queued is withdrawn -------------------------------------------------

def slack_down(slack) -> None:
    """Slack refuses the next post for two hours (429, Retry-After): the reminder stays queued."""
    slack.fail("chat.postMessage", status=429, retry_after=7200, times=1)


def left_sending(database) -> None:
    """As if Slack had answered the post with a 500: maybe posted, "sending" until checked, after a backoff."""
    with database.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING).values(
            status=OutboxStatus.SENDING, error="Slack answered 500 internal_error", attempts=1,
            next_attempt_at=dt.datetime.now(dt.UTC) + HOUR))


@pytest.mark.parametrize("state", [OutboxStatus.PENDING, OutboxStatus.SENDING])
@pytest.mark.parametrize("action", ["skip", "move", "cancel"])
def test_a_reminder_still_queued_is_withdrawn_by_a_skip_a_move_or_a_cancellation(database, jobs, slack, bot,
                                                                                 action, state):
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    starts = at(BERLIN, 2027, 5, 11, 10)
    slack_down(slack)
    assert "queued 1 message(s)" in jobs(starts - DAY)
    [queued] = outbox_rows(database)
    assert (queued.status, queued.error) == (OutboxStatus.PENDING, "rate limited: retry after 7200s")
    assert queued.dedupe_key == f"meeting:{meeting_id}:2027-05-11:20270511T0800Z:1440m"
    assert queued.expires_at == starts.astimezone(dt.UTC)
    if state == OutboxStatus.SENDING:
        left_sending(database)

    command = {"skip": f"meeting skip #{meeting_id} 2027-05-11",
               "move": f"meeting move #{meeting_id} 2027-05-13 at:14:00 from:2027-05-11",
               "cancel": f"meeting cancel #{meeting_id}"}[action]
    said = shown(bot.command(command, user=OWNER))
    assert {"skip": "Skipped the", "move": "Moved the", "cancel": "Cancelled meeting"}[action] in said, said
    [withdrawn] = outbox_rows(database)
    assert (withdrawn.status, withdrawn.error) == (OutboxStatus.CANCELLED, "withdrawn: no longer applies")

    slack_back(database)
    assert "0 delivered" in jobs(starts - DAY + 5 * MINUTE, job="deliver")
    jobs(starts - HOUR)  # the old time's 1 h reminder: nothing
    jobs(starts + 5 * MINUTE)
    assert slack.posted() == []
    assert len(slack.calls_to("chat.postMessage")) == 1  # the refused attempt only

    moved_to = at(BERLIN, 2027, 5, 13, 14)
    jobs(moved_to - DAY)
    jobs(moved_to - HOUR)
    if action != "move":
        assert reminders(slack) == []
        return
    later, soon = reminders(slack)
    for message, words in ((later, "24 hours"), (soon, "1 hour")):
        assert_reminder(message, starts=moved_to.astimezone(dt.UTC), lead=words,
                        fallback="Thu 2027-05-13 14:00 CEST (Europe/Berlin)")
        assert "(moved)" in first_section(message)
    assert [row.dedupe_key for row in outbox_rows(database)][1:] == [
        f"meeting:{meeting_id}:2027-05-11:20270513T1200Z:1440m", f"meeting:{meeting_id}:2027-05-11:20270513T1200Z:60m"]


def test_after_a_skip_the_following_weeks_are_reminded_again(database, jobs, slack):
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    with database.transaction() as session:
        skip_occurrence(session, ACTOR, session.get(Meeting, meeting_id), dt.date(2027, 5, 11), now=utc(5, 5, 9))
    for day in (dt.date(2027, 5, 11), dt.date(2027, 5, 18)):
        starts = dt.datetime.combine(day, dt.time(10), tzinfo=BERLIN)
        jobs(starts - DAY)
        jobs(starts - HOUR)
    assert [stamp(m)[0] for m in reminders(slack)] == [utc(5, 18, 8)] * 2


def test_a_moved_occurrence_reminded_before_is_reminded_again_at_its_new_time(database, jobs, slack):
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    starts, moved_to = at(BERLIN, 2027, 5, 11, 10), at(BERLIN, 2027, 5, 11, 16)
    jobs(starts - DAY)
    with database.transaction() as session:
        move_occurrence(session, ACTOR, session.get(Meeting, meeting_id), to_day=dt.date(2027, 5, 11),
                        at=dt.time(16), now=starts - DAY + HOUR)
    jobs(starts - HOUR)  # the old time's 1 h reminder is not sent; the new time's 24 h one is due
    jobs(moved_to - HOUR)
    old, again, soon = reminders(slack)
    assert stamp(old)[0] == starts.astimezone(dt.UTC) and "(moved)" not in first_section(old)
    for message, words in ((again, "7 hours"), (soon, "1 hour")):
        assert_reminder(message, starts=moved_to.astimezone(dt.UTC), lead=words,
                        fallback="Tue 2027-05-11 16:00 CEST (Europe/Berlin)")
        assert "(moved)" in first_section(message)


def test_a_cancelled_meeting_withdraws_every_queued_reminder_and_is_never_reminded_again(database, jobs, slack):
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4), hour=11, title="Quality review")
    slack_down(slack)
    jobs(at(BERLIN, 2027, 5, 3, 11))  # both meetings' 24 h reminders: the first refused, the second waits behind
    assert [row.status for row in outbox_rows(database)] == [OutboxStatus.PENDING] * 2
    with database.transaction() as session:
        assert cancel_meeting(session, ACTOR, session.get(Meeting, meeting_id)) == 1
    slack_back(database)
    jobs(at(BERLIN, 2027, 5, 3, 11, 5), job="deliver")
    [posted] = slack.posted(INTERNAL)
    assert posted["text"].startswith("Quality review with Acme Biologics")
    for moment in (at(BERLIN, 2027, 5, 4, 9), at(BERLIN, 2027, 5, 4, 10), at(BERLIN, 2027, 5, 10, 10),
                   at(BERLIN, 2027, 5, 10, 11), at(BERLIN, 2027, 5, 11, 9), at(BERLIN, 2027, 5, 11, 10)):
        jobs(moment)
    assert [m["text"].split(" with ")[0] for m in reminders(slack)] == ["Quality review"] * 4


def test_a_24_hour_reminder_still_queued_when_the_1_hour_one_is_due_is_replaced_by_it(database, jobs, slack):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    starts = at(BERLIN, 2027, 5, 4, 10)
    slack_down(slack)
    jobs(starts - DAY)
    slack_back(database)
    jobs(starts - HOUR)
    [message] = reminders(slack)
    assert_reminder(message, starts=starts.astimezone(dt.UTC), lead="1 hour",
                    fallback="Tue 2027-05-04 10:00 CEST (Europe/Berlin)")
    assert [(row.dedupe_key.rsplit(":", 1)[1], row.status) for row in outbox_rows(database)] == [
        ("1440m", OutboxStatus.CANCELLED), ("60m", OutboxStatus.SENT)]


def test_those_reminded_hear_of_a_skip(database, jobs, slack, bot):
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    jobs(at(BERLIN, 2027, 5, 3, 10))
    shown(bot.command(f"meeting skip #{meeting_id} 2027-05-04", user=OWNER))
    posted = slack.wait_for("chat.postMessage", count=2)
    assert len(posted) == 2
    assert slack.posted(INTERNAL)[-1]["text"] == "Supply review with Acme Biologics on 2027-05-04 is skipped"
    jobs(at(BERLIN, 2027, 5, 4, 9))
    assert len(reminders(slack)) == 1


# -- expiry ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("back_at, posted", [(-MINUTE, True), (dt.timedelta(0), False), (MINUTE, False)])
def test_a_reminder_slack_could_not_take_before_the_meeting_started_is_never_posted(database, jobs, slack,
                                                                                    back_at, posted):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    starts = at(BERLIN, 2027, 5, 4, 10)
    slack_down(slack)
    jobs(starts - HOUR)
    [queued] = outbox_rows(database)
    assert queued.status == OutboxStatus.PENDING and queued.expires_at == starts.astimezone(dt.UTC)
    slack_back(database)
    out = jobs(starts + back_at, job="deliver")
    [row] = outbox_rows(database)
    if posted:
        assert "1 delivered" in out and row.status == OutboxStatus.SENT and len(reminders(slack)) == 1
        return
    assert "0 delivered" in out and "1 expired unposted" in out
    assert (row.status, row.error) == (OutboxStatus.CANCELLED, "expired: not posted in time, no longer useful")
    assert slack.posted() == []
    jobs(starts + back_at + MINUTE)  # the job again: nothing about a meeting under way
    jobs(starts + 30 * MINUTE, job="deliver")
    assert slack.posted() == [] and len(outbox_rows(database)) == 1


# -- meeting-followups: the prompt to log the notes ----------------------------------------------------------

def followups(jobs, moment: dt.datetime) -> str:
    return jobs(moment, job="meeting-followups")


def log_notes_button(message: dict[str, Any]) -> dict[str, Any]:
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    [button] = actions["elements"]
    return button


def test_after_the_meeting_day_one_prompt_in_the_owners_business_hours(database, jobs, slack):
    slack.user_zones[OWNER] = "America/New_York"  # the client and its meeting are in Berlin
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    for moment in (at(BERLIN, 2027, 5, 4, 12),  # just after the meeting
                   at(BERLIN, 2027, 5, 4, 20),  # 14:00 in New York, but the meeting's day is not over in Berlin
                   at(BERLIN, 2027, 5, 5, 0, 30),  # the day is over; 18:30 in New York
                   at(BERLIN, 2027, 5, 5, 9),  # Berlin's business hours, 03:00 for the owner
                   at(NEW_YORK, 2027, 5, 5, 8, 59)):
        followups(jobs, moment)
        assert slack.posted() == [], moment
    assert [call.args["user"] for call in slack.calls_to("users.info")] == [OWNER]

    assert "queued 1 message(s)" in followups(jobs, at(NEW_YORK, 2027, 5, 5, 9))
    [prompt] = slack.posted(INTERNAL)
    text = first_section(prompt)
    assert text.startswith(f":memo: <@{OWNER}>, the *Supply review* with *Acme Biologics* (`acme`) was on ")
    assert stamp(prompt) == (utc(5, 4, 8), "Tue 2027-05-04 10:00 CEST (Europe/Berlin)")
    assert PROMPT_WORDS in text
    button = log_notes_button(prompt)
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        "meeting_log_notes", f"{meeting_id}:2027-05-04", "Log notes")
    assert [row.dedupe_key for row in outbox_rows(database)] == [f"meeting:{meeting_id}:2027-05-04:notes"]

    for moment in (at(NEW_YORK, 2027, 5, 5, 9, 15), at(NEW_YORK, 2027, 5, 5, 16), at(NEW_YORK, 2027, 5, 6, 10),
                   at(NEW_YORK, 2027, 5, 10, 10)):
        followups(jobs, moment)
    assert len(slack.posted()) == 1 and slack.posted(MANAGERS) == []


def test_a_meeting_on_friday_is_asked_about_on_monday_not_at_the_weekend(database, jobs, slack):
    slack.user_zones[OWNER] = "America/New_York"
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 7), hour=15, every=Frequency.ONCE)
    for moment in (at(NEW_YORK, 2027, 5, 8, 10), at(NEW_YORK, 2027, 5, 9, 10), at(NEW_YORK, 2027, 5, 10, 8)):
        followups(jobs, moment)
    assert slack.posted() == []
    followups(jobs, at(NEW_YORK, 2027, 5, 10, 9))
    [prompt] = prompts(slack)
    assert log_notes_button(prompt)["value"] == f"{meeting_id}:2027-05-07"


@pytest.mark.parametrize("kind, day, prompted", [
    ("meeting", dt.date(2027, 5, 4), False),  # the notes of that day
    ("meeting", dt.date(2027, 5, 5), False),  # logged as of the next day: still this meeting's notes
    ("meeting", dt.date(2027, 5, 3), True),  # an earlier meeting's notes
    ("call", dt.date(2027, 5, 4), True),  # a call that day is not the meeting's notes
])
def test_no_prompt_once_meeting_notes_are_logged_for_that_day_or_later(database, jobs, slack, kind, day, prompted):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    with database.transaction() as session:
        log(session, session.get(Client, client_id), day, kind, "What we agreed", by=OWNER)
    followups(jobs, at(BERLIN, 2027, 5, 5, 10))
    assert len(prompts(slack)) == int(prompted)


def test_no_prompt_about_a_skipped_occurrence(database, jobs, slack):
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    with database.transaction() as session:
        skip_occurrence(session, ACTOR, session.get(Meeting, meeting_id), dt.date(2027, 5, 11), now=utc(5, 5, 9))
    followups(jobs, at(BERLIN, 2027, 5, 5, 10))
    followups(jobs, at(BERLIN, 2027, 5, 12, 10))
    followups(jobs, at(BERLIN, 2027, 5, 19, 10))
    assert [log_notes_button(p)["value"] for p in prompts(slack)] == [f"{meeting_id}:2027-05-04",
                                                                       f"{meeting_id}:2027-05-18"]


def test_a_prompt_not_posted_yet_is_withdrawn_when_the_notes_are_logged(database, jobs, slack):
    client_id = seed(database)
    plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    slack_down(slack)
    assert "queued 1 message(s)" in followups(jobs, at(BERLIN, 2027, 5, 5, 10))
    assert [row.status for row in outbox_rows(database)] == [OutboxStatus.PENDING]
    with database.transaction() as session:
        log_interaction(session, Actor(TEAM, OWNER, "slash_command"), session.get(Client, client_id), kind="meeting",
                        summary="Supply review: Q3 slots agreed", occurred_on=dt.date(2027, 5, 4),
                        today=dt.date(2027, 5, 5))
    [row] = outbox_rows(database)
    assert (row.status, row.error) == (OutboxStatus.CANCELLED, "withdrawn: no longer applies")
    slack_back(database)
    jobs(at(BERLIN, 2027, 5, 5, 10, 5), job="deliver")
    followups(jobs, at(BERLIN, 2027, 5, 5, 11))
    assert slack.posted() == [] and len(outbox_rows(database)) == 1


def test_after_a_long_downtime_only_the_past_weeks_meeting_is_asked_about(database, jobs, slack):
    client_id = seed(database)
    weekly = plan_meeting(database, client_id, starts_on=dt.date(2027, 1, 5), created=utc(1, 1, 9))
    fortnightly = plan_meeting(database, client_id, starts_on=dt.date(2027, 1, 14), every=Frequency.TWO_WEEKS,
                               created=utc(1, 1, 9), title="Quality review")  # ... Thu 2027-05-06, 2027-05-20
    followups(jobs, at(BERLIN, 2027, 5, 14, 10))  # Friday: first run since January
    assert [log_notes_button(p)["value"] for p in prompts(slack)] == [f"{weekly}:2027-05-11"]
    # The fortnightly one's last day (Thu 2027-05-06) ended 7 days and 10 hours ago: not asked about.
    followups(jobs, at(BERLIN, 2027, 5, 21, 10))
    assert [log_notes_button(p)["value"] for p in prompts(slack)] == [
        f"{weekly}:2027-05-11", f"{weekly}:2027-05-18", f"{fortnightly}:2027-05-20"]


# -- a dry run -----------------------------------------------------------------------------------------------

def test_a_dry_run_prints_what_would_be_posted_and_changes_nothing(database, jobs, slack):
    client_id = seed(database)
    meeting_id = plan_meeting(database, client_id, starts_on=dt.date(2027, 5, 4))
    dry = jobs(at(BERLIN, 2027, 5, 3, 10), "--dry-run")
    assert "meeting-reminders as of 2027-05-03T10:00:00+02:00 (dry run): would post 1 message(s)" in dry
    assert f"[meeting:{meeting_id}:2027-05-04:20270504T0800Z:1440m]" in dry
    assert "starts in 24 hours" in dry and "Acme Biologics" in dry
    dry = jobs(at(BERLIN, 2027, 5, 5, 10), "--dry-run", job="meeting-followups")
    assert "would post 1 message(s)" in dry and f"[meeting:{meeting_id}:2027-05-04:notes]" in dry
    assert "no meeting notes are logged" in dry
    assert (outbox_rows(database), slack.calls) == ([], [])

    jobs(at(BERLIN, 2027, 5, 3, 10))
    assert len(reminders(slack)) == 1
