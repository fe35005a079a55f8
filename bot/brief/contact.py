"""The brief's contact since the previous meeting: who talked to the client, how, and the gist."""

from __future__ import annotations

import functools

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from bot.blocks import text as t
from bot.blocks.replies import KIND_ICON
from bot.brief import Found, Scope, Section, page
from bot.db.models import Interaction


@functools.cache
def _queries(with_since: bool) -> tuple[Select, Select]:
    """(the latest interactions; how many there are): built once per shape (every meeting reminder asks),
    bound at execution (team_id, client_id, since, limit)."""
    query = select(Interaction).where(Interaction.team_id == bindparam("team_id"),
                                      Interaction.client_id == bindparam("client_id"))
    if with_since:
        query = query.where(Interaction.occurred_on >= bindparam("since", type_=Interaction.occurred_on.type))
    return (query.order_by(Interaction.occurred_on.desc(), Interaction.id.desc()).limit(bindparam("limit")),
            select(func.count()).select_from(query.subquery()))


def collect(session: Session, scope: Scope, limit: int) -> Found:
    since = scope.since_day
    items_query, count_query = _queries(since is not None)
    params = {"team_id": scope.client.team_id, "client_id": scope.client.id, "limit": limit,
              **({"since": since} if since is not None else {})}
    return page(session, items_query, count_query, params, limit)


def line(interaction: Interaction, scope: Scope) -> str:
    first = (interaction.summary.strip().splitlines() or [""])[0]
    who = f" with {t.user_text(interaction.contact_name, 80)}" if interaction.contact_name else ""
    return (f"{KIND_ICON.get(interaction.kind, '')} {t.day(interaction.occurred_on)} · {interaction.kind}{who} "
            f"by {t.user(interaction.logged_by)} — {t.user_text(first, 160)}")


def title(scope: Scope) -> str:
    return "Contact since the last meeting" if scope.since is not None else "Latest contact"


SECTION = Section(key="contact", title=title, collect=collect, line=line,
                  empty="No contact logged since then.")
