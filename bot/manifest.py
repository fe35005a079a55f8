"""The Slack app manifest (`rapport manifest`): create the app from it with "Create from manifest"."""

from __future__ import annotations

from typing import Any

from bot.server import EVENTS_PATH

# The fewest bot scopes the features need. App Home, modals, shortcuts and permalinks need none.
BOT_SCOPES = [
    "commands",  # /cmo
    "chat:write",  # replies, announcements, reminders
    "channels:join",  # join a public internal channel the bot was not invited to (delivery)
    "channels:history",  # after a crash, confirm whether a post arrived before posting again
    "groups:history",  # the same, in private internal channels (the bot is invited there)
]
MESSAGE_SHORTCUT = "log_message"


def build_manifest(url: str | None = None, name: str = "Rapport") -> dict[str, Any]:
    """Socket Mode unless `url` (the public base URL of `rapport run` in HTTP mode) is given."""
    request_url = url.rstrip("/") + EVENTS_PATH if url else None
    command: dict[str, Any] = {
        "command": "/cmo",
        "description": "Client relationships: log contact, status, history",
        "usage_hint": "help | client add <name> | log <client> <kind> <summary> | status [<client>]",
        "should_escape": True,
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": ["app_home_opened"]}
    if request_url:
        command["url"] = request_url
        interactivity["request_url"] = request_url
        events["request_url"] = request_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Keeps a contract manufacturer's client relationships healthy.",
            "background_color": "#1d4e89",
        },
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": False,
                         "messages_tab_read_only_enabled": False},
            "bot_user": {"display_name": name.lower(), "always_online": True},
            "slash_commands": [command],
            "shortcuts": [{"name": "Log as client interaction", "type": "message",
                           "callback_id": MESSAGE_SHORTCUT,
                           "description": "Log this message as an interaction with a client"}],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }
