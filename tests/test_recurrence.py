"""Meeting recurrence, its .ics export and its Slack blocks, without a database or Slack.

`bot.services.recurrence`: RFC 5545 rules built from a frequency (`weekday_rule`), put in words
(`describe`) and expanded in the meeting's own zone (`occurrences`, `occurrence`, `is_due_on`), so that
10:00 Berlin stays 10:00 Berlin across daylight-saving changes, a wall time in a gap is the instant after
it and a doubled one is the first; skipped occurrences are left out and moved ones are where they moved.

`bot.services.calendar_file`: the .ics file is parsed back with `icalendar` and expanded independently
(`dateutil.rrule.rrulestr` on its RRULE and DTSTART, minus EXDATEs, with RECURRENCE-ID overrides): a
calendar that imports it must see the same start instants Rapport reminds about.

`bot.blocks.meetings`: the reminder, the notes prompt and the replies, escaped and within Slack's limits.
"""

from __future__ import annotations

import calendar as stdcalendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar

from bot.blocks import meetings as blocks
from bot.blocks.ids import ActionId
from bot.brief import Part
from bot.db.models import Client, Frequency, Meeting
from bot.services import calendar_file
from bot.services.recurrence import (
    Occurrence,
    Schedule,
    WallClock,
    describe,
    first_nth_weekday,
    is_due_on,
    nth_weekday_of,
    occurrence,
    occurrences,
    wall_clock,
    weekday_rule,
)
from tests.factories import make_client
from tests.slackhttp import mrkdwn_texts

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NASTY = "<!channel> & <b>"
NASTY_ESCAPED = "&lt;!channel&gt; &amp; &lt;b&gt;"
DATE_TOKEN = re.compile(r"<!date\^(\d+)\^([^|>]*)\|([^>]*)>")

WEEKLY_FR = "FREQ=WEEKLY;BYDAY=FR"
WEEKLY_SU = "FREQ=WEEKLY;BYDAY=SU"
WEEKLY_MO = "FREQ=WEEKLY;BYDAY=MO"
WEEKLY_TU = "FREQ=WEEKLY;BYDAY=TU"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def sched(rule: str | None, starts_on: str, at: str, zone: ZoneInfo = BERLIN, *, minutes: int = 60,
          skipped: tuple[str, ...] = (), moved: tuple[tuple[str, dt.datetime], ...] = ()) -> Schedule:
    return Schedule(rule=rule, starts_on=day(starts_on), at=dt.time.fromisoformat(at), zone=zone,
                    duration=dt.timedelta(minutes=minutes), skipped=frozenset(day(d) for d in skipped),
                    moved=tuple((day(d), start) for d, start in moved))


def starts(found: list[Occurrence]) -> list[dt.datetime]:
    return [o.starts_at for o in found]


def due(found: list[Occurrence]) -> list[dt.date]:
    return [o.due_on for o in found]


def make_meeting(**fields: Any) -> Meeting:
    values: dict[str, Any] = dict(id=7, team_id="T0ACME", client_id=1, title="Weekly sync", every="week",
                                  rule=WEEKLY_TU, starts_on=dt.date(2027, 2, 2), at=dt.time(10, 0),
                                  timezone="Europe/Berlin", duration_minutes=45, reminder_minutes=[60],
                                  channel_id=None, created_by="U0ANA", surface="slash_command")
    values.update(fields)
    return Meeting(**values)


def schedule_of(meeting: Meeting, *, skipped: tuple[str, ...] = (),
                moved: tuple[tuple[str, dt.datetime], ...] = ()) -> Schedule:
    return sched(meeting.rule, meeting.starts_on.isoformat(), meeting.at.isoformat(), ZoneInfo(meeting.timezone),
                 minutes=meeting.duration_minutes, skipped=skipped, moved=moved)


# --- weekday_rule, describe, nth weekdays ---------------------------------------------------------------


