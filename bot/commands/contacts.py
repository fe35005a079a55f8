"""The client's people and our peers: `/cmo contact add|set|archive`, `/cmo contacts`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.blocks import Message
from bot.blocks import contacts as contact_blocks
from bot.blocks.forms import client_field, modal, text_field, user_field
from bot.blocks.layout import context
from bot.commands.context import Context
from bot.commands.registry import Form, FormValues, HelpTopic, Subcommand
from bot.errors import UserError
from bot.parsing import fields
from bot.parsing.grammar import joined, optional, split_options
from bot.parsing.tokens import Token, parse_user
from bot.services import contacts as contact_service

TOPIC = HelpTopic("contact", "Contacts and peers", (
    "A client's people — QA, supply chain, regulatory, project, executive... — each with our *peer*: the person "
    "on our side who talks to them (peer-to-peer at every level, not only through the account owner).",
    "`with:\"<name>\"` on `/cmo log` links the interaction to a known contact (any case); an unknown name is kept "
    "as typed, with a suggestion when it is close to a known one.",
    "`/cmo status <client>` shows *peer coverage*: each contact, our peer and their last contact; amber when "
    "silent for longer than the client's cadence. A client with no contact at executive level (a role like "
    "CEO, VP, president, executive, head of site) in the last 90 days is called out.",
    "`/cmo contact set acme \"Dr. Jane Roe\" role:\"Head of QA\" peer:@bob` changes a contact (`name:` renames, "
    "`peer:none` clears our peer); `/cmo contact archive acme \"Dr. Jane Roe\"` when they leave.",
), aliases=("contacts", "peer", "peers"))
CHOOSE_CLIENT = "Choose a client."
NAME_MISSING = "Give the contact's name, like `\"Dr. Jane Roe\"`."


def _client_and_name(words: list[Token]) -> tuple[str, str]:
    if not words:
        raise UserError("Give the client and the contact's name.", field="client")
    name = joined(words[1:])
    if not name:
        raise UserError(NAME_MISSING, field="name")
    return words[0].value, name


def _peer(value: str) -> str:
    return parse_user(value, option="peer")


# -- contact add -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContactAdd:
    client: str
    name: str
    role: str | None = None
    peer: str | None = None


def parse_contact_add(tokens: list[Token]) -> ContactAdd:
    words, options = split_options(tokens, ("role", "peer"), strict=True)
    client, name = _client_and_name(words)
    return ContactAdd(client=client, name=name, role=options.get("role"),
                      peer=_peer(options["peer"]) if "peer" in options else None)


def add_contact(command: ContactAdd, ctx: Context) -> Message:
    client = ctx.client(command.client)
    contact, linked = contact_service.add_contact(ctx.session, ctx.actor, client, name=command.name,
                                                  role=command.role, peer_user_id=command.peer)
    return contact_blocks.contact_added(client, contact, linked)


def contact_add_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return modal("contact add", title="Add a contact", submit="Add", metadata=metadata, blocks=[
        client_field(),
        text_field("name", "Name", optional=False, placeholder="Dr. Jane Roe", max_length=200),
        text_field("role", "Function", placeholder="QA, supply chain, regulatory, project, executive…",
                   max_length=100),
        user_field("peer", "Our peer", hint="Who on our side talks to them."),
    ])


def read_contact_add(values: FormValues) -> ContactAdd:
    return ContactAdd(client=fields.required_field(values, "client", CHOOSE_CLIENT),
                      name=fields.required_field(values, "name", NAME_MISSING),
                      role=fields.field_value(values, "role"), peer=fields.user_field(values, "peer"))


CONTACT_ADD = Subcommand(
    name="contact add", usage='/cmo contact add <client> "<name>" [role:"<function>"] [peer:@user]',
    command=ContactAdd, parse=parse_contact_add, run=add_contact, topic=TOPIC.key,
    form=Form(open=lambda ctx, request: contact_add_modal(request.metadata), read=read_contact_add,
              title="Add a contact"),
)


# -- contact set -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContactSet:
    client: str
    name: str
    changes: dict[str, str | None] = field(default_factory=dict)  # only what was given; None clears


def parse_contact_set(tokens: list[Token]) -> ContactSet:
    words, options = split_options(tokens, ("role", "peer", "name"), strict=True)
    client, name = _client_and_name(words)
    if not options:
        raise UserError('Say what to change: `role:"<function>"`, `peer:@user` (or `peer:none`) or '
                        '`name:"<new name>"`.')
    changes: dict[str, str | None] = {}
    if "name" in options:
        changes["name"] = options["name"]
    if "role" in options:
        changes["role"] = optional(options["role"], str)
    if "peer" in options:
        changes["peer_user_id"] = optional(options["peer"], _peer)
    return ContactSet(client=client, name=name, changes=changes)


def set_contact(command: ContactSet, ctx: Context) -> Message:
    client = ctx.client(command.client)
    contact = contact_service.get_contact(ctx.session, client, command.name)
    changed = contact_service.update_contact(ctx.session, ctx.actor, client, contact, command.changes)
    return contact_blocks.contact_updated(client, contact, changed)


def contact_set_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return modal("contact set", title="Change a contact", submit="Save", metadata=metadata, blocks=[
        client_field(),
        text_field("name", "Contact", optional=False, placeholder="Dr. Jane Roe", max_length=200),
        context("Fill in only what changes."),
        text_field("new_name", "New name", max_length=200),
        text_field("role", "New function", placeholder="QA, supply chain, executive…", max_length=100),
        user_field("peer", "New peer"),
    ])


def read_contact_set(values: FormValues) -> ContactSet:
    changes: dict[str, str | None] = {}
    new_name, role, peer = (fields.field_value(values, "new_name"), fields.field_value(values, "role"),
                            fields.user_field(values, "peer"))
    if new_name:
        changes["name"] = new_name
    if role:
        changes["role"] = role
    if peer:
        changes["peer_user_id"] = peer
    if not changes:
        raise UserError("Fill in at least one thing to change.", field="new_name")
    return ContactSet(client=fields.required_field(values, "client", CHOOSE_CLIENT),
                      name=fields.required_field(values, "name", NAME_MISSING), changes=changes)


CONTACT_SET = Subcommand(
    name="contact set",
    usage='/cmo contact set <client> "<name>" role:"<function>" | peer:@user | peer:none | name:"<new name>"',
    command=ContactSet, parse=parse_contact_set, run=set_contact, topic=TOPIC.key,
    form=Form(open=lambda ctx, request: contact_set_modal(request.metadata), read=read_contact_set,
              title="Change a contact"),
)


# -- contact archive -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContactArchive:
    client: str
    name: str


def parse_contact_archive(tokens: list[Token]) -> ContactArchive:
    words, _ = split_options(tokens, (), strict=True)
    client, name = _client_and_name(words)
    return ContactArchive(client=client, name=name)


def archive_contact(command: ContactArchive, ctx: Context) -> Message:
    client = ctx.client(command.client)
    contact = contact_service.get_contact(ctx.session, client, command.name)
    return contact_blocks.contact_archived(client, contact_service.archive_contact(ctx.session, ctx.actor, client,
                                                                                   contact))


def contact_archive_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return modal("contact archive", title="Archive a contact", submit="Archive", metadata=metadata, blocks=[
        client_field(),
        text_field("name", "Contact", optional=False, placeholder="Dr. Jane Roe", max_length=200),
        context("An archived contact keeps their interactions; they are no longer in peer coverage."),
    ])


CONTACT_ARCHIVE = Subcommand(
    name="contact archive", usage='/cmo contact archive <client> "<name>"',
    command=ContactArchive, parse=parse_contact_archive, run=archive_contact, topic=TOPIC.key,
    form=Form(open=lambda ctx, request: contact_archive_modal(request.metadata),
              read=lambda values: ContactArchive(client=fields.required_field(values, "client", CHOOSE_CLIENT),
                                                 name=fields.required_field(values, "name", NAME_MISSING)),
              title="Archive a contact"),
)


# -- contacts --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Contacts:
    client: str


def parse_contacts(tokens: list[Token]) -> Contacts:
    client = joined(tokens)
    if not client:
        raise UserError("Say whose contacts: `/cmo contacts <client>`.", field="client")
    return Contacts(client=client)


def list_contacts(command: Contacts, ctx: Context) -> Message:
    client = ctx.client(command.client, allow_archived=True)
    contacts, last = contact_service.contacts_with_last(ctx.session, client)
    return contact_blocks.contacts_list(client, contacts, last, ctx.today_for(client))


CONTACTS = Subcommand(name="contacts", usage="/cmo contacts <client>", command=Contacts,
                      reads_only=True, parse=parse_contacts,
                      run=list_contacts, topic=TOPIC.key)

SUBCOMMANDS = (CONTACT_ADD, CONTACT_SET, CONTACT_ARCHIVE, CONTACTS)
TOPICS = (TOPIC,)
