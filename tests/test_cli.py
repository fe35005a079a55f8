"""The `rapport` command: settings checked before anything starts, the manifest, migrations, and the real
thing — `rapport run` serving Slack over HTTP with gunicorn, driven with signed requests."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.db.migrate import head
from tests.conftest import SIGNING_SECRET, env_for_subprocess
from tests.slackhttp import message_text, signature

HEAD = head()
TIMEOUT = 60  # seconds; only so that a hung process fails instead of hanging the suite


def rapport_command() -> list[str]:
    script = Path(sys.executable).with_name("rapport")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def rapport(*args: str, env: dict[str, str], cwd: Path, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([*rapport_command(), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)


def fresh_sqlite(tmp_path: Path, name: str = "cli.db") -> str:
    return f"sqlite:///{tmp_path / name}"


# -- settings --------------------------------------------------------------------------------------

def test_run_without_credentials_names_them_and_points_to_the_console(tmp_path, workdir):
    result = rapport("run", env=env_for_subprocess(fresh_sqlite(tmp_path)), cwd=workdir, timeout=30)
    assert result.returncode != 0
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "SLACK_SIGNING_SECRET" in result.stderr
    assert "rapport console" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    # It stopped before touching the database.
    assert not (tmp_path / "cli.db").exists()


def test_run_in_socket_mode_needs_only_the_bot_token(tmp_path, workdir):
    env = env_for_subprocess(fresh_sqlite(tmp_path), SLACK_APP_TOKEN="xapp-1-A0RAPPORT-1-abc")
    result = rapport("run", env=env, cwd=workdir, timeout=30)
    assert result.returncode != 0
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "SLACK_SIGNING_SECRET" not in result.stderr
    assert "rapport console" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_run_in_http_mode_with_only_the_token_names_the_signing_secret(tmp_path, workdir):
    env = env_for_subprocess(fresh_sqlite(tmp_path), SLACK_BOT_TOKEN="xoxb-test-token")
    result = rapport("run", env=env, cwd=workdir, timeout=30)
    assert result.returncode != 0
    assert "SLACK_SIGNING_SECRET" in result.stderr
    assert "SLACK_BOT_TOKEN" not in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_run_reads_the_credentials_from_dotenv(tmp_path, workdir):
    # Only the signing secret is in .env: what is still missing is named, nothing more.
    (workdir / ".env").write_text("SLACK_SIGNING_SECRET=from-dotenv\n")
    result = rapport("run", env=env_for_subprocess(fresh_sqlite(tmp_path)), cwd=workdir, timeout=30)
    assert result.returncode != 0
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "SLACK_SIGNING_SECRET" not in result.stderr


def test_an_unusable_setting_is_named_without_a_traceback(tmp_path, workdir):
    env = env_for_subprocess(fresh_sqlite(tmp_path), RAPPORT_TIMEZONE="Mars/Olympus")
    result = rapport("run", env=env, cwd=workdir, timeout=30)
    assert result.returncode != 0
    assert "RAPPORT_TIMEZONE" in result.stderr
    assert "Traceback" not in result.stderr


# -- help, migrations (the manifest: tests/test_manifest.py) ---------------------------------------

def test_python_dash_m_bot_help(tmp_path, workdir):
    result = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True,
                            env=env_for_subprocess(fresh_sqlite(tmp_path)), cwd=workdir, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    for command in ("run", "console", "manifest", "db"):
        assert command in result.stdout


def test_db_upgrade_then_current_on_a_new_database(tmp_path, workdir):
    env = env_for_subprocess(fresh_sqlite(tmp_path))
    before = rapport("db", "current", env=env, cwd=workdir)
    assert before.returncode == 0, before.stderr
    assert HEAD not in before.stdout
    assert "rapport db upgrade" in before.stdout

    upgraded = rapport("db", "upgrade", env=env, cwd=workdir)
    assert upgraded.returncode == 0, upgraded.stderr
    assert HEAD in upgraded.stdout
    current = rapport("db", "current", env=env, cwd=workdir)
    assert current.returncode == 0, current.stderr
    assert current.stdout.strip() == HEAD


def test_db_upgrade_on_the_test_database(workdir, database_url):
    env = env_for_subprocess(database_url)
    assert rapport("db", "upgrade", env=env, cwd=workdir).returncode == 0
    current = rapport("db", "current", env=env, cwd=workdir)
    assert current.stdout.strip() == HEAD, current.stderr


# -- the real thing: rapport run, HTTP mode, gunicorn -------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body: str = "", headers: dict[str, str] | None = None,
            ) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body.encode(), headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def command_body(text: str, trigger_id: str, response_url: str) -> str:
    return urlencode({
        "token": "legacy-verification-token", "team_id": "T0ACME", "team_domain": "acme-cmo",
        "channel_id": "C0GENERAL", "channel_name": "general", "user_id": "U0ANA", "user_name": "ana",
        "command": "/cmo", "text": text, "api_app_id": "A0RAPPORT", "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": trigger_id,
    })


def signed_command(port: int, text: str, *, secret: str = SIGNING_SECRET, trigger_id: str | None = None,
                   response_url: str = "https://hooks.slack.invalid/commands/1") -> tuple[int, str]:
    # Each command its own trigger, as in Slack (a repeated trigger is a replay, answered without running).
    body = command_body(text, trigger_id or f"{uuid.uuid4().hex[:8]}.1234.abcdef", response_url)
    timestamp = str(int(time.time()))
    return request(port, "POST", "/slack/events", body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(secret, timestamp, body),
    })


def wait_until_healthy(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"rapport run exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = request(port, "GET", "/healthz")
            if status == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"rapport run never answered /healthz:\n{log.read_text()}")


@pytest.fixture
def served(tmp_path, workdir, database_url, slack):
    """`rapport run` in HTTP mode as a process, pointed at the local Slack and the test database."""
    port = free_port()
    env = env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test-token",
                             SLACK_SIGNING_SECRET=SIGNING_SECRET, PORT=str(port))
    log = tmp_path / "rapport-run.log"
    with log.open("w") as output:
        process = subprocess.Popen([*rapport_command(), "run"], stdout=output, stderr=subprocess.STDOUT, env=env,
                                   cwd=workdir)
    try:
        wait_until_healthy(port, process, log)
        yield port, log
    finally:
        stop(process)


def test_run_serves_slack_over_http_with_gunicorn(served, slack):
    port, log = served
    status, body = request(port, "GET", "/healthz")
    assert (status, json.loads(body)["status"], json.loads(body)["database"]) == (200, "ok", "ok")
    # The scheduler runs in the gunicorn worker: it becomes active within moments of the start.
    deadline = time.monotonic() + TIMEOUT
    while json.loads(request(port, "GET", "/healthz")[1])["scheduler"] != "active":
        assert time.monotonic() < deadline, "the scheduler never became active"
        time.sleep(0.1)
    output = log.read_text()
    assert "gunicorn" in output.lower()
    assert "Booting worker" in output
    assert "Traceback" not in output
    # The bot's Web API calls go to SLACK_API_URL: Bolt checked the token there on start.
    assert slack.calls_to("auth.test")


def test_run_answers_a_signed_command(served, slack):
    port, _ = served
    status, body = signed_command(port, 'client add "Acme Biologics" key:acme cadence:14d')
    assert status == 200
    reply = json.loads(body)
    assert reply["response_type"] == "ephemeral"
    assert "Added" in message_text(reply)
    assert "Acme Biologics" in message_text(reply)

    status, body = signed_command(port, "client list")
    assert status == 200
    assert "Acme Biologics" in message_text(json.loads(body))


def test_run_opens_forms_through_slack_api_url(served, slack):
    port, _ = served
    status, body = signed_command(port, "client add", trigger_id="42.1234.abcdef")
    assert (status, body) == (200, "")
    [call] = slack.wait_for("views.open", timeout=TIMEOUT)
    assert call.args["trigger_id"] == "42.1234.abcdef"
    assert call.token == "xoxb-test-token"
    assert call.args["view"]["callback_id"] == "cmo:client add"


def test_run_refuses_a_badly_signed_command(served, database):
    port, _ = served
    status, _ = signed_command(port, 'client add "Evil Corp"', secret="not-the-secret")
    assert status == 401
    status, _ = request(port, "POST", "/slack/events", command_body("help", "1.1", "https://x.invalid"),
                        {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 401
    status, body = signed_command(port, "client list")
    assert status == 200
    assert "Evil" not in message_text(json.loads(body))


def test_run_with_an_app_token_connects_over_socket_mode_and_migrates_on_start(tmp_path, workdir, slack):
    database_url = fresh_sqlite(tmp_path, "socket.db")
    port = free_port()
    env = env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test-token",
                             SLACK_APP_TOKEN="xapp-1-A0RAPPORT-1-abc", PORT=str(port))
    log = tmp_path / "rapport-socket.log"
    with log.open("w") as output:
        process = subprocess.Popen([*rapport_command(), "run"], stdout=output, stderr=subprocess.STDOUT, env=env,
                                   cwd=workdir)
    try:
        # Socket Mode asks Slack (at SLACK_API_URL) for a WebSocket URL, with the app-level token.
        calls = slack.wait_for("apps.connections.open", timeout=TIMEOUT)
        assert calls, log.read_text()
        assert calls[0].token == "xapp-1-A0RAPPORT-1-abc"
        # No HTTP server: Slack is not expected to call in.
        with pytest.raises(OSError):
            request(port, "GET", "/healthz")
    finally:
        stop(process)
    # The migrations were applied on start.
    current = rapport("db", "current", env=env_for_subprocess(database_url), cwd=workdir)
    assert current.stdout.strip() == HEAD, current.stderr


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
