"""The Slack app manifest (`rapport manifest`): create the app from it with "Create from manifest"."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from bot.blocks.ids import CallbackId
from bot.server import EVENTS_PATH

# The fewest bot scopes the features need. App Home, modals, shortcuts and permalinks need none.
BOT_SCOPES = [
    "commands",  # /cmo
    "chat:write",  # replies, announcements, reminders
    "channels:join",  # join a public internal channel the bot was not invited to (delivery)
    "channels:history",  # after a crash, confirm whether a post arrived before posting again
    "groups:history",  # the same, in private internal channels (the bot is invited there)
    "channels:read",  # conversations.info: is a public channel shared with another organisation?
    "groups:read",  # the same, for private channels
    "users:read",  # an owner's time zone: nudges and follow-ups come in their business hours
    "users:read.email",  # `rapport import`: an owner, peer or author given by email -> their user id
    "im:history",  # after a crash, confirm whether a direct message (an owner told of contact) arrived
    "im:write",  # "Add to calendar": a direct message to whoever pressed it...
    "files:write",  # ...carrying the meeting's .ics file
]
MESSAGE_SHORTCUT = CallbackId.MESSAGE_SHORTCUT  # its callback_id
# What users see in a message's ⋯ menu. Slack's manifest schema allows at most 24 characters.
MESSAGE_SHORTCUT_NAME = "Log client interaction"

# Limits of Slack's manifest schema (tests/vendor/slack_manifest_schema.json checks the whole manifest).
NAME_MAX = 35  # display_information.name
DISPLAY_NAME_MAX = 80  # features.bot_user.display_name
REQUEST_URL_MAX = 3000  # features.slash_commands[].url, the shortest of the request URL limits
# A bot user's display name, as Slack's app settings accept it: lower-case letters, digits, "-", "_", ".".
_DISPLAY_NAME_REJECTED = re.compile(r"[^a-z0-9._-]+")


class ManifestError(ValueError):
    """A `--url` or `--name` Slack would not accept; the message says why, for the person typing it."""


def check_url(url: str) -> str:
    """The public base URL of `rapport run` in HTTP mode, as Slack accepts it: `https://host[:port][/path]`,
    no query, no fragment, no credentials (a trailing slash is fine). Returned unchanged."""
    if not url.startswith("https://"):
        raise ManifestError(f"the URL must start with https:// (Slack sends requests only over HTTPS), not {url!r}")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ManifestError(f"the URL must not contain spaces or control characters: {url!r}")
    if "?" in url or "#" in url:
        raise ManifestError(f"the URL must not have a query (?…) or a fragment (#…): {url!r}")
    parts = urlsplit(url)
    try:
        _ = parts.port  # ValueError for a port that is not a number in range
    except ValueError:
        raise ManifestError(f"the URL has an invalid port: {url!r}") from None
    if not parts.hostname:
        raise ManifestError(f"the URL needs a host name, as in https://rapport.example.com, not {url!r}")
    if "@" in parts.netloc:
        raise ManifestError("the URL must not contain a user name or password")
    if len(_request_url(url)) > REQUEST_URL_MAX:
        raise ManifestError(f"the URL is too long (Slack allows {REQUEST_URL_MAX} characters with {EVENTS_PATH})")
    return url


def check_name(name: str) -> str:
    """The app's name as Slack accepts it (1 to 35 characters, one line, from which a bot user's display name
    can be derived). Returned unchanged."""
    if not name.strip():
        raise ManifestError("the name must not be empty")
    if len(name) > NAME_MAX:
        raise ManifestError(f"the name must be at most {NAME_MAX} characters (Slack's limit); "
                            f"{name!r} has {len(name)}")
    if name != name.strip() or any(not ch.isprintable() for ch in name):
        raise ManifestError(f"the name must not start or end with a space, nor contain control characters: "
                            f"{name!r}")
    if not display_name(name):
        raise ManifestError(f"the name must contain a letter or a digit (a-z, 0-9), for the bot user's display "
                            f"name: {name!r}")
    return name


def display_name(name: str) -> str:
    """The bot user's display name for an app `name`: lower-case, accents dropped, every run of other characters
    than a-z, 0-9, "-", "_", "." made one "-" ("Rapport Staging" → "rapport-staging"). Empty if nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _DISPLAY_NAME_REJECTED.sub("-", ascii_name.lower()).strip("-")[:DISPLAY_NAME_MAX]


def _request_url(url: str) -> str:
    return url.rstrip("/") + EVENTS_PATH


def build_manifest(url: str | None = None, name: str = "Rapport") -> dict[str, Any]:
    """Socket Mode unless `url` (the public base URL of `rapport run` in HTTP mode) is given.

    Raises ManifestError for a `url` or `name` Slack would refuse (see `check_url`, `check_name`)."""
    check_name(name)
    request_url = _request_url(check_url(url)) if url is not None else None
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
        # External select menus: Slack asks this URL for their options (`block_suggestion` requests).
        interactivity["message_menu_options_url"] = request_url
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
            "bot_user": {"display_name": display_name(name), "always_online": True},
            "slash_commands": [command],
            "shortcuts": [{"name": MESSAGE_SHORTCUT_NAME, "type": "message",
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
