"""The outbox: every message the bot posts on its own is a row here, queued in the same transaction
as the change that caused it, with a dedupe key chosen by the caller. Queuing a key twice queues once."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable

from sqlalchemy import Select, Update, bindparam, select, update
from sqlalchemy.orm import Session

from bot.blocks import Message
from bot.db.batches import batches
from bot.db.core import connection
from bot.db.insert import insert_ignoring_duplicates
from bot.db.models import Client, OutboxMessage, OutboxStatus, utcnow
from bot.errors import UserError
from bot.parsing.tokens import SLACK_USER_ID


class SharedChannelRefused(ValueError):
    """Internal content addressed to a channel the client shares with us: never posted."""


QUEUED = "outbox_queued"  # session.info flag: this transaction queued a message; deliver after the commit
CLIENT_MESSAGE = "client-message"  # the one source that posts to a client's shared channel


def enqueue(session: Session, *, team_id: str, dedupe_key: str, channel_id: str, message: Message,
            source: str, not_before: dt.datetime | None = None, expires_at: dt.datetime | None = None) -> bool:
    """Queue a message unless one with this dedupe key was queued before. True if queued now.

    A message with `expires_at` is withdrawn, never posted, if it could not be posted before then.

    Only a client-message (the owner's explicit "send to client") may go to a client's shared channel,
    and it may go nowhere else."""
    # A user's id (a direct message) is never a channel shared with a client (channels are C… or G…, as every
    # way in checks): the owner's direct message after each logged contact does not ask the database.
    shared = None if SLACK_USER_ID.match(channel_id) else connection(session).scalar(
        _shared_channel_query(), {"team_id": team_id, "channel_id": channel_id})
    if source == CLIENT_MESSAGE and shared is None:
        raise SharedChannelRefused(f"{channel_id} is not a client's shared channel; a client message goes "
                                   "only there")
    if source != CLIENT_MESSAGE and shared is not None:
        raise SharedChannelRefused(f"{channel_id} is a channel shared with a client; {source} posts only "
                                   "to internal channels")
    kwargs = message.as_kwargs()
    now = utcnow()
    queued = insert_ignoring_duplicates(session, OutboxMessage.__table__, {
        "team_id": team_id, "dedupe_key": dedupe_key, "channel_id": channel_id, "text": kwargs["text"],
        "blocks": kwargs["blocks"] or None, "source": source, "status": OutboxStatus.PENDING, "attempts": 0,
        "next_attempt_at": not_before or now, "created_at": now, "expires_at": expires_at,
    }, ["team_id", "dedupe_key"])
    if queued:
        session.info[QUEUED] = True
    return queued


@functools.cache
def _shared_channel_query() -> Select:
    # Every message queued asks it: built once, bound at execution.
    return select(Client.id).where(Client.team_id == bindparam("team_id"),
                                   Client.shared_channel_id == bindparam("channel_id")).limit(1)


WITHDRAWN = {"status": OutboxStatus.CANCELLED, "error": "withdrawn: no longer applies", "claimed_by": None,
             "lease_until": None}
# A message left "sending" after Slack failed to answer is withdrawn too: else it would be retried, and posted.
STILL_QUEUED = (OutboxStatus.PENDING, OutboxStatus.SENDING)


def cancel_pending(session: Session, team_id: str, dedupe_keys: list[str]) -> int:
    """Withdraw queued messages that no longer apply (a reminder about something already done)."""
    return session.execute(
        update(OutboxMessage).where(OutboxMessage.team_id == team_id, OutboxMessage.status.in_(STILL_QUEUED),
                                    OutboxMessage.dedupe_key.in_(dedupe_keys))
        .values(**WITHDRAWN)
    ).rowcount


def withdrawing(keys: Select) -> Update:
    """The statement that withdraws the queued messages whose keys `keys` selects (bound by "of_team"; an
    UPDATE's bound names must not be its columns'), as Core: for a hot path that holds no outbox object in its
    session."""
    return (update(OutboxMessage.__table__)
            .where(OutboxMessage.team_id == bindparam("of_team"), OutboxMessage.status.in_(STILL_QUEUED),
                   OutboxMessage.dedupe_key.in_(keys))
            .values(**WITHDRAWN))


def cancel_pending_prefixed(session: Session, team_id: str, prefix: str, *, suffix: str = "") -> int:
    """`cancel_pending` for every key that starts with `prefix` (and ends with `suffix`): all of a record's
    messages. The prefix is made of ids and dates, never of user text, so it holds no LIKE wildcard."""
    if any(char in prefix + suffix for char in "%_\\"):
        raise ValueError(f"a key prefix with a LIKE wildcard: {prefix!r}")
    return session.execute(
        update(OutboxMessage).where(OutboxMessage.team_id == team_id, OutboxMessage.status.in_(STILL_QUEUED),
                                    OutboxMessage.dedupe_key.like(f"{prefix}%{suffix}"))
        .values(**WITHDRAWN)
    ).rowcount


def queued_keys(session: Session, team_id: str, dedupe_keys: Iterable[str]) -> set[str]:
    """Which of these keys were queued before (whatever became of the message since)."""
    found: set[str] = set()
    for batch in batches(dedupe_keys):
        found.update(session.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.team_id == team_id, OutboxMessage.dedupe_key.in_(batch))))
    return found


def undelivered(session: Session, limit: int = 200) -> list[OutboxMessage]:
    """Pending, sending and failed rows, oldest first: what `rapport outbox` shows."""
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING,
                                                              OutboxStatus.FAILED)))
        .order_by(OutboxMessage.id).limit(limit)
    ))


def retry(session: Session, outbox_id: int) -> OutboxMessage:
    """Queue a failed message again, at once."""
    row = session.get(OutboxMessage, outbox_id)
    if row is None:
        raise UserError(f"There is no outbox message #{outbox_id}.")
    if row.status != OutboxStatus.FAILED:
        raise UserError(f"Outbox message #{outbox_id} is {row.status}, not failed: nothing to retry.")
    row.status, row.attempts, row.error, row.claimed_at = OutboxStatus.PENDING, 0, None, None
    row.claimed_by, row.lease_until = None, None  # a fresh start: nobody's claim
    row.next_attempt_at = utcnow()
    return row
