"""The client-side rate limiter shared by every worker thread: a hard ceiling, and below it a rate
learned from the server's 429s.

Flowroute publishes no rate limit and answers 429 beyond it (flowroute-api.md §4), with or without
a Retry-After header; a strict server counts requests in a sliding one-second window. So the
limiter treats a 429 as a measurement, the way botocore's adaptive retry mode does
(`botocore/retries/adaptive.py`, `throttling.py`):

- Pacing: send times ("slots") are handed out `1 / rate` apart, no burst at start. Each
  `acquire()` reserves the next slot under a lock and sleeps outside it, so N threads queue in
  order, and a final check keeps every two grants `1 / rate` apart even when a thread woke late.
  The user's ceiling (`--rate-limit N`) caps the rate at `N / 1.02`: two grants are never closer
  than `1.02 / N` seconds, so no one-second window ever holds more than N requests (for an integer
  N; a fractional N above 1 is rounded down), even with some scheduling jitter.
- A throttle: `penalize()` is told the clock time at which the refused request was granted. The
  rate the server accepted is the number of this client's other requests granted in the second
  before it (a server counting a one-second window refused because that many got through). The
  new rate is `BETA` (0.95) times the smaller of that and the pacing rate in force, and every new
  slot pauses for the server's Retry-After, or one window (1 s) when it gave none: not a backoff
  that grows while the limit is exceeded. 429s for requests granted before the cut are answers to
  the same burst (several threads at once) and cut nothing more; they may only lengthen the pause.
- Growing back: along a cubic curve, `w_max * (1 + C * (t - K)**3)` with `C = (1 - BETA) / K**3`:
  from the cut it climbs fast, flattens out as it nears the rate the server accepted (reached `K`
  seconds after the cut) and only then probes upward, slowly, then faster. `t` counts only the
  time the limiter was the bottleneck (a thread waited for its slot): a run that waits for
  approvals or sends one request at a time learns nothing about the limit and grows nothing.
- Before the first 429, a limiter that starts below its ceiling (`--rate-limit auto` starts at 5
  requests/s, ceiling 50) doubles its rate every `DOUBLING` seconds of being the bottleneck, like
  TCP's slow start, so it finds the limit in seconds rather than minutes.

`learned()` is what to start the next run with (the journal keeps it per API): the rate the server
accepted at the last 429, or, when no 429 was ever seen, the rate reached (a lower bound only, so
the next run slow-starts from it). A run that starts from a learned limit begins on the flat part
of the curve, just under it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW = 1.02  # seconds per `ceiling` requests: 2 % margin against a strict one-second window
BETA = 0.95  # after a 429: this share of the rate the server accepted
PROBE_SECONDS = 60.0  # K: saturated seconds from a cut back to the rate the server accepted
DOUBLING = 2.0  # slow start: saturated seconds per doubling of the rate before the first 429
PAUSE = 1.0  # pause after a 429 without Retry-After: one window of the server's count
MAX_PAUSE = 120.0  # a Retry-After above this is waited for only this long
MIN_RATE = 0.1  # requests per second: never slower, whatever the server says
MEASURE = 1.1  # seconds before a refused request over which the accepted ones are counted: the
# server's window, and some slack for the jitter between our clock and its

AUTO_START = 5.0  # `--rate-limit auto`: the first run's starting rate
AUTO_CEILING = 50.0  # and the most it probes up to


@dataclass(frozen=True)
class Learned:
    """What one run found out about the server's limit."""

    rate: float  # requests per second to start the next run with
    throttled: bool  # a 429 was seen: `rate` is a measured limit, not only a lower bound


def cubic_rate(w_max: float, t: float, *, beta: float = BETA, k: float = PROBE_SECONDS) -> float:
    """The rate `t` saturated seconds after a cut from `w_max` (the rate the server accepted):
    `beta * w_max` at 0, `w_max` at `k`, growing slowly on either side of `k`. Pure."""
    c = (1 - beta) / k**3
    return w_max * (1 + c * (t - k) ** 3)


def slow_start_rate(start: float, t: float, *, doubling: float = DOUBLING) -> float:
    """The rate `t` saturated seconds into a slow start from `start`. Pure."""
    return start * 2 ** (t / doubling)


