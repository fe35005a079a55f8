"""The identifiers Slack sends back to us: a button's `action_id`, a view's or a shortcut's `callback_id`.
One definition each; the blocks that carry them, the handlers that listen for them, the manifest and
the tests all use these."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    VALUE = "value"  # every form input's own (the block_id names the field)
    CLIENT_PICKER = "client_picker"  # the client select, whose options load as one types
    MARK_TOLD = "change_told"
    DRAFT = "change_draft"
    LOG_CONTACT = "client_log_contact"  # on a stale-contact nudge: the log form, for that client
    SNOOZE = "client_snooze"  # on a stale-contact nudge: no more nudges for a while
    ADD_TO_CALENDAR = "meeting_calendar"  # on a meeting: its .ics file, sent to whoever pressed it
    LOG_NOTES = "meeting_log_notes"  # after a meeting: the log form, filled with the meeting
    EDIT_RECORD = "record_edit"  # on a schedule change: the edit form for it (value: "#12")
    PROMISE_DONE = "promise_done"  # on a promise's reminder or nudge: mark it done (value: its id)


class CallbackId(StrEnum):
    FORM_PREFIX = "cmo:"  # + a subcommand's name: its form
    DRAFT = "change_draft"  # the message to the client
    MESSAGE_SHORTCUT = "log_message"  # "Log client interaction" on a message


def callback_id(subcommand: str) -> str:
    return f"{CallbackId.FORM_PREFIX}{subcommand}"
