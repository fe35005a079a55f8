"""Where meetings show besides their own commands: each client's next meeting in `/cmo status` (the portfolio
and one client) and on the App Home, the week's meetings in the managers' weekly digest, and the demo
portfolio's meetings in the console."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from zoneinfo import ZoneInfo

from bot.db.models import Frequency
from bot.services import Actor
from bot.services.clients import add_client
from bot.services.meetings import add_meeting, get_meeting, skip_occurrence
from tests.commands_support import shown, typed
from tests.conftest import env_for_subprocess
from tests.slackhttp import message_text
from tests.test_cli import rapport_command
from tests.test_console import reply_to, run_console

BERLIN = ZoneInfo("Europe/Berlin")
TEAM, MANAGERS = "T0ACME", "C0MANAGERS"
ACTOR = Actor(TEAM, "U0ANA", "cli")


def stamp(moment: dt.datetime) -> str:
    """How Slack is asked to show a moment in each reader's zone."""
    return f"<!date^{int(moment.timestamp())}^"


def weekly(database, *, key: str, title: str, first: dt.date, at: dt.time = dt.time(10), owner: str = "U0ANA",
           every: Frequency = Frequency.WEEK) -> int:
    """A client (Berlin) with one meeting, created a week before its first occurrence; the meeting's id."""
    with database.transaction() as session:
        client = add_client(session, ACTOR, f"{key.title()} Pharma", key=key, owner_user_id=owner,
                            internal_channel_id=f"C0{key.upper()}", timezone="Europe/Berlin")
        created = dt.datetime.combine(first - dt.timedelta(days=7), dt.time(9), tzinfo=BERLIN)
        meeting = add_meeting(session, ACTOR, client, title=title, every=every, starts_on=first, at=at,
                              timezone="Europe/Berlin", now=created)
        session.flush()
        return meeting.id


def next_weekday(weekday: int, *, after: dt.date) -> dt.date:
    return after + dt.timedelta(days=(weekday - after.weekday() - 1) % 7 + 1)


# -- /cmo status and the App Home ----------------------------------------------------------------------------

def test_status_shows_each_clients_next_meeting(bot, database):
    today = dt.datetime.now(BERLIN).date()
    first = next_weekday(2, after=today)  # a Wednesday still ahead
    weekly(database, key="acme", title="Fill plan <review> & co", first=first)
    with database.transaction() as session:
        add_client(session, ACTOR, "Borealis Pharma", key="borealis", owner_user_id="U0BEN")
    start = dt.datetime.combine(first, dt.time(10), tzinfo=BERLIN)

    one = bot.command("status acme")
    text = shown(one)
    assert "Next meeting" in text
    assert stamp(start) in one.text
    assert "Fill plan <review> & co" in text  # what the user reads
    assert "Fill plan &lt;review&gt; &amp; co" in one.text  # how it was sent: escaped

    portfolio = bot.command("status")
    lines = {line.split("`")[1]: line for line in message_text(portfolio.json).splitlines() if "`" in line}
    assert "next meeting" in lines["acme"] and stamp(start) in lines["acme"]
    assert "next meeting" not in lines["borealis"]

    # Skipped, the next one is a week later.
    with database.transaction() as session:
        skip_occurrence(session, ACTOR, get_meeting(session, TEAM, 1), first, dt.datetime.now(dt.UTC))
    assert stamp(start + dt.timedelta(days=7)) in bot.command("status acme").text


def test_app_home_shows_the_next_meeting(bot, slack, database):
    first = next_weekday(3, after=dt.datetime.now(BERLIN).date())
    weekly(database, key="acme", title="Quarterly review", first=first)
    response = bot.event({"type": "app_home_opened", "user": "U0ANA", "channel": "D0HOME", "tab": "home",
                          "event_ts": "1732400000.000100"})
    assert response.status == 200
    [call] = [c for c in slack.wait_for("views.publish") if c.args["user_id"] == "U0ANA"]
    home = message_text({"blocks": call.args["view"]["blocks"]})
    start = dt.datetime.combine(first, dt.time(10), tzinfo=BERLIN)
    assert home.count(stamp(start)) == 2  # under "My clients" and in the portfolio


# -- the weekly digest -------------------------------------------------------------------------------------

