"""Owners, peers and authors named by email in a file: Slack's user ids, asked once per distinct email."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.importing.rows import Person

LookupEmail = Callable[[str], str | None]  # an email -> the Slack user id, or None if Slack knows nobody


class SlackUnavailable(Exception):
    """Slack could not be asked (no token, a missing scope, an outage): the emails are left unresolved."""


def slack_lookup(settings) -> LookupEmail | None:
    """users.lookupByEmail through the bot's token (scope users:read.email); None without a token."""
    if not settings.slack_bot_token:
        return None
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

    # Tier 3 (50+ a minute): an import of many people waits out a 429 rather than giving up.
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10,
                       retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2),
                                       RateLimitErrorRetryHandler(max_retry_count=5)])

    def lookup(email: str) -> str | None:
        try:
            answer = client.users_lookupByEmail(email=email)
        except SlackApiError as error:
            reason = error.response.get("error") if error.response is not None else str(error)
            if reason == "users_not_found":
                return None
            hint = " (add the scope users:read.email and reinstall the app)" if reason == "missing_scope" else ""
            raise SlackUnavailable(f"Slack answered {reason}{hint}") from None
        except OSError as error:
            raise SlackUnavailable(f"could not reach Slack: {error}") from None
        user = answer.get("user") or {}
        return user.get("id")

    return lookup


@dataclass
class People:
    """Emails resolved to user ids, and what could not be: reported, never a bad row."""

    found: dict[str, str] = field(default_factory=dict)
    not_found: set[str] = field(default_factory=set)
    unavailable: str | None = None  # why Slack was not asked (or stopped being asked)

    @classmethod
    def resolve(cls, emails: Iterable[str], lookup: LookupEmail | None) -> People:
        people = cls()
        emails = sorted(set(emails))
        if lookup is None:
            people.not_found.update(emails)
            if emails:
                people.unavailable = "no SLACK_BOT_TOKEN to ask Slack with"
            return people
        for email in emails:
            if people.unavailable:
                people.not_found.add(email)
                continue
            try:
                user_id = lookup(email)
            except SlackUnavailable as error:
                people.unavailable = str(error)
                people.not_found.add(email)
                continue
            if user_id:
                people.found[email] = user_id
            else:
                people.not_found.add(email)
        return people

    def user_id(self, who: Person | None) -> str | None:
        if who is None:
            return None
        if who.user_id:
            return who.user_id
        if who.email:
            return self.found.get(who.email)
        return None
