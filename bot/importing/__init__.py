"""`rapport import <kind> <file.csv>`: a portfolio brought in from a CRM export (clients, contacts, interactions).

Two passes over the file, streamed: the first checks every row (nothing is written if any row is bad, unless
`skip_bad`), the second writes the new rows in batches. Interactions are committed batch by batch: an
interrupted import is simply run again (each row has its natural key, and what is already there is skipped).
The import is audited as one event on one `imports` row (who, which file, the counts), not one per row.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from bot.db import Database
from bot.db.models import Client, ImportRun, Interaction, utcnow
from bot.importing import write
from bot.importing.columns import KINDS
from bot.importing.people import LookupEmail, People
from bot.importing.rows import (
    DATE_FORMATS,
    Checked,
    Checker,
    ClientRow,
    ContactRow,
    FileProblem,
    InteractionRow,
    Person,
    Workspace,
    count_lines,
    open_rows,
    read_header,
)
from bot.services import Actor, Surface, audit

MAX_LISTED = 50
DEFAULT_ACTOR = "import"  # who imported clients or contacts, when --as did not say
_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,30}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
PEOPLE_COLUMN = {"clients": "owner", "contacts": "peer", "interactions": "logged_by"}

__all__ = ["DATE_FORMATS", "KINDS", "FileProblem", "ImportRefused", "ImportReport", "run_import"]


class ImportRefused(Exception):
    """The import can't start (no such workspace, several to choose from): nothing was read or written."""


@dataclass
class ImportReport:
    kind: str
    file_name: str
    team_id: str
    columns: str = ""
    dry_run: bool = False
    written: bool = False
    rows: int = 0
    added: int = 0
    there: int = 0
    repeats: int = 0
    repeat_lines: list[str] = field(default_factory=list)
    bad: int = 0
    bad_lines: list[str] = field(default_factory=list)
    people_notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    import_id: int | None = None

    skip_bad: bool = False

    @property
    def exit_code(self) -> int:
        """1 when a bad row stopped the import (or would, in a dry run without --skip-bad)."""
        return 1 if self.bad and not self.skip_bad else 0

    def lines(self) -> list[str]:
        """What `rapport import` prints: the bad rows, notes, and the one-line summary last."""
        out: list[str] = []
        if self.dry_run:
            out.append(self.columns)
        if self.bad_lines:
            out.append(f"{self.bad:,} bad row{'s' if self.bad != 1 else ''}:")
            out.extend(f"  {line}" for line in self.bad_lines)
            if self.bad > len(self.bad_lines):
                out.append(f"  …and {self.bad - len(self.bad_lines):,} more")
        if self.repeats:
            listed = "; ".join(self.repeat_lines) + ("; …" if self.repeats > len(self.repeat_lines) else "")
            out.append(f"{self.repeats:,} row{'s' if self.repeats != 1 else ''} repeating an earlier row of the "
                       f"file, skipped: {listed}")
        out.extend(self.people_notes)
        out.append(self.summary())
        return out

    def summary(self) -> str:
        bad = f"{_count(self.bad, 'bad row')}" + (" skipped" if self.bad and self.skip_bad else "")
        counts = f"{self.added:,} added, {self.there:,} already there, {bad}"
        if self.repeats:
            counts += f", {self.repeats:,} repeated in the file"
        took = f"({self.seconds:.1f} s)"
        if self.dry_run:
            verdict = "" if not self.bad or self.skip_bad else "; fix the bad rows, or import the good ones with " \
                "--skip-bad"
            return (f"Dry run, nothing written: {self.file_name} would add {_count(self.added, self.kind[:-1])} to "
                    f"{self.team_id}: {counts}{verdict} {took}.")
        if not self.written:
            return (f"Nothing imported from {self.file_name}: {bad}. Fix them and run it again, or import the good "
                    f"rows with --skip-bad {took}.")
        return f"Imported {_count(self.added, self.kind[:-1])} into {self.team_id}: {counts} {took}."


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def choose_team(database: Database, team_id: str | None) -> str:
    if team_id:
        return team_id
    with database.session() as session:
        teams = sorted(session.scalars(select(Client.team_id).distinct()))
    if len(teams) == 1:
        return teams[0]
    if not teams:
        raise ImportRefused("the database has no clients yet, so no workspace to import into: say which with "
                            "--team T… (your Slack workspace's id; the console's is T0CONSOLE)")
    raise ImportRefused(f"the database has clients in {len(teams)} workspaces ({', '.join(teams)}): say which "
                        "with --team")


