"""Waiting for Flowroute's review within one run (--wait-approval): when to poll, and how.

Split from lifecycle.py because the schedule is a small rule of its own: the first poll comes
POLL_FIRST seconds after the creates (a sandbox or a quick review decides within seconds), then the
wait doubles up to POLL_MAX, so a long wait costs few calls and a short one leaves no idle gap.
Each poll reads the pending records one GET each, or lists the account when that takes fewer calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.api.types import ApiError, CnamRecord
from pipeline.lifecycle.fanout import FanOut

POLL_FIRST = 1.0  # seconds from the creates to the first poll of pending records
POLL_MAX = 30.0  # the wait between polls doubles from POLL_FIRST up to this
PAGE_SIZE = 200  # the API's page size for listings


def poll_waits(wait: float, clock: Callable[[], float]) -> Iterator[float]:
    """The pause before each poll, until `wait` seconds have passed on `clock` (bounded)."""
    deadline = clock() + wait
    interval = POLL_FIRST
    for _ in range(max_polls(wait)):
        remaining = deadline - clock()
        if remaining <= 0:
            return
        yield min(interval, remaining)
        interval = min(interval * 2, POLL_MAX)


def max_polls(wait: float) -> int:
    """How many polls a wait of `wait` seconds holds at most (bounds the loop)."""
    if wait <= 0:
        return 0
    count, total, interval = 1, 0.0, POLL_FIRST
    while total < wait:
        total += interval
        interval = min(interval * 2, POLL_MAX)
        count += 1
    return count


def fetch_pending(
    client: Any, fan_out: FanOut, ids: dict[str, str], account_size: int
) -> list[CnamRecord]:
    """GET each pending record (`ids`: value -> record id), or list the account once when that
    takes fewer calls. A failed poll returns nothing: the next one tries again."""
    try:
        if len(ids) > math.ceil(account_size / PAGE_SIZE):
            wanted = set(ids.values())
            return [r for r in client.iter_cnams() if r.id in wanted]
    except ApiError:
        return []
    found: dict[str, Any] = {}
    fan_out(client.get_cnam, sorted(ids.values()), found.__setitem__, "poll")
    return [r for r in found.values() if isinstance(r, CnamRecord)]
