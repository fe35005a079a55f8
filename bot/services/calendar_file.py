"""A meeting as an iCalendar file (RFC 5545), built with the `icalendar` package: one VEVENT with the
meeting's RRULE, its zone as TZID (with the VTIMEZONE that defines it), an EXDATE per skipped occurrence, an
override (RECURRENCE-ID) per moved one, and a UID that stays the same however often it is exported, so a
second import updates the event instead of doubling it. Outlook, Google Calendar and Apple Calendar import
it as a recurring event."""

from __future__ import annotations

import datetime as dt

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
        first = moved.pop(meeting.starts_on).astimezone(schedule.zone)
    event = _event(meeting, summary, first, schedule.duration, now)
    if meeting.rule is not None:
        event.add("rrule", vRecur.from_ical(meeting.rule))
        for skipped in sorted(schedule.skipped):
            event.add("exdate", dt.datetime.combine(skipped, meeting.at, tzinfo=schedule.zone))
    calendar.add_component(event)
    for due_on, start in sorted(moved.items()):
        override = _event(meeting, summary, start.astimezone(schedule.zone), schedule.duration, now)
        override.add("recurrence-id", dt.datetime.combine(due_on, meeting.at, tzinfo=schedule.zone))
        override.add("sequence", 1)
        calendar.add_component(override)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _event(meeting: Meeting, summary: str, start: dt.datetime, duration: dt.timedelta, now: dt.datetime) -> Event:
    event = Event()
    event.add("uid", uid(meeting))
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("summary", summary)
    event.add("dtstart", start)
    event.add("dtend", start + duration)
    event.add("description", f"Rapport meeting #{meeting.id}. Reminders and the prep brief come in Slack.")
    return event
