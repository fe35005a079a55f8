"""A database of its own for a benchmark: a new SQLite file, or a schema of its own in the PostgreSQL database
given (dropped after), migrated to the latest revision."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db import Database


@contextmanager
def scratch_database(url: str | None) -> Iterator[Database]:
    url, admin, schema = url or f"sqlite:///{tempfile.mkdtemp()}/bench.db", None, None
    if make_url(url).get_backend_name() == "postgresql":
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        schema = f"rapport_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    database = Database.for_jobs(url)
    try:
        database.upgrade()
        yield database
    finally:
        database.dispose()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
