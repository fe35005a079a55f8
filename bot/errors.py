"""The one kind of error a user can fix: bad input, an unknown client, a conflict."""

from __future__ import annotations

from collections.abc import Callable

USER = "{user}"  # where a UserError's message names the person `user_id`; the surface shows them its own way


class UserError(Exception):
    """Shown to the user as an ephemeral reply; nothing was written.

    `message` is plain text (it may quote a command in backticks) with no Slack markup: where it names a
    person it says USER, and `user_id` says who. `usage` is the right form of the command, shown under
    the message. `field` names the modal input the error belongs to, so a modal can show it there.
    """

    def __init__(self, message: str, *, usage: str | None = None, field: str | None = None,
                 user_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.field = field
        self.user_id = user_id

    def text(self, name_user: Callable[[str], str]) -> str:
        """The message with the person named as `name_user(user_id)` says (a mention, a plain id)."""
        return self.message.replace(USER, name_user(self.user_id)) if self.user_id else self.message

    def with_usage(self, usage: str) -> UserError:
        if self.usage is None:
            self.usage = usage
        return self
