"""The brief's open promises (and status's): overdue first, then by due date."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.blocks import text as t
from bot.brief import Found, Scope, Section
from bot.db.models import Promise
from bot.services import promises as promise_service


def collect(session: Session, scope: Scope, limit: int) -> Found:
    client = scope.client
    known = scope.open_promises
    if known is not None and len(known) < promise_service.LIST_LIMIT:  # all of them: nothing to ask
        return Found(known[:limit], len(known))
    # Due dates ascending puts the overdue ones (due before today) first already.
    items = promise_service.list_promises(session, client.team_id, client_id=client.id, limit=limit)
    if len(items) < limit:
        return Found(items, len(items))
    total = session.scalar(select(func.count(Promise.id)).where(
        Promise.team_id == client.team_id, Promise.client_id == client.id, Promise.done_at.is_(None)))
    return Found(items, total)


def line(promise: Promise, scope: Scope) -> str:
    today = scope.now.astimezone(scope.zone).date()
    days = (today - promise.due_on).days
    late = f" · :warning: overdue {days} day{'s' if days != 1 else ''}" if days > 0 else ""
    return (f"`#{promise.id}` {t.user_text(promise.what, 200)} — due {t.day(promise.due_on)} · owner "
            f"{t.user(promise.owner_user_id)}{late}")


def title(scope: Scope) -> str:
    return "Open promises"


SECTION = Section(key="promises", title=title, collect=collect, line=line, empty="No open promise.")
