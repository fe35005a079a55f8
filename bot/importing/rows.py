"""Reading an import file and checking each row: plain dataclasses with the row's line number, or why it is bad.

The file is streamed (read twice by `run_import`: once to check everything, once to write), so a million rows
never sit in memory; a checker keeps only what it needs to spot the same row twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import INTERACTION_KINDS, Client, Contact
from bot.errors import UserError
from bot.importing.columns import ColumnMap, map_headers
from bot.parsing.dates import parse_cadence, parse_country, parse_timezone
from bot.services.clients import DEFAULT_CADENCE_DAYS, key_from_name
from bot.services.contacts import MAX_NAME, MAX_ROLE, name_key, normalise, normalise_role
from bot.services.interactions import MAX_SUMMARY

DATE_FORMATS = ("iso", "us", "eu")
MAX_CLIENT_NAME = 200
MAX_CRM_ID = 60  # `crm:` + the id fits import_key's 64 characters; a longer id is hashed
_USER_ID = re.compile(r"^<?@?([UW][A-Z0-9]{2,30})(?:\|[^>]*)?>?$")
_CHANNEL_ID = re.compile(r"^<?#?([CG][A-Z0-9]{2,30})(?:\|[^>]*)?>?$")
_EMAIL = re.compile(r"^(?:mailto:)?([^@\s<>|]+@[^@\s<>|]+\.[^@\s<>|]+)$", re.IGNORECASE)
_ISO_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})"
                      r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?$")
_SLASHED_DAY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?:,?\s+\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp][Mm])?)?$")


_NOWHERE = 1 << 30  # the position of a column the file does not have


_name_key = lru_cache(maxsize=65536)(name_key)  # a few hundred people named a million times


class FileProblem(Exception):
    """The file as a whole can't be imported (not CSV, not UTF-8, no header, a required column missing)."""


@dataclass(frozen=True)
class Person:
    """Who a cell names: a Slack user id, an email to look up, or text that is neither."""

    user_id: str | None = None
    email: str | None = None
    text: str | None = None


def person(cell: str) -> Person | None:
    cell = cell.strip()
    if not cell:
        return None
    if found := _USER_ID.match(cell):
        return Person(user_id=found.group(1))
    if found := _EMAIL.match(cell):
        return Person(email=found.group(1).lower())
    return Person(text=cell[:80])


@dataclass(slots=True)
class ClientRow:
    line: int
    key: str
    name: str
    owner: Person | None
    channel: str | None
    cadence_days: int
    timezone: str | None
    country: str | None


@dataclass(slots=True)
class ContactRow:
    line: int
    client_id: int
    name: str
    role: str | None
    peer: Person | None


@dataclass(slots=True)
class InteractionRow:
    line: int
    client_id: int
    kind: str
    summary: str
    occurred_on: dt.date
    contact_name: str | None
    contact_id: int | None
    logged_by: Person | None
    next_contact_on: dt.date | None
    import_key: str


Row = ClientRow | ContactRow | InteractionRow


@dataclass(slots=True)
class Checked:
    """One row of the file: `new` (to add), `there` (already in the database), `repeat` (the same as an earlier
    row of the file) or `bad` (with `why`)."""

    line: int
    status: str
    row: Row | None = None
    why: str = ""


# -- the file ------------------------------------------------------------------------------------------------

def open_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header row and an iterator of (line number where the row starts, cells); blank rows left out."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise FileProblem(f"can't read {path}: {error.strerror or error}") from None
    try:
        sample = handle.read(64 * 1024)
    except UnicodeDecodeError:
        handle.close()
        raise FileProblem(f"{path.name} is not UTF-8 text: save it as CSV UTF-8") from None
    handle.seek(0)
    reader = csv.reader(handle, delimiter=sniff_delimiter(sample), quotechar='"', doublequote=True)
    try:
        headers = next(reader)
    except StopIteration:
        handle.close()
        raise FileProblem(f"{path.name} is empty: the first line must name the columns") from None
    except (csv.Error, UnicodeDecodeError) as error:
        handle.close()
        raise FileProblem(f"{path.name}, line 1: {error}") from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        with handle:
            previous_end = reader.line_num
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except UnicodeDecodeError:
                    raise FileProblem(f"{path.name}, after line {previous_end}: not UTF-8 text; save it as "
                                      "CSV UTF-8") from None
                except csv.Error as error:
                    raise FileProblem(f"{path.name}, line {previous_end + 1}: {error}") from None
                start, previous_end = previous_end + 1, reader.line_num
                if any(cell.strip() for cell in cells):
                    yield start, cells

    return headers, rows()


