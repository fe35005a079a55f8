"""Splitting command text into words, quotes and Slack's escaped mentions."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.errors import UserError

# Slack clients often turn typed quotes into typographic ones.
_QUOTES = "\"\u201c\u201d\u201e"
_OPTION = re.compile(r"^([a-zA-Z]+):(.*)$", re.DOTALL)
_USER = re.compile(r"^<@([UW][A-Z0-9]{1,31})(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]{1,31})(?:\|[^>]*)?>$")
_BARE_USER = re.compile(r"^[UW][A-Z0-9]{2,31}$")
_BARE_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,31}$")
_KEPT_CONTROLS = "\n\t"
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,31}$")  # as Slack's selects give them
SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{1,31}$")


@dataclass(frozen=True)
class Token:
    value: str  # the word with quotes removed and Slack's &amp; &lt; &gt; turned back into characters
    raw: str  # the word exactly as typed, quotes included
    quoted: bool  # the whole word was in quotes: never an option, never a keyword

    def option(self) -> tuple[str, str] | None:
        """`key:value` as (key, value), unless the word was quoted as a whole."""
        if self.quoted:
            return None
        match = _OPTION.match(self.value)
        return (match.group(1).lower(), match.group(2)) if match else None


def clean_text(text: str) -> str:
    """Text without control characters (NUL included) or lone surrogates, which no database stores and
    no reader needs; line breaks and tabs stay."""
    if text.isprintable():
        return text
    return "".join(char for char in text.replace("\r\n", "\n")
                   if char in _KEPT_CONTROLS or unicodedata.category(char) not in ("Cc", "Cs"))


def unescape_slack(text: str) -> str:
    """Slack escapes &, < and > in the text it sends; undo it (mentions are left as they are)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def tokenize(text: str) -> list[Token]:
    """Words split on white space; double quotes (plain or typographic) group words, as in a shell,
    but apostrophes are just letters so that "client's" needs no quoting."""
    if not any(quote in text for quote in _QUOTES):  # most commands: what _scan gives, the quick way
        return [Token(word, word, False) for word in map(unescape_slack, text.split())]
    return _scan(text)


def _scan(text: str) -> list[Token]:
    tokens: list[Token] = []
    value: list[str] = []
    raw: list[str] = []
    in_quotes = False
    starts_quoted = False
    for char in text:
        if char in _QUOTES:
            starts_quoted = starts_quoted or not raw
            raw.append(char)
            in_quotes = not in_quotes
        elif in_quotes:
            raw.append(char)
            value.append(char)
        elif char.isspace():
            if raw:
                tokens.append(_token(value, raw, starts_quoted))
                value, raw, starts_quoted = [], [], False
        else:
            raw.append(char)
            value.append(char)
    if in_quotes:
        raise UserError("A quote was left open: close it with a second `\"`.")
    if raw:
        tokens.append(_token(value, raw, starts_quoted))
    return tokens


def _token(value: list[str], raw: list[str], starts_quoted: bool) -> Token:
    raw_text = "".join(raw)
    quoted = starts_quoted and raw_text[-1] in _QUOTES
    return Token(unescape_slack("".join(value)), unescape_slack(raw_text), quoted)


def parse_user(text: str, *, option: str) -> str:
    """A user from `<@U123|ana>` (as Slack sends a mention) or a bare user id."""
    text = text.strip()
    match = _USER.match(text)
    if match:
        return match.group(1)
    if _BARE_USER.match(text):
        return text
    raise UserError(f"`{option}:{text}` is not a Slack user: mention them, like `{option}:@ana`.", field=option)


def parse_channel(text: str, *, option: str) -> str:
    """A channel from `<#C123|acme-int>` (as Slack sends a channel link) or a bare channel id."""
    text = text.strip()
    match = _CHANNEL.match(text)
    if match:
        return match.group(1)
    if _BARE_CHANNEL.match(text):
        return text
    raise UserError(
        f"`{option}:{text}` is not a Slack channel: link it, like `{option}:#acme-internal`.", field=option
    )
