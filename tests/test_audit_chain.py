"""The audit trail, tamper-evident: each workspace's events form a SHA-256 hash chain (migration 0008,
bot/services/audit.py); `rapport audit verify` finds the first altered, inserted or deleted event. Tampering
is done the way an attacker with database access would: around the append-only triggers."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot.cli import main
from bot.db import Database, migrate
from bot.db.models import AuditEvent, Client
from bot.services import Actor
from bot.services.audit import record, verify_chains
from tests import test_migrations
from tests.conftest import env_for_subprocess

database_before_0008 = test_migrations.empty_database  # an empty database made for the test, on each backend

SQLITE_GUARDS = {
    "audit_events_no_update": """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
    "audit_events_no_delete": """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
    "audit_events_no_replace": """CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events
       WHEN EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id)
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
}


def tamper(database: Database, statement: str, **params) -> None:
    """Runs one statement past the append-only triggers (they stay installed afterwards)."""
    with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(statement), params)
        else:
            for name in SQLITE_GUARDS:
                connection.execute(text(f"DROP TRIGGER {name}"))
            connection.execute(text(statement), params)
            for create in SQLITE_GUARDS.values():
                connection.execute(text(create))


def use_the_bot(bot) -> None:
    for command in ("client add Acme key:acme cadence:14d", "client add Globex key:globex"):
        assert bot.command(command).status == 200, command
    assert bot.command("client add Initech key:initech", team="T0OTHER").status == 200
    for command in ("log acme call Discussed the tech transfer", "client set acme cadence:21d",
                    "log globex email Sent the batch record"):
        assert bot.command(command).status == 200, command


def free_id_inside_the_chain(database: Database) -> int:
    """The other workspace's only event sits between two of T0ACME's: the attacker removes it (a tail
    deletion, which no chain can see) to take its id."""
    other = event_ids(database, "T0OTHER")
    assert len(other) == 1
    tamper(database, "DELETE FROM audit_events WHERE id = :id", id=other[0])
    return other[0]


def problems(database: Database) -> list[str]:
    with database.session() as session:
        return [report.problem for report in verify_chains(session) if report.problem]


def event_ids(database: Database, team: str = "T0ACME") -> list[int]:
    with database.session() as session:
        return list(session.scalars(select(AuditEvent.id).where(AuditEvent.team_id == team).order_by(AuditEvent.id)))


def verify(database_url: str, monkeypatch, tmp_path: Path, capsys) -> tuple[int, str, str]:
    monkeypatch.chdir(tmp_path)  # no .env from elsewhere
    monkeypatch.setenv("DATABASE_URL", database_url)
    code = main(["audit", "verify"])
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_is_ok_after_normal_use(bot, database, database_url, monkeypatch, tmp_path, capsys):
    use_the_bot(bot)
    assert len(event_ids(database)) >= 4
    with database.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        first_of_team: dict[str, AuditEvent] = {}
        for event in events:
            assert event.hash and len(event.hash) == 64
            first_of_team.setdefault(event.team_id, event)
        assert all(event.prev_hash is None for event in first_of_team.values())
        assert len(first_of_team) == 2  # one chain per workspace
    assert problems(database) == []
    code, out, err = verify(database_url, monkeypatch, tmp_path, capsys)
    assert code == 0, err
    assert out.strip().startswith("Audit trail OK")
    assert len(out.strip().splitlines()) == 1


def test_verify_on_an_empty_trail_is_ok(database, database_url, monkeypatch, tmp_path, capsys):
    code, out, _ = verify(database_url, monkeypatch, tmp_path, capsys)
    assert code == 0
    assert "0 events" in out


def test_an_altered_row_is_found(bot, database, database_url, monkeypatch, tmp_path, capsys):
    use_the_bot(bot)
    target = event_ids(database)[2]
    tamper(database, "UPDATE audit_events SET actor_user_id = 'U0EVIL' WHERE id = :id", id=target)
    assert problems(database) == [f"event #{target} was altered (its content no longer matches its hash)"]
    code, _, err = verify(database_url, monkeypatch, tmp_path, capsys)
    assert code == 1
    assert f"event #{target} was altered" in err and "T0ACME" in err


def test_an_altered_time_is_found(bot, database):
    use_the_bot(bot)
    target = event_ids(database)[0]
    tamper(database, "UPDATE audit_events SET occurred_at = :when WHERE id = :id", id=target,
           when="2020-01-01 00:00:00")
    assert problems(database) == [f"event #{target} was altered (its content no longer matches its hash)"]


