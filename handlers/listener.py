"""One listener wrapper for every surface: slash commands, buttons, modal submissions, shortcuts and
select menus' options.

It checks who is acting (a signed payload is still input), remembers requests that must run once,
opens the one transaction of the request, turns a `UserError` into the right reply for the surface
(an ephemeral reply, a `respond()`, a modal's `response_action: errors`), and once the transaction is
committed starts the delivery of what it queued in the outbox. The listener's own work is a function
of a `Call`; it answers with what the surface shows, and leaves what must follow the answer to
`call.later`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.afterwards import AFTERWARDS, Afterwards, Task
from bot.blocks import Message, replies
from bot.blocks import text as t
from bot.blocks.forms import input_ids, result_view
from bot.commands import Context
from bot.config import Settings
from bot.db import Database
from bot.errors import UserError
from bot.parsing import payloads
from bot.services import Actor, Surface
from bot.services.outbox import QUEUED
from bot.services.requests import first_time
from bot.slack_users import users_info_in_request

ALREADY_DONE = Message(text="This form was already submitted; it was done once.")
ALREADY_RUN = Message(text="This command was already handled; it ran once.")


@dataclass
class Call:
    """What a listener's work gets: the request's one transaction, who acts, and the payload."""

    session: Session
    ctx: Context
    body: dict[str, Any]
    database: Database
    settings: Settings
    client: WebClient
    afterwards: Afterwards
    respond: Respond | None = None  # where to answer later (None: the request came with no response_url)

    def later(self, task: Task) -> None:
        """Run `task` once the answer to Slack is on its way."""
        self.afterwards.add(task)


@dataclass(frozen=True)
class OpenForm:
    """Answer by opening a modal (after the acknowledgement, with the request's trigger)."""

    view: dict[str, Any]
    usage: str | None = None


def open_modal(client: WebClient, trigger_id: str, view: dict, respond: Respond, *, usage: str | None) -> None:
    """Open a modal; if Slack refuses (an expired trigger, say), tell the user why."""
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        reason = error.response.get("error", "unknown error")
        message = replies.error(f"Slack did not open the form ({reason}). Try again, or type the command "
                                "with its arguments.", usage)
        respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())


def _later_respond(afterwards: Afterwards, respond: Respond, message: Message, **options: Any) -> None:
    if not respond.response_url:  # a payload without one (not Slack's): there is nowhere to answer
        return
    afterwards.add(lambda: respond(**options, **message.as_kwargs()))


# -- surfaces ----------------------------------------------------------------------------------------------

