"""The `rapport` command (also `python -m bot`)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from bot.config import ConfigError, Settings, load_settings

CONSOLE_HINT = "To try Rapport without Slack: rapport console --demo"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"rapport: {error}", file=sys.stderr)
        return 2
    return args.handler(settings, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rapport", description="Keeps a CMO's client relationships healthy, "
                                     "inside Slack.")
    commands = parser.add_subparsers(title="commands", metavar="<command>")

    run = commands.add_parser("run", help="serve Slack: Socket Mode if SLACK_APP_TOKEN is set, else HTTP on PORT")
    run.set_defaults(handler=_run)

    console = commands.add_parser("console", help="the bot without Slack: type /cmo commands, see the replies")
    console.add_argument("--demo", action="store_true", help="seed a sample portfolio first (if empty)")
    console.add_argument("--as", dest="user", default="you", metavar="NAME", help="who you are (default: you)")
    console.set_defaults(handler=_console)

    manifest = commands.add_parser("manifest", help="print the Slack app manifest (JSON)")
    manifest.add_argument("--url", help="public base URL for HTTP mode (default: Socket Mode)")
    manifest.add_argument("--name", default="Rapport", help="the app's name in Slack")
    manifest.set_defaults(handler=_manifest)

    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(title="db commands", metavar="<db command>", required=True)
    db_commands.add_parser("upgrade", help="apply all migrations").set_defaults(handler=_db_upgrade)
    db_commands.add_parser("current", help="show the applied migration").set_defaults(handler=_db_current)
    return parser


def _run(settings: Settings, args: argparse.Namespace) -> int:
    missing = settings.missing_for_run()
    if missing:
        mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
        print(f"rapport run ({mode}) is missing {', '.join(missing)}.\n"
              "Set them in .env (see .env.example) or in the environment.\n" + CONSOLE_HINT, file=sys.stderr)
        return 2
    from slack_bolt.error import BoltError

    from bot.app import create_app
    from bot.db import Database

    database = Database(settings.database_url)
    database.upgrade()
    try:
        app = create_app(settings, database=database)
    except BoltError as error:
        print(f"rapport: Slack did not accept SLACK_BOT_TOKEN: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # urllib's URLError included: Slack unreachable
        print(f"rapport: could not reach Slack at {settings.slack_api_url}: {error}", file=sys.stderr)
        return 1
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(app, settings.slack_app_token).start()
        return 0
    from bot.server import serve, wsgi_app

    database.dispose()  # no pooled connection may cross gunicorn's fork
    serve(wsgi_app(app, database), settings.port)
    return 0


def _console(settings: Settings, args: argparse.Namespace) -> int:
    from bot import console

    logging.getLogger().setLevel(logging.WARNING)
    return console.run(settings, demo=args.demo, user=args.user)


def _manifest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.manifest import build_manifest

    print(json.dumps(build_manifest(args.url, args.name), indent=2))
    return 0


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import Database
    from bot.db.migrate import current

    database = Database(settings.database_url)
    database.upgrade()
    print(f"Database at revision {current(database.engine)}.")
    return 0


def _db_current(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import Database
    from bot.db.migrate import current

    print(current(Database(settings.database_url).engine) or "empty (run: rapport db upgrade)")
    return 0
