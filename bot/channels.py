"""Whether a channel is shared with another organisation, asked of Slack (`conversations.info`).

Nothing internal may reach a channel shared with a client (Slack Connect) or with another workspace of an
organisation. Slack is asked when a channel is configured (a client's internal channel, a meeting's channel,
the managers channel) and again, cached a short while, at delivery: a channel can become shared later.

`ChannelGuard.check` never raises: it answers shared, not shared, or "could not ask" (a timeout, an error),
which callers treat as a refusal rather than a guess. Services never see Slack: commands ask the guard
through their Context, the delivery worker through its own guard.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import UserError

logger = logging.getLogger(__name__)

SHARED_FLAGS = ("is_ext_shared", "is_shared", "is_org_shared", "is_pending_ext_shared")
CHECK_TIMEOUT = 1.5  # seconds, no retry: a command asks within Slack's 3-second deadline (roles ask in 1 s)
CACHE_SECONDS = 60.0
DIRECT_MESSAGE = re.compile(r"^[UW][A-Z0-9]{1,31}$")


@dataclass(frozen=True)
class ChannelVerdict:
    channel_id: str
    shared: bool | None  # None: Slack could not be asked
    reason: str = ""

    @property
    def safe(self) -> bool:
        return self.shared is False


class ChannelGuard:
    """Asks Slack whether channels are shared; remembers answers (not failures) for `ttl` seconds."""

    def __init__(self, client: WebClient, *, ttl: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._known: dict[str, tuple[float, ChannelVerdict]] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings, *, ttl: float = CACHE_SECONDS) -> ChannelGuard:
        return cls(WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                             timeout=CHECK_TIMEOUT, retry_handlers=[]), ttl=ttl)

    def check(self, channel_id: str) -> ChannelVerdict:
        if is_direct_message(channel_id):  # a user id: the app's DM with that user, never shared, not asked
            return ChannelVerdict(channel_id, False, "a direct message")
        now = self.clock()
        with self._lock:
            known = self._known.get(channel_id)
        if known is not None and now - known[0] < self.ttl:
            return known[1]
        verdict = self._ask(channel_id)
        if verdict.shared is not None:
            with self._lock:
                self._known[channel_id] = (now, verdict)
        return verdict

    def forget(self, channel_id: str | None = None) -> None:
        with self._lock:
            if channel_id is None:
                self._known.clear()
            else:
                self._known.pop(channel_id, None)

    def _ask(self, channel_id: str) -> ChannelVerdict:
        try:
            response = self.client.conversations_info(channel=channel_id)
        except SlackApiError as error:
            code = error.response.get("error") or f"http_{error.response.status_code}"
            logger.warning("conversations.info %s: %s", channel_id, code)
            return ChannelVerdict(channel_id, None, f"Slack answered {code}")
        except (SlackClientError, OSError) as error:
            logger.warning("conversations.info %s: %s", channel_id, error.__class__.__name__)
            return ChannelVerdict(channel_id, None, f"Slack did not answer ({error.__class__.__name__})")
        channel = response.get("channel")
        if not isinstance(channel, dict):
            return ChannelVerdict(channel_id, None, "Slack's answer said nothing about the channel")
        flags = [flag for flag in SHARED_FLAGS if channel.get(flag) is True]
        if flags:
            return ChannelVerdict(channel_id, True, "shared with another organisation (" + ", ".join(flags) + ")")
        return ChannelVerdict(channel_id, False)


def is_direct_message(channel_id: str) -> bool:
    """A user id (U…/W…) as a channel: chat.postMessage posts in the app's direct messages with that user."""
    return DIRECT_MESSAGE.match(channel_id or "") is not None


def require_internal(guard: ChannelGuard | None, channel_id: str | None, *, field: str, what: str) -> None:
    """Refuse (UserError) a channel that is shared, or that Slack could not be asked about. No guard: the
    caller has no Slack at hand (the console without one), nothing to ask."""
    if guard is None or not channel_id:
        return
    verdict = guard.check(channel_id)
    if verdict.shared is None:
        raise UserError(f"Could not ask Slack whether <#{channel_id}> is shared with another organisation "
                        f"({verdict.reason}), so it was not set as {what}. Try again in a moment.", field=field)
    if verdict.shared:
        raise UserError(f"<#{channel_id}> is {verdict.reason}, so it cannot be {what}: Rapport posts internal "
                        "content there. Pick a channel only your own team is in.", field=field)
