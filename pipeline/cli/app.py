"""The command line: argv, environment and streams in; an exit code out. Nothing else knows argv.

One error boundary (`main`) turns every `CnamBatchError` into its exit code and one line on stderr;
`--verbose` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO

from pipeline import __version__
from pipeline.config import RateLimit, Settings, parse_duration, parse_rate_limit, resolve_settings
from pipeline.environment import Environment
from pipeline.errors import CnamBatchError, ExitCode, UsageError
from pipeline.redact import redact

log = logging.getLogger("pipeline")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so the one error boundary handles usage errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


DESCRIPTION = """\
Bulk CNAM (outbound caller-ID name) records for Flowroute numbers: read a spreadsheet of numbers and
names, validate every row, create each unique name once, wait for Flowroute's review across runs,
associate approved names with their numbers, and report what happened to every row."""

RUN_EPILOG = """\
examples:
  cnam-batch run input/example.xlsx --dry-run          validate and plan; nothing is sent
  cnam-batch run input/example.xlsx --sandbox --wait-approval 10
                                                       the whole lifecycle against the built-in sandbox
  FR_ACCESS_KEY=... FR_SECRET_KEY=... cnam-batch run customers.xlsx
                                                       the real thing (keys: Manage portal > Preferences > API Control)
  cnam-batch run                                       only advance earlier runs' pending and failed rows

