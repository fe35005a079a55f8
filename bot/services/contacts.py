"""The client's people (their function, and our peer for each) and who talked to them last."""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Row, Select, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from bot.db.core import connection
from bot.db.models import Client, Contact, Interaction, is_contact, utcnow
from bot.errors import UserError
from bot.services import Actor, audit

AUDITED_FIELDS = ("name", "role", "peer_user_id", "archived_at")
MAX_NAME = 200
MAX_ROLE = 100
EXECUTIVE_QUARTER_DAYS = 90
# A role names the executive level when it has one of these words (or phrases), in any case.
EXECUTIVE_WORDS = frozenset({"executive", "exec", "ceo", "coo", "cfo", "cso", "cto", "vp", "svp", "evp",
                             "president", "chairman", "chairwoman", "chair"})
EXECUTIVE_PHRASES = ("director general", "head of site", "general manager", "managing director")
# Roles shown in capitals however they were typed.
_ABBREVIATIONS = {"qa", "qc", "qp", "ra", "ceo", "coo", "cfo", "cso", "cto", "vp", "svp", "evp", "cmc", "pm"}
_WORD = re.compile(r"[^\W\d_]+")


def normalise(name: str) -> str:
    return " ".join(name.split())


def name_key(name: str) -> str:
    """How names are compared: case and runs of white space don't count."""
    return normalise(name).casefold()


def normalise_role(role: str) -> str:
    role = normalise(role)
    return role.upper() if role.lower() in _ABBREVIATIONS else role


def is_executive(role: str | None) -> bool:
    if not role:
        return False
    words = _WORD.findall(role.lower())
    joined = " " + " ".join(words) + " "
    return any(word in EXECUTIVE_WORDS for word in words) or any(f" {p} " in joined for p in EXECUTIVE_PHRASES)


# -- reading ---------------------------------------------------------------------------------------------

@functools.cache
def _active_query() -> Select:
    return select(Contact).where(Contact.team_id == bindparam("team_id"), Contact.client_id == bindparam("client_id"),
                                 Contact.archived_at.is_(None))


def _listed_order(contact: Contact) -> tuple[str, int]:
    return name_key(contact.name), contact.id


def active_contacts(session: Session, client: Client) -> list[Contact]:
    contacts = session.scalars(_active_query(), {"team_id": client.team_id, "client_id": client.id})
    return sorted(contacts, key=_listed_order)


def find_contact(contacts: Sequence[Contact], name: str) -> Contact | None:
    wanted = name_key(name)
    return next((c for c in contacts if name_key(c.name) == wanted), None)


def close_matches(contacts: Sequence[Contact], name: str, n: int = 3) -> list[Contact]:
    """Contacts a typed name most likely meant: close spellings, or a name within the other ("Jane Roe" for
    "Dr. Jane Roe")."""
    wanted = name_key(name)
    if not wanted:
        return []
    by_key = {name_key(c.name): c for c in contacts}
    found = [by_key[key] for key in difflib.get_close_matches(wanted, list(by_key), n=n, cutoff=0.6)]
    for key, contact in by_key.items():
        if contact not in found and len(wanted) >= 3 and (wanted in key or key in wanted):
            found.append(contact)
    return found[:n]


def _names(contacts: Sequence[Contact]) -> str:
    names = [f"“{c.name}”" for c in contacts]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def get_contact(session: Session, client: Client, name: str) -> Contact:
    """An active contact of the client by name (case-insensitive), else a UserError naming close matches
    and the client's contacts."""
    if not normalise(name):
        raise UserError("Say which contact, by name, like `\"Dr. Jane Roe\"`.", field="name")
    contacts = active_contacts(session, client)
    contact = find_contact(contacts, name)
    if contact is not None:
        return contact
    if not contacts:
        raise UserError(f"{client.name} has no contacts yet. Add one: `/cmo contact add {client.key} \"<name>\"`.",
                        field="name")
    close = close_matches(contacts, name)
    known = f" {client.name}'s contacts: {_names(contacts[:10])}" + (" and more." if len(contacts) > 10 else ".")
    if close:
        raise UserError(f"“{normalise(name)}” is not one of {client.name}'s contacts. Did you mean {_names(close)}?"
                        + known, field="name")
    raise UserError(f"“{normalise(name)}” is not one of {client.name}'s contacts." + known, field="name")


