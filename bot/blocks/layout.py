"""The few Block Kit blocks every message is made of, kept within Slack's limits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.blocks import text as t

MAX_BLOCKS = 50
HEADER_LIMIT = 150  # characters in a header's text


# Sections, contexts, headers and dividers make most of every message. They are the very dicts slack_sdk's
# SectionBlock and ContextBlock of MarkdownTextObjects, HeaderBlock and DividerBlock give (tests/test_blocks.py
# holds them to it over generated text),
# written out because the models' validation, which walks every attribute by reflection at each to_dict(),
# cost more than the rest of a reply (0.1-0.2 ms a block; most of a 10,000-client stale-nudges scan). What
# it checks cannot fail here: every text is clipped to Slack's limits first.

def _mrkdwn(markdown: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": markdown} if markdown else {"type": "mrkdwn"}  # as the model: "" left out


def section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(t.clip(markdown, t.SECTION_LIMIT))}


def context(*markdown: str) -> dict[str, Any]:
    elements = [_mrkdwn(t.clip(m, t.CONTEXT_LIMIT)) for m in markdown if m][:10]
    return {"type": "context", "elements": elements} if elements else {"type": "context"}


def header(text: str) -> dict[str, Any]:
    plain = t.plain(text, HEADER_LIMIT)
    if not plain:
        raise ValueError("a header needs text")  # as HeaderBlock would refuse it
    return {"type": "header", "text": {"type": "plain_text", "text": plain, "emoji": True}}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def packed_sections(lines: Iterable[str], max_sections: int = MAX_BLOCKS - 5) -> list[dict[str, Any]]:
    """Lines packed into as few sections as Slack's 3,000-character limit allows."""
    blocks: list[dict[str, Any]] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = t.clip(line, t.SECTION_LIMIT)
        if current and size + len(line) + 1 > t.SECTION_LIMIT:
            blocks.append(section("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        blocks.append(section("\n".join(current)))
    if len(blocks) > max_sections:
        blocks = blocks[: max_sections - 1] + [section("_…and more._")]
    return blocks
