"""What the sandbox does to traffic rather than to the account: the request log, the rate limit and
seeded fault injection. Kept apart from the account so each can be tested and reasoned about alone.
"""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# Operation names, one per endpoint (the router maps method + path to these).
WRITE_OPERATIONS: frozenset[str] = frozenset(
    {"create_cnam", "delete_cnam", "associate", "unassociate"}
)
READ_OPERATIONS: frozenset[str] = frozenset(
    {"list_cnams", "get_cnam", "list_numbers", "get_number"}
)
ALL_OPERATIONS: frozenset[str] = WRITE_OPERATIONS | READ_OPERATIONS

# Fault kinds, as they appear in RequestLogEntry.fault.
ERROR_BEFORE = "error_before"  # 500 or 503, nothing done
ERROR_AFTER = "error_after"  # the write committed, then 500
DROP_BEFORE = "drop_before"  # connection closed without an answer, nothing done
DROP_AFTER = "drop_after"  # the write committed, then the connection closed without an answer


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    """One request as the sandbox saw it. `time` is the monotonic arrival time (what the rate limit
    counts); `status` is what the client received, 0 when the connection was dropped."""

    method: str
    path: str
    query: str
    status: int
    time: float
    fault: str | None = None


@dataclass(frozen=True)
class FaultConfig:
    """Seeded fault injection: each request to one of `operations` draws once from
    `random.Random(seed)` and gets at most one fault, with these probabilities:

    - `error_rate`: 500 or 503 before anything is done (safe to retry);
    - `after_commit_rate`: the write is committed, then 500 (the record exists, the client sees an
      error);
    - `drop_rate`: the connection is closed without an answer before anything is done;
    - `drop_after_commit_rate`: the write is committed, then the connection is closed unanswered.

    Sequential clients see the same faults for the same seed; concurrent ones draw in arrival order.

    `refuse_values`: creates of these values (compared trimmed and uppercased) answer 422 every
    time and create nothing, as production does with a value it keeps refusing; no draw is spent.
    """

    seed: int = 0
    error_rate: float = 0.0
    after_commit_rate: float = 0.0
    drop_rate: float = 0.0
    drop_after_commit_rate: float = 0.0
    operations: frozenset[str] = field(default=WRITE_OPERATIONS)
    refuse_values: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        rates = (
            self.error_rate,
            self.after_commit_rate,
            self.drop_rate,
            self.drop_after_commit_rate,
        )
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError(
                f"fault rates must each be in 0..1 and add up to at most 1, got {rates}"
            )
        unknown = set(self.operations) - ALL_OPERATIONS
        if unknown:
            known = ", ".join(sorted(ALL_OPERATIONS))
            raise ValueError(f"unknown fault operations {sorted(unknown)}; use some of: {known}")


