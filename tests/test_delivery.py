"""The delivery worker against the local Slack: every message once, paced per channel, 429 and 5xx and
lost connections survived, what may have been posted reconciled before posting again, permanent errors
failed and told to the managers once."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import select, update

from bot.blocks import Message
from bot.db import Database
from bot.db.models import OutboxMessage, OutboxStatus, utcnow
from bot.delivery import DELIVERY_LOCK, METADATA_EVENT, DeliveryReport, DeliveryWorker
from bot.errors import UserError
from bot.locks import try_acquire
from bot.services.outbox import enqueue, retry

TEAM = "T0ACME"
MANAGERS = "C0MANAGERS"
POST = "chat.postMessage"
HISTORY = "conversations.history"


# -- helpers ---------------------------------------------------------------------------------------

def make_client(slack, *, timeout: int = 10) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.api_url, retry_handlers=[], timeout=timeout)


def make_worker(database, slack, *, timeout: int = 10, **options: Any) -> DeliveryWorker:
    options = {"managers_channel": MANAGERS, "per_channel_interval": 0.0, "base_backoff": 0.05,
               "max_backoff": 0.2, **options}
    return DeliveryWorker(database, make_client(slack, timeout=timeout), **options)


def queue(database, key: str, channel: str = "C0ONE", text: str | None = None, blocks: list | None = None) -> int:
    """Queue one message; its outbox id."""
    with database.transaction() as session:
        assert enqueue(session, team_id=TEAM, dedupe_key=key, channel_id=channel,
                       message=Message(text=text or f"message {key}", blocks=blocks or []), source="test")
        return session.scalar(select(OutboxMessage.id).where(OutboxMessage.team_id == TEAM,
                                                             OutboxMessage.dedupe_key == key))


def rows(database) -> dict[int, OutboxMessage]:
    with database.transaction() as session:
        return {row.id: row for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))}


def row(database, outbox_id: int) -> OutboxMessage:
    return rows(database)[outbox_id]


def outbox_id(message: dict[str, Any]) -> int | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return None
    return (metadata.get("event_payload") or {}).get("outbox_id")


def posted_ids(slack, channel: str | None = None) -> list[int | None]:
    return [outbox_id(message) for message in slack.posted(channel)]


def notices(slack) -> list[dict[str, Any]]:
    return slack.posted(MANAGERS)


def deliver_until_settled(worker, database, *, rounds: int = 300, pause: float = 0.02,
                          check=None) -> list[DeliveryReport]:
    """Run the worker until nothing is pending or sending (bounded, so a stuck row fails the test)."""
    reports = []
    for _ in range(rounds):
        reports.append(worker.deliver(max_seconds=10))
        if check is not None:
            check()
        if not any(r.status in (OutboxStatus.PENDING, OutboxStatus.SENDING) for r in rows(database).values()):
            return reports
        time.sleep(pause)
    raise AssertionError(f"still undelivered: {[(r.id, r.status, r.error) for r in rows(database).values()]}")


def leave_sending(database, outbox_id: int) -> None:
    """What a process that died right after (or during) its chat.postMessage call leaves behind."""
    with database.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                        .values(status=OutboxStatus.SENDING, claimed_at=utcnow(), attempts=OutboxMessage.attempts + 1))


def expire_lease(database, outbox_id: int) -> None:
    """The claim's lease has run out (what waiting LEASE_SECONDS would do)."""
    with database.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                        .values(lease_until=utcnow() - dt.timedelta(seconds=1)))


def post_with_metadata(slack, channel: str, outbox_id: int, text: str) -> str:
    """A message that reached Slack, as the worker posts it; its ts."""
    response = make_client(slack).chat_postMessage(
        channel=channel, text=text,
        metadata={"event_type": METADATA_EVENT, "event_payload": {"outbox_id": outbox_id}})
    return response["ts"]


# -- delivering ------------------------------------------------------------------------------------

