"""The command line in-process: `main(argv, env)` with StringIO streams, asserting the exit code,
the one stderr line of an error, and the files a run leaves behind.

Every error a user can make with the command line or an input file ends with exit code 2 and ONE
line on stderr that names the file (and line or sheet) and says what to do; `--verbose` adds the
traceback. The real entry points as subprocesses are in test_entrypoint.py.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from e2e_util import own_input_numbers

from pipeline.cli.app import build_parser, main
from pipeline.environment import Environment
from pipeline.errors import ExitCode
from pipeline.journal.store import Journal
from pipeline.sandbox.control import FaultConfig
from pipeline.sandbox.server import SandboxConfig, SandboxServer

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
EXAMPLE = REPO / "input" / "example.xlsx"
MULTI = DATA / "multi_file"
RUN_ID = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
OUTCOME = re.compile(r"^cnam-batch (\d{8}T\d{6}Z(?:-\d+)?): .* \((\d+) rows\); report: .+$")
REPORT_FILES = {"report.csv", "report.xlsx", "summary.json", "run.log"}


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.splitlines()


def cli(
    argv: Sequence[object],
    *,
    environ: dict[str, str] | None = None,
    isatty: bool = False,
    now: datetime | None = None,
) -> Result:
    """main(argv, env) with captured streams and an environment that holds only `environ`."""
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, environ=dict(environ or {}), stderr_isatty=isatty)
    if now is not None:
        env.now = lambda: now
    code = main([str(a) for a in argv], env)
    return Result(code, out.getvalue(), err.getvalue())


def assert_one_error_line(result: Result, *fragments: str) -> str:
    """Exit 2, exactly one stderr line, no traceback, and the line says each fragment."""
    assert result.code == ExitCode.USAGE, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.lines) == 1, result.stderr
    line = result.lines[0]
    assert line.startswith("cnam-batch: error: "), line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def run_dirs(output: Path) -> list[Path]:
    return sorted(p for p in output.iterdir() if p.is_dir()) if output.exists() else []


def read_report(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "report.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def options_of(command: str | None) -> list[str]:
    """The long option strings of a subcommand (or of the top-level parser), from the parser."""
    parser = build_parser()
    if command is not None:
        sub = next(a for a in parser._actions if a.choices and command in a.choices)
        parser = sub.choices[command]  # type: ignore[index]
    return [o for a in parser._actions for o in a.option_strings if o.startswith("--")]


@pytest.fixture(autouse=True)
def restore_cnam_logger() -> Iterator[None]:
    """main() configures the "pipeline" logger (handler on env.stderr, propagate off) for the call;
    should a test fail half-way, put it back so later modules' caplog still sees the records."""
    logger = logging.getLogger("pipeline")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(approve_after=3600)) as server:
        yield server


# ------------------------------------------------------------------- usage and input errors: exit 2


