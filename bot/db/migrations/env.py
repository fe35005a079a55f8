"""Alembic environment: uses the engine handed over by bot.db.migrate, else sqlalchemy.url."""

import warnings

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.exc import SAWarning

from bot.db.models import Base

config = context.config
target_metadata = Base.metadata
# SQLite's reflection cannot read indexes on expressions (lower(name)); autogenerate leaves them to the
# migrations there, and compares them on PostgreSQL.
warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index",
                        category=SAWarning)
warnings.filterwarnings("ignore", message="autogenerate skipping metadata-specified expression-based index")


# Full-text search lives outside the models, in migration 0009: SQLite's FTS5 table (and its shadow tables)
# and PostgreSQL's generated `lessons.search` column with its index. Autogenerate leaves them alone.
FULL_TEXT_SEARCH = ("lessons_fts", "ix_lessons_search")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if name and name.startswith(FULL_TEXT_SEARCH):
        return False
    return not (type_ == "column" and name == "search" and obj.table.name == "lessons")


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True,
                      include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"),
                                                               hide_parameters=True)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