def test_every_message_is_posted_once_with_its_content_and_marked_sent(database, slack):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Weekly digest*"}}]
    first = queue(database, "a", "C0ONE", text="first", blocks=blocks)
    second = queue(database, "b", "C0TWO", text="second")
    third = queue(database, "c", "C0ONE", text="third")
    worker = make_worker(database, slack)

    report = worker.deliver()

    assert (report.sent, report.failed, report.retrying, report.skipped) == (3, 0, 0, False)
    assert [m["text"] for m in slack.posted("C0ONE")] == ["first", "third"]
    assert [m["text"] for m in slack.posted("C0TWO")] == ["second"]
    assert slack.posted("C0ONE")[0]["blocks"] == blocks
    assert posted_ids(slack, "C0ONE") == [first, third]
    assert posted_ids(slack, "C0TWO") == [second]
    assert sorted(call.args["metadata"]["event_payload"]["outbox_id"] for call in slack.calls_to(POST)) == [
        first, second, third]
    assert {call.args["metadata"]["event_type"] for call in slack.calls_to(POST)} == {"rapport_outbox"}

    by_id = {outbox_id(m): m for m in slack.posted()}
    for r in rows(database).values():
        assert r.status == OutboxStatus.SENT
        assert r.slack_ts == by_id[r.id]["ts"]
        assert r.sent_at is not None and r.sent_at <= utcnow()
        assert r.error is None
        assert r.attempts == 1
        assert (r.claimed_by, r.lease_until) == (None, None)  # the claim ended with the post

    # Delivered is delivered: another run posts nothing.
    again = worker.deliver()
    assert again.sent == 0
    assert len(slack.calls_to(POST)) == 3


def test_a_message_queued_for_later_waits_without_holding_back_its_channel(database, slack):
    with database.transaction() as session:
        enqueue(session, team_id=TEAM, dedupe_key="later", channel_id="C0ONE", message=Message(text="later"),
                source="test", not_before=utcnow() + dt.timedelta(hours=1))
    now = queue(database, "now", "C0ONE")
    worker = make_worker(database, slack)

    worker.deliver()

    assert posted_ids(slack) == [now]
    later = [r for r in rows(database).values() if r.dedupe_key == "later"][0]
    assert later.status == OutboxStatus.PENDING

    with database.transaction() as session:  # the hour has passed
        session.execute(update(OutboxMessage).where(OutboxMessage.id == later.id).values(next_attempt_at=utcnow()))
    worker.deliver()
    assert posted_ids(slack) == [now, later.id]
    assert [r.status for r in rows(database).values()] == [OutboxStatus.SENT, OutboxStatus.SENT]


def test_a_channels_messages_keep_their_order(database, slack):
    expected: dict[str, list[int]] = {"C0ONE": [], "C0TWO": []}
    for n in range(6):
        channel = "C0ONE" if n % 3 else "C0TWO"
        expected[channel].append(queue(database, f"m{n}", channel))

    make_worker(database, slack).deliver()

    assert posted_ids(slack, "C0ONE") == expected["C0ONE"]
    assert posted_ids(slack, "C0TWO") == expected["C0TWO"]


def test_posts_are_paced_per_channel_while_other_channels_go_on(database, slack):
    a = [queue(database, f"a{n}", "C0AAA") for n in range(4)]
    b = [queue(database, f"b{n}", "C0BBB") for n in range(4)]  # queued after all of A's: not stuck behind them

    report = make_worker(database, slack, per_channel_interval=1.0).deliver()

    assert report.sent == 8
    assert posted_ids(slack, "C0AAA") == a
    assert posted_ids(slack, "C0BBB") == b
    calls = slack.calls_to(POST)
    for channel in ("C0AAA", "C0BBB"):
        times = [call.at for call in calls if call.args["channel"] == channel]
        gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
        assert len(gaps) == 3
        assert all(gap >= 0.9 for gap in gaps), (channel, gaps)
    a_times = [call.at for call in calls if call.args["channel"] == "C0AAA"]
    between = [call for call in calls if call.args["channel"] == "C0BBB" and a_times[0] < call.at < a_times[-1]]
    assert len(between) >= 2, "channel B waited for channel A"


# -- rate limits -----------------------------------------------------------------------------------

