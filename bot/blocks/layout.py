"""The few Block Kit blocks every message is made of, kept within Slack's limits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from slack_sdk.models.blocks import ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks import text as t

MAX_BLOCKS = 50


def section(markdown: str) -> dict[str, Any]:
    return SectionBlock(text=MarkdownTextObject(text=t.clip(markdown, t.SECTION_LIMIT))).to_dict()


def context(*markdown: str) -> dict[str, Any]:
    elements = [MarkdownTextObject(text=t.clip(m, t.CONTEXT_LIMIT)) for m in markdown if m][:10]
    return ContextBlock(elements=elements).to_dict()


def header(text: str) -> dict[str, Any]:
    return HeaderBlock(text=t.plain(text, 150)).to_dict()


def divider() -> dict[str, Any]:
    return DividerBlock().to_dict()


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
