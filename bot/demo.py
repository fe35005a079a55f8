"""A small sample portfolio for `rapport console --demo`, written through the real services."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from sqlalchemy.orm import Session

from bot.db.models import Frequency
from bot.services import Actor
from bot.services.changes import record_change
from bot.services.clients import add_client, list_clients
from bot.services.contacts import add_contact
from bot.services.interactions import log_interaction
from bot.services.lessons import add_lesson
from bot.services.meetings import add_meeting
from bot.services.promises import add_promise
from bot.services.recurrence import first_nth_weekday
from bot.services.voice import set_line

# (name, key, owner, channel, cadence days, zone, country, [(days ago, kind, summary, contact)])
PORTFOLIO = [
    ("Acme Biologics", "acme", "ana", "acme-internal", 14, "Europe/Berlin", "DE", [
        (3, "call", "Agreed the Q1 fill slots for the mAb line; they want the CoA template by Friday.",
         "Dr. Jane Roe"),
        (10, "meeting", "Quarterly review: on-time release 96%; asked about serialization for the US launch.",
         "Dr. Jane Roe"),
    ]),
    ("Borealis Pharma", "borealis", "ben", "borealis-internal", 7, "America/New_York", "US", [
        (11, "email", "Sent the revised stability protocol for lot B-2291.", "Tom Okafor"),
    ]),
    ("Cygnus Therapeutics", "cygnus", "ana", "cygnus-internal", 30, "Europe/London", "GB", [
        (70, "visit", "Audit visit at the fill line; two minor observations, CAPAs agreed.", "QA team"),
        (5, "note", "Their QA head is leaving in January; find out who takes over.", None),
    ]),
    ("Delta Vaccines", "delta", None, None, 14, None, None, []),
]
# (client key, title, every, weekday (0 = Monday), time): each starting on its next such day
MEETINGS = [
    ("acme", "Quarterly business review", Frequency.MONTH, 1, dt.time(10, 0)),  # the first Tuesday
    ("borealis", "Weekly supply call", Frequency.WEEK, 3, dt.time(15, 0)),
    ("cygnus", "QA alignment", Frequency.TWO_WEEKS, 2, dt.time(11, 0)),
]

# (client key, name, role, peer): the client's people and our peer for each
CONTACTS = [
    ("acme", "Dr. Jane Roe", "Head of QA", "ana"),
    ("acme", "Lars Berg", "Supply chain", "ben"),
    ("acme", "Maria Keller", "Chief Executive Officer", None),
    ("borealis", "Tom Okafor", "Project manager", "ben"),
    ("cygnus", "QA team", "QA", "ana"),
]
# (client key, what, due in days (negative: overdue), owner)
PROMISES = [
    ("acme", "Send the CoA template for the mAb line", 3, "ana"),
    ("borealis", "Share the stability chamber investigation report", -2, "ben"),
    ("cygnus", "Close the two audit CAPAs", 12, "ana"),
]
# (client key, topic, the agreed line)
VOICE = [
    ("borealis", "Lot B-2291", "Release moves to the new date because of the stability chamber excursion; no "
     "product impact expected, report by Friday."),
    ("acme", "Q1 capacity", "Two fill slots a month on the mAb line from January; more only after the line upgrade."),
]
# (client key, the lesson, tied to the demo's schedule change)
LESSONS = [
    ("borealis", "Tell the client about a stability delay the same day, before the release date slips again.", True),
    ("acme", "Book the filter integrity retest a week ahead: the lab is full before quarter end.", False),
]


def summary() -> str:
    return (f"{len(PORTFOLIO)} clients, {len(MEETINGS)} regular meetings, {len(CONTACTS)} contacts, "
            f"{len(PROMISES)} promises, {len(VOICE)} agreed lines, {len(LESSONS)} lessons")


def seed(session: Session, actor: Actor, user_id_for, channel_id_for, today: dt.date,
         now: dt.datetime | None = None) -> bool:
    """Add the sample clients, their contact, a schedule change, meetings, contacts and peers, promises (one
    overdue), agreed voice lines and lessons, unless the workspace has clients already. True if it seeded."""
    if list_clients(session, actor.team_id):
        return False
    now = now or dt.datetime.now(dt.UTC)
    clients = {}
    for name, key, owner, channel, cadence, zone, country, interactions in PORTFOLIO:
        client = add_client(session, actor, name, key=key, owner_user_id=user_id_for(owner) if owner else None,
                            internal_channel_id=channel_id_for(channel) if channel else None,
                            cadence_days=cadence, timezone=zone, country=country)
        clients[key] = client
        # Each client's contact logged by its owner (the one voice, and the peer of its main contact).
        logger = replace(actor, user_id=user_id_for(owner)) if owner else actor
        for days_ago, kind, summary, contact in reversed(interactions):
            log_interaction(session, logger, client, kind=kind, summary=summary,
                            occurred_on=today - dt.timedelta(days=days_ago), today=today, contact_name=contact)
    change = record_change(session, actor, clients["borealis"], item="Lot B-2291 release",
                           old_date=today + dt.timedelta(days=5), new_date=today + dt.timedelta(days=9),
                           reason="Stability pull delayed: chamber excursion under investigation.", today=today)
    for key, name, role, peer in CONTACTS:
        add_contact(session, actor, clients[key], name=name, role=role,
                    peer_user_id=user_id_for(peer) if peer else None)
    for key, what, due_in, owner in PROMISES:
        # Recorded when it was made: an overdue one was promised for a day now past.
        promise_today = min(today, today + dt.timedelta(days=due_in))
        add_promise(session, actor, clients[key], what=what, due_on=today + dt.timedelta(days=due_in),
                    today=promise_today, owner_user_id=user_id_for(owner))
    for key, topic, line in VOICE:
        set_line(session, actor, clients[key], topic=topic, line=line)
    for key, text, tied in LESSONS:
        add_lesson(session, actor, clients[key], text, change_id=change.id if tied else None)
    for key, title, every, weekday, at in MEETINGS:
        tomorrow = today + dt.timedelta(days=1)
        first = (first_nth_weekday(tomorrow, weekday, 1) if every is Frequency.MONTH
                 else tomorrow + dt.timedelta(days=(weekday - tomorrow.weekday()) % 7))
        client = clients[key]
        add_meeting(session, actor, client, title=title, every=every, starts_on=first, at=at,
                    timezone=client.timezone, now=now, nth=1 if every is Frequency.MONTH else None)
    return True