@pytest.mark.parametrize(("every", "first", "nth", "rule", "words"), [
    (Frequency.ONCE, "2027-02-02", None, None, "once, on Tue 2027-02-02"),
    (Frequency.WEEK, "2027-02-02", None, "FREQ=WEEKLY;BYDAY=TU", "every Tuesday"),
    (Frequency.WEEK, "2027-02-07", None, "FREQ=WEEKLY;BYDAY=SU", "every Sunday"),
    (Frequency.WEEK, "2027-02-01", None, "FREQ=WEEKLY;BYDAY=MO", "every Monday"),
    (Frequency.TWO_WEEKS, "2027-02-02", None, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "every 2 weeks on Tuesday"),
    (Frequency.TWO_WEEKS, "2027-02-05", None, "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", "every 2 weeks on Friday"),
    (Frequency.MONTH, "2027-02-02", None, "FREQ=MONTHLY;BYMONTHDAY=2", "every month on the 2nd"),
    (Frequency.MONTH, "2027-02-01", None, "FREQ=MONTHLY;BYMONTHDAY=1", "every month on the 1st"),
    (Frequency.MONTH, "2027-02-03", None, "FREQ=MONTHLY;BYMONTHDAY=3", "every month on the 3rd"),
    (Frequency.MONTH, "2027-02-11", None, "FREQ=MONTHLY;BYMONTHDAY=11", "every month on the 11th"),
    (Frequency.MONTH, "2027-02-12", None, "FREQ=MONTHLY;BYMONTHDAY=12", "every month on the 12th"),
    (Frequency.MONTH, "2027-02-13", None, "FREQ=MONTHLY;BYMONTHDAY=13", "every month on the 13th"),
    (Frequency.MONTH, "2027-02-22", None, "FREQ=MONTHLY;BYMONTHDAY=22", "every month on the 22nd"),
    (Frequency.MONTH, "2027-02-28", None, "FREQ=MONTHLY;BYMONTHDAY=28", "every month on the 28th"),
    (Frequency.MONTH, "2027-01-29", None, "FREQ=MONTHLY;BYMONTHDAY=29",
     "every month on the 29th (months without one are skipped)"),
    (Frequency.MONTH, "2027-01-31", None, "FREQ=MONTHLY;BYMONTHDAY=31",
     "every month on the 31st (months without one are skipped)"),
    (Frequency.MONTH, "2027-02-02", 1, "FREQ=MONTHLY;BYDAY=1TU", "the first Tuesday of every month"),
    (Frequency.MONTH, "2027-02-10", 2, "FREQ=MONTHLY;BYDAY=2WE", "the second Wednesday of every month"),
    (Frequency.MONTH, "2027-02-18", 3, "FREQ=MONTHLY;BYDAY=3TH", "the third Thursday of every month"),
    (Frequency.MONTH, "2027-02-23", 4, "FREQ=MONTHLY;BYDAY=4TU", "the fourth Tuesday of every month"),
    (Frequency.MONTH, "2027-03-30", -1, "FREQ=MONTHLY;BYDAY=-1TU", "the last Tuesday of every month"),
    (Frequency.MONTH, "2027-01-29", -1, "FREQ=MONTHLY;BYDAY=-1FR", "the last Friday of every month"),
])
def test_weekday_rule_and_its_words(every: Frequency, first: str, nth: int | None, rule: str | None,
                                    words: str) -> None:
    assert weekday_rule(every, day(first), nth=nth) == rule
    assert describe(rule, day(first)) == words
    # The first date is an occurrence of its own rule (a calendar's DTSTART must be one).
    assert is_due_on(sched(rule, first, "10:00"), day(first))


def test_weekly_rules_say_the_weekday_of_the_first_date() -> None:
    for offset, code in enumerate(("MO", "TU", "WE", "TH", "FR", "SA", "SU")):
        first = dt.date(2027, 3, 1) + dt.timedelta(days=offset)
        assert weekday_rule(Frequency.WEEK, first) == f"FREQ=WEEKLY;BYDAY={code}"


@pytest.mark.parametrize(("date", "nth"), [
    ("2027-02-02", 1), ("2027-02-07", 1), ("2027-02-08", 2), ("2027-02-14", 2), ("2027-02-15", 3),
    ("2027-02-23", 4), ("2027-02-28", 4), ("2027-03-29", -1), ("2027-03-30", -1), ("2027-03-31", -1),
])
def test_nth_weekday_of(date: str, nth: int) -> None:
    assert nth_weekday_of(day(date)) == nth


@pytest.mark.parametrize(("on_or_after", "weekday_index", "nth", "expected"), [
    ("2027-02-02", 1, 1, "2027-02-02"),  # on: the day itself
    ("2027-02-03", 1, 1, "2027-03-02"),  # just after: next month's
    ("2027-02-01", 4, -1, "2027-02-26"),  # last Friday of February
    ("2027-02-27", 4, -1, "2027-03-26"),
    ("2027-01-01", 0, 4, "2027-01-25"),  # fourth Monday
])
def test_first_nth_weekday(on_or_after: str, weekday_index: int, nth: int, expected: str) -> None:
    assert first_nth_weekday(day(on_or_after), weekday_index, nth) == day(expected)


