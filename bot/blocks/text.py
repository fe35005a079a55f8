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
    """At most `limit` characters, ending in "…" if cut, never in the middle of an `&amp;` or of a
    rendered `<@U123>` / `<https://…|label>` (the only raw `<` left in escaped text)."""
    if len(text) <= limit:
        return text
    cut = _PARTIAL_ENTITY.sub("", _PARTIAL_ENTITY.sub("", _PARTIAL_MARKUP.sub("", text[: limit - 1])))
    return cut + "…"


# What Slack sends in command text (after `unescape_slack`) and what may render live from user text:
# a person, a channel, a http(s)/mailto link. Broadcasts (`<!channel>`, `<!here>`, `<!subteam^…>`, any
# `<!…>`) and everything else are escaped, so they show as the literal text the user typed.
_PARTIAL_MARKUP = re.compile(r"<[^<>]*$")
_MARKUP = re.compile(r"<([^<>]*)>")
_USER_MENTION = re.compile(r"@([UW][A-Z0-9]{1,31})(?:\|[^|]*)?")
_CHANNEL_MENTION = re.compile(r"#([CG][A-Z0-9]{1,31})(?:\|[^|]*)?")
_LINK = re.compile(r"((?:https?://|mailto:)[^\s|]+)(?:\|([^|]*))?", re.IGNORECASE)
# A label that names a place: a scheme, "www.", or a dotted host name with a letters-only last part.
_LABEL_HOST = re.compile(r"(?:[a-z][a-z0-9+.-]*://|mailto:|www\.)?((?:[a-z0-9-]+\.)+[a-z]{2,})(?![a-z0-9-])",
                         re.IGNORECASE)
_TARGET_HOST = re.compile(r"^(?:https?://(?:[^@/?#]*@)?|mailto:[^@]*@)([^/:?#]+)", re.IGNORECASE)
_FILE_LIKE = re.compile(r"\.(?:pdf|docx?|xlsx?|pptx?|csv|txt|png|jpe?g|gif|zip|msg|eml)$", re.IGNORECASE)


def _host(text: str) -> str:
    host = text.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _label_misleads(label: str, target: str) -> bool:
    """True if the label names a URL or domain other than the link's real target."""
    found = _TARGET_HOST.match(target)
    target_host = _host(found.group(1)) if found else ""
    for match in _LABEL_HOST.finditer(label):
        named = match.group(0)
        if not ("://" in named or named.lower().startswith(("www.", "mailto:"))) and _FILE_LIKE.search(named):
            continue  # "spec.pdf" is a file's name, not a domain
        host = _host(match.group(1))
        if host != target_host and not target_host.endswith("." + host):
            return True
    return False


def _markup(inner: str) -> str | None:
    """A `<…>` from user text rendered for Slack, or None if it must show as literal text."""
    if found := _USER_MENTION.fullmatch(inner):
        return f"<@{found.group(1)}>"
    if found := _CHANNEL_MENTION.fullmatch(inner):
        return f"<#{found.group(1)}>"
    if found := _LINK.fullmatch(inner):
        target, label = escape(found.group(1)), (found.group(2) or "").strip()
        if not label or _label_misleads(label, found.group(1)):
            return f"<{target}>"  # Slack shows the real target as the link's text
        return f"<{target}|{escape(label)}>"
    return None  # a broadcast (`<!channel>`, `<!subteam^…>`), a stray `<b>`: shown as typed


def render(text: str) -> str:
    """User text for mrkdwn: mentions of people and channels and http(s)/mailto links live, everything
    else (broadcasts, `&`, stray `<` and `>`) escaped. Expects text as stored (Slack's escaping undone)."""
    out: list[str] = []
    position = 0
    for match in _MARKUP.finditer(text):
        rendered = _markup(match.group(1))
        if rendered is None:
            continue
        out.append(escape(text[position:match.start()]))
        out.append(rendered)
        position = match.end()
    out.append(escape(text[position:]))
    return "".join(out)


def user_text(text: str, limit: int) -> str:
    """User-typed text rendered for display (see `render`) and clipped."""
    return clip(render(text), limit)


def plain(text: str, limit: int) -> str:
    """Text for plain_text fields (headers, labels, options): not parsed by Slack, only clipped."""
    return clip(text, limit)


def user(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "nobody"


def channel(channel_id: str | None) -> str:
    return f"<#{channel_id}>" if channel_id else "none"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def day(date: dt.date | None) -> str:
    # "Wed 2026-12-02", the same in every locale (strftime's %a follows the process's).
    return f"{_WEEKDAYS[date.weekday()]} {date.year:04d}-{date.month:02d}-{date.day:02d}" if date else "—"


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
