"""Clients: add, find, change, archive. Archived clients are kept, never deleted."""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
from collections.abc import Iterable

from sqlalchemy import Select, bindparam, func, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from bot.db.batches import batches
from bot.db.models import AlertKind, Client, utcnow
from bot.errors import UserError
from bot.services import Actor, audit, meetings, nudges

DEFAULT_CADENCE_DAYS = 14
AUDITED_FIELDS = ("key", "name", "owner_user_id", "internal_channel_id", "shared_channel_id",
                  "cadence_days", "timezone", "country", "snoozed_until", "archived_at")
SETTABLE_FIELDS = ("owner_user_id", "internal_channel_id", "shared_channel_id", "cadence_days", "timezone",
                   "country")
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
# The unique indexes of migration 0004: a key in its workspace, ignoring case; an active client's name too.
KEY_INDEX, NAME_INDEX = "uq_clients_team_key", "uq_clients_team_active_name"
_SQLITE_UNIQUE_INDEX = re.compile(r"UNIQUE constraint failed: index '(\w+)'")


def key_from_name(name: str) -> str:
    """`Acme Biologics GmbH` -> `acme-biologics-gmbh` (at most 40 characters)."""
    key = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].rstrip("-")
    return key or "client"


def check_key(key: str) -> str:
    key = key.strip().lower()
    if not _KEY.match(key):
        raise UserError(f"`{key}` can't be a key: use letters, digits and dashes, up to 40 characters, "
                        "like `acme`.", field="key")
    return key


def add_client(
    session: Session,
    actor: Actor,
    name: str,
    *,
    key: str | None = None,
    owner_user_id: str | None = None,
    internal_channel_id: str | None = None,
    cadence_days: int | None = None,
    timezone: str | None = None,
    country: str | None = None,
) -> Client:
    name = " ".join(name.split())
    if len(name) > 200:
        raise UserError("A client's name can be at most 200 characters.", field="name")
    key = check_key(key) if key else key_from_name(name)
    # The friendly checks first; the database's unique indexes decide when two adds race past them.
    _refuse_taken(session, actor.team_id, key=key, name=name)
    client = Client(
        team_id=actor.team_id,
        key=key,
        name=name,
        owner_user_id=owner_user_id,
        internal_channel_id=internal_channel_id,
        cadence_days=cadence_days or DEFAULT_CADENCE_DAYS,
        timezone=timezone,
        country=country,
        created_by=actor.user_id,
    )
    _check_not_shared_elsewhere(session, client, {"internal_channel_id": internal_channel_id})
    try:
        with _savepoint(session):
            session.add(client)
            session.flush()
    except IntegrityError as error:
        index = _violated_unique_index(error)
        if index is None:
            raise
        # Only the savepoint was rolled back: the session is usable, and now sees the row that won.
        _refuse_taken(session, actor.team_id, key=key if index == KEY_INDEX else None,
                      name=name if index == NAME_INDEX else None)
        if index == KEY_INDEX:
            raise UserError(f"The key `{key}` was just taken by another client. Choose another with `key:`.",
                            field="key") from error
        raise UserError(f"A client named {name} was just added by someone else.", field="name") from error
    audit.record(session, actor, "client.add", client, client_id=client.id, before=None,
                 after=audit.snapshot(client, AUDITED_FIELDS))
    return client


def _refuse_taken(session: Session, team_id: str, *, key: str | None, name: str | None) -> None:
    """A UserError naming the client that already has this key (for good) or this name (among the active)."""
    if key is not None:
        taken = session.scalar(select(Client).where(Client.team_id == team_id,
                                                    func.lower(Client.key) == func.lower(key)))
        if taken is not None:
            archived = " (archived)" if taken.is_archived else ""
            raise UserError(f"The key `{key}` is already used by {taken.name}{archived}. "
                            "Choose another with `key:`.", field="key")
    if name is not None:
        # lower() on both sides, as the unique index compares them (Python's str.lower() is not SQL's).
        same_name = session.scalar(
            select(Client).where(Client.team_id == team_id, Client.archived_at.is_(None),
                                 func.lower(Client.name) == func.lower(name))
        )
        if same_name is not None:
            raise UserError(f"There is already a client named {same_name.name} (key `{same_name.key}`).",
                            field="name")


