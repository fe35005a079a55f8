"""Contacts and peers end to end (issue 12, part 3): `/cmo contact add|set|archive`, `/cmo contacts`, `with:` on
`/cmo log` and `/cmo edit` linking a known contact, peer coverage in `/cmo status`, history lines. Signed slash
commands and modal submissions into the real endpoint; what the user reads, and the rows written (or not)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.db.models import AuditEvent, Contact, Interaction
from tests.commands_support import (
    assert_error,
    assert_no_raw_markup,
    interactions,
    mention,
    mrkdwn_texts,
    opened_form,
    reply,
    row_counts,
    rows,
    shown,
    today_utc,
    typed,
    unescape,
)
from tests.slackhttp import external_select, message_text, text_input, user_select

ANA = mention("U0ANA", "ana")
BOB = mention("U0BOB", "bob")
CAROL = mention("U0CAROL", "carol")
FORMS = {
    "contact add": '/cmo contact add <client> "<name>" [role:"<function>"] [peer:@user]',
    "contact set": '/cmo contact set <client> "<name>" role:"<function>" | peer:@user | peer:none | '
                   'name:"<new name>"',
    "contact archive": '/cmo contact archive <client> "<name>"',
    "contacts": "/cmo contacts <client>",
    "edit": '/cmo edit #<id> <field>:<value> reason:"<why>"',
}
AMBER, GREEN = ":large_orange_circle:", ":large_green_circle:"
NO_EXEC = "No contact at executive level in the last quarter"


def day(date: dt.date) -> str:
    return f"{date:%a %Y-%m-%d}"


@pytest.fixture
def acme(bot):
    """Acme Biologics GmbH (`acme`, owner ana, cadence 2w), Beta Labs (`beta`) and Old Co (`old`, archived)."""
    for text in (f'client add "Acme Biologics GmbH" key:acme owner:{ANA} cadence:2w',
                 f'client add "Beta Labs" key:beta owner:{BOB}',
                 'client add "Old Co" key:old'):
        assert "Added" in shown(bot.command(text))
    assert "Archived" in shown(bot.command("client archive old"))
    return bot


def contacts(database, *, active_only: bool = False) -> list[Contact]:
    query = select(Contact).order_by(Contact.id)
    if active_only:
        query = query.where(Contact.archived_at.is_(None))
    with database.transaction() as session:
        return list(session.scalars(query))


def events(database, prefix: str = "contact.") -> list[AuditEvent]:
    return rows(database, AuditEvent, AuditEvent.action.startswith(prefix))


def audit_of(database, action: str) -> list[AuditEvent]:
    return rows(database, AuditEvent, AuditEvent.action == action)


def counts(database) -> tuple[int, ...]:
    return tuple(row_counts(database, Contact, Interaction, AuditEvent).values())


def add(bot, text: str, **kwargs) -> str:
    text = shown(bot.command("contact add " + text, **kwargs))
    assert "Added" in text, text
    return text


def ago(days: int) -> str:
    return (today_utc() - dt.timedelta(days=days)).isoformat()


# --- contact add ----------------------------------------------------------------------------------------------


def test_contact_add_with_role_and_peer(acme, database):
    text = add(acme, f'acme "Dr. Jane  Roe" role:"Head of QA" peer:{BOB}')
    assert "Added *Dr. Jane Roe* to *Acme Biologics GmbH* (`acme`)'s contacts: Head of QA · our peer <@U0BOB>" in text
    [row] = contacts(database)
    assert (row.name, row.role, row.peer_user_id, row.created_by, row.surface, row.team_id) == (
        "Dr. Jane Roe", "Head of QA", "U0BOB", "U0ANA", "slash_command", "T0ACME")
    assert row.archived_at is None
    [event] = events(database)
    assert (event.action, event.entity_type, event.entity_id, event.before) == ("contact.add", "contacts", row.id, None)
    assert event.after == {"name": "Dr. Jane Roe", "role": "Head of QA", "peer_user_id": "U0BOB", "archived_at": None}


def test_contact_add_with_name_only_suggests_a_peer(acme, database):
    text = add(acme, "acme Sam Lee role:qa")
    assert "*Sam Lee*" in text and "QA · no peer named" in text  # a known abbreviation shown in capitals
    assert '/cmo contact set acme "Sam Lee" peer:@someone' in text
    assert contacts(database)[0].role == "QA"


def test_contact_add_links_earlier_interactions_with_that_name(acme, database):
    shown(acme.command('log acme call Kick-off with:"jane roe"'))
    shown(acme.command('log beta call Other client with:"Jane Roe"'))
    text = add(acme, 'acme "Jane Roe"')
    assert "1 earlier interaction with them is now linked to them." in text
    acme_call, beta_call = interactions(database)
    assert acme_call.contact_id == contacts(database)[0].id and acme_call.contact_name == "jane roe"
    assert beta_call.contact_id is None
    # The audit trail says why the interaction's contact changed.
    assert audit_of(database, "contact.add")[-1].after["linked_interactions"] == [acme_call.id]
    assert "linked 1 earlier interaction with them" in shown(acme.command("history acme"))


@pytest.mark.parametrize("text, fragments", [
    ('acme "Dr. Jane Roe" peer:Jane', ["`peer:Jane` is not a Slack user", "peer:@ana"]),
    ('acme "Dr. Jane Roe" peer:"Dr. Smith"', ["is not a Slack user"]),
    ("acme", ["Give the contact's name"]),
    ('acme ""', ["Give the contact's name"]),
    ('acme "   "', ["Give the contact's name"]),
    ('acme "' + "x" * 201 + '"', ["at most 200 characters"]),
    ('acme "Jane" role:"' + "r" * 101 + '"', ["`role:` can be at most 100 characters"]),
    ('acme "Jane" title:CEO', ["`title:` is not an option here"]),
    ('acme "Jane" peer:', ["`peer:` needs a value"]),
    ('old "Jane"', ["Old Co (`old`) is archived"]),
    ('zzz "Jane"', ["No client matches `zzz`"]),
])
def test_contact_add_bad_input_writes_nothing(acme, database, text, fragments):
    before = counts(database)
    assert_error(acme.command("contact add " + text), *fragments, form=FORMS["contact add"])
    assert counts(database) == before


def test_contact_names_are_unique_per_client_in_any_case(acme, database):
    add(acme, 'acme "Dr. Jane Roe"')
    before = counts(database)
    assert_error(acme.command('contact add acme "dr.  JANE roe" role:CEO'),
                 "Acme Biologics GmbH already has a contact “Dr. Jane Roe”", form=FORMS["contact add"])
    assert counts(database) == before
    add(acme, 'beta "Dr. Jane Roe"')  # another client's people are their own
    shown(acme.command('contact archive acme "Dr. Jane Roe"'))
    add(acme, 'acme "Dr. Jane Roe" role:CEO')  # someone new under an archived contact's name
    assert [c.name for c in contacts(database, active_only=True)] == ["Dr. Jane Roe", "Dr. Jane Roe"]


def test_contact_group_without_an_action(acme):
    assert_error(acme.command("contact"), "Say what to do with contacts", form=None)
    assert_error(acme.command("contact delete acme Jane"), "`contact delete` is not a contact command", form=None)


# --- contact set ------------------------------------------------------------------------------------------------


def test_contact_set_changes_role_and_peer(acme, database):
    add(acme, f'acme "Dr. Jane Roe" role:QA peer:{BOB}')
    text = shown(acme.command(f'contact set acme "dr. jane roe" role:"VP Quality" peer:{CAROL}'))
    assert "Updated *Dr. Jane Roe* of *Acme Biologics GmbH*" in text
    assert "role: QA → VP Quality" in text and "our peer: <@U0BOB> → <@U0CAROL>" in text
    [row] = contacts(database)
    assert (row.role, row.peer_user_id) == ("VP Quality", "U0CAROL")
    update = events(database)[-1]
    assert update.action == "contact.update"
    assert update.before == {"name": "Dr. Jane Roe", "role": "QA", "peer_user_id": "U0BOB"}
    assert update.after == {"name": "Dr. Jane Roe", "role": "VP Quality", "peer_user_id": "U0CAROL"}

    shown(acme.command('log acme call Before the rename with:"jane roe-smith"'))
    text = shown(acme.command('contact set acme "Dr. Jane Roe" peer:none role:none name:"Jane Roe-Smith"'))
    assert "our peer: <@U0CAROL> → none" in text and "name: Dr. Jane Roe → Jane Roe-Smith" in text
    [row] = contacts(database)
    assert (row.name, row.role, row.peer_user_id) == ("Jane Roe-Smith", None, None)
    assert interactions(database)[0].contact_id == row.id  # named with the new name before: linked now

    before = counts(database)
    assert "Nothing changed" in shown(acme.command('contact set acme "Jane Roe-Smith" role:none'))
    assert counts(database) == before


def test_contact_set_an_unknown_contact_suggests_close_names(acme, database):
    add(acme, 'acme "Dr. Jane Roe"')
    add(acme, 'acme "Max Mustermann"')
    before = counts(database)
    text = assert_error(acme.command('contact set acme "Jane Rowe" role:QA'),
                        "“Jane Rowe” is not one of Acme Biologics GmbH's contacts. Did you mean “Dr. Jane Roe”?",
                        form=FORMS["contact set"])
    assert "contacts: “Dr. Jane Roe” or “Max Mustermann”" in text
    assert_error(acme.command('contact set acme Nobody role:QA'), "“Nobody” is not one of", form=FORMS["contact set"])
    assert_error(acme.command('contact set beta "Dr. Jane Roe" role:QA'), "Beta Labs has no contacts yet",
                 "/cmo contact add beta", form=FORMS["contact set"])
    assert counts(database) == before


@pytest.mark.parametrize("text, fragments", [
    ('acme "Dr. Jane Roe"', ["Say what to change"]),
    ('acme "Dr. Jane Roe" peer:jane', ["`peer:jane` is not a Slack user"]),
    ('acme "Dr. Jane Roe" name:"Max Mustermann"', ["already has a contact “Max Mustermann”"]),
    ('acme "Dr. Jane Roe" name:"  "', ["`name:` needs a value"]),
    ('acme role:QA', ["Give the contact's name"]),
    ('old "Dr. Jane Roe" role:QA', ["is archived"]),
])
def test_contact_set_bad_input_writes_nothing(acme, database, text, fragments):
    add(acme, 'acme "Dr. Jane Roe"')
    add(acme, 'acme "Max Mustermann"')
    before = counts(database)
    assert_error(acme.command("contact set " + text), *fragments, form=FORMS["contact set"])
    assert counts(database) == before
    assert contacts(database)[0].name == "Dr. Jane Roe"


# --- contact archive ------------------------------------------------------------------------------------------


def test_contact_archive(acme, database):
    add(acme, f'acme "Dr. Jane Roe" peer:{BOB}')
    text = shown(acme.command('contact archive acme "DR. JANE ROE"'))
    assert "Archived *Dr. Jane Roe* from *Acme Biologics GmbH* (`acme`)'s contacts" in text
    [row] = contacts(database)
    assert row.archived_at is not None and row.archived_by == "U0ANA"
    event = events(database)[-1]
    assert event.action == "contact.archive" and event.before["archived_at"] is None and event.after["archived_at"]
    assert "has no contacts yet" in shown(acme.command("contacts acme"))
    before = counts(database)
    assert_error(acme.command('contact archive acme "Dr. Jane Roe"'), "has no contacts yet",
                 form=FORMS["contact archive"])
    assert_error(acme.command("contact archive acme"), "Give the contact's name", form=FORMS["contact archive"])
    assert counts(database) == before


# --- contacts -------------------------------------------------------------------------------------------------


def test_contacts_lists_people_peers_and_their_last_contact(acme, database):
    add(acme, f'acme "Dr. Jane Roe" role:"Head of QA" peer:{BOB}')
    add(acme, 'acme "Sam Lee" role:"Supply chain"')
    add(acme, 'acme "Alex Ray" role:CEO')
    shown(acme.command(f'log acme call Fill slots with:"dr. jane roe" on:{ago(3)}', user="U0BOB"))
    shown(acme.command(f'log acme email Old thread with:"Sam Lee" on:{ago(20)}', user="U0CAROL"))
    shown(acme.command('log acme note Internal only with:"Alex Ray"'))  # a note is not contact
    response = acme.command("contacts ACME")
    text = shown(response)
    assert "Acme Biologics GmbH's contacts (3)" in text
    jane = (f"*Dr. Jane Roe* · Head of QA · our peer <@U0BOB>\n      {GREEN} last contact "
            f"{day(today_utc() - dt.timedelta(days=3))}, call by <@U0BOB> · silent for 3 days")
    assert jane in text
    assert (f"*Sam Lee* · Supply chain · no peer named\n      {AMBER} last contact "
            f"{day(today_utc() - dt.timedelta(days=20))}, email by <@U0CAROL> · silent for 20 days") in text
    assert f"*Alex Ray* · CEO · no peer named\n      {AMBER} no contact logged with them yet" in text
    assert text.index("Alex Ray") < text.index("Dr. Jane Roe") < text.index("Sam Lee")  # by name
    assert "silent for longer than the cadence (14d)" in text


def test_contacts_needs_a_client(acme, database):
    assert_error(acme.command("contacts"), "Say whose contacts", form=FORMS["contacts"])
    assert_error(acme.command("contacts zzz"), "No client matches `zzz`", form=FORMS["contacts"])
    text = shown(acme.command("contacts beta"))
    assert "Beta Labs has no contacts yet" in text and '/cmo contact add beta "<name>"' in text


# --- escaping ---------------------------------------------------------------------------------------------------


def test_contact_text_is_escaped_everywhere(acme, database):
    name = "Jane <!channel> & Co"
    response = acme.command(f'contact add acme "{typed("Jane ")}<!channel>{typed(" & Co")}" '
                            f'role:"{typed("R&D <b>")}" peer:{BOB}')
    assert "Jane <!channel> & Co" in shown(response)
    assert_no_raw_markup(response, "<!channel>", "R&D", "<b>")
    [row] = contacts(database)
    assert (row.name, row.role) == (name, "R&D <b>")
    shown(acme.command(f'log acme call Hello with:"{typed("jane ")}<!CHANNEL>{typed(" & co")}"', user="U0BOB"))
    assert interactions(database)[0].contact_id == row.id
    for command in ("contacts acme", "status acme", "history acme", f'contact set acme "{typed(name)}" role:x'):
        response = acme.command(command)
        assert "Jane <!channel> & Co" in shown(response), command
        assert_no_raw_markup(response, "<!channel>", "R&D", "<b>")
    response = acme.command(f'log acme call Hi with:"{typed("Jane <!channel> & Cox")}"')
    assert "did you mean “Jane <!channel> & Co”" in shown(response)
    assert_no_raw_markup(response, "<!channel>", " & ")


# --- with: on log and edit --------------------------------------------------------------------------------------


def test_log_with_a_known_contact_links_it_under_its_name(acme, database):
    add(acme, f'acme "Dr. Jane Roe" peer:{BOB}')
    text = shown(acme.command('log acme call Agreed fill slots with:"dr.  jane ROE"'))
    assert "*call* with Dr. Jane Roe" in text
    assert "is not one of" not in text
    [row] = interactions(database)
    assert (row.contact_id, row.contact_name) == (contacts(database)[0].id, "Dr. Jane Roe")
    logged = [e for e in events(database, "interaction.") if e.action == "interaction.log"][-1]
    assert logged.after["contact_name"] == "Dr. Jane Roe"


def test_log_with_a_typo_keeps_the_text_and_suggests_the_contact(acme, database):
    add(acme, 'acme "Dr. Jane Roe"')
    text = shown(acme.command('log acme call Agreed fill slots with:"Jane Rowe"'))
    [row] = interactions(database)
    assert (row.contact_id, row.contact_name) == (None, "Jane Rowe")
    assert ("“Jane Rowe” is not one of Acme Biologics GmbH's contacts — did you mean “Dr. Jane Roe”? Fix it with "
            f'`/cmo edit #i{row.id} with:"Dr. Jane Roe" reason:"the known contact"`') in text

    text = shown(acme.command('log acme call Quick chat with:"Kim Park"'))
    assert "“Kim Park” is not one of Acme Biologics GmbH's contacts (kept as typed)" in text
    assert '/cmo contact add acme "Kim Park" role:"<function>" peer:@someone' in text
    assert interactions(database)[1].contact_id is None
    assert "is not one of" not in shown(acme.command("log acme call Nobody named"))


def test_the_log_form_links_a_known_contact(acme, database, slack):
    add(acme, 'acme "Dr. Jane Roe"')
    view = opened_form(slack, acme.command("log"))
    response = acme.submit_view(view, {"client": external_select("acme"), "kind": {"type": "static_select",
                                       "selected_option": {"value": "call"}}, "summary": text_input("Hello"),
                                       "on": {"type": "datepicker", "selected_date": today_utc().isoformat()},
                                       "with": text_input("DR. JANE ROE")})
    assert response.status == 200, response.body
    [row] = interactions(database)
    assert (row.contact_id, row.contact_name, row.surface) == (contacts(database)[0].id, "Dr. Jane Roe", "modal")


def test_edit_with_relinks_the_interaction(acme, database):
    add(acme, 'acme "Dr. Jane Roe"')
    shown(acme.command('log acme call Agreed fill slots with:"Jane Rowe"'))
    [row] = interactions(database)
    text = shown(acme.command(f'edit #i{row.id} with:"dr. jane roe" reason:"the known contact"'))
    assert "with Jane Rowe → Dr. Jane Roe" in text
    [row] = interactions(database)
    assert (row.contact_id, row.contact_name) == (contacts(database)[0].id, "Dr. Jane Roe")
    shown(acme.command(f'edit #i{row.id} with:"Someone Else" reason:"it was someone else"'))
    [row] = interactions(database)
    assert (row.contact_id, row.contact_name) == (None, "Someone Else")
    shown(acme.command(f'edit #i{row.id} with:"Dr. Jane Roe" reason:"it was her after all"'))
    shown(acme.command(f'edit #i{row.id} with:none reason:"nobody in particular"'))
    [row] = interactions(database)
    assert (row.contact_id, row.contact_name) == (None, None)


def test_a_failed_edit_does_not_relink(acme, database):
    add(acme, 'acme "Dr. Jane Roe"')
    shown(acme.command('log acme call Agreed fill slots with:"Jane Rowe"'))
    [row] = interactions(database)
    assert_error(acme.command(f'edit #i{row.id} with:"Dr. Jane Roe" on:+3d reason:"x"'), "in the future",
                 form=FORMS["edit"])
    [row] = interactions(database)
    assert (row.contact_id, row.contact_name) == (None, "Jane Rowe")


# --- status: peer coverage --------------------------------------------------------------------------------------


def coverage(bot) -> str:
    text = shown(bot.command("status acme"))
    assert "Peer coverage" in text, text
    return text[text.index("Peer coverage"):]


def test_status_shows_peer_coverage(acme, database):
    assert "No contacts recorded" in coverage(acme)
    add(acme, f'acme "Dr. Jane Roe" role:"Head of QA" peer:{BOB}')
    add(acme, 'acme "Sam Lee" role:"Supply chain"')
    text = coverage(acme)
    assert f"{AMBER} *Dr. Jane Roe* (Head of QA) — our peer <@U0BOB> — no contact between them logged yet" in text
    assert f"{AMBER} *Sam Lee* (Supply chain) — no peer named — no contact logged yet" in text

    # Someone other than the peer talking to Jane does not cover the pair; the peer does.
    shown(acme.command('log acme call Fill slots with:"Dr. Jane Roe"', user="U0CAROL"))
    assert "our peer <@U0BOB> — no contact between them logged yet" in coverage(acme)
    shown(acme.command(f'log acme call Deviation with:"Dr. Jane Roe" on:{ago(20)}', user="U0BOB"))
    text = coverage(acme)
    assert (f"{AMBER} *Dr. Jane Roe* (Head of QA) — our peer <@U0BOB> — last contact "
            f"{day(today_utc() - dt.timedelta(days=20))} (call, 20 days ago)") in text
    shown(acme.command(f'log acme visit Audit with:"Dr. Jane Roe" on:{ago(14)}', user="U0BOB"))
    assert f"{GREEN} *Dr. Jane Roe* (Head of QA) — our peer <@U0BOB> — last contact" in coverage(acme)  # = cadence
    shown(acme.command('log acme email Forecast with:"Sam Lee" on:yesterday', user="U0CAROL"))
    assert f"{GREEN} *Sam Lee* (Supply chain) — no peer named — last contact" in coverage(acme)
    assert "(email by <@U0CAROL>, yesterday)" in coverage(acme)


def test_status_calls_out_no_executive_contact_in_a_quarter(acme, database):
    add(acme, f'acme "Dr. Jane Roe" role:QA peer:{BOB}')
    text = coverage(acme)
    assert NO_EXEC in text and "no executive among the contacts" in text
    add(acme, f'acme "Alex Ray" role:"SVP, Operations" peer:{ANA}')
    text = coverage(acme)
    assert NO_EXEC in text and "*Alex Ray* was not spoken to" in text
    shown(acme.command(f'log acme meeting QBR with:"alex ray" on:{ago(91)}'))
    assert NO_EXEC in coverage(acme)
    # Anyone of ours speaking to an executive counts (not only the peer); a note does not.
    shown(acme.command('log acme note Internal prep with:"Alex Ray"'))
    assert NO_EXEC in coverage(acme)
    shown(acme.command(f'log acme call Escalation with:"Alex Ray" on:{ago(90)}', user="U0CAROL"))
    assert NO_EXEC not in coverage(acme)
    shown(acme.command('contact archive acme "Alex Ray"'))
    assert NO_EXEC in coverage(acme)


@pytest.mark.parametrize("role, executive", [
    ("CEO", True), ("Chief Executive Officer", True), ("vp quality", True), ("Vice-President, Supply", True),
    ("Director General", True), ("head of site", True), ("EVP", True), ("exec sponsor", True),
    ("QA", False), ("Executive-level assistant", True), ("Supply chain", False), ("Project manager", False),
    ("Head of QA", False), ("Vapour", False),
])
def test_executive_roles_are_recognised_by_their_words(role, executive):
    from bot.services.contacts import is_executive

    assert is_executive(role) is executive


def test_peer_coverage_keeps_the_call_out_among_many_contacts(acme, database):
    for number in range(7):
        add(acme, f'acme "Person {number}" role:QA')
    text = coverage(acme)
    assert NO_EXEC in text and "…and 3 more." in text


def test_history_words_contact_events(acme):
    add(acme, f'acme "Dr. Jane Roe" role:QA peer:{BOB}')
    shown(acme.command(f'contact set acme "Dr. Jane Roe" role:"Head of QA" peer:{CAROL}'))
    shown(acme.command('contact archive acme "Dr. Jane Roe"'))
    text = shown(acme.command("history acme"))
    assert "added contact *Dr. Jane Roe* (QA, our peer <@U0BOB>)" in text
    assert "changed contact *Dr. Jane Roe*: role QA → Head of QA; our peer <@U0BOB> → <@U0CAROL>" in text
    assert "archived contact *Dr. Jane Roe*" in text
    assert text.index("archived contact") < text.index("changed contact") < text.index("added contact")


# --- forms and help ---------------------------------------------------------------------------------------------


def test_contact_add_without_arguments_opens_a_form(acme, database, slack):
    before = counts(database)
    view = opened_form(slack, acme.command("contact add"))
    assert view["callback_id"] == "cmo:contact add"
    assert counts(database) == before
    response = acme.submit_view(view, {"client": external_select("acme"), "name": text_input("Dr. Jane Roe"),
                                       "role": text_input("Head of QA"), "peer": user_select("U0BOB")})
    assert response.status == 200, response.body
    [row] = contacts(database)
    assert (row.name, row.role, row.peer_user_id, row.surface) == ("Dr. Jane Roe", "Head of QA", "U0BOB", "modal")


def test_contact_set_and_archive_forms(acme, database, slack):
    add(acme, 'acme "Dr. Jane Roe"')
    view = opened_form(slack, acme.command("contact set"))
    response = acme.submit_view(view, {"client": external_select("acme"), "name": text_input("dr jane roe"),
                                       "role": text_input("QA")})
    assert response.status == 200 and response.json["response_action"] == "errors", response.body
    assert "Did you mean “Dr. Jane Roe”" in response.json["errors"]["name"]
    assert contacts(database)[0].role is None
    response = acme.submit_view(view, {"client": external_select("acme"), "name": text_input("Dr. Jane Roe"),
                                       "role": text_input("QA")})
    assert response.status == 200, response.body
    assert contacts(database)[0].role == "QA"
    assert events(database)[-1].surface == "modal"


def test_contact_archive_form(acme, database, slack):
    add(acme, 'acme "Dr. Jane Roe"')
    view = opened_form(slack, acme.command("contact archive"))
    assert view["callback_id"] == "cmo:contact archive"
    response = acme.submit_view(view, {"client": external_select("acme"), "name": text_input("dr. jane roe")})
    assert response.status == 200, response.body
    assert contacts(database)[0].archived_at is not None
    assert events(database)[-1].action == "contact.archive"


def test_help_explains_contacts(acme):
    text = unescape(message_text(reply(acme.command("help contacts"))))
    assert "Contacts and peers" in text and FORMS["contact add"] in text and FORMS["contacts"] in text


def test_two_adds_of_one_name_at_once_keep_one_and_say_so(acme, database, monkeypatch):
    """The check for a duplicate passes for both (neither sees the other's row yet): the unique index decides,
    and the second gets a clear error, not a database error."""
    import bot.services.contacts as contact_service

    assert "Added" in shown(acme.command('contact add acme "Dr. Jane Roe"'))
    monkeypatch.setattr(contact_service, "_check_unique", lambda *args, **kwargs: None)  # as if in a race
    text = assert_error(acme.command('contact add acme "dr. jane roe"'), "already has a contact",
                        "a moment ago", form=FORMS["contact add"])
    assert "IntegrityError" not in text
    assert [c.name for c in contacts(database)] == ["Dr. Jane Roe"]


def test_the_hint_for_an_unknown_name_shows_the_form_escaped(acme):
    response = acme.command('log acme call Kick-off with:"Kim Park"')
    for text in mrkdwn_texts(response.json):
        assert "<function>" not in text, text  # Slack would take it for an entity
    assert 'role:"<function>"' in shown(response)
