"""`housekeeping` (issue 11, part 8): remembered request ids pruned after 24 h, sent and withdrawn outbox
rows after RAPPORT_OUTBOX_RETENTION_DAYS; pending, sending and failed rows and the audit trail never.
And a failed message retried with `rapport outbox retry` that fails again tells the managers again."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from bot.config import ConfigError, load_settings
from bot.db.models import AuditEvent, OutboxMessage, OutboxStatus, ProcessedRequest
from bot.runtime import Runtime
from bot.services import Actor
from bot.services.clients import add_client
from bot.services.outbox import retry
from jobs import JOBS
from jobs.housekeeping import housekeeping
from tests.conftest import env_for_subprocess
from tests.test_delivery import POST, make_worker, notices, queue, row
from tests.test_jobs_cli import rapport

NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
TEAM = "T0ACME"


@pytest.fixture
def env(database_url, slack) -> dict[str, str]:
    return env_for_subprocess(database_url, slack, SLACK_BOT_TOKEN="xoxb-test")


@pytest.fixture
def runtime(settings, database, slack):
    database.upgrade()
    made = Runtime.create(settings.with_overrides(outbox_retention_days=90), database)
    yield made


def outbox_row(session, key: str, status: str, *, created: dt.datetime, sent: dt.datetime | None = None) -> None:
    session.add(OutboxMessage(team_id=TEAM, dedupe_key=key, channel_id="C0ONE", text=key, blocks=None,
                              source="test", status=status, attempts=0, next_attempt_at=created,
                              created_at=created, sent_at=sent))


def seed(database) -> None:
    old, recent = NOW - dt.timedelta(days=91), NOW - dt.timedelta(days=89)
    with database.transaction() as session:
        add_client(session, Actor(TEAM, "U0ANA", "cli"), "Acme Biologics", owner_user_id="U0ANA")
        for key, received in (("old-request", NOW - dt.timedelta(hours=25)),
                              ("fresh-request", NOW - dt.timedelta(hours=23))):
            session.add(ProcessedRequest(team_id=TEAM, key=key, received_at=received))
        outbox_row(session, "sent-old", OutboxStatus.SENT, created=old, sent=old)
        outbox_row(session, "sent-queued-old-sent-recently", OutboxStatus.SENT, created=old, sent=recent)
        outbox_row(session, "sent-recent", OutboxStatus.SENT, created=recent, sent=recent)
        outbox_row(session, "cancelled-old", OutboxStatus.CANCELLED, created=old)
        outbox_row(session, "cancelled-recent", OutboxStatus.CANCELLED, created=recent)
        for status in (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED):
            outbox_row(session, f"{status}-old", status, created=old - dt.timedelta(days=400))


def state(database) -> tuple[set[str], set[str], int]:
    with database.transaction() as session:
        return (set(session.scalars(select(ProcessedRequest.key))),
                set(session.scalars(select(OutboxMessage.dedupe_key))),
                session.scalar(select(func.count()).select_from(AuditEvent)))


def test_housekeeping_prunes_only_what_is_old_and_done(runtime, database):
    seed(database)
    _, _, audit_before = state(database)
    assert audit_before > 0

    result = housekeeping(runtime, now=NOW)

    requests, outbox, audit = state(database)
    assert requests == {"fresh-request"}
    assert outbox == {"sent-queued-old-sent-recently", "sent-recent", "cancelled-recent",
                      "pending-old", "sending-old", "failed-old"}
    assert audit == audit_before  # the audit trail is never pruned
    assert "pruned 1 remembered request id(s)" in result.summary()
    assert "2 sent or withdrawn outbox message(s) older than 90 days" in result.summary()

    housekeeping(runtime, now=NOW)  # twice: nothing more
    assert state(database) == (requests, outbox, audit)


def test_a_dry_run_changes_nothing(runtime, database):
    seed(database)
    before = state(database)
    result = housekeeping(runtime, now=NOW, dry_run=True)
    assert state(database) == before
    assert "would prune 1 remembered request id(s)" in result.summary()


def test_retention_is_a_setting(runtime, database, settings):
    seed(database)
    short = Runtime.create(settings.with_overrides(outbox_retention_days=30), database)
    housekeeping(short, now=NOW + dt.timedelta(days=60))
    _, outbox, _ = state(database)
    assert outbox == {"pending-old", "sending-old", "failed-old"}


def test_retention_setting_is_read_and_checked():
    assert load_settings({}, dotenv_path=None).outbox_retention_days == 90
    assert load_settings({"RAPPORT_OUTBOX_RETENTION_DAYS": "30"}, dotenv_path=None).outbox_retention_days == 30
    for wrong in ("0", "-1", "ninety", "9999"):
        with pytest.raises(ConfigError, match="RAPPORT_OUTBOX_RETENTION_DAYS"):
            load_settings({"RAPPORT_OUTBOX_RETENTION_DAYS": wrong}, dotenv_path=None)


def test_housekeeping_is_a_daily_job():
    spec = JOBS["housekeeping"]
    assert spec.trigger().interval == dt.timedelta(days=1)


def test_rapport_jobs_run_housekeeping(env, workdir, database):
    seed(database)
    result = rapport("jobs", "run", "housekeeping", "--now", NOW.isoformat(), env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "housekeeping: as of 2026-12-01T03:00:00+00:00: pruned 1 remembered request id(s)" in result.stdout
    assert state(database)[0] == {"fresh-request"}


# -- a retried message that fails again is told again -------------------------------------------------------

def test_a_retried_message_failing_again_tells_the_managers_again(database, slack):
    slack.fail(POST, error="channel_not_found")
    message = queue(database, "m", "C0GONE")
    worker = make_worker(database, slack)
    worker.deliver()
    assert row(database, message).status == OutboxStatus.FAILED
    assert len(notices(slack)) == 1

    for generation in (2, 3):
        with database.transaction() as session:
            retry(session, message)
        slack.fail(POST, error="channel_not_found")
        worker.deliver()
        worker.deliver()  # and again: one failure is told once
        assert row(database, message).status == OutboxStatus.FAILED
        assert len(notices(slack)) == generation
        assert f"rapport outbox retry {message}" in json.dumps(notices(slack)[-1])

    with database.transaction() as session:
        keys = set(session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.id != message)))
    assert keys == {f"outbox-failed:{message}", f"outbox-failed:{message}:retry-1", f"outbox-failed:{message}:retry-2"}
