"""Block Kit builders, the console's text rendering and the app manifest: what a user reads."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from bot.blocks import Message, forms, home, layout, nudges, replies
from bot.blocks import text as t
from bot.blocks.health import HEALTH_RULES
from bot.blocks.help import help_message as build_help
from bot.blocks.ids import ActionId
from bot.commands import REGISTRY, USAGE
from bot.commands.clients import ClientAdd, ClientSet, client_add_modal, client_archive_modal, client_set_modal
from bot.commands.history import history_modal
from bot.commands.log import LogInteraction, log_modal
from bot.console import render
from bot.db.models import INTERACTION_KINDS, AuditEvent, Client, Interaction
from bot.errors import UserError
from bot.manifest import BOT_SCOPES, MESSAGE_SHORTCUT, build_manifest
from bot.parsing.dates import parse_date
from bot.services.status import ClientStatus, Health, HealthLevel, PortfolioRow
from tests.factories import make_client
from tests.slackhttp import mrkdwn_texts

NASTY = "<!channel> & <b>"
NASTY_ESCAPED = "&lt;!channel&gt; &amp; &lt;b&gt;"
TODAY = dt.date(2026, 12, 2)
# What Slack reads as syntax inside <...> in text the bot writes: mentions, channel links, web links.
_SLACK_SYNTAX = re.compile(r"^(@[UW][A-Z0-9]+|#[CG][A-Z0-9]+|https?://[^|\s]+(\|[^<>]*)?)$")

GREEN, AMBER, RED = HealthLevel


# --- helpers --------------------------------------------------------------------------------------------


def make_interaction(**fields: Any) -> Interaction:
    values: dict[str, Any] = dict(id=1, team_id="T0ACME", client_id=1, kind="call", summary="Agreed Q1 fill slots",
                                  occurred_on=dt.date(2026, 11, 30), contact_name=None, next_contact_on=None,
                                  permalink=None, logged_by="U0BO", surface="slash_command")
    values.update(fields)
    return Interaction(**values)


def make_event(action: str, *, before=None, after=None, at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
               **fields: Any) -> AuditEvent:
    values: dict[str, Any] = dict(id=1, team_id="T0ACME", actor_user_id="U0ANA", action=action,
                                  entity_type="client", entity_id=1, client_id=1, before=before, after=after,
                                  occurred_at=at, surface="slash_command")
    values.update(fields)
    return AuditEvent(**values)




def plain_texts(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "plain_text":
            found.append(node["text"])
        for value in node.values():
            found += plain_texts(value)
    elif isinstance(node, list):
        for value in node:
            found += plain_texts(value)
    return found


def assert_no_stray_slack_syntax(node: Any) -> None:
    """No `<...>` in mrkdwn except mentions and links the bot meant; every `&` starts an entity."""
    for text in mrkdwn_texts(node):
        for inner in re.findall(r"<([^<>]*)>", text):
            assert _SLACK_SYNTAX.match(inner), f"stray Slack syntax <{inner}> in {text!r}"
        assert "<!" not in text, text
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), f"unescaped & in {text!r}"


def assert_within_limits(blocks: list[dict], max_blocks: int = 50) -> None:
    assert 0 < len(blocks) <= max_blocks
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        elif block["type"] == "context":
            assert len(block["elements"]) <= 10
            assert all(len(element["text"]) <= 2000 for element in block["elements"])
        elif block["type"] == "header":
            assert len(block["text"]["text"]) <= 150


def joined(message: Message) -> str:
    return "\n".join(mrkdwn_texts(message.blocks))


def input_blocks(view: dict) -> dict[str, dict]:
    return {block["block_id"]: block for block in view["blocks"] if block["type"] == "input"}


# --- text.py --------------------------------------------------------------------------------------------


def test_escape_turns_slack_control_characters_into_entities():
    assert t.escape(NASTY) == NASTY_ESCAPED


def test_escape_escapes_an_ampersand_the_user_typed_even_if_it_looks_like_an_entity():
    assert t.escape("&amp; &lt;") == "&amp;amp; &amp;lt;"


def test_clip_leaves_short_text_alone():
    assert t.clip("abc", 3) == "abc"
    assert t.clip("", 1) == ""


def test_clip_cuts_to_the_limit_and_ends_with_an_ellipsis():
    clipped = t.clip("x" * 100, 10)
    assert clipped == "x" * 9 + "…"
    assert len(clipped) == 10


@pytest.mark.parametrize("limit", range(2, 60))
def test_clip_never_cuts_inside_an_entity(limit):
    escaped = t.escape("a&b<c>d " * 10)
    clipped = t.clip(escaped, limit)
    assert len(clipped) <= limit
    assert clipped.endswith("…")
    body = clipped[:-1]
    assert escaped.startswith(body)
    assert "&" not in re.sub(r"&(amp|lt|gt);", "", body), clipped


def test_user_text_escapes_then_clips():
    shown = t.user_text("<" * 100, 10)
    assert shown.endswith("…") and len(shown) <= 10
    assert "<" not in shown
    assert re.fullmatch(r"(&lt;)*…", shown)


def test_user_and_channel_mentions_and_their_absence():
    assert t.user("U0ANA") == "<@U0ANA>"
    assert t.user(None) == "nobody"
    assert t.channel("C0INT") == "<#C0INT>"
    assert t.channel(None) == "none"


def test_day_and_days_ago():
    assert t.day(dt.date(2026, 12, 4)) == "Fri 2026-12-04"
    assert t.day(None) == "—"
    assert t.days_ago(TODAY, TODAY) == "today"
    assert t.days_ago(dt.date(2026, 12, 1), TODAY) == "yesterday"
    assert t.days_ago(dt.date(2026, 11, 22), TODAY) == "10 days ago"
    assert t.days_ago(dt.date(2026, 12, 5), TODAY) == "in 3 days"


# --- replies: errors ------------------------------------------------------------------------------------


def test_error_escapes_the_message():
    message = replies.error(f"`{NASTY}` is not a client I know.")
    assert NASTY_ESCAPED in joined(message)
    assert joined(message).startswith(":warning:")
    assert len(message.blocks) == 1
    assert_no_stray_slack_syntax(message.blocks)


@pytest.mark.parametrize("key", USAGE)
def test_error_shows_the_right_form_escaped_so_placeholders_are_not_links(key):
    message = replies.error("Something was wrong.", USAGE[key])
    usage_text = mrkdwn_texts(message.blocks[1])[0]
    assert "Right form" in usage_text
    assert f"`{t.escape(USAGE[key])}`" in usage_text
    assert_no_stray_slack_syntax(message.blocks)


def test_error_shows_each_line_of_a_multi_line_form_in_its_own_code_span():
    usage = "\n".join([USAGE["client add"], USAGE["client list"]])
    text = mrkdwn_texts(replies.error("Say what to do.", usage).blocks[1])[0]
    assert text.splitlines()[1:] == [f"`{t.escape(USAGE['client add'])}`", f"`{USAGE['client list']}`"]


def test_error_fallback_text_is_escaped_when_sent():
    sent = replies.error(f"{NASTY} is wrong", USAGE["log"]).as_kwargs()
    assert "<!channel>" not in sent["text"]
    assert "<client>" not in sent["text"]
    assert NASTY_ESCAPED in sent["text"]


def test_not_yet_available_names_the_subcommand():
    text = joined(replies.not_yet_available("delay"))
    assert "`/cmo delay`" in text
    assert "not in this version yet" in text
    assert "/cmo help" in text


# --- replies: clients -----------------------------------------------------------------------------------


def test_client_list_empty_shows_how_to_add_one_escaped():
    message = replies.client_list([])
    assert "No clients yet" in joined(message)
    assert "`/cmo client add &lt;name&gt;`" in joined(message)
    assert_no_stray_slack_syntax(message.blocks)


def test_client_list_shows_owner_channels_and_zone():
    message = replies.client_list([make_client(shared_channel_id="C0EXT", timezone="Europe/Berlin", cadence_days=10),
                                   make_client(id=2, key="bio", name="Bio", owner_user_id=None,
                                               internal_channel_id=None)])
    text = joined(message)
    assert "*Acme Biologics* (`acme`)" in text
    assert "owner <@U0ANA>" in text
    assert "internal <#C0INT>" in text and "shared <#C0EXT>" in text
    assert "cadence 10d" in text
    assert "Europe/Berlin" in text
    assert "*Bio* (`bio`) · owner nobody" in text
    assert message.blocks[0]["text"]["text"] == "Clients (2)"


def test_client_list_escapes_client_names():
    message = replies.client_list([make_client(name=NASTY)])
    assert NASTY_ESCAPED in joined(message)
    assert_no_stray_slack_syntax(message.blocks)
    assert "<!channel>" not in message.as_kwargs()["text"]


def test_a_long_client_list_stays_within_block_kit_limits():
    clients = [make_client(id=n, key=f"client-{n}", name=f"Client {n} " + "&" * 180) for n in range(2000)]
    message = replies.client_list(clients)
    assert_within_limits(message.blocks)
    assert "…and more" in joined(message)
    assert_no_stray_slack_syntax(message.blocks)


def test_client_added_suggests_what_is_missing():
    text = joined(replies.client_added(make_client(owner_user_id=None, internal_channel_id=None)))
    assert "`/cmo client set acme owner:@someone`" in text
    assert "`/cmo client set acme channel:#channel`" in text
    assert "`/cmo log acme call &lt;summary&gt;`" in text


def test_client_added_with_owner_and_channel_only_suggests_logging():
    message = replies.client_added(make_client())
    text = joined(message)
    assert "owner:@someone" not in text and "channel:#channel" not in text
    assert "/cmo log acme call" in text
    assert_no_stray_slack_syntax(message.blocks)


def test_client_added_escapes_the_name_everywhere_a_user_reads_it():
    message = replies.client_added(make_client(name=NASTY))
    assert NASTY_ESCAPED in joined(message)
    assert_no_stray_slack_syntax(message.blocks)
    assert "<!channel>" not in message.as_kwargs()["text"]


def test_client_updated_shows_each_change_before_and_after():
    message = replies.client_updated(make_client(), {
        "owner_user_id": (None, "U0BO"), "internal_channel_id": ("C0OLD", "C0NEW"), "cadence_days": (14, 10),
        "timezone": ("UTC", None),
    })
    text = joined(message)
    assert "• owner: none → <@U0BO>" in text
    assert "• internal channel: <#C0OLD> → <#C0NEW>" in text
    assert "→ 10d" in text
    assert "• time zone: UTC → none" in text


def test_client_updated_escapes_user_values():
    message = replies.client_updated(make_client(name=NASTY), {"name": ("Old & <i>", NASTY)})
    text = joined(message)
    assert "Old &amp; &lt;i&gt; → " + NASTY_ESCAPED in text
    assert_no_stray_slack_syntax(message.blocks)


def test_client_updated_with_nothing_changed_says_so():
    message = replies.client_updated(make_client(name=NASTY), {})
    assert "Nothing changed" in joined(message)
    assert_no_stray_slack_syntax(message.blocks)


def test_client_archived_points_to_its_history():
    message = replies.client_archived(make_client(name=NASTY))
    assert "`/cmo history acme`" in joined(message)
    assert NASTY_ESCAPED in joined(message)
    assert_no_stray_slack_syntax(message.blocks)


# --- replies: interactions, status, portfolio, history ------------------------------------------------


def test_interaction_logged_shows_what_was_logged():
    message = replies.interaction_logged(
        make_client(), make_interaction(kind="visit", contact_name="Dr. Jane Roe", next_contact_on=dt.date(2026, 12, 9),
                                        permalink="https://acme.slack.com/archives/C0INT/p123"), TODAY)
    text = joined(message)
    assert "Logged for *Acme Biologics* (`acme`)" in text
    assert "*visit* with Dr. Jane Roe · Mon 2026-11-30 (2 days ago) · by <@U0BO>" in text
    assert "<https://acme.slack.com/archives/C0INT/p123|message>" in text
    assert "> Agreed Q1 fill slots" in text
    assert "Next contact planned Wed 2026-12-09" in text
    assert_no_stray_slack_syntax(message.blocks)


def test_interaction_logged_escapes_summary_and_contact():
    interaction = make_interaction(summary=NASTY, contact_name="<@U0EVE> <!here>")
    message = replies.interaction_logged(make_client(), interaction, TODAY)
    text = joined(message)
    assert f"> {NASTY_ESCAPED}" in text
    assert "with <@U0EVE> &lt;!here&gt;" in text  # a mention renders (issue 11), a broadcast never
    assert_no_stray_slack_syntax(message.blocks)


def test_interaction_logged_quotes_every_line_of_a_multi_line_summary():
    text = joined(replies.interaction_logged(make_client(), make_interaction(summary="one\ntwo\nthree"), TODAY))
    assert "> one\n> two\n> three" in text


def test_a_5000_character_summary_is_shown_clipped_within_limits_and_says_so():
    summary = ("Batch 42 & <QA> release moved; " * 200)[:5000]
    message = replies.interaction_logged(make_client(), make_interaction(summary=summary), TODAY)
    assert_within_limits(message.blocks)
    assert_no_stray_slack_syntax(message.blocks)
    text = joined(message)
    assert "…" in text
    assert "5,000 characters" in text


def test_a_5000_character_summary_of_short_lines_stays_within_limits():
    summary = "\n".join(["&<>"] * 1250)[:5000]
    message = replies.interaction_logged(make_client(), make_interaction(summary=summary), TODAY)
    assert_within_limits(message.blocks)
    assert_no_stray_slack_syntax(message.blocks)


def make_status(client: Client | None = None, *, recent: list[Interaction] | None = None,
                health: Health | None = None, next_contact_on: dt.date | None = None) -> ClientStatus:
    recent = recent or []
    return ClientStatus(client=client or make_client(), today=TODAY,
                        health=health or Health(GREEN, days_since_contact=2, cadence_days=14),
                        last_contact=recent[0] if recent else None, next_contact_on=next_contact_on, recent=recent)


def test_status_shows_health_owner_last_contact_and_next():
    interaction = make_interaction()
    message = replies.status(make_status(recent=[interaction], next_contact_on=dt.date(2026, 12, 9)))
    text = joined(message)
    assert ":large_green_circle: *green* — last contact 2 days ago, cadence 14d" in text
    assert "*Owner* <@U0ANA>" in text and "*internal* <#C0INT>" in text
    assert "*Last contact* Mon 2026-11-30 (2 days ago), call by <@U0BO>" in text
    assert "*Next contact planned* Wed 2026-12-09" in text
    assert "*Latest interactions*" in text
    assert message.blocks[0]["text"]["text"] == "Acme Biologics (acme)"
    assert message.text.startswith("Acme Biologics: green")


def test_status_without_contact_says_so_and_suggests_logging():
    message = replies.status(make_status(health=Health(AMBER, days_since_contact=None, cadence_days=14)))
    text = joined(message)
    assert "*Last contact* none logged yet" in text
    assert "`/cmo log acme call &lt;summary&gt;`" in text
    assert_no_stray_slack_syntax(message.blocks)


def test_status_of_a_client_with_long_escaped_text_stays_within_limits():
    client = make_client(name=NASTY * 20)
    recent = [make_interaction(id=n, summary=NASTY * 400, contact_name=NASTY * 20) for n in range(5)]
    stale = Health(RED, days_since_contact=40, cadence_days=14)
    message = replies.status(make_status(client, recent=recent, health=stale))
    assert_within_limits(message.blocks)
    assert_no_stray_slack_syntax(message.blocks)
    assert "<!channel>" not in message.as_kwargs()["text"]


def portfolio_row(n: int, level: str, name: str | None = None) -> PortfolioRow:
    client = make_client(id=n, key=f"c{n}", name=name or f"Client {n}")
    return PortfolioRow(client, Health(level, days_since_contact=n, cadence_days=14), None)


def test_portfolio_counts_each_health_and_lists_rows_in_the_given_order():
    rows = [portfolio_row(1, RED), portfolio_row(2, AMBER), portfolio_row(3, AMBER), portfolio_row(4, GREEN)]
    message = replies.portfolio(rows, title="Portfolio health", empty="none")
    text = joined(message)
    assert ":red_circle: 1 red · :large_orange_circle: 2 amber · :large_green_circle: 1 green" in text
    assert text.index("Client 1") < text.index("Client 2") < text.index("Client 4")
    assert "last contact 3 days ago, cadence 14d · owner <@U0ANA>" in text
    assert "`/cmo status &lt;client&gt;`" in text
    assert message.blocks[0]["text"]["text"] == "Portfolio health"
    assert_no_stray_slack_syntax(message.blocks)


def test_portfolio_fallback_text_counts_without_emoji_codes():
    rows = [portfolio_row(1, RED), portfolio_row(2, AMBER), portfolio_row(3, AMBER), portfolio_row(4, GREEN)]
    message = replies.portfolio(rows, title="Portfolio health", empty="none")
    assert message.as_kwargs()["text"] == "Portfolio health: 1 red · 2 amber · 1 green"


def test_portfolio_leaves_out_levels_nobody_has():
    text = joined(replies.portfolio([portfolio_row(1, GREEN)], title="P", empty="none"))
    assert "red" not in text and "amber" not in text


def test_portfolio_empty_shows_the_escaped_empty_text():
    message = replies.portfolio([], title="P", empty="No clients: `/cmo client add <name>`")
    assert joined(message) == "No clients: `/cmo client add &lt;name&gt;`"


def test_a_large_portfolio_stays_within_block_kit_limits():
    rows = [portfolio_row(n, (RED, AMBER, GREEN)[n % 3], name=NASTY * 10) for n in range(1000)]
    message = replies.portfolio(rows, title="Portfolio health", empty="none")
    assert_within_limits(message.blocks)
    assert_no_stray_slack_syntax(message.blocks)


def test_history_shows_times_in_the_given_zone_with_actor_and_surface():
    events = [make_event("client.add", after={"name": "Acme Biologics", "key": "acme"},
                         at=dt.datetime(2026, 7, 2, 9, 0, tzinfo=dt.UTC), surface="message_shortcut"),
              make_event("client.archive", at=dt.datetime(2026, 1, 5, 23, 30, tzinfo=dt.UTC))]
    message = replies.history(make_client(), events, ZoneInfo("Europe/Berlin"))
    text = joined(message)
    assert "2026-07-02 11:00 CEST · <@U0ANA> · _message shortcut_" in text
    assert "added the client as *Acme Biologics* (`acme`)" in text
    assert "2026-01-06 00:30 CET" in text
    assert "archived the client" in text
    assert "times in Europe/Berlin" in text
    assert message.blocks[0]["text"]["text"] == "History of Acme Biologics (acme)"


def test_history_shows_what_an_update_changed():
    event = make_event("client.update", before={"owner_user_id": None, "cadence_days": 14, "name": "Acme"},
                       after={"owner_user_id": "U0BO", "cadence_days": 10, "name": "Acme"})
    text = joined(replies.history(make_client(), [event], ZoneInfo("UTC")))
    assert "changed owner none → <@U0BO>; cadence " in text
    assert "→ 10d" in text
    assert "name" not in text.split("changed", 1)[1]


def test_history_escapes_user_text_in_events():
    events = [make_event("client.add", after={"name": NASTY, "key": "acme"}),
              make_event("interaction.log", after={"kind": "call", "occurred_on": "2026-12-01", "summary": NASTY}),
              make_event("client.update", before={"name": "x"}, after={"name": NASTY}),
              make_event("some<!channel>")]
    message = replies.history(make_client(name=NASTY), events, ZoneInfo("UTC"))
    text = joined(message)
    assert text.count(NASTY_ESCAPED) == 3
    assert "logged a call on 2026-12-01" in text
    assert "some&lt;!channel&gt;" in text
    assert_no_stray_slack_syntax(message.blocks)


def test_history_with_nothing_recorded():
    assert "Nothing recorded yet." in joined(replies.history(make_client(), [], ZoneInfo("UTC")))


def test_a_long_history_stays_within_block_kit_limits():
    events = [make_event("interaction.log", id=n, after={"kind": "call", "occurred_on": "2026-12-01",
                                                         "summary": "&" * 400}) for n in range(600)]
    message = replies.history(make_client(), events, ZoneInfo("UTC"))
    assert_within_limits(message.blocks)
    assert_no_stray_slack_syntax(message.blocks)


# --- help -----------------------------------------------------------------------------------------------

TOPICS = {topic.key: (topic.title, topic.lines) for topic in REGISTRY.topics}
command_from_form = REGISTRY.read_form


def help_message(topic: str | None = None, unknown: str | None = None) -> Message:
    return build_help(REGISTRY, topic, unknown)



def test_help_lists_every_form_escaped():
    message = help_message()
    text = joined(message)
    for usage in USAGE.values():
        assert f"`{t.escape(usage)}`" in text
    assert message.blocks[0]["text"]["text"] == "Rapport: /cmo"
    assert "/cmo help " + "|".join(TOPICS) in text
    assert_no_stray_slack_syntax(message.blocks)


@pytest.mark.parametrize("topic", TOPICS)
def test_each_help_topic_has_its_title_and_clean_text(topic):
    message = help_message(topic)
    assert message.blocks[0]["text"]["text"] == TOPICS[topic][0]
    assert_within_limits(message.blocks)
    assert_no_stray_slack_syntax(message.blocks)


def test_help_on_health_states_the_rules():
    text = joined(help_message("health"))
    for rule in HEALTH_RULES:
        assert rule in text


def test_help_on_a_command_shows_its_form():
    assert f"`{t.escape(USAGE['log'])}`" in joined(help_message("log"))


def test_help_on_an_unknown_topic_says_so_and_lists_the_forms():
    message = help_message(f"{NASTY}")
    text = joined(message)
    assert f"There is no help on `{NASTY_ESCAPED}`" in text
    assert f"`{t.escape(USAGE['status'])}`" in text
    assert_no_stray_slack_syntax(message.blocks)


def test_help_for_an_unknown_command_names_it_escaped():
    message = help_message(unknown=NASTY)
    assert f"`{NASTY_ESCAPED}` is not a `/cmo` command" in joined(message)
    assert_no_stray_slack_syntax(message.blocks)
    assert "<!channel>" not in message.as_kwargs()["text"]


# --- modals ---------------------------------------------------------------------------------------------


MODAL_FIELDS = {
    "client add": ["name", "key", "owner", "channel", "cadence", "tz", "country"],
    "client set": ["client", "owner", "channel", "shared", "cadence", "tz", "country"],
    "client archive": ["client"],
    "history": ["client"],
    "log": ["client", "kind", "summary", "on", "with", "next"],
}


def build_modal(name: str, metadata: dict | None = None, **kwargs) -> dict:
    metadata = metadata if metadata is not None else {"channel_id": "C0INT"}
    if name == "client add":
        return client_add_modal(metadata)
    if name == "log":
        return log_modal(metadata, today=kwargs.pop("today", TODAY), **kwargs)
    builder = {"client set": client_set_modal, "client archive": client_archive_modal,
               "history": history_modal}[name]
    return builder(metadata)


@pytest.mark.parametrize("name", MODAL_FIELDS)
def test_modal_inputs_are_named_after_the_command_options(name):
    view = build_modal(name)
    assert list(input_blocks(view)) == MODAL_FIELDS[name]
    # One action_id per kind of input: the client picker's own (its options are loaded as one types).
    assert all(block["element"]["action_id"] == (ActionId.CLIENT_PICKER if block_id == "client" else "value")
               for block_id, block in input_blocks(view).items())


@pytest.mark.parametrize("name", MODAL_FIELDS)
def test_modal_callback_title_and_metadata(name):
    view = build_modal(name, metadata={"channel_id": "C0INT", "message_ts": None})
    assert view["type"] == "modal"
    assert view["callback_id"] == f"cmo:{name}"
    assert len(view["title"]["text"]) <= 24
    assert json.loads(view["private_metadata"]) == {"channel_id": "C0INT", "message_ts": None}
    assert_within_limits(view["blocks"], max_blocks=100)


def test_client_add_modal_requires_only_the_name():
    blocks = input_blocks(build_modal("client add"))
    assert blocks["name"]["optional"] is False
    assert all(blocks[name]["optional"] is True for name in ("key", "owner", "channel", "cadence", "tz", "country"))
    assert blocks["owner"]["element"]["type"] == "users_select"
    assert blocks["channel"]["element"]["type"] == "conversations_select"


def test_client_set_modal_offers_channel_selects_for_internal_and_shared():
    blocks = input_blocks(build_modal("client set"))
    assert blocks["channel"]["element"]["type"] == "conversations_select"
    assert blocks["shared"]["element"]["type"] == "conversations_select"
    assert blocks["client"]["optional"] is False


def test_client_picker_is_an_external_select_that_asks_as_one_types():
    element = input_blocks(build_modal("history"))["client"]["element"]
    assert element["type"] == "external_select"
    assert element["min_query_length"] == 0  # opened without typing, it already offers clients
    assert "options" not in element


def test_client_options_name_clients_in_plain_text_unescaped():
    [option] = forms.client_options([make_client(name=NASTY)])
    assert option == {"text": {"type": "plain_text", "text": f"{NASTY} (acme)", "emoji": True}, "value": "acme"}
    assert_no_stray_slack_syntax(option)


def test_client_options_keep_within_slack_option_limits():
    clients = [make_client(id=n, key=f"client-{n}", name="N" * 200) for n in range(150)]
    options = forms.client_options(clients)
    assert len(options) == 100
    assert all(len(option["text"]["text"]) <= 75 and option["text"]["text"].endswith("…") for option in options)


def test_log_modal_defaults_the_date_to_today_and_lists_the_kinds():
    blocks = input_blocks(build_modal("log", today=dt.date(2026, 12, 4)))
    assert blocks["on"]["element"]["initial_date"] == "2026-12-04"
    assert blocks["on"]["optional"] is False
    assert [option["value"] for option in blocks["kind"]["element"]["options"]] == list(INTERACTION_KINDS)
    assert "initial_option" not in blocks["client"]["element"]
    assert "initial_value" not in blocks["summary"]["element"]


def test_log_modal_preselects_a_client_and_prefills_the_summary():
    bio = make_client(id=2, key="bio", name="Bio")
    view = build_modal("log", selected=bio, summary="From the message: R&D <ok>")
    blocks = input_blocks(view)
    assert blocks["client"]["element"]["initial_option"]["value"] == "bio"
    assert blocks["summary"]["element"]["initial_value"] == "From the message: R&D <ok>"


def test_log_modal_clips_a_long_summary_to_what_the_input_accepts():
    summary = "word " * 1000
    element = input_blocks(build_modal("log", summary=summary))["summary"]["element"]
    assert element["max_length"] == 3000
    assert len(element["initial_value"]) <= 3000
    assert element["initial_value"].endswith("…")
    assert summary.startswith(element["initial_value"][:-1])


def test_log_modal_tells_that_the_message_link_is_kept():
    view = build_modal("log", metadata={"channel_id": "C0INT", "message_ts": "1700000000.000100"})
    assert any("link is kept" in text for text in mrkdwn_texts(view["blocks"]))
    assert json.loads(view["private_metadata"])["message_ts"] == "1700000000.000100"
    assert not any("link is kept" in text for text in mrkdwn_texts(build_modal("log")["blocks"]))


def state_for(view: dict, answers: dict[str, str]) -> dict:
    """What Slack sends back for a view: values[block_id][action_id], shaped by each element's type."""
    state: dict[str, dict] = {}
    for block_id, block in input_blocks(view).items():
        element = block["element"]
        answer = answers.get(block_id)
        if element["type"] == "static_select":
            option = next((o for o in element["options"] if o["value"] == answer), None)
            value = {"selected_option": option}
        elif element["type"] == "external_select":
            value = {"selected_option": {"value": answer, "text": {"type": "plain_text", "text": answer}}
                     if answer else None}
        elif element["type"] == "users_select":
            value = {"selected_user": answer}
        elif element["type"] == "conversations_select":
            value = {"selected_conversation": answer}
        elif element["type"] == "datepicker":
            value = {"selected_date": answer if block_id in answers else element.get("initial_date")}
        else:
            value = {"value": answer if block_id in answers else element.get("initial_value")}
        state[block_id] = {element["action_id"]: {"type": element["type"], **value}}
    return state


