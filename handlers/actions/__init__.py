"""Buttons on what the bot posts: "Mark client told" and "Draft message to client" on a schedule change;
"Log contact" and "Snooze" on a stale-contact nudge; "Add to calendar" on a meeting and "Log notes" after it."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.blocks import Message, replies
from bot.blocks.changes import announcement, draft_modal
from bot.blocks.ids import ActionId
from bot.blocks.meetings import notes_summary
from bot.blocks.nudges import SNOOZE_CHOICES, snoozed
from bot.blocks.promises import done_by
from bot.commands import REGISTRY, FormRequest
from bot.commands.changes import change_to_tell, mark_change_told, parse_change_id
from bot.commands.meetings import parse_meeting_id
from bot.commands.promises import mark_promise_done, parse_promise_id
from bot.commands.snooze import parse_snooze_duration, snooze_client
from bot.errors import UserError
from bot.parsing import payloads
from bot.parsing.grammar import MAX_RECORD_ID
from bot.services import calendar_file
from bot.services import changes as change_service
from bot.services import clients as client_service
from bot.services import meetings as meeting_service
from bot.services.changes import slip_history
from handlers.listener import BUTTON, Call, OpenForm, listener

logger = logging.getLogger(__name__)


def register(app: App) -> None:
    app.action(ActionId.MARK_TOLD)(mark_told)
    app.action(ActionId.DRAFT)(open_draft)
    app.action(ActionId.LOG_CONTACT)(log_contact)
    app.action(ActionId.SNOOZE)(snooze_from_nudge)
    app.action(ActionId.ADD_TO_CALENDAR)(add_to_calendar)
    app.action(ActionId.LOG_NOTES)(log_notes)
    app.action(ActionId.EDIT_RECORD)(edit_record)
    app.action(ActionId.PROMISE_DONE)(promise_done)


def _action(call: Call) -> dict[str, Any]:
    actions = call.body.get("actions") or [{}]
    return actions[0]


def _pressed_value(call: Call) -> str:
    value = _action(call).get("value")
    if not isinstance(value, str):
        raise payloads.InvalidPayload("a button without its value")
    return value


def _client_id(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= 10 and 0 < int(text) <= MAX_RECORD_ID):
        raise payloads.InvalidPayload("a client that is not one")
    return int(text)


@listener(BUTTON)
def mark_told(call: Call) -> Message:
    change, client = mark_change_told(call.ctx, parse_change_id(_pressed_value(call)), notify=False)
    # The message the button was on now says who told the client, and loses its buttons.
    return announcement(change, client, slip_history(call.session, client, change))


@listener(BUTTON)
def promise_done(call: Call) -> Message:
    """The reminder or nudge turns into "done by @x"; a promise already done says when and by whom."""

    return done_by(*mark_promise_done(call.ctx, parse_promise_id(_pressed_value(call))))


@listener(BUTTON, writes=False)
def open_draft(call: Call) -> OpenForm:
    change, client = change_to_tell(call.ctx, parse_change_id(_pressed_value(call)))
    return OpenForm(draft_modal(change, client))


@listener(BUTTON, writes=False)
def log_contact(call: Call) -> OpenForm:
    """The log form for the client the nudge is about (archived or gone: said so, nothing opens)."""
    channel = call.body.get("channel")
    channel_id = payloads.channel_id(channel.get("id") if isinstance(channel, dict) else None, required=False)
    request = FormRequest({"channel_id": channel_id}, channel_id=channel_id, client_id=_client_id(_pressed_value(call)))
    return OpenForm(REGISTRY.open_form("log", call.ctx, request), usage=REGISTRY.usage("log"))


@listener(BUTTON)
def snooze_from_nudge(call: Call) -> Message:
    """The nudge turns into "snoozed until ... by ..."; snoozing again to the same day writes nothing."""
    option = _action(call).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    client_text, _, duration = value.partition(":") if isinstance(value, str) else ("", "", "")
    if duration not in dict(SNOOZE_CHOICES):
        raise payloads.InvalidPayload("a snooze the menu does not offer")
    client = client_service.get_client(call.session, call.ctx.actor.team_id, _client_id(client_text))
    until, changed = snooze_client(call.ctx, client, parse_snooze_duration(duration))
    if not changed:
        raise UserError(f"{client.name} is already snoozed until {until:%a %Y-%m-%d}; nothing changed.")
    return snoozed(client, until, call.ctx.actor.user_id)


@listener(BUTTON)
def add_to_calendar(call: Call) -> None:
    """The meeting as an .ics file, in a direct message to whoever pressed the button."""
    meeting = meeting_service.active_meeting(call.session, call.ctx.actor.team_id,
                                             parse_meeting_id(_pressed_value(call)))
    client = client_service.get_client(call.session, call.ctx.actor.team_id, meeting.client_id)
    content = calendar_file.meeting_calendar(meeting, client, meeting_service.schedule(call.session, meeting),
                                             now=call.ctx.now)
    name, title, user_id = calendar_file.filename(meeting), f"{meeting.title} — {client.name}", call.ctx.actor.user_id
    call.later(lambda: send_calendar_file(call.client, call.respond, user_id, name, title, content))


def send_calendar_file(client: WebClient, respond: Respond | None, user_id: str, name: str, title: str,
                       content: bytes) -> None:
    """Upload through Slack's current flow (files_upload_v2: an upload URL, then completeUploadExternal);
    if Slack can't take it, the person is told rather than left waiting."""
    try:
        channel = client.conversations_open(users=user_id)["channel"]["id"]
        client.files_upload_v2(channel=channel, filename=name, title=title, content=content,
                               initial_comment="Your calendar file: open it to add the meeting, with every "
                                               "occurrence, to Outlook, Google Calendar or Apple Calendar.")
    except (SlackApiError, SlackClientError, OSError, KeyError, TypeError) as error:
        reason = error.response.get("error", "no answer") if isinstance(error, SlackApiError) else "no answer"
        logger.warning("The calendar file %s could not be sent: %s", name, reason)
        if respond is not None:
            message = replies.error(f"Slack did not take the calendar file ({reason}). Press the button again in "
                                    "a moment.")
            respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())


@listener(BUTTON, writes=False)
def log_notes(call: Call) -> OpenForm:
    """The log form, filled with the meeting: its client, kind meeting, its title and date."""
    meeting_text, _, day_text = _pressed_value(call).partition(":")
    try:
        day = dt.date.fromisoformat(day_text)
    except ValueError:
        raise payloads.InvalidPayload("a meeting date that is not one") from None
    meeting = meeting_service.get_meeting(call.session, call.ctx.actor.team_id, parse_meeting_id(meeting_text))
    channel = call.body.get("channel")
    channel_id = payloads.channel_id(channel.get("id") if isinstance(channel, dict) else None, required=False)
    request = FormRequest({"channel_id": channel_id}, channel_id=channel_id, client_id=meeting.client_id,
                          summary=notes_summary(meeting, day), kind="meeting", on=day)
    return OpenForm(REGISTRY.open_form("log", call.ctx, request), usage=REGISTRY.usage("log"))


@listener(BUTTON, writes=False)
def edit_record(call: Call) -> OpenForm:
    """The edit form, for the schedule change the button is on."""
    change = change_service.get_change(call.session, call.ctx.actor.team_id,
                                       parse_change_id(_pressed_value(call)))
    request = FormRequest({}, record=f"#{change.id}")
    return OpenForm(REGISTRY.open_form("edit", call.ctx, request), usage=REGISTRY.usage("edit"))
