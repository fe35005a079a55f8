"""Who may touch an outbox row while it is being posted: the worker that claimed it, as long as its lease
runs. A deliverer that loses its lock while Slack is still processing its post is never raced over that
message by the one that takes over; it posts nothing more, gives back what it had not posted, and every
message ends up in Slack once. Rows left by a process that is gone are recovered; the outbox service
leaves no claim behind."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from collections import Counter
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import text, update

from bot.db import Database
from bot.db.models import OutboxMessage, OutboxStatus, utcnow
from bot.delivery import DELIVERY_LOCK, LEASE_SECONDS, DeliveryReport, DeliveryWorker, worker_identity
from bot.locks import advisory_holder
from bot.services.outbox import cancel_pending, retry
from tests.test_delivery import (
    HISTORY,
    POST,
    deliver_until_settled,
    expire_lease,
    post_with_metadata,
    posted_ids,
    queue,
    row,
    rows,
)

TIMEOUT = 60  # seconds; only so that a hung thread fails the test instead of hanging the suite


def worker(database, slack, *, token: str = "xoxb-test", timeout: int = 10, **options: Any) -> DeliveryWorker:
    client = WebClient(token=token, base_url=slack.api_url, retry_handlers=[], timeout=timeout)
    return DeliveryWorker(database, client, **{"per_channel_interval": 0.0, "base_backoff": 0.05,
                                               "max_backoff": 0.2, **options})


def claim(database, outbox_id: int, owner: str, *, lease_seconds: float = LEASE_SECONDS) -> None:
    """What a deliverer's claim looks like while it posts (or after it died posting)."""
    now = utcnow()
    with database.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(
            status=OutboxStatus.SENDING, claimed_at=now, claimed_by=owner,
            lease_until=now + dt.timedelta(seconds=lease_seconds),
            attempts=OutboxMessage.attempts + 1))


def tokens_posting(slack, token: str) -> list[int]:
    return [call.args["metadata"]["event_payload"]["outbox_id"] for call in slack.calls_to(POST) if call.token == token]


# -- a deliverer loses its lock while Slack processes its post ----------------------------------------

def test_a_deliverer_that_loses_its_lock_mid_post_posts_nothing_more_and_nothing_is_posted_twice(
        backend, database, slack):
    if backend.name != "postgresql":
        pytest.skip("needs PostgreSQL: a SQLite lock file can't be lost by a living process")
    first = [queue(database, f"one{n}", "C0ONE") for n in range(3)]
    second = [queue(database, f"two{n}", "C0TWO") for n in range(2)]
    held = slack.hold(POST)  # Slack receives A's first post, and processes it only when released
    a_database, b_database = Database(database.url), Database(database.url)
    a = worker(a_database, slack, token="xoxb-worker-a", timeout=30)
    b = worker(b_database, slack, token="xoxb-worker-b")
    a_report: list[DeliveryReport] = []
    a_thread = threading.Thread(target=lambda: a_report.append(a.deliver(max_seconds=30)), daemon=True)
    try:
        a_thread.start()
        assert held.wait_arrived(TIMEOUT)
        in_flight = held.args["metadata"]["event_payload"]["outbox_id"]
        assert in_flight == first[0]
        claimed = row(database, in_flight)
        assert (claimed.status, claimed.claimed_by) == (OutboxStatus.SENDING, a.identity)
        assert claimed.lease_until > utcnow() + dt.timedelta(seconds=30)

        # A's connection holding the delivery lock is cut (a failover, a proxy, an administrator).
        with database.engine.connect() as connection:
            pid = advisory_holder(database, DELIVERY_LOCK)
            assert pid is not None
            assert connection.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}).scalar()
        assert advisory_holder(database, DELIVERY_LOCK) is None

        # B takes the lock and delivers meanwhile: not the message Slack is still processing for A.
        meanwhile = b.deliver()
        assert not meanwhile.skipped
        assert meanwhile.claimed_elsewhere == 1
        assert posted_ids(slack, "C0TWO") == second
        assert posted_ids(slack, "C0ONE") == []  # A's post has not landed yet, and B did not post it
        assert row(database, in_flight).claimed_by == a.identity

        held.release()
        a_thread.join(TIMEOUT)
        assert not a_thread.is_alive()
    finally:
        held.release()
    [report] = a_report
    assert report.lock_lost and report.sent == 1
    assert "lock was lost" in str(report)
    # A did not post what it claimed after losing the lock: it gave it back, as if never tried.
    given_back = row(database, first[1])
    assert (given_back.status, given_back.attempts, given_back.claimed_by) == (OutboxStatus.PENDING, 0, None)

    deliver_until_settled(b, database)

    assert Counter(posted_ids(slack)) == Counter(first + second)  # every message, once each
    assert posted_ids(slack, "C0ONE") == first  # in order
    assert tokens_posting(slack, "xoxb-worker-a") == [in_flight]  # nothing after losing its lock
    assert {r.id: (r.status, r.claimed_by, r.lease_until) for r in rows(database).values()} == {
        i: (OutboxStatus.SENT, None, None) for i in first + second}
    a_database.dispose()
    b_database.dispose()


