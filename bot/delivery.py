"""Delivers the outbox to Slack: once each, paced per channel, retried with backoff, failures told.

- About one message per second per channel (Slack's limit for chat.postMessage); other channels go on.
- 429: that channel waits Retry-After; the message was not posted, so it is simply due again later.
- 5xx, a timeout or a dropped connection: the message may or may not have been posted. The row stays
  "sending" and is reconciled before anything is sent again, as is a row left "sending" by a crash.
- Reconciling: every post carries Slack message metadata with the outbox id; conversations.history
  tells whether it arrived. Found: sent. Not found: due again, with exponential backoff and jitter.
- Permanent errors (channel_not_found, is_archived, not_in_channel after one conversations.join, ...):
  the row is failed with the reason, and the managers channel is told once.
Ownership is explicit. Only the holder of the "delivery" lock delivers, and each row it posts is claimed
first, atomically: `claimed_by` (this worker instance) and `lease_until` (now + LEASE_SECONDS, comfortably
longer than the Web API client's timeout). Before each post the worker checks that it still holds the
lock (if not, it gives its unposted claim back and stops the run: another process delivers now) and
renews its claim; a cancelled or taken-over row is not posted. Every later change of the row is made
only `WHERE claimed_by = <this worker>`, and clears the claim. Another deliverer reconciles a "sending"
row only when nobody has a live claim on it: no claim, an expired lease, or a claimant known to be dead
(a process of this machine that no longer exists, or this very worker in an earlier run). So a
deliverer that lost its lock while Slack was still answering its post is never raced over that row.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import Select, Update, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.blocks.outbox import failure_notice
from bot.channels import ChannelGuard, is_direct_message
from bot.db import Database
from bot.db.models import OutboxMessage, OutboxStatus, utcnow
from bot.delivery_failures import after_failure
from bot.locks import HeldLock, describe, try_acquire
from bot.services.outbox import CLIENT_MESSAGE, enqueue

logger = logging.getLogger(__name__)

METADATA_EVENT = "rapport_outbox"
DELIVERY_LOCK = "delivery"
# How long a claim on a row holds. The worker renews it right before each post, and the post ends (answered,
# failed or timed out) within the Web API client's timeout (15 s for the delivery client), so a live lease
# means "someone may be posting this right now". Only then may another deliverer look at the row.
LEASE_SECONDS = 60.0
# A run by hand waits for a row coming due this soon (a short Retry-After, an early backoff); a longer wait
# means Slack is down or throttling hard: the run ends, and the scheduler (or a later run) goes on.
MAX_DRAIN_WAIT_SECONDS = 30.0
LOCK_WAIT_SECONDS = 5.0  # how long a run by hand waits for another deliverer to finish
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
PERMANENT_HINTS = {
    "channel_not_found": "the channel does not exist or the bot cannot see it",
    "is_archived": "the channel is archived",
    "not_in_channel": "the bot is not in the channel and could not join it",
}


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    reconciled: int = 0
    claimed_elsewhere: int = 0  # rows another live deliverer is posting: left alone
    expired: int = 0  # rows that could not be posted before they expired: withdrawn
    skipped: bool = False  # another process holds the delivery lock
    lock_lost: bool = False  # the run stopped: this process no longer held the delivery lock

    def __str__(self) -> str:
        if self.skipped:
            return "another process is delivering; nothing done here"
        return (f"{self.sent} delivered, {self.retrying} waiting to retry, {self.failed} failed"
                + (f", {self.reconciled} confirmed after a restart" if self.reconciled else "")
                + (f", {self.expired} expired unposted" if self.expired else "")
                + (f", {self.claimed_elsewhere} being posted by another deliverer" if self.claimed_elsewhere else "")
                + ("; stopped: the delivery lock was lost, another process delivers" if self.lock_lost else ""))


@dataclass(frozen=True)
class _Due:
    id: int
    channel_id: str


class _LockLost(Exception):
    """This process no longer holds the delivery lock: the run stops."""


def _this_machine() -> str | None:
    """Names this machine and PID namespace, so a claim's pid can be checked here; None where it can't be
    (then only the lease ends a claim)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
        with open("/proc/sys/kernel/random/boot_id") as boot:
            boot_id = boot.read().strip()
    except OSError:
        return None
    return hashlib.blake2b(f"{socket.gethostname()}|{boot_id}|{namespace}".encode(), digest_size=5).hexdigest()