def test_is_due_on() -> None:
    weekly = sched(WEEKLY_TU, "2027-02-02", "10:00")
    assert is_due_on(weekly, day("2027-02-09"))
    assert not is_due_on(weekly, day("2027-02-08"))
    assert not is_due_on(weekly, day("2027-01-26"))  # a Tuesday, before the first
    fortnightly = sched("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "2027-02-02", "10:00")
    assert is_due_on(fortnightly, day("2027-02-16"))
    assert not is_due_on(fortnightly, day("2027-02-09"))
    once = sched(None, "2027-02-02", "10:00")
    assert is_due_on(once, day("2027-02-02"))
    assert not is_due_on(once, day("2027-02-09"))
    assert not is_due_on(once, day("2027-02-01"))


# --- occurrences: wall time kept across daylight-saving changes ----------------------------------------


def test_weekly_berlin_keeps_ten_oclock_across_both_changes() -> None:
    weekly = sched(WEEKLY_SU, "2027-03-14", "10:00")
    spring = occurrences(weekly, starting_after=utc(2027, 3, 13), count=4)
    assert due(spring) == [day("2027-03-14"), day("2027-03-21"), day("2027-03-28"), day("2027-04-04")]
    assert starts(spring) == [utc(2027, 3, 14, 9), utc(2027, 3, 21, 9), utc(2027, 3, 28, 8), utc(2027, 4, 4, 8)]
    autumn = occurrences(weekly, starting_after=utc(2027, 10, 20), count=3)
    assert starts(autumn) == [utc(2027, 10, 24, 8), utc(2027, 10, 31, 9), utc(2027, 11, 7, 9)]
    for found in spring + autumn:
        assert found.local_start.time() == dt.time(10, 0)
        assert found.local_start.tzname() == ("CEST" if found.starts_at.hour == 8 else "CET")
        assert found.wall is WallClock.NORMAL
        assert found.ends_at - found.starts_at == dt.timedelta(minutes=60)
        assert not found.moved


def test_weekly_new_york_keeps_nine_oclock_across_both_changes() -> None:
    weekly = sched(WEEKLY_MO, "2027-03-01", "09:00", NEW_YORK)
    spring = occurrences(weekly, starting_after=utc(2027, 3, 1), count=3)
    assert starts(spring) == [utc(2027, 3, 1, 14), utc(2027, 3, 8, 14), utc(2027, 3, 15, 13)]
    autumn = occurrences(weekly, starting_after=utc(2027, 10, 31), count=2)
    assert starts(autumn) == [utc(2027, 11, 1, 13), utc(2027, 11, 8, 14)]
    assert [o.local_start.tzname() for o in spring + autumn] == ["EST", "EST", "EDT", "EDT", "EST"]
    assert all(o.local_start.time() == dt.time(9, 0) for o in spring + autumn)
    # The change days themselves (Sundays) are not Mondays: the rule alone decides the dates.
    assert all(o.local_day.weekday() == 0 for o in spring + autumn)


def test_every_two_weeks() -> None:
    fortnightly = sched("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "2027-02-02", "10:00")
    found = occurrences(fortnightly, starting_after=utc(2027, 1, 1), count=5)
    assert due(found) == [day(d) for d in ("2027-02-02", "2027-02-16", "2027-03-02", "2027-03-16", "2027-03-30")]
    assert found[-1].starts_at == utc(2027, 3, 30, 8)  # CEST by then
    # From within the off week, the next is still on the fortnight.
    assert due(occurrences(fortnightly, starting_after=utc(2027, 2, 8), count=1)) == [day("2027-02-16")]


def test_monthly_first_tuesday_over_a_year() -> None:
    monthly = sched("FREQ=MONTHLY;BYDAY=1TU", "2027-01-05", "14:00")
    found = occurrences(monthly, starting_after=utc(2027, 1, 1), starting_before=utc(2028, 1, 1))
    expected = [next(dt.date(2027, month, d) for d in range(1, 8) if dt.date(2027, month, d).weekday() == 1)
                for month in range(1, 13)]
    assert due(found) == expected
    assert [o.local_start.time() for o in found] == [dt.time(14, 0)] * 12


def test_monthly_on_the_31st_skips_short_months() -> None:
    monthly = sched("FREQ=MONTHLY;BYMONTHDAY=31", "2027-01-31", "09:00")
    found = occurrences(monthly, starting_after=utc(2027, 1, 1), starting_before=utc(2028, 1, 1))
    assert due(found) == [dt.date(2027, m, 31) for m in range(1, 13) if stdcalendar.monthrange(2027, m)[1] == 31]
    assert [d.month for d in due(found)] == [1, 3, 5, 7, 8, 10, 12]


def test_a_once_meeting() -> None:
    once = sched(None, "2027-06-15", "14:00")
    assert starts(occurrences(once, starting_after=utc(2027, 1, 1), count=5)) == [utc(2027, 6, 15, 12)]
    assert occurrences(once, starting_after=utc(2027, 6, 15, 12), count=5) == []
    assert occurrences(once, starting_after=utc(2027, 1, 1), starting_before=utc(2027, 6, 15, 12)) == []


def test_skipped_occurrences_are_left_out() -> None:
    weekly = sched(WEEKLY_TU, "2027-02-02", "10:00", skipped=("2027-02-09", "2027-02-23"))
    found = occurrences(weekly, starting_after=utc(2027, 2, 1), count=3)
    assert due(found) == [day("2027-02-02"), day("2027-02-16"), day("2027-03-02")]
    assert occurrence(weekly, day("2027-02-09")) is None
    assert occurrence(weekly, day("2027-02-16")) is not None


def test_a_moved_occurrence_is_at_its_new_time() -> None:
    weekly = sched(WEEKLY_TU, "2027-02-02", "10:00", minutes=30, moved=(("2027-02-09", utc(2027, 2, 10, 15)),))
    found = occurrences(weekly, starting_after=utc(2027, 2, 1), count=3)
    assert starts(found) == [utc(2027, 2, 2, 9), utc(2027, 2, 10, 15), utc(2027, 2, 16, 9)]
    assert [o.moved for o in found] == [False, True, False]
    moved = found[1]
    assert moved.due_on == day("2027-02-09")  # its identity stays the date it was due on
    assert moved.local_day == day("2027-02-10")
    assert moved.ends_at == utc(2027, 2, 10, 15, 30)
    assert occurrence(weekly, day("2027-02-09")) == moved


def test_a_moved_occurrence_past_the_next_regular_one_keeps_the_order() -> None:
    weekly = sched(WEEKLY_TU, "2027-02-02", "10:00", moved=(("2027-02-09", utc(2027, 2, 18, 9)),))
    assert due(occurrences(weekly, starting_after=utc(2027, 2, 1), count=4)) == [
        day("2027-02-02"), day("2027-02-16"), day("2027-02-09"), day("2027-02-23")]
    assert starts(occurrences(weekly, starting_after=utc(2027, 2, 1), count=3)) == [
        utc(2027, 2, 2, 9), utc(2027, 2, 16, 9), utc(2027, 2, 18, 9)]
    # With fewer asked for, the moved one (now later) is not among them.
    assert due(occurrences(weekly, starting_after=utc(2027, 2, 1), count=2)) == [day("2027-02-02"), day("2027-02-16")]
    # Moved far ahead, past many regular ones, and a count that reaches it.
    far = sched(WEEKLY_TU, "2027-02-02", "10:00", moved=(("2027-02-09", utc(2027, 3, 10, 9)),))
    found = occurrences(far, starting_after=utc(2027, 2, 1), count=6)
    assert due(found) == [day(d) for d in ("2027-02-02", "2027-02-16", "2027-02-23", "2027-03-02", "2027-03-09",
                                           "2027-02-09")]
    assert starts(found) == sorted(starts(found))


def test_a_moved_occurrence_earlier_than_its_predecessor() -> None:
    weekly = sched(WEEKLY_TU, "2027-02-02", "10:00", moved=(("2027-02-16", utc(2027, 2, 8, 9)),))
    found = occurrences(weekly, starting_after=utc(2027, 2, 1), count=4)
    assert due(found) == [day("2027-02-02"), day("2027-02-16"), day("2027-02-09"), day("2027-02-23")]
    assert starts(found) == sorted(starts(found))


def test_moves_across_starting_after() -> None:
    weekly = sched(WEEKLY_TU, "2027-02-02", "10:00", moved=(("2027-02-09", utc(2027, 2, 18, 9)),
                                                            ("2027-02-16", utc(2027, 2, 10, 9))))
    found = occurrences(weekly, starting_after=utc(2027, 2, 12), count=3)
    # Due before, moved after: in. Due after, moved before: out.
    assert due(found) == [day("2027-02-09"), day("2027-02-23"), day("2027-03-02")]


def test_a_skipped_occurrence_that_was_also_moved_is_left_out() -> None:
    weekly = sched(WEEKLY_TU, "2027-02-02", "10:00", skipped=("2027-02-09",),
                   moved=(("2027-02-09", utc(2027, 2, 10, 9)),))
    assert day("2027-02-09") not in due(occurrences(weekly, starting_after=utc(2027, 2, 1), count=3))
    assert occurrence(weekly, day("2027-02-09")) is None


def test_count_and_starting_before_limit() -> None:
    weekly = sched(WEEKLY_TU, "2027-02-02", "10:00")
    assert len(occurrences(weekly, starting_after=utc(2027, 2, 1), count=3)) == 3
    assert len(occurrences(weekly, starting_after=utc(2027, 2, 1), count=1)) == 1
    # starting_before is exclusive: the 16th starts at exactly 09:00 UTC.
    assert due(occurrences(weekly, starting_after=utc(2027, 2, 1), starting_before=utc(2027, 2, 16, 9))) == [
        day("2027-02-02"), day("2027-02-09")]
    assert due(occurrences(weekly, starting_after=utc(2027, 2, 1), starting_before=utc(2027, 2, 16, 9, 1))) == [
        day("2027-02-02"), day("2027-02-09"), day("2027-02-16")]
    # Both: whichever comes first.
    assert len(occurrences(weekly, starting_after=utc(2027, 2, 1), count=2, starting_before=utc(2027, 3, 1))) == 2
    assert len(occurrences(weekly, starting_after=utc(2027, 2, 1), count=9, starting_before=utc(2027, 2, 10))) == 2
    with pytest.raises(ValueError):
        occurrences(weekly, starting_after=utc(2027, 2, 1))


def test_starting_after_excludes_an_occurrence_starting_exactly_then() -> None:
    weekly = sched(WEEKLY_TU, "2027-02-02", "10:00", moved=(("2027-02-16", utc(2027, 2, 17, 12)),))
    # 09:00 UTC is 10:00 Berlin on the 9th: next is the 16th's, moved to the 17th.
    assert starts(occurrences(weekly, starting_after=utc(2027, 2, 9, 9), count=1)) == [utc(2027, 2, 17, 12)]
    assert due(occurrences(weekly, starting_after=utc(2027, 2, 9, 8, 59, 59), count=1)) == [day("2027-02-09")]
    # The same for a moved one.
    assert due(occurrences(weekly, starting_after=utc(2027, 2, 17, 12), count=1)) == [day("2027-02-23")]


def test_the_first_occurrence_is_not_lost_near_midnight() -> None:
    # 00:30 Berlin is the previous day in UTC: asking from just before it must still find it.
    early = sched(WEEKLY_TU, "2027-02-02", "00:30")
    assert starts(occurrences(early, starting_after=utc(2027, 2, 1, 23), count=1)) == [utc(2027, 2, 1, 23, 30)]
    late = sched(WEEKLY_MO, "2027-03-01", "22:30", NEW_YORK)  # Tuesday in UTC
    assert starts(occurrences(late, starting_after=utc(2027, 3, 2, 3), count=1)) == [utc(2027, 3, 2, 3, 30)]


# --- a wall time in a gap, or doubled ------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "date", "at", "wall", "start", "tzname", "local"), [
    (BERLIN, "2027-03-28", "02:30", WallClock.GAP, utc(2027, 3, 28, 1, 30), "CEST", dt.time(3, 30)),
    (BERLIN, "2027-10-31", "02:30", WallClock.FOLD, utc(2027, 10, 31, 0, 30), "CEST", dt.time(2, 30)),
    (BERLIN, "2027-03-21", "02:30", WallClock.NORMAL, utc(2027, 3, 21, 1, 30), "CET", dt.time(2, 30)),
    (BERLIN, "2027-03-28", "03:30", WallClock.NORMAL, utc(2027, 3, 28, 1, 30), "CEST", dt.time(3, 30)),
    (NEW_YORK, "2027-03-14", "02:30", WallClock.GAP, utc(2027, 3, 14, 7, 30), "EDT", dt.time(3, 30)),
    (NEW_YORK, "2027-11-07", "01:30", WallClock.FOLD, utc(2027, 11, 7, 5, 30), "EDT", dt.time(1, 30)),
    (NEW_YORK, "2027-11-07", "02:30", WallClock.NORMAL, utc(2027, 11, 7, 7, 30), "EST", dt.time(2, 30)),
])
def test_gap_and_fold(zone: ZoneInfo, date: str, at: str, wall: WallClock, start: dt.datetime, tzname: str,
                      local: dt.time) -> None:
    assert wall_clock(day(date), dt.time.fromisoformat(at), zone) is wall
    weekly = sched(WEEKLY_SU, date, at, zone)
    found = occurrence(weekly, day(date))
    assert found is not None
    assert found.wall is wall
    assert found.starts_at == start
    assert found.ends_at == start + dt.timedelta(hours=1)
    assert found.local_start.tzname() == tzname
    assert found.local_start.time() == local
    assert found.due_on == day(date)
    # The expansion gives the same occurrence: not dropped, not doubled.
    listed = occurrences(weekly, starting_after=start - dt.timedelta(days=1), count=2)
    assert listed[0] == found
    assert listed[1].starts_at - found.starts_at > dt.timedelta(days=6)


