"""The lookups every command makes stay index lookups: what the partial indexes say is said the same way in the
queries (a bound value where the index has a constant makes SQLite prepare the statement anew at each
execution), and SQLite's planner picks the index meant for each."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Select, text

from bot.services import contacts, interactions

# The statements that filter on "not a note" (ix_interactions_contact_latest's and the peer coverage's).
CONTACT_KIND_STATEMENTS = {
    "a client's last contact": lambda: interactions._last_contact_query(),
    "contacts with their latest interactions": lambda: contacts._with_last_query(),
}


def compiled(database, statement: Select):
    return statement.compile(dialect=database.engine.dialect)


@pytest.mark.parametrize("name", list(CONTACT_KIND_STATEMENTS))
def test_not_a_note_is_a_constant_in_the_sql_not_a_bound_value(database, name):
    statement = compiled(database, CONTACT_KIND_STATEMENTS[name]())
    assert "!= 'note'" in statement.string
    assert "note" not in {str(value) for value in statement.params.values()}


def _plan(database, statement: Select, params: dict) -> str:
    statement = compiled(database, statement)
    values = statement.construct_params(params)
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement.string,
                                          tuple(values[key] for key in statement.positiontup))
        return "\n".join(row[3] for row in rows)


def test_sqlite_walks_the_indexes_meant_for_the_status_lookups(database):
    if database.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    with database.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    last_contact = _plan(database, interactions._last_contact_query(), {"team_id": "T1", "client_id": 1})
    assert "USING INDEX ix_interactions_contact_latest" in last_contact
    assert "TEMP B-TREE" not in last_contact  # the index's order, no sort
    peers = _plan(database, contacts._with_last_query(), {"team_id": "T1", "client_id": 1})
    assert "USING INDEX ix_contacts_client" in peers
    assert peers.count("USING INDEX ix_interactions_contact_person") == 2
    assert "TEMP B-TREE" not in peers


def test_sqlite_finds_the_next_planned_contact_with_one_index_seek(database):
    if database.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    # Asked as a column of the latest interactions' statement (a status reads both at once).
    plan = _plan(database, interactions._latest_query(),
                 {"team_id": "T1", "client_id": 1, "today": dt.date(2026, 12, 2), "limit": 5})
    assert "SEARCH interactions USING INDEX ix_interactions_client_latest (team_id=? AND client_id=?)" in plan
    assert "ix_interactions_next_planned (team_id=? AND client_id=? AND next_contact_on>?)" in plan
    assert "TEMP B-TREE" not in plan
