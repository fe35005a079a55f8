"""The registry of `/cmo` subcommands. Each subcommand is declared once, as a `Subcommand`: its name and
grammar line, its help, its parser, its executor and, if it has one, its form. Help, error replies, the
rule that a subcommand typed without arguments opens its form, the modal submission handler and the
console read the registry; nothing else lists subcommands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.blocks import Message, replies
from bot.commands.context import Context
from bot.errors import UserError
from bot.parsing.tokens import Token, clean_text, tokenize
from bot.services import clients as client_service

FormValues = dict[str, dict[str, Any]]  # a submitted view's state: {block_id: {action_id: element state}}


@dataclass(frozen=True)
class HelpTopic:
    """`/cmo help <key>`: the grammar lines of the subcommands filed under it, then `lines`."""

    key: str
    title: str
    lines: tuple[str, ...]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormRequest:
    """Why a form is opened: `metadata` travels with it to the submission (private_metadata)."""

    metadata: dict[str, Any]
    channel_id: str | None = None  # where it was opened from
    summary: str | None = None  # text to start from (the message being logged)
    client_id: int | None = None  # the client it is about (a button on a message about that client)
    kind: str | None = None  # the kind of interaction to start from ("meeting", after a meeting)
    on: dt.date | None = None  # the date to start from
    record: str | None = None  # the record it is about, as commands name it ("#12", "#i7")


@dataclass(frozen=True)
class Form:
    """A subcommand's modal: `open` builds the view (it may read the database, and refuse with a
    UserError); `read` turns the submitted values into the same command object the typed form gives."""

    open: Callable[[Context, FormRequest], dict[str, Any]]
    read: Callable[[FormValues], Any]
    title: str  # the modal's title, also over the result shown in it
    needs_clients: bool = True  # refuse to open before any client exists


@dataclass(frozen=True)
class Subcommand:
    name: str  # as typed: "log", "client add"
    usage: str  # the grammar line shown in help and under errors
    command: type  # what `parse` returns; `run` receives it
    parse: Callable[[list[Token]], Any]  # the words after the name
    run: Callable[[Any, Context], Message]
    topic: str | None = None  # the help topic it is explained under
    form: Form | None = None
    takes_no_arguments: bool = False  # typed bare it runs (no form opens)
    # It only shows what is there (status, lists, help): a replayed request shows it again, so the request
    # takes no replay guard, and no write lock.
    reads_only: bool = False


@dataclass(frozen=True)
class Help:
    topic: str | None = None
    unknown: str | None = None  # the unknown subcommand that brought the user here


@dataclass(frozen=True)
class NotYetAvailable:
    subcommand: str


@dataclass(frozen=True)
class OpenModal:
    """A subcommand typed without its arguments: the same fields, as a form."""

    name: str


# In the product's grammar, not in this version yet: answered with a clear "not yet", not "unknown".
PLANNED = ("export",)


@dataclass
class Registry:
    subcommands: list[Subcommand]
    topics: list[HelpTopic] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_name = {sub.name: sub for sub in self.subcommands}
        self._by_type = {sub.command: sub for sub in self.subcommands}
        if len(self._by_name) != len(self.subcommands) or len(self._by_type) != len(self.subcommands):
            raise ValueError("two subcommands share a name or a command type")
        self._topics = {topic.key: topic for topic in self.topics}
        self._groups: dict[str, list[Subcommand]] = {}  # "client" -> client add, list, set, archive
        for sub in self.subcommands:
            words = sub.name.split()
            if len(words) == 2:
                self._groups.setdefault(words[0], []).append(sub)

    def __iter__(self) -> Iterator[Subcommand]:
        return iter(self.subcommands)

    def get(self, name: str) -> Subcommand:
        return self._by_name[name]

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    @property
    def usages(self) -> dict[str, str]:
        return {sub.name: sub.usage for sub in self.subcommands}

    def usage(self, name: str) -> str:
        return self._by_name[name].usage

    # -- typed text ------------------------------------------------------------------------------
    def parse(self, text: str) -> Any:
        """The command object for the text after `/cmo`, an OpenModal, a Help or a NotYetAvailable.
        Raises UserError with the right form on bad input."""
        text = clean_text(text or "")
        try:
            tokens = tokenize(text)
        except UserError as error:
            raise error.with_usage(self._usage_for_words(text.split())) from None
        if not tokens:
            return Help()
        head, rest = tokens[0].value.lower(), tokens[1:]
        if head in self._groups and not self._single_word_takes(head, rest):
            return self._parse_in_group(head, rest)
        sub = self._by_name.get(head)
        if sub is not None:
            return self._parse_with(sub, rest)
        if head in PLANNED:
            return NotYetAvailable(head)
        return Help(unknown=tokens[0].value)

    def reads_only(self, text: str) -> bool:
        """Whether `/cmo <text>` names a subcommand that only reads (by its first words; anything else, even
        a mistyped command, is treated as one that writes)."""
        words = clean_text(text or "").lower().split()[:2]
        if not words:
            return False
        sub = self._by_name.get(" ".join(words)) or self._by_name.get(words[0])
        return sub is not None and sub.reads_only

    def _single_word_takes(self, head: str, tokens: list[Token]) -> bool:
        """A word that is both a subcommand of its own and a group's first word (`promise` and `promise
        move`): the group's member only when the next word names one, unquoted; else the subcommand."""
        if head not in self._by_name:
            return False
        return not (tokens and not tokens[0].quoted and f"{head} {tokens[0].value.lower()}" in self._by_name)

    def _parse_in_group(self, group: str, tokens: list[Token]) -> Any:
        members = self._groups[group]
        actions = [sub.name.split()[1] for sub in members]
        usage = "\n".join(sub.usage for sub in members)
        if not tokens:
            raise UserError(f"Say what to do with {group}s: {_or(actions)}.", usage=usage)
        sub = self._by_name.get(f"{group} {tokens[0].value.lower()}")
        if sub is None:
            raise UserError(f"`{group} {tokens[0].value}` is not a {group} command: use {_or(actions)}.",
                            usage=usage)
        return self._parse_with(sub, tokens[1:])

    def _parse_with(self, sub: Subcommand, tokens: list[Token]) -> Any:
        if not tokens and sub.form is not None and not sub.takes_no_arguments:
            return OpenModal(sub.name)
        try:
            return sub.parse(tokens)
        except UserError as error:
            raise error.with_usage(sub.usage) from None

    def _usage_for_words(self, words: list[str]) -> str:
        """The right form for text too broken to tokenize, from its first words."""
        lowered = [word.lower() for word in words[:2]]
        for length in (2, 1):
            sub = self._by_name.get(" ".join(lowered[:length]))
            if sub is not None:
                return sub.usage
        return self._by_name["help"].usage

    # -- running ---------------------------------------------------------------------------------
    def subcommand_of(self, command: Any) -> Subcommand:
        return self._by_type[type(command)]

    def execute(self, command: Any, ctx: Context) -> Message:
        """The reply to the command. Raises UserError (with the right form) on anything the user can fix."""
        if isinstance(command, NotYetAvailable):
            return replies.not_yet_available(command.subcommand)
        sub = self._by_type.get(type(command))
        if sub is None:
            raise TypeError(f"no subcommand runs a {type(command).__name__}")
        try:
            return sub.run(command, ctx)
        except UserError as error:
            raise error.with_usage(sub.usage) from None

    # -- forms -----------------------------------------------------------------------------------
    def form(self, name: str) -> Form | None:
        sub = self._by_name.get(name)
        return sub.form if sub is not None else None

    def open_form(self, name: str, ctx: Context, request: FormRequest) -> dict:
        form = self._by_name[name].form
        if form is None:
            raise ValueError(f"{name!r} has no form")
        if (form.needs_clients and request.client_id is None
                and not client_service.has_clients(ctx.session, ctx.actor.team_id)):
            raise UserError("There are no clients yet. Add one first: `/cmo client add <name>`.",
                            usage=self._by_name["client add"].usage if "client add" in self else None)
        try:
            return form.open(ctx, request)
        except UserError as error:
            raise error.with_usage(self._by_name[name].usage) from None

    def read_form(self, name: str, values: FormValues) -> Any:
        form = self._by_name[name].form
        if form is None:
            raise ValueError(f"{name!r} has no form")
        return form.read(values)

    # -- help ------------------------------------------------------------------------------------
    @property
    def topic_keys(self) -> list[str]:
        return list(self._topics)

    def topic(self, words: str | None) -> HelpTopic | None:
        """The topic `/cmo help <words>` asks for: a topic's key or alias, or a subcommand's topic."""
        if not words:
            return None
        lowered = " ".join(words.lower().split())
        for key in (lowered, lowered.split()[0]):
            if key in self._topics:
                return self._topics[key]
            for topic in self.topics:
                if key in topic.aliases:
                    return topic
            sub = self._by_name.get(key) or next(iter(self._groups.get(key, [])), None)
            if sub is not None and sub.topic in self._topics:
                return self._topics[sub.topic]
        return None

    def topic_usages(self, topic: HelpTopic) -> list[str]:
        return [sub.usage for sub in self.subcommands if sub.topic == topic.key]


def _or(words: list[str]) -> str:
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]
