"""`/cmo help [topic]`, built from the registry of subcommands (bot/commands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.layout import context, header, section

if TYPE_CHECKING:  # the registry's help subcommand calls this module
    from bot.commands.registry import Registry


def help_message(registry: Registry, topic: str | None = None, unknown: str | None = None) -> Message:
    found = registry.topic(topic)
    if found is not None:
        lines = [f"`{usage}`" for usage in registry.topic_usages(found)] + list(found.lines)
        return Message(text=found.title,
                       blocks=[header(found.title), section("\n".join(t.escape(line) for line in lines))])
    blocks = []
    if unknown is not None:
        blocks.append(section(f":warning: `{t.user_text(unknown, 100)}` is not a `/cmo` command. Here is what is:"))
    elif topic:
        blocks.append(section(f":warning: There is no help on `{t.user_text(topic, 100)}`. Here is what there is:"))
    else:
        blocks.append(header("Rapport: /cmo"))
    blocks.append(section("\n".join(f"`{t.escape(usage)}`" for usage in registry.usages.values())))
    blocks.append(context("A command without its arguments (`/cmo log`) opens a form. "
                          "More: `/cmo help " + "|".join(registry.topic_keys) + "`"))
    text = "Rapport commands" if unknown is None else f"{unknown} is not a /cmo command"
    return Message(text=text, blocks=blocks)
