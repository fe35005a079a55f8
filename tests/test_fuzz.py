"""The fuzzed front door (issue 11, item 7): property-based tests (hypothesis) that feed the command
parser, every form reader and the real HTTP endpoint arbitrary text, Slack mentions, links and
broadcasts, quotes, unicode (RTL, zero-width, emoji, NUL) and huge inputs.

Properties: always a readable answer (HTTP 200 with an ephemeral reply or a modal's errors, or the front
door's documented 400/401/413), never a 500, never "Something went wrong" or a traceback, never a live
broadcast (`<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^...>`) in a reply or in anything posted,
and nothing written when the answer is an error.

Deterministic: the examples derive from the test (derandomize=True), so CI sees the same ones each run.
Set RAPPORT_FUZZ_EXAMPLES=<n> to run n examples per test instead (a longer, local hunt)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.afterwards import BackgroundRunner
from bot.app import SOMETHING_WRONG, ImmediateDelivery, create_app
from bot.blocks import replies
from bot.blocks.ids import ActionId, CallbackId, callback_id
from bot.commands import REGISTRY, Context, FormRequest
from bot.commands.registry import PLANNED, OpenModal
from bot.db.models import AuditEvent, Client, Interaction, Meeting, ScheduleChange
from bot.errors import UserError
from bot.server import wsgi_app
from bot.services import Actor, Surface
from tests.conftest import SIGNING_SECRET
from tests.slackhttp import BotServer

EXAMPLES = int(os.environ.get("RAPPORT_FUZZ_EXAMPLES", "0")) or None
FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much, HealthCheck.large_base_example])


def examples(count: int) -> settings:
    return settings(FUZZ, max_examples=EXAMPLES or count)


TEAM, USER = "T0ACME", "U0ANA"
BROADCAST = re.compile(r"<!(?:channel|here|everyone)\b|<!subteam\^", re.IGNORECASE)
FRAGMENTS = [
    # broadcasts, raw (as Slack sends @channel) and escaped (as typed)
    "<!channel>", "<!here>", "<!here|here>", "<!everyone>", "<!subteam^S0DEVS|devs>", "<!subteam^S0DEVS>",
    "&lt;!channel&gt;", "&lt;!here&gt;", "<!CHANNEL>", "<<!channel>>", "<!date^1392734382^{date}|x>",
    # mentions, channels, links
    "<@U0ANA|ana>", "<@U0BOB>", "<@W0X>", "<#C0ACMEINT|acme-internal>", "<#C0SHARED>", "<#C0X|<!here>>",
    "<https://x.example/spec.pdf|spec>", "<https://evil.example|https://good.example>", "<mailto:a@b.c|a>",
    "<javascript:alert(1)|x>", "<@U0ANA|<!channel>>", "@channel", "@here",
    # quotes and markup
    '"', "'", "\u201c", "\u201d", "\u00ab", "\\", "\\\"", "`", "```", "*", "_", "~", ">", "<", "&", "&amp;",
    "&lt;", "&gt;", "&#60;", ":", "|", "#", "#1", "#2", "#0", "#-1", "#99999999999999999999", "1", "0", "-1",
    # the grammar's words
    "acme", "Acme", "ACME BIOLOGICS", "beta", '"Beta Labs"', "to:", "to:2027-01-01", "reason:", 'reason:"x"',
    'reason:"', "on:", "on:fri", "at:", "at:09:30", "at:24:00", "every:week", "every:", "due:", "owner:",
    "owner:<@U0BOB|bob>", "channel:", "channel:<#C0X|x>", "cadence:", "cadence:0d", "cadence:99999999999w",
    "tz:", "tz:Europe/Berlin", "tz:../../etc/passwd", "tz:localtime", "country:", "country:DE", "key:",
    "key:<!here>", "with:", 'with:"<!channel>"', "next:", "from:", "project:", "shared:", "for:", "for:1h",
    "remind:", "remind:24h,1h", "how:", "call", "meeting", "email", "visit", "note", "open", "mine", "red",
    "off", "36h", "3d", "2w", "today", "tomorrow", "yesterday", "+3d", "+999999999d", "fri", "2027-02-30",
    "9999-12-31", "0001-01-01", "99:99",
    # unicode
    "\u202e", "\u200f", "\u200b", "\u2066", "\u2069", "\ufeff", "\u00a0", "\u2028", "\x00", "\x07", "\x1b[31m",
    "\r\n", "\t", "\x7f", "\U0001f469\u200d\U0001f52c", "\U0001f1e9\U0001f1ea", "\U0010ffff", "\u01c5",
    "\u0130", "\ufb03", "\u0661\u0662\u0663", "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627",
    "Z\u0351\u036b\u0343", " ", "  ",
]
WORDS = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8))
HUGE = st.builds(lambda fragment, times: fragment * times, st.sampled_from(FRAGMENTS + ["x", "é "]),
                 st.integers(min_value=300, max_value=6000))
HOSTILE = st.one_of(
    st.lists(WORDS, max_size=10).map(" ".join),
    st.lists(WORDS, max_size=10).map("".join),
    st.text(max_size=40),
    HUGE,
)
SUBCOMMAND_NAMES = [sub.name for sub in REGISTRY] + list(PLANNED) + ["", "HELP", "Client", "client bogus",
                                                                     "meeting", "\u200bhelp", "log\x00"]
TYPED = st.one_of(
    st.tuples(st.sampled_from(SUBCOMMAND_NAMES), HOSTILE).map(lambda parts: f"{parts[0]} {parts[1]}"),
    HOSTILE,
)
FORMS = [sub.name for sub in REGISTRY if sub.form is not None]
INPUTS = (ActionId.VALUE, ActionId.CLIENT_PICKER)  # in forms: inputs, which dispatch no block_actions
MODELS = (Client, Interaction, AuditEvent, ScheduleChange, Meeting)


# -- what is checked ------------------------------------------------------------------------------------------------

def parsed_texts(node: Any, top: bool = True) -> list[str]:
    """Every text Slack parses for mentions: a message's fallback `text` and every mrkdwn object."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" or (top and isinstance(node.get("text"), str)):
            found.append(node.get("text") or "")
        for key, value in node.items():
            if not (key == "text" and isinstance(value, str)):
                found += parsed_texts(value, top=False)
    elif isinstance(node, list):
        for value in node:
            found += parsed_texts(value, top=False)
    return found


