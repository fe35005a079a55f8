"""Settings from the environment over a `.env` file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, DEFAULT_SLACK_API_URL, ConfigError, Settings, load_settings

BOT_TOKEN = "xoxb-1111-2222-secretbot"
APP_TOKEN = "xapp-1-A111-secretapp"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def no_dotenv(tmp_path) -> Path:
    return tmp_path / "absent.env"


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_defaults_when_nothing_is_set(no_dotenv):
    settings = load_settings({}, no_dotenv)
    assert settings == Settings()
    assert settings.slack_api_url == DEFAULT_SLACK_API_URL
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.timezone == "UTC"
    assert settings.port == 3000
    assert settings.managers_channel is None
    assert settings.slack_bot_token is None


def test_every_setting_is_read_from_the_environment(no_dotenv):
    settings = load_settings({
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": "http://127.0.0.1:9999/api/", "DATABASE_URL": "postgresql+psycopg://db/rapport",
        "RAPPORT_TIMEZONE": "Europe/Berlin", "RAPPORT_MANAGERS_CHANNEL": "C0MGRS", "PORT": "8080",
        "RAPPORT_MANAGERS": "U0ANA, W0BEN",
    }, no_dotenv)
    assert settings == Settings(
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_app_token=APP_TOKEN,
        slack_api_url="http://127.0.0.1:9999/api/", database_url="postgresql+psycopg://db/rapport",
        timezone="Europe/Berlin", managers_channel="C0MGRS", port=8080, managers=frozenset({"U0ANA", "W0BEN"}))
    assert settings.zone.key == "Europe/Berlin"


def test_settings_are_read_from_a_dotenv_file(tmp_path):
    dotenv = write_env(tmp_path, f"SLACK_BOT_TOKEN={BOT_TOKEN}\nRAPPORT_TIMEZONE=America/New_York\n"
                                 "# a comment\nPORT=4000\nDATABASE_URL='sqlite:///other.db'\n")
    settings = load_settings({}, dotenv)
    assert settings.slack_bot_token == BOT_TOKEN
    assert settings.timezone == "America/New_York"
    assert settings.port == 4000
    assert settings.database_url == "sqlite:///other.db"


def test_the_environment_wins_over_the_dotenv_file(tmp_path):
    dotenv = write_env(tmp_path, "PORT=4000\nRAPPORT_TIMEZONE=Asia/Tokyo\nRAPPORT_MANAGERS_CHANNEL=C0FILE\n")
    settings = load_settings({"PORT": "5000", "RAPPORT_MANAGERS_CHANNEL": "C0ENV"}, dotenv)
    assert settings.port == 5000
    assert settings.managers_channel == "C0ENV"
    assert settings.timezone == "Asia/Tokyo"


def test_no_dotenv_path_reads_only_the_environment(tmp_path, monkeypatch):
    write_env(tmp_path, "PORT=4000\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings({}, None).port == 3000
    assert load_settings({}).port == 4000  # the default path is `.env` in the working directory


def test_blank_values_count_as_unset(tmp_path):
    dotenv = write_env(tmp_path, "SLACK_APP_TOKEN=\nRAPPORT_MANAGERS_CHANNEL\n")
    settings = load_settings({"SLACK_BOT_TOKEN": "   ", "PORT": "", "RAPPORT_TIMEZONE": " "}, dotenv)
    assert settings.slack_bot_token is None
    assert settings.slack_app_token is None
    assert settings.managers_channel is None
    assert settings.port == 3000
    assert settings.timezone == "UTC"


def test_values_are_stripped(no_dotenv):
    settings = load_settings({"SLACK_BOT_TOKEN": f"  {BOT_TOKEN}\n", "PORT": " 8080 "}, no_dotenv)
    assert settings.slack_bot_token == BOT_TOKEN
    assert settings.port == 8080


@pytest.mark.parametrize(("given", "expected"), [
    ("http://127.0.0.1:9999/api", "http://127.0.0.1:9999/api/"),
    ("http://127.0.0.1:9999/api/", "http://127.0.0.1:9999/api/"),
])
def test_slack_api_url_always_ends_with_a_slash(no_dotenv, given, expected):
    assert load_settings({"SLACK_API_URL": given}, no_dotenv).slack_api_url == expected


@pytest.mark.parametrize("zone", ["Mars/Olympus", "not a zone", "../../etc/passwd"])
def test_a_bad_time_zone_is_a_config_error_naming_the_setting(no_dotenv, zone):
    with pytest.raises(ConfigError, match="RAPPORT_TIMEZONE") as caught:
        load_settings({"RAPPORT_TIMEZONE": zone}, no_dotenv)
    assert zone in str(caught.value)


def test_a_bad_time_zone_in_the_dotenv_file_is_named_too(tmp_path):
    with pytest.raises(ConfigError, match="RAPPORT_TIMEZONE"):
        load_settings({}, write_env(tmp_path, "RAPPORT_TIMEZONE=Berlin\n"))


@pytest.mark.parametrize("port", ["http", "0", "65536", "-1", "80.5", "3000x", "²"])
def test_a_bad_port_is_a_config_error_naming_the_setting(no_dotenv, port):
    with pytest.raises(ConfigError, match="PORT"):
        load_settings({"PORT": port}, no_dotenv)


@pytest.mark.parametrize("port", ["1", "65535"])
def test_port_bounds(no_dotenv, port):
    assert load_settings({"PORT": port}, no_dotenv).port == int(port)


def test_http_mode_needs_the_bot_token_and_signing_secret():
    assert Settings().missing_for_run() == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
    assert Settings(slack_bot_token=BOT_TOKEN).missing_for_run() == ["SLACK_SIGNING_SECRET"]
    assert Settings(slack_signing_secret=SIGNING_SECRET).missing_for_run() == ["SLACK_BOT_TOKEN"]
    settings = Settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET)
    assert settings.missing_for_run() == []
    assert settings.socket_mode is False


def test_socket_mode_needs_no_signing_secret():
    settings = Settings(slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN)
    assert settings.socket_mode is True
    assert settings.missing_for_run() == []


def test_socket_mode_still_needs_the_bot_token():
    assert Settings(slack_app_token=APP_TOKEN).missing_for_run() == ["SLACK_BOT_TOKEN"]


def test_repr_never_shows_a_secret(no_dotenv):
    settings = load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                              "SLACK_APP_TOKEN": APP_TOKEN, "DATABASE_URL": "sqlite:///x.db"}, no_dotenv)
    shown = repr(settings) + str(settings)
    for secret in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, "secretbot", "secretapp"):
        assert secret not in shown
    assert "sqlite:///x.db" in shown


def test_repr_masks_a_database_password(no_dotenv):
    settings = load_settings({"DATABASE_URL": "postgresql+psycopg://rapport:s3cr%40t@db:5432/rapport"}, no_dotenv)
    shown = repr(settings)
    assert "s3cr" not in shown
    assert "postgresql+psycopg://rapport:***@db:5432/rapport" in shown
    assert settings.database_url == "postgresql+psycopg://rapport:s3cr%40t@db:5432/rapport"


def test_repr_keeps_a_database_url_without_password_whole(no_dotenv):
    assert "postgresql+psycopg://rapport@db/rapport" in repr(
        load_settings({"DATABASE_URL": "postgresql+psycopg://rapport@db/rapport"}, no_dotenv))


def test_with_overrides_changes_only_what_is_given(no_dotenv):
    settings = load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN}, no_dotenv)
    changed = settings.with_overrides(port=9000)
    assert changed.port == 9000
    assert changed.slack_bot_token == BOT_TOKEN
    assert settings.port == 3000


@pytest.mark.parametrize("managers", ["ana", "U0ANA,<@U0BEN>", "C0CHANNEL"])
def test_a_manager_that_is_not_a_user_id_is_a_config_error(no_dotenv, managers):
    with pytest.raises(ConfigError) as caught:
        load_settings({"RAPPORT_MANAGERS": managers}, no_dotenv)
    assert "RAPPORT_MANAGERS" in str(caught.value) and "Slack user id" in str(caught.value)


def test_business_hours_and_the_nudge_repeat_are_read(no_dotenv):
    settings = load_settings({"RAPPORT_BUSINESS_HOURS": "08:30-18:00", "RAPPORT_NUDGE_REPEAT_DAYS": "5",
                              "RAPPORT_DISCLOSURE_HOURS": "9"}, no_dotenv)
    assert settings.business_hours == (dt.time(8, 30), dt.time(18))
    assert (settings.nudge_repeat_days, settings.disclosure_hours) == (5, 9.0)
    assert Settings().business_hours == (dt.time(9), dt.time(17)) and Settings().nudge_repeat_days == 3


@pytest.mark.parametrize("hours", ["9-17", "17:00-09:00", "09:00-09:00", "25:00-26:00", "nine to five"])
def test_business_hours_that_are_not_a_working_day_are_a_config_error(no_dotenv, hours):
    with pytest.raises(ConfigError) as caught:
        load_settings({"RAPPORT_BUSINESS_HOURS": hours}, no_dotenv)
    assert "RAPPORT_BUSINESS_HOURS" in str(caught.value) and "09:00-17:00" in str(caught.value)


@pytest.mark.parametrize("days", ["0", "31", "-1", "three"])
def test_a_nudge_repeat_out_of_range_is_a_config_error(no_dotenv, days):
    with pytest.raises(ConfigError) as caught:
        load_settings({"RAPPORT_NUDGE_REPEAT_DAYS": days}, no_dotenv)
    assert "RAPPORT_NUDGE_REPEAT_DAYS" in str(caught.value)


def test_the_disclosure_window_fits_in_one_business_day(no_dotenv):
    with pytest.raises(ConfigError) as caught:
        load_settings({"RAPPORT_BUSINESS_HOURS": "10:00-14:00", "RAPPORT_DISCLOSURE_HOURS": "5"}, no_dotenv)
    assert "at most 4" in str(caught.value)
