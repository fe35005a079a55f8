"""App Home: the clients you own, then the whole portfolio, health at a glance."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.views import View

from bot.blocks import replies
from bot.services.status import PortfolioRow

MAX_HOME_BLOCKS = 100


def home_view(mine: list[PortfolioRow], everyone: list[PortfolioRow]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    if mine:
        blocks += replies.portfolio(mine, title="My clients", empty="").blocks
        blocks.append(replies.divider())
    blocks += replies.portfolio(
        everyone, title="Portfolio health",
        empty="No clients yet. Add one with `/cmo client add <name>`; `/cmo help` shows the rest.",
    ).blocks
    return View(type="home", blocks=blocks[:MAX_HOME_BLOCKS]).to_dict()
