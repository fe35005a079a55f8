"""The prep brief that comes with a meeting reminder: what to know before walking in.

Each part of the brief is declared once, as a `Section` in a module here (what it collects for the client,
how one item reads, what it says when there is nothing); SECTIONS is the one place a section is registered,
in the order the brief shows them.

`/cmo status <client>` shows sections too (STATUS_SECTIONS: what is open now, so `since` is None there); a
module may declare a `STATUS_SECTION` of its own, else its `SECTION` is used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select
from sqlalchemy.orm import Session

from bot.db.models import Client, Promise

MAX_ITEMS = 5  # per section: a busy client's brief summarises, it does not overflow


@dataclass(frozen=True)
class Scope:
    """What a brief is about: the client, since when (the previous occurrence's start; None: no previous
    one), as of when, and the client's zone (its dates are in it)."""

    client: Client
    since: dt.datetime | None
    now: dt.datetime
    zone: ZoneInfo
    # The client's open promises when the caller has read them already (status has, for the health), so that
    # the brief does not ask again; None: the brief asks.
    open_promises: Sequence[Promise] | None = None

    @property
    def since_day(self) -> dt.date | None:
        return self.since.astimezone(self.zone).date() if self.since is not None else None


@dataclass(frozen=True)
class Found:
    items: Sequence[Any]  # at most MAX_ITEMS, most relevant first
    total: int  # how many there are in all


def page(session: Session, items: Select, count: Select, params: dict[str, Any], limit: int) -> Found:
    """The first `limit` items of a section, and how many there are: counted only when the page is full."""
    found = list(session.scalars(items, params))
    return Found(found, session.scalar(count, params) if len(found) == limit else len(found))


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
    "promises",
    "voice",
    "lessons",
))
STATUS_SECTIONS: tuple[Section, ...] = tuple(
    getattr(module, "STATUS_SECTION", None) or module.SECTION
    for module in (import_module(f"bot.brief.{name}") for name in (
        "promises",
        "voice",
        "peers",
    )))


def prepare(session: Session, scope: Scope, *, limit: int = MAX_ITEMS,
            sections: Sequence[Section] = SECTIONS) -> list[Part]:
    parts = []
    for section in sections:
        found = section.collect(session, scope, limit)
        items = list(found.items)[:limit]
        parts.append(Part(section.title(scope), [section.line(item, scope) for item in items],
                          max(0, found.total - len(items)), section.empty))
    return parts
