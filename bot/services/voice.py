"""One voice: the line agreed on each topic for a client, that everyone who talks to the client says.

A new line on a topic ends the current one ("superseded") in the same transaction; `off` ends it ("retired").
Lines are kept for good. Topics match case-insensitively (as the database lowers them: the unique partial
index uq_voice_lines_current_topic allows one current line per topic) and show as first written.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Row, Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.core import connection
from bot.db.models import Client, VoiceLine, utcnow
from bot.errors import UserError
from bot.services import Actor, audit

TOPIC_MAX = 80
LINE_MAX = 1000
AUDITED_FIELDS = ("topic", "line", "author_user_id", "ended_at", "ended_by", "ended_how")
SUPERSEDED, RETIRED = "superseded", "retired"
RACE = ("Someone else just changed the agreed line on “{}” for {}; nothing was changed. "
        "`/cmo voice {}` shows the current lines; try again.")


@dataclass(frozen=True)
class SetResult:
    line: VoiceLine  # the current line (the new one, or the unchanged one)
    replaced: VoiceLine | None  # the line it superseded
    changed: bool  # False: the same text was already the agreed line


def clean_topic(topic: str) -> str:
    topic = " ".join((topic or "").split()).rstrip(":").strip()
    if not topic:
        raise UserError("Name the topic, like `pricing:` or `Q1 capacity:`.", field="topic")
    if len(topic) > TOPIC_MAX:
        raise UserError(f"The topic is {len(topic)} characters; keep it to {TOPIC_MAX}.", field="topic")
    return topic


def clean_line(line: str) -> str:
    line = (line or "").strip()
    if not line:
        raise UserError("The agreed line is empty: write what everyone tells the client, in quotes.", field="line")
    if len(line) > LINE_MAX:
        raise UserError(f"The agreed line is {len(line):,} characters; keep it to {LINE_MAX:,}.", field="line")
    return line


def _of_client(client: Client):
    return VoiceLine.team_id == client.team_id, VoiceLine.client_id == client.id


def _same_topic(topic: str):
    return func.lower(VoiceLine.topic) == func.lower(topic)


@functools.cache
def _current_query() -> Select:
    # Asked by every logged contact (the owner's message) and every status: built once, bound at execution.
    return (select(VoiceLine.__table__).where(VoiceLine.team_id == bindparam("team_id"),
                                              VoiceLine.client_id == bindparam("client_id"),
                                              VoiceLine.ended_at.is_(None))
            .order_by(func.lower(VoiceLine.topic), VoiceLine.id))


def current_lines(session: Session, client: Client) -> Sequence[Row]:
    """The client's current lines, by topic: rows with a VoiceLine's fields, to read (cheaper than objects on
    the hot path of every status and logged contact; nothing is changed through them)."""
    return connection(session).execute(_current_query(), {"team_id": client.team_id, "client_id": client.id}).all()


def current_line(session: Session, client: Client, topic: str) -> VoiceLine | None:
    return session.scalar(select(VoiceLine).where(*_of_client(client), VoiceLine.ended_at.is_(None),
                                                  _same_topic(topic)).limit(1))


def replaced_counts(session: Session, client: Client) -> dict[int, int]:
    """For each current line (by id): how many earlier lines on its topic were superseded."""
    current = select(VoiceLine.id, func.lower(VoiceLine.topic).label("topic")).where(
        *_of_client(client), VoiceLine.ended_at.is_(None)).subquery()
    rows = session.execute(
        select(current.c.id, func.count(VoiceLine.id))
        .join(VoiceLine, func.lower(VoiceLine.topic) == current.c.topic)
        .where(*_of_client(client), VoiceLine.ended_how == SUPERSEDED)
        .group_by(current.c.id))
    return {line_id: count for line_id, count in rows}


def _check_client(client: Client) -> None:
    if client.is_archived:
        raise UserError(f"{client.name} is archived; its agreed lines can no longer change.", field="client")


def set_line(session: Session, actor: Actor, client: Client, *, topic: str, line: str) -> SetResult:
    """Record `line` as the agreed line on `topic`, superseding the current one (if any)."""
    _check_client(client)
    topic, line = clean_topic(topic), clean_line(line)
    old = current_line(session, client, topic)
    if old is not None and old.line == line:
        return SetResult(old, None, False)
    before = audit.snapshot(old, AUDITED_FIELDS) if old is not None else None
    try:
        with session.begin_nested():
            if old is not None:
                # Only while still current: a second writer who read the same line ends nothing.
                ended = session.execute(
                    update(VoiceLine).where(VoiceLine.id == old.id, VoiceLine.ended_at.is_(None))
                    .values(ended_at=utcnow(), ended_by=actor.user_id, ended_how=SUPERSEDED)
                    .execution_options(synchronize_session=False)).rowcount
                if not ended:
                    raise _Raced()
            new = VoiceLine(team_id=client.team_id, client_id=client.id, topic=old.topic if old else topic,
                            line=line, author_user_id=actor.user_id, surface=actor.surface)
            session.add(new)
            session.flush()
    except (IntegrityError, _Raced):
        raise UserError(RACE.format(topic, client.name, client.key), field="topic") from None
    if old is not None:
        session.refresh(old)
    audit.record(session, actor, "voice.set", new, client_id=client.id, before=before,
                 after=audit.snapshot(new, AUDITED_FIELDS))
    return SetResult(new, old, True)


def retire_line(session: Session, actor: Actor, client: Client, *, topic: str) -> VoiceLine:
    """End the current line on `topic`: nothing is agreed on it any more."""
    _check_client(client)
    topic = clean_topic(topic)
    line = current_line(session, client, topic)
    if line is None:
        topics = [f"“{current.topic}”" for current in current_lines(session, client)]
        known = (f"Its current topics: {', '.join(topics)}." if topics
                 else f"{client.name} has no agreed line on any topic.")
        raise UserError(f"There is no agreed line on “{topic}” for {client.name}. {known}", field="topic")
    before = audit.snapshot(line, AUDITED_FIELDS)
    ended = session.execute(
        update(VoiceLine).where(VoiceLine.id == line.id, VoiceLine.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_by=actor.user_id, ended_how=RETIRED)
        .execution_options(synchronize_session=False)).rowcount
    if not ended:
        raise UserError(RACE.format(topic, client.name, client.key), field="topic")
    session.refresh(line)
    audit.record(session, actor, "voice.retire", line, client_id=client.id, before=before,
                 after=audit.snapshot(line, AUDITED_FIELDS))
    return line


class _Raced(Exception):
    """The current line was ended by someone else between reading it and ending it."""
