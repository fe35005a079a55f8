"""The prep brief that comes with a meeting reminder: what to know before walking in.

Each part of the brief is declared once, as a `Section` in a module here (what it collects for the client,
how one item reads, what it says when there is nothing); SECTIONS is the one place a section is registered,
in the order the brief shows them. Open promises, the agreed "voice" lines and lessons learned join it as
those features arrive: a module and one line below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.db.models import Client

MAX_ITEMS = 5  # per section: a busy client's brief summarises, it does not overflow


@dataclass(frozen=True)
class Scope:
    """What a brief is about: the client, since when (the previous occurrence's start; None: no previous
    one), as of when, and the client's zone (its dates are in it)."""

    client: Client
    since: dt.datetime | None
    now: dt.datetime
    zone: ZoneInfo

    @property
    def since_day(self) -> dt.date | None:
        return self.since.astimezone(self.zone).date() if self.since is not None else None


@dataclass(frozen=True)
class Found:
    items: Sequence[Any]  # at most MAX_ITEMS, most relevant first
    total: int  # how many there are in all


@dataclass(frozen=True)
class Section:
    key: str
    title: Callable[[Scope], str]
    collect: Callable[[Session, Scope, int], Found]  # (session, scope, limit)
    line: Callable[[Any, Scope], str]  # one item, as mrkdwn (user text escaped)
    empty: str  # what the brief says when there is nothing


@dataclass(frozen=True)
class Part:
    """One section of one brief, ready to show."""

    title: str
    lines: list[str]
    more: int  # items not shown
    empty: str


SECTIONS: tuple[Section, ...] = tuple(import_module(f"bot.brief.{name}").SECTION for name in (
    "contact",
    "changes",
))


def prepare(session: Session, scope: Scope, *, limit: int = MAX_ITEMS) -> list[Part]:
    parts = []
    for section in SECTIONS:
        found = section.collect(session, scope, limit)
        items = list(found.items)[:limit]
        parts.append(Part(section.title(scope), [section.line(item, scope) for item in items],
                          max(0, found.total - len(items)), section.empty))
    return parts
