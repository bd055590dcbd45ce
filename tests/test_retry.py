"""The retry decision (a table), Retry-After parsing, and the exact backoff schedule."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta

import pytest
import requests

from pipeline.api.retry import (
    MAX_BACKOFF,
    backoff_delay,
    build_retrying,
    parse_retry_after,
    should_retry,
)
from pipeline.api.types import (
    AmbiguousWriteError,
    ApiError,
    ApiStats,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnprocessableError,
)
from pipeline.errors import CredentialsError


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (200, False),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (405, False),
        (415, False),
        (422, False),
        (501, False),
    ],
)
def test_should_retry_status_table(status: int, expected: bool) -> None:
    assert should_retry(status) is expected


def _transport_from(cause: BaseException) -> TransportError:
    err = TransportError(0, title=type(cause).__name__, method="GET", path="/v2/cnams")
    err.__cause__ = cause
    return err


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (requests.ConnectionError("reset"), True),
        (requests.ReadTimeout("slow"), True),
        (requests.ConnectTimeout("no route"), True),
        (requests.exceptions.ChunkedEncodingError("cut"), True),
        (requests.exceptions.SSLError("bad certificate"), False),
        (requests.exceptions.InvalidURL("nonsense"), False),
        (_transport_from(requests.ReadTimeout("slow")), True),
        (_transport_from(requests.exceptions.SSLError("bad certificate")), False),
        (TransportError(0), True),
        (ServerError(503), True),
        (ServerError(500), True),
        (RateLimitedError(429, retry_after=2.0), True),
        (NotFoundError(404), False),
        (UnprocessableError(422), False),
        (ApiError(400), False),
        (AmbiguousWriteError(503), False),
        (CredentialsError("refused"), False),
        (ValueError("bug"), False),
        (True, False),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, bool) else str(v),
)
def test_should_retry_exception_table(outcome: BaseException | bool, expected: bool) -> None:
    assert should_retry(outcome) is expected


NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("100000", 120.0),
        ("Fri, 01 Mar 2024 12:00:30 GMT", 30.0),
        ("Fri, 01 Mar 2024 11:59:00 GMT", 0.0),
        ("Sat, 02 Mar 2024 12:00:00 GMT", 120.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_parse_retry_after_seconds_and_http_dates(header: str | None, expected: float) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_parse_retry_after_uses_the_wall_clock_without_a_reference() -> None:
    later = datetime.now(UTC) + timedelta(seconds=60)
    header = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 55 <= (parse_retry_after(header) or 0) <= 60


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected"),
    [
        (1, 0.0, 0.25),
        (1, 1.0, 0.5),
        (2, 0.5, 0.75),
        (3, 0.5, 1.5),
        (6, 1.0, 16.0),
        (7, 1.0, MAX_BACKOFF),
        (20, 0.0, MAX_BACKOFF / 2),
    ],
)
def test_backoff_is_exponential_capped_and_half_jittered(
    attempt: int, jitter: float, expected: float
) -> None:
    assert backoff_delay(attempt, jitter=lambda: jitter) == expected


def flaky(failures: list[BaseException], result: str = "ok"):
    """A callable that raises the given exceptions in turn, then returns `result`."""
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return fn, calls


def test_schedule_for_server_errors_is_exact_with_injected_jitter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sleeps: list[float] = []
    stats = ApiStats()
    fn, calls = flaky([ServerError(503, method="GET", path="/v2/cnams") for _ in range(4)])
    retrying = build_retrying(sleeps.append, 6, stats=stats, jitter=lambda: 0.5)
    with caplog.at_level(logging.INFO, logger="pipeline.api.retry"):
        assert retrying(fn) == "ok"
    assert sleeps == [0.375, 0.75, 1.5, 3.0]
    assert len(calls) == 5
    assert stats.retries == 4
    lines = [r for r in caplog.records if r.name == "pipeline.api.retry"]
    assert len(lines) == 4  # one line per retry
    assert all(r.levelno == logging.WARNING for r in lines)
    assert (
        lines[0].getMessage()
        == "GET /v2/cnams answered 503: no detail given; retry 1 of 5 in 0.4 s"
    )


def test_schedule_with_a_seeded_jitter_source_is_reproducible() -> None:
    def schedule(seed: int) -> list[float]:
        sleeps: list[float] = []
        fn, _ = flaky([TransportError(0) for _ in range(5)])
        build_retrying(sleeps.append, 6, jitter=random.Random(seed).random)(fn)
        return sleeps

    rng = random.Random(7)
    expected = [backoff_delay(n, jitter=rng.random) for n in range(1, 6)]
    assert schedule(7) == expected
    assert schedule(7) != schedule(8)


def test_retry_after_is_honored_instead_of_backoff(caplog: pytest.LogCaptureFixture) -> None:
    sleeps: list[float] = []
    fn, _ = flaky([RateLimitedError(429, retry_after=7.0), RateLimitedError(429, retry_after=0.0)])
    with caplog.at_level(logging.INFO, logger="pipeline.api.retry"):
        build_retrying(sleeps.append, 6, jitter=lambda: 0.5)(fn)
    assert sleeps == [7.0, 0.0]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "pipeline.api.retry")


def test_retry_after_on_a_503_is_honored_and_capped() -> None:
    sleeps: list[float] = []
    err = ServerError(503)
    err.retry_after = 500.0  # type: ignore[attr-defined]
    fn, _ = flaky([err])
    build_retrying(sleeps.append, 3, jitter=lambda: 0.5)(fn)
    assert sleeps == [120.0]


def test_gives_up_after_max_attempts_with_the_last_error_itself() -> None:
    sleeps: list[float] = []
    fn, calls = flaky([ServerError(502), ServerError(503), ServerError(504)])
    with pytest.raises(ServerError) as info:
        build_retrying(sleeps.append, 3, jitter=lambda: 0.0)(fn)
    assert info.value.status == 504
    assert len(calls) == 3
    assert sleeps == [0.25, 0.5]


@pytest.mark.parametrize(
    "error",
    [NotFoundError(404), UnprocessableError(422), ApiError(400), CredentialsError("no")],
)
def test_errors_that_would_fail_again_are_not_retried(error: Exception) -> None:
    sleeps: list[float] = []
    stats = ApiStats()
    fn, calls = flaky([error])
    with pytest.raises(type(error)):
        build_retrying(sleeps.append, 6, stats=stats)(fn)
    assert (len(calls), sleeps, stats.retries) == (1, [], 0)


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        build_retrying(lambda s: None, 0)


def test_429s_have_a_budget_of_their_own_and_do_not_use_up_the_attempts() -> None:
    sleeps: list[float] = []
    errors = [RateLimitedError(429) for _ in range(4)] + [ServerError(503), RateLimitedError(429)]
    fn, calls = flaky(errors)
    assert build_retrying(sleeps.append, 2, jitter=lambda: 0.0, max_throttled=10)(fn) == "ok"
    assert len(calls) == 7  # five 429s and one 503, with only two attempts for the 503 kind
    assert sleeps[4] == 0.25  # the 503's backoff is the first step's, not the seventh's


def test_a_call_gives_up_after_max_throttled_429s() -> None:
    fn, calls = flaky([RateLimitedError(429, retry_after=1.0) for _ in range(5)])
    with pytest.raises(RateLimitedError):
        build_retrying(lambda s: None, 6, max_throttled=3)(fn)
    assert len(calls) == 3


def test_paced_429s_leave_the_waiting_to_the_rate_limiter() -> None:
    sleeps: list[float] = []
    fn, _ = flaky([RateLimitedError(429, retry_after=7.0), RateLimitedError(429), ServerError(500)])
    build_retrying(sleeps.append, 6, jitter=lambda: 0.0, paced=True)(fn)
    assert sleeps == [0.0, 0.0, 0.25]  # a 5xx still backs off