def test_a_submitted_log_modal_gives_the_command_the_typed_form_gives():
    view = build_modal("log", summary="Agreed Q1 fill slots")
    state = state_for(view, {"client": "acme", "kind": "call", "with": "Dr. Jane Roe", "next": "2026-12-16"})
    assert command_from_form("log", state) == LogInteraction(
        client="acme", kind="call", summary="Agreed Q1 fill slots", on=parse_date("2026-12-02", option="on"),
        contact="Dr. Jane Roe", next=parse_date("2026-12-16", option="next"))


def test_a_submitted_client_add_modal_gives_the_command_the_typed_form_gives():
    state = state_for(build_modal("client add"), {"name": "Acme Biologics", "owner": "U0ANA", "channel": "C0INT",
                                                  "cadence": "10d", "tz": "europe/berlin"})
    assert command_from_form("client add", state) == ClientAdd(
        name="Acme Biologics", owner="U0ANA", channel="C0INT", cadence_days=10, timezone="Europe/Berlin")


def test_a_submitted_client_set_modal_changes_only_what_was_filled_in():
    state = state_for(build_modal("client set"), {"client": "acme", "shared": "C0EXT"})
    assert command_from_form("client set", state) == ClientSet(client="acme",
                                                               changes={"shared_channel_id": "C0EXT"})


