"""RateLimiter under a fake clock: no one-second window over the limit, near-full use, 429 recovery."""

from __future__ import annotations

import bisect
import math
import threading

import pytest

from pipeline.api.ratelimit import RateLimiter


class FakeClock:
    """A thread-safe clock that only moves when someone sleeps.

    `sleep(d)` moves time to (this thread's last reading + d) unless it is already later, so
    overlapping sleeps of several threads behave like real ones (they run concurrently, they do
    not add up) and a sleeper never wakes before its deadline.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self._lock = threading.Lock()
        self._local = threading.local()

    def __call__(self) -> float:
        with self._lock:
            self._local.read = self.now
            return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        with self._lock:
            start = getattr(self._local, "read", self.now)
            self.now = max(self.now, start + seconds)
            self._local.read = self.now


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Most grants inside any closed window [t, t + window] starting at a grant."""
    ordered = sorted(times)
    return max(bisect.bisect_right(ordered, t + window) - i for i, t in enumerate(ordered))


def run_threads(limiter: RateLimiter, threads: int, per_thread: int) -> list[float]:
    times: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(per_thread):
            granted = limiter.acquire()
            with lock:
                times.append(granted)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in pool)
    return sorted(times)


def make(rate: float, **kwargs: float) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock(start=100.0)
    return RateLimiter(rate, clock=clock, sleep=clock.sleep, **kwargs), clock


def test_first_requests_are_spaced_not_burst() -> None:
    limiter, _ = make(5)
    times = [limiter.acquire() for _ in range(6)]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert times[0] == 100.0
    assert all(g == pytest.approx(1.02 / 5) for g in gaps)
    assert max_in_window(times) == 5  # the sixth falls outside the first second


@pytest.mark.parametrize("rate", [1, 5, 50])
def test_no_one_second_window_exceeds_the_limit_with_eight_threads(rate: int) -> None:
    limiter, _ = make(rate)
    times = run_threads(limiter, threads=8, per_thread=max(rate, 10))
    assert max_in_window(times) <= rate
    # the margin also keeps a window slightly longer than a second within the limit
    assert max_in_window(times, window=1.015) <= rate


@pytest.mark.parametrize("rate", [1, 5, 50])
def test_long_run_rate_is_at_least_95_percent_of_the_limit(rate: int) -> None:
    limiter, _ = make(rate)
    times = run_threads(limiter, threads=8, per_thread=50)
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert achieved >= 0.95 * rate
    assert achieved <= rate


def test_fractional_rate_is_rounded_down_per_window() -> None:
    limiter, _ = make(2.5)
    times = run_threads(limiter, threads=4, per_thread=25)
    assert max_in_window(times) == 2


def test_rate_below_one_spaces_requests_by_more_than_a_second() -> None:
    limiter, _ = make(0.5)
    times = [limiter.acquire() for _ in range(4)]
    assert [round(b - a, 6) for a, b in zip(times, times[1:], strict=False)] == [2.04] * 3


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf])
def test_rate_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="rate must be"):
        RateLimiter(bad)


def test_penalize_pauses_every_new_slot_until_retry_after() -> None:
    limiter, clock = make(10)
    for _ in range(5):
        limiter.acquire()
    penalized_at = clock()
    limiter.penalize(3.0)
    assert limiter.paused_until == pytest.approx(penalized_at + 3.0)
    assert limiter.acquire() >= penalized_at + 3.0


def test_penalize_halves_the_rate_then_recovers_additively() -> None:
    limiter, clock = make(10, recovery_seconds=10.0)
    for _ in range(10):
        limiter.acquire()
    limiter.penalize(1.0)
    assert limiter.current_rate() == pytest.approx(5.0)
    first = limiter.acquire()
    second = limiter.acquire()
    assert second - first == pytest.approx(1.02 / 5, rel=0.05)  # half speed right after the pause
    times = [limiter.acquire() for _ in range(200)]
    late_gaps = [b - a for a, b in zip(times[-20:], times[-19:], strict=False)]
    assert times[-1] - first > 10.0  # long enough to recover
    assert all(g == pytest.approx(1.02 / 10) for g in late_gaps)
    assert limiter.current_rate() == 10.0
    middle = [b - a for a, b in zip(times[:60], times[1:60], strict=False)]
    assert middle == sorted(middle, reverse=True)  # gaps shrink steadily: gradual, not a jump


def test_penalize_without_retry_after_backs_off_doubling_each_time_in_a_row() -> None:
    limiter, clock = make(10)
    limiter.acquire()
    start = clock()
    limiter.penalize(None)
    assert limiter.paused_until == pytest.approx(start + 1.0)
    clock.sleep(1.0)  # the pause is over; another 429 before the rate recovered
    second = clock()
    limiter.penalize(None)
    assert limiter.paused_until == pytest.approx(second + 2.0)
    assert limiter.current_rate() == pytest.approx(2.5)


def test_simultaneous_penalties_cut_the_rate_once() -> None:
    limiter, _ = make(8)
    limiter.acquire()
    for _ in range(6):  # six threads saw the same burst of 429s
        limiter.penalize(2.0)
    assert limiter.current_rate() == pytest.approx(4.0)


def test_retry_after_longer_than_the_cap_is_cut() -> None:
    limiter, clock = make(5)
    now = clock()
    limiter.penalize(10_000)
    assert limiter.paused_until == pytest.approx(now + 120.0)


def test_a_thread_waiting_for_its_slot_queues_again_after_a_penalty() -> None:
    clock = FakeClock()
    holder: list[RateLimiter] = []
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:  # another thread got a 429 while this one waited for its slot
            holder[0].penalize(5.0)
        clock.sleep(seconds)

    limiter = RateLimiter(5, clock=clock, sleep=sleep)
    holder.append(limiter)
    first = limiter.acquire()
    second = limiter.acquire()
    third = limiter.acquire()
    assert first == 0.0
    assert second == pytest.approx(5.0)  # not at its original slot 0.204
    assert third - second == pytest.approx(1.02 / 2.5)  # and at the cut rate


def test_a_late_wake_does_not_squeeze_the_next_request() -> None:
    clock = FakeClock()
    late = {"count": 0}

    def oversleeping(seconds: float) -> None:
        late["count"] += 1
        clock.sleep(seconds + (0.15 if late["count"] == 1 else 0.0))  # the OS woke us late once

    limiter = RateLimiter(5, clock=clock, sleep=oversleeping)
    times = [limiter.acquire() for _ in range(5)]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 1.02 / 5 - 1e-9


def test_penalty_holds_back_many_threads_and_they_never_exceed_the_limit() -> None:
    limiter, clock = make(20)
    times: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(30):
            granted = limiter.acquire()
            with lock:
                times.append(granted)
            if n == 0 and i == 10:
                limiter.penalize(2.0)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=30)
    assert len(times) == 180
    assert max_in_window(times) <= 20
    penalized_at = limiter.paused_until - 2.0
    assert not any(penalized_at < t < penalized_at + 2.0 for t in times)
    assert any(t >= penalized_at + 2.0 for t in times)
