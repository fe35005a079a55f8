"""Edits that keep history: a schedule change or an interaction corrected, with a required reason. The
previous version is kept by the audit event (`before` holds the old values, `after` the new ones and the
reason); the audit trail is append-only and hash-chained, so what was recorded before is never obscured."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import INTERACTION_KINDS, Client, Interaction, ScheduleChange
from bot.errors import UserError
from bot.services import Actor, audit
from bot.services import changes as change_service
from bot.services import contacts as contact_service
from bot.services import interactions as interaction_service

INTERACTION_MISSING = "There is no interaction #i{}. `/cmo history <client>` shows the interactions with their ids."
MAX_REASON = 2000


def get_interaction(session: Session, team_id: str, interaction_id: int) -> Interaction:
    interaction = session.scalar(select(Interaction).where(Interaction.team_id == team_id,
                                                           Interaction.id == interaction_id))
    if interaction is None:
        raise UserError(INTERACTION_MISSING.format(interaction_id), field="record")
    return interaction


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise UserError('A reason is required: an edit never rewrites a record unexplained. Add reason:"<why>".',
                        field="reason")
    if len(reason) > MAX_REASON:
        raise UserError(f"The reason can be at most {MAX_REASON:,} characters.", field="reason")
    return reason


def _apply(session: Session, actor: Actor, action: str, record: Any, fields: tuple[str, ...],
           values: dict[str, Any], reason: str, client_id: int) -> dict[str, Any]:
    """Sets the values; audits the fields that changed (before: their old values; after: the new ones and
    the reason). Returns {field: (old, new)} as audited; a UserError if nothing changes."""
    changed = {name: value for name, value in values.items() if getattr(record, name) != value}
    if not changed:
        raise UserError("Nothing changes: the record already says that.")
    before_all = audit.snapshot(record, fields)
    for name, value in changed.items():
        setattr(record, name, value)
    after_all = audit.snapshot(record, fields)
    audit.record(session, actor, action, record, client_id=client_id,
                 before={name: before_all[name] for name in changed},
                 after={**{name: after_all[name] for name in changed}, "edit_reason": reason})
    return {name: (before_all[name], after_all[name]) for name in changed}


def edit_change(session: Session, actor: Actor, change: ScheduleChange, values: dict[str, Any],
                reason: str) -> dict[str, Any]:
    reason = _check_reason(reason)
    client = session.get(Client, change.client_id)
    if client is not None and client.is_archived:
        raise UserError(f"{client.name} is archived; its records are kept as they are.", field="record")
    if "item" in values and not (values["item"] or "").strip():
        raise UserError("The item can't be empty.", field="item")
    if "item" in values and len(values["item"]) > 300:
        raise UserError("The item can be at most 300 characters.", field="item")
    if "reason" in values and not (values["reason"] or "").strip():
        raise UserError("The change's cause can't be empty.", field="cause")
    return _apply(session, actor, "change.edit", change, change_service.AUDITED_FIELDS, values, reason,
                  change.client_id)


def edit_interaction(session: Session, actor: Actor, interaction: Interaction, values: dict[str, Any],
                     reason: str, today: dt.date) -> dict[str, Any]:
    reason = _check_reason(reason)
    client = session.get(Client, interaction.client_id)
    if client is not None and client.is_archived:
        raise UserError(f"{client.name} is archived; its records are kept as they are.", field="record")
    if "kind" in values and values["kind"] not in INTERACTION_KINDS:
        raise UserError(f"`{values['kind']}` is not a kind of interaction: use {', '.join(INTERACTION_KINDS)}.",
                        field="kind")
    if "summary" in values:
        values["summary"] = (values["summary"] or "").strip()
        if not values["summary"]:
            raise UserError("The summary can't be empty.", field="summary")
        if len(values["summary"]) > interaction_service.MAX_SUMMARY:
            raise UserError(f"Keep the summary under {interaction_service.MAX_SUMMARY:,} characters.",
                            field="summary")
    if values.get("occurred_on") is not None and values["occurred_on"] > today:
        raise UserError(f"`on:` is {values['occurred_on']:%a %Y-%m-%d}, in the future.", field="on")
    if values.get("contact_name") is not None and len(values["contact_name"]) > 200:
        raise UserError("`with:` can be at most 200 characters.", field="with")
    if "contact_name" in values and client is not None:  # `with:` linked again: a known contact, or free text
        values["contact_name"], interaction.contact_id = contact_service.link_for(session, client,
                                                                                  values["contact_name"])
    return _apply(session, actor, "interaction.edit", interaction, interaction_service.AUDITED_FIELDS, values,
                  reason, interaction.client_id)
