"""An in-memory Flowroute account behind FlowrouteClient's method list, for lifecycle tests.

It keeps the client's contract rather than the wire's: values are stored uppercased, a duplicate
create returns the existing record (the real client turns the 422 into a lookup), unknown numbers
raise NotFoundError, associating an unapproved record raises UnprocessableError. Review is under
the test's control (approve/reject now, or decide after `approve_after` seconds of a fake clock).
Faults can be injected per method, before or after the server-side effect ("after commit").
Every call is logged and counted in ApiStats the way the real client counts.
"""

from __future__ import annotations

import itertools
import pickle
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from pipeline.api.types import (
    ApiStats,
    CnamRecord,
    NotFoundError,
    NumberInfo,
    UnprocessableError,
)


class Crash(BaseException):  # not an Exception: nothing may catch and handle it
    """Raised by a fault to stand for the process dying at that instant."""


@dataclass
class Fault:
    method: str
    error: Callable[[], BaseException]
    after: bool = False  # raise after the call took effect (the server committed it)
    times: int = 1
    match: Callable[[tuple], bool] = lambda args: True


@dataclass
class FakeAccount:
    """The server side: what survives a client crash. Picklable, for subprocess tests."""

    records: dict[str, CnamRecord] = field(default_factory=dict)  # id -> record
    listed: set[str] = field(default_factory=set)  # numbers a plain listing shows
    hidden: set[str] = field(default_factory=set)  # owned, but only the detail call shows them
    presets: dict[str, str] = field(default_factory=dict)  # number -> cnam id
    verdicts: dict[str, str] = field(default_factory=dict)  # value -> rejection reason
    next_id: int = 1000

    def save(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self))

    @staticmethod
    def load(path: Path) -> FakeAccount:
        return pickle.loads(path.read_bytes())