class Seen(NamedTuple):
    """What the listings show of an interaction with a contact."""

    occurred_on: dt.date
    kind: str
    logged_by: str


@dataclass(frozen=True)
class LastContact:
    """A contact's latest interaction (a note is not contact): with anyone of ours, and with our peer."""

    any: Seen | None
    peer: Seen | None  # by the contact's peer (no peer named: by anyone)


SEEN = ("occurred_on", "kind", "logged_by")


@functools.cache
def _with_last_query() -> Select:
    """The client's active contacts (a Contact's columns), each with its latest interaction (not a note) and the
    latest one logged by its peer (no peer named: by anyone) as `any_*` and `peer_*` columns, in one statement:
    per contact, a walk down ix_interactions_contact_person from its newest row, however long its history.
    Built once (the status of a client asks it on every request); bound by team_id and client_id."""

    def latest_with(*, by_peer: bool):
        latest = aliased(Interaction)
        query = select(latest.id).where(latest.team_id == Contact.team_id, latest.contact_id == Contact.id,
                                        is_contact(latest.kind))
        if by_peer:
            query = query.where(or_(Contact.peer_user_id.is_(None), latest.logged_by == Contact.peer_user_id))
        return (query.order_by(latest.occurred_on.desc(), latest.id.desc()).limit(1)
                .correlate(Contact).scalar_subquery())

    with_anyone, with_peer = aliased(Interaction, name="with_anyone"), aliased(Interaction, name="with_peer")
    seen = [getattr(alias, name).label(f"{prefix}_{name}")
            for prefix, alias in (("any", with_anyone), ("peer", with_peer)) for name in SEEN]
    return (select(*Contact.__table__.columns, *seen).select_from(Contact)
            .outerjoin(with_anyone, with_anyone.id == latest_with(by_peer=False))
            .outerjoin(with_peer, with_peer.id == latest_with(by_peer=True))
            .where(Contact.team_id == bindparam("team_id"), Contact.client_id == bindparam("client_id"),
                   Contact.archived_at.is_(None)))


def _seen(row: Row, prefix: str) -> Seen | None:
    values = tuple(getattr(row, f"{prefix}_{name}") for name in SEEN)
    return Seen(*values) if values[0] is not None else None


def contacts_with_last(session: Session, client: Client) -> tuple[list[Row], dict[int, LastContact]]:
    """The client's active contacts (as active_contacts orders them; rows with a Contact's fields, to read: the
    status of a client asks on every request, and rows cost less than objects) and each one's latest interaction
    by anyone and by its peer."""
    rows = connection(session).execute(_with_last_query(), {"team_id": client.team_id, "client_id": client.id}).all()
    rows.sort(key=_listed_order)
    return rows, {row.id: LastContact(_seen(row, "any"), _seen(row, "peer")) for row in rows}


# -- writing ---------------------------------------------------------------------------------------------

def _check_client(client: Client) -> None:
    if client.is_archived:
        raise UserError(f"{client.name} is archived; its contacts are kept as they are.", field="client")


def _check_name(name: str) -> str:
    name = normalise(name)
    if not name:
        raise UserError("Give the contact's name, like `\"Dr. Jane Roe\"`.", field="name")
    if len(name) > MAX_NAME:
        raise UserError(f"A contact's name can be at most {MAX_NAME} characters.", field="name")
    return name


def _check_role(role: str | None) -> str | None:
    if role is None:
        return None
    role = normalise_role(role)
    if len(role) > MAX_ROLE:
        raise UserError(f"`role:` can be at most {MAX_ROLE} characters.", field="role")
    return role or None


def _check_unique(session: Session, client: Client, name: str, *, other_than: Contact | None = None) -> None:
    existing = find_contact(active_contacts(session, client), name)
    if existing is not None and existing is not other_than:
        raise UserError(f"{client.name} already has a contact “{existing.name}”. Change it with "
                        f"`/cmo contact set {client.key} \"{existing.name}\" ...`.", field="name")