exit codes: 0 done (rejected/pending rows are normal), 1 some rows failed (retried next run),
2 usage or input error (nothing sent), 3 credentials refused or API unreachable, 4 another run holds
the state file's lock, 5 report written but the email could not be sent, 130 interrupted."""


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `run` and `config`. Defaults are None so precedence can tell what was given."""
    io = p.add_argument_group("input and output")
    io.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="a .csv/.tsv/.txt/.xlsx/.xlsm/.ods file, or a folder of them (sorted by name)",
    )
    io.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="where the run's folder DIR/<run_id>/ with the report is written (default: output)",
    )
    io.add_argument(
        "--state",
        type=Path,
        metavar="PATH",
        help="the SQLite journal that carries work across runs (default: output/state.sqlite)",
    )
    io.add_argument(
        "--sheet", metavar="NAME", help="workbook sheet to read (default: the first with data)"
    )
    io.add_argument(
        "--number-column",
        metavar="COL",
        help="number column: header text, letter (B) or 1-based index (default: detected)",
    )
    io.add_argument(
        "--name-column",
        metavar="COL",
        help="name column: header text, letter or 1-based index (default: detected)",
    )
    io.add_argument(
        "--reprocess",
        action="store_true",
        default=None,
        help="take files of an INPUT folder again even if an earlier run took them",
    )
    io.add_argument(
        "--move-processed",
        type=Path,
        metavar="DIR",
        help="move each input file to DIR once its rows are in the journal",
    )
    api = p.add_argument_group("API")
    api.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="load, validate, plan and report; no API call at all",
    )
    api.add_argument(
        "--sandbox",
        action="store_true",
        default=None,
        help="run against the built-in Flowroute sandbox on a free loopback port; no credentials needed",
    )
    api.add_argument(
        "--api-url",
        metavar="URL",
        help="API base; env FLOWROUTE_API_URL (default: https://api.flowroute.com)",
    )
    api.add_argument(
        "--rate-limit",
        type=_rate_limit_arg,
        metavar="N|auto",
        help="most API requests per second, all endpoints together; below it the rate Flowroute's "
        "429s allow is learned and remembered. auto: start at 5/s, learn up to 50/s (default: auto)",
    )
    api.add_argument(
        "--concurrency", type=int, metavar="N", help="requests in flight at once (default: 4)"
    )
    api.add_argument(
        "--wait-approval",
        type=float,
        metavar="SECONDS",
        help="poll pending records until approved/rejected or this time passes (default: 0)",
    )
    api.add_argument(
        "--association-path",
        choices=("cnams", "cnam"),
        help="association path form: documented 'cnams' (default) or the SDKs' 'cnam'",
    )
    api.add_argument(
        "--max-runtime",
        type=_duration,
        metavar="DURATION",
        help="at this deadline (90s, 30m, 2h) no new API call starts; the report is written and "
        "unfinished rows wait for the next run (exit 1) (default: none)",
    )
    api.add_argument(
        "--outage-budget",
        type=float,
        metavar="SECONDS",
        help="give up (exit 3) when every API call failed for this long (default: 120)",
    )
    api.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        help="timeout of each API request (default: 30)",
    )
    api.add_argument(
        "--give-up-after",
        type=int,
        metavar="N",
        help="a row that failed in N runs in a row is reported failed and no longer sent "
        "(0: never give up; default: 5)",
    )
    api.add_argument(
        "--retry-failed",
        action="store_true",
        default=None,
        help="send rows given up on (--give-up-after) again",
    )
    rules = p.add_argument_group("validation")
    rules.add_argument(
        "--blocklist", type=Path, metavar="FILE", help="extra words or phrases to block, one a line"
    )
    rules.add_argument(
        "--allowlist",
        type=Path,
        metavar="FILE",
        help="words or phrases to allow despite the built-in lists, one a line",
    )
    rules.add_argument(
        "--accept-suggestions",
        action="store_true",
        default=None,
        help="run names rejected as too long or for their characters with their suggestion "
        "(warning suggestion_applied) instead of rejecting them",
    )
    mail = p.add_argument_group("email and reporting")
    mail.add_argument(
        "--email-to",
        action="append",
        metavar="ADDR",
        help="send the report to ADDR when the run ends (repeatable; SMTP_* settings)",
    )
    mail.add_argument(
        "--email-from", metavar="ADDR", help="sender address (default: cnam-batch@<hostname>)"
    )
    mail.add_argument(
        "--stale-after",
        type=float,
        metavar="DAYS",
        help="call out rows pending approval longer than this (default: 3)",
    )
    mail.add_argument(
        "--email-max-mb",
        type=float,
        metavar="N",
        help="attach report.csv zipped instead of report.xlsx above this size (default: 10)",
    )
    general = p.add_argument_group("general")
    general.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML file that sets any of these (keys = option names with _)",
    )
    general.add_argument(
        "--quiet", action="store_true", default=None, help="only errors and warnings on stderr"
    )
    general.add_argument(
        "--verbose",
        action="store_true",
        default=None,
        help="more on stderr, and tracebacks for errors",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cnam-batch",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cnam-batch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="the main job: validate, create, associate, report",
        description=DESCRIPTION,
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(run)

    status = sub.add_parser(
        "status",
        help="what the journal holds: records, waiting and failed rows",
        description="Print what the journal holds: records by state, rows waiting "
        "for approval and since when, failed rows the next run retries.",
    )
    status.add_argument(
        "--state", type=Path, metavar="PATH", help="the journal (default: output/state.sqlite)"
    )
    status.add_argument(
        "--sandbox",
        action="store_true",
        default=None,
        help="show the journal of --sandbox runs (output/sandbox/state.sqlite)",
    )
    status.add_argument(
        "--output", type=Path, metavar="DIR", help="the --output of the runs (default: output)"
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.add_argument("--config", type=Path, metavar="FILE", help="a TOML settings file")

    config = sub.add_parser(
        "config",
        help="print the effective settings, secrets masked",
        description="Print the effective settings (command line > environment > "
        "config file > defaults) and where each came from; secrets are masked.",
    )
    _add_run_options(config)
    config.add_argument("--json", action="store_true", help="print JSON instead of a table")

    sandbox = sub.add_parser(
        "sandbox",
        help="serve the Flowroute sandbox API on 127.0.0.1",
        description="Serve a Flowroute v2 compatible sandbox API on 127.0.0.1 for "
        "trials. Credentials: FR_ACCESS_KEY/FR_SECRET_KEY if set, else generated "
        "and printed.",
    )
    sandbox.add_argument(
        "--port", type=int, default=8080, help="port (default 8080; 0 = any free port)"
    )
    sandbox.add_argument(
        "--approve-after",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds until the sandbox's review decides a new record (default 30)",
    )
    sandbox.add_argument(
        "--rate-limit",
        type=float,
        metavar="N",
        help="answer 429 beyond N requests in any sliding second (default: no limit)",
    )
    sandbox.add_argument(
        "--no-retry-after",
        action="store_true",
        help="send the 429s of --rate-limit without a Retry-After header, as Flowroute may",
    )
    sandbox.add_argument(
        "--numbers",
        type=Path,
        metavar="FILE",
        help="the account's numbers, one a line (default: every valid US long-code number)",
    )
    sandbox.add_argument(
        "--state-file",
        type=Path,
        metavar="FILE",
        help="keep the sandbox's records in this JSON file (default: memory only)",
    )
    sandbox.add_argument(
        "--outage-after",
        type=int,
        metavar="N",
        help="an outage: serve the first N requests, then fail every later one (see --outage-mode)",
    )
    sandbox.add_argument(
        "--outage-mode",
        choices=("500", "503", "drop", "401"),
        default="503",
        help="how requests fail in the outage: 500, 503 (default), drop the connection, or 401 "
        "(the keys were revoked)",
    )
    sandbox.add_argument(
        "--outage-for",
        type=float,
        metavar="S",
        help="the outage ends after S seconds (default: it lasts until the sandbox stops)",
    )
    return parser


def _rate_limit_arg(text: str) -> RateLimit:
    try:
        return parse_rate_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (got {text!r})") from None


def _cli_values(args: argparse.Namespace) -> dict[str, Any]:
    skip = {"command", "config", "json", "inputs", "email_to"}
    values = {k: v for k, v in vars(args).items() if k not in skip}
    if args.inputs:
        values["inputs"] = tuple(args.inputs)
    if args.email_to:
        values["email_to"] = tuple(args.email_to)
    return values


def _settings(args: argparse.Namespace, env: Environment) -> Settings:
    if args.command in ("run", "config"):
        cli = _cli_values(args)
    else:
        cli = {"state": args.state, "sandbox": args.sandbox, "output": args.output}
    return resolve_settings(cli, env.environ, args.config)


@contextmanager
def _logging_to(settings: Settings, env: Environment) -> Iterator[None]:
    """stderr gets warnings (cron mails stderr), errors only with --quiet, more with --verbose.

    Every module logs under "pipeline"; its handlers and level are set for this call only and put
    back afterwards, so main() leaves no logging state behind.
    """
    saved = (list(log.handlers), log.level, log.propagate)
    log.handlers.clear()
    log.setLevel(logging.DEBUG)
    log.propagate = False
    handler = logging.StreamHandler(env.stderr)
    if settings.verbose:
        handler.setLevel(logging.INFO)
    elif settings.quiet:
        handler.setLevel(logging.ERROR)
    else:
        handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("cnam-batch: %(levelname)s: %(message)s"))
    handler.set_name("stderr")
    # Errors that end the run are printed once, by the error boundary; the log file keeps them too.
    handler.addFilter(lambda record: not getattr(record, "file_only", False))
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.handlers[:] = saved[0]
        log.setLevel(saved[1])
        log.propagate = saved[2]


def _print_config(settings: Settings, as_json: bool, out: TextIO) -> None:
    values = settings.masked()
    if as_json:
        json.dump({"settings": values, "sources": dict(settings.sources)}, out, indent=2)
        out.write("\n")
        return
    width = max(len(k) for k in values)
    for key, value in values.items():
        shown = (
            "" if value is None else (", ".join(value) if isinstance(value, list) else str(value))
        )
        out.write(f"{key:<{width}}  {shown:<40}  ({settings.sources.get(key, 'default')})\n")


def _redact(text: str, settings: Settings | None) -> str:
    """Defense in depth: whatever goes to the terminal never shows a secret we know of."""
    return text if settings is None else redact(text, settings.secrets())


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run the command line; returns the exit code (SPEC "Exit codes")."""
    env = env or Environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    settings: Settings | None = None
    verbose = "--verbose" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(env.stderr)
            return ExitCode.USAGE
        if args.command == "sandbox":
            from pipeline.cli.serve_sandbox import serve_command

            return serve_command(args, env)
        settings = _settings(args, env)
        verbose = settings.verbose
        if args.command == "config":
            _print_config(settings, args.json, env.stdout)
            return ExitCode.OK
        with _logging_to(settings, env):
            if args.command == "status":
                from pipeline.cli.status import print_status

                return print_status(settings, as_json=args.json, out=env.stdout)
            from pipeline.runner import run_job

            return int(run_job(settings, env).exit_code)
    except CnamBatchError as exc:
        if verbose:
            env.stderr.write(_redact(traceback.format_exc(), settings))
        env.stderr.write(f"cnam-batch: error: {_redact(str(exc), settings)}\n")
        return int(exc.exit_code)
    except BrokenPipeError:  # `cnam-batch status | head`: the reader left; not our error
        with suppress(OSError):
            env.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more is written
        return int(ExitCode.OK)
    except KeyboardInterrupt:
        env.stderr.write(
            "cnam-batch: interrupted; the journal keeps what was done, run again to resume\n"
        )
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # the one boundary: never a bare traceback for a user
        if verbose:
            env.stderr.write(_redact(traceback.format_exc(), settings))
        env.stderr.write(
            f"cnam-batch: internal error: {type(exc).__name__}: {_redact(str(exc), settings)} "
            "(run with --verbose for the traceback, and please report it)\n"
        )
        return int(ExitCode.INTERNAL_ERROR)
