"""The `/cmo` subcommands. Each feature is a module here declaring its `SUBCOMMANDS` (and its help
`TOPICS`); FEATURES is the one place a feature is registered. See bot/commands/registry.py."""

from __future__ import annotations

from importlib import import_module

from bot.commands.context import Context, LinkWanted, SourceMessage
from bot.commands.registry import FormRequest, Help, NotYetAvailable, OpenModal, Registry

# The feature modules, in the order help lists them.
FEATURES = tuple(import_module(f"bot.commands.{name}") for name in (
    "help",
    "clients",
    "log",
    "changes",
    "meetings",
    "promises",
    "voice",
    "contacts",
    "lessons",
    "status",
    "history",
    "edits",
    "snooze",
    "whoami",
))

REGISTRY = Registry(
    subcommands=[sub for feature in FEATURES for sub in getattr(feature, "SUBCOMMANDS", ())],
    topics=[topic for feature in FEATURES for topic in getattr(feature, "TOPICS", ())],
)
USAGE = REGISTRY.usages  # name -> grammar line, as help and errors show it

__all__ = ["FEATURES", "REGISTRY", "USAGE", "Context", "FormRequest", "Help", "LinkWanted", "NotYetAvailable",
           "OpenModal", "SourceMessage"]
