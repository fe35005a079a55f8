"""Status's peer coverage: each contact, our peer, their last contact; and a call-out when no one at executive
level was spoken to in the last quarter. One query: the contacts with their latest interactions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.blocks import text as t
from bot.blocks.contacts import AMBER, GREEN, role_text
from bot.brief import Found, Scope, Section
from bot.db.models import Contact
from bot.services import contacts as contact_service
from bot.services.contacts import Seen

NO_EXECUTIVE = (f":warning: *No contact at executive level in the last quarter* "
                f"({contact_service.EXECUTIVE_QUARTER_DAYS} days)")


@dataclass(frozen=True)
class Coverage:
    contact: Contact
    last: Seen | None  # with our peer (no peer named: with anyone)
    stale: bool


@dataclass(frozen=True)
class CallOut:
    text: str  # mrkdwn


def _today(scope: Scope) -> dt.date:
    return scope.now.astimezone(scope.zone).date()


def collect(session: Session, scope: Scope, limit: int) -> Found:
    client = scope.client
    contacts, latest = contact_service.contacts_with_last(session, client)
    if not contacts:
        return Found([], 0)
    today = _today(scope)
    rows = []
    for contact in contacts:
        last = latest[contact.id].peer
        silent = contact_service.days_silent(last, today)
        rows.append(Coverage(contact, last, silent is None or silent > client.cadence_days))
    rows.sort(key=lambda row: not row.stale)  # the pairs gone silent first (stable: by name within)
    executives = [c for c in contacts if contact_service.is_executive(c.role)]
    since = today - dt.timedelta(days=contact_service.EXECUTIVE_QUARTER_DAYS)
    spoken = any(latest[c.id].any is not None and latest[c.id].any.occurred_on >= since for c in executives)
    if spoken:
        return Found(rows, len(rows))
    named = [f"*{t.user_text(c.name, 80)}*" for c in executives[:3]] + (["others"] if len(executives) > 3 else [])
    if not executives:
        why = "no executive among the contacts: add one with a role like CEO, VP or head of site"
    elif len(named) == 1:
        why = f"{named[0]} was not spoken to"
    else:
        why = "none of " + ", ".join(named[:-1]) + f" or {named[-1]} was spoken to"
    # The call-out always shows: the contacts make room for it.
    return Found([*rows[:max(0, limit - 1)], CallOut(f"{NO_EXECUTIVE}: {why}.")], len(rows) + 1)


def line(item: Coverage | CallOut, scope: Scope) -> str:
    if isinstance(item, CallOut):
        return item.text
    contact, last = item.contact, item.last
    icon = AMBER if item.stale else GREEN
    who = f"our peer {t.user(contact.peer_user_id)}" if contact.peer_user_id else "no peer named"
    head = f"{icon} *{t.user_text(contact.name, 100)}* ({role_text(contact.role)}) — {who} — "
    if last is None:
        return head + ("no contact between them logged yet" if contact.peer_user_id else "no contact logged yet")
    by = "" if contact.peer_user_id else f" by {t.user(last.logged_by)}"
    return (head + f"last contact {t.day(last.occurred_on)} ({last.kind}{by}, "
            f"{t.days_ago(last.occurred_on, _today(scope))})")


STATUS_SECTION = Section(key="peers", title=lambda scope: "Peer coverage", collect=collect, line=line,
                         empty="No contacts recorded: add the client's people, an executive among them, with "
                               "`/cmo contact add`.")
SECTION = STATUS_SECTION