def sniff_delimiter(sample: str) -> str:
    """`,`, `;` (a spreadsheet where the decimal mark is a comma) or a tab: whichever the header row has most of,
    outside quotes."""
    header = re.sub(r'"[^"]*"', "", sample.split("\n", 1)[0])
    counts = {delimiter: header.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def read_header(kind: str, path: Path) -> ColumnMap:
    headers, rows = open_rows(path)
    rows.close()
    columns, problems = map_headers(kind, headers)
    if problems:
        raise FileProblem(f"{path.name} has " + "; ".join(problems) + ". " + columns.describe())
    return columns


# -- values --------------------------------------------------------------------------------------------------

def parse_day(text: str, date_format: str, column: str) -> dt.date:
    text = text.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":  # the common case, quickly
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    try:
        if found := _ISO_DAY.match(text):
            return dt.date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        if (found := _SLASHED_DAY.match(text)) and date_format != "iso":
            first, second, year = int(found.group(1)), int(found.group(2)), int(found.group(3))
            month, day = (first, second) if date_format == "us" else (second, first)
            return dt.date(year, month, day)
    except ValueError:
        raise UserError(f"{column} `{text}` is not a date") from None
    if _SLASHED_DAY.match(text):
        raise UserError(f"{column} `{text}` is ambiguous: use ISO dates (2025-03-04), or say how to read it with "
                        "--date-format us (month/day/year) or --date-format eu (day/month/year)")
    raise UserError(f"{column} `{text}` is not a date: use ISO dates, like 2025-03-04")


@cache
def _country_names() -> dict[str, str]:
    """Lower-case country names and alpha-3 codes -> alpha-2, for the countries whose holidays are known."""
    from holidays import registry

    names: dict[str, str] = {}
    for module, (class_name, alpha2, alpha3, *_) in registry.COUNTRIES.items():
        names[module.replace("_", " ")] = alpha2
        names[re.sub(r"(?<=[a-z])(?=[A-Z])", " ", class_name).lower()] = alpha2
        names[alpha3.lower()] = alpha2
    names.update({"usa": "US", "united states of america": "US", "uk": "GB", "great britain": "GB",
                  "england": "GB", "deutschland": "DE", "schweiz": "CH", "suisse": "CH", "the netherlands": "NL",
                  "holland": "NL", "korea": "KR", "south korea": "KR"})
    return names


def country_code(text: str) -> str:
    raw = text.strip()
    if len(raw) == 2 and raw.isascii() and raw.isalpha() and raw.upper() in holidays.list_supported_countries():
        return holidays.country_holidays(raw.upper()).country  # `UK` -> `GB`
    code = _country_names().get(" ".join(raw.lower().split()))
    return parse_country(code or raw)


@lru_cache(maxsize=1024)
def crm_kind(text: str) -> str:
    """A CRM's activity type as a kind: calls, emails, meetings (events), visits; anything else a note."""
    words = text.lower().replace("_", " ").replace("-", " ")
    for kind, stems in (("visit", ("visit",)), ("call", ("call", "phone")), ("email", ("email", "e mail", "mail")),
                        ("meeting", ("meeting", "event", "demo"))):
        if any(stem in words for stem in stems):
            return kind
    return "note"


def latest_today() -> dt.date:
    """Today somewhere on Earth (UTC+14): a date after it has happened nowhere yet."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=14)).date()


def interaction_key(client_id: int, occurred_on: dt.date, kind: str, summary: str, contact: str | None) -> str:
    """What an interaction without a CRM id is known by: the same facts, the same key."""
    canonical = "\x1f".join((str(client_id), occurred_on.isoformat(), kind, " ".join(summary.split()).casefold(),
                             _name_key(contact or "")))
    return hashlib.sha256(canonical.encode()).hexdigest()


def crm_key(record_id: str) -> str:
    record_id = record_id.strip()
    if len(record_id) > MAX_CRM_ID:
        return "crm:" + hashlib.sha256(record_id.encode()).hexdigest()[:MAX_CRM_ID]
    return "crm:" + record_id


# -- checking rows -------------------------------------------------------------------------------------------

@dataclass
class Workspace:
    """What the rows are checked against: the workspace's clients and contacts, loaded once."""

    team_id: str
    keys: dict[str, str] = field(default_factory=dict)  # every client's key (lower) -> name, archived too
    active_names: set[str] = field(default_factory=set)  # active clients' names, lower case
    references: dict[str, tuple[int, str]] = field(default_factory=dict)  # lower key or name -> (id, name)
    archived: dict[str, str] = field(default_factory=dict)  # lower key or name of archived clients -> name
    shared_channels: dict[str, str] = field(default_factory=dict)  # Slack Connect channel -> client name
    contacts: dict[int, dict[str, tuple[int, str]]] = field(default_factory=dict)  # client -> name key -> (id, name)
    memo: dict[str, tuple[int, str]] = field(default_factory=dict)  # references already resolved

    @classmethod
    def load(cls, session: Session, team_id: str) -> Workspace:
        workspace = cls(team_id)
        for client in session.scalars(select(Client).where(Client.team_id == team_id).order_by(Client.id)):
            workspace.keys[client.key.lower()] = client.name
            if client.shared_channel_id:
                workspace.shared_channels[client.shared_channel_id] = client.name
            if client.is_archived:
                for reference in (client.key.lower(), " ".join(client.name.split()).lower()):
                    workspace.archived.setdefault(reference, client.name)
                continue
            workspace.active_names.add(client.name.lower())
            workspace.references[client.key.lower()] = (client.id, client.name)
            workspace.references.setdefault(" ".join(client.name.split()).lower(), (client.id, client.name))
        for contact in session.scalars(select(Contact).where(Contact.team_id == team_id,
                                                             Contact.archived_at.is_(None))):
            workspace.contacts.setdefault(contact.client_id, {})[name_key(contact.name)] = (contact.id, contact.name)
        return workspace

    def client(self, reference: str) -> tuple[int, str]:
        found = self.memo.get(reference)
        if found is not None:
            return found
        found = self._client(reference)
        if len(self.memo) < 100_000:
            self.memo[reference] = found
        return found

    def _client(self, reference: str) -> tuple[int, str]:
        wanted = " ".join(reference.split()).lower()
        if not wanted:
            raise UserError("the client is empty")
        if wanted in self.references:
            return self.references[wanted]
        if wanted in self.archived:
            raise UserError(f"{self.archived[wanted]} is archived: nothing more can be logged for it")
        raise UserError(f"no client `{reference.strip()}` in {self.team_id}; import the clients first "
                        "(rapport import clients ...), by key or exact name")


class Checker:
    """Checks one row at a time, in file order; remembers what it saw so that a repeat is spotted."""

    def __init__(self, kind: str, columns: ColumnMap, workspace: Workspace, *, date_format: str = "iso") -> None:
        self.kind = kind
        self.columns = columns
        self.workspace = workspace
        self.date_format = date_format
        self.today = latest_today()
        self.seen: dict[object, int] = {}  # clients and contacts: natural key -> first line
        self.seen_hashes: set[int] = set()  # interactions: 64 bits of each key (a million stay small)
        self.taken_keys = set(workspace.keys)
        self.check_row = {"clients": self._client, "contacts": self._contact,
                          "interactions": self._interaction}[kind]

    def check(self, line: int, cells: list[str]) -> Checked:
        try:
            return self.check_row(line, cells)
        except UserError as error:
            return Checked(line, "bad", why=error.message)

    def cell(self, cells: list[str], column: str) -> str:
        position = self.columns.index.get(column, _NOWHERE)
        return cells[position].strip() if position < len(cells) else ""

    def _repeat(self, line: int, keys: list[object]) -> Checked | None:
        for key in keys:
            if key in self.seen:
                return Checked(line, "repeat", why=f"the same as line {self.seen[key]}")
        for key in keys:
            self.seen[key] = line
        return None

    # clients
    def _client(self, line: int, cells: list[str]) -> Checked:
        name = " ".join(self.cell(cells, "name").split())
        if not name:
            raise UserError("name is empty")
        if len(name) > MAX_CLIENT_NAME:
            raise UserError(f"name is {len(name)} characters; at most {MAX_CLIENT_NAME}")
        given_key = self.cell(cells, "key").lower()
        if given_key and not re.match(r"^[a-z0-9][a-z0-9-]{0,39}$", given_key):
            raise UserError(f"key `{given_key}` can't be a key: use letters, digits and dashes, up to 40 characters")
        channel = None
        if raw := self.cell(cells, "channel"):
            found = _CHANNEL_ID.match(raw)
            if not found:
                raise UserError(f"channel `{raw}` is not a Slack channel id (like C0123ABCD: a channel's name "
                                "can't be looked up)")
            channel = found.group(1)
            if channel in self.workspace.shared_channels:
                raise UserError(f"channel {channel} is shared with {self.workspace.shared_channels[channel]}: it "
                                "can't be an internal channel")
        cadence = DEFAULT_CADENCE_DAYS
        if raw := self.cell(cells, "cadence_days"):
            cadence = int(raw) if raw.isdigit() else parse_cadence(raw)
            if not 1 <= cadence <= 365:
                raise UserError(f"cadence_days `{raw}` must be between 1 and 365 days")
        timezone = parse_timezone(raw) if (raw := self.cell(cells, "timezone")) else None
        country = country_code(raw) if (raw := self.cell(cells, "country")) else None
        owner = person(self.cell(cells, "owner"))
        repeat = self._repeat(line, [("name", name.lower())] + ([("key", given_key)] if given_key else []))
        if repeat:
            return repeat
        row = dict(line=line, name=name, owner=owner, channel=channel, cadence_days=cadence, timezone=timezone,
                   country=country)
        if (given_key and given_key in self.workspace.keys) or name.lower() in self.workspace.active_names:
            return Checked(line, "there", ClientRow(key=given_key or key_from_name(name), **row))
        key = given_key or self._unique_key(key_from_name(name))
        self.taken_keys.add(key)
        return Checked(line, "new", ClientRow(key=key, **row))

    def _unique_key(self, key: str) -> str:
        candidate, number = key, 2
        while candidate in self.taken_keys:
            suffix = f"-{number}"
            candidate, number = key[:40 - len(suffix)].rstrip("-") + suffix, number + 1
        return candidate

    # contacts
    def _contact(self, line: int, cells: list[str]) -> Checked:
        client_id, _ = self.workspace.client(self.cell(cells, "client"))
        name = normalise(self.cell(cells, "name")) or normalise(
            f"{self.cell(cells, 'first_name')} {self.cell(cells, 'last_name')}")
        if not name:
            raise UserError("name is empty")
        if len(name) > MAX_NAME:
            raise UserError(f"name is {len(name)} characters; at most {MAX_NAME}")
        role = normalise_role(self.cell(cells, "role")) or None
        if role and len(role) > MAX_ROLE:
            raise UserError(f"role is {len(role)} characters; at most {MAX_ROLE}")
        peer = person(self.cell(cells, "peer"))
        repeat = self._repeat(line, [(client_id, name_key(name))])
        if repeat:
            return repeat
        row = ContactRow(line, client_id, name, role, peer)
        if name_key(name) in self.workspace.contacts.get(client_id, {}):
            return Checked(line, "there", row)
        return Checked(line, "new", row)

    # interactions
    def _interaction(self, line: int, cells: list[str]) -> Checked:
        client_id, _ = self.workspace.client(self.cell(cells, "client"))
        raw_kind = self.cell(cells, "kind")
        if "kind" in self.columns.from_alias or not raw_kind:
            kind = crm_kind(raw_kind)
        elif raw_kind.lower() in INTERACTION_KINDS:
            kind = raw_kind.lower()
        else:
            raise UserError(f"kind `{raw_kind}` is not one of {', '.join(INTERACTION_KINDS)}")
        subject, details = self.cell(cells, "summary"), self.cell(cells, "details")
        summary = f"{subject} — {details}" if subject and details and details != subject else subject or details
        if not summary:
            raise UserError("summary is empty")
        if len(summary) > MAX_SUMMARY:
            raise UserError(f"summary is {len(summary):,} characters; at most {MAX_SUMMARY:,}")
        raw_day = self.cell(cells, "occurred_on")
        if not raw_day:
            raise UserError("occurred_on is empty")
        occurred_on = parse_day(raw_day, self.date_format, "occurred_on")
        if occurred_on > self.today:
            raise UserError(f"occurred_on {occurred_on:%Y-%m-%d} is in the future: import what has happened")
        raw_next = self.cell(cells, "next_contact_on")
        next_contact_on = parse_day(raw_next, self.date_format, "next_contact_on") if raw_next else None
        contact_name = normalise(self.cell(cells, "contact")) or None
        if contact_name and len(contact_name) > MAX_NAME:
            raise UserError(f"contact is {len(contact_name)} characters; at most {MAX_NAME}")
        contact_id = None
        if contact_name:
            known = self.workspace.contacts.get(client_id, {}).get(_name_key(contact_name))
            if known:
                contact_id, contact_name = known
        logged_by = person(self.cell(cells, "logged_by"))
        record_id = self.cell(cells, "id")
        key = crm_key(record_id) if record_id else interaction_key(client_id, occurred_on, kind, summary,
                                                                   contact_name)
        short = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
        if short in self.seen_hashes:
            return Checked(line, "repeat", why="the same as an earlier row" + (
                f" (id {record_id[:60]})" if record_id else ""))
        self.seen_hashes.add(short)
        return Checked(line, "new", InteractionRow(line, client_id, kind, summary, occurred_on, contact_name,
                                                   contact_id, logged_by, next_contact_on, key))


def count_lines(path: Path) -> tuple[int, str]:
    """The file's number of lines and its SHA-256, in one binary pass."""
    digest, lines = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return lines, digest.hexdigest()

