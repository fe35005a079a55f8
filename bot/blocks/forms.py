"""The pieces every form is built of: inputs named after the command's options, the client picker, the
modal around them and the view a submitted modal turns into. Each subcommand builds its own form from
these (bot/commands/<feature>.py).

Each input's block_id is the command's option name, so a UserError's `field` lands next to its input.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from slack_sdk.models.blocks import (
    ConversationFilter,
    ConversationSelectElement,
    DatePickerElement,
    ExternalDataSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.ids import ActionId, callback_id
from bot.blocks.layout import section
from bot.db.models import Client

MAX_OPTIONS = 100  # Slack's limit for a select's options
TITLE_LIMIT = 24  # characters in a modal's title


def field(block_id: str, label: str, element: Any, *, optional: bool = False, hint: str | None = None) -> InputBlock:
    return InputBlock(block_id=block_id, label=label, element=element, optional=optional, hint=hint)


def text_field(block_id: str, label: str, *, optional: bool = True, placeholder: str | None = None,
               initial: str | None = None, multiline: bool = False, max_length: int | None = None,
               hint: str | None = None) -> InputBlock:
    element = PlainTextInputElement(action_id=ActionId.VALUE, placeholder=placeholder, initial_value=initial,
                                    multiline=multiline, max_length=max_length)
    return field(block_id, label, element, optional=optional, hint=hint)


def user_field(block_id: str, label: str, hint: str | None = None) -> InputBlock:
    return field(block_id, label, UserSelectElement(action_id=ActionId.VALUE, placeholder="Choose a person"),
                 optional=True, hint=hint)


def channel_field(block_id: str, label: str, hint: str | None = None) -> InputBlock:
    element = ConversationSelectElement(action_id=ActionId.VALUE, placeholder="Choose a channel",
                                        filter=ConversationFilter(include=["public", "private"],
                                                                  exclude_bot_users=True))
    return field(block_id, label, element, optional=True, hint=hint)


def date_field(block_id: str, label: str, *, initial: dt.date | None = None, optional: bool = True,
               placeholder: str = "Pick a date", hint: str | None = None) -> InputBlock:
    element = DatePickerElement(action_id=ActionId.VALUE, initial_date=initial.isoformat() if initial else None,
                                placeholder=placeholder)
    return field(block_id, label, element, optional=optional, hint=hint)


def client_option(client: Client) -> Option:
    return Option(value=client.key, text=t.plain(f"{client.name} ({client.key})", 75))


def client_options(clients: list[Client]) -> list[dict[str, Any]]:
    """The answer to the client picker's `block_suggestion`: at most Slack's 100 options."""
    return [client_option(c).to_dict() for c in clients[:MAX_OPTIONS]]


def client_field(selected: Client | None = None) -> InputBlock:
    # Type-ahead over every active client (a static select would stop at 100 of them).
    element = ExternalDataSelectElement(action_id=ActionId.CLIENT_PICKER, placeholder="Type a client's name or key",
                                        min_query_length=0,
                                        initial_option=client_option(selected) if selected else None)
    return field("client", "Client", element)


def modal(name: str, *, title: str, submit: str, blocks: list, metadata: dict[str, Any]) -> dict[str, Any]:
    """The form of subcommand `name`; its submission comes back with callback_id `cmo:<name>`."""
    return View(
        type="modal",
        callback_id=callback_id(name),
        title=t.plain(title, TITLE_LIMIT),
        submit=submit,
        close="Cancel",
        blocks=blocks,
        private_metadata=json.dumps(metadata, separators=(",", ":")),
    ).to_dict()


def input_ids(view: Any) -> list[str]:
    """The block_ids of a submitted view's inputs (Slack shows a form's errors under an input)."""
    blocks = view.get("blocks") if isinstance(view, dict) else None
    return [block["block_id"] for block in blocks or [] if isinstance(block, dict)
            and block.get("type") == "input" and isinstance(block.get("block_id"), str)]


def result_view(title: str, message: Message) -> dict[str, Any]:
    """What a submitted modal turns into: the same reply the command would have given."""
    blocks = message.blocks[:100] or [section(t.escape(message.text))]
    return View(type="modal", title=t.plain(title, TITLE_LIMIT), close="Done", blocks=blocks).to_dict()
