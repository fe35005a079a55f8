"""How `/cmo history` words an audit event of a feature's own: each feature's blocks module registers its
actions here (`@event_line("promise.add")`), so a new feature adds its lines without editing the history."""

from __future__ import annotations

from collections.abc import Callable

from bot.db.models import AuditEvent

EventLine = Callable[[AuditEvent], str]  # the event -> what was done, as mrkdwn (user text escaped)
EVENT_LINES: dict[str, EventLine] = {}


def event_line(*actions: str) -> Callable[[EventLine], EventLine]:
    def register(describe: EventLine) -> EventLine:
        for action in actions:
            if action in EVENT_LINES:
                raise ValueError(f"two history lines for {action!r}")
            EVENT_LINES[action] = describe
        return describe
    return register
