"""Business hours: Monday to Friday, 09:00 to 17:00 in a given zone. Disclosure windows and nudges
count these hours, not the clock's: a delay logged on Friday at 16:00 is not "late" by Saturday."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

WORKDAY_START = dt.time(9, 0)
WORKDAY_END = dt.time(17, 0)
BUSINESS_DAY_HOURS = 8.0


def in_business_hours(moment: dt.datetime, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone)
    return local.weekday() < 5 and WORKDAY_START <= local.time() < WORKDAY_END


def business_hours_between(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> float:
    """Business hours elapsed from `start` to `end` (0 if end is not after start)."""
    if end <= start:
        return 0.0
    start_local, end_local = start.astimezone(zone), end.astimezone(zone)
    total = 0.0
    day = start_local.date()
    while day <= end_local.date():
        if day.weekday() < 5:
            opens = dt.datetime.combine(day, WORKDAY_START, tzinfo=zone)
            closes = dt.datetime.combine(day, WORKDAY_END, tzinfo=zone)
            begin, finish = max(opens, start_local), min(closes, end_local)
            if finish > begin:
                total += (finish - begin).total_seconds() / 3600
        day += dt.timedelta(days=1)
    return total
