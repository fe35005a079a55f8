"""Options for the select menus that load them as the user types (`block_suggestion`): the client picker."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.blocks.forms import MAX_OPTIONS, client_options
from bot.blocks.ids import ActionId
from bot.parsing import payloads
from bot.services.clients import search_clients
from handlers.listener import OPTIONS, Call, listener

MAX_QUERY = 200


def register(app: App) -> None:
    app.options(ActionId.CLIENT_PICKER)(suggest_clients)


@listener(OPTIONS)
def suggest_clients(call: Call) -> list[dict[str, Any]]:
    typed = payloads.text(call.body.get("value"), limit=MAX_QUERY)
    return client_options(search_clients(call.session, call.ctx.actor.team_id, typed, limit=MAX_OPTIONS))
