"""Modal submissions: the same command as typed, then the reply shown in the modal itself."""

from __future__ import annotations

import json
import re

from slack_bolt import Ack, App, BoltContext

from bot.blocks import Message
from bot.blocks.modals import CALLBACK_PREFIX, MODAL_TITLES, result_view
from bot.errors import UserError
from bot.execute import execute
from bot.parsing.forms import command_from_form
from bot.services.requests import first_time
from handlers.context import actor, command_context, database

ALREADY_DONE = Message(text="This form was already submitted; it was done once.")


def register(app: App) -> None:
    app.view(re.compile("^" + re.escape(CALLBACK_PREFIX)))(submit)


def submit(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
    name = view["callback_id"].removeprefix(CALLBACK_PREFIX)
    metadata = json.loads(view.get("private_metadata") or "{}")
    who = actor(context, body, metadata.get("surface", "modal"))
    try:
        command = command_from_form(name, view["state"]["values"])
        with database(context).transaction() as session:
            # The same form state submitted twice (a double click, a retry) is done once.
            if not first_time(session, who.team_id, f"view:{view['id']}:{view.get('hash', '')}"):
                ack(response_action="update", view=result_view(MODAL_TITLES.get(name, "Rapport"), ALREADY_DONE))
                return
            reply = execute(command, command_context(session, context, who, permalink=metadata.get("permalink")))
    except UserError as error:
        ack(response_action="errors", errors={_error_block(view, error.field): _plain(error.message)})
        return
    ack(response_action="update", view=result_view(MODAL_TITLES.get(name, "Rapport"), reply))


def _error_block(view: dict, field: str | None) -> str:
    """The input the error belongs to, else the first input (Slack shows errors under an input)."""
    inputs = [block["block_id"] for block in view.get("blocks", []) if block.get("type") == "input"]
    return field if field in inputs else inputs[0]


def _plain(message: str) -> str:
    # Modal errors are plain text: code marks would show as literal backticks.
    return message.replace("`", "")[:2000]