def test_a_weekly_meeting_through_the_gap_and_the_fold() -> None:
    weekly = sched(WEEKLY_SU, "2027-03-21", "02:30")
    found = occurrences(weekly, starting_after=utc(2027, 3, 20), count=3)
    assert [o.wall for o in found] == [WallClock.NORMAL, WallClock.GAP, WallClock.NORMAL]
    assert starts(found) == [utc(2027, 3, 21, 1, 30), utc(2027, 3, 28, 1, 30), utc(2027, 4, 4, 0, 30)]
    found = occurrences(weekly, starting_after=utc(2027, 10, 23), count=3)
    assert [o.wall for o in found] == [WallClock.NORMAL, WallClock.FOLD, WallClock.NORMAL]
    assert starts(found) == [utc(2027, 10, 24, 0, 30), utc(2027, 10, 31, 0, 30), utc(2027, 11, 7, 1, 30)]


# --- the .ics file --------------------------------------------------------------------------------------

NOW = utc(2027, 1, 10, 12)
HORIZON = NOW + dt.timedelta(days=365)


@dataclass(frozen=True)
class IcsCase:
    name: str
    meeting: dict[str, Any]
    skipped: tuple[str, ...] = ()
    moved: tuple[tuple[str, dt.datetime], ...] = ()