def _savepoint(session: Session) -> SessionTransaction:
    """A SAVEPOINT inside the session's transaction: a failed INSERT undoes itself, not the whole session."""
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not getattr(connection.connection.dbapi_connection,
                                                           "in_transaction", True):
        # pysqlite (legacy transaction control) emits its BEGIN only before INSERT/UPDATE/DELETE. After mere
        # SELECTs, the SAVEPOINT itself would open the transaction, and releasing it would COMMIT then and
        # there: the row would stay even if the session's transaction rolled back.
        connection.exec_driver_sql("BEGIN")
    return session.begin_nested()


def _violated_unique_index(error: IntegrityError) -> str | None:
    """Which of the clients' unique indexes refused the row, as the driver reports it; None if neither."""
    diag = getattr(error.orig, "diag", None)  # psycopg
    name = getattr(diag, "constraint_name", None)
    if name is None:
        found = _SQLITE_UNIQUE_INDEX.search(str(error.orig))
        name = found.group(1) if found else None
    return name if name in (KEY_INDEX, NAME_INDEX) else None


def list_clients(session: Session, team_id: str, *, owner_user_id: str | None = None,
                 include_archived: bool = False) -> list[Client]:
    query = select(Client).where(Client.team_id == team_id)
    if not include_archived:
        query = query.where(Client.archived_at.is_(None))
    if owner_user_id is not None:
        query = query.where(Client.owner_user_id == owner_user_id)
    return list(session.scalars(query.order_by(func.lower(Client.name))))


def clients_by_id(session: Session, team_id: str, client_ids: Iterable[int]) -> dict[int, Client]:
    """The workspace's clients with these ids, a few hundred a query (a job about many clients: not one
    query each)."""
    found: dict[int, Client] = {}
    for batch in batches(client_ids):
        found.update((c.id, c) for c in session.scalars(select(Client).where(Client.team_id == team_id,
                                                                            Client.id.in_(batch))))
    return found


def resolve_client(session: Session, team_id: str, reference: str, *, allow_archived: bool = False) -> Client:
    """A client by key, name, or an unambiguous prefix of either, ignoring case.

    Unknown or ambiguous: a UserError that lists the close candidates.
    """
    wanted = " ".join(reference.split()).lower()
    if not wanted:
        raise UserError("Say which client: its key or name.", field="client")
    found = _matching_in_sql(session, team_id, wanted, allow_archived=allow_archived)
    if found is not None:
        return found
    # Not one clear match by the indexes: the whole list decides (ambiguity, archived, close candidates, and
    # letters SQL's lower() does not fold): only on this path are all of the workspace's clients read.
    clients = list(session.scalars(select(Client).where(Client.team_id == team_id)))
    active = [c for c in clients if not c.is_archived]
    pool = clients if allow_archived else active

    exact = [c for c in pool if wanted in (c.key.lower(), c.name.lower())]
    if len(exact) == 1:
        return exact[0]
    # The exact key or name of an archived client means that client, not another one it is a prefix of.
    archived = [c for c in clients if c.is_archived and wanted in (c.key.lower(), c.name.lower())]
    if archived and not exact:
        client = archived[0]
        raise UserError(f"{client.name} (`{client.key}`) is archived since "
                        f"{client.archived_at:%Y-%m-%d}.", field="client")
    prefixed = exact or [c for c in pool if c.key.lower().startswith(wanted) or c.name.lower().startswith(wanted)]
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        raise UserError(f"`{reference}` could be {_names(prefixed)}. Say which with its key.", field="client")

    by_text = {c.key.lower(): c for c in active} | {c.name.lower(): c for c in active}
    close = difflib.get_close_matches(wanted, list(by_text), n=5, cutoff=0.5)
    candidates = list(dict.fromkeys(by_text[text] for text in close))
    if candidates:
        raise UserError(f"No client matches `{reference}`. Did you mean {_names(candidates)}?", field="client")
    if active:
        raise UserError(f"No client matches `{reference}`. Clients: {_names(active[:10])}"
                        + (" and more (`/cmo client list`)." if len(active) > 10 else "."), field="client")
    raise UserError(f"No client matches `{reference}`: there are no clients yet. "
                    "Add one with `/cmo client add <name>`.", field="client")