class FaultInjector:
    """Draws the fault (or None) for each targeted request; thread-safe, reproducible by seed."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()

    def refuses(self, value: object) -> bool:
        """Whether a create of `value` is refused every time (`refuse_values`)."""
        refused = self.config.refuse_values
        return (
            bool(refused)
            and isinstance(value, str)
            and value.strip().upper() in {v.strip().upper() for v in refused}
        )

    def draw(self, operation: str) -> tuple[str | None, int]:
        """(fault kind or None, status for an error fault). One draw per targeted request."""
        if operation not in self.config.operations:
            return None, 0
        with self._lock:
            r = self._rng.random()
        c = self.config
        if r < c.error_rate:
            # The first half of the band answers 503 (maintenance), the second 500.
            return ERROR_BEFORE, 503 if r < c.error_rate / 2 else 500
        r -= c.error_rate
        if r < c.after_commit_rate:
            return ERROR_AFTER, 500
        r -= c.after_commit_rate
        if r < c.drop_rate:
            return DROP_BEFORE, 0
        r -= c.drop_rate
        if r < c.drop_after_commit_rate:
            return DROP_AFTER, 0
        return None, 0


class SlidingWindowLimiter:
    """At most `rate` accepted requests in any one-second window, counted at arrival: strict, no
    burst allowance, the way a production API may count.

    Refused requests (429) are not counted, so a client that backs off recovers at once. A new
    arrival at t is accepted only if fewer than `rate` accepted arrivals lie in (t - 1, t]; that
    bounds every window [s, s + 1), since its last arrival saw all the others in its look-back.
    A fractional rate is rounded down, to at least 1 request a second. `retry_after=False` makes
    the 429s carry no Retry-After header (Flowroute documents none), leaving the client to guess.
    """

    def __init__(
        self, rate: float, *, clock: Callable[[], float], retry_after: bool = True
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate_limit must be positive, got {rate}")
        self.limit = max(1, math.floor(rate))
        self.retry_after = retry_after
        self._clock = clock
        self._accepted: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> tuple[float, int | None]:
        """(arrival time, None) when the request may proceed, else (arrival time, Retry-After
        seconds, an integer >= 1). The clock is read under the lock so arrivals count in order."""
        with self._lock:
            now = self._clock()
            window = self._accepted
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) < self.limit:
                window.append(now)
                return now, None
            return now, max(1, math.ceil(window[0] + 1.0 - now))


OUTAGE = "outage"  # RequestLogEntry.fault of a request the outage switch failed
OUTAGE_MODES = ("500", "503", "drop", "401")


@dataclass(frozen=True)
class OutageConfig:
    """An outage: every request fails from a moment on, until `end()` (or for `duration` s).

    `after_requests`: the first N requests are served, every later one fails; `at`: from this
    monotonic time on (both None: only when `OutageSwitch.begin()` is called). `mode` is how a
    request fails: "500" or "503" (a JSON:API error; 503 with Retry-After: 1), "drop" (the
    connection is closed without an answer, as a dead load balancer does) or "401" (the keys were
    revoked). For "nothing listens at all", stop the server: `SandboxServer.stop()`.
    """

    after_requests: int | None = None
    at: float | None = None
    mode: str = "503"
    duration: float | None = None  # seconds the outage lasts once begun; None: until end()

    def __post_init__(self) -> None:
        if self.mode not in OUTAGE_MODES:
            raise ValueError(
                f"outage mode must be one of {', '.join(OUTAGE_MODES)}, not {self.mode!r}"
            )
        if self.after_requests is not None and self.after_requests < 0:
            raise ValueError(f"after_requests cannot be negative, got {self.after_requests}")
        if self.duration is not None and self.duration <= 0:
            raise ValueError(f"duration must be above 0, got {self.duration}")


class OutageSwitch:
    """Decides, per request, whether the outage holds; thread-safe. `begin()`/`end()` flip it by
    hand (tests, demos); the config's triggers flip it on by themselves."""

    def __init__(self, config: OutageConfig | None, *, clock: Callable[[], float]) -> None:
        self.config = config or OutageConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._seen = 0
        self._since: float | None = None
        self._ended = False

    def begin(self, mode: str | None = None) -> None:
        with self._lock:
            if mode is not None:
                self.config = OutageConfig(mode=mode, duration=self.config.duration)
            self._since = self._clock()
            self._ended = False

    def end(self) -> None:
        """The API is back: every request is served again (the triggers do not fire again)."""
        with self._lock:
            self._since = None
            self._ended = True

    @property
    def active(self) -> bool:
        with self._lock:
            return self._active(self._clock())

    def check(self) -> str | None:
        """The mode to fail this request with, or None to serve it. Counts the request."""
        with self._lock:
            now = self._clock()
            self._seen += 1
            c = self.config
            due = (c.after_requests is not None and self._seen > c.after_requests) or (
                c.at is not None and now >= c.at
            )
            if due and self._since is None and not self._ended:
                self._since = now
            return c.mode if self._active(now) else None

    def _active(self, now: float) -> bool:
        if self._since is None:
            return False
        duration = self.config.duration
        if duration is not None and now - self._since >= duration:
            self._since, self._ended = None, True
            return False
        return True