class FakeFlowroute:
    """Implements FlowrouteClient's public methods over a FakeAccount."""

    def __init__(
        self,
        account: FakeAccount | None = None,
        *,
        numbers: Iterable[str] = (),
        hidden_numbers: Iterable[str] = (),
        clock: Callable[[], float] = lambda: 0.0,
        approve_after: float | None = None,
        stats: ApiStats | None = None,
    ) -> None:
        self.account = account or FakeAccount()
        self.account.listed |= set(numbers)
        self.account.hidden |= set(hidden_numbers)
        self.clock = clock
        self.approve_after = approve_after  # None: the review decides only when told to
        self.stats = stats if stats is not None else ApiStats()
        self.calls: list[tuple[str, tuple]] = []
        self.faults: list[Fault] = []
        self._lock = threading.RLock()
        self._sorted_numbers: list[str] = []
        self.listing_whole = True  # False: the numbers listing broke off (see list_number_ids)

    # ------------------------------------------------------------------ test controls
    def fail(
        self,
        method: str,
        error: Callable[[], BaseException],
        *,
        after: bool = False,
        times: int = 1,
        match: Callable[[tuple], bool] = lambda args: True,
    ) -> None:
        self.faults.append(Fault(method, error, after, times, match))

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    def add_record(self, value: str, state: str = "approved", reason: str = "") -> CnamRecord:
        """Put a record on the account directly (as if created by hand in the portal)."""
        with self._lock:
            rec = self._new(value)
        if state != "pending":
            self.decide(value, reason if state == "rejected" else None)
        return self.by_value(value) or rec

    def decide(self, value: str, rejection: str | None = None) -> None:
        """The review decides now: approve, or reject with `rejection`."""
        with self._lock:
            rec = self.by_value(value)
            assert rec is not None, value
            when = datetime.fromtimestamp(self.clock(), UTC)
            self.account.records[rec.id] = replace(
                rec,
                is_approved=rejection is None,
                rejection_reason=rejection,
                approval_datetime=when if rejection is None else None,
            )

    def review_all(self) -> None:
        """Decide every pending record: rejected if its value has a verdict, else approved."""
        for rec in list(self.account.records.values()):
            if rec.state == "pending":
                self.decide(rec.value, self.account.verdicts.get(rec.value))

    def by_value(self, value: str) -> CnamRecord | None:
        wanted = " ".join(value.split()).upper()
        return next((r for r in self.account.records.values() if r.value == wanted), None)

    # ------------------------------------------------------------------ CNAM records
    def list_cnams(
        self,
        *,
        limit: int = 200,
        offset: int = 0,
        is_approved: bool | None = None,
        value: str | None = None,
    ) -> tuple[list[CnamRecord], str | None]:
        def body() -> tuple[list[CnamRecord], str | None]:
            recs = [
                r
                for r in self.account.records.values()
                if (is_approved is None or r.is_approved == is_approved)
                and (value is None or value.upper() in r.value)
            ]
            page = recs[offset : offset + limit]
            more = offset + limit < len(recs)
            return page, (f"/v2/cnams?limit={limit}&offset={offset + limit}" if more else None)

        return self._call("list_cnams", (limit, offset, is_approved, value), body)

    def iter_cnams(
        self, *, is_approved: bool | None = None, value: str | None = None, page_size: int = 200
    ) -> Iterator[CnamRecord]:
        for offset in itertools.count(0, page_size):
            page, nxt = self.list_cnams(
                limit=page_size, offset=offset, is_approved=is_approved, value=value
            )
            yield from page
            if nxt is None:
                return

    def find_cnam(self, value: str) -> CnamRecord | None:
        return self._call("find_cnam", (value,), lambda: self.by_value(value))

    def get_cnam(self, cnam_id: str) -> CnamRecord:
        def body() -> CnamRecord:
            rec = self.account.records.get(cnam_id)
            if rec is None:
                raise NotFoundError(404, "Not Found", "CNAM record not found", method="GET")
            return rec

        return self._call("get_cnam", (cnam_id,), body)

    def get_cnam_numbers(self, cnam_id: str) -> tuple[CnamRecord, list[str]]:
        def body() -> tuple[CnamRecord, list[str]]:
            rec = self.account.records.get(cnam_id)
            if rec is None:
                raise NotFoundError(404, "Not Found", "CNAM record not found", method="GET")
            return rec, sorted(n for n, c in self.account.presets.items() if c == cnam_id)

        return self._call("get_cnam_numbers", (cnam_id,), body)

    def create_cnam(self, value: str) -> CnamRecord:
        def body() -> CnamRecord:
            existing = self.by_value(value)
            if existing is not None:  # the client answers a 422 duplicate with the found record
                self.stats.bump("requests")  # the lookup after the 422
                return existing
            self.stats.bump("creates")
            return self._new(value)

        return self._call("create_cnam", (value,), body)

    def delete_cnam(self, cnam_id: str) -> None:
        def body() -> None:
            self.account.records.pop(cnam_id, None)
            for number, preset in list(self.account.presets.items()):
                if preset == cnam_id:
                    del self.account.presets[number]

        self._call("delete_cnam", (cnam_id,), body)

    # ------------------------------------------------------------------ numbers
    def list_numbers(
        self,
        *,
        limit: int = 200,
        offset: int = 0,
        starts_with: str | None = None,
        contains: str | None = None,
        ends_with: str | None = None,
    ) -> tuple[list[NumberInfo], str | None]:
        def body() -> tuple[list[NumberInfo], str | None]:
            if len(self._sorted_numbers) != len(self.account.listed):
                self._sorted_numbers = sorted(self.account.listed)
            nums = self._sorted_numbers
            page = [NumberInfo(n, "standard") for n in nums[offset : offset + limit]]
            more = offset + limit < len(nums)
            return page, (f"/v2/numbers?limit={limit}&offset={offset + limit}" if more else None)

        return self._call("list_numbers", (limit, offset), body)

    def iter_numbers(self, page_size: int = 200) -> Iterator[NumberInfo]:
        for offset in itertools.count(0, page_size):
            page, nxt = self.list_numbers(limit=page_size, offset=offset)
            yield from page
            if nxt is None:
                return

    def list_number_ids(self, page_size: int = 200) -> tuple[set[str], bool]:
        return {n.id for n in self.iter_numbers(page_size)}, self.listing_whole

    def get_number(self, number: str) -> NumberInfo | None:
        def body() -> NumberInfo | None:
            if not self._owns(number):
                return None
            return NumberInfo(number, "standard", self.account.presets.get(number))

        return self._call("get_number", (number,), body)

    def associate(self, number: str, cnam_id: str) -> None:
        def body() -> None:
            if not self._owns(number):
                raise NotFoundError(404, "", "Could not find that resource", method="PATCH")
            rec = self.account.records.get(cnam_id)
            if rec is None:
                raise NotFoundError(404, "Not Found", "CNAM record not found", method="PATCH")
            if not rec.is_approved:
                raise UnprocessableError(422, "Unprocessable", "CNAM is not approved")
            self.account.presets[number] = cnam_id
            self.stats.bump("associations")

        self._call("associate", (number, cnam_id), body)

    def unassociate(self, number: str) -> None:
        self._call("unassociate", (number,), lambda: self.account.presets.pop(number, None))

    def check_credentials(self) -> None:
        self._call("check_credentials", (), lambda: None)

    # ------------------------------------------------------------------ internals
    def _owns(self, number: str) -> bool:
        return number in self.account.listed or number in self.account.hidden

    def _new(self, value: str) -> CnamRecord:
        rec = CnamRecord(
            id=str(self.account.next_id),
            value=" ".join(value.split()).upper(),
            is_approved=False,
            creation_datetime=datetime.fromtimestamp(self.clock(), UTC),
        )
        self.account.next_id += 1
        self.account.records[rec.id] = rec
        return rec

    def _tick(self) -> None:
        """Time-based review: records older than approve_after are decided."""
        if self.approve_after is None:
            return
        for rec in list(self.account.records.values()):
            born = rec.creation_datetime.timestamp() if rec.creation_datetime else 0.0
            if rec.state == "pending" and self.clock() - born >= self.approve_after:
                self.decide(rec.value, self.account.verdicts.get(rec.value))

    def _call(self, method: str, args: tuple, body: Callable[[], object]):  # type: ignore[no-untyped-def]
        with self._lock:
            self.calls.append((method, args))
            self.stats.bump("requests")
            self._tick()
            fault = next(
                (f for f in self.faults if f.method == method and f.times > 0 and f.match(args)),
                None,
            )
            if fault is not None:
                fault.times -= 1
                if not fault.after:
                    raise fault.error()
            result = body()
            if fault is not None:
                raise fault.error()
            return result


class FakeClock:
    """time.time and time.sleep for tests: sleeping advances the clock; nothing waits."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
