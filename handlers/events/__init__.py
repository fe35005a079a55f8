"""Events: App Home."""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.blocks.home import home_view
from bot.services.status import portfolio
from handlers.context import database, settings


def register(app: App) -> None:
    app.event("app_home_opened")(show_home)


def show_home(event: dict, client: WebClient, context: BoltContext) -> None:
    if event.get("tab") not in (None, "home"):
        return
    team_id, user_id, zone = context.team_id or "", event["user"], settings(context).zone
    with database(context).transaction() as session:
        everyone = portfolio(session, team_id, zone)
    mine = [row for row in everyone if row.client.owner_user_id == user_id]
    client.views_publish(user_id=user_id, view=home_view(mine, everyone))