@pytest.mark.parametrize(("name", "state"), [
    ("client add", {"name": {"value": {"type": "plain_text_input", "value": None}}}),
    ("client add", {"name": {"value": {"value": "Acme"}}, "cadence": {"value": {"value": "often"}}}),
    ("client add", {"name": {"value": {"value": "Acme"}}, "tz": {"value": {"value": "Berlin"}}}),
    ("client set", {"client": {"value": {"selected_option": {"value": "acme"}}}}),
    ("client set", {"client": {"value": {"selected_option": {"value": "acme"}}}, "tz": {"value": {"value": "x"}}}),
    ("client archive", {}),
    ("history", {}),
    ("log", {"client": {"value": {"selected_option": {"value": "acme"}}}}),
])
def test_form_errors_point_at_an_input_of_that_modal(name, state):
    with pytest.raises(UserError) as caught:
        command_from_form(name, state)
    assert caught.value.field in input_blocks(build_modal(name))


def test_result_view_shows_the_reply_in_a_modal():
    reply = replies.client_archived(make_client())
    view = forms.result_view("Archive a client named with a very long title", reply)
    assert view["type"] == "modal"
    assert len(view["title"]["text"]) <= 24
    assert view["blocks"] == reply.blocks
    assert "submit" not in view


def test_result_view_of_a_text_only_reply_escapes_it():
    view = forms.result_view("Done", Message(text=f"{NASTY} done"))
    assert mrkdwn_texts(view["blocks"]) == [f"{NASTY_ESCAPED} done"]


