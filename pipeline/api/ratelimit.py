"""A client-side rate limiter shared by every worker thread: slot reservation with a safety margin.

Flowroute does not publish its limits and answers 429 beyond them (flowroute-api.md §4), and a
strict server counts requests in a sliding one-second window. A token bucket lets a burst through
at start; this limiter instead hands out send times ("slots") spaced `window / rate` apart, with
`window` slightly over one second (1.02 s), so that any one-second window holds at most `rate`
requests (for an integer rate; a fractional rate above 1 is rounded down) even with a few
milliseconds of scheduling jitter, while the long-run rate stays at 98 % of the limit.

Each `acquire()` reserves the next free slot under a lock and sleeps outside it, so N threads
queue in order without a thundering herd. A final check spaces the actual grant times too, so a
thread that woke late cannot squeeze next to the one after it.

After a 429, `penalize()` pauses every new slot until the server's Retry-After has passed, halves
the rate, and lets it grow back additively (a fixed number of requests/s per second without a new
429) to the configured rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

WINDOW = 1.02  # seconds over which `rate` requests are spread: 2 % margin against a strict server


class RateLimiter:
    """At most `rate` requests in any one-second window, across all threads that share it.

    `clock` and `sleep` are injected so tests drive it with a fake clock. `acquire()` returns the
    clock time at which the caller was allowed to send.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        window: float = WINDOW,
        penalty_factor: float = 0.5,
        recovery_seconds: float = 10.0,
        default_pause: float = 1.0,
        max_pause: float = 120.0,
    ) -> None:
        if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
        if not 0 < penalty_factor < 1:
            raise ValueError(f"penalty_factor must be between 0 and 1, got {penalty_factor!r}")
        self._rate = float(rate)
        self._clock = clock
        self._sleep = sleep
        self._window = window
        # The per-window count is an integer: 2.5/s can only mean "2 in any second".
        per_window = math.floor(rate) if rate >= 1 else rate
        self._base_interval = window / per_window
        self._factor = penalty_factor
        self._min_rate = self._rate / 32
        # Additive increase: from the cut (rate * factor) back to `rate` in `recovery_seconds`.
        self._recovery_slope = self._rate * (1 - penalty_factor) / recovery_seconds
        self._default_pause = default_pause
        self._max_pause = max_pause
        self._lock = threading.Lock()
        self._next_slot = -math.inf
        self._last_grant = -math.inf
        self._generation = 0  # bumped by penalize(): slots reserved before it are void
        self._cut_rate = self._rate
        self._recover_from = -math.inf
        self._paused_until = -math.inf
        self._streak = 0  # penalties since the rate was last fully recovered

    @property
    def rate(self) -> float:
        """The configured limit in requests per second."""
        return self._rate

    @property
    def paused_until(self) -> float:
        """Clock time before which no request is granted after the last penalty (-inf if none)."""
        with self._lock:
            return self._paused_until

    def current_rate(self) -> float:
        """The rate in force now: the configured one, or less while recovering from a 429."""
        with self._lock:
            return self._rate_at(self._clock())

    def acquire(self) -> float:
        """Block until the caller may send one request; return the clock time it was granted."""
        while True:
            with self._lock:
                now = self._clock()
                generation = self._generation
                slot = max(now, self._next_slot)
                self._next_slot = slot + self._interval_at(slot)
            if slot > now:
                self._sleep(slot - now)
            granted = self._grant(generation)
            if granted is not None:
                return granted
            # A 429 came while this thread waited: its slot is void; queue again behind the pause.

    def penalize(self, retry_after: float | None = None) -> None:
        """Tell the limiter the server answered 429: pause, cut the rate, then recover gradually.

        The pause is `retry_after` seconds (capped at `max_pause`), or a backoff that doubles with
        each penalty in a row when the server gave none. Several threads usually see the same 429
        burst, so a penalty that arrives while an earlier pause is still running only extends the
        pause; it does not cut the rate again.
        """
        with self._lock:
            now = self._clock()
            new_episode = now >= self._paused_until
            if new_episode:
                if self._rate_at(now) >= self._rate:
                    self._streak = 0
                self._streak += 1
                self._cut_rate = max(self._min_rate, self._rate_at(now) * self._factor)
            if retry_after is None:
                pause = self._default_pause * 2 ** min(self._streak - 1, 10)
            else:
                pause = retry_after
            pause = min(max(pause, 0.0), self._max_pause)
            self._paused_until = max(self._paused_until, now + pause)
            self._recover_from = self._paused_until
            self._next_slot = max(self._paused_until, self._last_grant + self._base_interval)
            self._generation += 1

    def _grant(self, generation: int) -> float | None:
        """Grant now if no penalty voided the reservation and the last grant is far enough back."""
        while True:
            with self._lock:
                if generation != self._generation:
                    return None
                now = self._clock()
                earliest = max(self._last_grant + self._base_interval, self._paused_until)
                if now >= earliest:
                    self._last_grant = now
                    return now
                wait = earliest - now
            self._sleep(wait)

    def _rate_at(self, t: float) -> float:
        """Configured rate, or the cut rate plus the additive recovery since the pause ended."""
        recovered = self._cut_rate + self._recovery_slope * max(0.0, t - self._recover_from)
        return min(self._rate, recovered)

    def _interval_at(self, t: float) -> float:
        return max(self._base_interval, self._window / self._rate_at(t))

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self._rate:g}/s)"
