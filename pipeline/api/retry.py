"""When to retry an API call and how long to wait: one pure decision, one tenacity factory.

Kept apart from the client so the policy can be read (and tested against a table) in one place:
429 and 5xx gateway/server answers and transport failures are worth another try; every other 4xx
is a property of the request and would fail the same way again. Waits are capped, jittered and
exponential, and a server's `Retry-After` (seconds or an HTTP date) wins over the computed backoff.

A 429 is not a failure of the request: the server did not process it and asks the client to slow
down. So 429s draw on a budget of their own (`max_throttled`), not on `max_attempts`; and when a
rate limiter paces the client (`paced=True`), the limiter is the one that waits after a 429 (it
pauses every thread, once per burst), so the resend itself waits no more.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import tenacity

from pipeline.api.types import AmbiguousWriteError, ApiError, ApiStats, TransportError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BASE_BACKOFF = 0.5  # seconds before the first retry (before jitter)
MAX_BACKOFF = 30.0  # cap of the exponential backoff
MAX_RETRY_AFTER = 120.0  # a server asking for longer than this is waited for only this long
MAX_THROTTLED = 30  # 429s one call may get before it gives up (each one slows the whole client)

_RETRYABLE_TRANSPORT = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)
_PERMANENT_TRANSPORT = (requests.exceptions.SSLError,)  # a bad certificate does not heal by waiting

log = logging.getLogger(__name__)


def should_retry(outcome: int | BaseException) -> bool:
    """True when a status code or exception is worth another attempt.

    Pure, so it is tested against a table. `AmbiguousWriteError` is never retried here: the create
    path decides itself whether resending is safe.
    """
    if isinstance(outcome, bool):
        return False
    if isinstance(outcome, int):
        return outcome in RETRY_STATUSES
    if isinstance(outcome, AmbiguousWriteError):
        return False
    if isinstance(outcome, TransportError):
        cause = outcome.__cause__
        return cause is None or should_retry(cause)
    if isinstance(outcome, ApiError):
        return outcome.status in RETRY_STATUSES
    if isinstance(outcome, _PERMANENT_TRANSPORT):
        return False
    return isinstance(outcome, _RETRYABLE_TRANSPORT)


def parse_retry_after(
    value: str | None, now: datetime | None = None, *, cap: float = MAX_RETRY_AFTER
) -> float | None:
    """Seconds to wait from a `Retry-After` header, or None when absent or unreadable.

    Accepts delta-seconds (`"2"`, `"1.5"`) and an HTTP date (`"Wed, 21 Oct 2015 07:28:00 GMT"`),
    measured from `now` (pass the response's `Date` so clock skew does not matter). Dates in the
    past give 0; anything above `cap` is cut to `cap` so a confused server cannot stall a run.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is None:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        reference = now or datetime.now(UTC)
        if reference.tzinfo is None:
            reference = reference.replace(tzinfo=UTC)
        seconds = (when - reference).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), cap)


def backoff_delay(
    attempt: int,
    *,
    base: float = BASE_BACKOFF,
    cap: float = MAX_BACKOFF,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Wait after failed attempt number `attempt` (1-based): "equal jitter" exponential backoff.

    The exponential step `min(cap, base * 2**(attempt-1))` is halved and the other half is jittered
    (`jitter()` in [0, 1)), so threads that failed together do not retry in lockstep, yet every
    wait is at least half the step.
    """
    step = min(cap, base * (2 ** max(attempt - 1, 0)))
    return step / 2 + (step / 2) * jitter()


def wait_seconds(
    exc: BaseException | None,
    attempt: int,
    *,
    base: float = BASE_BACKOFF,
    cap: float = MAX_BACKOFF,
    retry_after_cap: float = MAX_RETRY_AFTER,
    jitter: Callable[[], float] = random.random,
    paced: bool = False,
) -> float:
    """The wait before the next attempt: the server's Retry-After when it gave one, else backoff.
    With `paced`, a 429 waits nothing here: the rate limiter holds the resend back."""
    if paced and getattr(exc, "status", None) == 429:
        return 0.0
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float):
        return min(max(float(retry_after), 0.0), retry_after_cap)
    return backoff_delay(attempt, base=base, cap=cap, jitter=jitter)


def build_retrying(
    sleep: Callable[[float], Any],
    max_attempts: int,
    *,
    stats: ApiStats | None = None,
    base: float = BASE_BACKOFF,
    cap: float = MAX_BACKOFF,
    retry_after_cap: float = MAX_RETRY_AFTER,
    jitter: Callable[[], float] | None = None,
    logger: logging.Logger | None = None,
    paced: bool = False,
    max_throttled: int = MAX_THROTTLED,
) -> tenacity.Retrying:
    """The one retry policy: `max_attempts` tries in all, waits from `wait_seconds`, via `sleep`.
    429s do not count toward `max_attempts`; a call gives up after `max_throttled` of them.

    Before each wait it logs one line (the error's own message, which never holds a secret; INFO
    for 429 since throttling is expected, WARNING otherwise) and bumps `stats.retries`. The last
    exception is re-raised as itself, not wrapped in tenacity's RetryError. A Retrying object keeps
    per-call state, so build one per call (or `.copy()` it) when threads share a policy.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    draw = jitter if jitter is not None else random.Random().random
    out = logger or log

    def wait(state: tenacity.RetryCallState) -> float:
        # tenacity asks `wait` once per failed attempt it may retry, before `stop`: count there.
        # The counts live on the call's own state, so a `.copy()` of the policy shares nothing.
        exc = state.outcome.exception() if state.outcome else None
        key = "throttled_attempts" if getattr(exc, "status", None) == 429 else "other_attempts"
        setattr(state, key, getattr(state, key, 0) + 1)
        return wait_seconds(
            exc,
            max(1, getattr(state, "other_attempts", 1)),
            base=base,
            cap=cap,
            retry_after_cap=retry_after_cap,
            jitter=draw,
            paced=paced,
        )

    def stop(state: tenacity.RetryCallState) -> bool:
        return (
            getattr(state, "other_attempts", 0) >= max_attempts
            or getattr(state, "throttled_attempts", 0) >= max_throttled
        )

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        if stats is not None:
            stats.bump("retries")
        throttled = getattr(exc, "status", None) == 429
        out.log(
            logging.INFO if throttled else logging.WARNING,
            "%s; retry %d of %d in %.1f s",
            exc,
            getattr(state, "throttled_attempts" if throttled else "other_attempts", 1),
            (max_throttled if throttled else max_attempts) - 1,
            delay,
        )

    return tenacity.Retrying(
        sleep=sleep,
        stop=stop,
        wait=wait,
        retry=tenacity.retry_if_exception(should_retry),
        before_sleep=before_sleep,
        reraise=True,
    )