# Every command naming a client asks these: built once, bound at execution (team_id, wanted, pattern).
@functools.cache
def _exactly_query() -> Select:
    # Two index lookups (by key; by name among the active, as uq_clients_team_active_name is partial), not
    # an OR that the planner answers by walking all of the workspace's clients. An archived client named
    # exactly is left to resolve_client's slower path, which says it is archived.
    team_id, wanted = bindparam("team_id"), bindparam("wanted")
    by_key = select(Client.id).where(Client.team_id == team_id, func.lower(Client.key) == wanted)
    by_name = select(Client.id).where(Client.team_id == team_id, func.lower(Client.name) == wanted,
                                      Client.archived_at.is_(None))
    return select(Client).where(Client.id.in_(union(by_key, by_name)))


@functools.cache
def _prefixed_query(allow_archived: bool) -> Select:
    pattern = bindparam("pattern")
    query = select(Client).where(Client.team_id == bindparam("team_id"),
                                 or_(func.lower(Client.key).like(pattern, escape="\\"),
                                     func.lower(Client.name).like(pattern, escape="\\")))
    if not allow_archived:
        query = query.where(Client.archived_at.is_(None))
    return query.limit(2)


def _matching_in_sql(session: Session, team_id: str, wanted: str, *, allow_archived: bool) -> Client | None:
    """The one client whose key or name is `wanted` (the unique indexes answer), else the one whose key or name
    starts with it; None when that is not exactly one."""
    exact = list(session.scalars(_exactly_query(), {"team_id": team_id, "wanted": wanted}))
    if exact:
        active = [c for c in exact if not c.is_archived]
        chosen = exact if allow_archived else active
        return chosen[0] if len(chosen) == 1 and len(exact) == len(chosen) else None
    pattern = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    prefixed = list(session.scalars(_prefixed_query(allow_archived), {"team_id": team_id, "pattern": pattern}))
    return prefixed[0] if len(prefixed) == 1 else None


def _names(clients: list[Client]) -> str:
    shown = [f"{c.name} (`{c.key}`)" for c in clients]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def update_client(session: Session, actor: Actor, client: Client, changes: dict) -> dict[str, tuple]:
    """Apply the changes; returns {field: (before, after)} for what really changed."""
    if client.is_archived:
        raise UserError(f"{client.name} is archived; it can't be changed.", field="client")
    unknown = set(changes) - set(SETTABLE_FIELDS)
    if unknown:
        raise ValueError(f"not settable: {sorted(unknown)}")
    internal = changes.get("internal_channel_id", client.internal_channel_id)
    shared = changes.get("shared_channel_id", client.shared_channel_id)
    if internal and internal == shared:
        raise UserError("The internal channel and the shared channel must differ: the internal channel is never "
                        "shared with the client.", field="shared" if "shared_channel_id" in changes else "channel")
    _check_not_shared_elsewhere(session, client, changes)
    before = audit.snapshot(client, AUDITED_FIELDS)
    changed = {name: (getattr(client, name), value) for name, value in changes.items()
               if getattr(client, name) != value}
    if not changed:
        return {}
    for name, (_, value) in changed.items():
        setattr(client, name, value)
    client.updated_at = utcnow()
    audit.record(session, actor, "client.update", client, client_id=client.id, before=before,
                 after=audit.snapshot(client, AUDITED_FIELDS))
    return changed


