"""Running one job by hand, as of a moment (`rapport jobs run`, and `jobs run` in the console)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.console import render
from bot.errors import UserError
from bot.parsing.dates import parse_date
from bot.runtime import Runtime
from jobs import JobSpec
from jobs.deliver import deliver

MOMENT_EXAMPLE = "2026-11-30T09:05, 2026-11-30T09:05:00+01:00, 10:00 (today), or \"fri 09:00\""


def parse_moment(text: str, zone: ZoneInfo) -> dt.datetime:
    """An ISO-8601 time, a time of today (`10:00`), or a date as commands take them and a time (`fri 09:00`,
    `tomorrow 10:00`, `+3d 08:30`); without a zone of its own it is in `zone`. ValueError if it isn't one."""
    try:
        words = text.split()
        if len(words) == 2:
            day = parse_date(words[0]).resolve(dt.datetime.now(zone).date())
            return dt.datetime.combine(day, dt.time.fromisoformat(words[1]), tzinfo=zone)
        if len(text) <= 5 and ":" in text:
            return dt.datetime.combine(dt.datetime.now(zone).date(), dt.time.fromisoformat(text), tzinfo=zone)
        moment = dt.datetime.fromisoformat(text)
    except (ValueError, UserError):
        raise ValueError(f"{text!r} is not an ISO-8601 time, like {MOMENT_EXAMPLE}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def run_by_hand(spec: JobSpec, runtime: Runtime, *, now: dt.datetime | None, dry_run: bool,
                max_delivery_seconds: float) -> str:
    """Run the job, then deliver what is pending, waiting out a short Retry-After or backoff within
    `max_delivery_seconds`; dry, show what would be posted and change nothing."""
    if spec.delivers:
        result = spec.run(runtime, now=now, dry_run=dry_run, max_seconds=max_delivery_seconds, drain=True)
    else:
        result = spec.run(runtime, now=now, dry_run=dry_run)
    parts = [result.summary()]
    if dry_run:
        parts += [f"→ {render.mrkdwn(f'<#{outgoing.channel_id}>')} [{outgoing.dedupe_key}]\n"
                  + render.message(outgoing.message.text, outgoing.message.blocks) for outgoing in result.planned]
    elif not spec.delivers:
        parts.append(deliver(runtime, now=now, max_seconds=max_delivery_seconds, drain=True).summary())
    return "\n\n".join(parts)
