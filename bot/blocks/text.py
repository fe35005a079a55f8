"""Safe, short text for Block Kit: user text escaped, long text clipped within Slack's limits."""

from __future__ import annotations

import datetime as dt
import re

SECTION_LIMIT = 3000  # characters in a section's text
CONTEXT_LIMIT = 2000  # characters in one context element
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,4}$")


def escape(text: str) -> str:
    """Slack's three control characters, so user text can't become a mention (`<!channel>`) or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, ending in "…" if cut, never in the middle of an `&amp;`."""
    if len(text) <= limit:
        return text
    cut = _PARTIAL_ENTITY.sub("", text[: limit - 1])
    return cut + "…"


def user_text(text: str, limit: int) -> str:
    """User-typed text, escaped and clipped for display."""
    return clip(escape(text), limit)


def plain(text: str, limit: int) -> str:
    """Text for plain_text fields (headers, labels, options): not parsed by Slack, only clipped."""
    return clip(text, limit)


def user(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "nobody"


def channel(channel_id: str | None) -> str:
    return f"<#{channel_id}>" if channel_id else "none"


def day(date: dt.date | None) -> str:
    return f"{date:%a %Y-%m-%d}" if date else "—"


def days_ago(date: dt.date, today: dt.date) -> str:
    days = (today - date).days
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 0:
        return f"in {-days} days"
    return f"{days} days ago"


def cadence(days: int) -> str:
    return f"{days}d"