def test_429_with_retry_after_on_every_third_post_loses_nothing_and_posts_each_once(database, slack):
    for _ in range(4):
        slack.pass_through(POST, times=2)
        slack.fail(POST, status=429, retry_after=1)
    ids = [queue(database, f"m{n}", "C0AAA" if n % 2 else "C0BBB") for n in range(6)]
    worker = make_worker(database, slack, per_channel_interval=1.0)

    def nothing_failed():
        assert not [r for r in rows(database).values() if r.status == OutboxStatus.FAILED]

    reports = deliver_until_settled(worker, database, check=nothing_failed)

    assert sorted(posted_ids(slack)) == sorted(ids)  # all arrived, each once
    assert len(set(posted_ids(slack))) == len(ids)
    for channel in ("C0AAA", "C0BBB"):
        assert posted_ids(slack, channel) == [i for i in ids if row(database, i).channel_id == channel]
    assert all(r.status == OutboxStatus.SENT and r.error is None for r in rows(database).values())
    # A rate-limited post is not an attempt that counts towards giving up.
    assert all(r.attempts == 1 for r in rows(database).values())
    assert sum(r.failed for r in reports) == 0
    assert sum(r.retrying for r in reports) >= 2

    calls = slack.calls_to(POST)
    limited = [index for index in range(len(calls)) if index % 3 == 2]
    assert len(calls) == len(ids) + len(limited)  # every 429 cost exactly one more call, no more
    assert len(limited) >= 2
    for channel in ("C0AAA", "C0BBB"):
        times = [call.at for call in calls if call.args["channel"] == channel]
        gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
        assert all(gap >= 0.9 for gap in gaps), (channel, gaps)  # never more than about one a second
    for index in limited:
        channel = calls[index].args["channel"]
        later = [call for call in calls[index + 1:] if call.args["channel"] == channel]
        assert later, "the rate-limited message was never posted again"
        assert later[0].at - calls[index].at >= 0.9  # waited Retry-After
    # The other channel went on while the rate-limited one waited.
    first_limited = calls[limited[0]]
    resumed = next(call for call in calls[limited[0] + 1:] if call.args["channel"] == first_limited.args["channel"])
    assert any(call.args["channel"] != first_limited.args["channel"] and first_limited.at < call.at < resumed.at
               for call in calls)


def test_429_waits_for_that_channel_only(database, slack):
    slack.fail(POST, status=429, retry_after=1)
    limited = queue(database, "limited", "C0AAA")
    others = [queue(database, f"other{n}", "C0BBB") for n in range(3)]
    worker = make_worker(database, slack)

    report = worker.deliver()

    # The first post (to A) was refused; B's three went on at once; A's message is pending, not failed.
    assert report.sent == 3
    assert report.retrying == 1
    assert report.failed == 0
    assert posted_ids(slack, "C0BBB") == others
    assert posted_ids(slack, "C0AAA") == []
    waiting = row(database, limited)
    assert waiting.status == OutboxStatus.PENDING
    assert waiting.attempts == 0
    assert "rate limited" in waiting.error

    deliver_until_settled(worker, database)
    assert posted_ids(slack, "C0AAA") == [limited]
    calls = slack.calls_to(POST)
    a_calls = [call for call in calls if call.args["channel"] == "C0AAA"]
    assert len(a_calls) == 2
    assert a_calls[1].at - a_calls[0].at >= 0.9


# -- Slack down, connections lost ------------------------------------------------------------------

def test_slack_answering_503_for_a_while_delays_but_delivers_every_message_once(database, slack):
    slack.fail(POST, times=5, status=503)
    ids = [queue(database, f"m{n}", "C0AAA" if n % 2 else "C0BBB") for n in range(4)]
    worker = make_worker(database, slack)
    seen_unconfirmed = []

    def nothing_failed():
        current = rows(database).values()
        assert not [r for r in current if r.status == OutboxStatus.FAILED]
        seen_unconfirmed.extend(r.id for r in current if r.status == OutboxStatus.SENDING and "503" in (r.error or ""))

    first = worker.deliver()
    nothing_failed()
    assert first.retrying >= 1 and first.failed == 0
    reports = deliver_until_settled(worker, database, check=nothing_failed)

    assert sorted(posted_ids(slack)) == sorted(ids)
    assert len(posted_ids(slack)) == len(ids)  # each once
    assert all(r.status == OutboxStatus.SENT for r in rows(database).values())
    assert seen_unconfirmed, "a 503 left no row waiting to be confirmed"
    assert len(slack.calls_to(POST)) == len(ids) + 5
    # Nothing was posted again before Slack was asked whether it had it.
    assert len(slack.calls_to(HISTORY)) >= 5
    assert sum(r.failed for r in [first, *reports]) == 0
    assert not notices(slack)


def test_an_unconfirmed_post_holds_back_the_rest_of_its_channel(database, slack):
    slack.fail(POST, times=2, status=503)
    ids = [queue(database, f"m{n}", "C0AAA") for n in range(3)]

    deliver_until_settled(make_worker(database, slack), database)

    assert posted_ids(slack, "C0AAA") == ids


