"""Meetings: the replies to `/cmo meeting ...`, the reminder with its prep brief, and the prompt to log
notes afterwards. Times are shown with Slack's date formatting, so each reader sees their own zone; the
fallback names the meeting's zone."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.ids import ActionId
from bot.blocks.layout import context, header, packed_sections, section
from bot.db.models import Client, Meeting
from bot.services.recurrence import Occurrence, WallClock, describe

if TYPE_CHECKING:  # the brief's sections render with these blocks' helpers: no import at run time
    from bot.brief import Part
    from bot.services.meetings import Upcoming


def _client(client: Client) -> str:
    return f"*{t.user_text(client.name, 200)}* (`{client.key}`)"


def _title(meeting: Meeting) -> str:
    return f"*{t.user_text(meeting.title, 200)}*"


def plain_time(occurrence: Occurrence) -> str:
    local = occurrence.local_start
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()} ({occurrence.zone.key})"


def when(occurrence: Occurrence) -> str:
    """The start in the reader's own zone (Slack renders it), with a fallback that names the meeting's zone."""
    stamp = int(occurrence.starts_at.timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{plain_time(occurrence)}>"


def duration_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def lead_text(minutes: int) -> str:
    """How long before: "1 hour", "24 hours", "30 minutes", "2 days"."""
    if minutes % (24 * 60) == 0 and minutes >= 48 * 60:
        days = minutes // (24 * 60)
        return f"{days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def until_text(delta: dt.timedelta) -> str:
    """How long until it starts: "45 minutes", "1 hour", "10 hours", "2 h 30 min", "2 days"."""
    minutes = max(1, round(delta.total_seconds() / 60))
    if minutes < 120:  # a 90-minute lead is "90 minutes", not "2 hours"
        return f"{minutes} minute{'s' if minutes != 1 else ''}" if minutes != 60 else "1 hour"
    hours, rest = divmod(minutes, 60)
    if hours < 48:  # a 36-hour lead is "36 hours", not "2 days"; late after downtime, "2 h 30 min"
        return f"{hours} hours" if not rest else f"{hours} h {rest} min"
    days, rest_hours = divmod(round(minutes / 60), 24)
    return f"{days} days" if not rest_hours else f"{days} days {rest_hours} h"


def reminders_text(meeting: Meeting) -> str:
    leads = meeting.reminder_minutes or []
    return ("reminders " + ", ".join(f"{lead_text(m)} before" for m in leads)) if leads else "no reminders"


def rule_text(meeting: Meeting) -> str:
    return describe(meeting.rule, meeting.starts_on) + f" at {meeting.at:%H:%M} {meeting.timezone}"


def wall_clock_note(occurrence: Occurrence, meeting: Meeting) -> str | None:
    """Said where the meeting's wall time does not exist, or exists twice, on a daylight-saving change day."""
    day = f"{occurrence.due_on:%a %Y-%m-%d}"
    if occurrence.wall is WallClock.GAP:
        return (f":clock3: On {day} {meeting.at:%H:%M} does not exist in {meeting.timezone} (the clocks go "
                f"forward): that meeting is at {occurrence.local_start:%H:%M} {occurrence.local_start.tzname()}.")
    if occurrence.wall is WallClock.FOLD:
        return (f":clock3: On {day} {meeting.at:%H:%M} happens twice in {meeting.timezone} (the clocks go back): "
                f"that meeting is at the first, {occurrence.local_start.tzname()}.")
    return None


def calendar_button(meeting: Meeting) -> dict[str, Any]:
    return ButtonElement(text="Add to calendar", action_id=ActionId.ADD_TO_CALENDAR, value=str(meeting.id)).to_dict()


