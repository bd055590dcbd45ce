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
    """At most `rate` accepted requests in any one-second window, counted at arrival.

    Refused requests (429) are not counted, so a client that backs off recovers at once. A new
    arrival at t is accepted only if fewer than `rate` accepted arrivals lie in (t - 1, t]; that
    bounds every window [s, s + 1), since its last arrival saw all the others in its look-back.
    A fractional rate is rounded down, to at least 1 request a second.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float]) -> None:
        if rate <= 0:
            raise ValueError(f"rate_limit must be positive, got {rate}")
        self.limit = max(1, math.floor(rate))
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