def test_a_dropped_connection_is_checked_then_posted_once(database, slack):
    slack.fail(POST, drop=True)
    message = queue(database, "m", "C0AAA")
    worker = make_worker(database, slack)

    report = worker.deliver()

    assert report.retrying == 1 and report.sent == 0
    unconfirmed = row(database, message)
    assert unconfirmed.status == OutboxStatus.SENDING
    assert unconfirmed.error.startswith("connection:")
    assert posted_ids(slack) == []  # the connection dropped before Slack took it

    deliver_until_settled(worker, database)

    assert posted_ids(slack, "C0AAA") == [message]
    assert row(database, message).status == OutboxStatus.SENT
    # It asked Slack whether the message had arrived before posting it again.
    history = slack.calls_to(HISTORY)
    assert history and history[0].args["channel"] == "C0AAA"
    assert history[0].at < slack.calls_to(POST)[-1].at


def test_a_post_that_landed_but_timed_out_is_reconciled_not_posted_again(database, slack):
    slack.slow(POST, 3)
    message = queue(database, "m", "C0AAA", text="only once")
    worker = make_worker(database, slack, timeout=1)

    report = worker.deliver()

    assert report.sent == 0 and report.retrying == 1
    assert row(database, message).status == OutboxStatus.SENDING
    [landed] = slack.posted("C0AAA")  # Slack has it, the worker doesn't know
    assert outbox_id(landed) == message

    reports = deliver_until_settled(worker, database)

    assert sum(r.reconciled for r in reports) == 1
    assert len(slack.calls_to(POST)) == 1
    assert slack.posted("C0AAA") == [landed]
    done = row(database, message)
    assert done.status == OutboxStatus.SENT
    assert done.slack_ts == landed["ts"]
    assert done.sent_at is not None


def test_a_crash_between_slacks_ok_and_marking_sent_does_not_post_again(database, slack):
    message = queue(database, "m", "C0AAA")
    crashing = make_worker(database, slack)

    def crash(*args, **kwargs):
        raise SystemExit("killed")

    crashing._mark_sent = crash
    with pytest.raises(SystemExit):
        crashing.deliver()
    left = row(database, message)
    assert left.status == OutboxStatus.SENDING
    assert left.claimed_by == crashing.identity and left.lease_until > utcnow()
    assert posted_ids(slack) == [message]

    # Another deliverer (the lock died with the old one). While the claim's lease runs, whoever made it may
    # still be waiting for Slack's answer: the row is left alone.
    restarted = make_worker(Database(database.url), slack)
    early = restarted.deliver()
    assert (early.reconciled, early.claimed_elsewhere) == (0, 1)
    assert row(database, message).status == OutboxStatus.SENDING
    assert slack.calls_to(HISTORY) == []

    expire_lease(database, message)
    report = restarted.deliver()

    assert report.reconciled == 1
    assert posted_ids(slack) == [message]
    assert len(slack.calls_to(POST)) == 1
    assert row(database, message).status == OutboxStatus.SENT
    assert row(database, message).slack_ts == slack.posted("C0AAA")[0]["ts"]
    restarted.database.dispose()


# -- rows left "sending" by a process that died ----------------------------------------------------

def test_an_orphan_that_reached_slack_is_marked_sent_not_posted_again(database, slack):
    message = queue(database, "m", "C0AAA", text="hello")
    leave_sending(database, message)
    ts = post_with_metadata(slack, "C0AAA", message, "hello")
    post_with_metadata(slack, "C0AAA", message + 100, "another message")  # not ours: another id

    report = make_worker(database, slack).deliver()

    assert report.reconciled == 1 and report.sent == 0
    assert len(slack.calls_to(POST)) == 2  # only the two made above
    done = row(database, message)
    assert done.status == OutboxStatus.SENT
    assert done.slack_ts == ts


def test_an_orphan_that_never_reached_slack_is_posted_once(database, slack):
    message = queue(database, "m", "C0AAA", text="hello")
    leave_sending(database, message)

    report = make_worker(database, slack).deliver()

    assert report.reconciled == 0 and report.sent == 1
    assert posted_ids(slack, "C0AAA") == [message]
    assert slack.calls_to(HISTORY)[0].at < slack.calls_to(POST)[0].at
    assert row(database, message).status == OutboxStatus.SENT