def test_a_deleted_row_is_found(bot, database, database_url, monkeypatch, tmp_path, capsys):
    use_the_bot(bot)
    ids = event_ids(database)
    tamper(database, "DELETE FROM audit_events WHERE id = :id", id=ids[1])
    assert problems(database) == [f"events were deleted between #{ids[0]} and #{ids[2]} "
                                  f"(or #{ids[0]} was rewritten with a new hash)"]
    code, _, err = verify(database_url, monkeypatch, tmp_path, capsys)
    assert code == 1
    assert "deleted" in err


def test_a_deleted_first_row_is_found(bot, database):
    use_the_bot(bot)
    ids = event_ids(database)
    tamper(database, "DELETE FROM audit_events WHERE id = :id", id=ids[0])
    assert problems(database) == [f"events were deleted between the start and #{ids[1]} "
                                  f"(or the start was rewritten with a new hash)"]


def copy_of(database: Database, event_id: int, new_id: int, **changes) -> dict:
    table = AuditEvent.__table__
    with database.engine.connect() as connection:
        row = dict(connection.execute(select(table).where(table.c.id == event_id)).mappings().one())
    row.update(id=new_id, **changes)
    return row


def insert(database: Database, row: dict) -> None:
    """A plain INSERT: the append-only triggers let it through."""
    with database.engine.begin() as connection:
        connection.execute(AuditEvent.__table__.insert().values(**row))


def test_an_inserted_row_is_found(bot, database, database_url, monkeypatch, tmp_path, capsys):
    use_the_bot(bot)
    ids = event_ids(database)
    # Plain INSERTs pass the triggers: a forged event slipped into a gap of ids between two real ones.
    forged_id = ids[-1] + 1000
    insert(database, copy_of(database, ids[-1], forged_id, actor_user_id="U0EVIL"))  # copies its hashes
    assert problems(database) == [f"event #{forged_id} was inserted (it is not part of the chain)"]
    code, _, err = verify(database_url, monkeypatch, tmp_path, capsys)
    assert code == 1
    assert "inserted" in err


def test_an_inserted_row_in_the_middle_is_found(bot, database):
    use_the_bot(bot)
    ids = event_ids(database)
    free = free_id_inside_the_chain(database)
    assert ids[0] < free < ids[-1]
    insert(database, copy_of(database, ids[0], free, after={"forged": True}))
    assert problems(database) == [f"event #{free} was inserted (it is not part of the chain)"]


def test_an_inserted_row_with_a_correct_hash_is_found(bot, database):
    """A forger who knows the hash format chains its row to the one before: the next real event then
    points past it."""
    use_the_bot(bot)
    ids = event_ids(database)
    free = free_id_inside_the_chain(database)
    from bot.services.audit import hash_of

    with database.session() as session:
        previous = session.scalars(select(AuditEvent).where(AuditEvent.team_id == "T0ACME", AuditEvent.id < free)
                                   .order_by(AuditEvent.id.desc()).limit(1)).one()
        forged = AuditEvent(team_id="T0ACME", actor_user_id="U0EVIL", action="client.update", entity_type="clients",
                            entity_id=1, client_id=None, before=None, after={"forged": True},
                            occurred_at=previous.occurred_at, surface="slash", prev_hash=previous.hash)
        forged.hash = hash_of(forged, previous.hash)
        row = {"id": free, "team_id": forged.team_id, "actor_user_id": forged.actor_user_id,
               "action": forged.action, "entity_type": forged.entity_type, "entity_id": 1, "client_id": None,
               "before": None, "after": {"forged": True}, "occurred_at": previous.occurred_at,
               "surface": "slash", "prev_hash": previous.hash, "hash": forged.hash}
    insert(database, row)
    assert problems(database) == [f"event #{free} was inserted (event #{ids[ids.index(previous.id) + 1]} points "
                                  f"past it)"]