def _write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# (id, files to create in tmp_path, argv after "run" with {tmp}/{data} placeholders, environ,
#  fragments the one line must contain)
ERROR_CASES = [
    (
        "missing_input_file",
        {},
        ["{tmp}/customers.csv", "--dry-run"],
        {},
        ["customers.csv", "no such file", "check the path"],
    ),
    (
        "unsupported_suffix",
        {"customers.pdf": b"%PDF-1.4\n"},
        ["{tmp}/customers.pdf", "--dry-run"],
        {},
        ["customers.pdf", "unsupported file type '.pdf'", "use .csv, .tsv, .txt, .xlsx"],
    ),
    (
        "not_a_workbook",
        {},
        ["{data}/not_a_workbook.xlsx", "--dry-run"],
        {},
        ["not_a_workbook.xlsx", "not a valid .xlsx workbook", "save it again"],
    ),
    (
        "garbage_bytes_csv",
        {},
        ["{data}/garbage_bytes.csv", "--dry-run"],
        {},
        ["garbage_bytes.csv line 3", "not delimited text", "save it as CSV UTF-8"],
    ),
    (
        "undecodable_csv",
        {},
        ["{data}/undecodable.csv", "--dry-run"],
        {},
        ["undecodable.csv line 3", "0x81", "save the file as CSV UTF-8"],
    ),
    (
        "too_many_fields",
        {},
        ["{data}/too_many_fields.csv", "--dry-run"],
        {},
        ["too_many_fields.csv line 3", "3 fields where the header has 2", "quote names"],
    ),
    (
        "no_recognizable_column",
        {},
        ["{data}/no_recognizable_column.csv", "--dry-run"],
        {},
        [
            "no_recognizable_column.csv",
            "'Account', 'Customer', 'Mobile'",
            "--number-column",
            "--name-column",
        ],
    ),
    (
        "unknown_sheet",
        {},
        [str(EXAMPLE), "--sheet", "Customers", "--dry-run"],
        {},
        ["example.xlsx", "no sheet named 'Customers'", "the sheets are 'Numbers'"],
    ),
    (
        "bad_option_value",
        {},
        ["{data}/pipes.txt", "--rate-limit", "abc", "--dry-run"],
        {},
        ["--rate-limit", "'abc'", "--help"],
    ),
    (
        "option_out_of_range",
        {},
        ["{data}/pipes.txt", "--rate-limit", "0", "--dry-run"],
        {},
        ["--rate-limit must be a number from 0.01 to 1000", "(got 0)"],
    ),
    (
        "bad_choice",
        {},
        ["{data}/pipes.txt", "--association-path", "cnamz", "--dry-run"],
        {},
        ["--association-path", "'cnamz'", "cnams"],
    ),
    (
        "unknown_option",
        {},
        ["{data}/pipes.txt", "--frobnicate", "--dry-run"],
        {},
        ["unrecognized arguments: --frobnicate", "--help"],
    ),
    (
        "bad_config_toml",
        {"cnam.toml": 'output = "out"\nrate_limit = = 5\n'},
        ["{data}/pipes.txt", "--config", "{tmp}/cnam.toml", "--dry-run"],
        {},
        ["cnam.toml", "not valid TOML", "line 2"],
    ),
    (
        "config_unknown_key",
        {"cnam.toml": "rate_limt = 5\n"},
        ["{data}/pipes.txt", "--config", "{tmp}/cnam.toml", "--dry-run"],
        {},
        ["cnam.toml", "unknown setting 'rate_limt'", "rate_limit"],
    ),
    (
        "config_bad_value",
        {"cnam.toml": 'rate_limit = "fast"\n'},
        ["{data}/pipes.txt", "--config", "{tmp}/cnam.toml", "--dry-run"],
        {},
        ["cnam.toml", "rate_limit", "'fast'", "not valid"],
    ),
    (
        "config_file_missing",
        {},
        ["{data}/pipes.txt", "--config", "{tmp}/nope.toml", "--dry-run"],
        {},
        ["nope.toml", "config file not found"],
    ),
    (
        "environment_bad_value",
        {},
        ["{data}/pipes.txt", "--dry-run"],
        {"CNAM_BATCH_CONCURRENCY": "many"},
        ["CNAM_BATCH_CONCURRENCY", "'many'", "not valid"],
    ),
    (
        "blocklist_missing",
        {},
        ["{data}/pipes.txt", "--blocklist", "{tmp}/blocked.txt", "--dry-run"],
        {},
        ["--blocklist", "blocked.txt", "check the path"],
    ),
    (
        "dry_run_with_sandbox",
        {},
        ["{data}/pipes.txt", "--dry-run", "--sandbox"],
        {},
        ["--dry-run and --sandbox"],
    ),
    (
        "email_without_smtp",
        {},
        ["{data}/pipes.txt", "--dry-run", "--email-to", "ops@example.com"],
        {},
        ["--email-to", "SMTP_HOST"],
    ),
]


