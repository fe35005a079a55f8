"""One voice: `/cmo voice`, and the owner told quietly when someone else logs contact."""

from __future__ import annotations

from bot.commands.context import Context
from bot.db.models import Client, Interaction


def tell_owner(ctx: Context, client: Client, interaction: Interaction) -> None:
    """Someone other than the owner logged contact with the client: the owner is told in a direct message."""


SUBCOMMANDS = ()
TOPICS = ()
