"""When a meeting happens. Its rule is RFC 5545's (`FREQ=WEEKLY;INTERVAL=2;BYDAY=TU`), expanded by
python-dateutil's `rrule` in the meeting's own wall time, then placed in its zone with `zoneinfo`: 10:00
Berlin stays 10:00 Berlin on both sides of a daylight-saving change. A wall time that does not exist on a
change day (02:30 as clocks go forward) is the instant just after the gap (03:30), as RFC 5545 says; one
that happens twice (02:30 as clocks go back) is the first. Pure: no database, no Slack."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import MONTHLY, rrule, rrulestr, weekday

from bot.db.models import Frequency

WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
LOOKAHEAD_LIMIT = 1000  # occurrences looked at to find the next few (a rule always has one within a year)


class WallClock(StrEnum):
    NORMAL = "normal"
    GAP = "gap"  # the clocks skip this time on that day
    FOLD = "fold"  # the clocks pass this time twice that day


def wall_clock(day: dt.date, at: dt.time, zone: ZoneInfo) -> WallClock:
    local = dt.datetime.combine(day, at, tzinfo=zone)
    if local.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return WallClock.GAP
    if local.replace(fold=1).utcoffset() != local.utcoffset():
        return WallClock.FOLD
    return WallClock.NORMAL


def instant(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a wall time (fold=0: the first of a doubled time, the shifted one of a gap)."""
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)


def weekday_rule(every: Frequency, first: dt.date, *, nth: int | None = None) -> str | None:
    """The RRULE value of a meeting that starts on `first`: weekly on its weekday, every two weeks, monthly on
    the same day of the month or (with `nth`: 1..4, or -1 for the last) on the same weekday of the month."""
    code = WEEKDAY_CODES[first.weekday()]
    if every is Frequency.ONCE:
        return None
    if every is Frequency.WEEK:
        return f"FREQ=WEEKLY;BYDAY={code}"
    if every is Frequency.TWO_WEEKS:
        return f"FREQ=WEEKLY;INTERVAL=2;BYDAY={code}"
    if nth is not None:
        return f"FREQ=MONTHLY;BYDAY={nth:+d}{code}" if nth < 0 else f"FREQ=MONTHLY;BYDAY={nth}{code}"
    return f"FREQ=MONTHLY;BYMONTHDAY={first.day}"


def nth_weekday_of(day: dt.date) -> int:
    """Which of its month's weekdays `day` is: 1..4, or -1 for a fifth (the last)."""
    nth = (day.day - 1) // 7 + 1
    return -1 if nth == 5 else nth


def first_nth_weekday(on_or_after: dt.date, weekday_index: int, nth: int) -> dt.date:
    """The first date on or after `on_or_after` that is the `nth` `weekday_index` of its month."""
    rule = rrule(MONTHLY, byweekday=weekday(weekday_index)(nth), dtstart=dt.datetime.combine(on_or_after, dt.time()))
    return rule[0].date()


def describe(rule: str | None, first: dt.date) -> str:
    """The rule in words: "every Tuesday", "every 2 weeks on Tuesday", "the first Tuesday of every month"."""
    if rule is None:
        return f"once, on {first:%a %Y-%m-%d}"
    parts = dict(part.split("=", 1) for part in rule.split(";"))
    interval = int(parts.get("INTERVAL", "1"))
    if parts["FREQ"] == "WEEKLY":
        name = WEEKDAY_NAMES[WEEKDAY_CODES.index(parts.get("BYDAY", WEEKDAY_CODES[first.weekday()]))]
        return f"every {name}" if interval == 1 else f"every {interval} weeks on {name}"
    if "BYMONTHDAY" in parts:
        day = int(parts["BYMONTHDAY"])
        skipped = " (months without one are skipped)" if day > 28 else ""
        return f"every month on the {_ordinal_number(day)}{skipped}"
    by_day = parts["BYDAY"]
    nth, code = int(by_day[:-2]), by_day[-2:]
    return f"the {ORDINALS[nth]} {WEEKDAY_NAMES[WEEKDAY_CODES.index(code)]} of every month"


def _ordinal_number(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


@dataclass(frozen=True)
class Schedule:
    """What the rule needs of a meeting, so that this module stays free of the database."""

    rule: str | None
    starts_on: dt.date
    at: dt.time
    zone: ZoneInfo
    duration: dt.timedelta
    skipped: frozenset[dt.date] = frozenset()  # occurrences (by the date due) skipped
    moved: tuple[tuple[dt.date, dt.datetime], ...] = ()  # (date due, new start in UTC)


@dataclass(frozen=True)
class Occurrence:
    due_on: dt.date  # the date it was due on, in the meeting's zone: its identity (RECURRENCE-ID)
    starts_at: dt.datetime  # UTC
    ends_at: dt.datetime  # UTC
    zone: ZoneInfo
    moved: bool = False
    wall: WallClock = WallClock.NORMAL  # the rule's wall time that day: normal, in a gap, or doubled

    @property
    def local_start(self) -> dt.datetime:
        return self.starts_at.astimezone(self.zone)

    @property
    def local_day(self) -> dt.date:
        return self.local_start.date()


def due_dates(schedule: Schedule, after_local: dt.datetime | None = None) -> Iterator[dt.date]:
    """The dates occurrences are due on by the rule alone (skips and moves not applied), in order, from the
    first one whose date is on or after `after_local`'s (naive, the meeting's wall time)."""
    first = dt.datetime.combine(schedule.starts_on, schedule.at)
    if schedule.rule is None:
        if after_local is None or first.date() >= after_local.date():
            yield first.date()
        return
    rule = _parsed(schedule.rule, first)
    start = first if after_local is None else max(first, dt.datetime.combine(after_local.date(), dt.time.min))
    for count, moment in enumerate(rule.xafter(start, inc=True)):
        if count >= LOOKAHEAD_LIMIT:
            return
        yield moment.date()


@lru_cache(maxsize=50_000)
def _parsed(rule: str, dtstart: dt.datetime):
    """A rule parsed once (the reminders job expands every meeting every minute, status every request);
    `cache=True` keeps the dates it has generated, so the next expansion reads them instead of computing
    every date again from the first one (dateutil guards the cache with a lock)."""
    return rrulestr(rule, dtstart=dtstart, cache=True)


def is_due_on(schedule: Schedule, day: dt.date) -> bool:
    """Whether the rule has an occurrence due on `day`."""
    return next(due_dates(schedule, dt.datetime.combine(day, dt.time.min)), None) == day


def occurrence(schedule: Schedule, due_on: dt.date) -> Occurrence | None:
    """The occurrence due on `due_on`, as skips and moves leave it (None: skipped, or not due that day)."""
    if due_on in schedule.skipped or not is_due_on(schedule, due_on):
        return None
    moved = dict(schedule.moved)
    if due_on in moved:
        return Occurrence(due_on, moved[due_on], moved[due_on] + schedule.duration, schedule.zone, moved=True)
    return _regular(schedule, due_on)


def _regular(schedule: Schedule, due_on: dt.date) -> Occurrence:
    start = instant(due_on, schedule.at, schedule.zone)
    return Occurrence(due_on, start, start + schedule.duration, schedule.zone,
                      wall=wall_clock(due_on, schedule.at, schedule.zone))


def occurrences(schedule: Schedule, *, starting_after: dt.datetime, count: int | None = None,
                starting_before: dt.datetime | None = None) -> list[Occurrence]:
    """Occurrences that start after `starting_after` (and before `starting_before`), in order: at most
    `count`. Skipped ones are left out; moved ones are where they were moved to."""
    if count is None and starting_before is None:
        raise ValueError("give a count or an end")
    moved = dict(schedule.moved)
    found = [Occurrence(due_on, start, start + schedule.duration, schedule.zone, moved=True)
             for due_on, start in moved.items()
             if due_on not in schedule.skipped and start > starting_after
             and (starting_before is None or start < starting_before)]
    # A day's margin: the wall time of the first candidate may be before `starting_after`'s.
    after_local = (starting_after.astimezone(schedule.zone) - dt.timedelta(days=1)).replace(tzinfo=None)
    regular: list[Occurrence] = []
    for due_on in due_dates(schedule, after_local):
        start = instant(due_on, schedule.at, schedule.zone)
        if starting_before is not None and start >= starting_before:
            break
        if count is not None and len(regular) >= count and (not found or start > max(o.starts_at for o in found)):
            break
        if start <= starting_after or due_on in schedule.skipped or due_on in moved:
            continue
        regular.append(_regular(schedule, due_on))
    merged = sorted(found + regular, key=lambda o: o.starts_at)
    return merged[:count] if count is not None else merged