def meeting_added(meeting: Meeting, client: Client, upcoming: list[Occurrence], notes: list[str],
                  channel_id: str | None) -> Message:
    lines = [f":calendar: Meeting `#{meeting.id}` {_title(meeting)} with {_client(client)}: {rule_text(meeting)}, "
             f"{duration_text(meeting.duration_minutes)}.",
             "Next: " + (", ".join(when(o) for o in upcoming) or "none"),
             (f"{reminders_text(meeting).capitalize()}, in {t.channel(channel_id)}, with a prep brief; the owner "
              f"{t.user(client.owner_user_id)} is mentioned." if meeting.reminder_minutes else
              "No reminders (`remind:none`).")]
    hints = [*notes]
    if channel_id is None:
        hints.append(t.escape(f"No channel for the reminders: give the meeting `channel:#...`, or the client one with "
                              f"`/cmo client set {client.key} channel:#channel`."))
    hints.append(t.escape(f"Skip one: `/cmo meeting skip #{meeting.id} <date>` · move one: `/cmo meeting move "
                          f"#{meeting.id} <date> at:<HH:MM>`"))
    return Message(text=f"Meeting #{meeting.id} added: {meeting.title} with {client.name}", blocks=[
        section("\n".join(lines)),
        ActionsBlock(block_id=f"meeting:{meeting.id}", elements=[calendar_button(meeting)]).to_dict(),
        context(*hints),
    ])


def meeting_line(meeting: Meeting, client: Client, next_one: Occurrence | None) -> str:
    following = f"next {when(next_one)}" if next_one else "no occurrence ahead"
    return (f"`#{meeting.id}` {_title(meeting)} · {_client(client)} · {rule_text(meeting)} · {following} · "
            f"{duration_text(meeting.duration_minutes)} · {reminders_text(meeting)}"
            + (f" · in {t.channel(meeting.channel_id)}" if meeting.channel_id else ""))


def meeting_list(rows: list[tuple[Meeting, Client, Occurrence | None]], *, scope: str) -> Message:
    title = f"{scope}: meetings"
    if not rows:
        text = "No meetings planned. Add one: `/cmo meeting add <client> \"<title>\" every:week on:tue at:10:00`"
        return Message(text=f"{title}: none", blocks=[section(t.escape(text))])
    return Message(text=f"{title} ({len(rows)})", blocks=[
        header(f"{title} ({len(rows)})"),
        *packed_sections(meeting_line(m, c, o) for m, c, o in rows),
        context(t.escape("Times show in your own time zone. `/cmo meeting cancel #<id>` · "
                         "`/cmo meeting skip #<id> <date>`")),
    ])


def meeting_cancelled(meeting: Meeting, client: Client, withdrawn: int) -> Message:
    text = f":x: Cancelled meeting `#{meeting.id}` {_title(meeting)} with {_client(client)}."
    if withdrawn:
        text += f" {withdrawn} reminder(s) waiting to be posted were withdrawn."
    return Message(text=f"Cancelled meeting #{meeting.id}: {meeting.title}", blocks=[section(text)])


def occurrence_skipped(meeting: Meeting, client: Client, skipped: Occurrence, next_one: Occurrence | None) -> Message:
    text = (f":fast_forward: Skipped the {_title(meeting)} with {_client(client)} of {when(skipped)}: no reminder, "
            f"no prompt for it. Next: {when(next_one) if next_one else 'none'}.")
    return Message(text=f"Skipped {meeting.title} on {skipped.local_day:%Y-%m-%d}", blocks=[section(text)])


def occurrence_moved(meeting: Meeting, client: Client, before: Occurrence, after: Occurrence) -> Message:
    text = (f":arrow_right: Moved the {_title(meeting)} with {_client(client)} of {when(before)} to *{when(after)}*. "
            "Only this one moves; its reminders follow it.")
    return Message(text=f"Moved {meeting.title} to {plain_time(after)}", blocks=[section(text)])


def brief_blocks(parts: list[Part]) -> list[dict[str, Any]]:
    blocks = []
    for part in parts:
        lines = [f"• {line}" for line in part.lines] or [f"_{part.empty}_"]
        if part.more:
            lines.append(f"_…and {part.more} more._")
        blocks.append(section(f"*{part.title}*\n" + "\n".join(lines)))
    return blocks


