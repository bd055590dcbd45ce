"""What stops a run, and the exit code each maps to (SPEC "Exit codes").

Problems of a single row never raise: they become that row's status and reason. Only the CLI turns
these exceptions into exit codes and one-line messages.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # finished; every row has a status
    ROWS_FAILED = 1  # finished, but some rows are `failed`; the next run retries them
    USAGE = 2  # bad option, unreadable input, missing column or credentials; nothing was sent
    API_FATAL = 3  # credentials refused or API unreachable; work so far is journaled and reported
    LOCKED = 4  # another run holds the lock on the same state file
    EMAIL_FAILED = 5  # report written, email not sent


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
