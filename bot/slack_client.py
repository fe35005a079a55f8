"""The one way a Slack Web API client is made, pointed at SLACK_API_URL with the bot token.

Two kinds, by who uses it:
- listeners (the default): one quick retry on a 429, a 5xx or a lost connection. Listeners call Slack only
  after they have answered it, so a retry never delays Slack's 3-second deadline.
- delivery: no automatic retry. The delivery worker decides about 429s, 5xx and lost connections itself
  (a retried post might be a second post), and its client's timeout bounds its lease (bot.delivery).
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings

LISTENER_TIMEOUT = 10  # seconds
DELIVERY_TIMEOUT = 15  # seconds; the delivery lease (bot.delivery.LEASE_SECONDS) is well beyond it


def web_client(settings: Settings, *, for_delivery: bool = False) -> WebClient:
    if for_delivery:
        return WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=DELIVERY_TIMEOUT,
                         retry_handlers=[])
    return WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=LISTENER_TIMEOUT,
                     retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1),
                                     RateLimitErrorRetryHandler(max_retry_count=1),
                                     ServerErrorRetryHandler(max_retry_count=1)])
