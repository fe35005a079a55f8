"""Block Kit, built by pure functions: data in, Slack's JSON out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.blocks.text import escape


@dataclass(frozen=True)
class Message:
    """A message's fallback text (notifications, screen readers) and its blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        # `text` is plain (it names clients and quotes what users typed); Slack reads it as mrkdwn, so
        # it is escaped here: a client called `<!channel>` must not ping anyone from a notification.
        return {"text": escape(self.text), "blocks": self.blocks}