def add_contact(session: Session, actor: Actor, client: Client, *, name: str, role: str | None = None,
                peer_user_id: str | None = None) -> tuple[Contact, int]:
    """The new contact, and how many earlier interactions named them (and are now linked to them)."""
    _check_client(client)
    name, role = _check_name(name), _check_role(role)
    _check_unique(session, client, name)
    contact = Contact(team_id=actor.team_id, client_id=client.id, name=name, role=role, peer_user_id=peer_user_id,
                      created_by=actor.user_id, surface=actor.surface)
    try:
        with session.begin_nested():  # two people adding the same name at once: the unique index keeps one
            session.add(contact)
            session.flush()
    except IntegrityError:
        raise UserError(f"{client.name} already has a contact “{name}”: someone added them a moment ago. "
                        f"`/cmo contacts {client.key}` lists them.", field="name") from None
    linked = link_earlier(session, client, contact)
    # The interactions linked to them are in the event: the trail says why their contact_id changed.
    audit.record(session, actor, "contact.add", contact, client_id=client.id, before=None,
                 after={**audit.snapshot(contact, AUDITED_FIELDS),
                        **({"linked_interactions": linked} if linked else {})})
    return contact, len(linked)


def link_earlier(session: Session, client: Client, contact: Contact) -> list[int]:
    """Interactions logged before the contact was known, `with:` their name: linked to them (the name as
    logged stays as it was)."""
    wanted = name_key(contact.name)
    rows = session.execute(select(Interaction.id, Interaction.contact_name).where(
        Interaction.team_id == client.team_id, Interaction.client_id == client.id,
        Interaction.contact_id.is_(None), Interaction.contact_name.is_not(None))).all()
    ids = [row.id for row in rows if name_key(row.contact_name) == wanted]
    if ids:
        session.execute(update(Interaction).where(Interaction.id.in_(ids)).values(contact_id=contact.id)
                        .execution_options(synchronize_session=False))
    return ids


def update_contact(session: Session, actor: Actor, client: Client, contact: Contact,
                   changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Sets what is given (`name`, `role`, `peer_user_id`; None clears role and peer); returns
    {field: (old, new)} for what changed (nothing changed: nothing is written)."""
    _check_client(client)
    values = dict(changes)
    if "name" in values:
        values["name"] = _check_name(values["name"] or "")
        _check_unique(session, client, values["name"], other_than=contact)
    if "role" in values:
        values["role"] = _check_role(values["role"])
    changed = {k: v for k, v in values.items() if getattr(contact, k) != v}
    if not changed:
        return {}
    before = audit.snapshot(contact, AUDITED_FIELDS)
    for key, value in changed.items():
        setattr(contact, key, value)
    after = audit.snapshot(contact, AUDITED_FIELDS)
    # Interactions logged `with:` the new name before it was known are linked to them, and said in the event.
    linked = link_earlier(session, client, contact) if "name" in changed else []
    # The name is always kept, changed or not: history says which contact.
    audit.record(session, actor, "contact.update", contact, client_id=client.id,
                 before={"name": before["name"], **{k: before[k] for k in changed}},
                 after={"name": after["name"], **{k: after[k] for k in changed},
                        **({"linked_interactions": linked} if linked else {})})
    return {k: (before[k], after[k]) for k in changed}


def archive_contact(session: Session, actor: Actor, client: Client, contact: Contact) -> Contact:
    _check_client(client)
    before = audit.snapshot(contact, AUDITED_FIELDS)
    contact.archived_at = utcnow()
    contact.archived_by = actor.user_id
    audit.record(session, actor, "contact.archive", contact, client_id=client.id, before=before,
                 after=audit.snapshot(contact, AUDITED_FIELDS))
    return contact


def link_for(session: Session, client: Client, contact_name: str | None) -> tuple[str | None, int | None]:
    """What an interaction `with:` this name records: a known contact's canonical name and id, else the text
    as typed and no id."""
    if contact_name is None:
        return None, None
    contact = find_contact(active_contacts(session, client), contact_name)
    return (contact.name, contact.id) if contact is not None else (contact_name, None)


def days_silent(last: Seen | None, today: dt.date) -> int | None:
    return (today - last.occurred_on).days if last is not None else None
