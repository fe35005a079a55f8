"""The tables. Every row carries the Slack `team_id`; nothing is ever hard-deleted."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    TypeDecorator,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (Index("ix_clients_team_owner", "team_id", "owner_user_id"),
                      Index("ix_clients_team_shared_channel", "team_id", "shared_channel_id"),
                      Index("ix_clients_team_internal_channel", "team_id", "internal_channel_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    owner_user_id: Mapped[str | None] = mapped_column(String(32))
    internal_channel_id: Mapped[str | None] = mapped_column(String(32))
    shared_channel_id: Mapped[str | None] = mapped_column(String(32))
    cadence_days: Mapped[int] = mapped_column(Integer, default=14)
    timezone: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166 alpha-2: its public holidays
    snoozed_until: Mapped[dt.date | None] = mapped_column(Date)  # no stale-contact nudges before this day
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    archived_at: Mapped[dt.datetime | None]
    archived_by: Mapped[str | None] = mapped_column(String(32))

    interactions: Mapped[list[Interaction]] = relationship(back_populates="client", lazy="raise")

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


# Enforced by the database, not only by the code: two people adding the same client at once get one.
# A key is unique for good (an archived client keeps its key); a name among the active clients only.
Index("uq_clients_team_key", Client.team_id, func.lower(Client.key), unique=True)
Index("uq_clients_team_active_name", Client.team_id, func.lower(Client.name), unique=True,
      sqlite_where=Client.archived_at.is_(None), postgresql_where=Client.archived_at.is_(None))


class InteractionKind(StrEnum):
    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"
    VISIT = "visit"
    NOTE = "note"  # the team talking among itself: logged, but not contact with the client


INTERACTION_KINDS = tuple(InteractionKind)
CONTACT_KINDS = tuple(kind for kind in InteractionKind if kind is not InteractionKind.NOTE)


def is_contact(kind: ColumnElement[str]) -> ColumnElement[bool]:
    """`kind <> 'note'` with the constant in the SQL, as the partial indexes below say it. Bound as a value, it
    would make SQLite prepare the statement again at every execution (a bound value deciding whether a partial
    index applies is checked anew each time), which costs more than the lookup itself."""
    return kind != literal_column(f"'{InteractionKind.NOTE.value}'")


class Interaction(Base):
    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_client_latest", "team_id", "client_id", "occurred_on", "id"),
        # A client's last contact and its pending plans, each one index lookup per client (the stale scan):
        Index("ix_interactions_contact_latest", "team_id", "client_id", "occurred_on", "id",
              sqlite_where=text("kind <> 'note'"), postgresql_where=text("kind <> 'note'")),
        Index("ix_interactions_planned", "team_id", "client_id", "logged_at", "id",
              sqlite_where=text("next_contact_on IS NOT NULL"), postgresql_where=text("next_contact_on IS NOT NULL")),
        # A client's next planned contact (status): one lookup, not a walk of its plans (migration 0012).
        Index("ix_interactions_next_planned", "team_id", "client_id", "next_contact_on",
              sqlite_where=text("next_contact_on IS NOT NULL"), postgresql_where=text("next_contact_on IS NOT NULL")),
        # A contact's latest interaction (peer coverage): one index walk per contact.
        Index("ix_interactions_contact_person", "team_id", "contact_id", "occurred_on",
              sqlite_where=text("contact_id IS NOT NULL"), postgresql_where=text("contact_id IS NOT NULL")),
        # An imported interaction's natural key (`rapport import`, migration 0010): the same file twice adds
        # nothing twice.
        Index("uq_interactions_import_key", "team_id", "import_key", unique=True,
              sqlite_where=text("import_key IS NOT NULL"), postgresql_where=text("import_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    kind: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    # The known contact it was with (`with:` matched one of the client's contacts); else only contact_name.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    next_contact_on: Mapped[dt.date | None] = mapped_column(Date)
    permalink: Mapped[str | None] = mapped_column(String(500))
    logged_by: Mapped[str] = mapped_column(String(32))
    logged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    surface: Mapped[str] = mapped_column(String(32))
    # Imported ones only: `crm:<the CRM's id>`, else the SHA-256 of what it says (bot/importing/rows.py).
    import_key: Mapped[str | None] = mapped_column(String(64))

    client: Mapped[Client] = relationship(back_populates="interactions", lazy="raise")


class ImportRun(Base):
    """One `rapport import` of a file: who, which file, what it added; one audit event, not one per row."""

    __tablename__ = "imports"
    __table_args__ = (Index("ix_imports_team", "team_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # clients, contacts or interactions
    file_name: Mapped[str] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(String(64))
    added: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)  # already there, or a repeat within the file
    bad: Mapped[int] = mapped_column(Integer)  # bad rows left out (--skip-bad)
    by: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    surface: Mapped[str] = mapped_column(String(32))


class AuditEvent(Base):
    """Append-only: the migration installs triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_client", "team_id", "client_id", "occurred_at"),
                      Index("ix_audit_events_team_chain", "team_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    actor_user_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    surface: Mapped[str] = mapped_column(String(32))
    # The hash chain of the workspace's events (bot/services/audit.py): NULL prev_hash for the first.
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class OutboxStatus(StrEnum):
    PENDING = "pending"  # to be posted (now, or at next_attempt_at)
    SENDING = "sending"  # posted or being posted, not confirmed yet
    SENT = "sent"
    FAILED = "failed"  # Slack refused it for good; `rapport outbox retry` queues it again
    CANCELLED = "cancelled"  # no longer applies (a follow-up on a change told meanwhile)


class OutboxMessage(Base):
    """A message the bot posts on its own: queued in the transaction that caused it, delivered once."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("uq_outbox_team_dedupe", "team_id", "dedupe_key", unique=True),
        Index("ix_outbox_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    channel_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    blocks: Mapped[list[Any] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None]
    # Who is posting it now, and until when that claim holds: nobody else touches a row under a live lease.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    # Pointless after this moment (a reminder of a meeting that has started): never posted later.
    expires_at: Mapped[dt.datetime | None]
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)


class ProcessedRequest(Base):
    """Requests from Slack already handled (event ids, modal submissions): retries are done once."""

    __tablename__ = "processed_requests"
    __table_args__ = (Index("uq_processed_requests_team_key", "team_id", "key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ScheduleChange(Base):
    """A batch, lot or milestone moved to a new date: open until someone records that the client was told."""

    __tablename__ = "schedule_changes"
    __table_args__ = (
        Index("ix_schedule_changes_client_open", "team_id", "client_id", "told_at"),
        Index("ix_schedule_changes_open", "team_id", "told_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    item: Mapped[str] = mapped_column(String(300))
    project: Mapped[str | None] = mapped_column(String(200))
    old_date: Mapped[dt.date | None] = mapped_column(Date)
    new_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    logged_by: Mapped[str] = mapped_column(String(32))
    logged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    surface: Mapped[str] = mapped_column(String(32))
    told_at: Mapped[dt.datetime | None]
    told_by: Mapped[str | None] = mapped_column(String(32))
    told_how: Mapped[str | None] = mapped_column(Text)
    told_text: Mapped[str | None] = mapped_column(Text)  # what was posted to the client, when drafted here

    client: Mapped[Client] = relationship(lazy="raise")

    @property
    def slip_days(self) -> int | None:
        """Days later (positive) or earlier (a pull-in, negative) than planned; None if unknown."""
        return (self.new_date - self.old_date).days if self.old_date else None


class SlackUser(Base):
    """What Slack says about a person Rapport writes to (users.info), kept for a day: their time zone."""

    __tablename__ = "slack_users"
    __table_args__ = (Index("uq_slack_users_team_user", "team_id", "user_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    tz: Mapped[str | None] = mapped_column(String(64))  # None: Slack did not say (or the user is gone)
    # Slack's workspace roles (users.info is_admin / is_owner): managers by right. None: not known yet.
    is_admin: Mapped[bool | None]
    is_owner: Mapped[bool | None]
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StaleAlert(Base):
    """A nudge or an escalation about a client not heard from for too long: what was said, when, and in
    which stale spell (`episode`: the last contact's date, or "never"). Written with its outbox row."""

    __tablename__ = "stale_alerts"
    __table_args__ = (
        Index("uq_stale_alerts_team_key", "team_id", "key", unique=True),
        Index("ix_stale_alerts_client", "team_id", "client_id", "episode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    kind: Mapped[str] = mapped_column(String(16))  # an AlertKind
    episode: Mapped[str] = mapped_column(String(16))
    local_date: Mapped[dt.date] = mapped_column(Date)  # the day it was posted, in the reader's zone
    key: Mapped[str] = mapped_column(String(200))  # also the outbox row's dedupe key
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertKind(StrEnum):
    NUDGE = "nudge"  # to the owner, in the internal channel
    ESCALATION = "escalation"  # to the managers, at twice the cadence
    NO_OWNER = "no-owner"  # to the managers: nobody to nudge


class Meeting(Base):
    """A client meeting, once or recurring: its first start as local wall time in its zone, and its RFC 5545
    recurrence rule (`FREQ=WEEKLY;INTERVAL=2;BYDAY=TU`), which is also what calendars get."""

    __tablename__ = "meetings"
    __table_args__ = (Index("ix_meetings_team_active", "team_id", "cancelled_at", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    title: Mapped[str] = mapped_column(String(200))
    every: Mapped[str] = mapped_column(String(8))  # a Frequency
    rule: Mapped[str | None] = mapped_column(String(200))  # RRULE value; None: once
    starts_on: Mapped[dt.date] = mapped_column(Date)  # the first occurrence's date, in `timezone`
    at: Mapped[dt.time] = mapped_column(Time)  # wall time in `timezone`
    timezone: Mapped[str] = mapped_column(String(64))
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    reminder_minutes: Mapped[list[Any]] = mapped_column(JSON)  # lead times before each occurrence
    channel_id: Mapped[str | None] = mapped_column(String(32))  # None: the client's internal channel
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    surface: Mapped[str] = mapped_column(String(32))
    cancelled_at: Mapped[dt.datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(32))

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None


class Frequency(StrEnum):
    ONCE = "once"
    WEEK = "week"
    TWO_WEEKS = "2weeks"
    MONTH = "month"


class MeetingException(Base):
    """One occurrence skipped or moved, named by the date it was due on (its RECURRENCE-ID)."""

    __tablename__ = "meeting_exceptions"
    __table_args__ = (Index("uq_meeting_exceptions_occurrence", "meeting_id", "occurrence_on", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    occurrence_on: Mapped[dt.date] = mapped_column(Date)  # the date it was due on, in the meeting's zone
    kind: Mapped[str] = mapped_column(String(8))  # "skip" or "move"
    moved_to: Mapped[dt.datetime | None]  # a moved occurrence's new start
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Promise(Base):
    """Something we committed to a client, by a date: open until someone records it done. A move of its due
    date is a PromiseMove (with its reason), like a schedule change."""

    __tablename__ = "promises"
    __table_args__ = (Index("ix_promises_open", "team_id", "done_at", "due_on"),
                      Index("ix_promises_client", "team_id", "client_id", "done_at", "due_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    what: Mapped[str] = mapped_column(Text)
    due_on: Mapped[dt.date] = mapped_column(Date)  # in the client's zone
    owner_user_id: Mapped[str] = mapped_column(String(32))  # who keeps it (default: who recorded it)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    surface: Mapped[str] = mapped_column(String(32))
    done_at: Mapped[dt.datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(32))
    done_note: Mapped[str | None] = mapped_column(Text)

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


class PromiseMove(Base):
    """A promise's due date moved: from, to, why, who, when."""

    __tablename__ = "promise_moves"
    __table_args__ = (Index("ix_promise_moves_promise", "promise_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    promise_id: Mapped[int] = mapped_column(ForeignKey("promises.id"))
    old_due_on: Mapped[dt.date] = mapped_column(Date)
    new_due_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    moved_by: Mapped[str] = mapped_column(String(32))
    moved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    surface: Mapped[str] = mapped_column(String(32))


class VoiceLine(Base):
    """The line agreed on a topic, that everyone who talks to the client says ("one voice"). A new line on
    the topic ends the current one (`ended_how` "superseded"); `off` ends it ("retired"). Kept for good."""

    __tablename__ = "voice_lines"
    __table_args__ = (Index("ix_voice_lines_client", "team_id", "client_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    topic: Mapped[str] = mapped_column(String(80))  # as first written
    line: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    surface: Mapped[str] = mapped_column(String(32))
    ended_at: Mapped[dt.datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(32))
    ended_how: Mapped[str | None] = mapped_column(String(16))  # "superseded" or "retired"


# One current line per topic (case-insensitive), enforced by the database: two people at once get one.
Index("uq_voice_lines_current_topic", VoiceLine.team_id, VoiceLine.client_id, func.lower(VoiceLine.topic),
      unique=True, sqlite_where=VoiceLine.ended_at.is_(None), postgresql_where=VoiceLine.ended_at.is_(None))


class Contact(Base):
    """One of the client's people: their function, and our peer for them (peer-to-peer at every level)."""

    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_client", "team_id", "client_id", "archived_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100))  # their function: QA, supply chain, executive...
    peer_user_id: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    surface: Mapped[str] = mapped_column(String(32))
    archived_at: Mapped[dt.datetime | None]
    archived_by: Mapped[str | None] = mapped_column(String(32))

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


Index("uq_contacts_active_name", Contact.team_id, Contact.client_id, func.lower(Contact.name), unique=True,
      sqlite_where=Contact.archived_at.is_(None), postgresql_where=Contact.archived_at.is_(None))


class Lesson(Base):
    """A lesson learned with a client, perhaps from one schedule change. Searched by full text: SQLite FTS5
    table `lessons_fts` (kept by triggers) or PostgreSQL's generated `search` tsvector (migration 0009)."""

    __tablename__ = "lessons"
    __table_args__ = (Index("ix_lessons_client", "team_id", "client_id", "id"),
                      Index("ix_lessons_change", "team_id", "change_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    text: Mapped[str] = mapped_column(Text)
    change_id: Mapped[int | None] = mapped_column(ForeignKey("schedule_changes.id"))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    surface: Mapped[str] = mapped_column(String(32))
