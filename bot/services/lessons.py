"""Lessons learned with a client, perhaps from one schedule change, and the full-text search over them.

One `search` for both databases: SQLite's FTS5 table `lessons_fts` (porter stemming, ranked by bm25) and
PostgreSQL's generated `lessons.search` tsvector (english stemming, ranked by ts_rank_cd). The user's words
never reach either query language as syntax: they are cut into words here (letters and digits), common
English words are left out (on both databases alike), and each word goes in as a quoted FTS5 string or as
the text of its own plainto_tsquery. `"`, `*`, `NEAR`, `OR`, `-`, `:*`, `&|!()` are then nothing or plain words.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, bindparam, column, func, literal_column, or_, select, table, text
from sqlalchemy.orm import Session

from bot.db.models import Client, Lesson, ScheduleChange
from bot.errors import UserError
from bot.services import Actor, audit

AUDITED_FIELDS = ("text", "change_id")
MAX_TEXT = 2000
MAX_WORDS = 32  # a search of a whole paragraph still makes one small query
SEARCH_LIMIT = 15
NOTHING_TO_SEARCH = ("Give words to search for, like `/cmo lessons acme filter delay`: `{}` has none that can be "
                     "searched (punctuation and common words like \"the\" or \"or\" are left out).")

_WORD = re.compile(r"[^\W_]+")  # letters and digits, any script; everything else separates words
# PostgreSQL's english stop words (tsearch_data/english.stop): left out on SQLite too, so both find the same.
_STOP_WORDS = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself
it its itself they them their theirs themselves what which who whom this that these those am is are was were be
been being have has had having do does did doing a an the and but if or because as until while of at by for with
about against between into through during before after above below to from up down in out on off over under
again further then once here there when where why how all any both each few more most other some such no nor not
only own same so than too very s t can will just don should now
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
_FTS = table("lessons_fts", column("rowid"))  # SQLite only: the FTS5 index, rowid = lessons.id


# -- adding ----------------------------------------------------------------------------------------------------

def add_lesson(session: Session, actor: Actor, client: Client, text_: str, *,
               change_id: int | None = None) -> Lesson:
    """A lesson for `client`, tied to one of its schedule changes if `change_id` is given."""
    if client.is_archived:
        raise UserError(f"{client.name} is archived; no lesson can be recorded for it.", field="client")
    lesson_text = (text_ or "").strip()
    if not lesson_text or not _WORD.search(lesson_text):
        raise UserError('Say what was learned, in quotes: "Book the filter test a week ahead".', field="lesson")
    if len(lesson_text) > MAX_TEXT:
        raise UserError(f"The lesson is {len(lesson_text):,} characters; keep it under {MAX_TEXT:,}.",
                        field="lesson")
    if change_id is not None:
        change_of(session, client, change_id)
    lesson = Lesson(team_id=actor.team_id, client_id=client.id, text=lesson_text, change_id=change_id,
                    created_by=actor.user_id, surface=actor.surface)
    session.add(lesson)
    session.flush()
    audit.record(session, actor, "lesson.add", lesson, client_id=client.id, before=None,
                 after=audit.snapshot(lesson, AUDITED_FIELDS))
    return lesson


def change_of(session: Session, client: Client, change_id: int) -> ScheduleChange:
    """The schedule change #`change_id` of `client` (a UserError if it is not one of the client's)."""
    change = session.scalar(select(ScheduleChange).where(ScheduleChange.team_id == client.team_id,
                                                         ScheduleChange.id == change_id))
    if change is None:
        raise UserError(f"There is no schedule change #{change_id}. `/cmo changes {client.key}` lists "
                        f"{client.name}'s.", field="change")
    if change.client_id != client.id:
        raise UserError(f"Schedule change #{change_id} is not {client.name}'s: a lesson can only come from one "
                        f"of its own changes (`/cmo changes {client.key}`).", field="change")
    return change


# -- reading ---------------------------------------------------------------------------------------------------

def latest(session: Session, team_id: str, *, client_id: int | None = None, limit: int = SEARCH_LIMIT) -> list[Lesson]:
    """Newest first."""
    params = {"team_id": team_id, "limit": limit} | ({"client_id": client_id} if client_id is not None else {})
    return list(session.scalars(_latest_query(client_id is not None), params))


@functools.cache
def _latest_query(of_client: bool) -> Select:
    # Built once per shape (every meeting reminder's brief asks), bound at execution.
    query = select(Lesson).where(Lesson.team_id == bindparam("team_id"))
    if of_client:
        query = query.where(Lesson.client_id == bindparam("client_id"))
    return query.order_by(Lesson.id.desc()).limit(bindparam("limit"))


def count(session: Session, team_id: str, *, client_id: int | None = None) -> int:
    query = select(func.count()).select_from(Lesson).where(Lesson.team_id == team_id)
    if client_id is not None:
        query = query.where(Lesson.client_id == client_id)
    return session.scalar(query) or 0


def tied_to_changes(session: Session, team_id: str, change_ids: Sequence[int], *, limit: int) -> list[Lesson]:
    """The lessons tied to any of `change_ids`, in the order of `change_ids` (then newest first)."""
    if not change_ids:
        return []
    found = list(session.scalars(select(Lesson).where(Lesson.team_id == team_id, Lesson.change_id.in_(change_ids))
                                 .order_by(Lesson.id.desc())))
    position = {change_id: i for i, change_id in enumerate(change_ids)}
    return sorted(found, key=lambda lesson: position[lesson.change_id])[:limit]


