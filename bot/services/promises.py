"""Promises: what we committed to a client, by a date; open until someone records it done. A move of the due
date is kept with its reason (a PromiseMove), like a schedule change."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable

from sqlalchemy import Row, Select, bindparam, select, update
from sqlalchemy.orm import Session

from bot.db.core import connection
from bot.db.models import Client, Promise, PromiseMove, utcnow
from bot.errors import USER, UserError
from bot.services import Actor, audit, outbox

PROMISE_MISSING = "There is no promise #{}. `/cmo promises` lists the open ones."
AUDITED_FIELDS = ("what", "due_on", "owner_user_id", "done_at", "done_by", "done_note")
MAX_WHAT = 500
MAX_NOTE = 500
MAX_REASON = 2000


def reminder_keys(promise_id: int, due_on: dt.date) -> tuple[str, str, str]:
    """The outbox dedupe keys of a promise's reminder, nudge and escalation for one due date: a move of the
    due date starts afresh."""
    return (f"promise:{promise_id}:due:{due_on}", f"promise:{promise_id}:overdue:{due_on}",
            f"promise:{promise_id}:escalate:{due_on}")


def _withdraw_reminders(session: Session, promise: Promise, due_on: dt.date) -> None:
    """Its reminder, nudge and escalation for that due date, queued but not posted yet: never posted."""
    outbox.cancel_pending(session, promise.team_id, list(reminder_keys(promise.id, due_on)))


def _check_due(due_on: dt.date, today: dt.date, option: str) -> None:
    if due_on < today:
        raise UserError(f"`{option}:` is {due_on:%a %Y-%m-%d}, in the past: a promise is due today or later.",
                        field=option)


def add_promise(session: Session, actor: Actor, client: Client, *, what: str, due_on: dt.date, today: dt.date,
                owner_user_id: str | None = None) -> Promise:
    if client.is_archived:
        raise UserError(f"{client.name} is archived; no promise can be recorded for it.", field="client")
    what = " ".join((what or "").split())
    if not what:
        raise UserError('Say what was promised, in quotes: "Send the CoA for lot 42".', field="what")
    if len(what) > MAX_WHAT:
        raise UserError(f"What was promised is {len(what):,} characters; keep it under {MAX_WHAT}.", field="what")
    _check_due(due_on, today, "due")
    promise = Promise(team_id=actor.team_id, client_id=client.id, what=what, due_on=due_on,
                      owner_user_id=owner_user_id or actor.user_id, created_by=actor.user_id, surface=actor.surface)
    session.add(promise)
    session.flush()
    audit.record(session, actor, "promise.add", promise, client_id=client.id, before=None,
                 after=audit.snapshot(promise, AUDITED_FIELDS))
    return promise


def get_promise(session: Session, team_id: str, promise_id: int) -> Promise:
    promise = session.scalar(select(Promise).where(Promise.team_id == team_id, Promise.id == promise_id))
    if promise is None:
        raise UserError(PROMISE_MISSING.format(promise_id), field="promise")
    return promise


def check_open(promise: Promise) -> None:
    """A UserError saying when and by whom, if the promise is done already."""
    if promise.done_at is not None:
        raise UserError(f"#{promise.id} was already marked done on {promise.done_at:%Y-%m-%d %H:%M} UTC by {USER}.",
                        field="promise", user_id=promise.done_by)


def mark_done(session: Session, actor: Actor, promise: Promise, *, note: str | None = None) -> Promise:
    """Record the promise kept (who, when, a note). Two presses at once: one wins, the other is told."""
    check_open(promise)
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise UserError(f"`note:` can be at most {MAX_NOTE} characters.", field="note")
    before = audit.snapshot(promise, AUDITED_FIELDS)
    claimed = session.execute(
        update(Promise).where(Promise.id == promise.id, Promise.done_at.is_(None))
        .values(done_at=utcnow(), done_by=actor.user_id, done_note=note)
        .execution_options(synchronize_session=False)).rowcount
    session.refresh(promise)
    if not claimed:
        check_open(promise)
    _withdraw_reminders(session, promise, promise.due_on)
    audit.record(session, actor, "promise.done", promise, client_id=promise.client_id, before=before,
                 after=audit.snapshot(promise, AUDITED_FIELDS))
    return promise


def move_promise(session: Session, actor: Actor, promise: Promise, *, new_due_on: dt.date, reason: str,
                 today: dt.date) -> PromiseMove:
    check_open(promise)
    reason = (reason or "").strip()
    if not reason:
        raise UserError('A reason is required: a promise never moves unexplained. Add reason:"<why>".',
                        field="reason")
    if len(reason) > MAX_REASON:
        raise UserError(f"The reason is {len(reason):,} characters; keep it under {MAX_REASON:,}.", field="reason")
    if new_due_on == promise.due_on:
        raise UserError(f"#{promise.id} is already due {new_due_on:%a %Y-%m-%d}: nothing moves.", field="to")
    _check_due(new_due_on, today, "to")
    before = audit.snapshot(promise, AUDITED_FIELDS)
    move = PromiseMove(team_id=actor.team_id, promise_id=promise.id, old_due_on=promise.due_on,
                       new_due_on=new_due_on, reason=reason, moved_by=actor.user_id, surface=actor.surface)
    session.add(move)
    _withdraw_reminders(session, promise, promise.due_on)  # those of the old due date no longer apply
    promise.due_on = new_due_on
    session.flush()
    audit.record(session, actor, "promise.move", promise, client_id=promise.client_id, before=before,
                 after={**audit.snapshot(promise, AUDITED_FIELDS), "move_reason": reason})
    return move


LIST_LIMIT = 100  # open promises listed at once


def list_promises(session: Session, team_id: str, *, client_id: int | None = None, owner_user_id: str | None = None,
                  due_before: dt.date | None = None, limit: int = LIST_LIMIT) -> list[Row]:
    """Open promises, soonest due first (at most `limit`): rows with a Promise's fields, to read (a client's
    status lists them on every request; nothing is changed through them)."""
    filters = {"client_id": client_id, "owner_user_id": owner_user_id, "due_before": due_before}
    given = {name: value for name, value in filters.items() if value is not None}
    return connection(session).execute(_list_query(frozenset(given)),
                                       {"team_id": team_id, "limit": limit, **given}).all()


@functools.cache
def _list_query(filters: frozenset[str]) -> Select:
    # Built once per set of filters (a client's status asks on every request), bound at execution.
    query = select(Promise.__table__).where(Promise.team_id == bindparam("team_id"), Promise.done_at.is_(None))
    if "client_id" in filters:
        query = query.where(Promise.client_id == bindparam("client_id"))
    if "owner_user_id" in filters:
        query = query.where(Promise.owner_user_id == bindparam("owner_user_id"))
    if "due_before" in filters:
        query = query.where(Promise.due_on < bindparam("due_before", type_=Promise.due_on.type))
    return query.order_by(Promise.due_on, Promise.id).limit(bindparam("limit"))


def open_by_client(session: Session, team_id: str) -> dict[int, list[Promise]]:
    """Every open promise, per client, soonest due first (one query, for the jobs)."""
    found: dict[int, list[Promise]] = {}
    for promise in session.scalars(select(Promise).where(Promise.team_id == team_id, Promise.done_at.is_(None))
                                   .order_by(Promise.due_on, Promise.id)):
        found.setdefault(promise.client_id, []).append(promise)
    return found


def overdue_by_client(session: Session, team_id: str, todays: dict[int, dt.date]) -> dict[int, list[Promise]]:
    """The open promises due before today (each client's own today, `todays` by client id), per client,
    oldest due first: one query for the whole portfolio."""
    if not todays:
        return {}
    found: dict[int, list[Promise]] = {}
    query = select(Promise).where(Promise.team_id == team_id, Promise.done_at.is_(None),
                                  Promise.due_on < max(todays.values()))
    for promise in session.scalars(query.order_by(Promise.due_on, Promise.id)):
        today = todays.get(promise.client_id)
        if today is not None and promise.due_on < today:
            found.setdefault(promise.client_id, []).append(promise)
    return found


def moves_of(session: Session, promise_ids: Iterable[int]) -> dict[int, list[PromiseMove]]:
    """Each promise's moves, oldest first."""
    ids = list(set(promise_ids))
    found: dict[int, list[PromiseMove]] = {}
    if not ids:
        return found
    for move in session.scalars(select(PromiseMove).where(PromiseMove.promise_id.in_(ids))
                                .order_by(PromiseMove.id)):
        found.setdefault(move.promise_id, []).append(move)
    return found


def days_overdue(promise: Promise, today: dt.date) -> int:
    return max(0, (today - promise.due_on).days)
