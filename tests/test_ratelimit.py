"""RateLimiter under a fake clock: the ceiling is never exceeded in any one-second window, a 429
is one measured cut per burst, and against a simulated strict server the learned rate uses the
server's limit well with few 429s (virtual time, several threads)."""

from __future__ import annotations

import bisect
import math
import random
import threading
from collections.abc import Callable

import pytest
from virtual_time import StrictServer, VirtualClock

from pipeline.api.ratelimit import (
    AUTO_CEILING,
    AUTO_START,
    BETA,
    PROBE_SECONDS,
    Learned,
    RateLimiter,
    cubic_rate,
    slow_start_rate,
)


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
    assert third - second == pytest.approx(1.02 / (0.95 * 5))  # and at the cut rate


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


def test_after_a_stall_the_threads_leave_one_by_one_at_the_learned_rate() -> None:
    """A busy machine stops the process for half a second: every thread whose slot passed wakes
    at once. They must not go out in a burst at the ceiling's spacing (40/s), which a strict
    server would count in one window: they keep the learned rate's spacing."""
    clock = VirtualClock(0.0)
    stall = (5.0, 5.5)

    def sleep(seconds: float) -> None:
        deadline = clock() + seconds
        if stall[0] <= deadline < stall[1]:
            seconds = stall[1] - clock()
        clock.sleep(seconds)

    limiter = RateLimiter(40, learned=Learned(10, throttled=True), clock=clock, sleep=sleep)
    grants: list[float] = []

    def worker() -> None:
        while clock() < 10:
            grants.append(limiter.acquire())

    clock.run([worker] * 4)
    after = sorted(t for t in grants if t >= stall[1])
    gaps = [b - a for a, b in zip(after, after[1:], strict=False)]
    assert min(gaps) >= 1 / limiter.current_rate() - 1e-9
    assert max_in_window(grants) <= 10


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


# ---- the learned rate ------------------------------------------------------------------------


def test_the_cubic_curve_starts_under_the_accepted_rate_flattens_then_probes_upward() -> None:
    w = 10.0
    assert cubic_rate(w, 0) == pytest.approx(BETA * w)
    assert cubic_rate(w, PROBE_SECONDS) == pytest.approx(w)
    points = [cubic_rate(w, t) for t in range(0, 3 * int(PROBE_SECONDS))]
    assert points == sorted(points)  # never falls while nothing is refused
    # flat around K: within 1 % of the accepted rate for a good while on either side
    assert cubic_rate(w, PROBE_SECONDS * 0.6) > 0.99 * w
    assert cubic_rate(w, PROBE_SECONDS * 1.4) < 1.01 * w
    assert cubic_rate(w, PROBE_SECONDS * 3) > 1.3 * w  # and then it does look further up


def test_slow_start_doubles_per_period() -> None:
    assert slow_start_rate(5, 0) == 5
    assert slow_start_rate(5, 4.0, doubling=2.0) == pytest.approx(20)


def saturate(limiter: RateLimiter, count: int) -> list[float]:
    """`count` grants from one thread that always wants the next slot at once."""
    return [limiter.acquire() for _ in range(count)]


def test_a_429_cuts_to_a_share_of_what_the_server_accepted_not_of_what_was_told() -> None:
    limiter, clock = make(40)
    times = saturate(limiter, 11)  # a server allowing 10 a second refuses the 11th
    limiter.penalize(None, sent_at=times[-1])
    assert limiter.cuts == 1
    assert limiter.current_rate() == pytest.approx(BETA * 10)
    assert limiter.paused_until == pytest.approx(clock() + 1.0)  # one window without Retry-After


def test_a_burst_of_429s_from_several_threads_is_one_cut() -> None:
    limiter, clock = make(40)
    times = saturate(limiter, 16)
    for sent in times[10:]:  # six threads had requests on the wire when the first 429 came
        limiter.penalize(None, sent_at=sent)
    assert limiter.cuts == 1
    assert limiter.current_rate() == pytest.approx(BETA * 10)
    later = saturate(limiter, 3)
    limiter.penalize(None, sent_at=later[-1])  # sent after the cut: a new event
    assert limiter.cuts == 2


def test_without_retry_after_the_pause_is_one_window_however_often_it_happens() -> None:
    limiter, clock = make(20)
    pauses = []
    for _ in range(6):
        times = saturate(limiter, 30)
        now = clock()
        limiter.penalize(None, sent_at=times[-1])
        pauses.append(limiter.paused_until - now)
    assert pauses == [pytest.approx(1.0)] * 6  # no backoff that keeps growing
    assert limiter.cuts == 6


def test_retry_after_sets_the_pause_and_a_later_answer_of_the_burst_can_lengthen_it() -> None:
    limiter, clock = make(20)
    times = saturate(limiter, 25)
    now = clock()
    limiter.penalize(2.0, sent_at=times[-2])
    limiter.penalize(3.0, sent_at=times[-1])
    assert limiter.cuts == 1
    assert limiter.paused_until == pytest.approx(now + 3.0)


def test_time_without_queueing_does_not_count_as_probing() -> None:
    limiter, clock = make(AUTO_CEILING, start=AUTO_START)
    for _ in range(50):  # one request every 2 s: the limiter is never the bottleneck
        limiter.acquire()
        clock.sleep(2.0)
    assert limiter.current_rate() == pytest.approx(AUTO_START)
    saturate(limiter, 40)  # now it is: slow start doubles the rate every 2 s of queueing
    assert limiter.current_rate() > 2 * AUTO_START


def test_the_ceiling_holds_while_probing() -> None:
    limiter, _ = make(12, start=2)
    times = run_threads(limiter, threads=6, per_thread=100)
    assert limiter.current_rate() == pytest.approx(12 / 1.02)
    assert max_in_window(times) <= 12