def test_weekly_digest_lists_the_weeks_meetings(database, slack, workdir, database_url):
    monday = dt.date(2027, 3, 22)  # ISO week 12; Berlin's clocks go forward on Sunday the 28th
    weekly(database, key="acme", title="Fill plan review", first=dt.date(2027, 3, 10))  # Wednesdays
    weekly(database, key="cygnus", title="QA alignment", first=dt.date(2027, 3, 28), at=dt.time(2, 30))  # in the gap
    weekly(database, key="delta", title="Next month's review", first=dt.date(2027, 4, 6))
    skipped = weekly(database, key="bravo", title="Skipped supply call", first=dt.date(2027, 3, 18))  # Thursdays
    with database.transaction() as session:
        skip_occurrence(session, ACTOR, get_meeting(session, TEAM, skipped), dt.date(2027, 3, 25),
                        dt.datetime(2027, 3, 20, tzinfo=dt.UTC))

    env = env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_MANAGERS_CHANNEL=MANAGERS,
                             RAPPORT_TIMEZONE="Europe/Berlin")
    result = subprocess.run([*rapport_command(), "jobs", "run", "weekly-digest", "--now", f"{monday}T09:05"],
                            capture_output=True, text=True, env=env, cwd=workdir, timeout=60)
    assert result.returncode == 0, result.stderr
    [digest] = slack.posted(MANAGERS)
    text = message_text(digest)
    assert "*This week's meetings* (2)" in text
    assert stamp(dt.datetime(2027, 3, 24, 10, tzinfo=BERLIN)) in text  # Wednesday's
    assert stamp(dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC)) in text  # 02:30 does not exist: 03:30 CEST
    assert "Next month" not in text and "Skipped supply call" not in text
    assert "Acme Pharma" in text and "Cygnus Pharma" in text
    assert len(digest["blocks"]) < 50


def test_weekly_digest_with_no_meetings_says_so(database, slack, workdir, database_url):
    with database.transaction() as session:
        add_client(session, ACTOR, "Acme Pharma", key="acme", owner_user_id="U0ANA")
    env = env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_MANAGERS_CHANNEL=MANAGERS)
    result = subprocess.run([*rapport_command(), "jobs", "run", "weekly-digest", "--now", "2027-03-22T09:05"],
                            capture_output=True, text=True, env=env, cwd=workdir, timeout=60)
    assert result.returncode == 0, result.stderr
    [digest] = slack.posted(MANAGERS)
    assert "This week's meetings" in message_text(digest) and "None planned" in message_text(digest)


# -- the demo --------------------------------------------------------------------------------------------------

def test_the_demo_portfolio_has_meetings_and_a_reminder_brings_the_brief(tmp_path, database_url):
    out = run_console(f"/cmo meeting list\n{typed('/cmo status borealis')}\njobs run meeting-reminders --now "
                      '"thu 09:00"\n', tmp_path, database_url, "--demo")
    listing = reply_to(out, "/cmo meeting list")
    assert "meetings (3)" in listing
    for title in ("Quarterly business review", "Weekly supply call", "QA alignment"):
        assert title in listing
    assert "the first Tuesday of every month" in listing
    assert "Next meeting" in reply_to(out, "/cmo status borealis")
    # Thursday 09:00 (UTC): the weekly supply call (15:00 New York) is less than a day ahead.
    reminder = out.split("── posted in #borealis-internal ──", 1)[1]
    assert "Weekly supply call" in reminder
    assert re.search(r"starts in \d+ hours", reminder)
    assert "Schedule changes" in reminder and "not told to the client yet" in reminder
    assert "Latest contact" in reminder and "stability protocol" in reminder


def test_history_tells_what_was_done_to_a_meeting(bot, database):
    first = next_weekday(2, after=dt.datetime.now(BERLIN).date())
    meeting_id = weekly(database, key="acme", title="Fill plan <review>", first=first)
    assert "Skipped" in bot.command(f"meeting skip #{meeting_id} {first}").text
    assert "Cancelled" in bot.command(f"meeting cancel #{meeting_id}").text
    text = shown(bot.command("history acme"))
    assert f"planned meeting #{meeting_id} *Fill plan <review>*: every week from {first} at 10:00 Europe/Berlin" in text
    assert f"skipped meeting #{meeting_id} of {first}" in text
    assert f"cancelled meeting #{meeting_id}" in text
    assert "meeting.add" not in text