@pytest.mark.parametrize(
    ("files", "argv", "environ", "fragments"),
    [pytest.param(*case[1:], id=case[0]) for case in ERROR_CASES],
)
def test_usage_and_input_errors_exit_2_with_one_line(
    tmp_path: Path,
    files: dict[str, bytes | str],
    argv: list[str],
    environ: dict[str, str],
    fragments: list[str],
) -> None:
    for name, data in files.items():
        _write(tmp_path / name, data)
    args = [a.format(tmp=tmp_path, data=DATA) for a in argv]
    output = tmp_path / "out"
    result = cli(["run", *args, "--output", output], environ=environ)
    assert_one_error_line(result, *fragments)
    # nothing was reported as if the run had finished
    assert not any((d / "summary.json").exists() for d in run_dirs(output))


def test_unknown_subcommand_exits_2_and_lists_the_commands() -> None:
    line = assert_one_error_line(cli(["frobnicate"]), "'frobnicate'")
    for command in ("run", "status", "config", "sandbox"):
        assert f"'{command}'" in line


def test_no_subcommand_prints_help_and_exits_2() -> None:
    result = cli([])
    assert result.code == ExitCode.USAGE
    assert result.stderr.startswith("usage: cnam-batch")
    for command in ("run", "status", "config", "sandbox"):
        assert re.search(rf"^\s+{command}\s", result.stderr, re.M), command
    assert result.stdout == ""


def test_missing_credentials_stop_a_real_run_before_anything_is_sent(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    state = tmp_path / "state.sqlite"
    result = cli(
        ["run", DATA / "pipes.txt", "--state", state, "--output", tmp_path / "out"],
        environ={"FLOWROUTE_API_URL": sandbox.url},  # no FR_ACCESS_KEY / FR_SECRET_KEY
    )
    assert_one_error_line(result, "FR_ACCESS_KEY", "FR_SECRET_KEY", "--dry-run", "--sandbox")
    assert sandbox.log == []
    assert not state.exists()
    assert run_dirs(tmp_path / "out") == []


def test_input_error_in_a_real_run_sends_nothing(tmp_path: Path, sandbox: SandboxServer) -> None:
    environ = {
        "FLOWROUTE_API_URL": sandbox.url,
        "FR_ACCESS_KEY": sandbox.access_key,
        "FR_SECRET_KEY": sandbox.secret_key,
    }
    result = cli(
        [
            "run",
            DATA / "pipes.txt",
            DATA / "too_many_fields.csv",
            "--state",
            tmp_path / "state.sqlite",
            "--output",
            tmp_path / "out",
        ],
        environ=environ,
    )
    assert_one_error_line(result, "too_many_fields.csv line 3")
    assert sandbox.log == []
    assert sandbox.secret_key not in result.stderr


def test_verbose_adds_the_traceback_before_the_one_line(tmp_path: Path) -> None:
    plain = cli(["run", DATA / "too_many_fields.csv", "--dry-run", "--output", tmp_path / "a"])
    verbose = cli(
        ["run", DATA / "too_many_fields.csv", "--dry-run", "--verbose", "--output", tmp_path / "b"]
    )
    assert verbose.code == plain.code == ExitCode.USAGE
    assert "Traceback (most recent call last)" in verbose.stderr
    assert "InputError" in verbose.stderr
    assert verbose.lines[-1] == plain.lines[0]


def test_verbose_traceback_also_for_usage_errors() -> None:
    result = cli(["run", "--rate-limit", "abc", "--verbose"])
    assert result.code == ExitCode.USAGE
    assert "Traceback (most recent call last)" in result.stderr
    assert result.lines[-1].startswith("cnam-batch: error: ")


# ------------------------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", ["run", "status", "config", "sandbox"])
def test_subcommand_help_mentions_every_option(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    options = options_of(command)
    assert options, command
    missing = [o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)]
    assert missing == []


def test_run_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli(["run", "--help"])
    text = capsys.readouterr().out
    assert "exit codes:" in text
    codes = text.split("exit codes:", 1)[1]
    found = [int(n) for n in re.findall(r"(?<![\w-])(\d+) (?=[a-z])", codes)]
    assert found == [int(code) for code in ExitCode]


def test_top_level_help_lists_commands_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("run", "status", "config", "sandbox"):
        assert re.search(rf"^\s+{command}\s", text, re.M), command
    assert "--version" in text


# --------------------------------------------------------------------------------------- dry runs


def test_dry_run_of_the_example_writes_the_report_folder(tmp_path: Path) -> None:
    output = tmp_path / "out"
    result = cli(["run", EXAMPLE, "--dry-run", "--output", output])
    assert result.code == ExitCode.OK, result.stderr
    (run_dir,) = run_dirs(output)
    assert RUN_ID.match(run_dir.name)
    assert {p.name for p in run_dir.iterdir()} == REPORT_FILES | {"suggested_fixes.csv"}
    # stderr: the one outcome line, naming the run and the report
    assert len(result.lines) == 1, result.stderr
    outcome = OUTCOME.match(result.lines[0])
    assert outcome, result.lines[0]
    assert outcome.group(1) == run_dir.name
    assert outcome.group(2) == "23"
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["run_id"] == run_dir.name
    assert summary["dry_run"] is True
    assert summary["exit_code"] == 0
    assert summary["rows_total"] == len(read_report(run_dir)) == 23
    assert summary["api"]["requests"] == 0
    log_lines = (run_dir / "run.log").read_text(encoding="utf-8").splitlines()
    assert log_lines
    assert all(
        re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARNING|ERROR) ", line)
        for line in log_lines
        if not line.startswith(" ")
    )
    assert run_dir.name in log_lines[0]