# -- live claims are left alone; dead ones are recovered ------------------------------------------------

@pytest.mark.parametrize("claimant", ["a process on another machine", "another worker of this process"])
def test_a_row_someone_may_still_be_posting_is_left_alone_until_its_lease_runs_out(database, slack, claimant):
    busy = queue(database, "busy", "C0ONE")
    behind = queue(database, "behind", "C0ONE")
    free = queue(database, "free", "C0TWO")
    owner = ("elsewhere:4242:0123456789:cafebabe" if claimant.startswith("a process")
             else worker(database, slack).identity)
    claim(database, busy, owner)
    deliverer = worker(database, slack)

    report = deliverer.deliver()

    assert report.claimed_elsewhere == 1
    assert posted_ids(slack) == [free]  # the claimed row's channel waits behind it; others go on
    assert slack.calls_to(HISTORY) == []  # not even looked at
    untouched = row(database, busy)
    assert (untouched.status, untouched.claimed_by, untouched.attempts) == (OutboxStatus.SENDING, owner, 1)
    assert row(database, behind).status == OutboxStatus.PENDING

    expire_lease(database, busy)  # whoever it was did not finish in time: it is checked, then posted
    deliver_until_settled(deliverer, database)

    assert posted_ids(slack, "C0ONE") == [busy, behind]
    assert slack.calls_to(HISTORY)[0].at < slack.calls_to(POST)[1].at
    done = row(database, busy)
    assert (done.status, done.claimed_by, done.lease_until) == (OutboxStatus.SENT, None, None)


def test_a_claim_left_by_a_process_of_this_machine_that_is_gone_is_recovered_at_once(database, slack):
    landed = queue(database, "landed", "C0ONE")
    lost = queue(database, "lost", "C0TWO")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True, timeout=TIMEOUT)
    owner = worker_identity(pid=int(gone.stdout))
    claim(database, landed, owner)
    claim(database, lost, owner)
    ts = post_with_metadata(slack, "C0ONE", landed, "it got there before the process died")

    report = worker(database, slack).deliver()

    assert report.reconciled == 1 and report.sent == 1 and report.claimed_elsewhere == 0
    assert posted_ids(slack) == [landed, lost]  # the one that landed was not posted again
    assert row(database, landed).slack_ts == ts
    assert {r.id: (r.status, r.claimed_by) for r in rows(database).values()} == {
        landed: (OutboxStatus.SENT, None), lost: (OutboxStatus.SENT, None)}


def test_a_row_cancelled_while_slack_processes_its_post_is_not_overwritten(database, slack):
    message = queue(database, "m", "C0ONE")
    held = slack.hold(POST)
    deliverer = worker(database, slack)
    thread = threading.Thread(target=deliverer.deliver, daemon=True)
    try:
        thread.start()
        assert held.wait_arrived(TIMEOUT)
        with database.transaction() as session:
            assert cancel_pending(session, "T0ACME", ["m"]) == 1
        cancelled = row(database, message)
        assert (cancelled.status, cancelled.claimed_by, cancelled.lease_until) == (OutboxStatus.CANCELLED, None, None)
    finally:
        held.release()
    thread.join(TIMEOUT)
    assert not thread.is_alive()

    after = row(database, message)
    assert after.status == OutboxStatus.CANCELLED  # the worker's "sent" applied only while its claim stood
    assert "withdrawn" in after.error


def test_the_outbox_service_leaves_no_claim_behind(database, slack):
    failed = queue(database, "failed", "C0ONE")
    unconfirmed = queue(database, "unconfirmed", "C0TWO")
    for outbox_id in (failed, unconfirmed):
        claim(database, outbox_id, "elsewhere:4242:0123456789:cafebabe")
    with database.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == failed)
                        .values(status=OutboxStatus.FAILED, error="gone"))

    with database.transaction() as session:
        retry(session, failed)
        assert cancel_pending(session, "T0ACME", ["unconfirmed"]) == 1

    assert {r.id: (r.status, r.claimed_by, r.lease_until) for r in rows(database).values()} == {
        failed: (OutboxStatus.PENDING, None, None), unconfirmed: (OutboxStatus.CANCELLED, None, None)}
    # The retried row is delivered at once: no stale claim holds it back.
    worker(database, slack).deliver()
    assert posted_ids(slack) == [failed]


def test_a_lease_must_outlast_the_web_api_clients_timeout(database, slack):
    with pytest.raises(ValueError, match="longer than the Web API client's timeout"):
        worker(database, slack, timeout=30, lease_seconds=30)
    assert worker(database, slack, timeout=15).lease == dt.timedelta(seconds=LEASE_SECONDS)
