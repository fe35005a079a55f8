"""Block Kit as readable terminal text (pure functions)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from bot.parsing.tokens import unescape_slack

EMOJI = {
    "large_green_circle": "🟢", "large_orange_circle": "🟠", "red_circle": "🔴", "white_check_mark": "✅",
    "warning": "⚠️", "construction": "🚧", "file_cabinet": "🗄️", "telephone_receiver": "📞",
    "busts_in_silhouette": "👥", "email": "✉️", "factory": "🏭", "memo": "📝", "boom": "💥",
    "rotating_light": "🚨", "calendar": "📅", "repeat": "🔁", "hourglass": "⌛", "bell": "🔔",
    "wave": "👋", "zzz": "💤", "arrow_right": "➡️", "fast_forward": "⏩", "x": "❌", "clock3": "🕒",
    "speaking_head_in_silhouette": "🗣️", "speech_balloon": "💬", "mute": "🔇",
    "bulb": "💡", "alarm_clock": "⏰", "handshake": "🤝", "pencil2": "✏️",
}
_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")


def local_id(prefix: str, name: str) -> str:
    """A Slack-shaped id for a console name (`@ana` -> `U` + base32): reversible, so no directory is needed."""
    return prefix + base64.b32encode(name.lower().encode()).decode().rstrip("=")


def local_name(slack_id: str) -> str | None:
    body = slack_id[1:]
    try:
        name = base64.b32decode(body + "=" * (-len(body) % 8)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return name if re.fullmatch(r"[a-z0-9._-]+", name) else None


def posted_in(channel_id: str | None) -> str:
    """Where a chat.postMessage went: a channel (`#acme-internal`), or a person's direct messages (a user id
    as the channel: `→ DM @ana`)."""
    channel_id = channel_id or ""
    if re.fullmatch(r"[UW][A-Z0-9]+", channel_id):
        return "→ DM " + mrkdwn(f"<@{channel_id}>")
    return "in " + mrkdwn(f"<#{channel_id}>")


def mrkdwn(text: str) -> str:
    """Slack's mrkdwn to plain text: mentions and links readable, entities undone, emoji drawn."""

    def link(match: re.Match) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@") or target.startswith("#"):
            name = label or local_name(target[1:]) or target[1:]
            return target[0] + name
        if target.startswith("!date^"):  # a time Slack shows in the reader's zone: its fallback here
            return label or target
        if target.startswith("!"):
            return "@" + (label or target[1:])
        return f"{label} ({target})" if label else target

    text = _LINK.sub(link, text)
    text = _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text))
    text = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)
    return unescape_slack(text)


def _text(obj: dict[str, Any] | None) -> str:
    if not obj:
        return ""
    return mrkdwn(obj["text"]) if obj.get("type") == "mrkdwn" else obj.get("text", "")


def _element(element: dict[str, Any]) -> str:
    kind = element.get("type", "")
    if kind == "button":
        return f"[{_text(element.get('text'))}]"
    if kind in ("mrkdwn", "plain_text"):
        return _text(element)
    if kind == "static_select" and element.get("options"):
        choices = " / ".join(_text(option.get("text")) for option in element["options"])
        return f"[{_text(element.get('placeholder')) or 'Choose'} {choices} ▾]"
    return f"<{kind}>"


def blocks(items: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for block in items:
        kind = block.get("type")
        if kind == "header":
            title = _text(block.get("text"))
            lines += [title, "=" * len(title)]
        elif kind == "section":
            if block.get("text"):
                lines.append(_text(block["text"]))
            for field in block.get("fields") or []:
                lines.append(_text(field))
            if block.get("accessory"):
                lines.append(_element(block["accessory"]))
        elif kind == "context":
            lines.append("  " + "  ·  ".join(_element(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("-" * 40)
        elif kind == "actions":
            lines.append("  ".join(_element(e) for e in block.get("elements", [])))
        elif kind == "input":
            optional = " (optional)" if block.get("optional") else ""
            element = block.get("element", {})
            shown = element.get("initial_value") or element.get("initial_date") or ""
            shown = f": {shown[:60]}" if shown else ""
            lines.append(f"  [{_text(block.get('label'))}{optional}] <{element.get('type')}>{shown}")
    return "\n".join(lines)


def message(text: str | None, items: list[dict[str, Any]] | None) -> str:
    return blocks(items) if items else mrkdwn(text or "")


def view(view: dict[str, Any]) -> str:
    title = _text(view.get("title"))
    body = blocks(view.get("blocks", []))
    submit = f"\n  [{_text(view['submit'])}]" if view.get("submit") else ""
    return f"┌ {title} (form)\n{body}{submit}"