def assert_no_live_broadcast(node: Any, where: str) -> None:
    for text in parsed_texts(node):
        assert not BROADCAST.search(text), f"a live broadcast in {where}: {text[:500]!r}"


def assert_readable(text: str, where: str) -> None:
    assert "Traceback" not in text, f"a traceback in {where}: {text[:2000]}"
    assert SOMETHING_WRONG[:25] not in text, f"an unexpected error in {where}"


def counts(database) -> dict[str, int]:
    with database.transaction() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) for model in MODELS}


# -- the world the examples run in ----------------------------------------------------------------------------------

@contextmanager
def endpoint(settings_, database, slack) -> Iterator[tuple[BotServer, BackgroundRunner]]:
    """The real endpoint on loopback (as the `bot` fixture builds it), built once for all of a test's examples."""
    deliveries = ImmediateDelivery(settings_, database)
    runner = BackgroundRunner()
    app = create_app(settings_, database=database, deliveries=deliveries, runner=runner)
    server = BotServer(wsgi_app(app, database, SIGNING_SECRET), SIGNING_SECRET,
                       response_url=slack.response_url("fuzz"))
    try:
        yield server, runner
    finally:
        server.stop()
        runner.close()
        deliveries.close()


def seed(server: BotServer) -> None:
    """Two clients, a schedule change #1, a meeting #1 and a promise #1: things the fuzzed text can refer to."""
    for text in ('client add "Acme Biologics GmbH" key:acme owner:<@U0ANA|ana> '
                 'channel:<#C0ACMEINT|acme-internal> cadence:2w',
                 'client add "Beta Labs" key:beta owner:<@U0BOB|bob> channel:<#C0BETAINT|beta-internal>',
                 'delay acme Lot 42 fill to:2027-03-10 from:2027-03-01 reason:"Filter integrity test failed"',
                 'meeting add acme "Weekly sync" every:week on:tue at:10:00',
                 'promise acme "Send the CoA template" due:2027-03-10'):
        response = server.command(text)
        assert response.status == 200 and ":warning:" not in response.body, (text, response.body)


@pytest.fixture
def world(settings, database, slack):
    with endpoint(settings, database, slack) as (server, runner):
        seed(server)
        yield server, runner