def test_an_orphan_direct_message_is_checked_in_the_dm_and_not_posted_again(database, slack):
    """A message to a user id (an owner told of contact) lands in the app's DM with them: after a crash its
    history is read there (conversations.open gives the DM's id; Slack refuses a user id for history)."""
    message = queue(database, "dm", "U0ANA", text="hello")
    leave_sending(database, message)
    ts = post_with_metadata(slack, "U0ANA", message, "hello")

    report = make_worker(database, slack).deliver()

    assert report.reconciled == 1 and report.sent == 0
    assert [call.args["channel"] for call in slack.calls_to(HISTORY)] == ["D0ANA"]
    assert len(slack.calls_to(POST)) == 1  # only the one made above
    assert (row(database, message).status, row(database, message).slack_ts) == (OutboxStatus.SENT, ts)


def test_an_orphan_direct_message_that_never_arrived_is_posted_once(database, slack):
    message = queue(database, "dm", "U0ANA", text="hello")
    leave_sending(database, message)

    report = make_worker(database, slack).deliver()

    assert report.reconciled == 0 and report.sent == 1
    assert posted_ids(slack, "U0ANA") == [message]
    assert row(database, message).status == OutboxStatus.SENT


def test_an_orphan_slack_cannot_check_is_failed_not_posted(database, slack):
    message = queue(database, "m", "C0AAA")
    leave_sending(database, message)
    slack.fail(HISTORY, error="missing_scope")

    make_worker(database, slack).deliver()
    make_worker(database, slack).deliver()

    failed = row(database, message)
    assert failed.status == OutboxStatus.FAILED
    assert "could not check" in failed.error
    assert "missing_scope" in failed.error
    assert posted_ids(slack, "C0AAA") == []
    [notice] = notices(slack)
    assert f"rapport outbox retry {message}" in json.dumps(notice)


def test_an_orphan_waits_while_slack_history_is_down(database, slack):
    message = queue(database, "m", "C0AAA")
    leave_sending(database, message)
    slack.fail(HISTORY, status=503)
    worker = make_worker(database, slack)

    worker.deliver()

    assert row(database, message).status == OutboxStatus.SENDING  # unknown: neither posted again nor failed
    assert posted_ids(slack) == []

    time.sleep(0.25)  # Slack is asked again once the check's backoff (at most max_backoff) is over
    worker.deliver()
    assert posted_ids(slack, "C0AAA") == [message]
    assert row(database, message).status == OutboxStatus.SENT


# -- permanent errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["channel_not_found", "is_archived"])
def test_a_permanent_error_fails_the_row_and_tells_the_managers_once(database, slack, code):
    slack.fail(POST, error=code)
    message = queue(database, "m", "C0GONE")
    fine = queue(database, "fine", "C0FINE")
    worker = make_worker(database, slack)

    report = worker.deliver()
    for _ in range(3):
        worker.deliver()

    assert report.failed == 1
    failed = row(database, message)
    assert failed.status == OutboxStatus.FAILED
    assert code in failed.error
    assert posted_ids(slack, "C0GONE") == []
    assert len([c for c in slack.calls_to(POST) if c.args["channel"] == "C0GONE"]) == 1  # not retried
    assert posted_ids(slack, "C0FINE") == [fine]
    [notice] = notices(slack)
    assert f"rapport outbox retry {message}" in json.dumps(notice)
    assert code in json.dumps(notice)


def test_not_in_channel_joins_once_then_posts(database, slack):
    slack.fail(POST, error="not_in_channel")
    message = queue(database, "m", "C0AAA")

    deliver_until_settled(make_worker(database, slack), database)

    joins = slack.calls_to("conversations.join")
    assert [call.args["channel"] for call in joins] == ["C0AAA"]
    assert posted_ids(slack, "C0AAA") == [message]
    done = row(database, message)
    assert done.status == OutboxStatus.SENT
    assert done.attempts == 1  # the refused post before joining doesn't count
    assert not notices(slack)


def test_not_in_channel_again_after_joining_fails(database, slack):
    slack.fail(POST, times=2, error="not_in_channel")
    message = queue(database, "m", "C0AAA")
    worker = make_worker(database, slack)

    deliver_until_settled(worker, database)
    worker.deliver()

    assert len(slack.calls_to("conversations.join")) == 1
    failed = row(database, message)
    assert failed.status == OutboxStatus.FAILED
    assert "not_in_channel" in failed.error
    assert posted_ids(slack, "C0AAA") == []
    [notice] = notices(slack)
    assert f"rapport outbox retry {message}" in json.dumps(notice)


def test_a_failing_message_to_the_managers_channel_tells_nobody(database, slack):
    slack.fail(POST, times=5, error="is_archived")
    message = queue(database, "m", MANAGERS)
    worker = make_worker(database, slack)

    worker.deliver()
    worker.deliver()

    assert [(r.id, r.status) for r in rows(database).values()] == [(message, OutboxStatus.FAILED)]
    assert len(slack.calls_to(POST)) == 1


