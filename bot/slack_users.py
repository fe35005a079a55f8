"""users.info asked in the request thread, for a roles check the cache (bot/services/people.py) cannot
answer: one call, no retry, a short timeout, so the answer to Slack stays well within its 3 seconds."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.services.roles import AskSlack

logger = logging.getLogger(__name__)
IN_REQUEST_TIMEOUT = 1  # seconds
GONE = {"user_not_found", "account_inactive", "user_not_visible"}  # Slack will not tell: no admin


def users_info_in_request(settings: Settings) -> AskSlack:
    """users.info's `user` for a user id ({} when Slack will not tell; None when it did not answer)."""

    def ask(user_id: str) -> dict[str, Any] | None:
        client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                           timeout=IN_REQUEST_TIMEOUT, retry_handlers=[])
        try:
            user = client.users_info(user=user_id).get("user")
        except SlackApiError as error:
            if error.response.get("error") in GONE:
                return {}
            logger.warning("users.info for a roles check: %s", error.response.get("error"))
            return None
        except (SlackClientError, OSError) as error:
            logger.warning("users.info for a roles check: Slack did not answer (%s)", error.__class__.__name__)
            return None
        return user if isinstance(user, dict) else {}

    return ask
