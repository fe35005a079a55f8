"""`/cmo help [topic]`, and how dates and durations are written."""

from __future__ import annotations

from bot.blocks import Message
from bot.blocks.help import help_message
from bot.commands.context import Context
from bot.commands.registry import Help, HelpTopic, Subcommand
from bot.parsing.dates import DATE_FORMS
from bot.parsing.tokens import Token


def parse_help(tokens: list[Token]) -> Help:
    return Help(topic=" ".join(token.value.lower() for token in tokens) or None)


def show_help(command: Help, ctx: Context) -> Message:
    from bot.commands import REGISTRY  # the registry lists this very subcommand

    return help_message(REGISTRY, command.topic, command.unknown)


HELP = Subcommand(name="help", usage="/cmo help [topic]", command=Help, parse=parse_help,
                  reads_only=True, run=show_help)
SUBCOMMANDS = (HELP,)
TOPICS = (
    HelpTopic("dates", "Dates and durations", (
        f"Dates: {DATE_FORMS}. A weekday is the next one (for `on:`, the latest one).",
        "Durations: `3d`, `2w` (a cadence or a snooze is a number of days or weeks). Dates are in the client's "
        "time zone, else the workspace's.",
    )),
)