def run_import(database: Database, kind: str, path: Path, *, team_id: str | None = None,
               actor_user_id: str | None = None,
               dry_run: bool = False, skip_bad: bool = False, date_format: str = "iso",
               lookup: LookupEmail | None = None, progress: bool = False) -> ImportReport:
    """Checks the whole file, then (unless `dry_run`, or a bad row without `skip_bad`) writes the new rows.
    Raises FileProblem when the file can't be read as an import of `kind`, ImportRefused when no workspace."""
    started = time.monotonic()
    if kind not in KINDS:
        raise ImportRefused(f"can't import {kind!r}: the kinds are {', '.join(KINDS)}")
    if date_format not in DATE_FORMATS:
        raise ImportRefused(f"--date-format is one of {', '.join(DATE_FORMATS)}")
    if team_id is not None and not _TEAM_ID.match(team_id):
        raise ImportRefused(f"--team {team_id!r} is not a Slack workspace id, like T0123ABCD")
    if actor_user_id is not None and not _USER_ID.match(actor_user_id):
        raise ImportRefused(f"--as {actor_user_id!r} is not a Slack user id, like U0123ABCD")
    if actor_user_id is None and kind == "interactions":
        raise ImportRefused("say who imports with --as U… (your Slack user id): it is on record, and the author of "
                            "the interactions whose own is not known")
    actor_user_id = actor_user_id or DEFAULT_ACTOR
    path = Path(path)
    columns = read_header(kind, path)
    team_id = choose_team(database, team_id)
    actor = Actor(team_id, actor_user_id, Surface.CLI)
    lines, sha256 = count_lines(path)
    report = ImportReport(kind, path.name, team_id, columns=columns.describe(), dry_run=dry_run,
                          skip_bad=skip_bad)
    with database.session() as session:
        workspace = Workspace.load(session, team_id)

    # Pass 1: every row checked; the people named by email gathered (one lookup each, later).
    emails: Counter[str] = Counter()
    texts: Counter[str] = Counter()
    for checked in _checked_rows(kind, path, columns, workspace, date_format, progress, lines, "checking"):
        report.rows += 1
        if checked.status == "bad":
            report.bad += 1
            if len(report.bad_lines) < MAX_LISTED:
                report.bad_lines.append(f"line {checked.line}: {checked.why}")
        elif checked.status == "repeat":
            report.repeats += 1
            if len(report.repeat_lines) < 5:
                report.repeat_lines.append(f"line {checked.line} ({checked.why})")
        elif checked.status == "there":
            report.there += 1
        else:
            who = _person_of(checked.row)
            if who is not None and who.email:
                emails[who.email] += 1
            elif who is not None and who.text:
                texts[who.text] += 1
    if report.bad and not skip_bad and not dry_run:
        report.seconds = time.monotonic() - started
        return report
    people = People.resolve(emails, lookup)
    report.people_notes = _people_notes(kind, people, emails, texts, actor_user_id)

    if dry_run:
        if kind == "interactions":  # which would be new: their keys looked up, a batch at a time
            new = report.rows - report.bad - report.repeats
            report.there = _interactions_there(database, team_id, _checked_rows(
                kind, path, columns, workspace, date_format, progress, lines, "looking up"))
            report.added = new - report.there
        else:
            report.added = report.rows - report.bad - report.repeats - report.there
        report.seconds = time.monotonic() - started
        return report

    # Pass 2: the new rows written.
    rows = (checked.row for checked in _checked_rows(kind, path, columns, workspace, date_format, progress, lines,
                                                     "importing") if checked.status == "new")
    if kind == "interactions":  # committed a batch at a time; the run on record once all are in
        _write_interactions(database, actor, rows, people, report)
        with database.transaction() as session:
            _record_run(session, actor, report, sha256, started)
        return report
    with database.transaction() as session:  # clients and contacts: all of them and the record, or nothing
        if kind == "clients":
            client_rows = [row for row in rows if isinstance(row, ClientRow)]
            report.added = write.write_clients(session, actor, client_rows, people.user_id)
            report.there += len(client_rows) - report.added
        else:
            contact_rows = [row for row in rows if isinstance(row, ContactRow)]
            report.added = write.write_contacts(session, actor, contact_rows, people.user_id)
            report.there += len(contact_rows) - report.added
        _record_run(session, actor, report, sha256, started)
    return report


