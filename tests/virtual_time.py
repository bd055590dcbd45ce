"""Virtual time for tests of code that sleeps in several threads: deterministic and instant.

`VirtualClock` runs the threads it starts one at a time. A thread runs until it sleeps; when every
thread is asleep, the clock jumps to the earliest deadline and wakes that one thread. Nothing ever
waits for real, no wake-up is late, and the interleaving depends only on the deadlines (ties go in
the order the sleeps began), so a run gives the same figures every time.

`StrictServer` is a server that allows `limit` requests in any sliding one-second window (refused
ones are not counted) and answers 429, with `Retry-After` or without, beyond it.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections import deque
from collections.abc import Callable


class VirtualClock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, list[bool]]] = []
        self._seq = itertools.count()
        self._active = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._cond:
            entry = [False]
            heapq.heappush(self._heap, (self.now + max(0.0, seconds), next(self._seq), entry))
            self._advance()
            while not entry[0]:
                self._cond.wait()

    def _advance(self) -> None:  # lock held
        if self._active and len(self._heap) >= self._active:
            deadline, _, entry = heapq.heappop(self._heap)
            self.now = max(self.now, deadline)
            entry[0] = True
            self._cond.notify_all()

    def run(self, workers: list[Callable[[], None]], timeout: float = 60.0) -> None:
        """Run each worker in its own thread under this clock until all return."""
        errors: list[BaseException] = []

        def wrap(fn: Callable[[], None]) -> None:
            try:
                self.sleep(0)  # wait for the turn: one thread at a time
                fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the test below
                errors.append(exc)
            finally:
                with self._cond:
                    self._active -= 1
                    self._advance()

        with self._cond:
            self._active += len(workers)
        threads = [threading.Thread(target=wrap, args=(fn,), daemon=True) for fn in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in threads), "virtual-time workers did not finish"
        if errors:
            raise errors[0]


class StrictServer:
    """At most `limit` accepted requests in any sliding one-second window, at `clock` time."""

    def __init__(self, limit: int, clock: Callable[[], float], *, retry_after: bool) -> None:
        self.limit = limit
        self.clock = clock
        self.retry_after = retry_after
        self.accepted: list[float] = []
        self.refused = 0
        self._window: deque[float] = deque()

    def handle(self) -> tuple[int, float | None]:
        """(status, Retry-After seconds or None) for a request arriving now."""
        now = self.clock()
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        if len(self._window) < self.limit:
            self._window.append(now)
            self.accepted.append(now)
            return 200, None
        self.refused += 1
        wait = max(1, math.ceil(self._window[0] + 1.0 - now))
        return 429, float(wait) if self.retry_after else None
