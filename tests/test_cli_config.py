"""`cnam-batch config` and settings precedence through the real CLI (issue 4, "Configuration").

Every option can be set in a TOML file, secrets come from the environment (or the file), the
precedence is command line > environment > file > defaults, and `config` prints the effective
settings, each with its source, secrets masked.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli.app import build_parser, main
from pipeline.config import OPTION_NAMES, Settings
from pipeline.environment import Environment
from pipeline.redact import MASK

ROOT = Path(__file__).parents[1]
SOURCES = {"cli", "env", "file", "default"}
# distinctive values, so a leak is found by a plain substring search
ACCESS_KEY = "AK-93817-unlikely"
SECRET_KEY = "SK-unlikely-7f3a9c2e41"
SMTP_PASSWORD = "Pw#unlikely-5521-smtp"
FILE_SECRET_KEY = "SK-from-file-unlikely-0c4d"


def cli(argv: list[str], environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, environ=environ or {}, stderr_isatty=False)
    code = main(argv, env)
    return code, out.getvalue(), err.getvalue()


def config_json(argv: list[str], environ: dict[str, str] | None = None) -> dict[str, Any]:
    code, out, err = cli(["config", "--json", *argv], environ)
    assert code == 0, err
    return json.loads(out)


def toml_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def table_lines(out: str) -> dict[str, tuple[str, str]]:
    """`config` output -> {name: (shown value, source)}."""
    parsed = {}
    for line in out.splitlines():
        m = re.match(r"^(\w+)\s+(.*?)\s*\((cli|env|file|default)\)$", line)
        assert m, f"unexpected config line: {line!r}"
        parsed[m.group(1)] = (m.group(2), m.group(3))
    return parsed


# ------------------------------------------------------------------------------ config output


def test_config_prints_every_setting_with_its_source(tmp_path):
    cfg = toml_file(tmp_path / "c.toml", "rate_limit = 7\nstale_after = 9\n")
    code, out, err = cli(
        ["config", "--config", str(cfg), "--stale-after", "2"],
        {"CNAM_BATCH_CONCURRENCY": "3", "SMTP_HOST": "relay.example"},
    )
    assert (code, err) == (0, "")
    lines = table_lines(out)
    assert set(lines) == set(OPTION_NAMES)
    assert lines["rate_limit"] == ("7.0", "file")
    assert lines["concurrency"] == ("3", "env")
    assert lines["smtp_host"] == ("relay.example", "env")
    assert lines["stale_after"] == ("2.0", "cli")
    assert lines["wait_approval"] == ("0.0", "default")


def test_config_masks_secrets_from_the_environment_and_the_file(tmp_path):
    cfg = toml_file(
        tmp_path / "c.toml", f'smtp_user = "mailer"\nsmtp_password = "{SMTP_PASSWORD}"\n'
    )
    environ = {"FR_ACCESS_KEY": ACCESS_KEY, "FR_SECRET_KEY": SECRET_KEY}
    code, table, err = cli(["config", "--config", str(cfg)], environ)
    assert code == 0, err
    as_json = config_json(["--config", str(cfg)], environ)
    for text in (table, json.dumps(as_json), err):
        for secret in (ACCESS_KEY, SECRET_KEY, SMTP_PASSWORD):
            assert secret not in text
    lines = table_lines(table)
    assert lines["fr_secret_key"] == (MASK, "env")
    assert lines["fr_access_key"] == (MASK, "env")
    assert lines["smtp_password"] == (MASK, "file")
    assert as_json["settings"]["smtp_password"] == MASK
    assert as_json["settings"]["smtp_user"] == "mailer"  # not a secret: shown


def test_config_shows_an_unset_secret_as_unset_not_as_a_mask():
    settings = config_json([], {})["settings"]
    assert settings["fr_secret_key"] is None and settings["smtp_password"] is None


def test_config_json_has_every_setting_and_its_source(tmp_path):
    doc = config_json(["--rate-limit", "9"], {"CNAM_BATCH_STALE_AFTER": "4"})
    assert set(doc) == {"settings", "sources"}
    assert set(doc["settings"]) == set(OPTION_NAMES)
    assert set(doc["sources"]) == set(OPTION_NAMES)
    assert set(doc["sources"].values()) <= SOURCES
    assert (doc["settings"]["rate_limit"], doc["sources"]["rate_limit"]) == (9.0, "cli")
    assert (doc["settings"]["stale_after"], doc["sources"]["stale_after"]) == (4.0, "env")
    assert doc["settings"]["inputs"] == [] and doc["settings"]["email_to"] == []


def test_config_command_of_the_real_entry_point_masks_secrets(tmp_path):
    environ = {
        **{
            k: v for k, v in os.environ.items() if not k.startswith(("CNAM_BATCH_", "SMTP_", "FR_"))
        },
        "FR_ACCESS_KEY": ACCESS_KEY,
        "FR_SECRET_KEY": SECRET_KEY,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "run_batch.py"), "config", "--json", "--concurrency", "2"],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["sources"]["concurrency"] == "cli" and doc["sources"]["fr_secret_key"] == "env"
    for secret in (ACCESS_KEY, SECRET_KEY, SMTP_PASSWORD):
        assert secret not in done.stdout + done.stderr


# ---------------------------------------------------------------------------------- precedence


def test_command_line_beats_environment_beats_file_beats_defaults(tmp_path):
    cfg = toml_file(
        tmp_path / "c.toml",
        'inputs = ["drop"]\nrate_limit = 7\nconcurrency = 2\nstale_after = 9\n'
        'api_url = "http://127.0.0.1:1"\nsmtp_host = "file.relay"\nsmtp_port = 2525\n'
        f'email_to = ["file@example.com"]\nfr_secret_key = "{FILE_SECRET_KEY}"\n',
    )
    environ = {
        "CNAM_BATCH_RATE_LIMIT": "11",
        "CNAM_BATCH_CONCURRENCY": "3",
        "FLOWROUTE_API_URL": "http://127.0.0.1:2",
        "SMTP_HOST": "env.relay",
        "FR_SECRET_KEY": SECRET_KEY,
    }
    argv = ["other.csv", "--config", str(cfg), "--rate-limit", "13",
            "--api-url", "http://127.0.0.1:3", "--email-to", "cli@example.com"]  # fmt: skip
    doc = config_json(argv, environ)
    settings, sources = doc["settings"], doc["sources"]
    expected = {
        "rate_limit": (13.0, "cli"),  # set in all three layers
        "api_url": ("http://127.0.0.1:3", "cli"),  # file, FLOWROUTE_API_URL and --api-url
        "email_to": (["cli@example.com"], "cli"),  # the command line replaces the file's list
        "inputs": (["other.csv"], "cli"),
        "concurrency": (3, "env"),  # file and environment
        "smtp_host": ("env.relay", "env"),
        "fr_secret_key": (MASK, "env"),  # a secret from both: the environment wins
        "stale_after": (9.0, "file"),  # file only
        "smtp_port": (2525, "file"),
        "wait_approval": (0.0, "default"),  # nowhere
        "email_max_mb": (10.0, "default"),
    }
    got = {name: (settings[name], sources[name]) for name in expected}
    assert got == expected


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        (("file",), 9.0),
        (("file", "env"), 5.0),
        (("file", "env", "cli"), 2.0),
        (("env", "cli"), 2.0),
        ((), 3.0),
    ],
)
def test_precedence_reaches_the_run_itself(tmp_path, layers, expected):
    """A dry run (no API) shows which stale_after it used, and writes where the file says."""
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "a.csv").write_text("number,name\n2064561001,Acme Plumbing\n")
    output = tmp_path / "from-file"
    cfg = toml_file(
        tmp_path / "c.toml",
        f'inputs = ["{tmp_path / "drop"}"]\noutput = "{output}"\n'
        + ("stale_after = 9\n" if "file" in layers else ""),
    )
    environ = {"CNAM_BATCH_STALE_AFTER": "5"} if "env" in layers else {}
    argv = ["run", "--dry-run", "--quiet", "--config", str(cfg)]
    argv += ["--stale-after", "2"] if "cli" in layers else []
    code, _, err = cli(argv, environ)
    assert (code, err) == (0, "")
    (run_dir,) = list(output.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["stale_after"] == expected
    assert summary["inputs"] == [f"{tmp_path / 'drop'}/a.csv"]


# ------------------------------------------------------------------------------ the TOML file

CLI_ONLY: set[str] = set()  # pipeline.config._CLI_ONLY: every option is settable in the file


def _toml_value(name: str, kind: str) -> tuple[str, Any]:
    """(TOML literal, the value `config --json` shows) for one option, not its default."""
    special: dict[str, tuple[str, Any]] = {
        "association_path": ('"cnam"', "cnam"),
        "api_url": ('"http://127.0.0.1:9"', "http://127.0.0.1:9"),
        "sandbox": ("false", False),  # exclusive with dry_run
        "smtp_ssl": ("false", False),  # exclusive with smtp_starttls
        "verbose": ("false", False),  # exclusive with quiet
        "smtp_port": ("2525", 2525),
        "concurrency": ("7", 7),
        "max_runtime": ('"30m"', 1800.0),
        "rate_limit": ('"auto"', "auto"),  # a number or "auto"
        "fr_access_key": ('"file-access-key"', MASK),
        "fr_secret_key": (f'"{FILE_SECRET_KEY}"', MASK),
        "smtp_password": ('"file-smtp-password"', MASK),
    }
    if name in special:
        return special[name]
    if kind == "bool":
        return "true", True
    if kind == "int":
        return "3", 3
    if kind == "float":
        return "2.5", 2.5
    if kind == "tuple[str, ...]":
        return f'["{name}-1", "{name}-2"]', [f"{name}-1", f"{name}-2"]
    if kind in ("Path", "Path | None"):
        return f'"some/{name}"', f"some/{name}"
    if kind in ("str", "str | None"):
        return f'"{name}-value"', f"{name}-value"
    pytest.fail(f"option {name} has type {kind}: teach this test (and the TOML reader) about it")


def test_a_toml_file_setting_every_option_is_accepted_and_every_value_is_used(tmp_path):
    kinds = {f.name: str(f.type) for f in dataclasses.fields(Settings)}
    names = [n for n in OPTION_NAMES if n not in CLI_ONLY]
    values = {name: _toml_value(name, kinds[name]) for name in names}
    cfg = toml_file(tmp_path / "all.toml", "".join(f"{n} = {v[0]}\n" for n, v in values.items()))
    doc = config_json(["--config", str(cfg)])
    for name, (_, shown) in values.items():
        assert (doc["settings"][name], doc["sources"][name]) == (shown, "file"), name
    for secret in (FILE_SECRET_KEY, "file-access-key", "file-smtp-password"):
        assert secret not in json.dumps(doc)


def test_every_option_of_run_can_be_set_in_the_toml_file():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    run = sub.choices["run"]  # type: ignore[attr-defined]
    dests = {a.dest for a in run._actions if a.dest not in ("help", "config")}
    assert dests, "no options found on the run parser"
    assert dests - set(OPTION_NAMES) == set()  # each is a setting, so the TOML file knows it


def test_verbose_can_be_set_in_the_toml_file(tmp_path):
    cfg = toml_file(tmp_path / "c.toml", "verbose = true\n")
    doc = config_json(["--config", str(cfg)])
    assert doc["settings"]["verbose"] is True and doc["sources"]["verbose"] == "file"


@pytest.mark.parametrize("command", ["config", "run"])
def test_unknown_key_in_the_file_exits_2_with_one_line_naming_file_and_key(tmp_path, command):
    cfg = toml_file(tmp_path / "cron.toml", 'rate_limt = 7\noutput = "out"\n')
    code, out, err = cli([command, "--dry-run", "--config", str(cfg)])
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cnam-batch: error: ")
    assert str(cfg) in lines[0] and "'rate_limt'" in lines[0]
    assert not (tmp_path / "out").exists()


def test_unknown_cnam_batch_environment_variable_exits_2_naming_it():
    code, _, err = cli(["config"], {"CNAM_BATCH_RATE_LIMT": "7"})
    assert code == 2
    assert len(err.splitlines()) == 1 and "CNAM_BATCH_RATE_LIMT" in err


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('rate_limit = "fast"', "rate_limit = 'fast' is not valid"),
        ("smtp_port = 70000", "smtp_port must be a whole number from 1 to 65535"),
        ("smtp_ssl = true\nsmtp_starttls = true", "smtp_ssl and smtp_starttls are exclusive"),
        ('association_path = "numbers"', "association_path must be"),
        ("rate_limit = [", "not valid TOML"),
    ],
)
def test_bad_values_in_the_file_exit_2_with_one_line(tmp_path, text, fragment):
    cfg = toml_file(tmp_path / "c.toml", text + "\n")
    code, _, err = cli(["config", "--config", str(cfg)])
    assert code == 2
    assert len(err.splitlines()) == 1 and fragment in err, err


def test_a_secret_of_the_wrong_type_is_named_but_not_shown(tmp_path):
    cfg = toml_file(tmp_path / "c.toml", "fr_secret_key = 91827364\n")
    code, _, err = cli(["config", "--config", str(cfg)])
    assert code == 2
    assert str(cfg) in err and "fr_secret_key" in err
    assert "91827364" not in err


def test_missing_config_file_exits_2_naming_it(tmp_path):
    code, _, err = cli(["config", "--config", str(tmp_path / "nope.toml")])
    assert code == 2 and "nope.toml" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("flag", ["--fr-secret-key", "--smtp-password", "--fr-access-key"])
def test_secrets_are_not_accepted_on_the_command_line(flag):
    code, out, _ = cli(["config", flag, "x"])
    assert code == 2 and out == ""


# ------------------------------------------------------------------------------ reported gaps


def test_config_with_sandbox_shows_the_journal_the_run_will_use():
    settings = config_json(["--sandbox"])["settings"]
    assert settings["state"] == str(Path("output") / "sandbox" / "state.sqlite")


def test_config_piped_into_a_closed_reader_exits_quietly(tmp_path):
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, str(ROOT / "run_batch.py"), "config", "--json"],
        cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader went away before the first byte
        try:
            err = proc.stderr.read()
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert b"internal error" not in err, err
