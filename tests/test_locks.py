"""The locks that elect the scheduler and the deliverer, on the database the suite runs on."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.locks import holder, try_acquire


def test_a_lock_is_held_once_until_released(database):
    first = try_acquire(database, "test-lock")
    assert first is not None and first.is_held()
    try:
        assert try_acquire(database, "test-lock") is None
        if database.engine.dialect.name == "sqlite":
            assert holder(database, "test-lock").startswith(f"pid {os.getpid()} on ")
    finally:
        first.release()
    assert not first.is_held()
    again = try_acquire(database, "test-lock")
    assert again is not None
    again.release()


def test_nothing_needs_fcntl_so_the_console_starts_on_windows_too():
    """Windows has no fcntl: with it unimportable, the console, the locks and the CLI still import."""
    code = ("import sys; sys.modules['fcntl'] = None\n"
            "import bot.locks, bot.console, bot.cli, bot.scheduler\n"
            "print('imported')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"
