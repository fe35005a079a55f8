"""Clients the team has not been in touch with for longer than their cadence, or whose planned next
contact passed without one: found with set-based SQL, one index lookup per client, however many
interactions there are; and the nudges and escalations already sent about them.

- Last contact: the latest interaction of any kind but a note, logged by anyone, dated by `on:` (a
  contact logged later with a past date counts from that date).
- A planned next contact (`next:`) counts if it was planned at or after the last contact; once its day
  has passed without a contact, the client is due.
- A stale spell (an `episode`) is named by the last contact's date ("never" before the first): a new
  contact ends it; if the client goes stale again, that is a new spell, nudged and escalated anew.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, literal, select
from sqlalchemy.orm import Session, aliased

from bot.db.insert import insert_ignoring_duplicates
from bot.db.models import AlertKind, Client, Interaction, InteractionKind, StaleAlert

NEVER = "never"
_CHUNK = 500


@dataclass(frozen=True)
class LastContact:
    kind: str
    logged_by: str
    occurred_on: dt.date
    summary: str


@dataclass(frozen=True)
class StaleClient:
    client: Client
    today: dt.date  # in the client's zone (its dates are)
    since: dt.date  # the last contact, or the day the client was added
    last_contact: LastContact | None  # None: no contact logged yet
    planned_on: dt.date | None  # a planned contact whose day has passed without one

    @property
    def days(self) -> int:
        return (self.today - self.since).days

    @property
    def past_cadence(self) -> bool:
        return self.days > self.client.cadence_days

    @property
    def twice_the_cadence(self) -> bool:
        return self.days > 2 * self.client.cadence_days

    @property
    def episode(self) -> str:
        return self.last_contact.occurred_on.isoformat() if self.last_contact else NEVER


def _last_contact(team_id: str, column):
    """`column` of the client's latest contact: a walk down ix_interactions_contact_latest, one row."""
    contact = aliased(Interaction)
    return (select(getattr(contact, column))
            .where(contact.team_id == team_id, contact.client_id == Client.id, contact.kind != InteractionKind.NOTE)
            .order_by(contact.occurred_on.desc(), contact.id.desc())
            .limit(1).correlate(Client).scalar_subquery())


def _pending_plan(team_id: str):
    """The earliest next contact planned at or after the last contact: a range of ix_interactions_planned."""
    plan = aliased(Interaction)
    since = func.coalesce(_last_contact(team_id, "occurred_on"), cast(literal("0001-01-01"), Date))
    return (select(func.min(plan.next_contact_on))
            .where(plan.team_id == team_id, plan.client_id == Client.id, plan.next_contact_on.is_not(None),
                   plan.occurred_on >= since)
            .correlate(Client).scalar_subquery())


def stale_clients(session: Session, team_id: str, default_zone, now: dt.datetime) -> list[StaleClient]:
    """The workspace's active clients that are due for contact as of `now`, longest silence first.

    One pass over the clients reads, per client, its last contact and pending plan (index lookups); only
    the clients found due are then loaded whole."""
    # Scalar subqueries, not joins: each is an index lookup per client, so no plan can scan the interactions.
    rows = session.execute(
        select(Client.id, Client.cadence_days, Client.timezone, Client.created_at,
               _last_contact(team_id, "id"), _last_contact(team_id, "occurred_on"), _pending_plan(team_id))
        .where(Client.team_id == team_id, Client.archived_at.is_(None))
    ).all()
    due: dict[int, tuple[dt.date, dt.date, int | None, dt.date | None]] = {}
    for client_id, cadence, zone_name, created_at, contact_id, contact_on, planned in rows:
        zone = ZoneInfo(zone_name) if zone_name else default_zone
        today = now.astimezone(zone).date()
        since = contact_on or created_at.astimezone(zone).date()
        passed = planned if planned is not None and planned < today else None
        if (today - since).days > cadence or passed:
            due[client_id] = (today, since, contact_id, passed)
    clients = _load(session, Client, due)
    contacts = _load(session, Interaction, [contact_id for _, _, contact_id, _ in due.values() if contact_id])
    found = [StaleClient(clients[client_id], today, since, _contact(contacts.get(contact_id)), passed)
             for client_id, (today, since, contact_id, passed) in due.items()]
    return sorted(found, key=lambda s: (-s.days, s.client.name.lower()))


def _load(session: Session, model, ids: Iterable[int]) -> dict:
    ids = sorted(ids)
    loaded = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        loaded.update((row.id, row) for row in session.scalars(select(model).where(model.id.in_(chunk))))
    return loaded


def _contact(interaction: Interaction | None) -> LastContact | None:
    if interaction is None:
        return None
    return LastContact(interaction.kind, interaction.logged_by, interaction.occurred_on, interaction.summary)


@dataclass(frozen=True)
class SentAlerts:
    """What was already said about each client in its current stale spell."""

    last_nudge_on: dict[int, dt.date]  # client id -> the day of the latest nudge
    escalated: set[int]
    no_owner_told: set[int]


def alerts_sent(session: Session, team_id: str, stale: Iterable[StaleClient]) -> SentAlerts:
    episodes = {s.client.id: s.episode for s in stale}
    sent = SentAlerts({}, set(), set())
    ids = sorted(episodes)
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(StaleAlert.client_id, StaleAlert.kind, StaleAlert.episode, func.max(StaleAlert.local_date))
            .where(StaleAlert.team_id == team_id, StaleAlert.client_id.in_(ids[start:start + _CHUNK]))
            .group_by(StaleAlert.client_id, StaleAlert.kind, StaleAlert.episode))
        for client_id, kind, episode, last_on in rows:
            if episode != episodes[client_id]:
                continue
            if kind == AlertKind.NUDGE:
                sent.last_nudge_on[client_id] = last_on
            elif kind == AlertKind.ESCALATION:
                sent.escalated.add(client_id)
            elif kind == AlertKind.NO_OWNER:
                sent.no_owner_told.add(client_id)
    return sent


def alert_key(stale: StaleClient, kind: AlertKind, local_date: dt.date) -> str:
    """A nudge is once a day at most, whatever the spell; an escalation once a spell."""
    if kind == AlertKind.NUDGE:
        return f"stale:{stale.client.id}:{kind}:{local_date.isoformat()}"
    return f"stale:{stale.client.id}:{kind}:{stale.episode}"


def record_alert(session: Session, stale: StaleClient, kind: AlertKind, local_date: dt.date) -> None:
    """Remember it was said (with its outbox row, in the same transaction); saying it again changes nothing."""
    insert_ignoring_duplicates(session, StaleAlert.__table__, {
        "team_id": stale.client.team_id, "client_id": stale.client.id, "kind": kind, "episode": stale.episode,
        "local_date": local_date, "key": alert_key(stale, kind, local_date),
        "created_at": dt.datetime.now(dt.UTC),
    }, ["team_id", "key"])
