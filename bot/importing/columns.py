"""The columns of each kind of import, and the headers a Salesforce or HubSpot export uses for them.

Headers match case-insensitively, with white space trimmed and runs of it counted as one. When several headers
of a file map to the same column, the column's own name wins; else the alias listed first below (an email
column before a column of people's names); else the header that comes first in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("clients", "contacts", "interactions")

# Canonical columns, in the order the README documents them. `first_name`/`last_name` (contacts) and `details`
# (interactions) are helpers: a name made of its parts, a summary made of a subject and its text.
COLUMNS: dict[str, tuple[str, ...]] = {
    "clients": ("key", "name", "owner", "channel", "cadence_days", "timezone", "country"),
    "contacts": ("client", "name", "first_name", "last_name", "role", "peer"),
    "interactions": ("client", "kind", "summary", "details", "occurred_on", "contact", "logged_by",
                     "next_contact_on", "id"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "clients": ("name",),
    "contacts": ("client", "name"),  # or first_name/last_name for the name
    "interactions": ("client", "summary", "occurred_on"),  # or details for the summary
}

# alias -> column, per kind; the first alias of a column is preferred over later ones.
ALIASES: dict[str, dict[str, str]] = {
    "clients": {
        "client key": "key", "short key": "key",
        "account name": "name", "company name": "name", "client name": "name", "client": "name",
        "account": "name", "company": "name",
        "owner email": "owner", "account owner email": "owner", "owner email address": "owner",
        "account owner": "owner", "company owner": "owner", "owner id": "owner",
        "internal channel": "channel", "slack channel": "channel", "channel id": "channel",
        "cadence": "cadence_days", "cadence days": "cadence_days",
        "time zone": "timezone", "tz": "timezone",
        "billing country": "country", "country/region": "country", "shipping country": "country",
    },
    "contacts": {
        "client key": "client", "account name": "client", "associated company": "client",
        "company name": "client", "account": "client", "company": "client",
        "full name": "name", "contact name": "name", "contact": "name",
        "first name": "first_name", "last name": "last_name",
        "title": "role", "job title": "role", "function": "role",
        "peer email": "peer", "owner email": "peer", "contact owner email": "peer", "contact owner": "peer",
    },
    "interactions": {
        "client key": "client", "account name": "client", "related to": "client", "associated company": "client",
        "account": "client", "company name": "client", "company": "client",
        "type": "kind", "activity type": "kind", "task subtype": "kind", "event type": "kind",
        "subject": "summary", "title": "summary",
        "description": "details", "comments": "details", "body": "details", "notes": "details",
        "activity date": "occurred_on", "date": "occurred_on", "due date": "occurred_on",
        "name": "contact", "associated contact": "contact", "contact name": "contact", "with": "contact",
        "assigned to email": "logged_by", "owner email": "logged_by", "activity assigned to": "logged_by",
        "assigned to": "logged_by", "assigned": "logged_by", "logged by": "logged_by",
        "next contact": "next_contact_on", "next contact date": "next_contact_on",
        "activity id": "id", "record id": "id", "crm id": "id",
    },
}


def header_key(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).lower()


@dataclass
class ColumnMap:
    """Which header of the file feeds which column: `index[column]` is its position in a row."""

    kind: str
    index: dict[str, int] = field(default_factory=dict)
    used: list[tuple[str, str]] = field(default_factory=list)  # (header as in the file, column), file order
    ignored: list[str] = field(default_factory=list)  # headers nothing reads
    from_alias: set[str] = field(default_factory=set)  # columns fed by a CRM's header, not our own name

    def describe(self) -> str:
        text = "columns: " + (", ".join(f"{header} → {column}" for header, column in self.used) or "none known")
        if self.ignored:
            text += "; ignored: " + ", ".join(self.ignored)
        return text


def map_headers(kind: str, headers: list[str]) -> tuple[ColumnMap, list[str]]:
    """The column map of a header row, and what is wrong with it (missing required columns)."""
    canonical = COLUMNS[kind]
    aliases = ALIASES[kind]
    alias_rank = {alias: rank for rank, alias in enumerate(aliases)}
    best: dict[str, tuple[int, int]] = {}  # column -> (rank, position); lower wins
    for position, header in enumerate(headers):
        key = header_key(header)
        if key in canonical or key.replace(" ", "_") in canonical:
            column, rank = key.replace(" ", "_"), -1
        elif key in aliases:
            column, rank = aliases[key], alias_rank[key]
        else:
            continue
        if column not in best or (rank, position) < best[column]:
            best[column] = (rank, position)
    columns = ColumnMap(kind)
    chosen = {position: column for column, (_, position) in best.items()}
    for position, header in enumerate(headers):
        if position in chosen:
            column = chosen[position]
            columns.index[column] = position
            columns.used.append((header.strip().replace("\ufeff", ""), column))
            if best[column][0] >= 0:
                columns.from_alias.add(column)
        elif header.strip():
            columns.ignored.append(header.strip().replace("\ufeff", ""))
    problems = []
    for column in REQUIRED[kind]:
        if column in columns.index:
            continue
        if kind == "contacts" and column == "name" and ({"first_name", "last_name"} & set(columns.index)):
            continue
        if kind == "interactions" and column == "summary" and "details" in columns.index:
            continue
        names = [column] + [alias for alias, target in aliases.items() if target == column][:3]
        problems.append(f"no `{column}` column (a header named " + " or ".join(f"`{n}`" for n in names) + ")")
    return columns, problems
