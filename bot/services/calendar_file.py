"""A meeting as an iCalendar file (RFC 5545), built with the `icalendar` package: one VEVENT with the
meeting's RRULE, its zone as TZID (with the VTIMEZONE that defines it), an EXDATE per skipped occurrence, an
override (RECURRENCE-ID) per moved one, and a UID that stays the same however often it is exported, so a
second import updates the event instead of doubling it. Outlook, Google Calendar and Apple Calendar import
it as a recurring event."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur

from bot.db.models import Client, Meeting
from bot.services.recurrence import Schedule

PRODUCT_ID = "-//Rapport//Client meetings//EN"


def uid(meeting: Meeting) -> str:
    return f"meeting-{meeting.id}-{meeting.team_id.lower()}@rapport"


def filename(meeting: Meeting) -> str:
    return f"rapport-meeting-{meeting.id}.ics"


def meeting_calendar(meeting: Meeting, client: Client, schedule: Schedule, *, now: dt.datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    summary = f"{meeting.title} — {client.name}"
    first = dt.datetime.combine(meeting.starts_on, meeting.at, tzinfo=schedule.zone)
    moved = dict(schedule.moved)
    if meeting.rule is None and meeting.starts_on in moved:  # a one-off meeting that moved is simply elsewhere
        first = _wall(moved.pop(meeting.starts_on), schedule.zone)
    event = _event(meeting, summary, first, schedule, now)
    if meeting.rule is not None:
        event.add("rrule", vRecur.from_ical(meeting.rule))
        for skipped in sorted(schedule.skipped):
            event.add("exdate", dt.datetime.combine(skipped, meeting.at, tzinfo=schedule.zone))
    elif meeting.starts_on in schedule.skipped:  # a one-off meeting whose only occurrence is skipped
        event.add("status", "CANCELLED")
    calendar.add_component(event)
    for due_on, start in sorted(moved.items()):
        override = _event(meeting, summary, _wall(start, schedule.zone), schedule, now)
        override.add("recurrence-id", dt.datetime.combine(due_on, meeting.at, tzinfo=schedule.zone))
        override.add("sequence", 1)
        calendar.add_component(override)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _event(meeting: Meeting, summary: str, start: dt.datetime, schedule: Schedule, now: dt.datetime) -> Event:
    event = Event()
    event.add("uid", uid(meeting))
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("summary", summary)
    event.add("dtstart", start)
    event.add("dtend", _wall(start.astimezone(dt.UTC) + schedule.duration, schedule.zone))  # elapsed, not wall, time
    event.add("description", f"Rapport meeting #{meeting.id}. Reminders and the prep brief come in Slack.")
    return event


def _wall(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """An instant as wall time in `zone` (written with its TZID); in UTC if it is the second of a wall time the
    clocks pass twice, which a calendar would read as the first (RFC 5545)."""
    local = moment.astimezone(zone)
    return local if local.replace(fold=0).astimezone(dt.UTC) == moment.astimezone(dt.UTC) else moment.astimezone(dt.UTC)
