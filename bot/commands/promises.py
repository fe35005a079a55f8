"""Promises: `/cmo promise`, `/cmo promise move`, `/cmo promises`, `/cmo done`."""

from __future__ import annotations

SUBCOMMANDS = ()
TOPICS = ()