# --- App Home -------------------------------------------------------------------------------------------


def test_home_shows_my_clients_before_the_portfolio():
    view = home.home_view([portfolio_row(1, RED)], [portfolio_row(1, RED), portfolio_row(2, GREEN)])
    assert view["type"] == "home"
    headers = [block["text"]["text"] for block in view["blocks"] if block["type"] == "header"]
    assert headers == ["My clients", "Portfolio health"]
    assert any(block["type"] == "divider" for block in view["blocks"])


def test_home_without_own_clients_shows_only_the_portfolio():
    view = home.home_view([], [portfolio_row(1, AMBER)])
    headers = [block["text"]["text"] for block in view["blocks"] if block["type"] == "header"]
    assert headers == ["Portfolio health"]


def test_home_with_no_clients_explains_how_to_start_escaped():
    view = home.home_view([], [])
    text = "\n".join(mrkdwn_texts(view["blocks"]))
    assert "No clients yet" in text
    assert "`/cmo client add &lt;name&gt;`" in text
    assert_no_stray_slack_syntax(view)


def test_home_with_a_huge_portfolio_stays_within_limits():
    rows = [portfolio_row(n, (RED, AMBER, GREEN)[n % 3], name=NASTY * 10) for n in range(3000)]
    view = home.home_view(rows, rows)
    assert_within_limits(view["blocks"], max_blocks=100)
    assert_no_stray_slack_syntax(view)


