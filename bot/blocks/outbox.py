"""What the managers read when Rapport could not deliver a message."""

from __future__ import annotations

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.layout import context, section
from bot.db.models import OutboxMessage


def failure_notice(row: OutboxMessage) -> Message:
    text = (f":rotating_light: Rapport could not post a message ({row.source}) to {t.channel(row.channel_id)}: "
            f"{t.escape(row.error or 'unknown error')}.")
    return Message(text=f"Rapport could not post message #{row.id}", blocks=[
        section(text),
        context(f"Fix the cause (invite the bot, unarchive the channel, correct the client's channel), then "
                f"`rapport outbox retry {row.id}`. `rapport outbox` lists what is pending or failed."),
    ])