ICS_CASES = [
    IcsCase("weekly-berlin-skips-and-moves-across-dst",
            dict(every="week", rule=WEEKLY_FR, starts_on=dt.date(2027, 1, 1), at=dt.time(10, 0),
                 timezone="Europe/Berlin", duration_minutes=45),
            skipped=("2027-03-26", "2027-10-29"),
            # Due in CET, moved into CEST past the next two regular ones; due in CEST, moved into CET.
            moved=(("2027-03-19", utc(2027, 4, 6, 7)), ("2027-10-22", utc(2027, 11, 2, 15)))),
    IcsCase("two-weeks-new-york",
            dict(every="2weeks", rule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", starts_on=dt.date(2027, 2, 2),
                 at=dt.time(9, 0), timezone="America/New_York", duration_minutes=30),
            skipped=("2027-03-16",), moved=(("2027-11-09", utc(2027, 11, 10, 19)),)),
    IcsCase("monthly-first-tuesday",
            dict(every="month", rule="FREQ=MONTHLY;BYDAY=1TU", starts_on=dt.date(2027, 1, 5), at=dt.time(14, 0),
                 timezone="Europe/Berlin", duration_minutes=90),
            skipped=("2027-04-06",), moved=(("2027-07-06", utc(2027, 7, 8, 12)),)),
    IcsCase("monthly-last-friday-new-york",
            dict(every="month", rule="FREQ=MONTHLY;BYDAY=-1FR", starts_on=dt.date(2027, 1, 29), at=dt.time(16, 0),
                 timezone="America/New_York", duration_minutes=60)),
    IcsCase("monthly-on-the-31st",
            dict(every="month", rule="FREQ=MONTHLY;BYMONTHDAY=31", starts_on=dt.date(2027, 1, 31),
                 at=dt.time(9, 0), timezone="Europe/Berlin", duration_minutes=60)),
    IcsCase("weekly-at-a-time-in-the-gap-and-the-fold",
            dict(every="week", rule=WEEKLY_SU, starts_on=dt.date(2027, 1, 3), at=dt.time(2, 30),
                 timezone="Europe/Berlin", duration_minutes=60)),
    IcsCase("started-before-now",
            dict(every="week", rule=WEEKLY_MO, starts_on=dt.date(2026, 6, 1), at=dt.time(11, 0),
                 timezone="America/New_York", duration_minutes=60),
            skipped=("2026-06-08", "2027-01-18")),
    # Where the first start, the end or a moved start falls in a gap or a doubled hour: the calendar must
    # neither shorten nor lengthen the meeting (the length is elapsed time), nor move it to the other pass.
    IcsCase("first-start-in-the-gap",
            dict(every="week", rule=WEEKLY_SU, starts_on=dt.date(2027, 3, 28), at=dt.time(2, 30),
                 timezone="Europe/Berlin", duration_minutes=60)),
    IcsCase("first-one-across-the-fold-new-york",
            dict(every="week", rule=WEEKLY_SU, starts_on=dt.date(2027, 11, 7), at=dt.time(1, 0),
                 timezone="America/New_York", duration_minutes=90)),
    IcsCase("moved-into-the-second-pass",
            dict(every="week", rule=WEEKLY_SU, starts_on=dt.date(2027, 10, 3), at=dt.time(10, 0),
                 timezone="Europe/Berlin", duration_minutes=60),
            moved=(("2027-10-24", utc(2027, 10, 31, 1, 30)),)),  # 02:30 CET, the second 02:30 that night
    IcsCase("once-across-the-fold",
            dict(every="once", rule=None, starts_on=dt.date(2027, 10, 31), at=dt.time(2, 0),
                 timezone="Europe/Berlin", duration_minutes=90)),
    IcsCase("once-moved-into-the-second-pass",
            dict(every="once", rule=None, starts_on=dt.date(2027, 10, 20), at=dt.time(10, 0),
                 timezone="Europe/Berlin", duration_minutes=60),
            moved=(("2027-10-20", utc(2027, 10, 31, 1, 30)),)),
    IcsCase("once",
            dict(every="once", rule=None, starts_on=dt.date(2027, 6, 15), at=dt.time(14, 0),
                 timezone="Europe/Berlin", duration_minutes=60)),
    IcsCase("once-moved",
            dict(every="once", rule=None, starts_on=dt.date(2027, 6, 15), at=dt.time(14, 0),
                 timezone="Europe/Berlin", duration_minutes=60),
            moved=(("2027-06-15", utc(2027, 6, 17, 8)),)),
]