_MACHINE = _this_machine()


def worker_identity(pid: int | None = None) -> str:
    """A claimant's name, unique per worker instance: host, pid, machine, random (at most 64 characters)."""
    host = socket.gethostname().split(".")[0][:20].replace(":", "-") or "host"
    return f"{host}:{os.getpid() if pid is None else pid}:{_MACHINE or '-'}:{secrets.token_hex(4)}"


def claimant_is_dead(claimed_by: str) -> bool:
    """True only if certain: a process of this machine (same PID namespace) that no longer exists."""
    parts = claimed_by.split(":")
    if len(parts) != 4 or _MACHINE is None or parts[2] != _MACHINE or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False  # another worker of this process: alive as far as anyone can tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie posts nothing any more
    except (OSError, IndexError):
        return False


class DeliveryWorker:
    def __init__(self, database: Database, client: WebClient, *, managers_channel: str | None = None,
                 per_channel_interval: float = 1.0, max_attempts: int = 12, base_backoff: float = 2.0,
                 max_backoff: float = 900.0, lease_seconds: float = LEASE_SECONDS,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 channel_guard: ChannelGuard | None = None) -> None:
        client_timeout = getattr(client, "timeout", None) or 0
        if lease_seconds <= client_timeout:
            raise ValueError(f"the lease ({lease_seconds}s) must be longer than the Web API client's timeout "
                             f"({client_timeout}s): a post must end before its claim does")
        self.database = database
        self.client = client
        self.managers_channel = managers_channel
        # Asks Slack (cached a minute) whether a channel has become shared since it was configured.
        self.channel_guard = channel_guard or ChannelGuard(client)
        self.per_channel_interval = per_channel_interval
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.clock = clock
        self.sleep = sleep
        self.identity = worker_identity()
        self._running = threading.Lock()  # one run at a time per worker: its claims from earlier runs are dead
        self._ready_at: dict[str, float] = {}  # channel -> when (clock) it may get its next post
        self._joined: set[str] = set()
        self._as_of: dt.datetime | None = None  # the moment expiries are judged against (None: now)

    # -- the run -------------------------------------------------------------------------------
    def deliver(self, *, max_seconds: float = 50.0, drain: bool = False,
                as_of: dt.datetime | None = None) -> DeliveryReport:
        """Deliver what is due, for at most `max_seconds` (what is left waits for the next run).

        With `drain` (a run by hand, after Slack was down), what becomes due within the time (a short
        Retry-After, the end of a backoff) is waited for and delivered, and unconfirmed posts are checked
        again when their backoff ends, instead of leaving them all to a next run.

        A row whose `expires_at` has passed (as of `as_of`: a job run by hand for a moment, else now) is
        withdrawn instead of posted."""
        report = DeliveryReport()
        if not self._running.acquire(blocking=False):
            report.skipped = True
            return report
        self._as_of = as_of  # only once this run is the worker's one: a call turned away leaves it alone
        try:
            lock = try_acquire(self.database, DELIVERY_LOCK)
            # A run by hand waits a little for a short delivery under way elsewhere (a command's own), rather
            # than leave what it just queued to the next run.
            waited = 0.0
            while lock is None and drain and waited < LOCK_WAIT_SECONDS:
                self.sleep(0.2)
                waited += 0.2
                lock = try_acquire(self.database, DELIVERY_LOCK)
            if lock is None:
                report.skipped = True
                return report
            try:
                self._run(lock, report, max_seconds, drain)
            except _LockLost:
                report.lock_lost = True
                logger.error("Delivery stopped: this process lost the delivery lock (its database connection "
                             "was closed); claims not posted were given back, another process delivers them")
            finally:
                lock.release()
        finally:
            self._running.release()
        return report

    def _run(self, lock: HeldLock, report: DeliveryReport, max_seconds: float, drain: bool) -> None:
        self._reconcile_orphans(lock, report)
        deadline = self.clock() + max_seconds
        while self.clock() < deadline:
            due, next_at = self._due()
            if not due:
                wake = self.clock() + (next_at - utcnow()).total_seconds() if drain and next_at else None
                if wake is None or wake > min(deadline, self.clock() + MAX_DRAIN_WAIT_SECONDS):
                    break
                self.sleep(max(0.0, wake - self.clock()))
                self._reconcile_orphans(lock, report)  # unconfirmed posts whose backoff ended: checked now
                continue
            ready = [row for row in due if self._ready_at.get(row.channel_id, 0.0) <= self.clock()]
            if not ready:
                wake = min(self._ready_at[row.channel_id] for row in due)
                self.sleep(max(0.0, min(wake, deadline) - self.clock()))
                continue
            for row in ready:
                self._deliver_one(lock, row, report)

    def _due(self) -> tuple[list[_Due], dt.datetime | None]:
        """Per channel, its oldest pending row if that one is due: a channel's messages keep their order.
        Also when the next channel's first row comes due (a retry, an unconfirmed post to check), if any.

        A row waiting to be retried (Retry-After, a backoff) or to be confirmed ("sending") holds back the
        rows after it in its channel; a row queued for later (`not_before`) and never tried does not."""
        now = utcnow()
        with self.database.transaction() as session:
            rows = session.execute(_due_query(), {"now": now}).all()
        first: dict[str, tuple[int, str, dt.datetime, str | None]] = {}
        for row_id, channel_id, status, next_attempt_at, error in rows:
            first.setdefault(channel_id, (row_id, status, next_attempt_at, error))
        due = [_Due(row_id, channel) for channel, (row_id, status, when, _) in first.items()
               if status == OutboxStatus.PENDING and when <= now]
        later = [when for _, status, when, error in first.values()
                 if when > now and (status == OutboxStatus.PENDING or error is not None)]
        return due, min(later, default=None)

    # -- claims ----------------------------------------------------------------------------------
    def _mine(self):
        return OutboxMessage.claimed_by == self.identity

    def _may_post(self, lock: HeldLock, row_id: int) -> bool:
        """Right before a post: still the deliverer (else give the claim back and stop the run), and the
        claim still stands (not cancelled, not taken over); renewed, so the post ends within it."""
        if not lock.is_held():
            self._give_back(row_id)
            raise _LockLost
        now = utcnow()
        with self.database.transaction() as session:
            renewed = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.SENDING, self._mine(),
                       OutboxMessage.lease_until > now)
                .values(lease_until=now + self.lease)
            ).rowcount
        if not renewed:
            logger.warning("Outbox #%s changed after this worker claimed it (cancelled?); not posted", row_id)
        return bool(renewed)

    def _give_back(self, row_id: int) -> None:
        """An unposted claim back to pending, as if never tried. If the database can't be told, the lease
        runs out and the row is checked in Slack, then posted, by whoever delivers then."""
        try:
            with self.database.transaction() as session:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.SENDING, self._mine())
                    .values(status=OutboxStatus.PENDING, claimed_by=None, lease_until=None, claimed_at=None,
                            attempts=OutboxMessage.attempts - 1))
        except SQLAlchemyError as error:
            logger.warning("Could not give back outbox #%s (%s); its lease will expire", row_id, describe(error))

    def _release(self, row_id: int) -> None:
        """Let go of a claim without changing anything else (the row stays "sending", to be checked)."""
        with self.database.transaction() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id, self._mine())
                            .values(claimed_by=None, lease_until=None))

    def _check_later(self, row: OutboxMessage) -> None:
        """Slack could not say whether it has the post: let go, and check again after a backoff."""
        with self.database.transaction() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id, self._mine()).values(
                claimed_by=None, lease_until=None, error=row.error or "not confirmed yet: Slack could not be asked",
                next_attempt_at=utcnow() + dt.timedelta(seconds=self._backoff(max(1, row.attempts)))))

    # -- one message -----------------------------------------------------------------------------
    def _deliver_one(self, lock: HeldLock, due: _Due, report: DeliveryReport) -> None:
        now = utcnow()
        current = self._as_of or now
        with self.database.transaction() as session:
            claimed = session.execute(_claim_statement(), {
                "row_id": due.id, "as_of": current, "claim_at": now, "claimer": self.identity,
                "lease_end": now + self.lease}).rowcount
            row = session.get(OutboxMessage, due.id) if claimed else None
            if not claimed:
                report.expired += session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == due.id, OutboxMessage.status == OutboxStatus.PENDING,
                           OutboxMessage.expires_at <= current)
                    .values(status=OutboxStatus.CANCELLED, error="expired: not posted in time, no longer useful")
                ).rowcount
        if row is None:
            return  # another deliverer took it, or it expired
        # Committed as "sending" before the call: a crash from here on is reconciled, never re-posted blindly.
        self._ready_at[due.channel_id] = self.clock() + self.per_channel_interval
        if not self._may_post(lock, row.id):
            return
        if not self._internal(row, report):
            return
        try:
            response = self.client.chat_postMessage(**_payload(row))
        except SlackApiError as error:
            self._api_error(row, error, report)
            return
        except (SlackClientError, OSError) as error:
            self._unconfirmed(row.id, f"connection: {error.__class__.__name__}: {error}", report)
            return
        self._mark_sent(row.id, response.get("ts"))
        report.sent += 1

    def _internal(self, row: OutboxMessage, report: DeliveryReport) -> bool:
        """Whether the row may be posted: its channel is not shared with another organisation (only a client
        message goes to a shared channel). Shared: failed with the reason, and the managers are told. Slack
        could not be asked: not posted now, asked again after a backoff (failed after max_attempts)."""
        if row.source == CLIENT_MESSAGE:
            return True
        verdict = self.channel_guard.check(row.channel_id)
        if verdict.shared is False:
            return True
        if verdict.shared:
            self._fail(row.id, f"not posted: the channel is {verdict.reason}; Rapport posts internal content only "
                               "to internal channels", report)
        elif row.attempts >= self.max_attempts:
            self._fail(row.id, f"gave up after {row.attempts} attempts: could not ask Slack whether the channel "
                               f"is shared ({verdict.reason})", report)
        else:
            self._requeue(row.id, delay=self._backoff(row.attempts), refund_attempt=False,
                          error=f"not posted yet: could not ask Slack whether the channel is shared ({verdict.reason})")
            report.retrying += 1
        return False

    def _api_error(self, row: OutboxMessage, error: SlackApiError, report: DeliveryReport) -> None:
        status = error.response.status_code
        code = error.response.get("error") or f"http_{status}"
        if status == 429:
            retry_after = _retry_after(error.response.headers)
            self._ready_at[row.channel_id] = self.clock() + retry_after
            self._requeue(row.id, delay=retry_after, error=f"rate limited: retry after {retry_after:.0f}s",
                          refund_attempt=True)
            report.retrying += 1
        elif status >= 500 or code in TRANSIENT_ERRORS:
            self._unconfirmed(row.id, f"Slack answered {status} {code}", report)
        elif code == "not_in_channel" and row.channel_id not in self._joined and self._join(row.channel_id):
            self._requeue(row.id, delay=0.0, error="joined the channel", refund_attempt=True)
            report.retrying += 1
        else:
            reason = PERMANENT_HINTS.get(code, "Slack refused the message")
            self._fail(row.id, f"{code}: {reason}", report)

    def _join(self, channel_id: str) -> bool:
        self._joined.add(channel_id)  # once: a second not_in_channel is permanent
        try:
            self.client.conversations_join(channel=channel_id)
            return True
        except (SlackApiError, SlackClientError, OSError) as error:
            logger.warning("Could not join %s: %s", channel_id, error)
            return False

    # -- reconciling what may have been posted ---------------------------------------------------
    def _reconcile_orphans(self, lock: HeldLock, report: DeliveryReport) -> None:
        """Rows left "sending" that nobody is posting now: asked about in Slack, then sent, due or failed."""
        with self.database.transaction() as session:
            orphans = list(session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENDING)
                                           .order_by(OutboxMessage.id)))
        for row in orphans:
            now = utcnow()
            if row.next_attempt_at > now and row.error:
                continue  # an unconfirmed post waits for its backoff before being checked again
            if not self._take_over(row, now, report):
                continue
            if not lock.is_held():
                self._release(row.id)
                raise _LockLost
            found = self._find_posted(row)
            if found is _UNKNOWN:
                self._check_later(row)
                continue
            if found:
                self._mark_sent(row.id, found)
                report.reconciled += 1
            elif row.attempts >= self.max_attempts:
                self._fail(row.id, f"gave up after {row.attempts} attempts: {row.error or 'no answer'}", report)
            else:
                self._requeue(row.id, delay=0.0, error=row.error, refund_attempt=False)

    def _take_over(self, row: OutboxMessage, now: dt.datetime, report: DeliveryReport) -> bool:
        """Claim a "sending" row for checking, unless someone alive may still be posting it."""
        previous = row.claimed_by
        ownerless = (previous is None or previous == self.identity  # this worker's earlier run is over
                     or claimant_is_dead(previous))
        if not ownerless and row.lease_until is not None and row.lease_until > now:
            report.claimed_elsewhere += 1
            return False
        condition = [OutboxMessage.id == row.id, OutboxMessage.status == OutboxStatus.SENDING,
                     OutboxMessage.claimed_by.is_(None) if previous is None else OutboxMessage.claimed_by == previous]
        if not ownerless:  # as read: the lease has run out (and a lease can't be renewed once it has)
            condition.append(or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now))
        with self.database.transaction() as session:
            taken = session.execute(update(OutboxMessage).where(*condition)
                                    .values(claimed_by=self.identity, lease_until=now + self.lease)).rowcount
        if taken and previous not in (None, self.identity):
            logger.warning("Outbox #%s was left \"sending\" by %s; checking whether it reached Slack", row.id,
                           previous)
        return bool(taken)

    def _find_posted(self, row: OutboxMessage):
        """The ts of the message if Slack has it, None if not, _UNKNOWN if Slack can't say now."""
        oldest = (row.claimed_at or row.created_at) - dt.timedelta(minutes=5)
        try:
            channel = row.channel_id
            if is_direct_message(channel):  # posted to a user id; its history is the DM's, by its D id
                channel = self.client.conversations_open(users=channel)["channel"]["id"]
            cursor = None
            while True:
                response = self.client.conversations_history(
                    channel=channel, oldest=f"{oldest.timestamp():.6f}", limit=200,
                    include_all_metadata=True, cursor=cursor)
                for message in response.get("messages", []):
                    metadata = message.get("metadata") or {}
                    if (metadata.get("event_type") == METADATA_EVENT
                            and (metadata.get("event_payload") or {}).get("outbox_id") == row.id):
                        return message.get("ts")
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not response.get("has_more") or not cursor:
                    return None
        except SlackApiError as error:
            if error.response.status_code >= 500 or error.response.status_code == 429:
                return _UNKNOWN
            # Never post twice: if Slack can't tell us, a person decides (`rapport outbox retry`).
            self._fail(row.id, f"could not check whether it was posted ({error.response.get('error')}); "
                               "check the channel, then `rapport outbox retry` if it is missing", None)
            return _UNKNOWN  # settled: failed (and the claim with it)
        except (SlackClientError, OSError):
            return _UNKNOWN

    # -- row transitions: each only while this worker's claim stands, and each ends the claim -------
    def _mark_sent(self, row_id: int, ts: str | None) -> None:
        with self.database.transaction() as session:
            marked = session.execute(_sent_statement(), {"row_id": row_id, "claimer": self.identity, "ts": ts,
                                                          "sent": utcnow()}).rowcount
        if not marked:
            logger.warning("Outbox #%s was posted (ts %s), but the row changed meanwhile (cancelled?); left as is",
                           row_id, ts)

    def _requeue(self, row_id: int, *, delay: float, error: str | None, refund_attempt: bool) -> None:
        """Due again after `delay`; a refunded attempt (rate limited, joined the channel) doesn't count."""
        values: dict[str, Any] = {"status": OutboxStatus.PENDING, "error": error, "claimed_by": None,
                                  "lease_until": None, "next_attempt_at": utcnow() + dt.timedelta(seconds=delay)}
        if refund_attempt:
            values["attempts"] = OutboxMessage.attempts - 1
        with self.database.transaction() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id, self._mine()).values(**values))

    def _unconfirmed(self, row_id: int, error: str, report: DeliveryReport) -> None:
        """The post may have arrived: stays "sending", unclaimed, and is checked in Slack after a backoff."""
        with self.database.transaction() as session:
            attempts = session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == row_id))
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row_id, self._mine())
                .values(error=error, claimed_by=None, lease_until=None,
                        next_attempt_at=utcnow() + dt.timedelta(seconds=self._backoff(attempts or 1))))
        report.retrying += 1
        logger.warning("Outbox #%s not confirmed (%s); will check and retry", row_id, error)

    def _backoff(self, attempts: int) -> float:
        ceiling = min(self.max_backoff, self.base_backoff * 2 ** max(0, attempts - 1))
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread retries, keep the growth

    def _fail(self, row_id: int, reason: str, report: DeliveryReport | None) -> None:
        with self.database.transaction() as session:
            failed = session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row_id, self._mine())
                .values(status=OutboxStatus.FAILED, error=reason, claimed_by=None, lease_until=None)).rowcount
            if not failed:
                return
            row = session.get(OutboxMessage, row_id)
            logger.error("Outbox #%s to %s failed: %s", row.id, row.channel_id, reason)
            if self.managers_channel and row.channel_id != self.managers_channel:
                enqueue(session, team_id=row.team_id, dedupe_key=failure_notice_key(session, row),
                        channel_id=self.managers_channel, message=failure_notice(row), source="delivery")
            after_failure(session, row)
        if report is not None:
            report.failed += 1


