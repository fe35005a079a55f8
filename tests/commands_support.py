"""Helpers for the `/cmo` HTTP tests: typing text the way Slack sends it, reading replies and rows."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select

from bot.db.models import AuditEvent, Client, Interaction
from tests.slackhttp import Response, message_text

# The grammar as PRODUCT.md states it ("stable: tests and docs rely on it").
FORMS = {
    "client add": "/cmo client add <name> [key:<short-key>] [owner:@user] [channel:#internal-channel] "
    "[cadence:<N>d|<N>w] [tz:<IANA zone>] [country:<ISO 3166 code>]",
    "client list": "/cmo client list",
    "client set": "/cmo client set <client> owner:@user | channel:#chan | shared:#slack-connect-chan | "
    "cadence:14d | tz:Europe/Berlin | country:DE",
    "client archive": "/cmo client archive <client>",
    "log": '/cmo log <client> <call|meeting|email|visit|note> <summary ...> [on:<date>] [with:"<contact>"] '
    "[next:<date>]",
    "status": "/cmo status [<client>|mine]",
    "history": "/cmo history <client>",
    "help": "/cmo help [topic]",
}
SECTION_LIMIT = 3000
MAX_BLOCKS = 50


def typed(text: str) -> str:
    """What a user typed, as Slack puts it in a slash command's `text`: &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: str, name: str) -> str:
    """A user picked from Slack's autocomplete, as Slack sends it."""
    return f"<@{user_id}|{name}>"


def channel_link(channel_id: str, name: str) -> str:
    return f"<#{channel_id}|{name}>"


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def reply(response: Response) -> dict[str, Any]:
    """The payload of a successful answer to Slack: HTTP 200, ephemeral, with blocks."""
    assert response.status == 200, response.body
    payload = response.json
    assert payload is not None, "the command was acknowledged without a reply"
    assert payload.get("response_type") == "ephemeral", payload
    assert_within_block_kit_limits(payload)
    return payload


def shown(response: Response) -> str:
    """What the user reads in Slack: every block's text with Slack's entities rendered."""
    return unescape(message_text(reply(response)))


def block_texts(payload: dict[str, Any]) -> list[str]:
    return message_text({"blocks": payload.get("blocks") or []}).split("\n")


def assert_within_block_kit_limits(payload: dict[str, Any]) -> None:
    blocks = payload.get("blocks") or []
    assert len(blocks) < MAX_BLOCKS, f"{len(blocks)} blocks"
    for block in blocks:
        if block.get("type") == "section":
            assert len(block["text"]["text"]) <= SECTION_LIMIT, len(block["text"]["text"])
        if block.get("type") == "context":
            assert len(block["elements"]) <= 10
            for element in block["elements"]:
                assert len(element["text"]) <= 2000
        if block.get("type") == "header":
            assert len(block["text"]["text"]) <= 150


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    """Every text Slack parses for mentions and links: the fallback text and every mrkdwn object.

    plain_text objects (headers) are shown literally by Slack, so raw characters are right there."""
    found = [payload.get("text") or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node.get("text", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload.get("blocks") or [])
    return found


def assert_no_raw_markup(response: Response, *raw: str) -> None:
    """None of `raw` reaches Slack unescaped where Slack would parse it."""
    for text in mrkdwn_texts(response.json):
        for fragment in raw:
            assert fragment not in text, f"{fragment!r} reached Slack unescaped: {text!r}"


def assert_error(response: Response, *fragments: str, form: str | None) -> str:
    """A bad-input answer: 200, ephemeral, a warning that says what is wrong, and the right form."""
    payload = reply(response)
    blocks = payload["blocks"]
    first = unescape(blocks[0]["text"]["text"])
    assert first.startswith(":warning:"), first
    text = shown(response)
    for fragment in fragments:
        assert fragment.lower() in text.lower(), f"{fragment!r} not in {text!r}"
    if form is not None:
        assert "Right form" in text, text
        assert form in text, f"the right form {form!r} is not shown in {text!r}"
    return text


def row_counts(database, *models) -> dict[str, int]:
    """How many rows each table has (a command refused must leave them all as they were)."""
    with database.transaction() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) for model in models}


def rows(database, model, *where) -> list:
    """The model's rows matching `where`, oldest first."""
    with database.transaction() as session:
        return list(session.scalars(select(model).where(*where).order_by(model.id)))


def table_counts(database) -> dict[str, int]:
    return row_counts(database, Client, Interaction, AuditEvent)


def clients(database, team: str = "T0ACME") -> list[Client]:
    with database.transaction() as session:
        return list(session.scalars(select(Client).where(Client.team_id == team).order_by(Client.id)))


def client_row(database, key: str, team: str = "T0ACME") -> Client:
    with database.transaction() as session:
        return session.scalars(select(Client).where(Client.team_id == team, Client.key == key)).one()


def interactions(database, team: str = "T0ACME") -> list[Interaction]:
    with database.transaction() as session:
        return list(session.scalars(select(Interaction).where(Interaction.team_id == team)
                                    .order_by(Interaction.id)))


def audit_events(database, team: str = "T0ACME") -> list[AuditEvent]:
    with database.transaction() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.team_id == team)
                                    .order_by(AuditEvent.id)))


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def latest_weekday(weekday: int, today: dt.date) -> dt.date:
    """The latest date on `weekday` (0 = Monday) that is not after `today`."""
    return today - dt.timedelta(days=(today.weekday() - weekday) % 7)


def cadence_forms(days: int) -> list[str]:
    """The ways a cadence may be shown: `14d`, or `2w` when it is whole weeks."""
    return [f"{days}d"] + ([f"{days // 7}w"] if days % 7 == 0 else [])


def assert_shows_cadence(text: str, template: str, *days: int) -> None:
    """`template` with each `{}` a cadence of `days` (in either form) appears in `text`."""
    variants = [template]
    for count in days:
        variants = [v.replace("{}", form, 1) for v in variants for form in cadence_forms(count)]
    assert any(v in text for v in variants), f"none of {variants} in {text!r}"


def opened_form(slack, response: Response) -> dict[str, Any]:
    """The modal a subcommand without arguments opened: acknowledged with an empty 200, then views.open."""
    assert response.status == 200, response.body
    assert not response.body or not (response.json or {}).get("blocks"), "a reply instead of a form"
    [call] = slack.wait_for("views.open")
    view = call.args["view"]
    return json.loads(view) if isinstance(view, str) else view
