"""Schedule changes: the announcement in the internal channel, follow-ups, lists, and the client draft."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.ids import ActionId, CallbackId
from bot.blocks.layout import context, header, packed_sections, section
from bot.blocks.lessons import lessons_from_before
from bot.db.models import Client, ScheduleChange
from bot.services.changes import SlipHistory
from bot.services.lessons import LessonsBefore

DRAFT_INPUT_LIMIT = 3000


def tell_buttons(change: ScheduleChange, block_id: str, *, editable: bool = False) -> dict[str, Any]:
    """The buttons "Mark client told" and "Draft message to client", on whatever asks to tell the client (and
    "Edit", on the announcement itself)."""
    return ActionsBlock(block_id=block_id, elements=[
        ButtonElement(text="Mark client told", action_id=ActionId.MARK_TOLD, value=str(change.id), style="primary"),
        ButtonElement(text="Draft message to client", action_id=ActionId.DRAFT, value=str(change.id)),
        *([edit_button(change)] if editable else []),
    ]).to_dict()


def edit_button(change: ScheduleChange) -> ButtonElement:
    return ButtonElement(text="Edit", action_id=ActionId.EDIT_RECORD, value=f"#{change.id}")


def slip_text(days: int | None) -> str:
    if days is None:
        return "previous date not given"
    if days > 0:
        return f"slips {days} day{'s' if days != 1 else ''}"
    return f"pulled in {-days} day{'s' if days != -1 else ''}"


def dates_text(change: ScheduleChange) -> str:
    if change.old_date is None:
        return f"new date *{t.day(change.new_date)}* ({slip_text(None)})"
    return f"*{t.day(change.old_date)}* → *{t.day(change.new_date)}* ({slip_text(change.slip_days)})"


def item_text(change: ScheduleChange) -> str:
    project = f" (project {t.user_text(change.project, 200)})" if change.project else ""
    return f"*{t.user_text(change.item, 300)}*{project}"


def history_text(history: SlipHistory) -> str | None:
    if not history.times:
        return None
    times = "once" if history.times == 1 else f"{history.times} times"
    return (f":repeat: This item has moved {times} before ({history.total_days:+d} days in total); "
            "manage the client's expectations against that history.")


def told_text(change: ScheduleChange) -> str:
    how = f" — {t.user_text(change.told_how, 300)}" if change.told_how else ""
    return f":white_check_mark: Client told by {t.user(change.told_by)} on {change.told_at:%Y-%m-%d %H:%M} UTC{how}"


def announcement(change: ScheduleChange, client: Client, history: SlipHistory) -> Message:
    """Posted in the client's internal channel at once; the buttons go once the client is told."""
    lines = [f":calendar: *Schedule change #{change.id}* for *{t.user_text(client.name, 200)}*: {item_text(change)}",
             dates_text(change),
             f"*Reason:* {t.user_text(change.reason, 1500)}",
             f"Logged by {t.user(change.logged_by)}. "
             + (f"{t.user(client.owner_user_id)}, please tell the client and mark it told."
                if client.owner_user_id else "Nobody owns this client: name an owner to tell them.")]
    blocks = [section("\n".join(lines))]
    repeated = history_text(history)
    if repeated:
        blocks.append(context(repeated))
    if change.told_at is None:
        blocks.append(tell_buttons(change, f"change:{change.id}", editable=True))
    else:
        blocks.append(context(told_text(change)))  # told: `/cmo edit #<id>` still corrects it
    fallback = f"Schedule change #{change.id} for {client.name}: {change.item} to {change.new_date:%Y-%m-%d}"
    return Message(text=fallback, blocks=blocks)


def change_recorded(change: ScheduleChange, client: Client, history: SlipHistory,
                    before: LessonsBefore | None = None) -> Message:
    where = (f"Announced in {t.channel(client.internal_channel_id)}." if client.internal_channel_id else
             f":warning: Not announced: {t.user_text(client.name, 200)} has no internal channel "
             f"(`/cmo client set {client.key} channel:#channel`).")
    lines = [f":white_check_mark: Recorded schedule change *#{change.id}* for *{t.user_text(client.name, 200)}*: "
             f"{item_text(change)}", dates_text(change), where,
             f"When the client has been told: `/cmo told #{change.id}`."]
    blocks = [section("\n".join(lines))]
    repeated = history_text(history)
    if repeated:
        blocks.append(context(repeated))
    if before:
        blocks += lessons_from_before(before.tied, before.matching, client, before.clients, before.changes,
                                      before.terms)
    return Message(text=f"Recorded schedule change #{change.id} for {client.name}", blocks=blocks)


def told_recorded(change: ScheduleChange, client: Client) -> Message:
    message = (f":white_check_mark: #{change.id} {item_text(change)} for *{t.user_text(client.name, 200)}*: "
               f"marked as told to the client.")
    return Message(text=f"#{change.id} marked as told to the client", blocks=[section(message)])


def told_notice(change: ScheduleChange, client: Client) -> Message:
    """For the internal channel: the loop is closed."""
    message = (f"{told_text(change)}: schedule change #{change.id} for *{t.user_text(client.name, 200)}*, "
               f"{item_text(change)} → {t.day(change.new_date)}.")
    return Message(text=f"Client told about schedule change #{change.id}", blocks=[section(message)])