def test_run_id_is_the_utc_start_time(tmp_path: Path) -> None:
    pacific = timezone(timedelta(hours=-8))
    result = cli(
        ["run", DATA / "pipes.txt", "--dry-run", "--output", tmp_path],
        now=datetime(2030, 1, 2, 3, 4, 5, tzinfo=pacific),
    )
    assert result.code == ExitCode.OK, result.stderr
    assert [d.name for d in run_dirs(tmp_path)] == ["20300102T110405Z"]


def test_two_runs_in_the_same_second_get_a_suffix(tmp_path: Path) -> None:
    now = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)
    for _ in range(3):
        result = cli(["run", DATA / "pipes.txt", "--dry-run", "--output", tmp_path], now=now)
        assert result.code == ExitCode.OK, result.stderr
    names = [d.name for d in run_dirs(tmp_path)]
    assert names == ["20300601T120000Z", "20300601T120000Z-2", "20300601T120000Z-3"]
    assert all(RUN_ID.match(n) for n in names)
    for name in names:
        summary = json.loads((tmp_path / name / "summary.json").read_text(encoding="utf-8"))
        assert summary["run_id"] == name


def test_folder_input_takes_every_supported_file_sorted_by_name(tmp_path: Path) -> None:
    result = cli(["run", MULTI, "--dry-run", "--output", tmp_path])
    assert result.code == ExitCode.OK, result.stderr
    (run_dir,) = run_dirs(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    expected = [
        str(MULTI / "a_blank_and_quoted_newline.csv"),
        str(MULTI / "b_tabs.tsv"),
        str(MULTI / "c_pipes.txt"),
    ]  # README.md in the folder is not an input
    assert summary["inputs"] == expected
    files_in_report = list(dict.fromkeys(r["source_file"] for r in read_report(run_dir)))
    assert files_in_report == expected


def test_report_has_one_line_per_non_blank_row_in_input_order(tmp_path: Path) -> None:
    # files on the command line keep the order they are given in, not name order
    c, a, b = MULTI / "c_pipes.txt", MULTI / "a_blank_and_quoted_newline.csv", MULTI / "b_tabs.tsv"
    result = cli(["run", c, a, b, "--dry-run", "--output", tmp_path])
    assert result.code == ExitCode.OK, result.stderr
    (run_dir,) = run_dirs(tmp_path)
    rows = read_report(run_dir)
    got = [(Path(r["source_file"]).name, int(r["source_row"]), r["input_name"]) for r in rows]
    assert got == [
        ("c_pipes.txt", 2, "Sixth"),
        ("c_pipes.txt", 4, "Seventh"),
        ("c_pipes.txt", 5, "First One"),
        # a quoted newline stays inside its row; row numbers are records as a person sees them
        ("a_blank_and_quoted_newline.csv", 2, "First One"),
        ("a_blank_and_quoted_newline.csv", 4, "Second\nLine"),
        ("a_blank_and_quoted_newline.csv", 6, "Third"),
        ("b_tabs.tsv", 2, "Fourth"),
        ("b_tabs.tsv", 4, "Fifth"),
    ]
    by_row = {(Path(r["source_file"]).name, int(r["source_row"])): r for r in rows}
    first_one = by_row[("a_blank_and_quoted_newline.csv", 2)]
    assert first_one["status"] == "duplicate"  # c_pipes.txt row 5 came first on this command line
    assert "c_pipes.txt row 5" in first_one["reason"]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["rows_total"] == len(rows) == 8
    # "," and an empty line in a, a tab-only line in b, "  |  " in c
    assert summary["blank_rows_skipped"] == 4


def test_blank_rows_are_counted_in_the_summary(tmp_path: Path) -> None:
    result = cli(["run", EXAMPLE, "--dry-run", "--output", tmp_path])
    assert result.code == ExitCode.OK, result.stderr
    (run_dir,) = run_dirs(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["blank_rows_skipped"] == 1
    assert 9 not in {int(r["source_row"]) for r in read_report(run_dir)}  # the blank row 9


# ---------------------------------------------------------------------------- real runs, sandbox


def test_locked_journal_exits_4_with_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    holder = Journal(state).open()
    try:
        result = cli(
            ["run", DATA / "pipes.txt", "--sandbox", "--state", state, "--output", tmp_path / "o"]
        )
    finally:
        holder.close()
    assert result.code == ExitCode.LOCKED
    assert "Traceback" not in result.stderr
    assert len(result.lines) == 1, result.stderr
    assert result.lines[0].startswith("cnam-batch: error: ")
    assert "state.sqlite.lock" in result.lines[0]
    assert "wait" in result.lines[0]
    assert run_dirs(tmp_path / "o") == []  # the run stopped before writing anything


def _sandbox_run(tmp_path: Path, isatty: bool) -> Result:
    return cli(
        [
            "run",
            DATA / "pipes.txt",
            "--sandbox",
            "--state",
            tmp_path / "state.sqlite",
            "--output",
            tmp_path / "out",
            "--rate-limit",
            "500",
        ],
        isatty=isatty,
    )


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    result = _sandbox_run(tmp_path, isatty=False)
    assert result.code == ExitCode.OK, result.stderr
    assert "\r" not in result.stderr
    assert len(result.lines) == 1, result.stderr
    assert OUTCOME.match(result.lines[0])
    (run_dir,) = run_dirs(tmp_path / "out")
    assert {p.name for p in run_dir.iterdir()} >= REPORT_FILES | {"carried_over.csv"}


def test_progress_bar_when_stderr_is_a_terminal(tmp_path: Path) -> None:
    result = _sandbox_run(tmp_path, isatty=True)
    assert result.code == ExitCode.OK, result.stderr
    assert "\r" in result.stderr
    assert "row" in result.stderr.split("cnam-batch ")[0]


def test_outcome_line_starts_on_a_clean_terminal_line(tmp_path: Path) -> None:
    result = _sandbox_run(tmp_path, isatty=True)
    assert result.code == ExitCode.OK, result.stderr
    before = result.stderr[: result.stderr.index("cnam-batch 2")]
    assert before == "" or before.endswith(("\n", "\r"))


def test_quiet_real_run_prints_nothing(tmp_path: Path) -> None:
    result = cli(
        [
            "run",
            DATA / "pipes.txt",
            "--sandbox",
            "--quiet",
            "--state",
            tmp_path / "state.sqlite",
            "--output",
            tmp_path / "out",
            "--rate-limit",
            "500",
        ],
        isatty=True,
    )
    assert result.code == ExitCode.OK
    assert result.stderr == ""


# --------------------------------------------------------------------------- the process boundary


class ClosedPipe(io.StringIO):
    """stdout of `cnam-batch config | head -1` once head has exited."""

    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_closed_stdout_pipe_is_not_an_internal_error() -> None:
    err = io.StringIO()
    env = Environment(stdout=ClosedPipe(), stderr=err, environ={}, stderr_isatty=False)
    code = main(["config"], env)
    assert err.getvalue() == ""  # not "internal error ... please report it"
    assert code != ExitCode.ROWS_FAILED


def test_main_leaves_no_logging_state_behind(tmp_path: Path) -> None:
    loggers = [logging.getLogger(name) for name in ("pipeline", "cnam_batch", "")]
    before = [(list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    for argv in (
        ["run", DATA / "pipes.txt", "--dry-run", "--output", tmp_path],
        ["run", DATA / "too_many_fields.csv", "--dry-run", "--output", tmp_path],
    ):
        cli(argv)
        assert [(list(lg.handlers), lg.level, lg.propagate) for lg in loggers] == before


def test_retry_warnings_go_to_run_log(tmp_path: Path) -> None:
    faults = FaultConfig(seed=1, error_rate=0.5)
    with SandboxServer(SandboxConfig(approve_after=3600, faults=faults)) as server:
        own_input_numbers(server, [EXAMPLE])  # the account lists the numbers of its input
        err = io.StringIO()
        env = Environment(
            stdout=io.StringIO(),
            stderr=err,
            environ={
                "FLOWROUTE_API_URL": server.url,
                "FR_ACCESS_KEY": server.access_key,
                "FR_SECRET_KEY": server.secret_key,
            },
            stderr_isatty=False,
            sleep=lambda seconds: None,
        )
        argv = ["run", str(EXAMPLE), "--concurrency", "1", "--rate-limit", "500"]
        argv += ["--state", str(tmp_path / "state.sqlite"), "--output", str(tmp_path / "out")]
        code = main(argv, env)
        faulted = sum(1 for entry in server.log if entry.fault)
    assert code == ExitCode.OK, err.getvalue()
    assert faulted > 0  # the sandbox did answer some writes with 500/503
    (run_dir,) = run_dirs(tmp_path / "out")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["api"]["retries"] >= faulted
    assert "retry 1 of" in (run_dir / "run.log").read_text(encoding="utf-8")
    assert "retry 1 of" in err.getvalue()  # a warning: on stderr too (cron mails it)


def test_a_terminal_is_told_each_stage_and_cron_is_not(tmp_path: Path) -> None:
    argv = ["run", DATA / "pipes.txt", "--dry-run", "--output", tmp_path / "out"]
    on_terminal = cli(argv, isatty=True)
    assert on_terminal.code == ExitCode.OK
    assert [line for line in on_terminal.lines if line.endswith("...")] == [
        "cnam-batch: reading 1 input file(s)...",
        "cnam-batch: checking 2 rows...",
        "cnam-batch: writing the report for 2 rows...",
    ]
    under_cron = cli(argv, isatty=False)
    assert not [line for line in under_cron.lines if line.endswith("...")]
    assert cli([*argv, "--quiet"], isatty=True).stderr == ""