def failure_notice_key(session: Session, row: OutboxMessage) -> str:
    """The managers' notice of this failure. A message retried (`rapport outbox retry`) that fails again is
    a new failure, told again: each failure of a row after its first is a new generation of the key. The
    status change to failed happens once per failure, so one failure is never told twice."""
    told = session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.team_id == row.team_id,
        or_(OutboxMessage.dedupe_key == f"outbox-failed:{row.id}",
            OutboxMessage.dedupe_key.like(f"outbox-failed:{row.id}:retry-%"))))
    return f"outbox-failed:{row.id}" if not told else f"outbox-failed:{row.id}:retry-{told}"


_UNKNOWN = object()


def _payload(row: OutboxMessage) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "channel": row.channel_id, "text": row.text, "unfurl_links": False, "unfurl_media": False,
        "metadata": {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": row.id}},
    }
    if row.blocks:
        payload["blocks"] = row.blocks
    return payload


def _retry_after(headers: dict[str, Any]) -> float:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            value = value[0] if isinstance(value, list) else value
            try:
                return max(1.0, float(value))
            except (TypeError, ValueError):
                break
    return 1.0


# A delivery runs after every command that queued something: its statements are built once, bound at execution.
@functools.cache
def _due_query() -> Select:
    now = bindparam("now")
    return (select(OutboxMessage.id, OutboxMessage.channel_id, OutboxMessage.status, OutboxMessage.next_attempt_at,
                   OutboxMessage.error)
            .where(or_(OutboxMessage.status == OutboxStatus.SENDING,
                       and_(OutboxMessage.status == OutboxStatus.PENDING,
                            or_(OutboxMessage.next_attempt_at <= now, OutboxMessage.attempts > 0,
                                OutboxMessage.error.is_not(None)))))
            .order_by(OutboxMessage.id).limit(1000))


@functools.cache
def _claim_statement() -> Update:
    return (update(OutboxMessage)
            .where(OutboxMessage.id == bindparam("row_id"), OutboxMessage.status == OutboxStatus.PENDING,
                   or_(OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at > bindparam("as_of")))
            .values(status=OutboxStatus.SENDING, claimed_at=bindparam("claim_at"), claimed_by=bindparam("claimer"),
                    lease_until=bindparam("lease_end"), attempts=OutboxMessage.attempts + 1))


@functools.cache
def _sent_statement() -> Update:
    return (update(OutboxMessage).where(OutboxMessage.id == bindparam("row_id"),
                                        OutboxMessage.claimed_by == bindparam("claimer"))
            .values(status=OutboxStatus.SENT, slack_ts=bindparam("ts"), sent_at=bindparam("sent"), error=None,
                    claimed_by=None, lease_until=None))
