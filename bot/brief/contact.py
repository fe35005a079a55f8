"""The brief's contact since the previous meeting: who talked to the client, how, and the gist."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.blocks import text as t
from bot.blocks.replies import KIND_ICON
from bot.brief import Found, Scope, Section
from bot.db.models import Interaction


def _query(scope: Scope):
    query = select(Interaction).where(Interaction.team_id == scope.client.team_id,
                                      Interaction.client_id == scope.client.id)
    if scope.since_day is not None:
        query = query.where(Interaction.occurred_on >= scope.since_day)
    return query


def collect(session: Session, scope: Scope, limit: int) -> Found:
    query = _query(scope)
    items = list(session.scalars(query.order_by(Interaction.occurred_on.desc(), Interaction.id.desc()).limit(limit)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) if len(items) == limit else len(items)
    return Found(items, total)


def line(interaction: Interaction, scope: Scope) -> str:
    first = (interaction.summary.strip().splitlines() or [""])[0]
    who = f" with {t.user_text(interaction.contact_name, 80)}" if interaction.contact_name else ""
    return (f"{KIND_ICON.get(interaction.kind, '')} {t.day(interaction.occurred_on)} · {interaction.kind}{who} "
            f"by {t.user(interaction.logged_by)} — {t.user_text(first, 160)}")


def title(scope: Scope) -> str:
    return "Contact since the last meeting" if scope.since is not None else "Latest contact"


SECTION = Section(key="contact", title=title, collect=collect, line=line,
                  empty="No contact logged since then.")
