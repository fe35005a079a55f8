"""`/cmo help [topic]`."""

from __future__ import annotations

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.replies import context, header, section
from bot.parsing.commands import USAGE
from bot.parsing.dates import DATE_FORMS
from bot.services.status import HEALTH_RULES

TOPICS: dict[str, tuple[str, list[str]]] = {
    "client": ("Clients", [
        f"`{USAGE['client add']}`", f"`{USAGE['client list']}`", f"`{USAGE['client set']}`",
        f"`{USAGE['client archive']}`",
        "A client is named by its key, its name, or the start of either (`acme`, `\"Acme Bio\"`).",
        "The *owner* is the client's one voice: the person who tells the client about changes.",
        "*Cadence* is how often the client should hear from us (default 14d). "
        "`none` clears an owner, a channel or a time zone: `/cmo client set acme shared:none`.",
        "Archived clients keep their history; nothing is ever deleted.",
    ]),
    "log": ("Logging interactions", [
        f"`{USAGE['log']}`",
        "Kinds: call, meeting, email, visit — contact with the client — and note, for the team's own record "
        "(a note does not count as contact).",
        "`on:` when it happened (default today; `fri` means the latest Friday). `next:` when the next "
        "contact is planned. `with:` the client's contact person.",
        "Example: `/cmo log acme call Agreed Q1 fill slots with:\"Dr. Jane Roe\" next:+2w`",
        "Any Slack message can be logged too: its ⋯ menu › *Log client interaction*.",
    ]),
    "delay": ("Schedule changes", [
        f"`{USAGE['delay']}`", f"`{USAGE['told']}`", f"`{USAGE['changes']}`",
        "Every change of date for a batch, a lot or a milestone — later or earlier — is logged with its reason "
        "and announced at once in the client's internal channel, with the slip and the item's earlier slips.",
        "It stays open until someone records that the client was told: `/cmo told #12`, or the buttons on the "
        "announcement. *Draft message to client* writes a client-facing text (item, new date, reason) that the "
        "owner edits; sending it posts it to the client's shared channel and marks the change told.",
        "Not told within the disclosure window (RAPPORT_DISCLOSURE_HOURS business hours, default 4): the "
        "owner is nudged; after one business day the managers are told.",
        "Example: `/cmo delay acme Lot 42 fill to:2026-12-04 from:2026-12-01 reason:\"Filter integrity test "
        "failed\"`",
    ]),
    "status": ("Status", [
        f"`{USAGE['status']}`",
        "`/cmo status` shows every client's health, worst first; `mine` only the clients you own; "
        "`<client>` one client's owner, cadence, last contact and latest interactions.",
    ]),
    "history": ("History", [
        f"`{USAGE['history']}`",
        "Every add, change, archive and logged interaction, with who, when (UTC, shown in the client's "
        "zone) and through which surface. The trail is append-only.",
    ]),
    "dates": ("Dates and durations", [
        f"Dates: {DATE_FORMS}. A weekday is the next one (for `on:`, the latest one).",
        "Durations: `36h`, `3d`, `2w`. Dates are in the client's time zone, else the workspace's.",
    ]),
    "health": ("How health is judged", list(HEALTH_RULES)),
}


def help_message(topic: str | None = None, unknown: str | None = None) -> Message:
    # `/cmo help client add` is about clients: the topic is the subcommand's first word.
    key = topic.split()[0] if topic else None
    key = {"told": "delay", "changes": "delay", "change": "delay"}.get(key, key)
    if key in TOPICS:
        title, lines = TOPICS[key]
        return Message(text=title, blocks=[header(title), section("\n".join(t.escape(line) for line in lines))])
    blocks = []
    intro = []
    if unknown is not None:
        intro.append(f":warning: `{t.user_text(unknown, 100)}` is not a `/cmo` command. Here is what is:")
    elif topic:
        intro.append(f":warning: There is no help on `{t.user_text(topic, 100)}`. Here is what there is:")
    else:
        blocks.append(header("Rapport: /cmo"))
    if intro:
        blocks.append(section("\n".join(intro)))
    blocks.append(section("\n".join(f"`{t.escape(usage)}`" for usage in USAGE.values())))
    blocks.append(context("A command without its arguments (`/cmo log`) opens a form. "
                          "More: `/cmo help " + "|".join(TOPICS) + "`"))
    text = "Rapport commands" if unknown is None else f"{unknown} is not a /cmo command"
    return Message(text=text, blocks=blocks)
