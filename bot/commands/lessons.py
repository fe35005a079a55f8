"""Lessons learned: `/cmo lesson`, `/cmo lessons`."""

from __future__ import annotations

SUBCOMMANDS = ()
TOPICS = ()
