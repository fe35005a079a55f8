"""Who may do what: the one place Rapport's roles are decided (issue 11, part 3).

- *Managers* are the user ids in RAPPORT_MANAGERS, plus the Slack workspace's admins and owners
  (users.info `is_admin` / `is_owner`). They may do everything, and they alone may archive a client and
  change a client's owner or cadence.
- A client's *owner* may change their own client's other settings (channel, shared channel, time zone,
  country), snooze its nudges and cancel its meetings.
- *Anyone* may add a client (the team brings new clients in; the managers can change its owner and cadence
  afterwards), log contact and schedule changes, add, skip and move meetings, and read everything.

A refused action writes nothing and says who may do it: the client's owner (mentioned) and the managers.

Slack roles are read from the users.info cache (bot/services/people.py), never from Slack when known. Someone
not in RAPPORT_MANAGERS, not the owner and not known there is looked up once (`ask`: users.info with a short
timeout, far within Slack's 3 seconds); if Slack does not answer, they are taken for no admin and told so.
The answer is remembered in the request's transaction: kept when the action goes through, not when it is
refused (a refusal writes nothing; the next try asks again). A role Slack withdraws counts for up to a day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from sqlalchemy.orm import Session

from bot.db.models import Client
from bot.errors import USER, UserError
from bot.services import Actor, people

# users.info's `user` for a user id; None: Slack did not answer (slow, down, rate limited).
AskSlack = Callable[[str], dict | None]

WHO_ARE_MANAGERS = "Managers are the people in RAPPORT_MANAGERS and the Slack workspace's admins and owners."
HELP_LINES = (
    "*Managers* (the people in RAPPORT_MANAGERS, plus the Slack workspace's admins and owners) may do "
    "everything; only they may archive a client or change a client's owner or cadence.",
    "A client's *owner* may change their own client's other settings (`channel:`, `shared:`, `tz:`, `country:`), "
    "snooze its nudges and cancel its meetings.",
    "*Everyone* may add a client, log contact (`/cmo log`), log and tell schedule changes (`/cmo delay`, "
    "`/cmo told`), add, skip and move meetings, and see status and history.",
    "A refused action changes nothing and says who may do it. `/cmo whoami` shows your role.",
)


class Rule(Enum):
    MANAGERS = "managers"  # managers only
    OWNER = "owner"  # the client's owner, or a manager


MANAGER_ONLY_CHANGES = {"owner_user_id": "owner", "cadence_days": "cadence"}


def rule_for_client_changes(changes: dict) -> Rule:
    """`client set`: an owner or a cadence is the managers' to change; the rest the owner's too."""
    return Rule.MANAGERS if any(name in changes for name in MANAGER_ONLY_CHANGES) else Rule.OWNER


@dataclass(frozen=True)
class Roles:
    listed: bool  # in RAPPORT_MANAGERS
    slack_admin: bool | None  # a workspace admin or owner, as Slack said; None: not known (Slack did not answer)

    @property
    def manager(self) -> bool:
        return self.listed or bool(self.slack_admin)

    @property
    def why(self) -> str:
        """What makes them a manager, for `/cmo whoami`."""
        if self.listed:
            return "listed in RAPPORT_MANAGERS"
        return "a Slack workspace admin or owner" if self.slack_admin else ""


def roles_of(session: Session, actor: Actor, managers: frozenset[str], *, now: dt.datetime,
             ask: AskSlack | None = None) -> Roles:
    """The actor's roles: the cache first; Slack (`ask`) only when the cache does not know."""
    if actor.user_id in managers:
        return Roles(listed=True, slack_admin=None)
    admin = people.workspace_admin(session, actor.team_id, actor.user_id, now)
    if admin is None and ask is not None:
        user = ask(actor.user_id)
        if user is not None:
            people.remember_user(session, actor.team_id, actor.user_id, user, now)
            admin = people.workspace_admin(session, actor.team_id, actor.user_id, now)
    return Roles(listed=False, slack_admin=admin)


def authorize(actor: Actor, rule: Rule, client: Client, what: str, roles: Callable[[], Roles]) -> None:
    """Raise a UserError that says who may `what` ("archive Acme") unless the actor may. `roles` gives the
    actor's roles (asked only when being the client's owner is not enough)."""
    if rule is Rule.OWNER and client.owner_user_id and client.owner_user_id == actor.user_id:
        return
    found = roles()
    if found.manager:
        return
    if rule is Rule.MANAGERS:
        who = "Only a manager may"
        owner_hint = f"; its owner, {USER}, can ask one" if client.owner_user_id else ""
    elif client.owner_user_id:
        who, owner_hint = f"Only the client's owner, {USER}, or a manager may", ""
    else:
        who, owner_hint = "Only a manager (the client has no owner yet) may", ""
    unknown = ("" if found.slack_admin is not None else
               " Slack did not say in time whether you are a workspace admin, so Rapport took you for none; "
               "if you are one, try again in a moment.")
    raise UserError(f"{who} {what}{owner_hint}. Nothing was changed. {WHO_ARE_MANAGERS}{unknown}",
                    usage="", user_id=client.owner_user_id or None)

