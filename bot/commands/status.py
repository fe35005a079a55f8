"""`/cmo status [<client>|mine]`: health at a glance, for the portfolio, your clients, or one client."""

from __future__ import annotations

from dataclasses import dataclass

from bot import brief
from bot.blocks import Message, replies
from bot.blocks.health import HEALTH_RULES
from bot.brief import Scope
from bot.commands.context import Context
from bot.commands.registry import HelpTopic, Subcommand
from bot.parsing.grammar import joined
from bot.parsing.tokens import Token
from bot.services import status as status_service
from bot.services.calendars import client_zone

TOPIC = HelpTopic("status", "Status", (
    "`/cmo status` shows every client's health, worst first; `mine` only the clients you own; "
    "`<client>` one client's owner, cadence, last contact and latest interactions.",
))


@dataclass(frozen=True)
class Status:
    client: str | None = None  # None: the whole portfolio
    mine: bool = False


def parse_status(tokens: list[Token]) -> Status:
    if not tokens:
        return Status()
    if len(tokens) == 1 and tokens[0].value.lower() == "mine" and not tokens[0].quoted:
        return Status(mine=True)
    return Status(client=joined(tokens))


def show_status(command: Status, ctx: Context) -> Message:
    if command.client is not None:
        client = ctx.client(command.client)
        status = status_service.client_status(ctx.session, client, ctx.settings, ctx.now)
        scope = Scope(client=client, since=None, now=ctx.now, zone=client_zone(client, ctx.default_zone),
                      open_promises=status.open_promises)
        return replies.status(status, brief.prepare(ctx.session, scope, sections=brief.STATUS_SECTIONS))
    owner = ctx.actor.user_id if command.mine else None
    rows = status_service.portfolio(ctx.session, ctx.actor.team_id, ctx.settings, owner_user_id=owner,
                                    now=ctx.now)
    if command.mine:
        return replies.portfolio(rows, title="My clients",
                                 empty="You own no clients. `/cmo status` shows everyone's.")
    return replies.portfolio(rows, title="Portfolio health",
                             empty="No clients yet. Add one with `/cmo client add <name>`.")


STATUS = Subcommand(name="status", usage="/cmo status [<client>|mine]", command=Status,
                    reads_only=True, parse=parse_status,
                    run=show_status, topic=TOPIC.key)
SUBCOMMANDS = (STATUS,)
TOPICS = (TOPIC, HelpTopic("health", "How health is judged", HEALTH_RULES))