def test_learned_is_what_the_server_accepted_at_the_last_429() -> None:
    limiter, _ = make(AUTO_CEILING, start=AUTO_START)
    assert limiter.learned() == Learned(AUTO_START, throttled=False)
    times = saturate(limiter, 200)
    limiter.penalize(None, sent_at=times[-1])
    learned = limiter.learned()
    assert learned.throttled
    assert learned.rate == pytest.approx(limiter.current_rate() / BETA, rel=1e-3)
    assert learned.rate <= sum(1 for t in times if times[-1] - 1.1 <= t < times[-1])
    # a later run held lower by its ceiling still hands the server's limit on
    capped, _ = make(3, learned=learned)
    saturate(capped, 100)
    assert capped.learned() == learned


def test_a_learned_limit_starts_the_next_run_just_under_it() -> None:
    limiter, _ = make(40, learned=Learned(9.5, throttled=True))
    assert 0.98 * 9.5 < limiter.current_rate() < 9.5
    limiter, _ = make(AUTO_CEILING, start=AUTO_START, learned=Learned(20, throttled=False))
    assert limiter.current_rate() == 20  # a lower bound only: slow start from there
    limiter, _ = make(8, learned=Learned(30, throttled=True))
    assert limiter.current_rate() == pytest.approx(8 / 1.02)  # the user's ceiling still wins


# ---- against a simulated strict server -------------------------------------------------------

SIM_SECONDS = 300.0
SIM_THREADS = 8


def simulate(
    limit: int,
    limiter_for: Callable[[VirtualClock], RateLimiter],
    *,
    retry_after: bool,
    seconds: float = SIM_SECONDS,
    latency: float = 0.02,
    jitter: float = 0.01,
) -> tuple[float, float, list[float], RateLimiter]:
    """`SIM_THREADS` workers send through the limiter to a strict server for `seconds` of virtual
    time, each 429 handed to `penalize` and sent again. Returns (utilization of the server's
    limit, share of requests answered 429, grant times, the limiter)."""
    clock = VirtualClock(1000.0)
    server = StrictServer(limit, clock, retry_after=retry_after)
    limiter = limiter_for(clock)
    rng = random.Random(limit)
    end = clock.now + seconds
    grants: list[float] = []

    def worker() -> None:
        while clock.now < end:
            sent = limiter.acquire()
            grants.append(sent)
            clock.sleep(latency / 2 + rng.random() * jitter)  # on the way: arrival jitter
            status, wait = server.handle()
            clock.sleep(latency / 2)
            if status == 429:
                limiter.penalize(wait, sent_at=sent)

    clock.run([worker] * SIM_THREADS)
    accepted = server.accepted
    utilization = (len(accepted) - 1) / ((accepted[-1] - accepted[0]) * limit)
    return utilization, server.refused / len(grants), grants, limiter


def told(rate: float) -> Callable[[VirtualClock], RateLimiter]:
    return lambda clock: RateLimiter(rate, clock=clock, sleep=clock.sleep)


def auto(clock: VirtualClock) -> RateLimiter:
    return RateLimiter(AUTO_CEILING, start=AUTO_START, clock=clock, sleep=clock.sleep)


@pytest.mark.parametrize("retry_after", [True, False], ids=["retry-after", "no-retry-after"])
@pytest.mark.parametrize("limit", [3, 10, 40])
@pytest.mark.parametrize("setting", ["too-high", "auto"])
def test_told_too_high_or_auto_it_settles_under_the_servers_limit(
    limit: int, retry_after: bool, setting: str
) -> None:
    ceiling = 4 * limit if setting == "too-high" else AUTO_CEILING
    factory = told(ceiling) if setting == "too-high" else auto
    utilization, refused, grants, limiter = simulate(limit, factory, retry_after=retry_after)
    assert utilization >= 0.90
    assert refused <= 0.02
    assert max_in_window(grants) <= ceiling
    assert limiter.learned().throttled
    assert 0.85 * limit <= limiter.learned().rate <= limit * 1.01


@pytest.mark.parametrize("retry_after", [True, False], ids=["retry-after", "no-retry-after"])
@pytest.mark.parametrize("limit", [3, 10, 40])
def test_told_exactly_it_uses_the_limit_with_no_429(limit: int, retry_after: bool) -> None:
    utilization, refused, grants, limiter = simulate(limit, told(limit), retry_after=retry_after)
    assert utilization >= 0.95
    assert refused == 0
    assert max_in_window(grants) <= limit
    assert not limiter.learned().throttled


@pytest.mark.parametrize("retry_after", [True, False], ids=["retry-after", "no-retry-after"])
@pytest.mark.parametrize("limit", [3, 10, 40])
def test_told_too_low_it_keeps_to_what_it_was_told(limit: int, retry_after: bool) -> None:
    ceiling = max(1, limit // 2)
    utilization, refused, grants, _ = simulate(limit, told(ceiling), retry_after=retry_after)
    assert refused == 0
    assert max_in_window(grants) <= ceiling
    assert utilization == pytest.approx(ceiling / 1.02 / limit, rel=0.01)


def test_the_next_run_starts_from_the_learned_rate_without_rediscovering_it() -> None:
    _, _, _, first = simulate(10, auto, retry_after=False, seconds=120)
    learned = first.learned()

    def resumed(clock: VirtualClock) -> RateLimiter:
        return RateLimiter(
            AUTO_CEILING, start=AUTO_START, learned=learned, clock=clock, sleep=clock.sleep
        )

    utilization, refused, _, second = simulate(10, resumed, retry_after=False, seconds=30)
    assert utilization >= 0.95  # no slow start from 5/s, no first burst of 429s
    assert second.cuts == 0 and refused == 0