def _record_run(session, actor: Actor, report: ImportReport, sha256: str, started: float) -> None:
    """The `imports` row and its one audit event."""
    report.written = True
    report.seconds = time.monotonic() - started
    run = ImportRun(team_id=actor.team_id, kind=report.kind, file_name=report.file_name[:300], file_sha256=sha256,
                    added=report.added, skipped=report.there + report.repeats, bad=report.bad, by=actor.user_id,
                    surface=actor.surface)
    session.add(run)
    audit.record(session, actor, "import.run", run, client_id=None, before=None,
                 after={"kind": report.kind, "file": run.file_name, "sha256": sha256, "added": report.added,
                        "already_there": report.there, "repeated": report.repeats, "bad": report.bad})
    report.import_id = run.id


def _checked_rows(kind, path, columns, workspace, date_format, progress, lines, what):
    checker = Checker(kind, columns, workspace, date_format=date_format)
    _, rows = open_rows(path)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=max(lines - 1, 0), desc=what, unit=" lines", unit_scale=True, file=sys.stderr,
                   mininterval=0.5, leave=False)
    done = 1
    try:
        for line, cells in rows:
            checked: Checked = checker.check(line, cells)
            if bar is not None and line - done >= 1000:
                bar.update(line - done)
                done = line
            yield checked
    finally:
        rows.close()
        if bar is not None:
            bar.close()


def _person_of(row) -> Person | None:
    if isinstance(row, ClientRow):
        return row.owner
    if isinstance(row, ContactRow):
        return row.peer
    if isinstance(row, InteractionRow):
        return row.logged_by
    return None


def _people_notes(kind: str, people: People, emails: Counter[str], texts: Counter[str], actor: str) -> list[str]:
    column = PEOPLE_COLUMN[kind]
    outcome = f"set to {actor} (who imports)" if kind == "interactions" else "left empty"
    notes = []
    missing = {email: count for email, count in emails.items() if email in people.not_found}
    if missing:
        why = f" ({people.unavailable})" if people.unavailable else ""
        listed = ", ".join(sorted(missing)[:20]) + (", …" if len(missing) > 20 else "")
        notes.append(f"{column} {outcome} for {_count(sum(missing.values()), 'row')}: emails not found in Slack{why}: "
                     f"{listed}")
    if texts:
        listed = ", ".join(sorted(texts)[:20]) + (", …" if len(texts) > 20 else "")
        notes.append(f"{column} {outcome} for {_count(sum(texts.values()), 'row')}: not a Slack user id (U…) or an "
                     f"email: {listed}")
    return notes


def _write_interactions(database: Database, actor: Actor, rows, people: People, report: ImportReport) -> None:
    """Batches of new rows, each committed on its own."""
    logged_at = utcnow()
    batch: list[dict] = []

    def flush() -> None:
        with database.transaction() as session:
            inserted = write.insert_interactions(session, batch)
        report.added += inserted
        report.there += len(batch) - inserted
        batch.clear()

    for row in rows:
        batch.append(write.interaction_values(actor, row, people.user_id, logged_at))
        if len(batch) >= write.BATCH:
            flush()
    if batch:
        flush()


def _interactions_there(database: Database, team_id: str, checked_rows) -> int:
    there = 0
    keys: list[str] = []

    def look() -> int:
        with database.session() as session:
            found = session.scalars(select(Interaction.import_key).where(Interaction.team_id == team_id,
                                                                         Interaction.import_key.in_(keys)))
            count = len(set(found))
        keys.clear()
        return count

    for checked in checked_rows:
        if checked.status == "new":
            keys.append(checked.row.import_key)
            if len(keys) >= 500:
                there += look()
    if keys:
        there += look()
    return there