def reminder(meeting: Meeting, client: Client, occurrence: Occurrence, now: dt.datetime, parts: list[Part]) -> Message:
    """Before an occurrence, in the meeting's channel: when (and how soon, as of `now`), who, the prep brief."""
    moved = " (moved)" if occurrence.moved else ""
    soon = until_text(occurrence.starts_at - now)
    owner = f"{t.user(client.owner_user_id)}, " if client.owner_user_id else ""
    lines = [f":calendar: {owner}{_title(meeting)} with {_client(client)} starts in "
             f"{soon}: *{when(occurrence)}*{moved}, {duration_text(meeting.duration_minutes)}."]
    note = wall_clock_note(occurrence, meeting)
    if note:
        lines.append(note)
    return Message(
        text=f"{meeting.title} with {client.name} starts in {soon}: {plain_time(occurrence)}",
        blocks=[
            section("\n".join(lines)),
            *brief_blocks(parts),
            ActionsBlock(block_id=f"meeting:{meeting.id}:{occurrence.due_on:%Y-%m-%d}",
                         elements=[calendar_button(meeting)]).to_dict(),
            context(t.escape(f"Meeting #{meeting.id} · {describe(meeting.rule, meeting.starts_on)} · log what is "
                             f"agreed: /cmo log {client.key} meeting <summary>")),
        ])


def notes_prompt(meeting: Meeting, client: Client, occurrence: Occurrence) -> Message:
    """After the meeting day, nothing logged: one prompt to the owner."""
    text = (f":memo: {t.user(client.owner_user_id)}, the {_title(meeting)} with {_client(client)} was on "
            f"{when(occurrence)}, and no meeting notes are logged for it. Write down what was agreed while it is "
            "fresh.")
    return Message(text=f"Log the notes of {meeting.title} with {client.name} ({occurrence.local_day:%Y-%m-%d})",
                   blocks=[section(text), ActionsBlock(block_id=f"notes:{meeting.id}", elements=[
                       ButtonElement(text="Log notes", action_id=ActionId.LOG_NOTES, style="primary",
                                     value=f"{meeting.id}:{occurrence.due_on:%Y-%m-%d}")]).to_dict()])


def notes_summary(meeting: Meeting, day: dt.date) -> str:
    """What the log form starts from, after a meeting."""
    return f"{meeting.title} ({day:%a %Y-%m-%d}): "


def week_meetings(items: list[Upcoming], *, limit: int = 40) -> list[dict[str, Any]]:
    """The week's meetings, for the managers' digest: when, what, with whom, whose."""
    if not items:
        return [section("*This week's meetings*\n_None planned._")]
    lines = [f"• {when(i.occurrence)} — {_title(i.meeting)} with {_client(i.client)} · owner "
             f"{t.user(i.client.owner_user_id)}" for i in items[:limit]]
    if len(items) > limit:
        lines.append(f"_…and {len(items) - limit} more: `/cmo meeting list`._")
    return [section(f"*This week's meetings* ({len(items)})"), *packed_sections(lines, max_sections=4)]


def occurrence_changed(meeting: Meeting, client: Client, before: Occurrence, after: Occurrence | None,
                       by: str) -> Message:
    """In the channel that was reminded of an occurrence: it is skipped, or moved."""
    if after is None:
        text = (f":fast_forward: The {_title(meeting)} with {_client(client)} of {when(before)} is skipped "
                f"({t.user(by)}).")
        fallback = f"{meeting.title} with {client.name} on {before.local_day:%Y-%m-%d} is skipped"
    else:
        text = (f":arrow_right: The {_title(meeting)} with {_client(client)} of {when(before)} moves to "
                f"*{when(after)}* ({t.user(by)}).")
        fallback = f"{meeting.title} with {client.name} moves to {plain_time(after)}"
    return Message(text=fallback, blocks=[section(text)])
