"""`rapport console`: the real app and handlers with no Slack at hand.

Each `/cmo ...` line becomes the signed, form-encoded request Slack would send, dispatched through
the Bolt app; the bot's own Web API calls go to a local Slack on loopback, and both the replies
and those calls are printed as text.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import sys
import time
from typing import TextIO
from urllib.parse import urlencode

from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot import demo
from bot.afterwards import InlineRunner
from bot.app import create_app
from bot.blocks.text import escape
from bot.config import Settings
from bot.console import render
from bot.db import Database
from bot.demo import seed
from bot.localslack import ApiCall, LocalSlack
from bot.runtime import Runtime
from bot.services import Actor, Surface

TEAM_ID = "T0CONSOLE"
CHANNEL = "console"
BANNER = """Rapport console — the bot as Slack would run it, with no Slack.
Type /cmo commands (try /cmo help, /cmo status), or quit. Write @name for a person and #name for a
channel, as you would in Slack. Database: {url}
"""
_MENTION = re.compile(r"(?<![\w.@])@([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)
_CHANNEL = re.compile(r"(?<![\w&])#([a-z][a-z0-9_-]*)", re.IGNORECASE)
_SPECIAL = ("channel", "here", "everyone")


def slack_escape(text: str) -> str:
    """What Slack does to a slash command's text with `should_escape`: escape &, <, > and turn
    @name and #channel into Slack's mention forms."""
    text = escape(text)

    def mention(match: re.Match) -> str:
        name = match.group(1)
        if name.lower() in _SPECIAL:
            return f"<!{name.lower()}>"
        return f"<@{render.local_id('U', name)}|{name.lower()}>"

    text = _MENTION.sub(mention, text)
    return _CHANNEL.sub(lambda m: f"<#{render.local_id('C', m.group(1))}|{m.group(1).lower()}>", text)


