"""Clients the team has not been in touch with for longer than their cadence, or whose planned next
contact passed without one: found with set-based SQL, one index lookup per client, however many
interactions there are; and the nudges and escalations already sent about them.

- Last contact: the latest interaction of any kind but a note, logged by anyone, dated by `on:` (a
  contact logged later with a past date counts from that date).
- A planned next contact (`next:`): the latest plan made (logged) on or after the day of the last contact
  counts (a later plan replaces an earlier one; a contact after a plan fulfils it); once its day has
  passed without a contact, the client is due.
- A stale spell (an `episode`) is named by the last contact's date when it began ("never" before the
  first contact). A contact that makes the client current ends it; when the client goes stale again, that
  is a new spell, nudged and escalated anew. A contact logged with a date so old that the client was
  still stale when it was last alerted about does not end the spell.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Update, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from bot.db.batches import batches
from bot.db.core import connection
from bot.db.insert import insert_ignoring_duplicates
from bot.db.models import AlertKind, Client, Interaction, StaleAlert, is_contact
from bot.services import outbox

NEVER = "never"


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
    spell: str | None = field(default=None, compare=False)  # the spell it continues (alerts_sent says)

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
        if self.spell is not None:
            return self.spell
        return self.last_contact.occurred_on.isoformat() if self.last_contact else NEVER


def latest_contact_of_client(team_id: str, column: str):
    """`column` of the latest contact (not a note) of the client in the enclosing query (`Client`): a correlated
    scalar subquery that walks ix_interactions_contact_latest down one row, however many interactions there are."""
    contact = aliased(Interaction)
    return (select(getattr(contact, column))
            .where(contact.team_id == team_id, contact.client_id == Client.id, is_contact(contact.kind))
            .order_by(contact.occurred_on.desc(), contact.id.desc())
            .limit(1).correlate(Client).scalar_subquery())


def _latest_plan(team_id: str, column):
    """`column` of the plan made last (`next:`): a walk down ix_interactions_planned, one row."""
    plan = aliased(Interaction)
    return (select(getattr(plan, column))
            .where(plan.team_id == team_id, plan.client_id == Client.id, plan.next_contact_on.is_not(None))
            .order_by(plan.logged_at.desc(), plan.id.desc())
            .limit(1).correlate(Client).scalar_subquery())


def stale_clients(session: Session, team_id: str, default_zone, now: dt.datetime) -> list[StaleClient]:
    """The workspace's active clients that are due for contact as of `now`, longest silence first.

    One pass over the clients reads, per client, its last contact and pending plan (index lookups); only
    the clients found due are then loaded whole."""
    # Scalar subqueries, not joins: each is an index lookup per client, so no plan can scan the interactions.
    rows = session.execute(
        select(Client.id, Client.cadence_days, Client.timezone, Client.created_at,
               latest_contact_of_client(team_id, "id"), latest_contact_of_client(team_id, "occurred_on"),
               _latest_plan(team_id, "next_contact_on"), _latest_plan(team_id, "logged_at"))
        .where(Client.team_id == team_id, Client.archived_at.is_(None))
    ).all()
    due: dict[int, tuple[dt.date, dt.date, int | None, dt.date | None]] = {}
    for client_id, cadence, zone_name, created_at, contact_id, contact_on, planned, planned_at in rows:
        zone = ZoneInfo(zone_name) if zone_name else default_zone
        today = now.astimezone(zone).date()
        since = contact_on or created_at.astimezone(zone).date()
        # A plan made before the day of the last contact was fulfilled by it.
        pending = planned is not None and (contact_on is None or planned_at.astimezone(zone).date() >= contact_on)
        passed = planned if pending and planned < today else None
        if (today - since).days > cadence or passed:
            due[client_id] = (today, since, contact_id, passed)
    clients = _load(session, Client, due)
    contacts = _load(session, Interaction, [contact_id for _, _, contact_id, _ in due.values() if contact_id])
    found = [StaleClient(clients[client_id], today, since, _contact(contacts.get(contact_id)), passed)
             for client_id, (today, since, contact_id, passed) in due.items()]
    return sorted(found, key=lambda s: (-s.days, s.client.name.lower()))


def _load(session: Session, model, ids: Iterable[int]) -> dict:
    loaded = {}
    for batch in batches(ids):
        loaded.update((row.id, row) for row in session.scalars(select(model).where(model.id.in_(batch))))
    return loaded


def _contact(interaction: Interaction | None) -> LastContact | None:
    if interaction is None:
        return None
    return LastContact(interaction.kind, interaction.logged_by, interaction.occurred_on, interaction.summary)


@dataclass(frozen=True)
class SentAlerts:
    """What was already said about each client in its current stale spell."""

    spell: dict[int, str]  # client id -> the spell it is in
    last_nudge_on: dict[int, dt.date]  # client id -> the day of the latest nudge
    escalated: set[int]
    no_owner_told: set[int]


def alerts_sent(session: Session, team_id: str, stale: Iterable[StaleClient]) -> SentAlerts:
    stale = {s.client.id: s for s in stale}
    said: dict[int, list[tuple[str, str, dt.date]]] = {}  # client id -> (kind, spell, latest day)
    for batch in batches(stale):
        rows = session.execute(
            select(StaleAlert.client_id, StaleAlert.kind, StaleAlert.episode, func.max(StaleAlert.local_date))
            .where(StaleAlert.team_id == team_id, StaleAlert.client_id.in_(batch))
            .group_by(StaleAlert.client_id, StaleAlert.kind, StaleAlert.episode))
        for client_id, kind, episode, last_on in rows:
            said.setdefault(client_id, []).append((kind, episode, last_on))
    sent = SentAlerts({}, {}, set(), set())
    for client_id, about in stale.items():
        spell = _spell(about, said.get(client_id, []))
        sent.spell[client_id] = spell
        for kind, episode, last_on in said.get(client_id, []):
            if episode != spell:
                continue
            if kind == AlertKind.NUDGE:
                sent.last_nudge_on[client_id] = last_on
            elif kind == AlertKind.ESCALATION:
                sent.escalated.add(client_id)
            elif kind == AlertKind.NO_OWNER:
                sent.no_owner_told.add(client_id)
    return sent


def _spell(about: StaleClient, said: list[tuple[str, str, dt.date]]) -> str:
    """The spell the client is in: the last alerted one, unless a contact since made the client current."""
    own = about.episode
    if not said or about.last_contact is None:
        return own
    _, latest_spell, latest_on = max(said, key=lambda row: row[2])
    still_stale_then = (latest_on - about.last_contact.occurred_on).days > about.client.cadence_days
    return latest_spell if latest_spell != own and still_stale_then else own


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


def withdraw(session: Session, client: Client, kinds: Iterable[AlertKind]) -> int:
    """Nudges or escalations about the client still waiting to be posted no longer apply (a contact was
    logged, the nudges were snoozed): withdrawn, never posted. How many were."""
    return connection(session).execute(_withdraw_statement(), {
        "of_team": client.team_id, "of_client": client.id, "kinds": list(kinds)}).rowcount


@functools.cache
def _withdraw_statement() -> Update:
    # Every logged contact runs it: one statement, built once; the client's alerts as a subquery, however many
    # there were over the years.
    return outbox.withdrawing(select(StaleAlert.key).where(StaleAlert.team_id == bindparam("of_team"),
                                                           StaleAlert.client_id == bindparam("of_client"),
                                                           StaleAlert.kind.in_(bindparam("kinds", expanding=True))))
