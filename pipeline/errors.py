"""What stops a run, and the exit code each maps to (SPEC "Exit codes").

Problems of a single row never raise: they become that row's status and reason. Only the CLI turns
these exceptions into exit codes and one-line messages.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Every code the program returns (README "Exit codes")."""

    OK = 0  # finished; every row has a status
    ROWS_FAILED = 1  # finished, but some rows are `failed`; the next run retries them
    # A bug: the one error boundary caught an exception nobody raised on purpose. It shares 1 with
    # ROWS_FAILED (an alias, not a member of its own): both say "look at the log", neither lost work.
    INTERNAL_ERROR = 1
    USAGE = 2  # bad option, unreadable input, missing column or credentials; nothing was sent
    API_FATAL = 3  # credentials refused or API unreachable; work so far is journaled and reported
    LOCKED = 4  # another run holds the lock on the same state file
    EMAIL_FAILED = 5  # report written, email not sent
    INTERRUPTED = 130  # Ctrl-C (SIGINT), the shell's 128 + 2; the journal keeps what was done


# When several codes apply, the first in this order is the one returned: 4 and 2 stop a run before
# anything is sent; 3 beats 5 (the API failure is the bigger news); 5 beats 1 (failed rows are
# retried next run, but nobody hears of them without the email).
PRECEDENCE: tuple[ExitCode, ...] = (
    ExitCode.INTERRUPTED,
    ExitCode.LOCKED,
    ExitCode.USAGE,
    ExitCode.API_FATAL,
    ExitCode.EMAIL_FAILED,
    ExitCode.ROWS_FAILED,
    ExitCode.OK,
)


def most_urgent(*codes: ExitCode | None) -> ExitCode:
    """The code that wins among those that apply (None: does not apply); OK when none does."""
    given = {code for code in codes if code is not None}
    return next((code for code in PRECEDENCE if code in given), ExitCode.OK)


def run_exit_code(
    *, stopped_by: ExitCode | None = None, rows_failed: bool = False, email_failed: bool = False
) -> ExitCode:
    """A finished run's code: what stopped it (if anything), failed rows, a failed email."""
    return most_urgent(
        stopped_by,
        ExitCode.ROWS_FAILED if rows_failed else None,
        ExitCode.EMAIL_FAILED if email_failed else None,
    )


class CnamBatchError(Exception):
    """Base of every error that ends a run. `str(err)` is the one line the user sees."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(CnamBatchError):
    """A bad option or combination of options."""


class ConfigError(CnamBatchError):
    """A bad configuration file or setting, or missing credentials."""


class InputError(CnamBatchError):
    """An input file that cannot be read: names the file (and line or sheet) and the fix."""


class CredentialsError(CnamBatchError):
    """The API refused the credentials (401/403)."""

    exit_code = ExitCode.API_FATAL


class ApiUnreachableError(CnamBatchError):
    """The API could not be reached, or kept failing, so the run cannot go on."""

    exit_code = ExitCode.API_FATAL


class LockedError(CnamBatchError):
    """Another run holds the journal's lock."""

    exit_code = ExitCode.LOCKED


class EmailError(CnamBatchError):
    """The report could not be emailed after retries (the report is on disk)."""

    exit_code = ExitCode.EMAIL_FAILED


class RuntimeLimitError(CnamBatchError):
    """--max-runtime passed: no new API call was started; unfinished rows wait for the next run."""

    exit_code = ExitCode.ROWS_FAILED
