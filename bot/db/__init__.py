"""Rapport's database: models, engine and sessions, migrations."""

from bot.db.session import Database

__all__ = ["Database"]
