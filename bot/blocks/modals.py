"""Modals: the same fields as the commands, for a subcommand typed without arguments.

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
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.replies import context, section
from bot.db.models import INTERACTION_KINDS, Client, ScheduleChange

VALUE = "value"  # every input's action_id
SUMMARY_INPUT_LIMIT = 3000  # Slack's maximum for a plain_text_input
MODAL_TITLES = {"client add": "Add a client", "client set": "Change a client",
                "client archive": "Archive a client", "log": "Log an interaction", "history": "Client history",
                "delay": "Schedule change", "told": "Client told"}
SUBMIT_LABELS = {"client add": "Add", "client set": "Save", "client archive": "Archive", "log": "Log",
                 "history": "Show", "delay": "Record", "told": "Mark told"}
CALLBACK_PREFIX = "cmo:"
CLIENT_PICKER = "client_picker"  # an external select: its options come from the options handler as one types
MAX_OPTIONS = 100  # Slack's limit for a select's options


def callback_id(name: str) -> str:
    return CALLBACK_PREFIX + name


def _input(block_id: str, label: str, element, *, optional: bool = False, hint: str | None = None) -> InputBlock:
    return InputBlock(block_id=block_id, label=label, element=element, optional=optional, hint=hint)


def _text(block_id: str, label: str, *, optional: bool = True, placeholder: str | None = None,
          initial: str | None = None, multiline: bool = False, max_length: int | None = None,
          hint: str | None = None) -> InputBlock:
    element = PlainTextInputElement(action_id=VALUE, placeholder=placeholder, initial_value=initial,
                                    multiline=multiline, max_length=max_length)
    return _input(block_id, label, element, optional=optional, hint=hint)


def _user(block_id: str, label: str, hint: str | None = None) -> InputBlock:
    return _input(block_id, label, UserSelectElement(action_id=VALUE, placeholder="Choose a person"),
                  optional=True, hint=hint)


def _channel(block_id: str, label: str, hint: str | None = None) -> InputBlock:
    element = ConversationSelectElement(action_id=VALUE, placeholder="Choose a channel",
                                        filter=ConversationFilter(include=["public", "private"],
                                                                  exclude_bot_users=True))
    return _input(block_id, label, element, optional=True, hint=hint)


def _date(block_id: str, label: str, *, initial: dt.date | None = None, optional: bool = True) -> InputBlock:
    element = DatePickerElement(action_id=VALUE, initial_date=initial.isoformat() if initial else None,
                                placeholder="Pick a date")
    return _input(block_id, label, element, optional=optional)


def client_option(client: Client) -> Option:
    return Option(value=client.key, text=t.plain(f"{client.name} ({client.key})", 75))


def client_options(clients: list[Client]) -> list[dict[str, Any]]:
    """The answer to the client picker's `block_suggestion`: at most Slack's 100 options."""
    return [client_option(c).to_dict() for c in clients[:MAX_OPTIONS]]


def _client_select(selected: Client | None = None) -> InputBlock:
    # Type-ahead over every active client (a static select would stop at 100 of them).
    element = ExternalDataSelectElement(action_id=CLIENT_PICKER, placeholder="Type a client's name or key",
                                        min_query_length=0,
                                        initial_option=client_option(selected) if selected else None)
    return _input("client", "Client", element)


def _modal(name: str, blocks: list, metadata: dict[str, Any]) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=callback_id(name),
        title=MODAL_TITLES[name],
        submit=SUBMIT_LABELS[name],
        close="Cancel",
        blocks=blocks,
        private_metadata=json.dumps(metadata, separators=(",", ":")),
    ).to_dict()


def client_add_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return _modal("client add", [
        _text("name", "Name", optional=False, placeholder="Acme Biologics", max_length=200),
        _text("key", "Short key", placeholder="acme", max_length=40,
              hint="What people type in commands. Made from the name if left empty."),
        _user("owner", "Owner", hint="The client's one voice: who tells the client about changes."),
        _channel("channel", "Internal channel", hint="Where Rapport posts about this client. Never shared "
                 "with the client."),
        _text("cadence", "Contact cadence", placeholder="14d or 2w", max_length=5),
        _text("tz", "Time zone", placeholder="Europe/Berlin", max_length=64),
    ], metadata)


def client_set_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return _modal("client set", [
        _client_select(),
        context("Fill in only what changes."),
        _user("owner", "New owner"),
        _channel("channel", "New internal channel"),
        _channel("shared", "New shared (Slack Connect) channel"),
        _text("cadence", "New contact cadence", placeholder="14d or 2w", max_length=5),
        _text("tz", "New time zone", placeholder="Europe/Berlin", max_length=64),
    ], metadata)


def client_archive_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return _modal("client archive", [
        _client_select(),
        context("An archived client keeps its history and can no longer be logged against."),
    ], metadata)


def log_modal(metadata: dict[str, Any], *, today: dt.date,
              summary: str | None = None, selected: Client | None = None) -> dict[str, Any]:
    kinds = [Option(value=kind, text=kind) for kind in INTERACTION_KINDS]
    blocks = [
        _client_select(selected),
        _input("kind", "Kind", StaticSelectElement(action_id=VALUE, placeholder="call, meeting, …",
                                                    options=kinds)),
        _text("summary", "Summary", optional=False, multiline=True, max_length=SUMMARY_INPUT_LIMIT,
              initial=t.clip(summary, SUMMARY_INPUT_LIMIT) if summary else None,
              placeholder="What was said or agreed"),
        _date("on", "When", initial=today, optional=False),
        _text("with", "With (client contact)", placeholder="Dr. Jane Roe", max_length=200),
        _date("next", "Next contact planned"),
    ]
    if metadata.get("message_ts"):
        blocks.append(context("The message's link is kept with the interaction."))
    return _modal("log", blocks, metadata)


def history_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return _modal("history", [_client_select()], metadata)


def delay_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    to_picker = DatePickerElement(action_id=VALUE, placeholder="The new date")
    from_picker = DatePickerElement(action_id=VALUE, placeholder="The planned date")
    return _modal("delay", [
        _client_select(),
        _text("item", "What moves", optional=False, placeholder="Lot 42 fill", max_length=300),
        _text("project", "Project", placeholder="optional", max_length=200),
        InputBlock(block_id="from", label="Planned date", element=from_picker, optional=True,
                   hint="Leave empty to use the item's last recorded date."),
        InputBlock(block_id="to", label="New date", element=to_picker),
        _text("reason", "Reason (required)", optional=False, multiline=True, max_length=2000,
              placeholder="Why it moves: the client will ask."),
    ], metadata)


def told_modal(changes: list[ScheduleChange], clients: dict[int, Client], metadata: dict[str, Any]) -> dict[str, Any]:
    options = [Option(value=str(c.id), text=t.plain(
        f"#{c.id} {clients[c.client_id].name}: {c.item} → {c.new_date:%Y-%m-%d}", 75)) for c in changes[:100]]
    return _modal("told", [
        InputBlock(block_id="change", label="Which change", element=StaticSelectElement(
            action_id=VALUE, placeholder="An open schedule change", options=options)),
        _text("how", "How the client was told", placeholder="Call with Dr. Roe", max_length=500),
    ], metadata)


def result_view(title: str, message: Message) -> dict[str, Any]:
    """What a submitted modal turns into: the same reply the command would have given."""
    blocks = message.blocks[:100] or [section(t.escape(message.text))]
    return View(type="modal", title=t.plain(title, 24), close="Done", blocks=blocks).to_dict()
