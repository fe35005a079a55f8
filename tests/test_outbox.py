"""The outbox table: queued in the caller's transaction, once per dedupe key, never to a shared channel,
and `rapport outbox retry` for what failed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.blocks import Message
from bot.db.models import Client, OutboxMessage, OutboxStatus, utcnow
from bot.errors import UserError
from bot.services import Actor
from bot.services.clients import add_client, update_client
from bot.services.outbox import SharedChannelRefused, enqueue, retry, undelivered

TEAM = "T0ACME"
OTHER_TEAM = "T0OTHER"
ACTOR = Actor(team_id=TEAM, user_id="U0ALICE", surface="cli")


def queue(database, *, key: str, channel: str = "C0INTERNAL", team: str = TEAM, text: str = "hello",
          blocks: list | None = None) -> bool:
    with database.transaction() as session:
        return enqueue(session, team_id=team, dedupe_key=key, channel_id=channel,
                       message=Message(text=text, blocks=blocks or []), source="test")


def rows(database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_queued_message_is_a_pending_row_with_what_was_given(database):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}]
    assert queue(database, key="digest:2024-W01", text="hello there", blocks=blocks) is True

    [row] = rows(database)
    assert (row.team_id, row.dedupe_key, row.channel_id, row.source) == (TEAM, "digest:2024-W01", "C0INTERNAL", "test")
    assert row.text == "hello there"
    assert row.blocks == blocks
    assert row.status == OutboxStatus.PENDING
    assert row.attempts == 0
    assert row.next_attempt_at <= utcnow()
    assert row.sent_at is None and row.slack_ts is None and row.error is None


def test_a_message_without_blocks_stores_none(database):
    queue(database, key="plain")
    [row] = rows(database)
    assert row.blocks is None


def test_the_same_dedupe_key_twice_queues_once(database):
    assert queue(database, key="reminder:42", text="first") is True
    assert queue(database, key="reminder:42", text="second") is False

    [row] = rows(database)
    assert row.text == "first"


def test_the_same_dedupe_key_twice_in_one_transaction_queues_once(database):
    with database.transaction() as session:
        message = Message(text="hi")
        first = enqueue(session, team_id=TEAM, dedupe_key="k", channel_id="C1", message=message, source="test")
        second = enqueue(session, team_id=TEAM, dedupe_key="k", channel_id="C2", message=message, source="test")
    assert (first, second) == (True, False)
    assert [row.channel_id for row in rows(database)] == ["C1"]


def test_the_same_dedupe_key_in_another_workspace_is_another_message(database):
    assert queue(database, key="reminder:42", team=TEAM) is True
    assert queue(database, key="reminder:42", team=OTHER_TEAM) is True

    assert sorted(row.team_id for row in rows(database)) == [TEAM, OTHER_TEAM]


def test_a_rolled_back_transaction_queues_nothing(database):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), database.transaction() as session:
        assert enqueue(session, team_id=TEAM, dedupe_key="k", channel_id="C1", message=Message(text="hi"),
                       source="test") is True
        raise Boom

    assert rows(database) == []
    # And the key is still free.
    assert queue(database, key="k") is True


def test_a_message_is_queued_in_the_same_transaction_as_the_change_that_caused_it(database):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), database.transaction() as session:
        add_client(session, ACTOR, "Acme Biologics")
        enqueue(session, team_id=TEAM, dedupe_key="client-added:acme", channel_id="C1",
                message=Message(text="Acme added"), source="test")
        raise Boom

    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert session.scalar(select(func.count()).select_from(Client)) == 0


def test_a_client_shared_channel_is_refused(database):
    with database.transaction() as session:
        client = add_client(session, ACTOR, "Acme Biologics", internal_channel_id="C0INTERNAL")
        update_client(session, ACTOR, client, {"shared_channel_id": "C0SHARED"})

    with pytest.raises(SharedChannelRefused), database.transaction() as session:
        enqueue(session, team_id=TEAM, dedupe_key="digest", channel_id="C0SHARED", message=Message(text="internal"),
                source="weekly_digest")
    assert rows(database) == []

    # The client's internal channel is fine, and so is the same channel id in another workspace.
    assert queue(database, key="digest", channel="C0INTERNAL") is True
    assert queue(database, key="digest", channel="C0SHARED", team=OTHER_TEAM) is True
    assert [(row.team_id, row.channel_id) for row in rows(database)] == [(TEAM, "C0INTERNAL"),
                                                                           (OTHER_TEAM, "C0SHARED")]


def test_retry_queues_a_failed_message_again(database):
    queue(database, key="k")
    with database.transaction() as session:
        row = session.scalar(select(OutboxMessage))
        row.status, row.attempts = OutboxStatus.FAILED, 3
        row.error, row.claimed_at = "channel_not_found: gone", utcnow()

    with database.transaction() as session:
        retried = retry(session, row.id)
        assert retried.id == row.id

    [again] = rows(database)
    assert again.status == OutboxStatus.PENDING
    assert again.attempts == 0
    assert again.error is None
    assert again.claimed_at is None
    assert again.next_attempt_at <= utcnow()


def test_retry_refuses_an_unknown_id(database):
    with pytest.raises(UserError, match="no outbox message #999"), database.transaction() as session:
        retry(session, 999)


@pytest.mark.parametrize("status", [OutboxStatus.PENDING, OutboxStatus.SENT])
def test_retry_refuses_a_message_that_has_not_failed(database, status):
    queue(database, key="k")
    with database.transaction() as session:
        row = session.scalar(select(OutboxMessage))
        row.status = status
    with pytest.raises(UserError, match="not failed"), database.transaction() as session:
        retry(session, row.id)
    [unchanged] = rows(database)
    assert unchanged.status == status


def test_undelivered_lists_pending_sending_and_failed_but_not_sent(database):
    for key, status in [("a", OutboxStatus.PENDING), ("b", "sending"), ("c", OutboxStatus.SENT),
                        ("d", OutboxStatus.FAILED)]:
        queue(database, key=key)
        with database.transaction() as session:
            row = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
            row.status = status
    with database.transaction() as session:
        assert [row.dedupe_key for row in undelivered(session)] == ["a", "b", "d"]