class RateLimiter:
    """At most `ceiling` requests in any one-second window across the threads that share it, and
    below that the rate the server's 429s taught (module docstring).

    `start` is the first rate (default: the ceiling); `learned` (from an earlier run) replaces it.
    `clock` and `sleep` are injected so tests drive it with a fake clock. `acquire()` returns the
    clock time at which the caller was allowed to send; hand it to `penalize()` on a 429.
    """

    def __init__(
        self,
        ceiling: float,
        *,
        start: float | None = None,
        learned: Learned | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        window: float = WINDOW,
        beta: float = BETA,
        probe_seconds: float = PROBE_SECONDS,
        pause: float = PAUSE,
        max_pause: float = MAX_PAUSE,
    ) -> None:
        if not _positive(ceiling):
            raise ValueError(
                f"rate must be a positive number of requests per second, got {ceiling!r}"
            )
        if start is not None and not _positive(start):
            raise ValueError(f"start rate must be positive, got {start!r}")
        if not 0 < beta < 1:
            raise ValueError(f"beta must be between 0 and 1, got {beta!r}")
        self._ceiling = float(ceiling)
        self._clock = clock
        self._sleep = sleep
        # The per-window count is an integer: 2.5/s can only mean "2 in any second".
        per_window = math.floor(ceiling) if ceiling >= 1 else ceiling
        self._base_interval = window / per_window
        self._top = per_window / window  # the fastest pacing the ceiling allows
        self._beta = beta
        self._k = probe_seconds
        self._pause = pause
        self._max_pause = max_pause
        self._lock = threading.Lock()
        self._next_slot = -math.inf
        self._last_grant = -math.inf
        self._generation = 0  # bumped by penalize(): slots reserved before it are void
        self._paused_until = -math.inf
        self._cut_at = -math.inf  # clock time of the last cut
        self._grants: deque[float] = deque()  # recent grants not known to be refused
        self._probe = 0.0  # saturated seconds since the last cut (or the start)
        self._w_max: float | None = None  # rate the server last accepted; None before a 429
        self._start = self._top if start is None else min(float(start), self._top)
        self._throttled = False
        self.cuts = 0
        if learned is not None and _positive(learned.rate):
            if learned.throttled:
                # Start on the flat part of the curve just under what the server accepted.
                self._w_max = float(learned.rate)
                self._throttled = True
                self._probe = self._k / 3
            else:
                self._start = min(max(learned.rate, self._start), self._top)
        self._rate = self._compute_rate()

    # ---------------------------------------------------------------- reading
    @property
    def ceiling(self) -> float:
        """The user's limit in requests per second; never exceeded in any one-second window."""
        return self._ceiling

    @property
    def rate(self) -> float:
        """The ceiling (kept for callers that print "rate limit N/s")."""
        return self._ceiling

    @property
    def paused_until(self) -> float:
        """Clock time before which no request is granted after the last 429 (-inf if none)."""
        with self._lock:
            return self._paused_until

    def current_rate(self) -> float:
        """The pacing rate in force now, in requests per second."""
        with self._lock:
            return self._rate

    def learned(self) -> Learned:
        """What to start the next run with: the rate the server accepted at the last 429 (also
        when this run's ceiling kept it lower), or before any 429 the rate in force, a lower
        bound only."""
        with self._lock:
            if self._w_max is None:
                return Learned(round(self._rate, 3), throttled=False)
            return Learned(round(self._w_max, 3), throttled=True)

    # ---------------------------------------------------------------- sending
    def acquire(self) -> float:
        """Block until the caller may send one request; return the clock time it was granted."""
        while True:
            with self._lock:
                now = self._clock()
                generation = self._generation
                slot = max(now, self._next_slot)
                interval = 1.0 / self._rate
                if slot > now:  # the limiter is the bottleneck: time counts toward probing
                    self._probe += interval
                    self._rate = self._compute_rate()
                self._next_slot = slot + interval
            if slot > now:
                self._sleep(slot - now)
            granted = self._grant(generation)
            if granted is not None:
                return granted
            # A 429 came while this thread waited: its slot is void; queue again behind the pause.

    def penalize(self, retry_after: float | None = None, sent_at: float | None = None) -> None:
        """The server answered 429 to the request granted at `sent_at`: cut the rate once per
        burst, and pause every new slot for `retry_after` seconds (one window when None).

        A 429 for a request granted before the last cut belongs to the burst that caused it (the
        other threads' requests were already on the wire) and cuts nothing more. Without
        `sent_at`, a 429 during the pause counts as the same burst.
        """
        with self._lock:
            now = self._clock()
            when = now if sent_at is None else sent_at
            if sent_at is not None:
                self._forget(sent_at)
            same_burst = when <= self._cut_at or (sent_at is None and now < self._paused_until)
            if not same_burst:
                self._cut(when)
                self._cut_at = now
            pause = self._pause if retry_after is None else retry_after
            pause = min(max(pause, 0.0), self._max_pause)
            self._paused_until = max(self._paused_until, now + pause)
            self._next_slot = max(self._paused_until, self._last_grant + 1.0 / self._rate)
            self._generation += 1

    # ---------------------------------------------------------------- internals
    def _cut(self, when: float) -> None:
        """A new throttle event for a request granted at `when` (lock held)."""
        # A count per server window (one second); the slack of MEASURE only catches stragglers.
        accepted: float = sum(1 for t in self._grants if when - MEASURE <= t < when)
        if accepted < 2:  # a slow rate: one second holds too few requests to measure
            accepted = math.inf
        self._w_max = max(MIN_RATE, min(self._rate, accepted))
        self._throttled = True
        self._probe = 0.0
        self.cuts += 1
        self._rate = self._compute_rate()

    def _compute_rate(self) -> float:
        if self._w_max is None:
            rate = slow_start_rate(self._start, self._probe)
        else:
            rate = cubic_rate(self._w_max, self._probe, beta=self._beta, k=self._k)
        return min(self._top, max(MIN_RATE, rate))

    def _forget(self, sent_at: float) -> None:
        """Drop a refused request from the measurement (lock held; recent ones are at the end)."""
        for i in range(len(self._grants) - 1, -1, -1):
            if self._grants[i] == sent_at:
                del self._grants[i]
                return

    def _grant(self, generation: int) -> float | None:
        """Grant now if no 429 voided the reservation and the spacing allows it: the pacing rate's
        (and so the ceiling's), also for a thread that woke late. After a stall of the process
        (a busy machine), the threads whose slots passed meanwhile leave one by one, not in a
        burst that a strict server would count in one window."""
        while True:
            with self._lock:
                if generation != self._generation:
                    return None
                now = self._clock()
                spacing = max(self._base_interval, 1.0 / self._rate)
                earliest = max(self._last_grant + spacing, self._paused_until)
                if now >= earliest:
                    self._last_grant = now
                    self._grants.append(now)
                    horizon = now - 2 * MEASURE
                    while self._grants and self._grants[0] < horizon:
                        self._grants.popleft()
                    return now
                wait = earliest - now
            self._sleep(wait)

    def __repr__(self) -> str:
        return f"RateLimiter(ceiling={self._ceiling:g}/s, rate={self._rate:.3g}/s)"


def _positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )
