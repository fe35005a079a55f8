"""Business time: the calendar every job that posts on its own follows, and every window is counted in.

A `BusinessCalendar` is working hours (RAPPORT_BUSINESS_HOURS, 09:00-17:00 by default) on Monday to
Friday, in one zone (the reader's: a client's owner, as Slack knows them), without the public holidays of
a country (the client's, when it has one; the `holidays` package). Disclosure windows and nudges count
these hours, not the clock's: a delay logged on Friday at 16:00 is not "late" by Saturday, and nobody is
nudged at night, on a weekend or on Christmas Day. Daylight saving time is zoneinfo's business.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

WORKDAY_START = dt.time(9, 0)
WORKDAY_END = dt.time(17, 0)
BUSINESS_DAY_HOURS = 8.0  # of the default working day
_MAX_DAYS_AHEAD = 400  # a calendar with no working day in a year ahead is broken; say so instead of looping


@lru_cache(maxsize=512)
def _public_holidays(country: str, year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays(country, years=year))


def is_supported_country(code: str) -> bool:
    """An ISO 3166 alpha-2 code whose public holidays are known."""
    return code in holidays.list_supported_countries()


@dataclass(frozen=True)
class BusinessCalendar:
    zone: ZoneInfo
    opens: dt.time = WORKDAY_START
    closes: dt.time = WORKDAY_END
    country: str | None = None  # ISO 3166 alpha-2: its public holidays are not working days

    @property
    def day_hours(self) -> float:
        """The length of one working day, in hours (one business day)."""
        return (_on(dt.date.min, self.closes, None) - _on(dt.date.min, self.opens, None)).total_seconds() / 3600

    def holiday(self, day: dt.date) -> bool:
        return self.country is not None and day in _public_holidays(self.country, day.year)

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and not self.holiday(day)

    def today(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()

    def is_open(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(self.zone)
        return self.is_working_day(local.date()) and self.opens <= local.time() < self.closes

    def hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Business hours elapsed from `start` to `end` (0 if end is not after start)."""
        if end <= start:
            return 0.0
        start_local, end_local = start.astimezone(self.zone), end.astimezone(self.zone)
        total = 0.0
        day = start_local.date()
        while day <= end_local.date():
            if self.is_working_day(day):
                begin = max(_on(day, self.opens, self.zone), start_local)
                finish = min(_on(day, self.closes, self.zone), end_local)
                if finish > begin:
                    total += (finish - begin).total_seconds() / 3600
            day += dt.timedelta(days=1)
        return total

    def working_days_after(self, first: dt.date, last: dt.date) -> int:
        """How many working days there are after `first`, up to and including `last`."""
        return sum(1 for n in range(1, (last - first).days + 1)
                   if self.is_working_day(first + dt.timedelta(days=n)))

    def next_opening(self, moment: dt.datetime) -> dt.datetime:
        """`moment` itself if the calendar is open then, else when it next opens."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.zone)
        day = local.date() if local.time() < self.opens else local.date() + dt.timedelta(days=1)
        for _ in range(_MAX_DAYS_AHEAD):
            if self.is_working_day(day):
                return _on(day, self.opens, self.zone)
            day += dt.timedelta(days=1)
        raise ValueError(f"no working day within {_MAX_DAYS_AHEAD} days in {self}")


def _on(day: dt.date, time: dt.time, zone: ZoneInfo | None) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=zone)


def in_business_hours(moment: dt.datetime, zone: ZoneInfo) -> bool:
    """On the default calendar (Monday to Friday, 09:00-17:00) of `zone`."""
    return BusinessCalendar(zone).is_open(moment)


def business_hours_between(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> float:
    """On the default calendar (Monday to Friday, 09:00-17:00) of `zone`."""
    return BusinessCalendar(zone).hours_between(start, end)
