"""`/cmo whoami`: who you are to Rapport: your role, and the clients you are the one voice of."""

from __future__ import annotations

from dataclasses import dataclass

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.layout import context, section
from bot.commands.context import Context
from bot.commands.registry import HelpTopic, Subcommand
from bot.errors import UserError
from bot.parsing.tokens import Token
from bot.services import clients as client_service
from bot.services.roles import HELP_LINES

TOPIC = HelpTopic("whoami", "Who you are to Rapport", (
    "Your role (manager: listed in RAPPORT_MANAGERS, or a Slack workspace admin or owner; else team member) "
    "and the clients you own: the ones you are the one voice of, who hear about every schedule change from you.",
    "What each role may do: `/cmo help roles`.",
))
ROLES_TOPIC = HelpTopic("roles", "Roles: who may do what", HELP_LINES,
                        aliases=("role", "manager", "managers", "permissions", "owner"))


@dataclass(frozen=True)
class WhoAmI:
    pass


def parse_whoami(tokens: list[Token]) -> WhoAmI:
    if tokens:
        raise UserError("`whoami` takes nothing after it.")
    return WhoAmI()


def who_am_i(command: WhoAmI, ctx: Context) -> Message:
    user_id = ctx.actor.user_id
    roles = ctx.roles
    role = "a manager" if roles.manager else "a team member"
    why = f" You are {roles.why}." if roles.manager else ""
    unknown = ("" if roles.manager or roles.slack_admin is not None else
               " Slack did not say in time whether you are a workspace admin; ask again in a moment.")
    owned = client_service.list_clients(ctx.session, ctx.actor.team_id, owner_user_id=user_id)
    clients = (", ".join(f"*{t.user_text(c.name, 200)}* (`{c.key}`)" for c in owned) if owned
               else "none yet (`/cmo client set <client> owner:@you` makes you a client's one voice)")
    return Message(text=f"You are {role} in Rapport; you own {len(owned)} client(s)", blocks=[
        section(f"{t.user(user_id)}, you are *{role}* in Rapport.{why}\n*Your clients* ({len(owned)}): {clients}"),
        context(t.escape(f"Your clients' health: `/cmo status mine`. Who may do what: `/cmo help roles`.{unknown}")),
    ])


WHOAMI = Subcommand(name="whoami", usage="/cmo whoami", command=WhoAmI, parse=parse_whoami,
                    reads_only=True, run=who_am_i,
                    topic=TOPIC.key)
SUBCOMMANDS = (WHOAMI,)
TOPICS = (TOPIC, ROLES_TOPIC)
