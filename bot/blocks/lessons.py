"""Lessons learned: the reply to `/cmo lesson`, the list and search results of `/cmo lessons`, the "Lessons
from before" under a new schedule change, and how `/cmo history` words a lesson."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.history import event_line
from bot.blocks.layout import context, header, packed_sections, section
from bot.db.models import AuditEvent, Client, Lesson, ScheduleChange

TEXT_LIMIT = 600  # a lesson's text in a list
# In rendered (escaped) text: an entity or a Slack markup link/mention, which are never touched; else a word.
_RENDERED_WORD = re.compile(r"<[^<>]*>|&[a-z]+;|[^\W_]+")


def change_text(change: ScheduleChange | None) -> str:
    """`#12 Lot 42 fill`: the change a lesson came from."""
    if change is None:
        return ""
    return f"`#{change.id}` {t.user_text(change.item, 120)}"


def _stem(word: str) -> str:
    """A crude common root, only to show which words matched ("delays" and "delayed" share "dela")."""
    word = word.lower()
    return word[:max(4, len(word) - 2)] if len(word) > 4 else word


def highlighted(text: str, terms: Sequence[str], limit: int) -> str:
    """The lesson's text rendered (user text escaped) with the words that look like a searched word in bold.
    Bold is added after escaping, and only around runs of letters and digits outside entities and markup."""
    rendered = t.user_text(text, limit)
    roots = {_stem(term) for term in terms}
    if not roots:
        return rendered

    def bold(match: re.Match[str]) -> str:
        word = match.group(0)
        if word[0] in "<&" or not any(word.lower().startswith(root) for root in roots):
            return word
        return f"*{word}*"

    return _RENDERED_WORD.sub(bold, rendered)


def lesson_line(lesson: Lesson, client: Client | None, change: ScheduleChange | None, *,
                terms: Sequence[str] = (), limit: int = TEXT_LIMIT) -> str:
    """`• Acme Biologics · Tue 2026-12-01 · @ana · from #12 Lot 42 fill` and the lesson under it."""
    meta = [f"*{t.user_text(client.name, 200)}*"] if client is not None else []
    meta += [t.day(lesson.created_at.date()), t.user(lesson.created_by)]
    if change is not None:
        meta.append(f"from {change_text(change)}")
    return f":bulb: {' · '.join(meta)}\n> {highlighted(lesson.text, terms, limit)}"


def lesson_added(lesson: Lesson, client: Client, change: ScheduleChange | None) -> Message:
    where = f" from schedule change {change_text(change)}" if change is not None else ""
    text = (f":bulb: Lesson recorded for *{t.user_text(client.name, 200)}* (`{client.key}`){where}:\n"
            f"> {t.user_text(lesson.text, 2500)}")
    return Message(text=f"Lesson recorded for {client.name}", blocks=[
        section(text),
        context(t.escape(f"It comes back in {client.name}'s meeting prep brief, in `/cmo lessons`, and when a "
                         f"schedule change like it is logged.")),
    ])


def lessons_list(lessons: Sequence[Lesson], clients: Mapping[int, Client],
                 changes: Mapping[int, ScheduleChange], *, title: str, total: int, terms: Sequence[str] = (),
                 one_client: bool = False, empty: str) -> Message:
    if not lessons:
        return Message(text=empty, blocks=[section(t.escape(empty))])
    lines = [lesson_line(lesson, None if one_client else clients.get(lesson.client_id),
                         changes.get(lesson.change_id) if lesson.change_id else None, terms=terms)
             for lesson in lessons]
    more = total - len(lessons)
    notes = ["best matches first" if terms else "newest first"]
    if more > 0:
        notes.insert(0, f"…and {more} more: narrow the search with a client or more words")
    return Message(text=f"{title}: {total}", blocks=[
        header(t.plain(title, 150)), *packed_sections(lines), context(t.escape(" · ".join(notes))),
    ])


def lessons_from_before(tied: Iterable[Lesson], matching: Iterable[Lesson], client: Client,
                        clients: Mapping[int, Client], changes: Mapping[int, ScheduleChange],
                        terms: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Under a new schedule change: the lessons of the client's earlier changes, then lessons whose words
    match the new reason (those words in bold; another client's lessons are named). Nothing: no blocks."""
    lines = []
    for lesson in tied:
        lines.append(lesson_line(lesson, None, changes.get(lesson.change_id), limit=400))
    for lesson in matching:
        other = clients.get(lesson.client_id) if lesson.client_id != client.id else None
        lines.append(lesson_line(lesson, other, changes.get(lesson.change_id) if lesson.change_id else None,
                                 terms=terms, limit=400))
    if not lines:
        return []
    return [section("*Lessons from before*"), *packed_sections(lines, max_sections=6)]


# -- /cmo history ----------------------------------------------------------------------------------------------

@event_line("lesson.add")
def _added(event: AuditEvent) -> str:
    after = event.after or {}
    change = f" from schedule change #{after['change_id']}" if isinstance(after.get("change_id"), int) else ""
    return f"recorded a lesson{change}: {t.user_text(str(after.get('text', '')), 200)}"
