"""The one kind of error a user can fix: bad input, an unknown client, a conflict."""

from __future__ import annotations


class UserError(Exception):
    """Shown to the user as an ephemeral reply; nothing was written.

    `usage` is the right form of the command, shown under the message. `field` names the modal
    input the error belongs to, so a modal can show it next to that input.
    """

    def __init__(self, message: str, *, usage: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.field = field

    def with_usage(self, usage: str) -> UserError:
        if self.usage is None:
            self.usage = usage
        return self
