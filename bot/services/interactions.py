"""Interactions with a client: calls, meetings, emails, visits, and the team's own notes."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable

from sqlalchemy import Insert, Row, Select, bindparam, func, insert, select
from sqlalchemy.orm import Session, make_transient_to_detached

from bot.db.batches import batches
from bot.db.core import connection
from bot.db.models import (
    CONTACT_KINDS,
    INTERACTION_KINDS,
    AlertKind,
    Client,
    Interaction,
    InteractionKind,
    is_contact,
    utcnow,
)
from bot.errors import UserError
from bot.services import Actor, audit, contacts, meetings, nudges

AUDITED_FIELDS = ("kind", "summary", "occurred_on", "contact_name", "next_contact_on", "permalink")
MAX_SUMMARY = 20_000


def log_interaction(
    session: Session,
    actor: Actor,
    client: Client,
    *,
    kind: str,
    summary: str,
    occurred_on: dt.date,
    today: dt.date,
    contact_name: str | None = None,
    next_contact_on: dt.date | None = None,
    permalink: str | None = None,
) -> Interaction:
    if client.is_archived:
        raise UserError(f"{client.name} is archived; nothing more can be logged for it.", field="client")
    if kind not in INTERACTION_KINDS:
        raise UserError(f"`{kind}` is not a kind of interaction: use {', '.join(INTERACTION_KINDS)}.",
                        field="kind")
    summary = summary.strip()
    if not summary:
        raise UserError("Add a summary: what was said or agreed.", field="summary")
    if len(summary) > MAX_SUMMARY:
        raise UserError(f"The summary is {len(summary):,} characters; keep it under {MAX_SUMMARY:,}.",
                        field="summary")
    if occurred_on > today:
        raise UserError(f"`on:` is {occurred_on:%a %Y-%m-%d}, in the future: log what has happened. "
                        "Plan the next contact with `next:`.", field="on")
    if next_contact_on is not None and next_contact_on < today:
        raise UserError(f"`next:` is {next_contact_on:%a %Y-%m-%d}, in the past: the next contact is ahead.",
                        field="next")
    if contact_name is not None and len(contact_name) > 200:
        raise UserError("`with:` can be at most 200 characters.", field="with")
    # A known contact (any case): linked, under their name as recorded; else the name as typed.
    contact_name, contact_id = contacts.link_for(session, client, contact_name)
    values = {
        "team_id": actor.team_id,
        "client_id": client.id,
        "kind": kind,
        "summary": summary,
        "occurred_on": occurred_on,
        "contact_name": contact_name,
        "contact_id": contact_id,
        "next_contact_on": next_contact_on,
        "permalink": permalink,
        "logged_by": actor.user_id,
        "logged_at": utcnow(),
        "surface": actor.surface,
    }
    # One prepared INSERT instead of the unit of work's (the busiest write there is); the row as written then
    # joins the session as if loaded, so a later change to it is saved like any other.
    interaction = Interaction(id=connection(session).execute(_insert_statement(), values).scalar_one(), **values)
    make_transient_to_detached(interaction)
    session.add(interaction)
    audit.record(session, actor, "interaction.log", interaction, client_id=client.id, before=None,
                 after=audit.snapshot(interaction, AUDITED_FIELDS))
    if kind in CONTACT_KINDS:  # what was queued about the silence no longer applies
        nudges.withdraw(session, client, list(AlertKind))
    if kind == InteractionKind.MEETING:  # nor the prompts to write a meeting's notes down
        meetings.withdraw_notes_prompts(session, client)
    return interaction


@functools.cache
def _insert_statement() -> Insert:
    return insert(Interaction.__table__).returning(Interaction.__table__.c.id)


def latest_of_kind_since(session: Session, team_id: str, client_ids: Iterable[int], kind: str,
                         since: dt.date) -> dict[int, dt.date]:
    """Each client's latest interaction of `kind` that happened on `since` or later (clients with none are
    left out): one query per batch of clients, not one per client."""
    found: dict[int, dt.date] = {}
    for batch in batches(client_ids):
        rows = session.execute(
            select(Interaction.client_id, func.max(Interaction.occurred_on))
            .where(Interaction.team_id == team_id, Interaction.client_id.in_(batch), Interaction.kind == kind,
                   Interaction.occurred_on >= since)
            .group_by(Interaction.client_id))
        found.update((client_id, day) for client_id, day in rows)
    return found


# A client's status asks these on every request: built once, bound at execution (team_id, client_id, ...).
def _of_client():
    return Interaction.team_id == bindparam("team_id"), Interaction.client_id == bindparam("client_id")


def _client_params(client: Client, **more) -> dict:
    return {"team_id": client.team_id, "client_id": client.id, **more}


@functools.cache
def _latest_query() -> Select:
    # Rows, not objects (every status reads them, to show). The next planned contact rides along as a column:
    # one statement, not two (a client with no interactions has no contact planned either).
    return (select(*Interaction.__table__.columns,
                   _next_planned_query().correlate(None).scalar_subquery().label("next_planned"))
            .where(*_of_client())
            .order_by(Interaction.occurred_on.desc(), Interaction.id.desc()).limit(bindparam("limit")))


@functools.cache
def _last_contact_query() -> Select:
    # `<> note`, as ix_interactions_contact_latest is defined: the planner walks that index down one row.
    return (select(Interaction).where(*_of_client(), is_contact(Interaction.kind))
            .order_by(Interaction.occurred_on.desc(), Interaction.id.desc()).limit(1))


@functools.cache
def _next_planned_query() -> Select:
    return select(func.min(Interaction.next_contact_on)).where(
        *_of_client(), Interaction.next_contact_on >= bindparam("today", type_=Interaction.next_contact_on.type))


def latest_interactions(session: Session, client: Client, today: dt.date,
                        limit: int = 5) -> tuple[list[Row], dt.date | None]:
    """The client's `limit` latest interactions, newest first (rows with an Interaction's fields, to read), and
    the earliest `next:` date logged with any of its interactions that is still ahead on `today`."""
    rows = connection(session).execute(_latest_query(), _client_params(client, limit=limit, today=today)).all()
    return rows, (rows[0].next_planned if rows else None)


def last_contact(session: Session, client: Client) -> Interaction | None:
    """The latest real contact with the client (a note is not contact)."""
    return session.scalar(_last_contact_query(), _client_params(client))


def last_contact_dates(session: Session, team_id: str, client_ids: list[int]) -> dict[int, dt.date]:
    """Each client's latest contact date: one index lookup per client, not a scan of its interactions."""
    found: dict[int, dt.date] = {}
    latest = nudges.latest_contact_of_client(team_id, "occurred_on")
    for batch in batches(client_ids):
        rows = session.execute(select(Client.id, latest).where(Client.team_id == team_id, Client.id.in_(batch)))
        found.update((client_id, occurred_on) for client_id, occurred_on in rows if occurred_on is not None)
    return found


def attach_permalink(session: Session, actor: Actor, interaction_id: int, permalink: str) -> Interaction | None:
    """Keep the link of the Slack message an interaction was logged from (fetched after the answer to Slack,
    so that the form opened at once). Only once, and only a Slack https link."""
    interaction = session.scalar(select(Interaction).where(Interaction.team_id == actor.team_id,
                                                           Interaction.id == interaction_id))
    if interaction is None or interaction.permalink or not permalink.startswith("https://") or len(permalink) > 500:
        return None
    before = audit.snapshot(interaction, AUDITED_FIELDS)
    interaction.permalink = permalink
    audit.record(session, actor, "interaction.link", interaction, client_id=interaction.client_id, before=before,
                 after=audit.snapshot(interaction, AUDITED_FIELDS))
    return interaction
