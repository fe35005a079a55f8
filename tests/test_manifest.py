"""`rapport manifest`: what it prints is accepted by Slack — checked against Slack's published manifest schema
(vendored in tests/vendor, see its README) — and what Slack would refuse is refused at once."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from bot.manifest import MESSAGE_SHORTCUT, ManifestError, build_manifest, display_name
from tests.conftest import env_for_subprocess
from tests.test_cli import fresh_sqlite, rapport

VENDOR = Path(__file__).parent / "vendor"
SCHEMA = VENDOR / "slack_manifest_schema.json"
EVENTS_URL = "https://x.example/slack/events"
NAME_35 = "Rapport for Acme Biologics (Boston)"
assert len(NAME_35) == 35


# -- the schema ------------------------------------------------------------------------------------

def _remote_refs(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str) and not value.startswith("#"):
                yield value
            else:
                yield from _remote_refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _remote_refs(item)


@cache
def manifest_validator():
    """A validator for Slack's schema as published, offline: the top-level schema refers to the versioned
    schemas by URL; each is served from its vendored copy (same file name), and nothing is ever fetched."""
    root = json.loads(SCHEMA.read_text(encoding="utf-8"))
    resources = []
    for url in sorted(set(_remote_refs(root))):
        copy_of_it = VENDOR / url.rsplit("/", 1)[-1]
        assert copy_of_it.exists(), f"{SCHEMA.name} refers to {url}: vendor it as {copy_of_it} (tests/vendor/README.md)"
        contents = json.loads(copy_of_it.read_text(encoding="utf-8"))
        resources.append((url, Resource.from_contents(contents, default_specification=DRAFT7)))
    # A Registry without `retrieve`: a reference to anything not vendored fails instead of going online.
    registry = Registry().with_resources(resources)
    cls = validator_for(root)  # the draft the schema declares (draft-07)
    cls.check_schema(root)
    for _, resource in resources:
        validator_for(resource.contents, default=cls).check_schema(resource.contents)
    return cls(root, registry=registry, format_checker=cls.FORMAT_CHECKER)


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    """Every failure, the innermost ones under oneOf/allOf included, as "path: message"."""

    def leaves(error: ValidationError) -> Iterator[ValidationError]:
        if error.context:
            for sub in error.context:
                yield from leaves(sub)
        else:
            yield error

    return sorted(f"{'/'.join(map(str, leaf.absolute_path))}: {leaf.message}"
                  for error in manifest_validator().iter_errors(manifest) for leaf in leaves(error))


def assert_accepted_by_slack(manifest: dict[str, Any]) -> None:
    errors = schema_errors(manifest)
    assert not errors, "Slack's manifest schema rejects it:\n" + "\n".join(errors)


def manifest_from(*args: str, tmp_path: Path, workdir: Path) -> dict[str, Any]:
    result = rapport("manifest", *args, env=env_for_subprocess(fresh_sqlite(tmp_path)), cwd=workdir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refused(*args: str, tmp_path: Path, workdir: Path) -> str:
    """Runs `rapport manifest *args`, expects a refusal (exit code 2, nothing printed), returns stderr."""
    result = rapport("manifest", *args, env=env_for_subprocess(fresh_sqlite(tmp_path)), cwd=workdir)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr


# -- what `rapport manifest` prints ----------------------------------------------------------------

def test_manifest_is_json_for_socket_mode(tmp_path, workdir):
    manifest = manifest_from(tmp_path=tmp_path, workdir=workdir)
    assert manifest["settings"]["socket_mode_enabled"] is True
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/cmo"
    assert "url" not in command
    [shortcut] = manifest["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", "log_message")
    assert shortcut["name"] == "Log client interaction"
    assert manifest["settings"]["interactivity"] == {"is_enabled": True}  # Socket Mode: no URL at all
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {"commands", "chat:write"}
    assert (manifest["display_information"]["name"], manifest["features"]["bot_user"]["display_name"]) == (
        "Rapport", "rapport")
    assert_accepted_by_slack(manifest)


def test_manifest_with_a_url_is_json_for_http_mode(tmp_path, workdir):
    manifest = manifest_from("--url", "https://x.example", tmp_path=tmp_path, workdir=workdir)
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    events_url = EVENTS_URL
    assert manifest["features"]["slash_commands"][0]["url"] == events_url
    assert settings["interactivity"]["request_url"] == events_url
    assert settings["event_subscriptions"]["request_url"] == events_url
    assert_accepted_by_slack(manifest)


def test_http_mode_sends_everything_including_select_menu_options_to_slack_events(tmp_path, workdir):
    # A trailing slash is fine; external_select menus ask `message_menu_options_url` (block_suggestion).
    manifest = manifest_from("--url", "https://x.example/", tmp_path=tmp_path, workdir=workdir)
    settings = manifest["settings"]
    assert {
        "command": manifest["features"]["slash_commands"][0]["url"],
        "interactivity": settings["interactivity"]["request_url"],
        "options load": settings["interactivity"]["message_menu_options_url"],
        "events": settings["event_subscriptions"]["request_url"],
    } == dict.fromkeys(("command", "interactivity", "options load", "events"), EVENTS_URL)
    assert settings["interactivity"]["is_enabled"] is True


def test_http_mode_with_the_longest_name_is_accepted_by_slack(tmp_path, workdir):
    manifest = manifest_from("--url", "https://rapport.example.com/acme", "--name", NAME_35,
                             tmp_path=tmp_path, workdir=workdir)
    assert manifest["display_information"]["name"] == NAME_35
    assert manifest["features"]["bot_user"]["display_name"] == "rapport-for-acme-biologics-boston"
    assert manifest["settings"]["event_subscriptions"]["request_url"] == "https://rapport.example.com/acme/slack/events"
    assert_accepted_by_slack(manifest)


# -- the schema test can fail ----------------------------------------------------------------------

def test_the_old_25_character_shortcut_name_is_rejected_by_the_schema():
    manifest = build_manifest()
    assert_accepted_by_slack(manifest)
    too_long = copy.deepcopy(manifest)
    [shortcut] = too_long["features"]["shortcuts"]
    assert shortcut["callback_id"] == MESSAGE_SHORTCUT
    shortcut["name"] = "Log as client interaction"
    assert len(shortcut["name"]) == 25
    assert not manifest_validator().is_valid(too_long)
    assert "features/shortcuts/0/name: 'Log as client interaction' is too long" in schema_errors(too_long)


def test_a_36_character_app_name_is_rejected_by_the_schema():
    manifest = build_manifest(name=NAME_35)
    manifest["display_information"]["name"] = NAME_35 + "!"
    assert any(error.startswith("display_information/name: ") for error in schema_errors(manifest))


# -- what Slack would refuse is refused at once ----------------------------------------------------

@pytest.mark.parametrize("url", ["x.example", "http://x.example", "ftp://x.example", "HTTPS://x.example"])
def test_a_url_that_is_not_https_is_refused(tmp_path, workdir, url):
    stderr = refused("--url", url, tmp_path=tmp_path, workdir=workdir)
    assert "--url" in stderr
    assert "must start with https://" in stderr


@pytest.mark.parametrize("url", ["https://x.example/?team=acme", "https://x.example/#events", "https://x.example?"])
def test_a_url_with_a_query_or_a_fragment_is_refused(tmp_path, workdir, url):
    stderr = refused("--url", url, tmp_path=tmp_path, workdir=workdir)
    assert "must not have a query (?…) or a fragment (#…)" in stderr


def test_a_36_character_name_is_refused(tmp_path, workdir):
    name = NAME_35 + "!"
    stderr = refused("--url", "https://x.example", "--name", name, tmp_path=tmp_path, workdir=workdir)
    assert "--name" in stderr
    assert "at most 35 characters" in stderr
    assert "has 36" in stderr


@pytest.mark.parametrize("url", ["https://", "https:///slack", "https://user:secret@x.example", "https://x.example:99999",
                                 "https://x.example/a b"])
def test_other_urls_slack_cannot_use_are_refused(url):
    with pytest.raises(ManifestError):
        build_manifest(url)


@pytest.mark.parametrize("name", ["", "   ", " Rapport", "Rapport\n", "!!!", "東京"])
def test_names_without_a_usable_display_name_are_refused(name):
    with pytest.raises(ManifestError):
        build_manifest(name=name)


@pytest.mark.parametrize(("name", "expected"), [
    ("Rapport", "rapport"),
    ("Rapport Staging", "rapport-staging"),
    ("Café CMO_bot v2.1", "cafe-cmo_bot-v2.1"),
    ("  -- Acme's bot --", "acme-s-bot"),
])
def test_the_bot_user_display_name_is_derived_from_the_name(name, expected):
    assert display_name(name) == expected
