"""Replies to `/cmo` commands (ephemeral unless a command exists to inform a channel)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.blocks import Message
from bot.blocks import meetings as meeting_blocks
from bot.blocks import text as t
from bot.blocks.changes import open_changes_section
from bot.blocks.health import HEALTH_ICON, health_line, reason
from bot.blocks.history import EVENT_LINES
from bot.blocks.layout import MAX_BLOCKS, context, divider, header, packed_sections, section  # noqa: F401
from bot.db.models import AuditEvent, Client, Interaction, InteractionKind
from bot.errors import USER, UserError
from bot.services.meetings import Upcoming
from bot.services.status import ClientStatus, HealthLevel, PortfolioRow

if TYPE_CHECKING:
    from bot.brief import Part

KIND_ICON = {InteractionKind.CALL: ":telephone_receiver:", InteractionKind.MEETING: ":busts_in_silhouette:",
             InteractionKind.EMAIL: ":email:", InteractionKind.VISIT: ":factory:", InteractionKind.NOTE: ":memo:"}


def with_article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def error(message: str, usage: str | None = None) -> Message:
    return user_error(UserError(message, usage=usage))


def user_error(error: UserError, *, show_usage: bool = True) -> Message:
    # Messages quote what the user typed: escaped whole, so nothing in them can ping or link; the person
    # the error names (if any) becomes a real mention.
    parts = error.message.split(USER) if error.user_id else [error.message]
    blocks = [section(":warning: " + t.user(error.user_id).join(t.escape(part) for part in parts))]
    usage = error.usage if show_usage else None
    if usage:
        blocks.append(context("*Right form:*\n" + "\n".join(f"`{t.escape(line)}`" for line in usage.splitlines())))
    fallback = error.text(lambda user_id: f"@{user_id}")
    return Message(text=fallback + (f"\nRight form: {usage}" if usage else ""), blocks=blocks)


def not_yet_available(subcommand: str) -> Message:
    message = (f"`/cmo {subcommand}` is part of Rapport's plan but not in this version yet. "
               "`/cmo help` lists what works today.")
    return Message(text=message, blocks=[section(f":construction: {message}")])


def _client_line(client: Client) -> str:
    parts = [f"*{t.user_text(client.name, 200)}* (`{client.key}`)", f"owner {t.user(client.owner_user_id)}",
             f"cadence {t.cadence(client.cadence_days)}"]
    if client.internal_channel_id:
        parts.append(f"internal {t.channel(client.internal_channel_id)}")
    if client.shared_channel_id:
        parts.append(f"shared {t.channel(client.shared_channel_id)}")
    if client.timezone:
        parts.append(client.timezone)
    if client.country:
        parts.append(client.country)
    return " · ".join(parts)


def client_list(clients: list[Client]) -> Message:
    if not clients:
        message = "No clients yet. Add one with `/cmo client add <name>`."
        return Message(text=message, blocks=[section(t.escape(message))])
    blocks = [header(f"Clients ({len(clients)})"), *packed_sections(_client_line(c) for c in clients)]
    return Message(text=f"{len(clients)} clients", blocks=blocks)


def client_added(client: Client) -> Message:
    lines = [f":white_check_mark: Added {_client_line(client)}."]
    hints = []
    if not client.owner_user_id:
        hints.append(f"Name its one voice: `/cmo client set {client.key} owner:@someone`")
    if not client.internal_channel_id:
        hints.append(f"Give it an internal channel: `/cmo client set {client.key} channel:#channel`")
    hints.append(t.escape(f"Log contact: `/cmo log {client.key} call <summary>`"))
    return Message(text=f"Added {client.name} ({client.key})",
                   blocks=[section("\n".join(lines)), context(*hints)])


FIELD_LABELS = {
    "key": "key", "name": "name", "owner_user_id": "owner", "internal_channel_id": "internal channel",
    "shared_channel_id": "shared channel", "cadence_days": "cadence", "timezone": "time zone",
    "archived_at": "archived", "kind": "kind", "summary": "summary", "occurred_on": "on",
    "contact_name": "with", "next_contact_on": "next", "permalink": "message", "country": "country",
    "snoozed_until": "snoozed until",
}


def field_value(name: str, value: Any) -> str:
    if value is None:
        return "none"
    if name == "owner_user_id":
        return t.user(value)
    if name in ("internal_channel_id", "shared_channel_id"):
        return t.channel(value)
    if name == "cadence_days":
        return t.cadence(value)
    if name == "archived_at":
        return str(value)[:10]
    return f"`{t.user_text(str(value), 200)}`" if name in ("key",) else t.user_text(str(value), 300)


def client_updated(client: Client, changed: dict[str, tuple]) -> Message:
    if not changed:
        message = f"Nothing changed: {client.name} already has those settings."
        return Message(text=message, blocks=[section(t.escape(message))])
    lines = [f"• {FIELD_LABELS[name]}: {field_value(name, old)} → {field_value(name, new)}"
             for name, (old, new) in changed.items()]
    return Message(
        text=f"Updated {client.name}",
        blocks=[section(f":white_check_mark: Updated *{t.user_text(client.name, 200)}* (`{client.key}`)\n"
                        + "\n".join(lines))],
    )


def client_archived(client: Client) -> Message:
    message = (f":file_cabinet: Archived *{t.user_text(client.name, 200)}* (`{client.key}`). "
               "Its history is kept: `/cmo history " + client.key + "`.")
    return Message(text=f"Archived {client.name}", blocks=[section(message)])


def _interaction_line(interaction: Interaction, today: dt.date, summary_limit: int = 300) -> str:
    who = f" with {t.user_text(interaction.contact_name, 100)}" if interaction.contact_name else ""
    link = f" <{interaction.permalink}|message>" if interaction.permalink else ""
    return (f"{KIND_ICON[interaction.kind]} *{interaction.kind}*{who} · {t.day(interaction.occurred_on)} "
            f"({t.days_ago(interaction.occurred_on, today)}) · by {t.user(interaction.logged_by)}{link}\n"
            f"> {t.user_text(interaction.summary, summary_limit).replace(chr(10), chr(10) + '> ')}")


def interaction_logged(client: Client, interaction: Interaction, today: dt.date,
                       hints: Sequence[str] = ()) -> Message:
    """`hints`: more to say under it (mrkdwn, user text escaped), like a `with:` that is not a known contact."""
    lines = [f":white_check_mark: Logged for *{t.user_text(client.name, 200)}* (`{client.key}`)",
             _interaction_line(interaction, today, summary_limit=2500)]
    hints = list(hints)
    if interaction.next_contact_on:
        hints.append(f"Next contact planned {t.day(interaction.next_contact_on)}")
    if len(t.render(interaction.summary)) > 2500:  # as `user_text` measures it before clipping
        hints.append(f"Summary stored whole ({len(interaction.summary):,} characters); shown clipped.")
    blocks = [section("\n".join(lines))]
    if hints:
        blocks.append(context(*hints))
    return Message(text=f"Logged {with_article(interaction.kind)} for {client.name}", blocks=blocks)


def status(status: ClientStatus, parts: Sequence[Part] = ()) -> Message:
    """One client's status; `parts` are its open promises, agreed lines, peer coverage (bot/brief)."""
    client = status.client
    facts = [
        health_line(status.health),
        f"*Owner* {t.user(client.owner_user_id)} · *cadence* {t.cadence(client.cadence_days)}"
        f" · *internal* {t.channel(client.internal_channel_id)}"
        + (f" · *shared* {t.channel(client.shared_channel_id)}" if client.shared_channel_id else "")
        + (f" · {client.timezone}" if client.timezone else "")
        + (f" · {client.country}" if client.country else ""),
    ]
    if client.snoozed_until and client.snoozed_until > status.today:
        facts.append(f":zzz: *Snoozed until* {t.day(client.snoozed_until)}: no reminders about contact before then")
    if status.last_contact:
        last = status.last_contact
        facts.append(f"*Last contact* {t.day(last.occurred_on)} ({t.days_ago(last.occurred_on, status.today)}),"
                     f" {last.kind} by {t.user(last.logged_by)}")
    else:
        facts.append("*Last contact* none logged yet")
    if status.next_contact_on:
        facts.append(f"*Next contact planned* {t.day(status.next_contact_on)}")
    if status.next_meeting:
        facts.append(f"*Next meeting* {next_meeting_text(status.next_meeting)}")
    blocks = [header(f"{client.name} ({client.key})"), section("\n".join(facts))]
    blocks += open_changes_section(status.open_changes)
    if parts:
        blocks += [divider(), *meeting_blocks.brief_blocks(list(parts))]
    if status.recent:
        blocks += [divider(), section("*Latest interactions*"),
                   *[section(_interaction_line(i, status.today)) for i in status.recent]]
    else:
        blocks.append(context(t.escape(f"Log the first contact: `/cmo log {client.key} call <summary>`")))
    return Message(text=f"{client.name}: {status.health.level}, {reason(status.health)}", blocks=blocks)


