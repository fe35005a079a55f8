"""A database of its own for a benchmark, migrated to the latest revision: a new SQLite file in a new temporary
directory (removed after), or a schema of its own in the PostgreSQL database given (dropped after). Its URL
(`database.url`, the schema on the search path) is what the benchmark's subprocesses get as DATABASE_URL."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db import Database


@contextmanager
def scratch_database(url: str | None) -> Iterator[Database]:
    admin, schema, directory = None, None, None
    if url is None:
        directory = tempfile.mkdtemp(prefix="rapport-bench-db-")
        url = f"sqlite:///{directory}/bench.db"
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
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
