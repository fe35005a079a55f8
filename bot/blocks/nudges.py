"""Stale-contact nudges (to the owner, in the internal channel), escalations and "nobody to nudge" notices
(to the managers), and what a nudge turns into once snoozed."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, Option, StaticSelectElement

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.ids import ActionId
from bot.blocks.layout import context, section
from bot.blocks.replies import KIND_ICON
from bot.db.models import Client
from bot.services.nudges import StaleClient

SNOOZE_CHOICES = (("3d", "3 days"), ("1w", "1 week"), ("2w", "2 weeks"))


def _client(client: Client) -> str:
    return f"*{t.user_text(client.name, 200)}* (`{client.key}`)"


def silence_text(stale: StaleClient) -> str:
    """How long it has been, against the cadence (or the plan that passed)."""
    cadence = t.cadence(stale.client.cadence_days)
    if stale.last_contact is None:
        silence = f"no contact logged in the {stale.days} days since it was added (cadence {cadence})"
    else:
        silence = f"no contact for *{stale.days} days* (cadence {cadence})"
    if stale.planned_on is not None:
        silence += f"; the contact planned for {t.day(stale.planned_on)} has passed"
    return silence


def last_contact_text(stale: StaleClient) -> str:
    last = stale.last_contact
    if last is None:
        return "Last contact: none logged yet."
    first_line = (last.summary.strip().splitlines() or [""])[0]
    return (f"Last contact: {KIND_ICON.get(last.kind, '')} {last.kind} by {t.user(last.logged_by)} on "
            f"{t.day(last.occurred_on)} — “{t.user_text(first_line, 200)}”")


_CLIENT_ID = "__client_id__"  # where the client's id goes in the actions' template


@functools.cache
def _nudge_actions_template() -> str:
    # Built (and validated) by the models once; each nudge only puts its client's id in. Thousands of nudges a
    # scan: validating the same buttons each time was most of a stale-nudges run.
    return json.dumps(ActionsBlock(block_id=f"stale:{_CLIENT_ID}", elements=[
        ButtonElement(text="Log contact", action_id=ActionId.LOG_CONTACT, value=_CLIENT_ID, style="primary"),
        StaticSelectElement(action_id=ActionId.SNOOZE, placeholder="Snooze…", options=[
            Option(value=f"{_CLIENT_ID}:{duration}", text=label) for duration, label in SNOOZE_CHOICES]),
    ]).to_dict())


def nudge_actions(client: Client) -> dict[str, Any]:
    return json.loads(_nudge_actions_template().replace(_CLIENT_ID, str(int(client.id))))


def nudge(stale: StaleClient) -> Message:
    """For the owner, in the client's internal channel."""
    client = stale.client
    lines = [f":wave: {t.user(client.owner_user_id)}, {_client(client)}: {silence_text(stale)}.",
             last_contact_text(stale)]
    return Message(text=f"{client.name}: no contact for {stale.days} days", blocks=[
        section("\n".join(lines)),
        nudge_actions(client),
        context("Log the contact when it happens (a call, a meeting, an email, a visit), or snooze these reminders."),
    ])


def escalation(stale: StaleClient, snoozed_until: dt.date | None) -> Message:
    """For the managers: more than twice the cadence."""
    client = stale.client
    lines = [f":rotating_light: {_client(client)} has had no contact for *{stale.days} days*, more than twice its "
             f"{t.cadence(client.cadence_days)} cadence. Owner: {t.user(client.owner_user_id)}.",
             last_contact_text(stale)]
    if snoozed_until is not None:
        lines.append(f"The owner's reminders are snoozed until {t.day(snoozed_until)}.")
    return Message(text=f"Escalation: no contact with {client.name} for {stale.days} days", blocks=[
        section("\n".join(lines))])


def nobody_to_nudge(stale: StaleClient) -> Message:
    """For the managers: a stale client whose nudge has nowhere to go."""
    client = stale.client
    missing = " and ".join(what for what, absent in (("no owner", not client.owner_user_id),
                                                      ("no internal channel", not client.internal_channel_id))
                           if absent)
    lines = [f":warning: {_client(client)}: {silence_text(stale)}, and nobody can be nudged: it has {missing}.",
             last_contact_text(stale)]
    return Message(text=f"{client.name} is past its cadence and has {missing}", blocks=[
        section("\n".join(lines)),
        context(t.escape(f"Name its one voice and its channel: `/cmo client set {client.key} owner:@someone "
                         "channel:#channel`")),
    ])


def snoozed(client: Client, until: dt.date, by: str) -> Message:
    """What a nudge says once someone snoozed it (its buttons gone)."""
    text = (f":zzz: Reminders about {_client(client)} snoozed by {t.user(by)} until {t.day(until)}. "
            "Log the contact when it happens: " + t.escape(f"`/cmo log {client.key} call <summary>`."))
    return Message(text=f"{client.name}: reminders snoozed until {until:%Y-%m-%d}", blocks=[section(text)])