def case_inputs(case: IcsCase) -> tuple[Meeting, Client, Schedule]:
    meeting = make_meeting(title="Quarterly review", **case.meeting)
    schedule = schedule_of(meeting, skipped=case.skipped, moved=case.moved)
    for date in (*schedule.skipped, *(d for d, _ in schedule.moved)):
        assert is_due_on(schedule, date), f"bad case: {date} is not due"
    return meeting, make_client(), schedule


def export(meeting: Meeting, client: Client, schedule: Schedule, now: dt.datetime = NOW) -> Calendar:
    return Calendar.from_ical(calendar_file.meeting_calendar(meeting, client, schedule, now=now))


def as_utc(moment: dt.datetime) -> dt.datetime:
    assert moment.tzinfo is not None, f"{moment} is floating"
    return moment.astimezone(dt.UTC)


def exdates(event: Any) -> set[dt.datetime]:
    found = event.get("EXDATE")
    if found is None:
        return set()
    lists = found if isinstance(found, list) else [found]
    return {as_utc(value.dt) for exdate in lists for value in exdate.dts}


def expand(cal: Calendar, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """What a calendar shows between `start` and `end` (exclusive both): (start, end) instants, in UTC,
    worked out from the file alone."""
    events = list(cal.walk("VEVENT"))
    masters = [e for e in events if "RECURRENCE-ID" not in e]
    assert len(masters) == 1
    master = masters[0]
    first = master.decoded("DTSTART")
    length = as_utc(master.decoded("DTEND")) - as_utc(first)
    if "RRULE" in master:
        rule = rrulestr(master["RRULE"].to_ical().decode(), dtstart=first)
        instances = [as_utc(x) for x in rule.between(first, end + dt.timedelta(days=400), inc=True)]
    else:
        instances = [as_utc(first)]
    overrides = {}
    for event in events:
        if "RECURRENCE-ID" in event:
            recurrence_id = as_utc(event.decoded("RECURRENCE-ID"))
            assert recurrence_id in instances, f"RECURRENCE-ID {recurrence_id} names no instance"
            overrides[recurrence_id] = (as_utc(event.decoded("DTSTART")), as_utc(event.decoded("DTEND")))
    excluded = exdates(master)
    assert excluded <= set(instances), "an EXDATE names no instance"
    shown = [overrides.get(x, (x, x + length)) for x in instances if x not in excluded]
    return sorted((s, e) for s, e in shown if start < s < end)


@pytest.mark.parametrize("case", ICS_CASES, ids=[c.name for c in ICS_CASES])
def test_ics_expands_to_the_same_occurrences(case: IcsCase) -> None:
    meeting, client, schedule = case_inputs(case)
    expected = [(o.starts_at, o.ends_at)
                for o in occurrences(schedule, starting_after=NOW, starting_before=HORIZON)]
    assert expected, "the case must have occurrences in the window"
    assert expand(export(meeting, client, schedule), NOW, HORIZON) == expected


def zoned_or_utc(event: Any, name: str) -> str:
    """The TZID a date-time is written with, or "UTC" for one written in UTC (`...Z`)."""
    value = event.decoded(name)
    if "TZID" in event[name].params:
        return str(event[name].params["TZID"])
    assert value.utcoffset() == dt.timedelta(0), f"{name} is floating"
    return "UTC"


def second_pass(event: Any, name: str, zone: ZoneInfo) -> bool:
    """Whether the instant is the second of a wall time that `zone` passes twice: only UTC says which."""
    local = as_utc(event.decoded(name)).astimezone(zone)
    return local.replace(fold=0).astimezone(dt.UTC) != local.astimezone(dt.UTC)


@pytest.mark.parametrize("case", ICS_CASES, ids=[c.name for c in ICS_CASES])
def test_ics_structure(case: IcsCase) -> None:
    meeting, client, schedule = case_inputs(case)
    cal = export(meeting, client, schedule)
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["PRODID"]) == calendar_file.PRODUCT_ID
    events = list(cal.walk("VEVENT"))
    used = {zoned_or_utc(e, name) for e in events for name in ("DTSTART", "DTEND")} - {"UTC"}
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == sorted(used)  # each zone used, defined once
    if meeting.rule is not None:
        assert used == {meeting.timezone}
    master = next(e for e in events if "RECURRENCE-ID" not in e)
    overrides = [e for e in events if "RECURRENCE-ID" in e]
    for event in events:
        for name in ("DTSTART", "DTEND"):
            assert zoned_or_utc(event, name) == (meeting.timezone if not second_pass(event, name, schedule.zone)
                                                 else "UTC")
        assert as_utc(event.decoded("DTEND")) - as_utc(event.decoded("DTSTART")) == schedule.duration
        assert str(event["UID"]) == calendar_file.uid(meeting)
        assert "Quarterly review" in str(event["SUMMARY"])
        assert "Acme Biologics" in str(event["SUMMARY"])
    if meeting.rule is None:
        assert "RRULE" not in master
        assert "EXDATE" not in master
        assert overrides == []  # a one-off that moved is simply elsewhere
        assert as_utc(master.decoded("DTSTART")) == (dict(schedule.moved).get(meeting.starts_on)
                                                     or dt.datetime.combine(meeting.starts_on, meeting.at,
                                                                            schedule.zone).astimezone(dt.UTC))
    else:
        assert master["RRULE"].to_ical().decode() == meeting.rule
        assert master["DTSTART"].params["TZID"] == meeting.timezone  # so the rule repeats in local time
        assert master.decoded("DTSTART") == dt.datetime.combine(meeting.starts_on, meeting.at, schedule.zone)
        assert len(exdates(master)) == len(schedule.skipped)
        assert len(overrides) == len(schedule.moved)
        for override in overrides:
            assert override.decoded("RECURRENCE-ID").tzinfo is not None
            assert override["RECURRENCE-ID"].params["TZID"] == meeting.timezone
            assert int(override["SEQUENCE"]) > 0


