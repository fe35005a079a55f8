"""What `/cmo contact ...` and `/cmo contacts` answer, the hint after logging `with:` an unknown name, and
how history words a contact's events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.history import event_line
from bot.blocks.layout import context, header, packed_sections, section
from bot.db.models import AuditEvent, Client, Contact, Interaction
from bot.services.contacts import LastContact, Seen, days_silent

AMBER = ":large_orange_circle:"
GREEN = ":large_green_circle:"
FIELD_LABELS = {"name": "name", "role": "role", "peer_user_id": "our peer"}


def client_name(client: Client) -> str:
    return f"*{t.user_text(client.name, 200)}* (`{client.key}`)"


def contact_name(name: str) -> str:
    return f"*{t.user_text(name, 200)}*"


def role_text(role: str | None) -> str:
    return t.user_text(role, 100) if role else "no role given"


def peer_text(peer_user_id: str | None) -> str:
    return f"our peer {t.user(peer_user_id)}" if peer_user_id else "no peer named"


def _value(name: str, value: Any) -> str:
    if name == "peer_user_id":
        return t.user(value) if value else "none"
    return t.user_text(str(value), 200) if value else "none"


def contact_added(client: Client, contact: Contact, linked: int) -> Message:
    lines = [f":white_check_mark: Added {contact_name(contact.name)} to {client_name(client)}'s contacts: "
             f"{role_text(contact.role)} · {peer_text(contact.peer_user_id)}."]
    hints = []
    if linked:
        hints.append(f"{linked} earlier interaction{'s' if linked != 1 else ''} with them "
                     f"{'are' if linked != 1 else 'is'} now linked to them.")
    if not contact.peer_user_id:
        hints.append(t.escape(f'Name our peer for them: /cmo contact set {client.key} "{contact.name}" peer:@someone'))
    hints.append(t.escape(f'Log contact with them: /cmo log {client.key} call <summary> with:"{contact.name}"'))
    return Message(text=f"Added {contact.name} to {client.name}'s contacts",
                   blocks=[section("\n".join(lines)), context(*hints)])


def contact_updated(client: Client, contact: Contact, changed: dict[str, tuple[Any, Any]]) -> Message:
    if not changed:
        message = f"Nothing changed: {contact.name} already has those details."
        return Message(text=message, blocks=[section(t.escape(message))])
    lines = [f"• {FIELD_LABELS[k]}: {_value(k, old)} → {_value(k, new)}" for k, (old, new) in changed.items()]
    return Message(text=f"Updated {contact.name} ({client.name})", blocks=[
        section(f":white_check_mark: Updated {contact_name(contact.name)} of {client_name(client)}\n"
                + "\n".join(lines))])


def contact_archived(client: Client, contact: Contact) -> Message:
    message = (f":file_cabinet: Archived {contact_name(contact.name)} from {client_name(client)}'s contacts. "
               "Interactions with them keep their name.")
    return Message(text=f"Archived {contact.name} ({client.name})", blocks=[
        section(message), context(t.escape(f"History: /cmo history {client.key}"))])


def last_text(last: Seen | None, today: dt.date, cadence_days: int) -> str:
    """The latest contact, and how long it has been silent: amber when longer than the cadence."""
    if last is None:
        return f"{AMBER} no contact logged with them yet"
    silent = days_silent(last, today) or 0
    icon = AMBER if silent > cadence_days else GREEN
    return (f"{icon} last contact {t.day(last.occurred_on)}, {last.kind} by {t.user(last.logged_by)} · "
            f"silent for {silent} day{'s' if silent != 1 else ''}")


def contacts_list(client: Client, contacts: Sequence[Contact], last: dict[int, LastContact],
                  today: dt.date) -> Message:
    title = f"{client.name}'s contacts ({len(contacts)})"
    if not contacts:
        message = f"{client.name} has no contacts yet."
        return Message(text=message, blocks=[
            section(t.escape(message)),
            context(t.escape(f'Add one: /cmo contact add {client.key} "<name>" role:"QA" peer:@someone'))])
    lines = [f"{contact_name(c.name)} · {role_text(c.role)} · {peer_text(c.peer_user_id)}\n"
             f"      {last_text(last[c.id].any, today, client.cadence_days)}" for c in contacts]
    return Message(text=title, blocks=[
        header(title), *packed_sections(lines),
        context(f"{AMBER} silent for longer than the cadence ({t.cadence(client.cadence_days)}) · "
                + t.escape(f"peer coverage: /cmo status {client.key}"))])


def unknown_contact_hint(client: Client, interaction: Interaction, close: Sequence[Contact]) -> str:
    """After logging `with:` a name that is not one of the client's contacts (kept as typed)."""
    typed = t.escape(interaction.contact_name or "")
    if close:
        best = close[0].name.replace('"', "'")
        return (f"“{typed}” is not one of {t.escape(client.name)}'s contacts — did you mean "
                + " or ".join(f"“{t.escape(c.name)}”" for c in close)
                + f"? Fix it with `/cmo edit #i{interaction.id} with:\"{t.escape(best)}\" "
                "reason:\"the known contact\"`")
    name = (interaction.contact_name or "").replace('"', "'")
    return (f"“{typed}” is not one of {t.escape(client.name)}'s contacts (kept as typed). Add them with "
            + t.escape(f"`/cmo contact add {client.key} \"{name}\" role:\"<function>\" peer:@someone`"))


# -- history ---------------------------------------------------------------------------------------------

def _linked(after: dict[str, Any]) -> str:
    count = len(after.get("linked_interactions") or [])
    return f"; linked {count} earlier interaction{'s' if count != 1 else ''} with them" if count else ""


@event_line("contact.add")
def _added(event: AuditEvent) -> str:
    after = event.after or {}
    return (f"added contact {contact_name(str(after.get('name', '')))} ({role_text(after.get('role'))}, "
            f"{peer_text(after.get('peer_user_id'))}){_linked(after)}")


@event_line("contact.update")
def _updated(event: AuditEvent) -> str:
    before, after = event.before or {}, event.after or {}
    changes = [f"{FIELD_LABELS.get(k, t.escape(k))} {_value(k, before.get(k))} → {_value(k, after.get(k))}"
               for k in after if k != "linked_interactions" and before.get(k) != after.get(k)]
    return (f"changed contact {contact_name(str(before.get('name', '')))}: " + ("; ".join(changes) or "nothing")
            + _linked(after))


@event_line("contact.archive")
def _archived(event: AuditEvent) -> str:
    return f"archived contact {contact_name(str((event.before or {}).get('name', '')))}"
