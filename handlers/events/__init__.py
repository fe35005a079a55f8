"""Events: App Home. Acknowledged at once; the home tab is built and published after the answer."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.afterwards import AFTERWARDS
from bot.blocks.home import home_view
from bot.errors import UserError
from bot.parsing import payloads
from bot.services.status import portfolio

logger = logging.getLogger(__name__)


def register(app: App) -> None:
    app.event("app_home_opened")(show_home)


def show_home(event: dict, client: WebClient, context: BoltContext) -> None:
    if event.get("tab") not in (None, "home"):
        return
    try:
        team_id = payloads.team_id(context.team_id or context.enterprise_id)
        user_id = payloads.user_id(event.get("user"))
    except UserError:
        logger.warning("app_home_opened without a valid workspace or user: ignored")
        return
    database, settings = context["db"], context["settings"]

    def publish_home() -> None:
        with database.transaction() as session:
            everyone = portfolio(session, team_id, settings)
        mine = [row for row in everyone if row.client.owner_user_id == user_id]
        client.views_publish(user_id=user_id, view=home_view(mine, everyone))

    context[AFTERWARDS].add(publish_home)
