"""`rapport import`: clients, contacts and interactions from CSV files (our columns, Salesforce's, HubSpot's), run
in process against the real test database (SQLite, or PostgreSQL with RAPPORT_TEST_DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db.models import AuditEvent, Client, Contact, ImportRun, Interaction
from tests.commands_support import assert_no_raw_markup, shown
from tests.conftest import rapport_in_process

TEAM = "T0ACME"


@pytest.fixture
def run(monkeypatch, workdir, database_url, slack, capsys):
    """`rapport import ...` in process: (exit code, what it printed on stdout and stderr)."""

    def run_import(*args: str, token: bool = True) -> tuple[int, str]:
        env = {"DATABASE_URL": database_url, "SLACK_API_URL": slack.api_url}
        if token:
            env["SLACK_BOT_TOKEN"] = "xoxb-test"
        code, output = rapport_in_process(monkeypatch, workdir, env, "import", *args)
        return code, output + capsys.readouterr().err

    return run_import


def csv_file(tmp_path: Path, name: str, text: str, *, bom: bool = False) -> str:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return str(path)


def counts(database) -> dict[str, int]:
    with database.transaction() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Client, Contact, Interaction, ImportRun, AuditEvent)}


def clients(database) -> dict[str, Client]:
    with database.transaction() as session:
        return {c.key: c for c in session.scalars(select(Client).where(Client.team_id == TEAM))}


def interactions(database) -> list[Interaction]:
    with database.transaction() as session:
        return list(session.scalars(select(Interaction).order_by(Interaction.id)))


SALESFORCE_CLIENTS = (
    "Account ID;Account Name;Account Owner;Owner Email;Billing Country;Time Zone\n"
    "001A;Acme Biologics GmbH;Ana Smith;ana@example.com;Germany;Europe/Berlin\n"
    '001B;"Beta Pharma, Inc.";Bob Jones;BOB@example.com;US;america/new_york\n'
    "001C;Gamma Labs;Nobody;ghost@example.com;CH;\n"
)


def seed_clients(run, tmp_path) -> None:
    code, output = run("clients", csv_file(tmp_path, "accounts.csv", SALESFORCE_CLIENTS, bom=True),
                       "--team", TEAM, "--as", "U0ANA")
    assert code == 0, output


def test_salesforce_clients_with_aliases_emails_resolved_and_imported_once(run, tmp_path, database, slack):
    slack.emails = {"ana@example.com": "U0ANA", "bob@example.com": "U0BOB"}
    path = csv_file(tmp_path, "accounts.csv", SALESFORCE_CLIENTS, bom=True)

    code, output = run("clients", path, "--team", TEAM, "--as", "U0ANA")

    assert code == 0, output
    assert f"Imported 3 clients into {TEAM}: 3 added, 0 already there, 0 bad rows" in output
    assert "owner left empty for 1 row: emails not found in Slack: ghost@example.com" in output
    found = clients(database)
    assert set(found) == {"acme-biologics-gmbh", "beta-pharma-inc", "gamma-labs"}
    acme, beta, gamma = found["acme-biologics-gmbh"], found["beta-pharma-inc"], found["gamma-labs"]
    assert (acme.name, acme.owner_user_id, acme.country, acme.timezone) == (
        "Acme Biologics GmbH", "U0ANA", "DE", "Europe/Berlin")
    assert (beta.name, beta.owner_user_id, beta.country, beta.timezone) == (
        "Beta Pharma, Inc.", "U0BOB", "US", "America/New_York")
    assert gamma.owner_user_id is None and gamma.cadence_days == 14
    # One lookup per distinct email, in lower case.
    assert sorted(call.args["email"] for call in slack.calls_to("users.lookupByEmail")) == [
        "ana@example.com", "bob@example.com", "ghost@example.com"]

    before = counts(database)
    code, output = run("clients", path, "--team", TEAM, "--as", "U0ANA")
    assert code == 0, output
    assert f"Imported 0 clients into {TEAM}: 0 added, 3 already there, 0 bad rows" in output
    after = counts(database)
    assert after["clients"] == before["clients"] == 3
    assert after["imports"] == 2  # each run is on record, even one that added nothing


def test_dry_run_names_the_columns_and_writes_nothing(run, tmp_path, database):
    before = counts(database)
    code, output = run("clients", csv_file(tmp_path, "accounts.csv", SALESFORCE_CLIENTS), "--team", TEAM,
                       "--dry-run")
    assert code == 0, output
    assert ("columns: Account Name → name, Owner Email → owner, Billing Country → country, Time Zone → timezone; "
            "ignored: Account ID, Account Owner") in output
    assert "Dry run, nothing written: accounts.csv would add 3 clients" in output
    assert counts(database) == before


BAD_INTERACTIONS = (
    "client,kind,summary,occurred_on,contact\n"  # line 1
    "acme-biologics-gmbh,call,Agreed the fill slots,2025-03-04,Jane Roe\n"  # 2: good
    'acme-biologics-gmbh,email,"A summary over\ntwo lines",2025-03-05,\n'  # 3-4: good
    "nobody-inc,call,Hello,2025-03-04,\n"  # 5: unknown client
    "acme-biologics-gmbh,phone,Hello,2025-03-04,\n"  # 6: not a kind
    "acme-biologics-gmbh,call,,2025-03-04,\n"  # 7: no summary
    "acme-biologics-gmbh,call,Hello,03/04/2025,\n"  # 8: ambiguous date
    "acme-biologics-gmbh,call,Hello,2999-01-01,\n"  # 9: in the future
    "acme-biologics-gmbh,call,Hello,2025-02-30,\n"  # 10: no such day
    "acme-biologics-gmbh,call,Agreed the fill slots,2025-03-04,jane  roe\n"  # 11: the same as line 2
)


def test_bad_rows_are_listed_by_line_and_nothing_is_written(run, tmp_path, database):
    seed_clients(run, tmp_path)
    before = counts(database)
    path = csv_file(tmp_path, "activities.csv", BAD_INTERACTIONS)

    code, output = run("interactions", path, "--as", "U0ANA")

    assert code == 1, output
    assert "line 5: no client `nobody-inc` in T0ACME" in output
    assert "line 6: kind `phone` is not one of call, meeting, email, visit, note" in output
    assert "line 7: summary is empty" in output
    assert "line 8: occurred_on `03/04/2025` is ambiguous" in output and "--date-format us" in output
    assert "line 9: occurred_on 2999-01-01 is in the future" in output
    assert "line 10: occurred_on `2025-02-30` is not a date" in output
    assert "line 2:" not in output and "line 3:" not in output
    assert "Nothing imported from activities.csv: 6 bad rows" in output
    assert counts(database) == before

    code, output = run("interactions", path, "--as", "U0ANA", "--skip-bad")
    assert code == 0, output
    assert "line 5: no client" in output  # still listed
    assert "1 row repeating an earlier row of the file, skipped: line 11 (the same as an earlier row)" in output
    assert f"Imported 2 interactions into {TEAM}: 2 added, 0 already there, 6 bad rows skipped" in output
    rows = interactions(database)
    assert [(r.kind, r.summary, r.occurred_on, r.contact_name, r.logged_by, r.surface) for r in rows] == [
        ("call", "Agreed the fill slots", dt.date(2025, 3, 4), "Jane Roe", "U0ANA", "cli"),
        ("email", "A summary over\ntwo lines", dt.date(2025, 3, 5), None, "U0ANA", "cli")]
    assert all(len(r.import_key) == 64 for r in rows)

    # The same file again (as after an interruption): nothing twice.
    code, output = run("interactions", path, "--as", "U0ANA", "--skip-bad")
    assert "2 already there" in output
    assert len(interactions(database)) == 2


def test_too_many_bad_rows_are_summed_up(run, tmp_path, database):
    seed_clients(run, tmp_path)
    body = "".join(f"nobody,call,Hello {n},2025-03-04\n" for n in range(60))
    code, output = run("interactions", csv_file(tmp_path, "x.csv", "client,kind,summary,occurred_on\n" + body),
                       "--as", "U0ANA")
    assert code == 1
    assert "line 51: no client" in output and "line 52:" not in output
    assert "…and 10 more" in output
    assert "60 bad rows" in output


HUBSPOT_CONTACTS = (
    "Record ID,First Name,Last Name,Job Title,Associated Company,Contact owner\n"
    "101,Jane,Roe,qa,Acme Biologics GmbH,bob@example.com\n"
    "102,Max,Muster,Head of Supply Chain,acme-biologics-gmbh,\n"
    "103,Jane,ROE,QA,Acme Biologics GmbH,\n"
)
HUBSPOT_ACTIVITIES = (
    "Record ID\tActivity type\tBody\tActivity date\tAssociated Company\tAssociated Contact\tActivity assigned to\n"
    "9001\tCALL\tWalked through the deviation\t2025-03-04 10:15\tAcme Biologics GmbH\tjane roe\tbob@example.com\n"
    "9002\tINCOMING_EMAIL\tCoA questions\t2025-03-05T08:00:00Z\tAcme Biologics GmbH\t\tU0CAT\n"
    "9003\tTASK\tSend the stability data\t2025-03-06\tBeta Pharma, Inc.\tSomeone Else\tnobody@example.com\n"
)


def test_hubspot_contacts_and_activities(run, tmp_path, database, slack):
    slack.emails = {"bob@example.com": "U0BOB"}
    seed_clients(run, tmp_path)

    code, output = run("contacts", csv_file(tmp_path, "contacts.csv", HUBSPOT_CONTACTS), "--as", "U0ANA")
    assert code == 0, output
    assert "1 row repeating an earlier row of the file, skipped: line 4 (the same as line 2)" in output
    assert f"Imported 2 contacts into {TEAM}: 2 added, 0 already there" in output
    with database.transaction() as session:
        people = {c.name: (c.role, c.peer_user_id, c.surface) for c in session.scalars(select(Contact))}
    assert people == {"Jane Roe": ("QA", "U0BOB", "cli"), "Max Muster": ("Head of Supply Chain", None, "cli")}

    code, output = run("interactions", csv_file(tmp_path, "activities.tsv", HUBSPOT_ACTIVITIES), "--as", "U0ANA")
    assert code == 0, output
    assert "logged_by set to U0ANA (who imports) for 1 row: emails not found in Slack: nobody@example.com" in output
    rows = interactions(database)
    assert [(r.kind, r.summary, r.occurred_on, r.contact_name, r.logged_by, r.import_key) for r in rows] == [
        ("call", "Walked through the deviation", dt.date(2025, 3, 4), "Jane Roe", "U0BOB", "crm:9001"),
        ("email", "CoA questions", dt.date(2025, 3, 5), None, "U0CAT", "crm:9002"),
        ("note", "Send the stability data", dt.date(2025, 3, 6), "Someone Else", "U0ANA", "crm:9003")]
    assert rows[0].contact_id is not None and rows[2].contact_id is None

    code, output = run("contacts", csv_file(tmp_path, "contacts.csv", HUBSPOT_CONTACTS), "--as", "U0ANA")
    assert f"Imported 0 contacts into {TEAM}: 0 added, 2 already there" in output
    # A dry run of interactions already imported finds them there.
    code, output = run("interactions", csv_file(tmp_path, "activities.tsv", HUBSPOT_ACTIVITIES), "--dry-run",
                       "--as", "U0ANA")
    assert code == 0, output
    assert "would add 0 interactions to T0ACME: 0 added, 3 already there" in output


def test_salesforce_activities_join_subject_and_comments_and_take_us_dates_when_told(run, tmp_path, database):
    seed_clients(run, tmp_path)
    text = ("Activity ID,Account Name,Subject,Comments,Date,Task Subtype,Name,Assigned To\n"
            "00T1,Gamma Labs,Call with QA,Release on track,3/4/2025,Call,Dr. Who,U0ANA\n")
    path = csv_file(tmp_path, "tasks.csv", text)
    code, output = run("interactions", path, "--as", "U0BOB")
    assert code == 1 and "ambiguous" in output
    code, output = run("interactions", path, "--date-format", "us", "--as", "U0BOB")
    assert code == 0, output
    [row] = interactions(database)
    assert (row.summary, row.occurred_on, row.kind, row.logged_by, row.import_key) == (
        "Call with QA — Release on track", dt.date(2025, 3, 4), "call", "U0ANA", "crm:00T1")


def test_without_a_slack_token_emails_are_left_empty_and_said_so(run, tmp_path, database):
    code, output = run("clients", csv_file(tmp_path, "accounts.csv", SALESFORCE_CLIENTS), "--team", TEAM,
                       token=False)
    assert code == 0, output
    assert ("owner left empty for 3 rows: emails not found in Slack (no SLACK_BOT_TOKEN to ask Slack with): "
            "ana@example.com, bob@example.com, ghost@example.com") in output
    assert all(client.owner_user_id is None for client in clients(database).values())


def test_one_audit_event_per_import_and_the_chain_verifies(run, tmp_path, database, monkeypatch, workdir,
                                                           database_url):
    monkeypatch.setattr("bot.importing.write.BATCH", 50)  # several batches, each committed on its own
    seed_clients(run, tmp_path)
    body = "".join(f"acme-biologics-gmbh,email,Update {n},2025-03-04\n" for n in range(120))
    code, output = run("interactions", csv_file(tmp_path, "x.csv", "client,kind,summary,occurred_on\n" + body),
                       "--as", "U0ANA")
    assert code == 0, output
    assert "120 added, 0 already there" in output
    with database.transaction() as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        runs = list(session.scalars(select(ImportRun).order_by(ImportRun.id)))
    assert [e.action for e in events] == ["import.run", "import.run"]
    assert events[1].actor_user_id == "U0ANA" and events[1].surface == "cli" and events[1].client_id is None
    assert events[1].after["kind"] == "interactions" and events[1].after["file"] == "x.csv"
    assert events[1].after["added"] == 120
    assert (runs[1].kind, runs[1].file_name, runs[1].added, runs[1].skipped, runs[1].bad, runs[1].by) == (
        "interactions", "x.csv", 120, 0, 0, "U0ANA")
    assert len(runs[1].file_sha256) == 64
    code, output = rapport_in_process(monkeypatch, workdir, {"DATABASE_URL": database_url}, "audit", "verify")
    assert code == 0, output
    assert "Audit trail OK: 2 events" in output

    # A longer version of the file (as when an interrupted import is run again): only the missing rows.
    longer = body + "acme-biologics-gmbh,email,Update 120,2025-03-04\n"
    code, output = run("interactions", csv_file(tmp_path, "x.csv", "client,kind,summary,occurred_on\n" + longer),
                       "--as", "U0ANA")
    assert "1 added, 120 already there" in output
    assert counts(database)["interactions"] == 121


def test_an_empty_database_needs_a_team(run, tmp_path, database):
    code, output = run("clients", csv_file(tmp_path, "accounts.csv", SALESFORCE_CLIENTS))
    assert code == 2
    assert "--team" in output and "T0CONSOLE" in output
    assert counts(database)["clients"] == 0


def test_a_file_without_a_required_column_is_refused(run, tmp_path, database):
    code, output = run("clients", csv_file(tmp_path, "x.csv", "Owner Email,Country\na@b.c,DE\n"), "--team", TEAM)
    assert code == 2
    assert "no `name` column" in output and "`account name`" in output
    code, output = run("clients", str(tmp_path / "missing.csv"), "--team", TEAM)
    assert code == 2 and "can't read" in output
    assert counts(database)["clients"] == 0


def test_a_client_already_there_by_name_is_skipped_not_changed(run, tmp_path, database):
    seed_clients(run, tmp_path)
    text = "name,key,cadence_days,channel\nacme biologics gmbh,acme,7,C0NEW\nDelta,,3w,<#C0DELTA|delta>\n"
    code, output = run("clients", csv_file(tmp_path, "x.csv", text))
    assert code == 0, output
    assert "1 added, 1 already there" in output
    found = clients(database)
    assert found["acme-biologics-gmbh"].cadence_days == 14 and "acme" not in found
    assert (found["delta"].cadence_days, found["delta"].internal_channel_id) == (21, "C0DELTA")


def test_hostile_text_is_stored_as_is_and_escaped_in_status(run, tmp_path, database, bot):
    seed_clients(run, tmp_path)
    text = ('client,kind,summary,occurred_on,contact\n'
            'acme-biologics-gmbh,meeting,"=cmd|\' /C calc\'!A0 <!channel> & <@U0EVIL>",2025-03-04,"<!here> & co"\n')
    code, output = run("interactions", csv_file(tmp_path, "x.csv", text), "--as", "U0ANA")
    assert code == 0, output
    [row] = interactions(database)
    assert row.summary == "=cmd|' /C calc'!A0 <!channel> & <@U0EVIL>"
    assert row.contact_name == "<!here> & co"

    response = bot.command("status acme-biologics-gmbh")
    assert "=cmd|' /C calc'!A0 <!channel> & <@U0EVIL>" in shown(response)
    # A person's mention stays a mention (as in `/cmo log`); the special ones never reach Slack live.
    assert_no_raw_markup(response, "<!channel>", "<!here>")


def test_interactions_need_to_know_who_imports(run, tmp_path, database):
    seed_clients(run, tmp_path)
    path = csv_file(tmp_path, "x.csv", "client,kind,summary,occurred_on\ngamma-labs,call,Hello,2025-03-04\n")
    code, output = run("interactions", path)
    assert code == 2 and "--as U…" in output
    code, output = run("interactions", path, "--as", "not a user")
    assert code == 2 and "is not a Slack user id" in output
    assert counts(database)["interactions"] == 0


def test_contacts_imported_later_are_linked_to_the_interactions_that_named_them(run, tmp_path, database):
    seed_clients(run, tmp_path)
    text = "client,kind,summary,occurred_on,contact\ngamma-labs,visit,Toured the line,2025-03-04,max  MUSTER\n"
    code, output = run("interactions", csv_file(tmp_path, "x.csv", text), "--as", "U0ANA")
    assert code == 0, output
    [row] = interactions(database)
    assert row.contact_id is None
    code, output = run("contacts", csv_file(tmp_path, "c.csv", "client,name,role\nGamma Labs,Max Muster,QA\n"))
    assert code == 0, output
    with database.transaction() as session:
        contact = session.scalar(select(Contact))
        assert (contact.name, contact.role, contact.created_by) == ("Max Muster", "QA", "import")
        assert session.get(Interaction, row.id).contact_id == contact.id
