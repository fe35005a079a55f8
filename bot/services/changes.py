"""Schedule changes: recorded with a reason, announced, open until the client is told."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from bot.db.models import Client, ScheduleChange, utcnow
from bot.errors import USER, UserError
from bot.services import Actor, audit

CHANGE_MISSING = "There is no schedule change #{}. `/cmo changes open` lists the open ones."
AUDITED_FIELDS = ("item", "project", "old_date", "new_date", "reason", "told_at", "told_by", "told_how",
                  "told_text")
MAX_REASON = 2000


@dataclass(frozen=True)
class SlipHistory:
    """The same item's earlier changes: what expectations are managed against."""

    times: int
    total_days: int  # net days moved by the earlier changes whose old date is known


def followup_keys(change_id: int) -> tuple[str, str]:
    """The outbox dedupe keys of a change's nudge and escalation: each is posted once."""
    return f"change:{change_id}:nudge", f"change:{change_id}:escalate"


def client_message_key(change: ScheduleChange) -> str:
    """The outbox key of the owner's message to the client: one per time the change is marked told, so a
    message that failed (and reopened the change) can be sent again."""
    return f"change:{change.id}:to-client:{change.told_at:%Y%m%dT%H%M%S%f}"


def record_change(session: Session, actor: Actor, client: Client, *, item: str, new_date: dt.date, reason: str,
                  today: dt.date, old_date: dt.date | None = None, project: str | None = None) -> ScheduleChange:
    if client.is_archived:
        raise UserError(f"{client.name} is archived; no schedule change can be logged for it.", field="client")
    item, reason = " ".join(item.split()), reason.strip()
    if not item:
        raise UserError("Say what moves: a batch, a lot or a milestone.", field="item")
    if len(item) > 300:  # the columns' limits: a user error, not a database error
        raise UserError("The item can be at most 300 characters.", field="item")
    if project is not None and len(project) > 200:
        raise UserError("`project:` can be at most 200 characters.", field="project")
    if not reason:
        raise UserError("A reason is required: a schedule change is never logged unexplained.", field="reason")
    if len(reason) > MAX_REASON:
        raise UserError(f"The reason is {len(reason):,} characters; keep it under {MAX_REASON:,}.", field="reason")
    if old_date is None:
        previous = _previous(session, client, item)
        old_date = previous.new_date if previous else None
    if old_date == new_date:
        raise UserError(f"`to:` is the same date as `from:` ({new_date:%a %Y-%m-%d}): nothing moves.", field="to")
    if new_date < today:
        raise UserError(f"`to:` is {new_date:%a %Y-%m-%d}, in the past: give the new planned date.", field="to")
    change = ScheduleChange(team_id=actor.team_id, client_id=client.id, item=item, project=project,
                            old_date=old_date, new_date=new_date, reason=reason, logged_by=actor.user_id,
                            surface=actor.surface)
    session.add(change)
    session.flush()
    audit.record(session, actor, "change.record", change, client_id=client.id, before=None,
                 after=audit.snapshot(change, AUDITED_FIELDS))
    return change


def _same_item(client: Client, item: str):
    return (ScheduleChange.team_id == client.team_id, ScheduleChange.client_id == client.id,
            func.lower(ScheduleChange.item) == item.lower())


def _previous(session: Session, client: Client, item: str) -> ScheduleChange | None:
    return session.scalar(select(ScheduleChange).where(*_same_item(client, item))
                          .order_by(ScheduleChange.id.desc()).limit(1))


def slip_history(session: Session, client: Client, change: ScheduleChange) -> SlipHistory:
    earlier = list(session.scalars(select(ScheduleChange).where(*_same_item(client, change.item),
                                                                ScheduleChange.id < change.id)))
    return SlipHistory(len(earlier), sum(c.slip_days for c in earlier if c.slip_days is not None))


def get_change(session: Session, team_id: str, change_id: int) -> ScheduleChange:
    change = session.scalar(select(ScheduleChange).where(ScheduleChange.team_id == team_id,
                                                         ScheduleChange.id == change_id))
    if change is None:
        raise UserError(CHANGE_MISSING.format(change_id), field="change")
    return change


def check_open(change: ScheduleChange) -> None:
    """A UserError saying when and by whom, if the client was told already."""
    if change.told_at is not None:
        how_told = f" ({change.told_how})" if change.told_how else ""
        raise UserError(f"#{change.id} was already marked told on {change.told_at:%Y-%m-%d %H:%M} UTC by "
                        f"{USER}{how_told}.", field="change", user_id=change.told_by)


def mark_told(session: Session, actor: Actor, change: ScheduleChange, *, how: str | None = None,
              text: str | None = None) -> ScheduleChange:
    """Record that the client was told (who, when, how, and the text if it was sent from here)."""
    check_open(change)
    if how is not None and len(how) > 500:
        raise UserError("`how:` can be at most 500 characters.", field="how")
    before = audit.snapshot(change, AUDITED_FIELDS)
    # Only while still open, in one statement: two people pressing "Mark client told" at once (or a
    # double click) tell it once; the later one gets "already told" (the row is re-read to say by whom).
    claimed = session.execute(
        update(ScheduleChange).where(ScheduleChange.id == change.id, ScheduleChange.told_at.is_(None))
        .values(told_at=utcnow(), told_by=actor.user_id, told_how=(how.strip() or None) if how else None,
                told_text=text)
        .execution_options(synchronize_session=False)).rowcount
    session.refresh(change)
    if not claimed:
        check_open(change)
    audit.record(session, actor, "change.told", change, client_id=change.client_id, before=before,
                 after=audit.snapshot(change, AUDITED_FIELDS))
    return change


def list_changes(session: Session, team_id: str, *, client: Client | None = None, open_only: bool = False,
                 limit: int = 30) -> list[ScheduleChange]:
    """Newest first."""
    params = {"team_id": team_id, "limit": limit} | ({"client_id": client.id} if client is not None else {})
    return list(session.scalars(_list_query(client is not None, open_only), params))


@functools.cache
def _list_query(of_client: bool, open_only: bool) -> Select:
    # Built once per shape (a client's status asks on every request), bound at execution.
    query = select(ScheduleChange).where(ScheduleChange.team_id == bindparam("team_id"))
    if of_client:
        query = query.where(ScheduleChange.client_id == bindparam("client_id"))
    if open_only:
        query = query.where(ScheduleChange.told_at.is_(None))
    return query.order_by(ScheduleChange.id.desc()).limit(bindparam("limit"))


def open_changes_by_client(session: Session, team_id: str) -> dict[int, list[ScheduleChange]]:
    """The changes not yet told, per client, oldest first (one query, for the portfolio and the jobs)."""
    found: dict[int, list[ScheduleChange]] = {}
    for change in session.scalars(select(ScheduleChange).where(ScheduleChange.team_id == team_id,
                                                               ScheduleChange.told_at.is_(None))
                                  .order_by(ScheduleChange.id)):
        found.setdefault(change.client_id, []).append(change)
    return found


def reopen(session: Session, actor: Actor, change: ScheduleChange) -> ScheduleChange:
    """The client was not told after all (the message to the client could not be posted): open again."""
    before = audit.snapshot(change, AUDITED_FIELDS)
    change.told_at = change.told_by = change.told_how = change.told_text = None
    audit.record(session, actor, "change.reopen", change, client_id=change.client_id, before=before,
                 after=audit.snapshot(change, AUDITED_FIELDS))
    return change
