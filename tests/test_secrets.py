"""Secrets (issue 11, part 6): no token, signing secret or database password in logs, errors, exceptions or
the repr of settings. A full run with errors (a failing Slack call, a database error, bad requests) is
logged at DEBUG, in process and from `rapport` processes, and every line is searched for the secrets."""

from __future__ import annotations

import logging
import traceback

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.afterwards import BackgroundRunner
from bot.app import ImmediateDelivery, create_app
from bot.config import Settings, load_settings
from bot.db import Database
from bot.server import wsgi_app
from tests.conftest import env_for_subprocess
from tests.slackhttp import BotServer
from tests.test_jobs_cli import MANAGERS, MONDAY_0905, rapport, seed_clients

BOT_TOKEN = "xoxb-7001-7002-SeCrEtBoTtOkEn"
APP_TOKEN = "xapp-1-A0RAPPORT-7003-SeCrEtApPtOkEn"
SIGNING_SECRET = "5ecret5igning0f7e8d9c0b1a2f3e4d5"
DB_PASSWORD = "Pa55-SeCrEtDbPaSsWoRd"
# Each whole, and the part of each that no other text has (a secret cut short or re-encoded still shows it).
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, DB_PASSWORD, "SeCrEtBoTtOkEn", "SeCrEtApPtOkEn", "5ecret5igning",
           "SeCrEtDbPaSsWoRd")
UNREACHABLE_DB = f"postgresql+psycopg://rapport:{DB_PASSWORD}@127.0.0.1:9/rapport"
POST = "chat.postMessage"


def assert_no_secret(output: str, where: str) -> None:
    assert output, f"nothing captured from {where}: the check would prove nothing"
    for secret in SECRETS:
        assert secret not in output, f"a secret ({secret[:6]}…) in {where}:\n{output}"


def everything_logged(caplog) -> str:
    lines = []
    for record in caplog.records:
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(lines) + caplog.text


def test_settings_never_show_secrets():
    settings = load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                              "SLACK_APP_TOKEN": APP_TOKEN, "DATABASE_URL": UNREACHABLE_DB}, dotenv_path=None)
    assert settings.slack_bot_token == BOT_TOKEN
    assert_no_secret(repr(settings) + str(settings) + f"{settings!r} {[settings]}", "repr(settings)")
    assert "127.0.0.1:9/rapport" in repr(settings)


def test_a_database_error_shows_no_password_and_no_parameters(caplog, database):
    caplog.set_level(logging.DEBUG)
    unreachable = Database(UNREACHABLE_DB)
    try:
        with pytest.raises(SQLAlchemyError) as refused:
            unreachable.ping()
    finally:
        unreachable.dispose()
    with pytest.raises(SQLAlchemyError) as failed, database.transaction() as session:
        session.execute(text("INSERT INTO no_such_table (token) VALUES (:token)"), {"token": BOT_TOKEN})
    for error in (refused.value, failed.value):
        logging.getLogger("rapport.test").error("database error", exc_info=error)
        assert_no_secret(str(error) + repr(error) + "".join(traceback.format_exception(error)), "an exception")
    assert_no_secret(everything_logged(caplog), "the log")


def test_a_full_run_with_errors_logs_no_secret(caplog, database, database_url, slack):
    caplog.set_level(logging.DEBUG)
    settings = Settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_app_token=None,
                        slack_api_url=slack.api_url, database_url=database_url, timezone="UTC",
                        managers_channel=MANAGERS)
    deliveries = ImmediateDelivery(settings, database)
    runner = BackgroundRunner()
    app = create_app(settings, database=database, deliveries=deliveries, runner=runner)
    bot = BotServer(wsgi_app(app, database, SIGNING_SECRET), SIGNING_SECRET, response_url=slack.response_url("cmd"))
    try:
        assert bot.command("client add Acme key:acme owner:<@U0ANA|ana>").status == 200
        bot.command("client set acme channel:<#C0ACMEINT|acme-int>")
        slack.fail(POST, times=4, error="invalid_auth")  # the announcement and the notice about it
        slack.fail("users.info", times=4, status=500)
        assert bot.command('delay acme batch 7 to:+3d reason:"line down"').status == 200
        bot.command("log acme call hello")
        # Bad requests: a forged signature, none at all, garbage, an unknown path.
        assert bot.command("whoami", secret="not-the-secret").status in (401, 403)
        assert bot.request("POST", "/slack/events", "token=x&text=hi",
                           {"Content-Type": "application/x-www-form-urlencoded"}).status in (401, 403)
        bot.signed_post("{not json", "application/json")
        bot.signed_post("payload=%7Bbroken", "application/x-www-form-urlencoded")
        bot.request("GET", "/nowhere")
    finally:
        bot.stop()
        runner.close()
        deliveries.close()
    logged = everything_logged(caplog)
    assert "invalid_auth" in logged  # the failing Slack call was logged...
    assert "Sending a request" in logged  # slack_sdk's DEBUG log of each call (headers included) was captured
    assert_no_secret(logged, "the log of a run with errors")  # ...without the token


def test_rapport_processes_with_errors_print_no_secret(database, database_url, slack, workdir):
    secrets = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_APP_TOKEN": APP_TOKEN,
               "RAPPORT_MANAGERS_CHANNEL": MANAGERS}
    seed_clients(database)
    slack.fail(POST, times=6, error="invalid_auth")
    env = env_for_subprocess(database_url, slack, **secrets)
    digest = rapport("jobs", "run", "weekly-digest", "--now", MONDAY_0905, env=env, cwd=workdir)
    assert "invalid_auth" in digest.stdout + digest.stderr
    assert_no_secret(digest.stdout + digest.stderr, "rapport jobs run weekly-digest")

    env = env_for_subprocess(UNREACHABLE_DB, slack, **secrets)
    for args in (("outbox",), ("jobs", "run", "deliver"), ("db", "current")):
        failed = rapport(*args, env=env, cwd=workdir)
        assert failed.returncode != 0
        assert_no_secret(failed.stdout + failed.stderr, f"rapport {' '.join(args)} without its database")
