"""Dates, durations, zones and countries as users type them: `2026-12-03`, `today`, `fri`, `+3d`, `14d`,
`2w`, `Europe/Berlin`, `DE`."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays

from bot.errors import UserError

DATE_FORMS = "2026-12-03, today, tomorrow, yesterday, a weekday (fri), +3d or +2w"
WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}
RELATIVE_DAYS = {"today": 0, "tomorrow": 1, "yesterday": -1}
_OFFSET = re.compile(r"^([+-])([0-9]{1,3})([dw])$")
_DURATION = re.compile(r"^([0-9]{1,4})\s*([mhdw])$")
_CLOCK = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")


@dataclass(frozen=True)
class DateSpec:
    """A date as typed, resolved later against "today" in the client's zone."""

    text: str
    absolute: dt.date | None = None
    offset_days: int | None = None
    weekday: int | None = None

    def resolve(self, today: dt.date, *, past: bool = False) -> dt.date:
        """The date meant. A bare weekday is the next one, or with `past` the latest one (today counts)."""
        if self.absolute is not None:
            return self.absolute
        if self.offset_days is not None:
            return today + dt.timedelta(days=self.offset_days)
        assert self.weekday is not None
        if past:
            return today - dt.timedelta(days=(today.weekday() - self.weekday) % 7)
        return today + dt.timedelta(days=(self.weekday - today.weekday() - 1) % 7 + 1)


def parse_date(text: str, *, option: str = "date") -> DateSpec:
    word = text.strip().lower()
    if word in RELATIVE_DAYS:
        return DateSpec(text, offset_days=RELATIVE_DAYS[word])
    if word in WEEKDAYS:
        return DateSpec(text, weekday=WEEKDAYS[word])
    offset = _OFFSET.match(word)
    if offset:
        sign, number, unit = offset.groups()
        days = int(number) * (7 if unit == "w" else 1)
        return DateSpec(text, offset_days=-days if sign == "-" else days)
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", word):
        year, month, day = (int(part) for part in word.split("-"))
        try:
            return DateSpec(text, absolute=dt.date(year, month, day))
        except ValueError:
            pass
    raise UserError(f"`{text}` is not a date I know for `{option}:`. Use {DATE_FORMS}.", field=option)


def parse_duration(text: str, *, option: str = "duration", units: str = "hdw") -> dt.timedelta:
    """`30m`, `36h`, `3d`, `2w` (only the units allowed for this option)."""
    match = _DURATION.match(text.strip().lower())
    if not match or match.group(2) not in units or int(match.group(1)) == 0:
        forms = ", ".join(f"{n}{u}" for n, u in (("30", "m"), ("36", "h"), ("14", "d"), ("2", "w")) if u in units)
        raise UserError(f"`{text}` is not a {option} I know. Use a number and a unit, like {forms}.",
                        field=option)
    number, unit = int(match.group(1)), match.group(2)
    return {"m": dt.timedelta(minutes=number), "h": dt.timedelta(hours=number), "d": dt.timedelta(days=number),
            "w": dt.timedelta(weeks=number)}[unit]


def parse_clock_time(text: str, *, option: str = "at") -> dt.time:
    """A time of day on a 24-hour clock: `10:00`, `9:30`."""
    match = _CLOCK.match(text.strip())
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        return dt.time(int(match.group(1)), int(match.group(2)))
    raise UserError(f"`{text}` is not a time of day for `{option}:`. Use 24-hour HH:MM, like `{option}:09:30` or "
                    f"`{option}:14:00`.", field=option)


def parse_cadence(text: str) -> int:
    """A contact cadence in whole days: `14d` or `2w`, at most a year."""
    days = parse_duration(text, option="cadence", units="dw").days
    if days > 366:
        raise UserError(f"A cadence of `{text}` is longer than a year; use at most 52w.", field="cadence")
    return days


# In the tz database but not a place: the server's own zone, a placeholder, a file used to build others.
NOT_PLACES = {"localtime", "Factory", "posixrules"}


@cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def parse_timezone(text: str) -> str:
    """An IANA zone name in its proper spelling (`europe/berlin` -> `Europe/Berlin`)."""
    name = _zone_names().get(text.strip().lower())
    if name in NOT_PLACES:
        name = None
    if name:
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    places = [lowered for lowered, zone in _zone_names().items() if zone not in NOT_PLACES]
    close = difflib.get_close_matches(text.strip().lower(), places, n=3, cutoff=0.6)
    hint = " Did you mean " + " or ".join(f"`{_zone_names()[c]}`" for c in close) + "?" if close else ""
    raise UserError(f"`{text}` is not an IANA time zone, like `Europe/Berlin` or `America/New_York`.{hint}",
                    field="tz")


def parse_country(text: str) -> str:
    """An ISO 3166 alpha-2 country code whose public holidays are known (`de` -> `DE`)."""
    raw = text.strip()
    code = raw.upper() if len(raw) == 2 and raw.isascii() and raw.isalpha() else ""
    if code in holidays.list_supported_countries():
        official = holidays.country_holidays(code).country  # `UK` is an alias of the ISO code `GB`
        if official == code:
            return code
        raise UserError(f"`{text}` is not an ISO 3166 code; use `{official}`.", field="country")
    raise UserError(f"`{text}` is not a country whose public holidays Rapport knows: use its two-letter ISO 3166 "
                    "code, like `DE`, `US`, `CH` or `GB`.", field="country")
