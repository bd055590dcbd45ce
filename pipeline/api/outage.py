"""Giving up cleanly: the run's circuit breaker for outages, and its --max-runtime deadline.

Retries (retry.py) are per call: right for a blip, wrong for an outage, where every call of every
worker would retry for a minute each, for every remaining row, with no end. The guard sees all calls
of a run together, the way botocore's retry quota does, and decides when to stop sending at all:

- At start, nothing has ever answered. A connection refused, a DNS or TLS failure or a timeout on
  the first request is a wrong URL or a network problem, not a blip: after `start_attempts` tries
  the run stops (ApiUnreachableError, exit 3) within seconds, naming the URL and what to check.
- Mid-run, an outage is a stretch of `budget` seconds in which every call failed (5xx or transport)
  and none answered. Then the breaker opens: no call is sent any more (ApiUnreachableError), the
  run writes its report and exits 3. Any answer that is not a 5xx (a 429 or 404 included: the
  server is there) ends the stretch. Retry waits are cut to the moment the budget runs out, so a
  worker sleeping on a backoff does not send after that.
- `deadline` (monotonic seconds, from --max-runtime): from then on no call starts
  (RuntimeLimitError, exit 1); calls in flight finish.

Thread-safe; the clock is injected. Messages carry the URL, never a credential.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pipeline.errors import ApiUnreachableError, CnamBatchError, RuntimeLimitError

DEFAULT_BUDGET = 120.0  # seconds of failure on every call; + one request timeout < 3 minutes
START_ATTEMPTS = 2  # tries of the first request before "nothing answers" ends the run
MIN_FAILURES = 3  # an outage is more than a couple of failed calls, however long they took
URL_HINT = "check --api-url / FLOWROUTE_API_URL, DNS, proxy, firewall and the network"


def format_duration(seconds: float) -> str:
    """`90 s`, `30 min`, `2 h`: how messages name a budget or a deadline."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


class OutageGuard:
    """Decides, across all calls of a run, when to stop sending (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        *,
        budget: float = DEFAULT_BUDGET,
        deadline: float | None = None,
        max_runtime: float | None = None,
        start_attempts: int = START_ATTEMPTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if budget <= 0:
            raise ValueError(f"budget must be above 0, got {budget}")
        self.base_url = base_url
        self.budget = budget
        self.deadline = deadline
        self.max_runtime = max_runtime
        self.start_attempts = max(1, start_attempts)
        self._clock = clock
        self._lock = threading.Lock()
        self.answered = False  # some request got an HTTP answer (the API is there)
        self._start_failures = 0
        self._streak_since: float | None = None  # first failure of the current all-failed stretch
        self._streak_failures = 0
        self._last_failure = ""
        self._stopped: CnamBatchError | None = None

    # ------------------------------------------------------------------ before a request
    def before_send(self) -> None:
        """Raise instead of sending when the run must stop (outage, deadline)."""
        with self._lock:
            if self._stopped is None:
                now = self._clock()
                if self.deadline is not None and now >= self.deadline:
                    self._stopped = RuntimeLimitError(
                        f"--max-runtime {format_duration(self.max_runtime or 0)} reached: no new "
                        "API call was started; the rows not done wait for the next run"
                    )
                else:
                    self._check_outage(now)
            if self._stopped is not None:
                raise type(self._stopped)(str(self._stopped))

    def time_left(self) -> float | None:
        """Seconds until the deadline (None: no deadline)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - self._clock())

    def cap_wait(self, delay: float) -> float:
        """A retry wait cut short so the worker wakes when the budget or the deadline runs out."""
        with self._lock:
            now = self._clock()
            limits = [delay]
            if self._streak_since is not None:
                limits.append(max(0.0, self._streak_since + self.budget - now))
            if self.deadline is not None:
                limits.append(max(0.0, self.deadline - now))
            return min(limits)

    # ------------------------------------------------------------------ after a request
    def answer(self, status: int, sent_at: float | None = None) -> None:
        """Any HTTP answer. A 5xx counts as a failure; everything else shows the API is there."""
        if status >= 500:
            self.failure(f"answered {status}", transport=False, retryable=True, sent_at=sent_at)
            return
        with self._lock:
            self.answered = True
            self._streak_since = None
            self._streak_failures = 0

    def now(self) -> float:
        return self._clock()

    def failure(
        self, what: str, *, transport: bool, retryable: bool, sent_at: float | None = None
    ) -> None:
        """A 5xx or a transport failure of a request sent at `sent_at` (default: now); raises
        ApiUnreachableError when the run must stop now. The stretch of failures counts from the
        failed request's sending, so requests that time out do not stretch the budget."""
        with self._lock:
            now = self._clock()
            self._last_failure = what
            if transport and not self.answered:
                self._start_failures += 1
                if not retryable or self._start_failures >= self.start_attempts:
                    self._stopped = ApiUnreachableError(
                        f"cannot reach the Flowroute API at {self.base_url} ({what}); {URL_HINT}"
                    )
            began = now if sent_at is None else min(sent_at, now)
            if self._streak_since is None or began < self._streak_since:
                self._streak_since = began
            self._streak_failures += 1
            self._check_outage(now)
            if self._stopped is not None:
                raise type(self._stopped)(str(self._stopped))

    # ------------------------------------------------------------------ state
    @property
    def stopped(self) -> CnamBatchError | None:
        return self._stopped

    def _check_outage(self, now: float) -> None:
        """Open the breaker when every call failed for `budget` seconds (lock held)."""
        if (
            self._stopped is None
            and self._streak_since is not None
            and self._streak_failures >= MIN_FAILURES
            and now - self._streak_since >= self.budget
        ):
            self._stopped = ApiUnreachableError(
                f"Flowroute did not answer at {self.base_url} for {format_duration(self.budget)} "
                f"(every call failed, last: {self._last_failure}); stopped sending. The report "
                "lists every row; the next run retries the rest"
            )