def _change_line(change: ScheduleChange, client: Client | None) -> str:
    who = f"*{t.user_text(client.name, 200)}* · " if client else ""
    status = (f"told by {t.user(change.told_by)} {change.told_at:%Y-%m-%d}" if change.told_at
              else ":hourglass: *not told yet*")
    return (f"*#{change.id}* {who}{item_text(change)} · {dates_text(change)} · {status}\n"
            f"    _{t.user_text(change.reason, 300)}_")


def changes_list(changes: list[ScheduleChange], clients: dict[int, Client], *, title: str,
                 one_client: bool) -> Message:
    if not changes:
        message = f"{title}: none."
        return Message(text=message, blocks=[section(t.escape(message))])
    lines = [_change_line(c, None if one_client else clients.get(c.client_id)) for c in changes]
    untold = sum(1 for c in changes if c.told_at is None)
    return Message(text=f"{title}: {len(changes)}, {untold} not told yet", blocks=[
        header(title), *packed_sections(lines),
        context(t.escape("Mark one told: `/cmo told #<id>` · newest first")),
    ])


def open_changes_section(changes: list[ScheduleChange]) -> list[dict[str, Any]]:
    if not changes:
        return []
    return [section("*Open schedule changes* (not told to the client)"),
            *packed_sections(_change_line(c, None) for c in changes)]


def followup_nudge(change: ScheduleChange, client: Client, hours: float) -> Message:
    owner = t.user(client.owner_user_id) if client.owner_user_id else "Nobody owns this client; someone"
    message = (f":bell: {owner}: schedule change #{change.id} for *{t.user_text(client.name, 200)}* "
               f"({item_text(change)}, {dates_text(change)}) has not been told to the client after "
               f"{hours:.0f} business hours. Tell them, then mark it told.")
    return Message(text=f"Schedule change #{change.id} not told to {client.name} yet", blocks=[
        section(message),
        tell_buttons(change, f"change:{change.id}:nudge"),
    ])


def followup_escalation(change: ScheduleChange, client: Client, hours: float) -> Message:
    message = (f":rotating_light: Escalation: schedule change #{change.id} for *{t.user_text(client.name, 200)}* "
               f"({item_text(change)}, {dates_text(change)}) is still not told to the client after {hours:.0f} "
               f"business hours. Owner: {t.user(client.owner_user_id)}. Reason logged: "
               f"{t.user_text(change.reason, 500)}")
    return Message(text=f"Escalation: schedule change #{change.id} for {client.name} not told", blocks=[
        section(message)])


def draft_text(change: ScheduleChange, client: Client) -> str:
    """A client-facing draft: the item, the new date, the reason. Nothing internal, no names but the sender."""
    previously = f" (previously {change.old_date:%A %d %B %Y})" if change.old_date else ""
    project = f" ({change.project})" if change.project else ""
    return (f"Dear {client.name} team,\n\n"
            f"we have an update to the schedule for {change.item}{project}: the new date is "
            f"{change.new_date:%A %d %B %Y}{previously}.\n\n"
            f"Reason: {change.reason}\n\n"
            "We are sorry for the change, and we will keep you informed of any further news. "
            "Please let us know if you have questions.")


def draft_modal(change: ScheduleChange, client: Client) -> dict[str, Any]:
    where = (f"Posted to the client's shared channel {t.channel(client.shared_channel_id)} when you press "
             "Send, and the change is marked told." if client.shared_channel_id else
             f"{t.user_text(client.name, 200)} has no shared channel: Send records this text and marks the "
             "change told; send it to the client yourself.")
    return View(
        type="modal", callback_id=CallbackId.DRAFT, title="Message to client", submit="Send", close="Cancel",
        private_metadata=json.dumps({"change_id": change.id}),
        blocks=[
            section(f"Schedule change #{change.id}: {item_text(change)} for *{t.user_text(client.name, 200)}*"),
            InputBlock(block_id="draft", label="Message (edit before sending)", element=PlainTextInputElement(
                action_id=ActionId.VALUE, multiline=True, max_length=DRAFT_INPUT_LIMIT,
                initial_value=t.clip(draft_text(change, client), DRAFT_INPUT_LIMIT))),
            context(where),
        ],
    ).to_dict()


def client_message_failed(change: ScheduleChange, client: Client, error: str) -> Message:
    """For the internal channel: the owner's message never reached the client, so the change is open again."""
    owner = t.user(client.owner_user_id) if client.owner_user_id else "Nobody owns this client; someone"
    message = (f":warning: {owner}: the message to *{t.user_text(client.name, 200)}* about schedule change "
               f"#{change.id} ({item_text(change)}) could not be posted in {t.channel(client.shared_channel_id)}: "
               f"{t.user_text(error, 300)}. The change is open again: invite Rapport to the shared channel and send "
               "it again, or tell the client another way and mark it told.")
    return Message(text=f"The message to {client.name} about schedule change #{change.id} was not posted", blocks=[
        section(message),
        tell_buttons(change, f"change:{change.id}:resend"),
    ])
