"""Domain services: plain functions that take a session. No Slack types in or out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who did it, in which workspace, and through which surface (for the audit trail)."""

    team_id: str
    user_id: str
    surface: str  # slash_command, modal, message_shortcut, console, cli, job