def context(session, settings_) -> Context:
    return Context(session, Actor(team_id=TEAM, user_id=USER, surface=Surface.SLASH_COMMAND), settings_)


def run_command(database, settings_, make_command) -> None:
    """`make_command()` run as the app runs a command: one transaction; a UserError writes nothing."""
    before = counts(database)
    try:
        with database.transaction() as session:
            command = make_command()
            if isinstance(command, OpenModal):
                return
            message = REGISTRY.execute(command, context(session, settings_))
    except UserError as error:
        answer = replies.user_error(error).as_kwargs()
        assert error.message.strip(), "an error that says nothing"
        assert_no_live_broadcast(answer, "an error reply")
        assert counts(database) == before, "an error, and yet something was written"
        return
    answer = message.as_kwargs()
    assert answer["text"] or answer["blocks"], "an empty reply"
    assert_no_live_broadcast(answer, "a reply")


# -- (a) the command parser, executed through a real database session -----------------------------------------------

def test_any_typed_text_parses_to_a_command_or_a_user_error(world, database, settings):
    @examples(250)
    @given(TYPED)
    def typed(text: str) -> None:
        run_command(database, settings, lambda: REGISTRY.parse(text))

    typed()


# -- (b) every form reader, with forged, missing and odd-typed state --------------------------------------------------

def form_elements(database, settings_) -> dict[str, dict[str, tuple[str, str]]]:
    """Each form's inputs as the modal shows them: {form: {block_id: (action_id, element type)}}."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    with database.transaction() as session:
        ctx = context(session, settings_)
        for name in FORMS:
            view = REGISTRY.open_form(name, ctx, FormRequest(metadata={}))
            found[name] = {block["block_id"]: (block["element"].get("action_id", ActionId.VALUE),
                                               block["element"]["type"])
                           for block in view["blocks"] if block.get("type") == "input"}
            assert found[name], f"the {name} form has no inputs"
    return found


ODD = st.one_of(st.none(), st.integers(), st.just([]), st.just({}), st.text(max_size=5),
                st.just({"type": "plain_text_input"}), st.just({"value": 7}), st.just({"selected_option": "x"}),
                st.just({"selected_option": {"value": None}}), st.just({"selected_date": 20270101}))
DATES = st.one_of(st.sampled_from(["2027-01-01", "2027-02-30", "0000-00-00", "9999-12-31", "2027-1-1", ""]),
                  HOSTILE, st.none())


def element(kind: str, value: Any) -> dict[str, Any]:
    """A state of a `kind` element holding `value`, shaped the way Slack sends it."""
    option = {"value": value, "text": {"type": "plain_text", "text": str(value)[:75]}}
    return {
        "plain_text_input": {"type": kind, "value": value},
        "static_select": {"type": kind, "selected_option": option},
        "external_select": {"type": kind, "selected_option": option},
        "users_select": {"type": kind, "selected_user": value},
        "conversations_select": {"type": kind, "selected_conversation": value},
        "channels_select": {"type": kind, "selected_channel": value},
        "datepicker": {"type": kind, "selected_date": value},
        "timepicker": {"type": kind, "selected_time": value},
        "multi_static_select": {"type": kind, "selected_options": [option]},
        "checkboxes": {"type": kind, "selected_options": [option]},
    }.get(kind, {"type": kind, "value": value})


def draw_state(data, inputs: dict[str, tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """A submitted state: each input missing, of its own kind with a hostile value, or of an odd type."""
    values: dict[str, Any] = {}
    for block_id, (action_id, kind) in inputs.items():
        choice = data.draw(st.sampled_from(["own", "own", "own", "missing", "odd", "other kind", "odd block"]))
        if choice == "missing":
            continue
        if choice == "odd block":
            values[block_id] = data.draw(ODD)
            continue
        value = data.draw(DATES if kind in ("datepicker", "timepicker") else HOSTILE)
        if choice == "own":
            values[block_id] = {action_id: element(kind, value)}
        elif choice == "other kind":
            values[block_id] = {action_id: element(data.draw(st.sampled_from(
                ["plain_text_input", "static_select", "users_select", "datepicker", "bogus"])), value)}
        else:
            values[block_id] = {action_id: data.draw(ODD)}
    if data.draw(st.booleans()):
        values[data.draw(st.sampled_from(["forged", "client", "summary", ""]))] = {ActionId.VALUE: data.draw(ODD)}
    return values


def test_every_form_reader_takes_any_state(world, database, settings):
    inputs = form_elements(database, settings)

    @examples(200)
    @given(st.data())
    def submitted(data) -> None:
        name = data.draw(st.sampled_from(FORMS))
        values = draw_state(data, inputs[name])
        run_command(database, settings, lambda: REGISTRY.read_form(name, values))

    submitted()


# -- (c) the real HTTP endpoint ------------------------------------------------------------------------------------

def assert_answered(response, what: str) -> dict[str, Any] | None:
    """A readable answer: 200 (with an ephemeral reply, modal errors or nothing) or the front door's 400/413."""
    assert response.status in (200, 400, 413), f"{what}: HTTP {response.status} {response.body[:2000]}"
    assert_readable(response.body, what)
    if response.status != 200 or not response.body:
        return None
    payload = response.json
    assert isinstance(payload, dict), response.body[:500]
    assert_no_live_broadcast(payload, what)
    if "response_action" not in payload and "options" not in payload:
        assert payload.get("response_type", "ephemeral") == "ephemeral", payload
    return payload


