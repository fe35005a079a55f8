"""What every listener reads from Bolt's context: the database, the settings, who is acting."""

from __future__ import annotations

import datetime as dt

from slack_bolt import BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import replies
from bot.config import Settings
from bot.db import Database
from bot.execute import Context
from bot.services import Actor


def actor(context: BoltContext, body: dict, surface: str) -> Actor:
    # Slash commands carry team_id/user_id at the top; interactivity payloads nest them.
    team_id = context.team_id or context.enterprise_id or body.get("team_id") or ""
    user_id = context.user_id or body.get("user_id") or (body.get("user") or {}).get("id") or ""
    return Actor(team_id=team_id, user_id=user_id, surface=surface)


def database(context: BoltContext) -> Database:
    return context["db"]


def settings(context: BoltContext) -> Settings:
    return context["settings"]


def command_context(session, context: BoltContext, who: Actor, *, permalink: str | None = None) -> Context:
    return Context(session, who, settings(context).zone, now=dt.datetime.now(dt.UTC), permalink=permalink)


def open_modal(client: WebClient, trigger_id: str, view: dict, respond: Respond, *, usage: str | None) -> None:
    """Open a modal after the ack; if Slack refuses (an expired trigger, say), tell the user why."""
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        reason = error.response.get("error", "unknown error")
        message = replies.error(f"Slack did not open the form ({reason}). Try again, or type the command "
                                "with its arguments.", usage)
        respond(response_type="ephemeral", **message.as_kwargs())