def next_meeting_text(upcoming: Upcoming) -> str:
    return (f"{meeting_blocks.when(upcoming.occurrence)} — {t.user_text(upcoming.meeting.title, 200)} "
            f"(`#{upcoming.meeting.id}`)")


def portfolio(rows: list[PortfolioRow], *, title: str, empty: str) -> Message:
    if not rows:
        return Message(text=empty, blocks=[section(t.escape(empty))])
    counts = {level: sum(1 for r in rows if r.health.level == level) for level in reversed(HealthLevel)}
    summary = " · ".join(f"{HEALTH_ICON[level]} {n} {level}" for level, n in counts.items() if n)
    lines = [f"{HEALTH_ICON[r.health.level]} *{t.user_text(r.client.name, 200)}* (`{r.client.key}`) · "
             f"{reason(r.health)} · owner {t.user(r.client.owner_user_id)}"
             + (f" · snoozed until {t.day(r.client.snoozed_until)}" if r.snoozed else "")
             + (f" · next meeting {meeting_blocks.when(r.next_meeting.occurrence)}" if r.next_meeting else "")
             for r in rows]
    blocks = [header(title), context(summary), *packed_sections(lines),
              context(t.escape("Details: `/cmo status <client>` · how health is judged: `/cmo help health`"))]
    # The fallback is read aloud and shown in notifications: counts only, no emoji codes.
    counted = " · ".join(f"{n} {level}" for level, n in counts.items() if n)
    return Message(text=f"{title}: {counted}", blocks=blocks)


