"""Records built in memory, for tests of pure functions (blocks, calendars) that need no database."""

from __future__ import annotations

from typing import Any

from bot.db.models import Client


def make_client(**fields: Any) -> Client:
    values: dict[str, Any] = dict(id=1, team_id="T0ACME", key="acme", name="Acme Biologics", owner_user_id="U0ANA",
                                  internal_channel_id="C0INT", shared_channel_id=None, cadence_days=14,
                                  timezone=None, archived_at=None, archived_by=None, created_by="U0ANA")
    values.update(fields)
    return Client(**values)