def test_the_cli_exit_codes_as_a_process(bot, database, database_url, tmp_path):
    use_the_bot(bot)
    env = env_for_subprocess(database_url)
    script = Path(sys.executable).with_name("rapport")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    ok = subprocess.run([*command, "audit", "verify"], capture_output=True, text=True, env=env, cwd=tmp_path,
                        timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("Audit trail OK")
    tamper(database, "UPDATE audit_events SET surface = 'console' WHERE id = :id", id=event_ids(database)[0])
    broken = subprocess.run([*command, "audit", "verify"], capture_output=True, text=True, env=env, cwd=tmp_path,
                            timeout=60)
    assert broken.returncode == 1
    assert "was altered" in broken.stderr


def test_two_writers_at_once_never_fork_the_chain(database):
    """Two transactions write events of one workspace at the same time: the second waits for the first,
    so both chain in order."""
    with database.transaction() as session:
        client = Client(team_id="T0ACME", key="acme", name="Acme", cadence_days=14, created_by="U0ANA")
        session.add(client)
        session.flush()
        record(session, Actor("T0ACME", "U0ANA", "slash"), "client.create", client, client_id=client.id,
               before=None, after={"name": "Acme"})
        client_id = client.id

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(5):
                with database.transaction() as session:
                    client = session.get(Client, client_id)
                    record(session, Actor("T0ACME", f"U0W{n}", "slash"), "client.update", client,
                           client_id=client_id, before={"i": i}, after={"i": i + 1, "writer": n})
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(event_ids(database)) == 21
    assert problems(database) == []
    with database.session() as session:
        prevs = session.scalars(select(AuditEvent.prev_hash).where(AuditEvent.team_id == "T0ACME")).all()
    assert len(set(prevs)) == len(prevs)  # nobody points at the same predecessor: no fork


def test_a_writer_waits_for_the_open_transaction_of_another(database):
    """The lock is held until the first transaction ends: a second writer can't read a stale head."""
    first = contextlib.ExitStack()
    session = first.enter_context(database.transaction())
    client = Client(team_id="T0ACME", key="acme", name="Acme", cadence_days=14, created_by="U0ANA")
    session.add(client)
    session.flush()
    record(session, Actor("T0ACME", "U0ANA", "slash"), "client.create", client, client_id=client.id,
           before=None, after={"name": "Acme"})
    done = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with database.transaction() as other:
                other_client = Client(team_id="T0ACME", key="globex", name="Globex", cadence_days=14,
                                      created_by="U0BOB")
                other.add(other_client)
                other.flush()
                record(other, Actor("T0ACME", "U0BOB", "slash"), "client.create", other_client,
                       client_id=other_client.id, before=None, after={"name": "Globex"})
            done.set()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
            done.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not done.wait(0.5)  # waiting for the first transaction
    first.close()  # commit
    thread.join(timeout=30)
    assert errors == []
    assert problems(database) == []
    assert len(event_ids(database)) == 2


def test_the_migration_chains_the_events_written_before_it(database_before_0008):
    """Events written at 0007 (no hashes) are chained by 0008 in id order per workspace, and the
    append-only guards are back afterwards."""
    engine = database_before_0008.engine
    migrate.upgrade(engine, "0007")
    with engine.begin() as connection:  # as the code before 0008 wrote them (no hash columns yet)
        for n, team in enumerate(["T0ACME", "T0OTHER", "T0ACME", "T0ACME", "T0OTHER"]):
            connection.execute(AuditEvent.__table__.insert().values(
                team_id=team, actor_user_id="U0ANA", action="client.update", entity_type="clients", entity_id=1,
                client_id=None, before=None, after={"n": n, "name": "Ünïcode"}, surface="slash",
                occurred_at=dt.datetime(2026, 11, 30, 9, n, 0, 123456, tzinfo=dt.UTC)))
    migrate.upgrade(engine)
    with database_before_0008.session() as session:
        reports = verify_chains(session)
        assert [(r.team_id, r.events, r.problem) for r in reports] == [("T0ACME", 3, None), ("T0OTHER", 2, None)]
    # and the chain goes on from there
    with database_before_0008.transaction() as session:
        client = Client(team_id="T0ACME", key="acme", name="Acme", cadence_days=14, created_by="U0ANA")
        session.add(client)
        record(session, Actor("T0ACME", "U0ANA", "slash"), "client.create", client, client_id=None,
               before=None, after={"name": "Acme"})
    with database_before_0008.session() as session:
        assert [r.problem for r in verify_chains(session)] == [None, None]
    with pytest.raises(DBAPIError), engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor_user_id = 'U0EVIL'"))
    with pytest.raises(DBAPIError), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events"))