def is_error(payload: dict[str, Any] | None) -> bool:
    if payload is None:
        return False
    if payload.get("response_action") == "errors":
        return True
    blocks = payload.get("blocks") or []
    first = blocks[0].get("text", {}).get("text", "") if blocks and isinstance(blocks[0].get("text"), dict) else ""
    return first.startswith(":warning:") or (payload.get("text") or "").startswith(":warning:")


def assert_slack_saw_no_broadcast(slack, runner) -> None:
    """Whatever the bot sent Slack (posts, answers to a response_url, modals, App Home): no live broadcast."""
    time.sleep(0.2)  # deliveries after the last request
    for call in list(slack.calls):
        if call.method in ("chat.postMessage", "chat.postEphemeral", "chat.update", "response_url"):
            args = dict(call.args)
            for key in ("blocks", "attachments"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
            assert_no_live_broadcast(args, call.method)
            assert_readable(json.dumps(args, ensure_ascii=False), call.method)
        elif call.method in ("views.open", "views.update", "views.push", "views.publish"):
            view = call.args.get("view")
            assert_no_live_broadcast(json.loads(view) if isinstance(view, str) else view, call.method)


def test_any_slash_command_is_answered_readably(world, database, slack):
    server, runner = world

    @examples(200)
    @given(TYPED, st.sampled_from([USER, "U0BOB", "U0NEW"]))
    def typed(text: str, user: str) -> None:
        before = counts(database)
        payload = assert_answered(server.command(text, user=user), f"/cmo {text[:200]!r}")
        if payload is None or is_error(payload):
            assert counts(database) == before, f"/cmo {text[:200]!r} was refused, and yet wrote"

    typed()
    assert_slack_saw_no_broadcast(slack, runner)


def action_payload(server: BotServer, data, action_id: str) -> dict[str, Any]:
    value = data.draw(st.one_of(HOSTILE, st.sampled_from(["1", "#1", "acme", "1:acme", "0", "99999999999"]),
                                st.integers(), st.none(), st.just({"id": 1})))
    action = {"type": "button", "action_id": action_id, "block_id": data.draw(st.sampled_from(["b", "", "actions"])),
              "action_ts": "1.2"}
    if value is not None:
        action["value"] = value
    if action_id == ActionId.CLIENT_PICKER:
        action = {**action, "type": "external_select", "selected_option": {"value": value}}
    payload: dict[str, Any] = {
        "type": "block_actions", "team": {"id": TEAM, "domain": "acme-cmo"},
        "user": {"id": USER, "username": "ana", "team_id": TEAM},
        "api_app_id": "A0RAPPORT", "token": "legacy-verification-token", "trigger_id": server.next_trigger_id(),
        "container": {"type": "message", "message_ts": "1732400000.000100", "channel_id": "C0ACMEINT"},
        "channel": {"id": "C0ACMEINT", "name": "acme-internal"},
        "message": {"ts": "1732400000.000100", "text": data.draw(HOSTILE), "blocks": []},
        "response_url": server.response_url, "actions": [action],
    }
    for key in ("user", "channel", "container", "message", "response_url", "trigger_id", "team"):
        forgery = data.draw(st.sampled_from(["keep"] * 6 + ["drop", "odd", "hostile id"]))
        if forgery == "drop":
            payload.pop(key)
        elif forgery == "odd":
            payload[key] = data.draw(ODD)
        elif forgery == "hostile id" and isinstance(payload[key], dict):
            payload[key] = {**payload[key], "id": data.draw(HOSTILE)}
    return payload


def test_any_button_press_is_answered_readably(world, database, slack):
    server, runner = world
    before = counts(database)

    @examples(150)
    @given(st.data())
    def pressed(data) -> None:
        action_id = data.draw(st.sampled_from(list(ActionId)))
        response = server.interactive(action_payload(server, data, action_id))
        if action_id in INPUTS and response.status == 404:
            return  # a form input's: no input dispatches actions, so Slack never sends one; Bolt's "unhandled"
        assert_answered(response, f"a press on {action_id}")

    pressed()
    runner.close()  # every follow-up done
    after = counts(database)
    # A button marks told, snoozes or opens a form: it never adds a client, an interaction, a change or a meeting.
    for table in ("clients", "interactions", "schedule_changes", "meetings"):
        assert after[table] == before[table], table
    assert_slack_saw_no_broadcast(slack, runner)


VIEWS = [callback_id(name) for name in FORMS] + [CallbackId.DRAFT, "cmo:bogus", "cmo:", "bogus", ""]
NEVER_OPENED = ("bogus", "")  # no view the app opens has these: Bolt's 404 "unhandled request", as for any app


def test_any_view_submission_is_answered_readably(world, database, slack, settings):
    server, runner = world
    inputs = form_elements(database, settings)
    metadata = st.one_of(st.just(""), st.just("{}"), HOSTILE,
                         st.dictionaries(st.sampled_from(["change_id", "client_id", "surface", "channel_id",
                                                         "response_url", "meeting_id", "kind"]),
                                         st.one_of(HOSTILE, st.integers(), st.none(), st.just(1)),
                                         max_size=4).map(json.dumps))

    @examples(200)
    @given(st.data())
    def submitted(data) -> None:
        callback = data.draw(st.sampled_from(VIEWS))
        name = callback.removeprefix(CallbackId.FORM_PREFIX)
        shape = inputs.get(name) or {"draft": (ActionId.VALUE, "plain_text_input")}
        view: dict[str, Any] = {"id": "V0FUZZ", "type": "modal", "callback_id": callback, "team_id": TEAM,
                                "hash": "1.a", "private_metadata": data.draw(metadata),
                                "state": {"values": draw_state(data, shape)}}
        if data.draw(st.integers(0, 9)) == 0:
            view["state"] = data.draw(ODD)
        payload = {"type": "view_submission", "team": {"id": TEAM, "domain": "acme-cmo"},
                   "user": {"id": data.draw(st.sampled_from([USER, "U0BOB", "", "<!channel>"])), "team_id": TEAM},
                   "api_app_id": "A0RAPPORT", "token": "t", "trigger_id": server.next_trigger_id(), "view": view}
        before = counts(database)
        response = server.interactive(payload)
        if callback in NEVER_OPENED and response.status == 404:
            assert counts(database) == before
            return
        answer = assert_answered(response, f"a submission of {callback!r}")
        if answer is None or is_error(answer):
            assert counts(database) == before, f"a refused submission of {callback!r} wrote"

    submitted()
    assert_slack_saw_no_broadcast(slack, runner)


def test_any_text_a_select_menu_asks_options_for(world):
    server, _ = world

    @examples(60)
    @given(HOSTILE)
    def typed(value: str) -> None:
        response = server.interactive({
            "type": "block_suggestion", "user": {"id": USER, "team_id": TEAM}, "team": {"id": TEAM},
            "api_app_id": "A0RAPPORT", "token": "t", "container": {"type": "view", "view_id": "V0001"},
            "action_id": ActionId.CLIENT_PICKER, "block_id": "client", "value": value,
            "view": {"id": "V0001", "type": "modal", "callback_id": "cmo:log", "team_id": TEAM}})
        payload = assert_answered(response, f"options for {value[:100]!r}")
        if payload is not None:
            for option in payload.get("options", []):
                assert not BROADCAST.search(json.dumps(option)) or option["text"]["type"] == "plain_text"

    typed()