def test_a_failing_notice_does_not_start_a_notice_loop(database, slack):
    slack.fail(POST, times=2, error="channel_not_found")  # the message, then the notice about it
    message = queue(database, "m", "C0GONE")
    worker = make_worker(database, slack)

    for _ in range(3):
        worker.deliver()

    everything = list(rows(database).values())
    assert len(everything) == 2
    assert [r.status for r in everything] == [OutboxStatus.FAILED, OutboxStatus.FAILED]
    assert everything[0].id == message
    assert everything[1].channel_id == MANAGERS
    assert len(slack.calls_to(POST)) == 2
    assert slack.posted() == []


def test_giving_up_after_max_attempts_fails_the_row_and_tells_the_managers_once(database, slack):
    slack.fail(POST, times=3, status=503)  # every attempt the worker may make
    message = queue(database, "m", "C0AAA")
    worker = make_worker(database, slack, max_attempts=3)

    deliver_until_settled(worker, database)
    worker.deliver()

    failed = row(database, message)
    assert failed.status == OutboxStatus.FAILED
    assert "gave up after 3 attempts" in failed.error
    assert "503" in failed.error
    assert len([c for c in slack.calls_to(POST) if c.args["channel"] == "C0AAA"]) == 3
    assert posted_ids(slack, "C0AAA") == []  # the 4th call would have gone through: it was not made
    [notice] = notices(slack)
    assert f"rapport outbox retry {message}" in json.dumps(notice)


def test_backoff_grows_with_jitter_up_to_the_ceiling(database, slack):
    worker = make_worker(database, slack, base_backoff=1.0, max_backoff=10.0)
    for attempts, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (30, 10.0)]:
        delays = [worker._backoff(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays), (attempts, delays)
        assert len(set(delays)) > 1  # jittered


# -- retrying what failed --------------------------------------------------------------------------

def test_a_retried_failed_message_is_delivered(database, slack):
    slack.fail(POST, error="channel_not_found")
    message = queue(database, "m", "C0AAA")
    worker = make_worker(database, slack)
    worker.deliver()
    assert row(database, message).status == OutboxStatus.FAILED

    with database.transaction() as session:
        retry(session, message)
    worker.deliver()

    assert posted_ids(slack, "C0AAA") == [message]
    done = row(database, message)
    assert done.status == OutboxStatus.SENT and done.error is None
    assert len(notices(slack)) == 1

    with pytest.raises(UserError), database.transaction() as session:
        retry(session, message)  # sent: nothing to retry
    with pytest.raises(UserError), database.transaction() as session:
        retry(session, 12345)


# -- the delivery lock -----------------------------------------------------------------------------

def test_the_delivery_lock_conflicts_within_one_process(database):
    held = try_acquire(database, DELIVERY_LOCK)
    assert held is not None
    try:
        assert try_acquire(database, DELIVERY_LOCK) is None
        other = Database(database.url)
        try:
            assert try_acquire(other, DELIVERY_LOCK) is None
        finally:
            other.dispose()
    finally:
        held.release()
    again = try_acquire(database, DELIVERY_LOCK)
    assert again is not None
    again.release()


def test_a_worker_without_the_delivery_lock_posts_nothing(database, slack):
    message = queue(database, "m", "C0AAA")
    worker = make_worker(database, slack)

    held = try_acquire(database, DELIVERY_LOCK)
    assert held is not None
    try:
        report = worker.deliver()
    finally:
        held.release()

    assert report.skipped is True
    assert "another process" in str(report)
    assert slack.calls_to(POST) == []
    assert row(database, message).status == OutboxStatus.PENDING

    assert worker.deliver().sent == 1
    assert posted_ids(slack) == [message]


def test_two_workers_at_once_post_each_message_once(database, slack):
    ids = [queue(database, f"m{n}", f"C0CH{n % 4}") for n in range(20)]
    databases = [Database(database.url) for _ in range(2)]
    workers = [make_worker(db, slack) for db in databases]
    errors: list[BaseException] = []
    start = threading.Barrier(len(workers))

    def run(worker):
        try:
            start.wait()
            for _ in range(5):
                worker.deliver()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for db in databases:
        db.dispose()

    assert not errors
    assert sorted(posted_ids(slack)) == ids
    assert all(r.status == OutboxStatus.SENT for r in rows(database).values())
