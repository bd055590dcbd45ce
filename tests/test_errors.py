"""Exit codes: every code the program returns is an ExitCode, and one rule picks among several."""

from __future__ import annotations

import pytest

from pipeline.errors import (
    PRECEDENCE,
    ApiUnreachableError,
    CnamBatchError,
    ConfigError,
    CredentialsError,
    EmailError,
    ExitCode,
    InputError,
    LockedError,
    UsageError,
    most_urgent,
    run_exit_code,
)

OK, FAILED, USAGE, API, LOCKED, EMAIL, INT = (
    ExitCode.OK,
    ExitCode.ROWS_FAILED,
    ExitCode.USAGE,
    ExitCode.API_FATAL,
    ExitCode.LOCKED,
    ExitCode.EMAIL_FAILED,
    ExitCode.INTERRUPTED,
)


def test_exit_codes_are_the_documented_numbers() -> None:
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "ROWS_FAILED": 1,
        "USAGE": 2,
        "API_FATAL": 3,
        "LOCKED": 4,
        "EMAIL_FAILED": 5,
        "INTERRUPTED": 130,
    }
    assert ExitCode.INTERNAL_ERROR == 1  # shares the code of failed rows: "look at the log"


def test_precedence_orders_every_code_once() -> None:
    assert sorted(PRECEDENCE) == sorted(ExitCode)


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ((), OK),
        ((None,), OK),
        ((OK,), OK),
        ((OK, FAILED), FAILED),
        ((FAILED, EMAIL), EMAIL),  # 5 beats 1: nobody hears of the failed rows without the email
        ((EMAIL, API), API),  # 3 beats 5: the API failure is the bigger news
        ((FAILED, EMAIL, API), API),
        ((API, USAGE), USAGE),  # 2 and 4 stop a run before anything is sent
        ((USAGE, LOCKED), LOCKED),
        ((LOCKED, EMAIL, FAILED, None), LOCKED),
        ((API, INT), INT),
    ],
)
def test_most_urgent_code_wins(codes: tuple[ExitCode | None, ...], expected: ExitCode) -> None:
    assert most_urgent(*codes) is expected
    assert most_urgent(*reversed(codes)) is expected


@pytest.mark.parametrize(
    ("stopped_by", "rows_failed", "email_failed", "expected"),
    [
        (None, False, False, OK),
        (None, True, False, FAILED),
        (None, False, True, EMAIL),
        (None, True, True, EMAIL),
        (API, False, False, API),
        (API, True, False, API),
        (API, False, True, API),
        (API, True, True, API),
    ],
)
def test_run_exit_code_table(
    stopped_by: ExitCode | None, rows_failed: bool, email_failed: bool, expected: ExitCode
) -> None:
    got = run_exit_code(stopped_by=stopped_by, rows_failed=rows_failed, email_failed=email_failed)
    assert got is expected


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (CnamBatchError, USAGE),
        (UsageError, USAGE),
        (ConfigError, USAGE),
        (InputError, USAGE),
        (CredentialsError, API),
        (ApiUnreachableError, API),
        (LockedError, LOCKED),
        (EmailError, EMAIL),
    ],
)
def test_each_error_maps_to_its_exit_code(error: type[CnamBatchError], code: ExitCode) -> None:
    assert error("x").exit_code is code