# --- console rendering ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("mrkdwn", "shown"), [
    ("<@U0ANA|ana> and <#C0INT|acme-int>", "@ana and #acme-int"),
    ("<#C0INT>", "#C0INT"),
    ("<!channel> <!here>", "@channel @here"),
    ("<https://example.com|the site>", "the site (https://example.com)"),
    ("<https://example.com>", "https://example.com"),
    ("R&amp;D &lt;b&gt;", "R&D <b>"),
    ("&lt;!channel&gt;", "<!channel>"),
    ("&amp;lt;", "&lt;"),
    (":warning: :white_check_mark: :red_circle:", "⚠️ ✅ 🔴"),
    (":not_an_emoji_we_draw:", ":not_an_emoji_we_draw:"),
])
def test_mrkdwn_is_rendered_as_readable_text(mrkdwn, shown):
    assert render.mrkdwn(mrkdwn) == shown


@pytest.mark.parametrize("name", ["ana", "jane.roe", "bo-2", "x_y"])
def test_local_ids_round_trip_to_their_names(name):
    user_id = render.local_id("U", name)
    assert re.fullmatch(r"U[A-Z2-7]+", user_id)
    assert render.local_name(user_id) == name
    assert render.mrkdwn(f"<@{user_id}>") == f"@{name}"
    assert render.mrkdwn(f"<#{render.local_id('C', name)}>") == f"#{name}"


