"""Fanning API calls out over the run's worker threads, a bounded window at a time.

Split from lifecycle.py because the concurrency rules are the same for every phase (lookups,
creates, associations, polls) and are easier to check on their own: at most a few tasks per worker
are queued (500k futures would not fit in memory), results are handled in the calling thread (so
the run's bookkeeping needs no lock), an ApiError is a result (`Fail`), and a fatal error stops new
submissions, lets the calls in flight finish and record their results, then propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline.api.types import ApiError

# A run's fan-out as its phases call it: (fn, tasks, done(task, result), phase name).
FanOut = Callable[[Callable[[Any], Any], Sequence[Any], Callable[[Any, Any], None], str], None]

IN_FLIGHT_PER_WORKER = 4  # tasks queued per worker: keeps 500k futures out of memory

T = TypeVar("T")
_END: Any = object()


@dataclass(slots=True)
class Fail:
    """A worker's non-fatal API error, handed back to the main thread."""

    error: ApiError
    number_gone: bool = False  # a 404 on associate, and the number's detail 404s too


def fan_out(
    pool: Executor,
    workers: int,
    fn: Callable[[T], Any],
    tasks: Sequence[T],
    done: Callable[[T, Any], None],
) -> None:
    """Run fn over tasks on `pool`, a bounded window in flight; `done(task, result)` runs here.

    ApiError becomes a Fail result. A fatal error (credentials, unreachable) stops new
    submissions, lets the calls in flight finish and `done` record their results, then propagates.
    """

    def call(task: T) -> Any:
        try:
            return fn(task)
        except ApiError as err:
            return Fail(err)

    todo = iter(tasks)
    running: dict[Future[Any], T] = {}
    fatal: BaseException | None = None
    window = workers * IN_FLIGHT_PER_WORKER
    while True:
        while fatal is None and len(running) < window:
            task = next(todo, _END)
            if task is _END:
                break
            running[pool.submit(call, task)] = task
        if not running:
            break
        finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for fut in finished:
            task = running.pop(fut)
            error = fut.exception()
            if error is not None:
                fatal = fatal or error
                continue
            done(task, fut.result())
    if fatal is not None:
        raise fatal
