"""`promise-reminders` run by hand (`rapport jobs run promise-reminders --now ...`, in process) against the test
database and the local Slack: a promise is reminded of on the last business day before it is due (with a Done
button), its owner nudged once it is overdue, and the managers told once when it is more than 2 business days
overdue; only in business hours, never twice, nothing once it is done; a move starts afresh."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.db.models import AuditEvent, Client, Frequency, OutboxMessage, Promise
from bot.services import Actor
from bot.services.clients import add_client, archive_client
from bot.services.meetings import add_meeting
from bot.services.promises import add_promise, move_promise
from tests.commands_support import shown, unescape
from tests.conftest import env_for_subprocess, rapport_in_process
from tests.slackhttp import message_text
from tests.test_changes_actions_http import press, responses

BERLIN = ZoneInfo("Europe/Berlin")
TEAM, OWNER, KEEPER = "T0ACME", "U0ANA", "U0BOB"
INTERNAL, MANAGERS = "C0ACMEINT", "C0MANAGERS"
ACTOR = Actor(team_id=TEAM, user_id=OWNER, surface="cli")
DUE = dt.date(2027, 3, 10)  # a Wednesday
REMINDER, NUDGE, ESCALATION = "is due", "is overdue", "Escalation: promise"
WHAT = "Send the CoA for lot 42"


def berlin(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    """A moment in March 2027, Berlin time: Mon 8, Tue 9, Wed 10, Thu 11, Fri 12, Mon 15."""
    return dt.datetime(2027, month, day, hour, minute, tzinfo=BERLIN)


@pytest.fixture
def jobs(database_url, slack, workdir, monkeypatch):
    env = env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test", RAPPORT_MANAGERS_CHANNEL=MANAGERS)

    def run(now: dt.datetime, *extra: str, job: str = "promise-reminders") -> str:
        code, output = rapport_in_process(monkeypatch, workdir, env, "jobs", "run", job,
                                          "--now", now.isoformat(), *extra)
        assert code == 0, output
        assert "workspace(s) failed" not in output, output
        return output

    return run


def seed(database, *, channel: str | None = INTERNAL, country: str | None = None) -> int:
    with database.transaction() as session:
        client = add_client(session, ACTOR, "Acme Biologics", key="acme", owner_user_id=OWNER,
                            internal_channel_id=channel, timezone="Europe/Berlin", country=country)
        session.flush()
        return client.id


def promise(database, client_id: int, *, due: dt.date = DUE, what: str = WHAT, owner: str = KEEPER) -> int:
    with database.transaction() as session:
        row = add_promise(session, ACTOR, session.get(Client, client_id), what=what, due_on=due,
                          today=dt.date(2027, 3, 1), owner_user_id=owner)
        return row.id


def posted(slack, words: str, channel: str = INTERNAL) -> list[dict[str, Any]]:
    return [m for m in slack.posted(channel) if words in unescape(message_text(m))]


def text_of(message: dict[str, Any]) -> str:
    return unescape(message_text(message))


def buttons(message: dict[str, Any]) -> dict[str, str]:
    return {e["action_id"]: e.get("value") for b in message.get("blocks") or [] if b["type"] == "actions"
            for e in b["elements"]}


def outbox_keys(database) -> list[str]:
    with database.transaction() as session:
        return list(session.scalars(select(OutboxMessage.dedupe_key).order_by(OutboxMessage.id)))


# -- due tomorrow ---------------------------------------------------------------------------------------------

def test_reminded_once_on_the_business_day_before_it_is_due(jobs, database, slack):
    promise(database, seed(database))
    jobs(berlin(8, 10))  # Monday: two days ahead
    jobs(berlin(9, 8, 30))  # Tuesday before business hours
    assert posted(slack, REMINDER) == []
    jobs(berlin(9, 10))
    [message] = posted(slack, REMINDER)
    text = text_of(message)
    assert f"<@{KEEPER}>: promise #1 to *Acme Biologics* is due *Wed 2027-03-10*: *{WHAT}*" in text
    assert buttons(message) == {"promise_done": "1"}
    jobs(berlin(9, 15))
    jobs(berlin(10, 10))  # the due day: not overdue yet, not reminded again
    assert len(posted(slack, REMINDER)) == 1 and posted(slack, NUDGE) == []
    assert outbox_keys(database) == [f"promise:1:due:{DUE}"]
    assert slack.posted(MANAGERS) == []


def test_due_after_a_weekend_is_reminded_on_friday(jobs, database, slack):
    promise(database, seed(database), due=dt.date(2027, 3, 15))
    jobs(berlin(11, 10))
    assert posted(slack, REMINDER) == []
    jobs(berlin(13, 10))  # Saturday: closed
    assert posted(slack, REMINDER) == []
    jobs(berlin(12, 10))
    assert len(posted(slack, REMINDER)) == 1


def test_public_holidays_of_the_clients_country_count(jobs, database, slack):
    # Tue 30 March 2027 is due; Mon 29 is Easter Monday and Fri 26 Good Friday in Germany: remind Thu 25.
    promise(database, seed(database, country="DE"), due=dt.date(2027, 3, 30))
    jobs(berlin(26, 10))
    jobs(berlin(29, 10))
    assert posted(slack, REMINDER) == []
    jobs(berlin(25, 10))
    assert len(posted(slack, REMINDER)) == 1


# -- overdue and escalated --------------------------------------------------------------------------------------

def test_overdue_nudges_the_owner_once_then_escalates_once_after_two_business_days(jobs, database, slack):
    promise(database, seed(database))
    jobs(berlin(11, 7))  # the due day has ended, but before business hours
    assert posted(slack, NUDGE) == []
    jobs(berlin(11, 9, 5))
    [nudge] = posted(slack, NUDGE)
    text = text_of(nudge)
    assert f"<@{KEEPER}>: promise #1 to *Acme Biologics* was due *Wed 2027-03-10* and is overdue (1 day)" in text
    assert "`/cmo promise move #1 to:<date> reason:\"<why>\"`" in text
    assert buttons(nudge) == {"promise_done": "1"}
    jobs(berlin(12, 16, 59))  # two business days overdue, not more
    assert len(posted(slack, NUDGE)) == 1
    assert posted(slack, ESCALATION, MANAGERS) == []
    jobs(berlin(15, 9, 30))
    [escalation] = posted(slack, ESCALATION, MANAGERS)
    assert f"promise #1 to *Acme Biologics* (*{WHAT}*) was due Wed 2027-03-10" in text_of(escalation)
    assert f"Owner: <@{KEEPER}>" in text_of(escalation)
    jobs(berlin(16, 11))
    assert len(posted(slack, ESCALATION, MANAGERS)) == 1 and len(posted(slack, NUDGE)) == 1
    assert posted(slack, ESCALATION) == []  # the escalation is not in the internal channel


def test_without_an_internal_channel_only_the_managers_hear(jobs, database, slack):
    promise(database, seed(database, channel=None))
    jobs(berlin(9, 10))
    jobs(berlin(15, 10))
    assert outbox_keys(database) == [f"promise:1:escalate:{DUE}"]
    assert len(posted(slack, ESCALATION, MANAGERS)) == 1


def test_done_or_archived_means_nothing_more(jobs, database, slack, bot):
    client_id = seed(database)
    promise(database, client_id)
    assert "is done" in shown(bot.command("done #1"))
    jobs(berlin(9, 10))
    jobs(berlin(15, 10))
    assert outbox_keys(database) == []
    promise(database, client_id, what="Another one")
    with database.transaction() as session:
        archive_client(session, ACTOR, session.get(Client, client_id))
    jobs(berlin(9, 10))
    jobs(berlin(15, 10))
    assert outbox_keys(database) == []


def test_a_move_starts_afresh(jobs, database, slack):
    promise(database, seed(database))
    jobs(berlin(9, 10))
    assert len(posted(slack, REMINDER)) == 1
    with database.transaction() as session:
        move_promise(session, ACTOR, session.get(Promise, 1), new_due_on=dt.date(2027, 3, 17), reason="QC slipped",
                     today=dt.date(2027, 3, 9))
    jobs(berlin(11, 10))  # the old date has passed: no nudge for it
    assert posted(slack, NUDGE) == []
    jobs(berlin(16, 10))
    reminders = posted(slack, REMINDER)
    assert len(reminders) == 2 and "is due *Wed 2027-03-17*" in text_of(reminders[1])


def test_dry_run_posts_nothing(jobs, database, slack):
    promise(database, seed(database))
    assert "would post 1 message(s)" in jobs(berlin(9, 10), "--dry-run")
    assert outbox_keys(database) == [] and slack.posted(INTERNAL) == []


def test_promise_text_is_escaped_in_what_is_posted(jobs, database, slack):
    promise(database, seed(database), what="Ping <!channel> & <!here> about R&D")
    jobs(berlin(9, 10))
    jobs(berlin(15, 10))
    for message in slack.posted(INTERNAL) + slack.posted(MANAGERS):
        assert "<!channel>" not in message.get("text", "")
        [section] = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
        assert "<!channel>" not in section and "<!here>" not in section
        assert "Ping &lt;!channel&gt; &amp; &lt;!here&gt; about R&amp;D" in section
    assert len(slack.posted(INTERNAL)) == 2 and len(slack.posted(MANAGERS)) == 1


# -- the Done button --------------------------------------------------------------------------------------------

def test_done_button_marks_it_done_and_replaces_the_message(jobs, database, slack, bot):
    promise(database, seed(database))
    jobs(berlin(9, 10))
    [message] = posted(slack, REMINDER)
    press(bot, message, "promise_done", user="U0CAT")
    [answer] = responses(slack)
    assert answer["replace_original"] is True
    text = text_of(answer)
    assert "Done by <@U0CAT>" in text and f"promise #1 to *Acme Biologics*, *{WHAT}*" in text
    assert not buttons(answer)
    with database.transaction() as session:
        row = session.get(Promise, 1)
        assert (row.done_by, row.done_at is not None) == ("U0CAT", True)

    press(bot, message, "promise_done", user="U0DAN")
    first, second = responses(slack, 2)
    assert second["replace_original"] is False
    assert "already marked done" in text_of(second) and "<@U0CAT>" in text_of(second)
    with database.transaction() as session:
        assert session.get(Promise, 1).done_by == "U0CAT"
    jobs(berlin(15, 10))
    assert posted(slack, NUDGE) == []


def test_done_pressed_by_several_people_at_once_is_done_once(jobs, database, slack, bot):
    promise(database, seed(database))
    jobs(berlin(9, 10))
    [message] = posted(slack, REMINDER)
    presses = [threading.Thread(target=press, args=(bot, message, "promise_done"), kwargs={"user": f"U0P{n}"})
               for n in range(4)]
    for thread in presses:
        thread.start()
    for thread in presses:
        thread.join()
    answers = responses(slack, 4)
    assert sum(1 for a in answers if a["replace_original"] is True) == 1
    assert sum(1 for a in answers if "already marked done" in text_of(a)) == 3
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "promise.done")) == 1


def test_done_button_of_another_workspace_finds_nothing(jobs, database, slack, bot):
    promise(database, seed(database))
    jobs(berlin(9, 10))
    [message] = posted(slack, REMINDER)
    press(bot, message, "promise_done", user="U0ZED", team="T0OTHER")
    [answer] = responses(slack)
    assert "There is no promise #1" in text_of(answer)
    with database.transaction() as session:
        assert session.get(Promise, 1).done_at is None


# -- the weekly digest ------------------------------------------------------------------------------------------

def test_weekly_digest_lists_the_overdue_promises(jobs, database, slack):
    client_id = seed(database)
    promise(database, client_id)
    promise(database, client_id, what="Not due yet", due=dt.date(2027, 3, 30))
    jobs(berlin(15, 10), job="weekly-digest")
    [digest] = slack.posted(MANAGERS)
    text = text_of(digest)
    assert "*Overdue promises* (1)" in text
    assert (f"*#1* *Acme Biologics* · *{WHAT}* · due Wed 2027-03-10 · owner <@{KEEPER}> · "
            ":warning: *overdue 5 days*") in text
    assert "1 promise overdue (by 5 days)" in text
    assert "Not due yet" not in text


# -- the meeting brief ------------------------------------------------------------------------------------------

def test_the_meeting_brief_shows_open_promises_overdue_first(jobs, database, slack):
    client_id = seed(database)
    promise(database, client_id, what="Due on the meeting's eve")
    promise(database, client_id, what="Late <!channel> & co", due=dt.date(2027, 3, 8))
    promise(database, client_id, what="Kept", due=dt.date(2027, 3, 9))
    with database.transaction() as session:
        session.get(Promise, 3).done_at = dt.datetime(2027, 3, 5, tzinfo=dt.UTC)
        add_meeting(session, ACTOR, session.get(Client, client_id), title="Supply review", every=Frequency.ONCE,
                    starts_on=dt.date(2027, 3, 11), at=dt.time(10), timezone="Europe/Berlin",
                    now=dt.datetime(2027, 3, 1, tzinfo=dt.UTC), reminder_minutes=(1440,), channel_id=None)
    jobs(berlin(10, 10, 1), job="meeting-reminders")
    [reminder_message] = [m for m in slack.posted(INTERNAL) if "starts in" in (m.get("text") or "")]
    text = text_of(reminder_message)
    assert "Open promises" in text
    late = f"`#2` Late <!channel> & co — due Mon 2027-03-08 · owner <@{KEEPER}> · :warning: overdue 2 days"
    due = f"`#1` Due on the meeting's eve — due Wed 2027-03-10 · owner <@{KEEPER}>"
    assert late in text and due in text and text.index(late) < text.index(due)
    assert "Kept" not in text
    raw = "\n".join(b["text"]["text"] for b in reminder_message["blocks"] if b["type"] == "section")
    assert "<!channel>" not in raw and "Late &lt;!channel&gt; &amp; co" in raw


# -- Slack slow, rate limiting, done meanwhile ----------------------------------------------------------------

def test_a_reminder_slack_would_not_take_is_withdrawn_by_done_and_never_posted(jobs, database, slack):
    promise_id = promise(database, seed(database))
    slack.fail("chat.postMessage", status=429, retry_after=120)  # longer than a run by hand waits
    jobs(berlin(9, 10))
    assert posted(slack, REMINDER) == []
    with database.transaction() as session:  # kept meanwhile: /cmo done
        from bot.services.promises import get_promise, mark_done
        mark_done(session, ACTOR, get_promise(session, TEAM, promise_id))
    from tests.test_delay_followups import backoff_elapsed
    backoff_elapsed(database)  # Slack is back and the retry is due
    jobs(berlin(9, 11))
    jobs(berlin(9, 11), job="deliver")
    assert posted(slack, REMINDER) == []
    with database.transaction() as session:
        assert session.scalar(select(OutboxMessage.status)) == "cancelled"


def test_a_slow_slack_gets_each_message_once(jobs, database, slack):
    promise(database, seed(database))
    slack.slow("chat.postMessage", 2.5)  # answers, but after 2.5 s
    jobs(berlin(9, 10))
    jobs(berlin(9, 10, 5))
    jobs(berlin(9, 11))
    assert len(posted(slack, REMINDER)) == 1
    assert outbox_keys(database) == [f"promise:1:due:{DUE}"]