def test_local_ids_ignore_case_of_the_name():
    assert render.local_id("U", "Ana") == render.local_id("U", "ana")


@pytest.mark.parametrize("slack_id", ["U123", "U0ACME", "C", "UABC"])
def test_real_slack_ids_are_not_mistaken_for_local_names(slack_id):
    assert render.local_name(slack_id) is None


def test_rendered_blocks_read_like_the_message():
    message = replies.client_added(make_client(name=NASTY, owner_user_id=render.local_id("U", "ana")))
    shown = render.message(message.text, message.blocks)
    assert f"Added {NASTY}" in shown
    assert "owner @ana" in shown
    assert "/cmo log acme call <summary>" in shown
    assert "&lt;" not in shown and "&amp;" not in shown


def test_rendered_header_is_underlined_and_divider_drawn():
    shown = render.blocks([replies.header("Clients"), replies.divider(), replies.context("a", "b")])
    assert shown.splitlines() == ["Clients", "=======", "-" * 40, "  a  ·  b"]


def test_a_message_without_blocks_renders_its_text():
    assert render.message("R&amp;D <@U0X|bo>", None) == "R&D @bo"


def test_a_modal_renders_its_title_inputs_and_submit():
    shown = render.view(build_modal("log", summary="hello"))
    assert shown.startswith("┌ Log an interaction (form)")
    assert "[Summary] <plain_text_input>: hello" in shown
    assert "[When] <datepicker>: 2026-12-02" in shown
    assert "[With (client contact) (optional)]" in shown
    assert shown.rstrip().endswith("[Log]")


