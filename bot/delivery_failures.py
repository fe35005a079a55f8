"""What a message that could not be delivered means beyond the outbox.

A client message (the owner's explicit "send to client") that Slack refused for good never reached the
client: the schedule change it told is open again, and the owner hears of it in the internal channel.
Called by the delivery worker in the transaction that marks the row failed.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from bot.blocks.changes import client_message_failed
from bot.db.models import Client, OutboxMessage, ScheduleChange
from bot.services import Actor, Surface
from bot.services import changes as change_service
from bot.services.outbox import CLIENT_MESSAGE, enqueue

SYSTEM_ACTOR = "rapport"  # who the audit trail names for what the bot does on its own
_CLIENT_MESSAGE_KEY = re.compile(r"^change:(\d+):to-client:")


def after_failure(session: Session, row: OutboxMessage) -> None:
    if row.source != CLIENT_MESSAGE:
        return
    match = _CLIENT_MESSAGE_KEY.match(row.dedupe_key)
    change = session.get(ScheduleChange, int(match.group(1))) if match else None
    if (change is None or change.team_id != row.team_id or change.told_at is None
            or change_service.client_message_key(change) != row.dedupe_key):
        return  # told again since, some other way: nothing to undo
    client = session.get(Client, change.client_id)
    change_service.reopen(session, Actor(row.team_id, SYSTEM_ACTOR, Surface.DELIVERY), change)
    if client.internal_channel_id:
        enqueue(session, team_id=row.team_id, dedupe_key=f"outbox-failed:{row.id}:owner",
                channel_id=client.internal_channel_id, message=client_message_failed(change, client, row.error or ""),
                source="schedule-change")
