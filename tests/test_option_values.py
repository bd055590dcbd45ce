"""Every numeric option value is checked before anything is read or sent: inf, nan, negative, zero
where it means nothing, absurdly large -> exit 2 and one line naming the option (issue 10 item 3)."""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path

import pytest

from pipeline.cli.app import main
from pipeline.cli.serve_sandbox import SANDBOX_RULES
from pipeline.config import NUMBER_RULES, NumberRule, Settings, check_number, resolve_settings
from pipeline.environment import Environment
from pipeline.errors import ConfigError

DATA = Path(__file__).parent / "data"


def run_cli(*argv: object, environ: dict[str, str] | None = None) -> tuple[int, list[str]]:
    err = io.StringIO()
    env = Environment(stdout=io.StringIO(), stderr=err, environ=environ or {}, stderr_isatty=False)
    return main([str(a) for a in argv], env), err.getvalue().splitlines()


def bad_values(rule: NumberRule) -> list[float]:
    """Values the rule must refuse: not finite, below, at an excluded bound, above, fractional."""
    values = [math.nan, math.inf, -math.inf, rule.low - 1, rule.high + 1]
    if rule.above:
        values.append(rule.low)
    if rule.whole:
        values.append(rule.low + 0.5)
    return values


def test_every_numeric_setting_has_a_rule():
    """A new numeric option (int or float field of Settings) must say what values it takes."""
    numeric = {
        f.name
        for f in dataclasses.fields(Settings)
        if f.type in ("int", "float", "int | None", "float | None")
    }
    assert numeric <= set(NUMBER_RULES), numeric - set(NUMBER_RULES)


@pytest.mark.parametrize("name", sorted(NUMBER_RULES))
def test_defaults_pass_their_rule(name):
    assert NUMBER_RULES[name].allows(getattr(Settings(), name))


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, rule in NUMBER_RULES.items() for value in bad_values(rule)],
)
def test_out_of_range_values_are_refused_from_every_source(tmp_path, name, value):
    for cli, environ in (({name: value}, {}), ({}, {f"CNAM_BATCH_{name.upper()}": str(value)})):
        try:
            with pytest.raises(ConfigError) as caught:
                resolve_settings(cli, environ)
        except pytest.fail.Exception:
            raise AssertionError(f"{name}={value!r} from {cli or environ} was accepted") from None
        message = str(caught.value)
        assert "\n" not in message
        if cli:
            assert message.startswith(f"--{name.replace('_', '-')} must be ")
        else:  # a whole-number option may already fail as text ("1.5" is not an int)
            assert name in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rate_limit = nan\n",
            "rate_limit must be a number from 0.01 to 1000 requests per second or 'auto' "
            "(got nan from the config file)",
        ),
        (
            "wait_approval = inf\n",
            "wait_approval must be a number from 0 to 604800 seconds "
            "(got inf from the config file)",
        ),
        (
            "stale_after = -inf\n",
            "stale_after must be a number from 0 to 3650 days (got -inf from the config file)",
        ),
        (
            "concurrency = 0\n",
            "concurrency must be a whole number from 1 to 64 requests in flight "
            "(got 0 from the config file)",
        ),
        (
            "email_max_mb = 0.0\n",
            "email_max_mb must be a number above 0 and at most 10000 MB "
            "(got 0 from the config file)",
        ),
    ],
)
def test_toml_values_are_checked_too(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, {}, path)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rate_limit", 0.01),
        ("rate_limit", 1000),
        ("wait_approval", 0),
        ("wait_approval", 604800),
        ("stale_after", 0),
        ("concurrency", 64),
        ("request_timeout", 0.5),
    ],
)
def test_values_at_the_limits_are_taken(name, value):
    assert getattr(resolve_settings({name: value}, {}), name) == value


def test_check_number_allows_named_words():
    rule = NumberRule(0.01, 1000, "requests per second", words=("auto",))
    check_number("--rate-limit", "auto", rule)
    with pytest.raises(ConfigError, match=r"or 'auto' \(got fast\)"):
        check_number("--rate-limit", "fast", rule)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["--rate-limit", "nan"],
            "--rate-limit must be a number from 0.01 to 1000 requests per second or 'auto' "
            "(got nan)",
        ),
        (
            ["--wait-approval", "inf"],
            "--wait-approval must be a number from 0 to 604800 seconds (got inf)",
        ),
        (["--stale-after", "inf"], "--stale-after must be a number from 0 to 3650 days (got inf)"),
        (
            ["--request-timeout", "-1"],
            "--request-timeout must be a number above 0 and at most 3600 seconds (got -1)",
        ),
        (
            ["--concurrency", "100000"],
            "--concurrency must be a whole number from 1 to 64 requests in flight (got 100000)",
        ),
    ],
)
def test_a_sandbox_run_with_a_bad_value_sends_nothing_and_writes_nothing(tmp_path, argv, line):
    """Before: --wait-approval inf failed after the creates were sent, --stale-after inf lost the
    report, --rate-limit nan exited 1. Now: exit 2 before the journal or the run folder exist."""
    out = tmp_path / "out"
    code, lines = run_cli("run", DATA / "pipes.txt", "--sandbox", "--output", out, *argv)
    assert (code, lines) == (2, [f"cnam-batch: error: {line}"])
    assert not out.exists()


def test_environment_values_name_their_source():
    code, lines = run_cli("config", environ={"CNAM_BATCH_RATE_LIMIT": "inf"})
    assert (code, lines) == (
        2,
        [
            "cnam-batch: error: rate_limit must be a number from 0.01 to 1000 requests per "
            "second or 'auto' (got inf from the environment)"
        ],
    )


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--approve-after", "nan"], "--approve-after must be a number from 0 to 604800 seconds"),
        (["--approve-after", "-1"], "--approve-after must be a number from 0 to 604800 seconds"),
        (["--rate-limit", "inf"], "--rate-limit must be a number from 0.01 to 1000"),
        (["--rate-limit", "0"], "--rate-limit must be a number from 0.01 to 1000"),
        (["--port", "70000"], "--port must be a whole number from 0 to 65535 (got 70000)"),
    ],
)
def test_sandbox_command_checks_its_numbers(argv, fragment):
    code, lines = run_cli("sandbox", *argv)
    assert code == 2 and len(lines) == 1
    assert fragment in lines[0]


def test_sandbox_rules_cover_its_numeric_options():
    assert set(SANDBOX_RULES) == {
        "--port",
        "--approve-after",
        "--rate-limit",
        "--outage-after",
        "--outage-for",
    }
