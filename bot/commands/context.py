"""What every subcommand's executor gets besides its own arguments: the request's session, who acts,
the workspace's default zone and the moment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.blocks import Message
from bot.channels import ChannelGuard, require_internal
from bot.config import Settings
from bot.db.models import Client
from bot.services import Actor, outbox, roles
from bot.services import clients as client_service
from bot.services.calendars import client_today


@dataclass(frozen=True)
class SourceMessage:
    """The Slack message an interaction is logged from (the message shortcut)."""

    channel_id: str
    message_ts: str


@dataclass(frozen=True)
class LinkWanted:
    """An interaction whose message link is fetched once the answer to Slack is on its way."""

    interaction_id: int
    message: SourceMessage


class Context:
    def __init__(self, session: Session, actor: Actor, settings: Settings, *,
                 now: dt.datetime | None = None, source_message: SourceMessage | None = None,
                 ask_slack: roles.AskSlack | None = None, channels: ChannelGuard | None = None) -> None:
        self.session = session
        self.actor = actor
        self.settings = settings
        self.now = now or dt.datetime.now(dt.UTC)
        self.source_message = source_message
        self.links_wanted: list[LinkWanted] = []
        self.channels = channels  # asks Slack whether a channel is shared (None: no Slack at hand)
        self.ask_slack = ask_slack  # users.info, for a roles check the cache can't answer (None: not asked)
        self._roles: roles.Roles | None = None

    def require_internal(self, channel_id: str | None, *, field: str, what: str) -> None:
        """Refuse (UserError, nothing written) a channel shared with another organisation, or one Slack
        could not be asked about."""
        require_internal(self.channels, channel_id, field=field, what=what)

    @property
    def roles(self) -> roles.Roles:
        """The actor's roles (RAPPORT_MANAGERS, Slack admin or owner), read once a request."""
        if self._roles is None:
            self._roles = roles.roles_of(self.session, self.actor, self.settings.managers, now=self.now,
                                         ask=self.ask_slack)
        return self._roles

    def authorize(self, rule: roles.Rule, client: Client, what: str) -> None:
        """Refuse (a UserError that says who may) unless the actor may `what` to `client`: see services/roles."""
        roles.authorize(self.actor, rule, client, what, lambda: self.roles)

    @property
    def default_zone(self) -> ZoneInfo:
        return self.settings.zone

    def client(self, reference: str, *, allow_archived: bool = False) -> Client:
        return client_service.resolve_client(self.session, self.actor.team_id, reference,
                                             allow_archived=allow_archived)

    def today_for(self, client: Client | None) -> dt.date:
        """Today in the client's zone (else the workspace default's)."""
        if client is None:
            return self.now.astimezone(self.default_zone).date()
        return client_today(client, self.default_zone, self.now)

    def post(self, client: Client, dedupe_key: str, message: Message, source: str) -> bool:
        """Queue a post to the client's internal channel (none set: nothing is queued)."""
        if not client.internal_channel_id:
            return False
        return outbox.enqueue(self.session, team_id=self.actor.team_id, dedupe_key=dedupe_key,
                              channel_id=client.internal_channel_id, message=message, source=source)