def _check_not_shared_elsewhere(session: Session, client: Client, changes: dict) -> None:
    """A channel shared with one client is never another client's internal channel, and vice versa."""
    others = select(Client).where(Client.team_id == client.team_id, Client.id != client.id)
    if changes.get("internal_channel_id"):
        other = session.scalar(others.where(Client.shared_channel_id == changes["internal_channel_id"]).limit(1))
        if other is not None:
            raise UserError(f"That channel is shared with {other.name}: it can't be an internal channel.",
                            field="channel")
    if changes.get("shared_channel_id"):
        other = session.scalar(others.where(Client.internal_channel_id == changes["shared_channel_id"]).limit(1))
        if other is not None:
            raise UserError(f"That channel is {other.name}'s internal channel: it can't be shared with a client.",
                            field="shared")


def archive_client(session: Session, actor: Actor, client: Client) -> Client:
    if client.is_archived:
        raise UserError(f"{client.name} is already archived.", field="client")
    before = audit.snapshot(client, AUDITED_FIELDS)
    client.archived_at = utcnow()
    client.archived_by = actor.user_id
    audit.record(session, actor, "client.archive", client, client_id=client.id, before=before,
                 after=audit.snapshot(client, AUDITED_FIELDS))
    meetings.withdraw_queued(session, client)  # its meetings' reminders and prompts not posted yet
    return client


def get_client(session: Session, team_id: str, client_id: int) -> Client:
    """An active client by id (a button's value): a UserError if it is gone or archived."""
    client = session.scalar(select(Client).where(Client.team_id == team_id, Client.id == client_id))
    if client is None:
        raise UserError("That client is no longer in Rapport.", field="client")
    if client.is_archived:
        raise UserError(f"{client.name} (`{client.key}`) was archived on {client.archived_at:%Y-%m-%d}: nothing "
                        "more is logged or nudged for it.", field="client")
    return client


def snooze(session: Session, actor: Actor, client: Client, until: dt.date | None) -> bool:
    """No stale-contact nudges for the client before `until` (None: end the snooze). False, and nothing
    written, if that is how it stands already."""
    if client.is_archived:
        raise UserError(f"{client.name} is archived; it is never nudged.", field="client")
    before = audit.snapshot(client, AUDITED_FIELDS)
    # Decided by the database, not by what this session read: of two presses at once, one writes.
    changed = session.execute(
        update(Client).where(Client.id == client.id, Client.snoozed_until.is_distinct_from(until))
        .values(snoozed_until=until, updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    session.refresh(client)
    if not changed:
        return False
    audit.record(session, actor, "client.snooze", client, client_id=client.id, before=before,
                 after=audit.snapshot(client, AUDITED_FIELDS))
    if until is not None:  # a nudge queued but not posted yet waits for the snooze like the rest
        nudges.withdraw(session, client, [AlertKind.NUDGE])
    return True


def has_clients(session: Session, team_id: str) -> bool:
    return session.scalar(select(Client.id).where(Client.team_id == team_id, Client.archived_at.is_(None))
                          .limit(1)) is not None


def client_of_channel(session: Session, team_id: str, channel_id: str) -> Client | None:
    """The active client whose internal or shared channel this is, if exactly one."""
    found = list(session.scalars(select(Client).where(
        Client.team_id == team_id, Client.archived_at.is_(None),
        (Client.internal_channel_id == channel_id) | (Client.shared_channel_id == channel_id)).limit(2)))
    return found[0] if len(found) == 1 else None


def search_clients(session: Session, team_id: str, query: str, *, limit: int = 100) -> list[Client]:
    """Active clients whose key or name contains `query` (any case): those starting with it first, then by name."""
    wanted = " ".join(query.split()).lower()
    key, name = func.lower(Client.key), func.lower(Client.name)
    starts = key.startswith(wanted, autoescape=True) | name.startswith(wanted, autoescape=True)
    return list(session.scalars(
        select(Client).where(Client.team_id == team_id, Client.archived_at.is_(None),
                             key.contains(wanted, autoescape=True) | name.contains(wanted, autoescape=True))
        .order_by(starts.desc(), name).limit(limit)))
