"""`/cmo edit`: a schedule change (`#12`) or an interaction (`#i12`) corrected with a required reason; the
previous version is kept in the (hash-chained) audit trail and `/cmo history` shows old and new."""

from __future__ import annotations

import pytest

from bot.db.models import Interaction, ScheduleChange
from bot.services.audit import verify_chains
from tests.commands_support import assert_error, audit_events, interactions, opened_form, shown, table_counts
from tests.slackhttp import message_text, static_select, text_input
from tests.test_meetings_http import press

USAGE = '/cmo edit #<id> <field>:<value> reason:"<why>"'


@pytest.fixture
def acme(bot):
    assert bot.command("client add Acme key:acme").status == 200
    return bot


def a_change(bot, database) -> ScheduleChange:
    bot.command('delay acme Lot 42 fill to:2030-12-04 from:2030-12-01 reason:"Filter integrity test failed"')
    with database.session() as session:
        return session.query(ScheduleChange).one()


def an_interaction(bot, database) -> Interaction:
    bot.command("log acme call Discused the tech transfer with:Dana")
    return interactions(database)[-1]


def chain_ok(database) -> bool:
    with database.session() as session:
        return all(report.problem is None for report in verify_chains(session))


def test_editing_a_change_keeps_the_previous_version(acme, database):
    change = a_change(acme, database)
    text = shown(acme.command(f'edit #{change.id} to:2030-12-08 reason:"Typo: the 8th, not the 4th"'))
    assert f"Edited schedule change #{change.id} of Acme" in text
    assert "new date 2030-12-04 → 2030-12-08" in text
    assert "Typo: the 8th, not the 4th" in text
    with database.session() as session:
        assert session.get(ScheduleChange, change.id).new_date.isoformat() == "2030-12-08"
    event = audit_events(database)[-1]
    assert event.action == "change.edit"
    assert event.before == {"new_date": "2030-12-04"}
    assert event.after == {"new_date": "2030-12-08", "edit_reason": "Typo: the 8th, not the 4th"}
    history = shown(acme.command("history acme"))
    assert f"edited schedule change #{change.id}: new date 2030-12-04 → 2030-12-08; why: Typo" in history
    assert "2030-12-01 → 2030-12-04" in history  # the recorded version, as first written
    assert chain_ok(database)


def test_editing_several_fields_of_a_change(acme, database):
    change = a_change(acme, database)
    text = shown(acme.command(f'edit {change.id} item:"Lot 42 fill and finish" cause:"Filter test failed twice" '
                              'project:none reason:"Clearer for the client"'))
    assert "item Lot 42 fill → Lot 42 fill and finish" in text
    assert "cause Filter integrity test failed → Filter test failed twice" in text
    assert "project" not in text  # it was none and stays none
    with database.session() as session:
        edited = session.get(ScheduleChange, change.id)
        assert (edited.item, edited.reason) == ("Lot 42 fill and finish", "Filter test failed twice")


def test_editing_an_interaction(acme, database):
    interaction = an_interaction(acme, database)
    history = shown(acme.command("history acme"))
    assert f"#i{interaction.id}" in history  # how users learn an interaction's id
    text = shown(acme.command(f'edit #i{interaction.id} summary:"Discussed the tech transfer" with:none '
                              'reason:"Spelling, and Dana was not on the call"'))
    assert f"Edited interaction #i{interaction.id} of Acme" in text
    edited = interactions(database)[-1]
    assert (edited.summary, edited.contact_name) == ("Discussed the tech transfer", None)
    event = audit_events(database)[-1]
    assert event.action == "interaction.edit"
    assert event.before == {"summary": "Discused the tech transfer", "contact_name": "Dana"}
    history = shown(acme.command("history acme"))
    assert "summary Discused the tech transfer → Discussed the tech transfer" in history
    assert "with Dana → none" in history
    assert "logged a call" in history and "Discused the tech transfer" in history
    assert chain_ok(database)


