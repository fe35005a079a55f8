"""Settings: the environment and `.env` read into one typed object."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///rapport.db"
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")


class ConfigError(ValueError):
    """A setting is present but unusable; the message names it and says why."""


@dataclass(frozen=True)
class Settings:
    # Secrets are kept out of repr() so that a logged Settings never leaks a token (or a database password).
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    timezone: str = "UTC"
    managers_channel: str | None = None
    port: int = 3000
    disclosure_hours: float = 4.0  # business hours to tell the client about a schedule change
    managers: frozenset[str] = frozenset()  # user ids with the manager role (RAPPORT_MANAGERS)
    business_hours: tuple[dt.time, dt.time] = (dt.time(9), dt.time(17))  # a working day, in the reader's zone
    nudge_repeat_days: int = 3  # business days between stale-contact nudges while still stale
    outbox_retention_days: int = 90  # sent/cancelled outbox rows older than this are pruned (housekeeping)

    def __repr__(self) -> str:
        shown = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr]
        masked = re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", self.database_url, count=1)
        return f"Settings(database_url={masked!r}, {', '.join(shown)})"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    def missing_for_run(self) -> list[str]:
        """The settings `rapport run` cannot start without, by name."""
        missing = []
        if not self.slack_bot_token:
            missing.append("SLACK_BOT_TOKEN")
        if self.socket_mode:
            return missing
        if not self.slack_signing_secret:
            missing.append("SLACK_SIGNING_SECRET")
        return missing

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)


def load_settings(environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env") -> Settings:
    """Read settings from `environ` (default: the process environment) over a `.env` file.

    Real environment variables win over `.env`, as python-dotenv does by default.
    """
    values: dict[str, str | None] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        values.update(dotenv_values(dotenv_path))
    values.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = values.get(name)
        return value.strip() if value and value.strip() else None

    timezone = get("RAPPORT_TIMEZONE") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"RAPPORT_TIMEZONE={timezone!r} is not an IANA time zone (for example Europe/Berlin)."
        ) from None

    port_text = get("PORT") or "3000"
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ConfigError(f"PORT={port_text!r} is not a TCP port number (1-65535).")

    hours_text = get("RAPPORT_BUSINESS_HOURS") or "09:00-17:00"
    business_hours = _business_hours(hours_text)
    day_hours = (dt.datetime.combine(dt.date.min, business_hours[1])
                 - dt.datetime.combine(dt.date.min, business_hours[0])).total_seconds() / 3600

    disclosure_text = get("RAPPORT_DISCLOSURE_HOURS") or "4"
    try:
        disclosure_hours = float(disclosure_text)
    except ValueError:
        disclosure_hours = -1.0
    if not 0 < disclosure_hours <= day_hours:
        # Escalation to managers comes after one business day: the owner's nudge must come first.
        raise ConfigError(f"RAPPORT_DISCLOSURE_HOURS={disclosure_text!r} is not a number of business hours "
                          f"(more than 0, at most {day_hours:g}: one business day, when managers are told).")

    repeat_text = get("RAPPORT_NUDGE_REPEAT_DAYS") or "3"
    if not (repeat_text.isascii() and repeat_text.isdigit()) or not 1 <= int(repeat_text) <= 30:
        raise ConfigError(f"RAPPORT_NUDGE_REPEAT_DAYS={repeat_text!r} is not a number of business days (1-30).")

    retention_text = get("RAPPORT_OUTBOX_RETENTION_DAYS") or "90"
    if not (retention_text.isascii() and retention_text.isdigit()) or not 1 <= int(retention_text) <= 3650:
        raise ConfigError(f"RAPPORT_OUTBOX_RETENTION_DAYS={retention_text!r} is not a number of days (1-3650).")

    managers = frozenset((get("RAPPORT_MANAGERS") or "").replace(",", " ").split())
    wrong = sorted(user for user in managers if not _USER_ID.match(user))
    if wrong:
        raise ConfigError(f"RAPPORT_MANAGERS has {', '.join(map(repr, wrong))}, which is not a Slack user id "
                          "(U... or W..., from a profile's ⋯ › Copy member ID); separate ids with commas.")

    api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not api_url.endswith("/"):
        api_url += "/"

    return Settings(
        slack_bot_token=get("SLACK_BOT_TOKEN"),
        slack_signing_secret=get("SLACK_SIGNING_SECRET"),
        slack_app_token=get("SLACK_APP_TOKEN"),
        slack_api_url=api_url,
        database_url=get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        timezone=timezone,
        managers_channel=get("RAPPORT_MANAGERS_CHANNEL"),
        port=int(port_text),
        disclosure_hours=disclosure_hours,
        managers=managers,
        business_hours=business_hours,
        nudge_repeat_days=int(repeat_text),
        outbox_retention_days=int(retention_text),
    )


def _business_hours(text: str) -> tuple[dt.time, dt.time]:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    try:
        start = dt.time(int(match.group(1)), int(match.group(2)))
        end = dt.time(int(match.group(3)), int(match.group(4)))
    except (AttributeError, ValueError):
        start = end = None
    if start is None or end is None or end <= start:
        raise ConfigError(f"RAPPORT_BUSINESS_HOURS={text!r} is not a working day like 09:00-17:00 "
                          "(start before end, 24-hour clock).")
    return start, end
