"""The client's people and our peers: `/cmo contact add|set|archive`, `/cmo contacts`."""

from __future__ import annotations

SUBCOMMANDS = ()
TOPICS = ()
