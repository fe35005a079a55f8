"""The `rapport` command (also `python -m bot`)."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
from collections.abc import Callable

from bot.config import ConfigError, Settings, load_settings

CONSOLE_HINT = "To try Rapport without Slack: rapport console --demo"


# CPython collects reference cycles after every 700 new container objects (gen 0), and the older generations
# soon after: the ORM makes that many for a few rows, and a job scanning 10,000 clients spent more than half
# its time in collections that found nearly nothing. Every process `rapport` starts collects less often.
GC_THRESHOLDS = (10_000, 50, 50)


def tune_garbage_collector() -> None:
    gc.set_threshold(*GC_THRESHOLDS)


def main(argv: list[str] | None = None) -> int:
    tune_garbage_collector()
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl ..." on every start is noise
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
    run.add_argument("--no-scheduler", action="store_true",
                     help="serve Slack only (run `rapport scheduler` in one other process)")
    run.set_defaults(handler=_run)

    scheduler = commands.add_parser("scheduler", help="run only the scheduler (jobs and delivery)")
    scheduler.set_defaults(handler=_scheduler)

    jobs = commands.add_parser("jobs", help="list the scheduled jobs, or run one by hand")
    jobs_commands = jobs.add_subparsers(title="jobs commands", metavar="<jobs command>", required=True)
    jobs_commands.add_parser("list", help="the jobs and when they run").set_defaults(handler=_jobs_list)
    job_run = jobs_commands.add_parser("run", help="run one job as of a moment, then deliver what is pending")
    job_run.add_argument("job", help="a job's name (rapport jobs list)")
    job_run.add_argument("--now", help="the moment, ISO-8601 (default: now; without a zone: RAPPORT_TIMEZONE)")
    job_run.add_argument("--dry-run", action="store_true", help="print what would be posted; change nothing")
    job_run.set_defaults(handler=_jobs_run)

    outbox = commands.add_parser("outbox", help="messages not delivered yet: pending and failed")
    outbox.set_defaults(handler=_outbox_list)
    outbox_commands = outbox.add_subparsers(title="outbox commands", metavar="<outbox command>")
    retry = outbox_commands.add_parser("retry", help="queue a failed message again")
    retry.add_argument("id", type=int)
    retry.set_defaults(handler=_outbox_retry)

    console = commands.add_parser("console", help="the bot without Slack: type /cmo commands, see the replies")
    console.add_argument("--demo", action="store_true", help="seed a sample portfolio first (if empty)")
    console.add_argument("--as", dest="user", default="you", metavar="NAME", help="who you are (default: you)")
    console.set_defaults(handler=_console)

    manifest = commands.add_parser("manifest", help="print the Slack app manifest (JSON)")
    manifest.add_argument("--url", type=_manifest_check("check_url"),
                          help="public https:// base URL for HTTP mode (default: Socket Mode)")
    manifest.add_argument("--name", default="Rapport", type=_manifest_check("check_name"),
                          help="the app's name in Slack, at most 35 characters (default: Rapport)")
    manifest.set_defaults(handler=_manifest)

    importing = commands.add_parser("import", help="bring a portfolio in from a CSV file (a CRM export)",
                                    description="Import clients, contacts or interactions from a CSV file with a "
                                    "header row (Salesforce and HubSpot column names accepted). Every row is checked "
                                    "first: with any bad row nothing is written, unless --skip-bad. Importing a file "
                                    "again adds only what is not there yet.")
    importing.add_argument("kind", choices=("clients", "contacts", "interactions"))
    importing.add_argument("file", help="the CSV file (UTF-8; comma, semicolon or tab separated)")
    importing.add_argument("--team", metavar="T…", help="the Slack workspace (default: the only one with clients; "
                           "the console's is T0CONSOLE)")
    importing.add_argument("--as", dest="user", metavar="U…",
                           help="your Slack user id: who imports, on record, and the author of interactions whose "
                           "own is not known (required for interactions; clients and contacts default to `import`)")
    importing.add_argument("--dry-run", action="store_true", help="check and count; write nothing")
    importing.add_argument("--skip-bad", action="store_true", help="write the good rows and list the bad ones")
    importing.add_argument("--date-format", choices=("iso", "us", "eu"), default="iso",
                           help="dates besides ISO 2025-03-04: us = 3/4/2025 month first, eu = 4.3.2025 day first")
    importing.set_defaults(handler=_import)

    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(title="audit commands", metavar="<audit command>", required=True)
    audit_commands.add_parser("verify", help="check each workspace's hash chain; exit 1 at the first break"
                              ).set_defaults(handler=_audit_verify)

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

    # Two engines, two sets of timeouts: Slack's requests give up in ~2 s (Slack waits 3), the scheduler and
    # the delivery worker are patient (see bot.db.session).
    database = Database(settings.database_url, purpose="requests")
    jobs_database = Database.for_jobs(settings.database_url)
    jobs_database.upgrade()
    try:
        app = create_app(settings, database=database)
    except BoltError as error:
        print(f"rapport: Slack did not accept SLACK_BOT_TOKEN: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # urllib's URLError included: Slack unreachable
        print(f"rapport: could not reach Slack at {settings.slack_api_url}: {error}", file=sys.stderr)
        return 1
    refusal = _managers_channel_refusal(settings)
    if refusal:
        print(f"rapport: {refusal}", file=sys.stderr)
        return 1
    from bot.runtime import Runtime
    from bot.scheduler import SchedulerState, start_in_thread

    runtime = Runtime.create(settings, jobs_database)
    scheduler = SchedulerState()  # "off" unless the scheduler runs in this process; /healthz shows it
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        if not args.no_scheduler:
            start_in_thread(runtime, scheduler)
        SocketModeHandler(app, settings.slack_app_token).start()
        return 0
    from bot.server import serve, wsgi_app

    database.dispose()  # no pooled connection may cross gunicorn's fork
    jobs_database.dispose()
    # The scheduler starts in the worker process, after the fork (threads do not survive a fork).
    on_worker_start = None if args.no_scheduler else (lambda: start_in_thread(runtime, scheduler))
    serve(wsgi_app(app, database, settings.slack_signing_secret or "", scheduler), settings.port,
          on_worker_start=on_worker_start)
    return 0


def _scheduler(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.slack_bot_token:
        print("rapport scheduler is missing SLACK_BOT_TOKEN (it posts to Slack).\n"
              "Set it in .env (see .env.example) or in the environment.", file=sys.stderr)
        return 2
    import signal
    import threading

    from bot.db import Database
    from bot.runtime import Runtime
    from bot.scheduler import SchedulerConflict, run_scheduler

    # A shared managers channel stops it as it stops `rapport run`; if Slack can't say now, it goes on (the
    # scheduler must outlive Slack's outages; delivery asks again before every post there).
    refusal = _managers_channel_refusal(settings, unknown_refused=False)
    if refusal:
        print(f"rapport scheduler: {refusal}", file=sys.stderr)
        return 1
    database = Database.for_jobs(settings.database_url)
    database.upgrade()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        # Database errors never end it: it logs, backs off, reconnects and stands for election again.
        run_scheduler(Runtime.create(settings, database), stop)
    except SchedulerConflict as conflict:
        print(f"rapport scheduler: {conflict}", file=sys.stderr)
        return 3
    return 0


def _jobs_list(settings: Settings, args: argparse.Namespace) -> int:
    from jobs import JOBS

    for spec in JOBS.values():
        print(f"{spec.name:<16} {spec.trigger()}  {spec.description}")
    return 0


def _jobs_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import Database
    from bot.runtime import Runtime
    from jobs import JOBS
    from jobs.manual import parse_moment, run_by_hand

    spec = JOBS.get(args.job)
    if spec is None:
        print(f"rapport: no job named {args.job!r}; the jobs are: {', '.join(JOBS)}", file=sys.stderr)
        return 2
    try:
        now = parse_moment(args.now, settings.zone) if args.now else None
    except ValueError as error:
        print(f"rapport: --now {error}", file=sys.stderr)
        return 2
    if not args.dry_run and not settings.slack_bot_token:
        print("rapport jobs run is missing SLACK_BOT_TOKEN (it posts to Slack); --dry-run needs none.",
              file=sys.stderr)
        return 2
    database = Database.for_jobs(settings.database_url)
    try:
        database.upgrade()
        runtime = Runtime.create(settings, database)
        print(run_by_hand(spec, runtime, now=now, dry_run=args.dry_run, max_delivery_seconds=300))
    finally:
        database.dispose()
    return 0


def _outbox_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import Database
    from bot.services.outbox import undelivered

    database = Database(settings.database_url)
    database.upgrade()
    with database.transaction() as session:
        rows = undelivered(session)
        if not rows:
            print("Nothing pending or failed: every message was delivered.")
            return 0
        print(f"{'id':>6}  {'status':<8} {'channel':<12} {'source':<16} {'tries':>5}  {'next try (UTC)':<16}  error")
        for row in rows:
            next_try = f"{row.next_attempt_at:%Y-%m-%d %H:%M}" if row.status != "failed" else "-"
            print(f"{row.id:>6}  {row.status:<8} {row.channel_id:<12} {row.source:<16} {row.attempts:>5}  "
                  f"{next_try:<16}  {row.error or ''}")
    failed = sum(1 for row in rows if row.status == "failed")
    if failed:
        print(f"\n{failed} failed: fix the cause, then `rapport outbox retry <id>`.")
    return 0


def _outbox_retry(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import Database
    from bot.errors import UserError
    from bot.services.outbox import retry

    database = Database(settings.database_url)
    database.upgrade()
    try:
        with database.transaction() as session:
            row = retry(session, args.id)
            print(f"Outbox message #{row.id} to {row.channel_id} is queued again; the scheduler delivers it "
                  "within seconds (or: rapport jobs run deliver).")
    except UserError as error:
        print(f"rapport: {error.message}", file=sys.stderr)
        return 2
    return 0


def _console(settings: Settings, args: argparse.Namespace) -> int:
    from bot import console

    logging.getLogger().setLevel(logging.WARNING)
    return console.run(settings, demo=args.demo, user=args.user)


def _managers_channel_refusal(settings: Settings, *, unknown_refused: bool = True) -> str | None:
    """Why RAPPORT_MANAGERS_CHANNEL can't be used (shared with another organisation, or, with `unknown_refused`,
    Slack can't say)."""
    if not settings.managers_channel:
        return None
    from bot.channels import ChannelGuard

    verdict = ChannelGuard.for_settings(settings).check(settings.managers_channel)
    if verdict.shared:
        return (f"RAPPORT_MANAGERS_CHANNEL {settings.managers_channel} is {verdict.reason}. Escalations and "
                "digests are internal: set it to a channel only your own team is in.")
    if verdict.shared is None and unknown_refused:
        return (f"could not ask Slack whether RAPPORT_MANAGERS_CHANNEL {settings.managers_channel} is shared "
                f"with another organisation ({verdict.reason}); invite the bot to it and check the scopes "
                "channels:read and groups:read.")
    return None


