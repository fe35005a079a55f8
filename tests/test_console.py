"""`rapport console`: the real app and handlers with no Slack, as a process fed on stdin.

Each test runs the console the way a user does (a separate process, its own working directory) against
the test database, so the same tests run on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from bot.db import Database
from bot.db.models import Client, Interaction
from tests.conftest import env_for_subprocess

TIMEOUT = 60  # seconds; only so that a hung console fails instead of hanging the suite


def rapport_command() -> list[str]:
    """The installed `rapport` script next to this Python, else `python -m bot`."""
    script = Path(sys.executable).with_name("rapport")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def console(lines: str, cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([*rapport_command(), "console", *args], input=lines, capture_output=True, text=True,
                            cwd=cwd, env=env, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


def run_console(lines: str, tmp_path: Path, database_url: str, *args: str) -> str:
    # A directory of its own: on SQLite the test database is tmp_path/rapport.db, the console's default.
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return console(lines, workdir, env_for_subprocess(database_url), *args).stdout


def reply_to(output: str, command: str) -> str:
    """The part of the output that answers `command` (the console echoes piped lines as `> ...`)."""
    marker = f"> {command}\n"
    assert marker in output, output
    return output.split(marker, 1)[1].split("\n> /cmo", 1)[0]


def count_clients(database_url: str, team_id: str = "T0CONSOLE") -> int:
    database = Database(database_url)
    try:
        with database.transaction() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(Client).where(Client.team_id == team_id))
    finally:
        database.dispose()


def test_done_means_the_logged_call_is_there_in_the_next_session(tmp_path, database_url):
    first = run_console('/cmo client add "Acme Biologics" key:acme cadence:14d\n'
                        "/cmo log acme call Discussed Q1 fill slots\n", tmp_path, database_url)
    assert "Added" in reply_to(first, '/cmo client add "Acme Biologics" key:acme cadence:14d')
    assert "Logged for" in reply_to(first, "/cmo log acme call Discussed Q1 fill slots")

    second = run_console("/cmo status acme\n", tmp_path, database_url)
    status = reply_to(second, "/cmo status acme")
    assert "Acme Biologics (acme)" in status
    assert "call" in status
    assert "Discussed Q1 fill slots" in status
    assert "no contact logged yet" not in status

    # It is really in the database, not in a process's memory.
    database = Database(database_url)
    try:
        with database.transaction() as session:
            [interaction] = session.scalars(sa.select(Interaction)).all()
            assert (interaction.kind, interaction.summary) == ("call", "Discussed Q1 fill slots")
    finally:
        database.dispose()


def test_output_is_rendered_text_not_json(tmp_path, database_url):
    out = run_console('/cmo client add "Borealis Pharma" key:borealis owner:@ben channel:#borealis-internal\n'
                      "/cmo log borealis call Walked Tom through the stability data\n"
                      "/cmo client list\n"
                      "/cmo status\n", tmp_path, database_url)
    for raw in ('"blocks"', '"type"', "mrkdwn", "{", ":white_check_mark:", ":telephone_receiver:",
                "<@U", "<#C", "&lt;", "&amp;"):
        assert raw not in out, f"{raw!r} in the console output:\n{out}"
    logged = reply_to(out, "/cmo log borealis call Walked Tom through the stability data")
    # Emoji drawn and mrkdwn emphasis rendered, as the README's tour shows it.
    assert "✅ Logged for Borealis Pharma (`borealis`)" in logged
    assert "📞 call · " in logged
    assert "by @you" in logged
    listing = reply_to(out, "/cmo client list")
    assert "Clients (1)" in listing
    assert "owner @ben" in listing
    assert "#borealis-internal" in listing
    status = reply_to(out, "/cmo status")
    assert "Portfolio health" in status
    assert "🟢" in status


def test_typed_text_is_shown_as_typed(tmp_path, database_url):
    out = run_console("/cmo client add \"R&D <Labs>\" key:rnd\n"
                      "/cmo log rnd note Ask about <ph> & \"pH\" limits\n"
                      "/cmo status rnd\n", tmp_path, database_url)
    status = reply_to(out, "/cmo status rnd")
    assert "R&D <Labs> (rnd)" in status
    assert "Ask about <ph> & \"pH\" limits" in status


def test_demo_seeds_four_clients_once(tmp_path, database_url):
    out = run_console("/cmo client list\n/cmo status\n", tmp_path, database_url, "--demo")
    assert ("Seeded a sample portfolio (4 clients, 3 regular meetings, 5 contacts, 3 promises, 2 agreed lines, "
            "2 lessons).") in out
    listing = reply_to(out, "/cmo client list")
    assert "Clients (4)" in listing
    for name in ("Acme Biologics", "Borealis Pharma", "Cygnus Therapeutics", "Delta Vaccines"):
        assert name in listing
    assert "owner @ana" in listing and "owner @ben" in listing
    status = reply_to(out, "/cmo status")
    assert "🔴" in status and "🟠" in status and "🟢" in status
    assert count_clients(database_url) == 4

    again = run_console("/cmo client list\n", tmp_path, database_url, "--demo")
    assert "--demo added nothing" in again
    assert "Seeded" not in again
    assert "Clients (4)" in reply_to(again, "/cmo client list")
    assert count_clients(database_url) == 4


def test_bad_input_shows_what_was_wrong_and_the_right_form(tmp_path, database_url):
    out = run_console("/cmo client add Foo cadence:3x\n"
                      "/cmo log nobody call Hello\n"
                      "/cmo client list\n", tmp_path, database_url)
    bad_cadence = reply_to(out, "/cmo client add Foo cadence:3x")
    assert "⚠️" in bad_cadence
    assert "3x" in bad_cadence
    assert "Right form" in bad_cadence
    assert "/cmo client add <name> [key:<short-key>]" in bad_cadence
    unknown = reply_to(out, "/cmo log nobody call Hello")
    assert "No client matches `nobody`" in unknown
    assert "/cmo log <client> <call|meeting|email|visit|note>" in unknown
    # Nothing was written by the bad line.
    assert "No clients yet" in reply_to(out, "/cmo client list")
    assert count_clients(database_url) == 0


def test_a_subcommand_without_arguments_shows_its_form_as_text(tmp_path, database_url):
    out = run_console("/cmo client add\n", tmp_path, database_url)
    form = reply_to(out, "/cmo client add")
    assert "Add a client (form)" in form
    for label in ("[Name]", "[Short key (optional)]", "[Owner (optional)]", "[Internal channel (optional)]",
                  "[Contact cadence (optional)]", "[Time zone (optional)]"):
        assert label in form
    assert "type the command with its arguments" in form
    assert '"blocks"' not in form


def test_forms_needing_a_client_say_there_is_none(tmp_path, database_url):
    out = run_console("/cmo log\n", tmp_path, database_url)
    reply = reply_to(out, "/cmo log")
    assert "no clients yet" in reply
    assert "(form)" not in reply


def test_without_database_url_it_uses_rapport_db_in_the_working_directory(tmp_path):
    env = env_for_subprocess("unused")
    del env["DATABASE_URL"]
    workdir, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    workdir.mkdir()
    elsewhere.mkdir()
    console('/cmo client add "Cygnus Therapeutics" key:cygnus\n', workdir, env)
    assert (workdir / "rapport.db").is_file()
    # The next session in the same directory finds it; another directory starts empty.
    again = console("/cmo client list\n", workdir, env).stdout
    assert "Cygnus Therapeutics" in again
    assert "No clients yet" in console("/cmo client list\n", elsewhere, env).stdout
    assert count_clients(f"sqlite:///{workdir / 'rapport.db'}") == 1


def test_interactive_session_prompts_and_answers(tmp_path, database_url):
    """A terminal: the banner, a prompt, the reply, and `quit` ends it."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    controller, terminal = pty.openpty()
    process = subprocess.Popen([*rapport_command(), "console"], stdin=terminal, stdout=terminal, stderr=terminal,
                               cwd=workdir, env=env_for_subprocess(database_url), close_fds=True)
    os.close(terminal)
    seen = b""

    def read_until(wanted: bytes) -> bytes:
        nonlocal seen
        deadline = time.monotonic() + TIMEOUT
        while wanted not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
        assert wanted in seen, seen.decode(errors="replace")
        found, seen = seen.split(wanted, 1)
        return found

    try:
        banner = read_until(b"rapport> ")
        assert b"Rapport console" in banner
        os.write(controller, b"/cmo client add \"Delta Vaccines\" key:delta\n")
        assert "Added" in read_until(b"rapport> ").decode()
        os.write(controller, b"quit\n")
        assert process.wait(timeout=TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    assert count_clients(database_url) == 1