class RequestKind:
    """How one kind of request is answered. `name` is what the audit trail records."""

    name = ""

    def audit_name(self, body: dict[str, Any]) -> str:
        return self.name

    def once_key(self, body: dict[str, Any]) -> str | None:
        """The key that makes a repeated request (Slack's retry, a replay) run once; None: no such rule."""
        return None

    def answer(self, ack: Ack, respond: Respond, call: Call, answer: Any) -> None:
        raise NotImplementedError

    def refuse(self, ack: Ack, respond: Respond, afterwards: Afterwards, error: UserError, body: dict) -> None:
        raise NotImplementedError

    def repeated(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()

    def _open(self, ack: Ack, respond: Respond, call: Call, form: OpenForm) -> None:
        trigger_id = call.body.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id:  # a form can't open without one
            self.refuse(ack, respond, call.afterwards, payloads.InvalidPayload("no trigger_id"), call.body)
            return
        ack()
        call.later(lambda: open_modal(call.client, trigger_id, form.view, respond, usage=form.usage))


class SlashCommand(RequestKind):
    """`/cmo`: the reply is the acknowledgement itself, ephemeral; a form opens after it."""

    name = Surface.SLASH_COMMAND

    def once_key(self, body: dict[str, Any]) -> str | None:
        # Slack never retries a slash command, but a signed one can be replayed within five minutes.
        return f"command:{_required_string(body, 'trigger_id')}"

    def answer(self, ack: Ack, respond: Respond, call: Call, answer: Message | OpenForm) -> None:
        if isinstance(answer, OpenForm):
            self._open(ack, respond, call, answer)
        else:
            ack(response_type="ephemeral", **answer.as_kwargs())

    def refuse(self, ack: Ack, respond: Respond, afterwards: Afterwards, error: UserError, body: dict) -> None:
        ack(response_type="ephemeral", **replies.user_error(error).as_kwargs())

    def repeated(self, ack: Ack, body: dict[str, Any]) -> None:
        ack(response_type="ephemeral", **ALREADY_RUN.as_kwargs())


class Button(RequestKind):
    """A button on a message the bot posted: acknowledged at once; the message is updated, or a form opened."""

    name = Surface.BUTTON

    def once_key(self, body: dict[str, Any]) -> str | None:
        # Slack gives every click its own trigger_id; the same signed click replayed runs once.
        return f"action:{_required_string(body, 'trigger_id')}"

    def answer(self, ack: Ack, respond: Respond, call: Call, answer: Message | OpenForm | None) -> None:
        if isinstance(answer, OpenForm):
            self._open(ack, respond, call, answer)
            return
        ack()
        if answer is not None:
            _later_respond(call.afterwards, respond, answer, replace_original=True)

    def refuse(self, ack: Ack, respond: Respond, afterwards: Afterwards, error: UserError, body: dict) -> None:
        ack()
        _later_respond(afterwards, respond, replies.user_error(error, show_usage=False), response_type="ephemeral",
                       replace_original=False)


class ModalSubmission(RequestKind):
    """A submitted modal: the answer is the modal's next state (`response_action`), given at once."""

    name = Surface.MODAL

    def audit_name(self, body: dict[str, Any]) -> str:
        surface = payloads.view_metadata(body["view"]).get("surface")
        return surface if surface in (Surface.MODAL, Surface.MESSAGE_SHORTCUT) else self.name

    def once_key(self, body: dict[str, Any]) -> str | None:
        view = body["view"]
        return f"view:{_required_string(view, 'id')}:{view.get('hash') or ''}"

    def answer(self, ack: Ack, respond: Respond, call: Call, answer: dict[str, Any]) -> None:
        ack(**answer)

    def refuse(self, ack: Ack, respond: Respond, afterwards: Afterwards, error: UserError, body: dict) -> None:
        ack(response_action="errors", errors={input_block(body.get("view"), error.field): plain(error.text(t.user))})

    def repeated(self, ack: Ack, body: dict[str, Any]) -> None:
        ack(response_action="update", view=result_view(view_title(body.get("view")), ALREADY_DONE))


class MessageShortcut(RequestKind):
    """A message's ⋯ menu: acknowledged at once, then the form opens."""

    name = Surface.MESSAGE_SHORTCUT

    def once_key(self, body: dict[str, Any]) -> str | None:
        return f"shortcut:{_required_string(body, 'trigger_id')}"

    def answer(self, ack: Ack, respond: Respond, call: Call, answer: OpenForm) -> None:
        self._open(ack, respond, call, answer)

    def refuse(self, ack: Ack, respond: Respond, afterwards: Afterwards, error: UserError, body: dict) -> None:
        ack()
        _later_respond(afterwards, respond, replies.user_error(error), response_type="ephemeral")


class Options(RequestKind):
    """A select menu asking for its options as the user types (`block_suggestion`)."""

    name = Surface.OPTIONS

    def answer(self, ack: Ack, respond: Respond, call: Call, answer: list[dict[str, Any]]) -> None:
        ack(options=answer)

    def refuse(self, ack: Ack, respond: Respond, afterwards: Afterwards, error: UserError, body: dict) -> None:
        ack(options=[])


SLASH_COMMAND, BUTTON, MODAL, MESSAGE_SHORTCUT, OPTIONS = (SlashCommand(), Button(), ModalSubmission(),
                                                          MessageShortcut(), Options())


# -- the wrapper -------------------------------------------------------------------------------------------

Work = Callable[[Call], Any]


def listener(surface: RequestKind, *, audit_as: str | None = None,
             writes: bool | Callable[[dict], bool] = True) -> Callable[[Work], Callable[..., None]]:
    """Make `work(call) -> answer` a Bolt listener for `surface` (recorded in the audit trail as the surface's
    name, or `audit_as`). Work that `writes` nothing (a button that only opens a form) needs no guard
    against running twice; `writes` may also be asked of each request's body."""

    def decorate(work: Work) -> Callable[..., None]:
        def run(ack: Ack, body: dict, client: WebClient, context: BoltContext, respond: Respond) -> None:
            afterwards: Afterwards = context[AFTERWARDS]
            database, settings = context["db"], context["settings"]
            try:
                who = Actor(team_id=payloads.team_id(context.team_id or context.enterprise_id),
                            user_id=payloads.user_id(context.user_id),
                            surface=audit_as or surface.audit_name(body))
                once = surface.once_key(body) if (writes(body) if callable(writes) else writes) else None
                with database.transaction() as session:
                    if once and not first_time(session, who.team_id, once):
                        surface.repeated(ack, body)
                        return
                    ctx = Context(session, who, settings, now=dt.datetime.now(dt.UTC),
                                  channels=context.get("channel_guard"), ask_slack=users_info_in_request(settings))
                    call = Call(session, ctx, body, database, settings, client, afterwards,
                                respond if respond.response_url else None)
                    answer = work(call)
            except UserError as error:
                surface.refuse(ack, respond, afterwards, error, body)
                return
            if session.info.get(QUEUED):  # committed: what it queued can be delivered now
                afterwards.add(context["deliver_soon"])
            surface.answer(ack, respond, call, answer)

        # The work's name in tracebacks and Bolt's logs; not functools.wraps, whose __wrapped__ would make
        # Bolt read the work's signature instead of this one's.
        run.__name__, run.__qualname__, run.__doc__ = work.__name__, work.__qualname__, work.__doc__
        return run

    return decorate


def _required_string(container: dict[str, Any], key: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise payloads.InvalidPayload(f"no {key}")
    return value


def input_block(view: Any, field: str | None) -> str:
    """The input an error belongs to, else the first input (Slack shows errors under an input)."""
    inputs = input_ids(view)
    if field in inputs:
        return field
    return inputs[0] if inputs else (field or "value")


def view_title(view: Any) -> str:
    title = view.get("title") if isinstance(view, dict) else None
    text = title.get("text") if isinstance(title, dict) else None
    return text if isinstance(text, str) and text else "Rapport"


def plain(message: str) -> str:
    # Modal errors are plain text: code marks would show as literal backticks.
    return message.replace("`", "")[:2000]
