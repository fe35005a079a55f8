"""Simultaneous `client add`: the database's unique indexes (migration 0004) decide, and whoever loses reads
the same answer as the code's own check gives ("key already used", "already a client named"), never an
HTTP 500. Through the real endpoint from many threads at once, and through `add_client` with a rival row
committed between its check and its INSERT."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError

from bot.db.models import Client
from bot.errors import UserError
from bot.services import Actor
from bot.services.clients import add_client
from tests.commands_support import audit_events, clients, shown, table_counts
from tests.slackhttp import Response

RACERS = 50
ANA = Actor(team_id="T0ACME", user_id="U0ANA", surface="cli")


@pytest.fixture
def racing_bot(bot):
    """The endpoint, which takes RACERS connections at once (its listen backlog is 128, as gunicorn's is larger)."""
    return bot


def simultaneously(bot, texts: list[str]) -> list[Response]:
    """Each text as `/cmo <text>` from a user of its own, all released at the same moment."""
    start = threading.Barrier(len(texts))
    responses: list[Response | Exception | None] = [None] * len(texts)

    def send(n: int) -> None:
        start.wait()
        try:
            responses[n] = bot.command(texts[n], user=f"U0R{n:03d}")
        except Exception as error:  # a dropped or timed-out request is a failure too, reported below
            responses[n] = error

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    failed = [(n, r if not isinstance(r, Response) else f"HTTP {r.status}: {r.body[:300]}")
              for n, r in enumerate(responses) if not isinstance(r, Response) or r.status != 200]
    assert not failed, f"{len(failed)} of {len(texts)} requests failed: {failed[:5]}"
    return responses  # type: ignore[return-value]


def the_one_added(texts: list[str]) -> int:
    added = [n for n, text in enumerate(texts) if "Added *" in text]
    assert len(added) == 1, f"{len(added)} added: {[texts[n] for n in added][:3]}"
    return added[0]


def test_simultaneous_adds_with_one_key_add_one_client_and_tell_the_rest_the_key_is_used(racing_bot, database):
    texts = [shown(response) for response in
             simultaneously(racing_bot, [f'client add "Acme {n}" key:acme' for n in range(RACERS)])]

    winner = the_one_added(texts)
    [client] = clients(database)
    assert (client.key, client.name, client.created_by) == ("acme", f"Acme {winner}", f"U0R{winner:03d}")
    for n, text in enumerate(texts):
        if n != winner:
            assert f"The key `acme` is already used by Acme {winner}. Choose another with `key:`." in text, text
    assert table_counts(database) == {"clients": 1, "interactions": 0, "audit_events": 1}
    [added] = audit_events(database)
    assert (added.action, added.entity_id, added.actor_user_id) == ("client.add", client.id, f"U0R{winner:03d}")


def test_simultaneous_adds_with_one_name_add_one_active_client_of_that_name(racing_bot, database):
    # The same name in two spellings: the database compares lower(name), as the check does.
    names = ["Acme Biologics" if n % 2 else "ACME BIOLOGICS" for n in range(RACERS)]
    texts = [shown(response) for response in
             simultaneously(racing_bot, [f'client add "{names[n]}" key:acme-{n}' for n in range(RACERS)])]

    winner = the_one_added(texts)
    [client] = clients(database)
    assert (client.key, client.name, client.archived_at) == (f"acme-{winner}", names[winner], None)
    for n, text in enumerate(texts):
        if n != winner:
            assert f"There is already a client named {names[winner]} (key `acme-{winner}`)." in text, text
    assert table_counts(database) == {"clients": 1, "interactions": 0, "audit_events": 1}


# --- the IntegrityError path itself: a rival row committed between the check and the INSERT ----------------

def commit_a_rival_at_flush(database, session, **rival) -> list[bool]:
    """When `session` flushes its new client (its checks done), another connection commits `rival` first."""
    fired: list[bool] = []

    @event.listens_for(session, "before_flush")
    def insert_the_rival(session, _context, _instances) -> None:
        if fired or not any(isinstance(new, Client) for new in session.new):
            return
        fired.append(True)
        with database.engine.begin() as other:
            other.execute(insert(Client).values(team_id="T0ACME", created_by="U0RIVAL", cadence_days=14, **rival))

    return fired


@pytest.mark.parametrize("archived", [False, True], ids=["active", "archived"])
def test_a_key_taken_after_the_check_is_refused_as_used(database, archived):
    archived_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if archived else None
    with pytest.raises(UserError) as refused, database.transaction() as session:
        fired = commit_a_rival_at_flush(database, session, key="acme", name="Acme Rival", archived_at=archived_at)
        add_client(session, ANA, "Acme Biologics", key="ACME")
    assert fired, "the rival was never inserted: the test missed the window"
    assert refused.value.message == ("The key `acme` is already used by Acme Rival" + (" (archived)" if archived
                                     else "") + ". Choose another with `key:`.")
    assert refused.value.field == "key"
    assert [(c.key, c.name) for c in clients(database)] == [("acme", "Acme Rival")]
    assert audit_events(database) == []


def test_a_name_taken_after_the_check_is_refused_as_taken(database):
    with pytest.raises(UserError) as refused, database.transaction() as session:
        fired = commit_a_rival_at_flush(database, session, key="acme-rival", name="ACME biologics")
        add_client(session, ANA, "Acme Biologics", key="acme")
    assert fired, "the rival was never inserted: the test missed the window"
    assert refused.value.message == "There is already a client named ACME biologics (key `acme-rival`)."
    assert refused.value.field == "name"
    assert [(c.key, c.name) for c in clients(database)] == [("acme-rival", "ACME biologics")]
    assert audit_events(database) == []


def test_a_refused_insert_undoes_only_itself(database):
    """Only the SAVEPOINT rolls back: the same transaction goes on, and what it writes after is kept."""
    with database.transaction() as session:
        commit_a_rival_at_flush(database, session, key="acme", name="Acme Rival")
        with pytest.raises(UserError, match="already used by Acme Rival"):
            add_client(session, ANA, "Acme Biologics", key="acme")
        add_client(session, ANA, "Acme Biologics", key="acme-bio")
    assert [(c.key, c.name) for c in clients(database)] == [("acme", "Acme Rival"), ("acme-bio", "Acme Biologics")]
    [added] = audit_events(database)
    assert (added.action, added.after["key"]) == ("client.add", "acme-bio")


def test_a_client_add_whose_transaction_rolls_back_leaves_nothing(database):
    """The SAVEPOINT is inside the transaction: on SQLite, releasing it must not commit the row early."""
    with pytest.raises(RuntimeError), database.transaction() as session:
        session.execute(select(func.count()).select_from(Client))  # reads first, as a command does
        add_client(session, ANA, "Acme Biologics", key="acme")
        raise RuntimeError("something after the add failed")
    assert table_counts(database) == {"clients": 0, "interactions": 0, "audit_events": 0}


def test_another_integrity_error_is_not_taken_for_a_duplicate(database):
    """Only the two unique indexes mean "taken"; any other refusal by the database stays an error."""
    nobody = Actor(team_id="T0ACME", user_id=None, surface="cli")  # type: ignore[arg-type]  # created_by NOT NULL
    with pytest.raises(IntegrityError), database.transaction() as session:
        add_client(session, nobody, "Acme Biologics", key="acme")
    assert table_counts(database)["clients"] == 0


def test_the_check_compares_keys_ignoring_case(database):
    """A key stored in capitals (before keys were lower-cased) is found by the check itself: no INSERT is tried."""
    with database.engine.begin() as connection:
        connection.execute(insert(Client).values(team_id="T0ACME", key="ACME", name="Acme Old", created_by="U0OLD",
                                                 cadence_days=14))
    inserts: list[str] = []

    def record_inserts(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CLIENTS"):
            inserts.append(statement)

    event.listen(database.engine, "before_cursor_execute", record_inserts)
    try:
        with pytest.raises(UserError) as refused, database.transaction() as session:
            add_client(session, ANA, "Acme Biologics", key="acme")
    finally:
        event.remove(database.engine, "before_cursor_execute", record_inserts)
    assert refused.value.message == "The key `acme` is already used by Acme Old. Choose another with `key:`."
    assert inserts == []
