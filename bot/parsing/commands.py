"""`/cmo` text to a command object. Pure: what the words mean, not whether the client exists."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.db.models import INTERACTION_KINDS
from bot.errors import UserError
from bot.parsing.dates import DateSpec, parse_cadence, parse_date, parse_timezone
from bot.parsing.tokens import Token, clean_text, parse_channel, parse_user, tokenize

CLEAR = "none"  # `owner:none` and the like unset an optional field

# The grammar, as help and error messages show it. Keys are the subcommands as typed.
USAGE = {
    "help": "/cmo help [topic]",
    "client add": "/cmo client add <name> [key:<short-key>] [owner:@user] [channel:#internal-channel] "
    "[cadence:<N>d|<N>w] [tz:<IANA zone>]",
    "client list": "/cmo client list",
    "client set": "/cmo client set <client> owner:@user | channel:#chan | shared:#slack-connect-chan | "
    "cadence:14d | tz:Europe/Berlin",
    "client archive": "/cmo client archive <client>",
    "log": '/cmo log <client> <call|meeting|email|visit|note> <summary ...> [on:<date>] [with:"<contact>"] '
    "[next:<date>]",
    "delay": '/cmo delay <client> <item ...> to:<date> [from:<date>] reason:"<why>" [project:<name>]',
    "told": '/cmo told #<id> [how:"<how the client was told>"]',
    "changes": "/cmo changes [<client>] [open]",
    "status": "/cmo status [<client>|mine]",
    "history": "/cmo history <client>",
}
# In the product's grammar, not in this version yet: answered with a clear "not yet", not "unknown".
PLANNED = ("meeting", "promise", "done", "voice", "contact", "contacts",
           "lesson", "lessons", "snooze", "export")


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

    name: str  # a key of USAGE


@dataclass(frozen=True)
class ClientAdd:
    name: str
    key: str | None = None
    owner: str | None = None
    channel: str | None = None
    cadence_days: int | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class ClientList:
    pass


@dataclass(frozen=True)
class ClientSet:
    client: str
    # Only what was given: field name -> new value (None clears it).
    changes: dict[str, str | int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientArchive:
    client: str


@dataclass(frozen=True)
class LogInteraction:
    client: str
    kind: str
    summary: str
    on: DateSpec | None = None
    contact: str | None = None
    next: DateSpec | None = None


@dataclass(frozen=True)
class Delay:
    client: str
    item: str
    to: DateSpec
    reason: str
    old: DateSpec | None = None
    project: str | None = None


@dataclass(frozen=True)
class Told:
    change_id: int
    how: str | None = None


@dataclass(frozen=True)
class Changes:
    client: str | None = None
    open_only: bool = False


@dataclass(frozen=True)
class Status:
    client: str | None = None  # None: the whole portfolio
    mine: bool = False


@dataclass(frozen=True)
class History:
    client: str


Command = (Help | NotYetAvailable | OpenModal | ClientAdd | ClientList | ClientSet | ClientArchive
           | LogInteraction | Delay | Told | Changes | Status | History)


def parse(text: str) -> Command:
    """Parse the text after `/cmo`. Raises UserError with the right form on bad input."""
    text = clean_text(text or "")
    try:
        tokens = tokenize(text)
    except UserError as error:
        raise error.with_usage(_usage_for_words(text.split())) from None
    if not tokens:
        return Help()
    head = tokens[0].value.lower()
    rest = tokens[1:]
    if head == "help":
        return Help(topic=" ".join(t.value.lower() for t in rest) or None)
    if head == "client":
        return _parse_client(rest)
    if head in ("log", "history", "delay", "told") and not rest:
        return OpenModal(head)
    if head == "log":
        return _guard("log", _parse_log, rest)
    if head == "delay":
        return _guard("delay", _parse_delay, rest)
    if head == "told":
        return _guard("told", _parse_told, rest)
    if head == "changes":
        return _parse_changes(rest)
    if head == "status":
        return _parse_status(rest)
    if head == "history":
        return History(client=_joined(rest))
    if head in PLANNED:
        return NotYetAvailable(head)
    return Help(unknown=tokens[0].value)


def _usage_for_words(words: list[str]) -> str:
    """The right form for text too broken to tokenize, from its first words."""
    lowered = [word.lower() for word in words[:2]]
    for length in (2, 1):
        key = " ".join(lowered[:length])
        if key in USAGE:
            return USAGE[key]
    return USAGE["help"]


def _guard(usage_key: str, parser, tokens: list[Token]):
    try:
        return parser(tokens)
    except UserError as error:
        raise error.with_usage(USAGE[usage_key]) from None


def _parse_client(tokens: list[Token]) -> Command:
    if not tokens:
        raise UserError("Say what to do with clients: add, list, set or archive.",
                        usage="\n".join(USAGE[k] for k in ("client add", "client list", "client set",
                                                           "client archive")))
    action, rest = tokens[0].value.lower(), tokens[1:]
    if action == "list":
        return ClientList()
    if action not in ("add", "set", "archive"):
        raise UserError(f"`client {tokens[0].value}` is not a client command: use add, list, set or archive.",
                        usage="\n".join(USAGE[k] for k in ("client add", "client list", "client set",
                                                           "client archive")))
    if not rest:
        return OpenModal(f"client {action}")
    parser = {"add": _parse_client_add, "set": _parse_client_set, "archive": _parse_client_archive}[action]
    return _guard(f"client {action}", parser, rest)


def _split_options(tokens: list[Token], allowed: tuple[str, ...], *, strict: bool) -> tuple[list[Token], dict]:
    """Separate `key:value` options from the other words.

    With `strict`, an unknown `key:` is an error (a typo in `cadnce:14d` should not end up in a
    client's name) and `Cadence:` counts as `cadence:`. Otherwise only an exact, lower-case,
    non-empty option counts: the rest stays a word, as in a summary that says "Next: re: fill slots".
    """
    words: list[Token] = []
    options: dict[str, str] = {}
    for token in tokens:
        option = token.option()
        loose_word = not strict and (
            option is None or option[0] not in allowed or not token.value.startswith(option[0])
            or not option[1].strip())
        if option is None or loose_word:
            words.append(token)
            continue
        key, value = option
        if key not in allowed:
            raise UserError(f"`{key}:` is not an option here; the options are "
                            + ", ".join(f"`{name}:`" for name in allowed) + ".")
        if key in options:
            raise UserError(f"`{key}:` is given twice.")
        if not value.strip():
            raise UserError(f"`{key}:` needs a value.", field=key)
        options[key] = value.strip()
    return words, options


def _joined(tokens: list[Token]) -> str:
    return " ".join(token.value for token in tokens).strip()


def _optional(value: str, parser) -> str | None:
    return None if value.lower() == CLEAR else parser(value)


def _parse_client_add(tokens: list[Token]) -> ClientAdd:
    words, options = _split_options(tokens, ("key", "owner", "channel", "cadence", "tz"), strict=True)
    name = _joined(words)
    if not name:
        raise UserError("Give the client's name.", field="name")
    return ClientAdd(
        name=name,
        key=options.get("key"),
        owner=parse_user(options["owner"], option="owner") if "owner" in options else None,
        channel=parse_channel(options["channel"], option="channel") if "channel" in options else None,
        cadence_days=parse_cadence(options["cadence"]) if "cadence" in options else None,
        timezone=parse_timezone(options["tz"]) if "tz" in options else None,
    )


def _parse_client_set(tokens: list[Token]) -> ClientSet:
    words, options = _split_options(tokens, ("owner", "channel", "shared", "cadence", "tz"), strict=True)
    client = _joined(words)
    if not client:
        raise UserError("Say which client to change.", field="client")
    if not options:
        raise UserError("Say what to change: owner, channel, shared, cadence or tz.")
    changes: dict[str, str | int | None] = {}
    if "owner" in options:
        changes["owner_user_id"] = _optional(options["owner"], lambda v: parse_user(v, option="owner"))
    if "channel" in options:
        changes["internal_channel_id"] = _optional(options["channel"],
                                                   lambda v: parse_channel(v, option="channel"))
    if "shared" in options:
        changes["shared_channel_id"] = _optional(options["shared"], lambda v: parse_channel(v, option="shared"))
    if "cadence" in options:
        changes["cadence_days"] = parse_cadence(options["cadence"])
    if "tz" in options:
        changes["timezone"] = _optional(options["tz"], parse_timezone)
    return ClientSet(client=client, changes=changes)


def _parse_client_archive(tokens: list[Token]) -> ClientArchive:
    return ClientArchive(client=_joined(tokens))


def _parse_log(tokens: list[Token]) -> LogInteraction:
    words, options = _split_options(tokens, ("on", "with", "next"), strict=False)
    if len(words) < 2:
        raise UserError("Give the client, the kind of interaction and a summary.")
    client, kind_token, summary_words = words[0], words[1], words[2:]
    kind = kind_token.value.lower()
    if kind not in INTERACTION_KINDS:
        raise UserError(f"`{kind_token.value}` is not a kind of interaction: use "
                        + ", ".join(INTERACTION_KINDS) + ".", field="kind")
    if not summary_words:
        raise UserError("Add a summary: what was said or agreed.", field="summary")
    if len(summary_words) == 1 and summary_words[0].quoted:
        summary = summary_words[0].value
    else:
        summary = " ".join(word.raw for word in summary_words)
    return LogInteraction(
        client=client.value,
        kind=kind,
        summary=summary,
        on=parse_date(options["on"], option="on") if "on" in options else None,
        contact=options.get("with"),
        next=parse_date(options["next"], option="next") if "next" in options else None,
    )


def _parse_delay(tokens: list[Token]) -> Delay:
    words, options = _split_options(tokens, ("to", "from", "reason", "project"), strict=False)
    if not words:
        raise UserError("Give the client, the item that moves and its new date.")
    client, item_words = words[0], words[1:]
    if not item_words:
        raise UserError("Say what moves: a batch, a lot or a milestone, like `Lot 42 fill`.", field="item")
    if "to" not in options:
        raise UserError("Give the new date with `to:`.", field="to")
    reason = options.get("reason", "").strip()
    if not reason:
        raise UserError('A reason is required: a schedule change is never logged unexplained. Add reason:"<why>".',
                        field="reason")
    item = " ".join(word.value for word in item_words)
    if len(item) > 300:
        raise UserError("The item can be at most 300 characters.", field="item")
    return Delay(
        client=client.value,
        item=item,
        to=parse_date(options["to"], option="to"),
        old=parse_date(options["from"], option="from") if "from" in options else None,
        reason=reason,
        project=options.get("project"),
    )


MAX_RECORD_ID = 2**31 - 1  # ids are 32-bit integers in the database
CHANGE_MISSING = "There is no schedule change #{}. `/cmo changes open` lists the open ones."


def parse_record_id(text: str, *, noun: str, missing: str, field: str) -> int:
    """`#12` or `12`: the id a record is shown with. An id no record can have gets the `missing` message
    (formatted with the number), as an unknown id does."""
    digits = text.strip().removeprefix("#")
    if not digits.isascii() or not digits.isdigit() or len(digits) > 40 or int(digits) == 0:
        raise UserError(f"`{text}` is not {noun} id: use the number shown with it, like `#12`.", field=field)
    number = int(digits)
    if number > MAX_RECORD_ID:
        raise UserError(missing.format(number), field=field)
    return number


def parse_change_id(text: str) -> int:
    return parse_record_id(text, noun="a change", missing=CHANGE_MISSING, field="change")


def _parse_told(tokens: list[Token]) -> Told:
    words, options = _split_options(tokens, ("how",), strict=True)
    if len(words) != 1:
        raise UserError("Say which change the client was told about, by its id, like `#12`.", field="change")
    return Told(change_id=parse_change_id(words[0].value), how=options.get("how"))


def _parse_changes(tokens: list[Token]) -> Changes:
    open_only = bool(tokens) and tokens[-1].value.lower() == "open" and not tokens[-1].quoted
    words = tokens[:-1] if open_only else tokens
    return Changes(client=_joined(words) or None, open_only=open_only)


def _parse_status(tokens: list[Token]) -> Status:
    if not tokens:
        return Status()
    if len(tokens) == 1 and tokens[0].value.lower() == "mine" and not tokens[0].quoted:
        return Status(mine=True)
    return Status(client=_joined(tokens))