@pytest.mark.parametrize(("command", "fragments"), [
    ("edit #{change} to:2030-12-08", ["A reason is required", 'reason:"<why>"']),
    ('edit #{change} to:2030-12-08 reason:""', ["needs a value"]),
    ('edit #{change} reason:"why"', ["Say what to change"]),
    ('edit #{change} summary:"x" reason:"why"', ["`summary:` is not a field of a change"]),
    ('edit #i{interaction} to:2030-12-08 reason:"why"', ["`to:` is not a field of an interaction"]),
    ('edit #999 to:2030-12-08 reason:"why"', ["There is no schedule change #999"]),
    ('edit #i999 summary:"x" reason:"why"', ["There is no interaction #i999"]),
    ('edit #x12 to:2030-12-08 reason:"why"', ["is not a change id"]),
    ('edit #{change} to:someday reason:"why"', ["someday"]),
    ('edit #{change} to:2030-12-04 reason:"why"', ["Nothing changes"]),
    ('edit #i{interaction} on:+3d reason:"why"', ["in the future"]),
    ('edit #i{interaction} kind:party reason:"why"', ["not a kind of interaction"]),
    ('edit #{change} colour:red reason:"why"', ["`colour:` is not an option here"]),
])
def test_bad_edits_say_what_is_wrong_and_change_nothing(acme, database, command, fragments):
    change = a_change(acme, database)
    interaction = an_interaction(acme, database)
    counts = table_counts(database)
    events = len(audit_events(database))
    response = acme.command(command.format(change=change.id, interaction=interaction.id))
    assert_error(response, *fragments, form=USAGE)
    assert table_counts(database) == counts
    assert len(audit_events(database)) == events


def test_edit_is_in_help_and_typed_bare_opens_its_form(acme, slack):
    text = shown(acme.command("help edit"))
    assert "#i12" in text and "reason" in text
    view = opened_form(slack, acme.command("edit"))
    assert view["callback_id"] == "cmo:edit"
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == ["record", "field", "value", "reason"]


def test_the_edit_form_edits_and_keeps_the_previous_version(acme, database, slack):
    change = a_change(acme, database)
    view = opened_form(slack, acme.command("edit"))
    response = acme.submit_view(view, {"record": text_input(f"#{change.id}"), "field": static_select("to"),
                                       "value": text_input("2030-12-08"), "reason": text_input("Typo in the date")})
    assert response.status == 200 and response.json["response_action"] == "update", response.body
    assert "Edited schedule change" in message_text({"blocks": response.json["view"]["blocks"]})
    with database.session() as session:
        assert session.get(ScheduleChange, change.id).new_date.isoformat() == "2030-12-08"
    assert audit_events(database)[-1].before == {"new_date": "2030-12-04"}
    assert chain_ok(database)


def test_a_bad_value_in_the_edit_form_is_shown_under_it_and_writes_nothing(acme, database, slack):
    change = a_change(acme, database)
    events = len(audit_events(database))
    view = opened_form(slack, acme.command("edit"))
    response = acme.submit_view(view, {"record": text_input(f"#{change.id}"), "field": static_select("to"),
                                       "value": text_input("someday"), "reason": text_input("why")})
    assert response.json["response_action"] == "errors"
    assert list(response.json["errors"]) == ["value"] and "someday" in response.json["errors"]["value"]
    assert len(audit_events(database)) == events


def test_the_edit_button_on_an_announcement_opens_the_form_for_that_change(acme, database, slack):
    change = a_change(acme, database)
    acme.command("client set acme channel:<#C0ACMEINT|acme-internal>")
    acme.command('delay acme Lot 43 fill to:2030-12-05 reason:"Resin late"')
    [announcement] = [m for m in slack.wait_for("chat.postMessage") if "Lot 43" in (m.args.get("text") or "")]
    [edit] = [e for b in announcement.args["blocks"] if b["type"] == "actions" for e in b["elements"]
              if e["action_id"] == "record_edit"]
    assert edit["value"] == f"#{change.id + 1}"
    response = press(acme, slack, "record_edit", edit["value"], block_id=f"change:{change.id + 1}",
                     channel="C0ACMEINT")
    assert response.status == 200
    [opened] = slack.wait_for("views.open")
    view = opened.args["view"]
    [record] = [b for b in view["blocks"] if b.get("block_id") == "record"]
    assert record["element"]["initial_value"] == f"#{change.id + 1}"


def test_records_of_another_workspace_cannot_be_edited(acme, database):
    change = a_change(acme, database)
    response = acme.command(f'edit #{change.id} to:2030-12-08 reason:"why"', team="T0OTHER")
    assert_error(response, f"There is no schedule change #{change.id}", form=USAGE)
