"""Promises: the replies to `/cmo promise`, `done`, `promise move` and `promises`, the reminders and nudges the
`promise-reminders` job posts (with a **Done** button), and their lines in `/cmo history`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.history import event_line
from bot.blocks.ids import ActionId
from bot.blocks.layout import context, header, packed_sections, section
from bot.db.models import AuditEvent, Client, Promise, PromiseMove

WHAT_LIMIT = 500
TIMES = {1: "once", 2: "twice"}


def what_text(promise: Promise, limit: int = WHAT_LIMIT) -> str:
    return f"*{t.user_text(promise.what, limit)}*"


def days_text(days: int) -> str:
    return f"{days} day{'s' if days != 1 else ''}"


def overdue_text(promise: Promise, today: dt.date) -> str | None:
    days = (today - promise.due_on).days
    if days <= 0:
        return None
    return f":warning: *overdue {days_text(days)}*"


def moves_text(moves: list[PromiseMove]) -> str | None:
    """"moved twice, last: <reason>"."""
    if not moves:
        return None
    times = TIMES.get(len(moves), f"{len(moves)} times")
    return f"moved {times}, last: _{t.user_text(moves[-1].reason, 200)}_"


def done_text(promise: Promise) -> str:
    note = f" — {t.user_text(promise.done_note, 300)}" if promise.done_note else ""
    return f":white_check_mark: Done by {t.user(promise.done_by)} on {promise.done_at:%Y-%m-%d %H:%M} UTC{note}"


def promise_line(promise: Promise, today: dt.date, *, client: Client | None = None,
                 moves: list[PromiseMove] | None = None) -> str:
    who = f"*{t.user_text(client.name, 200)}* · " if client is not None else ""
    parts = [f"*#{promise.id}* {who}{what_text(promise, 300)}", f"due {t.day(promise.due_on)}",
             f"owner {t.user(promise.owner_user_id)}"]
    late = overdue_text(promise, today)
    if late:
        parts.append(late)
    moved = moves_text(moves or [])
    if moved:
        parts.append(moved)
    return " · ".join(parts)


def promise_recorded(promise: Promise, client: Client) -> Message:
    lines = [f":handshake: Recorded promise *#{promise.id}* to *{t.user_text(client.name, 200)}*: {what_text(promise)}",
             f"Due *{t.day(promise.due_on)}* · owner {t.user(promise.owner_user_id)}",
             f"When it is kept: `/cmo done #{promise.id}`."
             + (" The owner is reminded in the client's internal channel the business day before it is due."
                if client.internal_channel_id else
                f" :warning: No reminders: {t.user_text(client.name, 200)} has no internal channel "
                f"(`/cmo client set {client.key} channel:#channel`).")]
    return Message(text=f"Recorded promise #{promise.id} to {client.name}", blocks=[section("\n".join(lines))])


def done_recorded(promise: Promise, client: Client) -> Message:
    message = (f":white_check_mark: Promise *#{promise.id}* to *{t.user_text(client.name, 200)}* "
               f"({what_text(promise, 300)}) is done.")
    note = f"Note: {t.user_text(promise.done_note, 500)}" if promise.done_note else None
    return Message(text=f"Promise #{promise.id} done", blocks=[section(message), *([context(note)] if note else [])])


def moved_recorded(promise: Promise, client: Client, move: PromiseMove, moves: list[PromiseMove]) -> Message:
    lines = [f":calendar: Promise *#{promise.id}* to *{t.user_text(client.name, 200)}* ({what_text(promise, 300)}) "
             f"moved: *{t.day(move.old_due_on)}* → *{t.day(move.new_due_on)}*",
             f"*Reason:* {t.user_text(move.reason, 1500)}"]
    blocks = [section("\n".join(lines))]
    if len(moves) > 1:
        blocks.append(context(f":repeat: This promise has moved {TIMES.get(len(moves), f'{len(moves)} times')}: "
                              "the client will notice."))
    return Message(text=f"Promise #{promise.id} moved to {move.new_due_on:%Y-%m-%d}", blocks=blocks)


def promises_list(promises: list[Promise], clients: dict[int, Client], todays: dict[int, dt.date],
                  moves: dict[int, list[PromiseMove]], *, title: str, one_client: bool) -> Message:
    """Overdue first (the longest overdue first), then by due date."""
    if not promises:
        message = f"{title}: none."
        return Message(text=message, blocks=[section(t.escape(message))])
    ordered = sorted(promises, key=lambda p: (p.due_on >= todays[p.client_id], p.due_on, p.id))
    overdue = sum(1 for p in promises if p.due_on < todays[p.client_id])
    lines = [promise_line(p, todays[p.client_id], client=None if one_client else clients.get(p.client_id),
                          moves=moves.get(p.id)) for p in ordered]
    return Message(text=f"{title}: {len(promises)}, {overdue} overdue", blocks=[
        header(title), *packed_sections(lines),
        context(t.escape(f"{len(promises)} open, {overdue} overdue · mark one kept: `/cmo done #<id>`")),
    ])


def done_button(promise: Promise, block_id: str) -> dict[str, Any]:
    return ActionsBlock(block_id=block_id, elements=[
        ButtonElement(text="Done", action_id=ActionId.PROMISE_DONE, value=str(promise.id), style="primary"),
    ]).to_dict()


def reminder(promise: Promise, client: Client) -> Message:
    """The business day before the due date, in the internal channel."""
    message = (f":alarm_clock: {t.user(promise.owner_user_id)}: promise #{promise.id} to "
               f"*{t.user_text(client.name, 200)}* is due *{t.day(promise.due_on)}*: {what_text(promise)}")
    return Message(text=f"Promise #{promise.id} to {client.name} is due {promise.due_on:%Y-%m-%d}", blocks=[
        section(message), done_button(promise, f"promise:{promise.id}:due")])


def overdue_nudge(promise: Promise, client: Client, today: dt.date) -> Message:
    days = max(1, (today - promise.due_on).days)
    message = (f":bell: {t.user(promise.owner_user_id)}: promise #{promise.id} to *{t.user_text(client.name, 200)}* "
               f"was due *{t.day(promise.due_on)}* and is overdue ({days_text(days)}): {what_text(promise)}\n"
               + t.escape(f"Keep it and mark it done, or move it with a reason: `/cmo promise move #{promise.id} "
                          'to:<date> reason:"<why>"`.'))
    return Message(text=f"Promise #{promise.id} to {client.name} is overdue", blocks=[
        section(message), done_button(promise, f"promise:{promise.id}:overdue")])


def escalation(promise: Promise, client: Client, business_days: float) -> Message:
    message = (f":rotating_light: Escalation: promise #{promise.id} to *{t.user_text(client.name, 200)}* "
               f"({what_text(promise, 300)}) was due {t.day(promise.due_on)} and is still open after "
               f"{business_days:.0f} business days. Owner: {t.user(promise.owner_user_id)}.")
    return Message(text=f"Escalation: promise #{promise.id} to {client.name} is overdue", blocks=[section(message)])


def done_by(promise: Promise, client: Client) -> Message:
    """What a reminder or a nudge turns into once its Done button was pressed."""
    message = (f"{done_text(promise)}: promise #{promise.id} to *{t.user_text(client.name, 200)}*, "
               f"{what_text(promise, 300)} (due {t.day(promise.due_on)}).")
    return Message(text=f"Promise #{promise.id} done", blocks=[section(message)])


# -- /cmo history ----------------------------------------------------------------------------------------------

@event_line("promise.add")
def _added(event: AuditEvent) -> str:
    after = event.after or {}
    return (f"recorded promise #{event.entity_id}: {t.user_text(str(after.get('what', '')), 200)}, due "
            f"{t.escape(str(after.get('due_on')))}, owner {t.user(after.get('owner_user_id'))}")


@event_line("promise.done")
def _done(event: AuditEvent) -> str:
    note = (event.after or {}).get("done_note")
    return f"marked promise #{event.entity_id} done" + (f" ({t.user_text(str(note), 200)})" if note else "")


@event_line("promise.move")
def _moved(event: AuditEvent) -> str:
    before, after = event.before or {}, event.after or {}
    return (f"moved promise #{event.entity_id} from {t.escape(str(before.get('due_on')))} to "
            f"{t.escape(str(after.get('due_on')))}; reason: {t.user_text(str(after.get('move_reason', '')), 200)}")


def overdue_section(overdue: dict[int, list[Promise]], clients: dict[int, Client], todays: dict[int, dt.date],
                    *, limit: int = 15) -> list[dict[str, Any]]:
    """For the weekly digest: the overdue promises of the portfolio, the longest overdue first."""
    promises = sorted((p for found in overdue.values() for p in found), key=lambda p: (p.due_on, p.id))
    if not promises:
        return []
    lines = [promise_line(p, todays[p.client_id], client=clients.get(p.client_id)) for p in promises[:limit]]
    more = [context(f"and {len(promises) - limit} more: `/cmo promises overdue`")] if len(promises) > limit else []
    return [section(f"*Overdue promises* ({len(promises)})"), *packed_sections(lines, max_sections=3), *more]
