"""What must follow the answer to Slack: opening a modal, a `respond()`, a delivery, a permalink.

A listener answers Slack in the request thread, within milliseconds; its slower follow-up calls are
added to the request's `Afterwards` and started once the answer is on its way, in order, on a
background thread (`BackgroundRunner`), or at once where nothing waits for an answer (the console's
`InlineRunner`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

logger = logging.getLogger(__name__)

AFTERWARDS = "afterwards"  # the key of a request's Afterwards in Bolt's context
STARTED_BY_TRANSPORT = "afterwards_started_by_transport"  # set by a transport that starts it once it answered
Task = Callable[[], object]


class Runner(Protocol):
    def submit(self, tasks: list[Task]) -> None: ...


def run_in_order(tasks: list[Task]) -> None:
    for task in tasks:
        try:
            task()
        except Exception:  # after the answer there is nobody to tell but the log; the next task still runs
            logger.exception("A follow-up after the answer to Slack failed: %s", getattr(task, "__name__", task))


class BackgroundRunner:
    def __init__(self, workers: int = 8) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rapport-after")

    def submit(self, tasks: list[Task]) -> None:
        self._executor.submit(run_in_order, tasks)

    def close(self) -> None:
        """Wait for what is under way, then stop (tests; a process on its way out)."""
        self._executor.shutdown(wait=True)


class InlineRunner:
    def submit(self, tasks: list[Task]) -> None:
        run_in_order(tasks)

    def close(self) -> None:
        pass


class Afterwards:
    """One request's follow-ups: collected while the answer is made, started once it is sent."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._tasks: list[Task] = []
        self._started = False

    def add(self, task: Task) -> None:
        if self._started:
            self._runner.submit([task])
        else:
            self._tasks.append(task)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        tasks, self._tasks = self._tasks, []
        if tasks:
            self._runner.submit(tasks)

    def discard(self) -> None:
        self._tasks.clear()