class Console:
    def __init__(self, settings: Settings, out: TextIO, *, user: str = "you") -> None:
        self.out = out
        self.user_name = user.lstrip("@").lower()
        self.user_id = render.local_id("U", self.user_name)
        self.channel_id = render.local_id("C", CHANNEL)
        # Everyone in the console is in the workspace's zone.
        self.slack = LocalSlack(team_id=TEAM_ID, default_tz=settings.timezone).start()
        self.slack.owners.add(self.user_id)  # the console's user owns its own local workspace: a manager
        self.secret = secrets.token_hex(16)
        self.settings = settings.with_overrides(
            slack_bot_token="xoxb-rapport-console", slack_signing_secret=self.secret,
            slack_api_url=self.slack.api_url, slack_app_token=None,
            managers_channel=settings.managers_channel or render.local_id("C", "managers"),
        )
        self.database = Database(self.settings.database_url)
        self.database.upgrade()
        # Follow-ups (a form opening) run at once, so the output stays in order.
        self.app = create_app(self.settings, database=self.database, runner=InlineRunner(),
                              deliver_after_commands=False)
        # The local Slack has no rate limit: no pacing between posts.
        self.runtime = Runtime.create(self.settings, self.database, per_channel_interval=0.0)
        self._seen = len(self.slack.calls)
        self._requests = 0

    def close(self) -> None:
        self.slack.stop()
        self.database.dispose()

    def seed_demo(self) -> None:
        actor = Actor(team_id=TEAM_ID, user_id=self.user_id, surface=Surface.CONSOLE)
        with self.database.transaction() as session:
            today = dt.datetime.now(self.settings.zone).date()
            seeded = seed(session, actor, lambda n: render.local_id("U", n), lambda n: render.local_id("C", n),
                          today)
        self._print(f"Seeded a sample portfolio ({demo.summary()})." if seeded
                    else "The database has clients already; --demo added nothing.")

    def run_line(self, line: str) -> None:
        text = line.strip()
        if not text or text.startswith("#"):
            return
        if text.lower() in ("help", "?"):
            text = "/cmo help"
        if text.startswith("jobs"):
            self._run_job(text)
            return
        if not text.startswith("/cmo"):
            self._print("Type a /cmo command (try /cmo help), `jobs list`, `jobs run <job> [--now <ISO time>] "
                        "[--dry-run]`, or quit.")
            return
        self._dispatch(text.removeprefix("/cmo").strip())

    def _dispatch(self, text: str) -> None:
        self._requests += 1
        body = urlencode({
            "token": "console", "team_id": TEAM_ID, "team_domain": "console", "channel_id": self.channel_id,
            "channel_name": CHANNEL, "user_id": self.user_id, "user_name": self.user_name, "command": "/cmo",
            "text": slack_escape(text), "api_app_id": "A0CONSOLE",
            "response_url": self.slack.response_url(str(self._requests)),
            "trigger_id": f"{self._requests}.{secrets.token_hex(6)}.console",
        })
        timestamp = str(int(time.time()))
        signature = SignatureVerifier(self.secret).generate_signature(timestamp=timestamp, body=body)
        response = self.app.dispatch(BoltRequest(body=body, headers={
            "content-type": ["application/x-www-form-urlencoded"],
            "x-slack-request-timestamp": [timestamp], "x-slack-signature": [signature],
        }))
        if response.status != 200:
            self._print(f"(the bot answered HTTP {response.status}: {response.body})")
        elif response.body:
            reply = json.loads(response.body)
            self._print(render.message(reply.get("text"), reply.get("blocks")))
        self.runtime.worker.deliver(max_seconds=10)  # what the command queued, posted at once
        self._print_calls()

    def _run_job(self, text: str) -> None:
        """`jobs list` and `jobs run <job> [--now <ISO time>] [--dry-run]`, as `rapport jobs` does."""
        from jobs import JOBS
        from jobs.manual import parse_moment, run_by_hand

        words = text.split()
        if words[1:2] == ["list"]:
            self._print("\n".join(f"{spec.name:<16} {spec.description}" for spec in JOBS.values()))
            return
        spec = JOBS.get(words[2]) if len(words) > 2 and words[1] == "run" else None
        now_text = None
        if "--now" in words[:-1]:
            at = words.index("--now") + 1
            # `--now fri 09:00`: a date and a time, as two words (quotes are optional here)
            both = " ".join(words[at:at + 2]).strip('"\'')
            now_text = both if len(words) > at + 1 and ":" in words[at + 1] and ":" not in words[at] else words[at]
        try:
            now = parse_moment(now_text, self.settings.zone) if now_text else None
        except ValueError:
            now, spec = None, None
        if spec is None:
            self._print("Usage: jobs run <job> [--now 2026-11-30T09:05] [--dry-run]; jobs: " + ", ".join(JOBS))
            return
        self._print(run_by_hand(spec, self.runtime, now=now, dry_run="--dry-run" in words, max_delivery_seconds=30))
        self._print_calls()

    def _print_calls(self) -> None:
        calls = self.slack.calls[self._seen:]
        self._seen += len(calls)
        for call in calls:
            shown = self._render_call(call)
            if shown:
                self._print(shown)

    def _render_call(self, call: ApiCall) -> str | None:
        args = call.args
        if call.method == "chat.postMessage":
            where = render.posted_in(args.get("channel"))
            return f"── posted {where} ──\n" + render.message(args.get("text"), args.get("blocks"))
        if call.method in ("chat.postEphemeral", "response_url"):
            return render.message(args.get("text"), args.get("blocks"))
        if call.method == "views.open":
            return (render.view(args.get("view") or {})
                    + "\n(In Slack this opens a form. Here, type the command with its arguments; "
                    "/cmo help shows the form.)")
        return None

    def _print(self, text: str) -> None:
        print(text, file=self.out)
        print(file=self.out)
        self.out.flush()


def run(settings: Settings, *, demo: bool = False, user: str = "you", stdin: TextIO | None = None,
        out: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    interactive = stdin.isatty()
    console = Console(settings, out, user=user)
    try:
        if interactive:
            print(BANNER.format(url=console.database.engine.url.render_as_string(hide_password=True)), file=out)
        if demo:
            console.seed_demo()
        while True:
            if interactive:
                try:
                    line = input("rapport> ")
                except EOFError:
                    break
            else:
                line = stdin.readline()
                if not line:
                    break
                if line.strip() and not line.lstrip().startswith("#"):
                    print(f"> {line.strip()}", file=out)
            if line.strip().lower() in ("quit", "exit"):
                break
            console.run_line(line)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        # The reader went away (`rapport console ... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        console.close()
    return 0
