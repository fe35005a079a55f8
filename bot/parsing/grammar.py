"""What the `/cmo` subcommands' parsers share: `key:value` options among words, `none` to clear a field,
record ids like `#12`. Pure: what the words mean, not whether the client exists."""

from __future__ import annotations

from collections.abc import Callable

from bot.errors import UserError
from bot.parsing.tokens import Token

CLEAR = "none"  # `owner:none` and the like unset an optional field
MAX_RECORD_ID = 2**31 - 1  # ids are 32-bit integers in the database


def split_options(tokens: list[Token], allowed: tuple[str, ...], *, strict: bool) -> tuple[list[Token], dict]:
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


def joined(tokens: list[Token]) -> str:
    return " ".join(token.value for token in tokens).strip()


def optional(value: str, parser: Callable[[str], object]):
    """`none` clears the field; anything else is parsed."""
    return None if value.lower() == CLEAR else parser(value)


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