def test_ics_uid_is_stable_and_per_meeting() -> None:
    meeting, client, schedule = case_inputs(ICS_CASES[0])
    first = export(meeting, client, schedule, now=NOW)
    again = export(meeting, client, schedule, now=NOW + dt.timedelta(days=30))
    uids = {str(e["UID"]) for e in first.walk("VEVENT")}
    assert len(uids) == 1
    assert uids == {str(e["UID"]) for e in again.walk("VEVENT")}
    other = make_meeting(id=8, title="Quarterly review", **ICS_CASES[0].meeting)
    assert {str(e["UID"]) for e in export(other, client, schedule).walk("VEVENT")}.isdisjoint(uids)
    other_team = make_meeting(team_id="T0OTHER", title="Quarterly review", **ICS_CASES[0].meeting)
    assert {str(e["UID"]) for e in export(other_team, client, schedule).walk("VEVENT")}.isdisjoint(uids)
    assert calendar_file.filename(meeting) == "rapport-meeting-7.ics"


def test_ics_with_a_hostile_title_is_still_one_calendar() -> None:
    meeting = make_meeting(title="Line one\nBEGIN:VEVENT; x, y \\ <!channel>")
    cal = export(meeting, make_client(name="A;B,C"), schedule_of(meeting))
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    assert "BEGIN:VEVENT; x, y \\ <!channel>" in str(events[0]["SUMMARY"])
    assert "A;B,C" in str(events[0]["SUMMARY"])


# --- blocks ---------------------------------------------------------------------------------------------


def joined(message: Any) -> str:
    return "\n".join(mrkdwn_texts(message.blocks))


def sections(message: Any) -> list[str]:
    return [b["text"]["text"] for b in message.blocks if b["type"] == "section"]


def first_occurrence(meeting: Meeting, schedule: Schedule, after: dt.datetime) -> Occurrence:
    return occurrences(schedule, starting_after=after, count=1)[0]


def test_reminder_escapes_the_title_and_dates_the_start() -> None:
    meeting = make_meeting(title=f"Q1 {NASTY} review")
    client = make_client(name=f"Acme {NASTY}")
    schedule = schedule_of(meeting)
    found = first_occurrence(meeting, schedule, utc(2027, 3, 29))
    assert found.starts_at == utc(2027, 3, 30, 8)
    message = blocks.reminder(meeting, client, found, found.starts_at - dt.timedelta(hours=1), [])
    texts = mrkdwn_texts(message.blocks)
    assert texts
    for text in texts:
        assert "<!channel>" not in text
        assert text.count("<!") == text.count("<!date^")
        assert "& " not in text.replace("&amp; ", "")  # every & escaped
    assert f"Q1 {NASTY_ESCAPED} review" in joined(message)
    assert f"Acme {NASTY_ESCAPED}" in joined(message)
    assert "<!channel>" not in message.as_kwargs()["text"]
    tokens = DATE_TOKEN.findall(joined(message))
    assert len(tokens) == 1
    stamp, _, fallback = tokens[0]
    assert int(stamp) == int(found.starts_at.timestamp()) == int(utc(2027, 3, 30, 8).timestamp())
    assert "Europe/Berlin" in fallback
    assert "10:00 CEST" in fallback
    assert "2027-03-30" in fallback
    assert "<@U0ANA>" in joined(message)  # the owner is mentioned
    assert "1 hour" in joined(message)
    assert "45 min" in joined(message)
    assert "(moved)" not in joined(message)


def test_reminder_of_a_moved_occurrence() -> None:
    meeting = make_meeting()
    schedule = schedule_of(meeting, moved=(("2027-02-09", utc(2027, 2, 10, 15)),))
    found = occurrence(schedule, day("2027-02-09"))
    assert found is not None
    message = blocks.reminder(meeting, make_client(), found, found.starts_at - dt.timedelta(minutes=30), [])
    assert "(moved)" in joined(message)
    assert DATE_TOKEN.findall(joined(message))[0][0] == str(int(utc(2027, 2, 10, 15).timestamp()))
    # The buttons' block names the occurrence by the date it was due on.
    assert any(b.get("block_id") == "meeting:7:2027-02-09" for b in message.blocks)


