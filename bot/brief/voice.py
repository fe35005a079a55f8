"""The current agreed voice lines: what everyone who talks to the client says, topic by topic."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.blocks import text as t
from bot.blocks.voice import local_day
from bot.brief import Found, Scope, Section
from bot.db.models import VoiceLine
from bot.services import voice as voice_service


def collect(session: Session, scope: Scope, limit: int) -> Found:
    lines = voice_service.current_lines(session, scope.client)
    return Found(lines[:limit], len(lines))


def line(item: VoiceLine, scope: Scope) -> str:
    return (f"*{t.user_text(item.topic, 100)}*: “{t.user_text(item.line, 400)}” "
            f"(by {t.user(item.author_user_id)}, {t.day(local_day(item.created_at, scope.zone))})")


SECTION = Section(key="voice", title=lambda scope: "Agreed lines (one voice)", collect=collect, line=line,
                  empty="No agreed line.")