# --- manifest -------------------------------------------------------------------------------------------


def test_manifest_declares_cmo_with_escaping():
    (command,) = build_manifest()["features"]["slash_commands"]
    assert command["command"] == "/cmo"
    assert command["should_escape"] is True
    assert "url" not in command


def test_manifest_declares_the_log_message_shortcut():
    (shortcut,) = build_manifest()["features"]["shortcuts"]
    assert shortcut["type"] == "message"
    assert shortcut["callback_id"] == MESSAGE_SHORTCUT == "log_message"
    assert shortcut["name"] == "Log client interaction"


def test_manifest_enables_app_home_and_its_event():
    manifest = build_manifest()
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_manifest_asks_for_the_fewest_scopes():
    expected = ["commands", "chat:write", "channels:join", "channels:history", "groups:history", "channels:read",
                "groups:read", "users:read", "users:read.email", "im:history", "im:write", "files:write"]
    assert build_manifest()["oauth_config"]["scopes"]["bot"] == expected
    assert expected == BOT_SCOPES


def test_manifest_without_url_is_socket_mode_with_no_request_urls():
    manifest = build_manifest()
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert "request_url" not in settings["interactivity"]
    assert "request_url" not in settings["event_subscriptions"]
    assert "request_url" not in json.dumps(manifest)