EDIT_LABELS = {"item": "item", "project": "project", "old_date": "planned date", "new_date": "new date",
               "reason": "cause"}


def edit_line(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What an edit changed, old → new, each field on its own: the previous version stays readable."""
    changes = [f"{EDIT_LABELS.get(k, FIELD_LABELS.get(k, k))} {field_value(k, before.get(k))} → "
               f"{field_value(k, after.get(k))}" for k in after if k != "edit_reason"]
    return "; ".join(changes) or "nothing"


def _event_line(event: AuditEvent, zone: ZoneInfo) -> str:
    when = event.occurred_at.astimezone(zone)
    by = f"{when:%Y-%m-%d %H:%M} {when.tzname()} · {t.user(event.actor_user_id)} · _{event.surface.replace('_', ' ')}_"
    before, after = event.before or {}, event.after or {}
    if event.action == "client.add":
        what = f"added the client as *{t.user_text(after.get('name', ''), 200)}* (`{after.get('key')}`)"
    elif event.action == "client.archive":
        what = "archived the client"
    elif event.action == "client.snooze":
        until = after.get("snoozed_until")
        what = f"snoozed the contact reminders until {until}" if until else "ended the snooze of the contact reminders"
    elif event.action == "interaction.log":
        what = (f"logged {with_article(str(after.get('kind')))} on {after.get('occurred_on')}: "
                f"{t.user_text(after.get('summary', ''), 200)} (#i{event.entity_id})")
    elif event.action in ("change.edit", "interaction.edit"):
        record = f"schedule change #{event.entity_id}" if event.action == "change.edit" else f"#i{event.entity_id}"
        what = (f"edited {record}: {edit_line(before, after)}; why: "
                f"{t.user_text(str(after.get('edit_reason', '')), 300)}")
    elif event.action == "change.record":
        what = (f"recorded schedule change #{event.entity_id}: {t.user_text(after.get('item', ''), 200)} "
                f"{after.get('old_date') or '?'} → {after.get('new_date')}; reason: "
                f"{t.user_text(after.get('reason', ''), 200)}")
    elif event.action == "change.told":
        how = f" ({t.user_text(after['told_how'], 200)})" if after.get("told_how") else ""
        what = f"marked schedule change #{event.entity_id} as told to the client{how}"
    elif event.action == "client.update":
        changes = [f"{FIELD_LABELS.get(k, k)} {field_value(k, before.get(k))} → {field_value(k, after.get(k))}"
                   for k in after if before.get(k) != after.get(k)]
        what = "changed " + ("; ".join(changes) or "nothing")
    elif event.action == "meeting.add":
        what = (f"planned meeting #{event.entity_id} *{t.user_text(after.get('title', ''), 200)}*: every "
                f"{t.escape(str(after.get('every')))} from {after.get('starts_on')} at {str(after.get('at'))[:5]} "
                f"{t.escape(str(after.get('timezone')))}")
    elif event.action == "meeting.cancel":
        what = f"cancelled meeting #{event.entity_id}"
    elif event.action == "meeting.skip":
        what = f"skipped meeting #{event.entity_id} of {after.get('occurrence_on')}"
    elif event.action == "meeting.move":
        what = (f"moved meeting #{event.entity_id} of {after.get('occurrence_on')} from "
                f"{str(before.get('starts_at'))[:16]} to {str(after.get('starts_at'))[:16]} UTC")
    elif event.action in EVENT_LINES:
        what = EVENT_LINES[event.action](event)
    else:
        what = t.escape(event.action)
    return f"• {by}\n    {what}"


def history(client: Client, events: list[AuditEvent], zone: ZoneInfo) -> Message:
    title = f"History of {client.name} ({client.key})"
    if not events:
        return Message(text=title, blocks=[header(title), section("Nothing recorded yet.")])
    blocks = [header(title), *packed_sections(_event_line(e, zone) for e in events),
              context(f"Newest first · the latest {len(events)} events · times in {zone.key}")]
    return Message(text=title, blocks=blocks)