# -- search ----------------------------------------------------------------------------------------------------

def search_words(words: str) -> list[str]:
    """The words a search looks for: letters and digits only, lower case, without common English words and
    repeats, at most MAX_WORDS."""
    kept = [word for word in (w.lower() for w in _WORD.findall(words or "")) if word not in STOP_WORDS]
    return list(dict.fromkeys(kept))[:MAX_WORDS]


def search(session: Session, team_id: str, words: str, *, client_id: int | None = None, any_word: bool = False,
           limit: int = SEARCH_LIMIT) -> list[Lesson]:
    """The lessons matching `words` (each of them; with `any_word`, any of them), best first, ties newest
    first. Words nothing can be searched for: a UserError (nothing to search for is not "no match")."""
    terms = search_words(words)
    if not terms:
        raise UserError(NOTHING_TO_SEARCH.format(" ".join((words or "").split())[:80]), field="words")
    query, rank = _matching(session, team_id, terms, client_id=client_id, any_word=any_word)
    return list(session.scalars(query.order_by(rank, Lesson.id.desc()).limit(limit)))


def search_count(session: Session, team_id: str, words: str, *, client_id: int | None = None,
                 any_word: bool = False) -> int:
    """How many lessons `search` would find without a limit (0 when there is nothing to search for)."""
    terms = search_words(words)
    if not terms:
        return 0
    query, _ = _matching(session, team_id, terms, client_id=client_id, any_word=any_word)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def _matching(session: Session, team_id: str, terms: list[str], *, client_id: int | None, any_word: bool):
    """select(Lesson) restricted to the matches, and the ORDER BY term that puts the best first."""
    query = select(Lesson).where(Lesson.team_id == team_id)
    if client_id is not None:
        query = query.where(Lesson.client_id == client_id)
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # Each word a quoted FTS5 string: the tokenizer still stems it ("delays" finds "delayed"), and no
        # character of it is FTS5 syntax (the words hold letters and digits only).
        match = (" OR " if any_word else " AND ").join(f'"{term}"' for term in terms)
        query = (query.join(_FTS, _FTS.c.rowid == Lesson.id)
                 .where(text("lessons_fts MATCH :match").bindparams(match=match)))
        return query, func.bm25(literal_column("lessons_fts"))  # lower is better
    if dialect == "postgresql":
        english = literal_column("'english'::regconfig")
        parts = [func.plainto_tsquery(english, term) for term in terms]
        tsquery = parts[0]
        for part in parts[1:]:
            tsquery = tsquery.op("||" if any_word else "&&")(part)
        document = literal_column("lessons.search")
        query = query.where(document.op("@@")(tsquery))
        return query, func.ts_rank_cd(document, tsquery).desc()
    # Any other database: every word as a case-insensitive substring (no stemming, newest first).
    likes = [Lesson.text.ilike(f"%{_like_escape(term)}%", escape="\\") for term in terms]
    return query.where(or_(*likes) if any_word else and_(*likes)), Lesson.id.desc()


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- under a new schedule change -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LessonsBefore:
    """What was learned before, for whoever logs a new schedule change."""

    tied: list[Lesson]  # tied to the client's earlier changes: the same item's first
    matching: list[Lesson]  # whose words match the new reason: the client's first, then other clients'
    changes: dict[int, ScheduleChange]  # the changes they came from, by id
    clients: dict[int, Client]  # the clients they are about, by id
    terms: list[str]  # the reason's words that were searched for

    def __bool__(self) -> bool:
        return bool(self.tied or self.matching)


def lessons_before(session: Session, client: Client, change: ScheduleChange, *, tied_limit: int = 5,
                   match_limit: int = 3) -> LessonsBefore:
    earlier = list(session.scalars(select(ScheduleChange).where(
        ScheduleChange.team_id == client.team_id, ScheduleChange.client_id == client.id,
        ScheduleChange.id < change.id).order_by(ScheduleChange.id.desc())))
    same_item = [c for c in earlier if c.item.lower() == change.item.lower()]
    ordered = [c.id for c in same_item] + [c.id for c in earlier if c.item.lower() != change.item.lower()]
    tied = tied_to_changes(session, client.team_id, ordered, limit=tied_limit)

    matching: list[Lesson] = []
    seen = {lesson.id for lesson in tied}
    terms = search_words(change.reason)
    if terms:
        for scope in (client.id, None):  # this client's first, then anyone's
            for lesson in search(session, client.team_id, change.reason, client_id=scope, any_word=True,
                                 limit=match_limit + len(seen)):
                if lesson.id not in seen and len(matching) < match_limit:
                    matching.append(lesson)
                    seen.add(lesson.id)
    found = tied + matching
    change_ids = {lesson.change_id for lesson in found if lesson.change_id}
    changes = ({c.id: c for c in session.scalars(select(ScheduleChange).where(ScheduleChange.id.in_(change_ids)))}
               if change_ids else {})
    client_ids = {lesson.client_id for lesson in found}
    clients = ({c.id: c for c in session.scalars(select(Client).where(Client.id.in_(client_ids)))}
               if client_ids else {})
    return LessonsBefore(tied, matching, changes, clients, terms)