@pytest.mark.parametrize("url", ["https://rapport.example.com", "https://rapport.example.com/"])
def test_manifest_with_url_points_every_request_at_slack_events(url):
    manifest = build_manifest(url)
    expected = "https://rapport.example.com/slack/events"
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["features"]["slash_commands"][0]["url"] == expected
    assert manifest["settings"]["interactivity"]["request_url"] == expected
    assert manifest["settings"]["event_subscriptions"]["request_url"] == expected
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_manifest_is_plain_json_with_the_chosen_name():
    manifest = build_manifest(name="Rapport Staging")
    assert json.loads(json.dumps(manifest)) == manifest
    assert manifest["display_information"]["name"] == "Rapport Staging"
    assert manifest["features"]["bot_user"]["display_name"] == "rapport-staging"  # a-z 0-9 - _ . only


# -- the hand-written blocks are the models' blocks ------------------------------------------------------------

SOME_TEXT = st.one_of(st.just(""), st.text(max_size=50), st.text(min_size=2990, max_size=3100),
                      st.just("&amp;" * 700), st.just("<@U123> " * 500))


@given(SOME_TEXT)
def test_a_section_is_what_slack_sdks_section_block_gives(markdown):
    model = SectionBlock(text=MarkdownTextObject(text=t.clip(markdown, t.SECTION_LIMIT))).to_dict()
    assert layout.section(markdown) == model


@given(st.lists(SOME_TEXT, max_size=12))
def test_a_context_is_what_slack_sdks_context_block_gives(parts):
    elements = [MarkdownTextObject(text=t.clip(m, t.CONTEXT_LIMIT)) for m in parts if m][:10]
    assert layout.context(*parts) == ContextBlock(elements=elements).to_dict()


@given(SOME_TEXT.filter(bool))
def test_a_header_is_what_slack_sdks_header_block_gives(text):
    assert layout.header(text) == HeaderBlock(text=t.plain(text, layout.HEADER_LIMIT)).to_dict()


def test_a_divider_is_what_slack_sdks_divider_block_gives_and_a_header_needs_text():
    assert layout.divider() == DividerBlock().to_dict()
    with pytest.raises(ValueError):
        layout.header("")


@given(st.integers(min_value=1, max_value=2**53))
def test_a_nudges_buttons_are_what_the_models_give_for_its_client(client_id):
    model = ActionsBlock(block_id=f"stale:{client_id}", elements=[
        ButtonElement(text="Log contact", action_id=ActionId.LOG_CONTACT, value=str(client_id), style="primary"),
        StaticSelectElement(action_id=ActionId.SNOOZE, placeholder="Snooze…", options=[
            Option(value=f"{client_id}:{duration}", text=label) for duration, label in nudges.SNOOZE_CHOICES]),
    ]).to_dict()
    assert nudges.nudge_actions(make_client(id=client_id)) == model
