"""Domain services: plain functions that take a session. No Slack types in or out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Surface(StrEnum):
    """Where an action came from, as the audit trail and the records keep it."""

    SLASH_COMMAND = "slash_command"
    BUTTON = "button"
    MODAL = "modal"
    MESSAGE_SHORTCUT = "message_shortcut"
    OPTIONS = "options"  # a select menu asking for its options
    DRAFT_TO_CLIENT = "draft_to_client"  # the owner's message to the client (the draft's Send)
    CONSOLE = "console"
    CLI = "cli"
    JOB = "job"
    DELIVERY = "delivery"  # what the delivery worker does after Slack refused a message


@dataclass(frozen=True)
class Actor:
    """Who did it, in which workspace, and through which surface (for the audit trail)."""

    team_id: str
    user_id: str
    surface: str  # a Surface
