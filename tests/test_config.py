"""Settings precedence (command line > environment > file > defaults), coercion and masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Settings, check_for_run, resolve_settings
from pipeline.errors import ConfigError
from pipeline.redact import MASK


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cnam.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_the_spec() -> None:
    s = resolve_settings({}, {})
    assert s.output == Path("output")
    assert s.state == Path("output/state.sqlite")
    assert s.api_url == "https://api.flowroute.com"
    assert (s.rate_limit, s.concurrency, s.wait_approval) == ("auto", 4, 0.0)
    assert (s.stale_after, s.email_max_mb, s.smtp_port) == (3.0, 10.0, 25)
    assert s.association_path == "cnams"
    assert (s.give_up_after, s.retry_failed) == (5, False)
    assert all(origin == "default" for origin in s.sources.values())


def test_command_line_beats_environment_beats_file(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        'rate_limit = 7\nconcurrency = 2\nstale_after = 9\napi_url = "http://127.0.0.1:1"\n',
    )
    env = {"CNAM_BATCH_RATE_LIMIT": "11", "CNAM_BATCH_CONCURRENCY": "3"}
    s = resolve_settings({"rate_limit": 13.0}, env, cfg)
    assert s.rate_limit == 13.0 and s.sources["rate_limit"] == "cli"
    assert s.concurrency == 3 and s.sources["concurrency"] == "env"
    assert s.stale_after == 9.0 and s.sources["stale_after"] == "file"
    assert s.wait_approval == 0.0 and s.sources["wait_approval"] == "default"


def test_rate_limit_auto_from_the_file_the_environment_or_the_command_line(tmp_path: Path) -> None:
    assert resolve_settings({}, {}, write(tmp_path, 'rate_limit = "auto"\n')).rate_limit == "auto"
    assert resolve_settings({}, {"CNAM_BATCH_RATE_LIMIT": " Auto "}).rate_limit == "auto"
    assert resolve_settings({"rate_limit": "auto"}, {}).rate_limit == "auto"
    assert resolve_settings({}, {}, write(tmp_path, "rate_limit = 12\n")).rate_limit == 12.0


def test_named_environment_variables(tmp_path: Path) -> None:
    env = {
        "FLOWROUTE_API_URL": "http://127.0.0.1:9",
        "FR_ACCESS_KEY": "ak",
        "FR_SECRET_KEY": "sk",
        "SMTP_HOST": "mail.local",
        "SMTP_PORT": "2525",
        "SMTP_STARTTLS": "true",
        "SMTP_PASSWORD": "pw",
    }
    s = resolve_settings({}, env)
    assert s.api_url == "http://127.0.0.1:9"
    assert (s.fr_access_key, s.fr_secret_key) == ("ak", "sk")
    assert (s.smtp_host, s.smtp_port, s.smtp_starttls, s.smtp_password) == (
        "mail.local",
        2525,
        True,
        "pw",
    )


def test_secrets_from_the_file_and_masked_everywhere(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        'access_key = "AK-123456"\nfr_secret_key = "SK-987654"\nsmtp_password = "PW-555"\n',
    )
    s = resolve_settings({}, {}, cfg)
    assert (s.fr_access_key, s.fr_secret_key, s.smtp_password) == (
        "AK-123456",
        "SK-987654",
        "PW-555",
    )
    masked = s.masked()
    assert masked["fr_access_key"] == MASK and masked["smtp_password"] == MASK
    for text in (repr(s), str(masked)):
        assert "AK-123456" not in text and "SK-987654" not in text and "PW-555" not in text


def test_lists_from_file_and_environment(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        'email_to = ["a@example.com", "b@example.com"]\ninputs = ["drop/"]\nsmtp_host = "localhost"\n',
    )
    s = resolve_settings({}, {}, cfg)
    assert s.email_to == ("a@example.com", "b@example.com") and s.inputs == ("drop/",)
    s = resolve_settings({}, {"CNAM_BATCH_EMAIL_TO": "x@example.com, y@example.com"}, None)
    assert s.email_to == ("x@example.com", "y@example.com")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rate_limt = 5\n", "unknown setting 'rate_limt'"),
        ("rate_limit = 'fast'\n", "rate_limit = 'fast' is not valid"),
        ("concurrency = 0\n", "concurrency must be a whole number from 1 to 64"),
        ("association_path = 'numbers'\n", "association_path must be"),
        ("rate_limit = \n", "not valid TOML"),
        (
            "rate_limit = 0\n",
            "rate_limit must be a number from 0.01 to 1000 requests per second or 'auto'",
        ),
        ("rate_limit = true\n", "rate_limit = True is not valid"),
        ("smtp_ssl = true\nsmtp_starttls = true\n", "exclusive"),
        ("give_up_after = -1\n", "give_up_after must be a whole number from 0 to 1000 runs"),
        ("give_up_after = 2.5\n", "give_up_after = 2.5 is not valid"),
    ],
)
def test_bad_settings_name_the_file_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    cfg = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        resolve_settings({}, {}, cfg)
    assert message in str(err.value)


def test_bad_secret_value_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_settings({}, {"SMTP_PORT": "hunter2"})
    assert "smtp_port" in str(err.value)
    s = Settings()
    assert s.smtp_password is None


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        resolve_settings({}, {}, tmp_path / "nope.toml")


def test_unknown_cnam_batch_environment_variable_is_an_error() -> None:
    with pytest.raises(ConfigError, match="CNAM_BATCH_RATELIMIT"):
        resolve_settings({}, {"CNAM_BATCH_RATELIMIT": "5"})


@pytest.mark.parametrize(
    ("cli", "env", "message"),
    [
        ({"email_to": ("a@b.c",), "dry_run": True}, {}, "needs an SMTP server"),
        ({}, {}, "FR_ACCESS_KEY and FR_SECRET_KEY are not set"),
        ({}, {"FR_ACCESS_KEY": "a"}, "FR_ACCESS_KEY and FR_SECRET_KEY are not set"),
        ({"dry_run": True, "move_processed": Path("done")}, {}, "cannot be used together"),
    ],
)
def test_run_needs(cli: dict, env: dict, message: str) -> None:
    s = resolve_settings(cli, env)
    with pytest.raises(ConfigError, match=message):
        check_for_run(s)


@pytest.mark.parametrize("cli", [{"dry_run": True}, {"sandbox": True}])
def test_dry_run_and_sandbox_need_no_credentials(cli: dict) -> None:
    check_for_run(resolve_settings(cli, {}))
