"""Requests from Slack handled once: Slack retries events it thinks were lost (X-Slack-Retry-Num), and a
modal can be submitted twice. The key is remembered in the database, so any process sees it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.db.insert import insert_ignoring_duplicates
from bot.db.models import ProcessedRequest, utcnow


def first_time(session: Session, team_id: str, key: str) -> bool:
    """True the first time this key is seen for the team (and remembers it in this transaction)."""
    return insert_ignoring_duplicates(session, ProcessedRequest.__table__,
                                      {"team_id": team_id, "key": key[:255], "received_at": utcnow()},
                                      ["team_id", "key"])