def test_reminder_with_a_busy_brief_stays_within_slack_limits() -> None:
    meeting = make_meeting()
    found = first_occurrence(meeting, schedule_of(meeting), utc(2027, 2, 1))
    line = "`#123` " + "Batch release of lot 4711 &amp; the fill slots " * 7  # about 340 characters, as briefs give
    parts = [Part(title=f"Section {n}", lines=[f"{line} {n}.{i}" for i in range(5)], more=more,
                  empty="Nothing here.")
             for n, more in enumerate((3, 17, 120, 1))]
    parts.append(Part(title="Quiet", lines=[], more=0, empty="Nothing since the last meeting."))
    message = blocks.reminder(meeting, make_client(), found, found.starts_at - dt.timedelta(days=1), parts)
    assert len(message.blocks) < 50
    for text in sections(message):
        assert len(text) <= 3000
    for block in message.blocks:
        if block["type"] == "context":
            assert all(len(e["text"]) <= 2000 for e in block["elements"])
    text = joined(message)
    for more in (3, 17, 120, 1):
        assert f"…and {more} more" in text
    for n in range(4):
        assert all(f"{line} {n}.{i}" in text for i in range(5))  # nothing cut off
    assert "_Nothing since the last meeting._" in text
    assert "…and 0 more" not in text
    assert "24 hours" in text


def test_wall_clock_note_for_a_gap_and_a_fold() -> None:
    meeting = make_meeting(rule=WEEKLY_SU, starts_on=dt.date(2027, 3, 21), at=dt.time(2, 30))
    schedule = schedule_of(meeting)
    normal = occurrence(schedule, day("2027-03-21"))
    gap = occurrence(schedule, day("2027-03-28"))
    fold = occurrence(schedule, day("2027-10-31"))
    assert normal is not None and gap is not None and fold is not None
    assert blocks.wall_clock_note(normal, meeting) is None
    gap_note = blocks.wall_clock_note(gap, meeting)
    assert gap_note is not None
    assert "Sun 2027-03-28" in gap_note
    assert "02:30 does not exist in Europe/Berlin" in gap_note
    assert "at 03:30 CEST" in gap_note
    fold_note = blocks.wall_clock_note(fold, meeting)
    assert fold_note is not None
    assert "Sun 2027-10-31" in fold_note
    assert "02:30 happens twice in Europe/Berlin" in fold_note
    assert "the first, CEST" in fold_note
    # The reminder carries it.
    assert gap_note in joined(blocks.reminder(meeting, make_client(), gap, gap.starts_at - dt.timedelta(hours=1), []))
    assert "does not exist" not in joined(blocks.reminder(meeting, make_client(), normal, normal.starts_at, []))


def test_wall_clock_note_in_new_york() -> None:
    meeting = make_meeting(rule=WEEKLY_SU, starts_on=dt.date(2027, 11, 7), at=dt.time(1, 30),
                           timezone="America/New_York")
    fold = occurrence(schedule_of(meeting), day("2027-11-07"))
    assert fold is not None
    note = blocks.wall_clock_note(fold, meeting)
    assert note is not None
    assert "01:30 happens twice in America/New_York" in note
    assert "the first, EDT" in note


def test_meeting_added_without_a_channel_gives_the_hint() -> None:
    meeting = make_meeting(title=NASTY)
    client = make_client(internal_channel_id=None)
    upcoming = occurrences(schedule_of(meeting), starting_after=utc(2027, 2, 1), count=3)
    message = blocks.meeting_added(meeting, client, upcoming, [], None)
    text = joined(message)
    assert "No channel for the reminders" in text
    assert "/cmo client set acme channel:#channel" in text
    assert len(DATE_TOKEN.findall(text)) == 3
    assert "<!channel>" not in text
    assert NASTY_ESCAPED in text
    assert "every Tuesday at 10:00 Europe/Berlin" in text
    with_channel = joined(blocks.meeting_added(meeting, client, upcoming, [], "C0MEET"))
    assert "No channel for the reminders" not in with_channel
    assert "<#C0MEET>" in with_channel
    nothing_ahead = joined(blocks.meeting_added(meeting, client, [], [], "C0MEET"))
    assert "Next: none" in nothing_ahead


def test_notes_prompt_has_the_log_button() -> None:
    meeting = make_meeting(id=42)
    schedule = schedule_of(meeting, moved=(("2027-02-09", utc(2027, 2, 10, 15)),))
    found = occurrence(schedule, day("2027-02-09"))
    assert found is not None
    message = blocks.notes_prompt(meeting, make_client(), found)
    buttons = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == ["meeting_log_notes"] == [ActionId.LOG_NOTES]
    # Named by the date it was due on, not the day it moved to.
    assert buttons[0]["value"] == "42:2027-02-09"
    assert "<@U0ANA>" in joined(message)
    assert DATE_TOKEN.findall(joined(message))[0][0] == str(int(utc(2027, 2, 10, 15).timestamp()))


def test_meeting_list() -> None:
    meeting = make_meeting(title=NASTY)
    found = first_occurrence(meeting, schedule_of(meeting), utc(2027, 2, 1))
    message = blocks.meeting_list([(meeting, make_client(), found), (make_meeting(id=8), make_client(), None)],
                                  scope="Acme")
    text = joined(message)
    assert "<!channel>" not in text
    assert NASTY_ESCAPED in text
    assert "no occurrence ahead" in text
    assert str(int(found.starts_at.timestamp())) in text
    assert message.blocks[0]["type"] == "header"
    empty = blocks.meeting_list([], scope="Acme")
    assert "No meetings planned" in joined(empty)
