"""One voice: the replies to `/cmo voice`, the owner's quiet direct message when someone else logged contact,
and the voice lines in `/cmo history`."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.history import event_line
from bot.blocks.layout import context, header, packed_sections, section
from bot.db.models import AuditEvent, Client, Interaction, VoiceLine

TIMES = {1: "once", 2: "twice"}


def local_day(moment: dt.datetime | None, zone: ZoneInfo) -> dt.date | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite keeps no zone: what it stores is UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).date()


def client_name(client: Client) -> str:
    return f"*{t.user_text(client.name, 200)}* (`{client.key}`)"


def topic_text(topic: str) -> str:
    return f"*{t.user_text(topic, 100)}*"


def quoted(line: str, limit: int = 1200) -> str:
    return f"“{t.user_text(line, limit)}”"


def by_text(line: VoiceLine, zone: ZoneInfo) -> str:
    return f"by {t.user(line.author_user_id)} on {t.day(local_day(line.created_at, zone))}"


def line_recorded(line: VoiceLine, replaced: VoiceLine | None, client: Client, zone: ZoneInfo) -> Message:
    lines = [f":speaking_head_in_silhouette: Agreed line for {client_name(client)} on {topic_text(line.topic)}:",
             f">{quoted(line.line)}"]
    if replaced is not None:
        lines.append(f"Replaces: {quoted(replaced.line, 600)} ({by_text(replaced, zone)})")
    blocks = [section("\n".join(lines)),
              context("Everyone who talks to the client says this; it is in every meeting brief and in "
                      f"`/cmo status {client.key}`. Retire it: `/cmo voice {client.key} "
                      f"{t.escape(line.topic)} off`.")]
    return Message(text=f"Agreed line for {client.name} on {line.topic}: {line.line}", blocks=blocks)


def line_unchanged(line: VoiceLine, client: Client, zone: ZoneInfo) -> Message:
    text = (f"{quoted(line.line)} is already the agreed line for {client_name(client)} on {topic_text(line.topic)} "
            f"({by_text(line, zone)}); nothing changed.")
    return Message(text=f"Already the agreed line for {client.name} on {line.topic}; nothing changed.",
                   blocks=[section(text)])


def line_retired(line: VoiceLine, client: Client, zone: ZoneInfo) -> Message:
    text = (f":mute: Retired the agreed line for {client_name(client)} on {topic_text(line.topic)}: "
            f"{quoted(line.line, 600)} ({by_text(line, zone)}). Nothing is agreed on that topic now.")
    return Message(text=f"Retired the agreed line for {client.name} on {line.topic}.", blocks=[section(text)])


def current_line_text(line: VoiceLine, zone: ZoneInfo, replaced: int = 0) -> str:
    earlier = f" · replaced {TIMES.get(replaced, f'{replaced} times')}" if replaced else ""
    return f"• {topic_text(line.topic)}: {quoted(line.line, 1000)} ({by_text(line, zone)}){earlier}"


def lines_list(client: Client, lines: list[VoiceLine], replaced: dict[int, int], zone: ZoneInfo) -> Message:
    title = f"{client.name}: agreed lines (one voice)"
    if not lines:
        text = (f"{client_name(client)} has no agreed line yet. Record one: "
                f"`/cmo voice {client.key} &lt;topic&gt;: \"&lt;the agreed line&gt;\"`.")
        return Message(text=f"{client.name} has no agreed line yet.", blocks=[section(text)])
    return Message(text=f"{title}: {len(lines)}", blocks=[
        header(title), *packed_sections(current_line_text(line, zone, replaced.get(line.id, 0)) for line in lines),
        context(f"{len(lines)} topic{'s' if len(lines) != 1 else ''} · a new line on a topic replaces its current "
                f"one · retire one: `/cmo voice {client.key} &lt;topic&gt; off`"),
    ])


def owner_told(client: Client, interaction: Interaction, lines: list[VoiceLine], zone: ZoneInfo) -> Message:
    """The owner's direct message: someone else logged contact with their client (no channel ping)."""
    first = (interaction.summary.strip().splitlines() or [""])[0]
    who = (f" with {t.user_text(interaction.contact_name, 80)} of {client_name(client)}" if interaction.contact_name
           else f" with {client_name(client)}")
    text = (f":speech_balloon: {t.user(interaction.logged_by)} logged {_article(interaction.kind)} *{interaction.kind}*"
            f"{who} on {t.day(interaction.occurred_on)}:\n>{t.user_text(first, 300)}")
    blocks = [section(text)]
    if lines:
        agreed = "\n".join(f"• {topic_text(line.topic)}: {quoted(line.line, 300)}" for line in lines[:10])
        more = f"\n_…and {len(lines) - 10} more: `/cmo voice {client.key}`_" if len(lines) > 10 else ""
        blocks.append(section(f"*Agreed lines:*\n{agreed}{more}"))
    else:
        blocks.append(context(f"No agreed lines for this client yet: `/cmo voice {client.key} &lt;topic&gt;: "
                              "\"&lt;the agreed line&gt;\"`."))
    blocks.append(context("You are the client's owner: one voice. Told quietly, only to you."))
    return Message(text=f"{interaction.kind.capitalize()} with {client.name} logged by someone else: {first[:150]}",
                   blocks=blocks)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


# -- /cmo history ----------------------------------------------------------------------------------------------

@event_line("voice.set")
def _set(event: AuditEvent) -> str:
    before, after = event.before or {}, event.after or {}
    text = (f"set the agreed line on {topic_text(str(after.get('topic', '')))}: "
            f"{quoted(str(after.get('line', '')), 300)}")
    if before:
        text += f" (replacing {quoted(str(before.get('line', '')), 200)})"
    return text


@event_line("voice.retire")
def _retired(event: AuditEvent) -> str:
    before = event.before or {}
    return (f"retired the agreed line on {topic_text(str(before.get('topic', '')))}: "
            f"{quoted(str(before.get('line', '')), 200)}")