def _manifest_check(check: str) -> Callable[[str], str]:
    """An argparse `type` for --url and --name: what Slack would refuse is refused at once (exit code 2)."""

    def checked(value: str) -> str:
        from bot import manifest

        try:
            return getattr(manifest, check)(value)
        except manifest.ManifestError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return checked


def _manifest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.manifest import build_manifest

    print(json.dumps(build_manifest(args.url, args.name), indent=2))
    return 0


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.db import Database
    from bot.importing import FileProblem, ImportRefused, run_import
    from bot.importing.people import slack_lookup

    logging.getLogger().setLevel(logging.WARNING)
    database = Database.for_jobs(settings.database_url)
    try:
        database.upgrade()
        report = run_import(database, args.kind, Path(args.file), team_id=args.team, actor_user_id=args.user,
                            dry_run=args.dry_run, skip_bad=args.skip_bad, date_format=args.date_format,
                            lookup=slack_lookup(settings), progress=sys.stderr.isatty())
    except (FileProblem, ImportRefused) as problem:
        print(f"rapport import: {problem}", file=sys.stderr)
        return 2
    finally:
        database.dispose()
    print("\n".join(report.lines()))
    return report.exit_code


def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import Database
    from bot.services.audit import verify_chains

    database = Database(settings.database_url)
    try:
        with database.session() as session:
            reports = verify_chains(session)
    finally:
        database.dispose()
    broken = [report for report in reports if report.problem]
    for report in broken:
        print(f"audit chain of {report.team_id} broken: {report.problem}", file=sys.stderr)
    if broken:
        return 1
    events = sum(report.events for report in reports)
    print(f"Audit trail OK: {events} events in {len(reports)} workspace chain(s), none altered, inserted or deleted.")
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
