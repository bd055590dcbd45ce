"""The sandbox's account: CNAM records, owned numbers and their presets, with Flowroute's rules.

Free of HTTP so the rules read in one place. Every public method takes the lock, first settles
the reviews that have come due (lazily, as a read of the real API would find them decided), and
appends what changed to the state file (sandbox_state). Errors are `SandboxApiError`s carrying
the status, detail and title that the HTTP layer renders as a JSON:API error body.
"""

from __future__ import annotations

import heapq
import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from pipeline.sandbox.review import review
from pipeline.sandbox.state import StateLog

MAX_VALUE_LENGTH = 15
ALLOWED_CHARACTERS = "A-Z, 0-9, space and - _ . , @ + & ' / \""
_BAD_CHARACTER = re.compile(r"[^A-Z0-9 \-_.,@+&'/\"]")
TOLL_FREE_AREA_CODES = frozenset({"800", "833", "844", "855", "866", "877", "888"})
_US_NUMBER = re.compile(r"^1[2-9]\d{2}[2-9]\d{6}$")
FIRST_RECORD_ID = 30001
# What an open account's plain number list shows before any number is used, so a client that lists
# the account's numbers and takes the first (Flowroute's Python SDK examples) has something to take:
# 1-512-555-0200 to 1-512-555-0209 (Austin, TX). Documented in the README's sandbox section.
DEMO_NUMBERS: tuple[str, ...] = tuple(f"1512555{line:04d}" for line in range(200, 210))

NOT_FOUND_TITLE = "Resource not found"
UNPROCESSABLE_TITLE = "Unprocessable Entity"
NUMBER_NOT_FOUND = "Could not find that resource on your account."
DUPLICATE_DETAIL = "Duplicate CNAM entry found on your account"

# A few real rate centers so number objects look like Flowroute's; other area codes get null.
_RATE_CENTERS = {
    "201": ("oradell", "nj"), "206": ("seattle", "wa"), "212": ("new york", "ny"),
    "213": ("los angeles", "ca"), "303": ("denver", "co"), "305": ("miami", "fl"),
    "312": ("chicago", "il"), "404": ("atlanta", "ga"), "415": ("san francisco", "ca"),
    "503": ("portland", "or"), "512": ("austin", "tx"), "617": ("boston", "ma"),
    "646": ("new york", "ny"), "702": ("las vegas", "nv"),
}  # fmt: skip


class SandboxApiError(Exception):
    """An error answer: status, detail and title (None to leave `title` out, as Flowroute does on a
    number 404)."""

    def __init__(self, status: int, detail: str, title: str | None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.title = title


def _unprocessable(detail: str) -> SandboxApiError:
    return SandboxApiError(422, detail, UNPROCESSABLE_TITLE)


def is_long_code(number: str) -> bool:
    """A valid US long-code number, 11 digits: area code and exchange 2-9, not toll-free."""
    return bool(_US_NUMBER.match(number)) and number[1:4] not in TOLL_FREE_AREA_CODES


def is_fictional(number: str) -> bool:
    """The 555-0100..0199 range reserved for fiction: the open account does not own these, so demos
    can show a number that is not on the account (e.g. 12065550142)."""
    return number[4:7] == "555" and 100 <= int(number[7:]) <= 199


def number_attributes(number: str) -> dict[str, object]:
    """The attributes of a number object (flowroute-api.md §2.1)."""
    rate_center, state = _RATE_CENTERS.get(number[1:4], (None, None))
    return {
        "alias": None,
        "cnam_lookups_enabled": True,
        "number_type": "toll-free" if number[1:4] in TOLL_FREE_AREA_CODES else "standard",
        "rate_center": rate_center,
        "state": state,
        "value": number,
    }


def clean_value(raw: object) -> str:
    """The value Flowroute would store (trimmed, uppercased), or a 422 for the mechanical rules."""
    if raw is None:
        raise _unprocessable('A CNAM value is required: send {"value": "YOUR NAME"}.')
    if not isinstance(raw, str):
        raise _unprocessable(f"The CNAM value must be a string, got {json.dumps(raw)}.")
    value = raw.strip().upper()
    if not value:
        raise _unprocessable("The CNAM value must not be empty.")
    if len(value) > MAX_VALUE_LENGTH:
        raise _unprocessable(
            f"The CNAM value must be at most {MAX_VALUE_LENGTH} characters; "
            f"{value!r} has {len(value)}."
        )
    bad = sorted(set(_BAD_CHARACTER.findall(value)))
    if bad:
        raise _unprocessable(
            f"The CNAM value contains characters that are not allowed: {''.join(bad)!r}; "
            f"use {ALLOWED_CHARACTERS}."
        )
    if not re.search("[A-Z]", value):
        raise _unprocessable("The CNAM value must contain at least one letter.")
    return value


@dataclass(slots=True)
class Record:
    """One CNAM record. Times are epoch seconds from the account's clock."""

    id: int
    value: str
    created: float
    approved_at: float | None = None
    rejection_reason: str | None = None

    @property
    def is_approved(self) -> bool:
        return self.approved_at is not None

    @property
    def decided(self) -> bool:
        return self.approved_at is not None or self.rejection_reason is not None


class Account:
    """Records, owned numbers and presets. `numbers=None` owns every long-code number except the
    fictional 555-01XX range; `approve_after=math.inf` leaves every record pending. Lookups are
    indexed so a large run (a million presets) costs O(1) or O(log n) per request."""

    def __init__(
        self,
        *,
        numbers: Iterable[str] | None = None,
        approve_after: float = 2.0,
        clock: Callable[[], float],
        state_file: Path | None = None,
    ) -> None:
        self._numbers = None if numbers is None else frozenset(numbers)
        self._approve_after = approve_after
        self._clock = clock
        self._lock = threading.RLock()
        self._records: dict[int, Record] = {}
        self._by_value: dict[str, int] = {}
        self._due: list[tuple[float, int]] = []  # heap of (decision time, id) for pending records
        self._presets: dict[str, int] = {}  # number -> cnam id
        self._preset_on: dict[int, set[str]] = {}  # cnam id -> numbers
        self._used: set[str] = set()  # numbers seen so far (open account), besides DEMO_NUMBERS
        self._listed_cache: list[str] | None = None  # sorted plain list, rebuilt after changes
        self._next_id = FIRST_RECORD_ID
        self._records_version = 0  # bumped whenever a record is added, removed or decided
        self._filter_cache: tuple[tuple[bool | None, str, int], list[Record]] | None = None
        self._changes: list[dict[str, object]] = []  # to append to the state file
        self._state = None if state_file is None else StateLog(state_file)
        if self._state is not None:
            ops = self._state.read()
            for op in ops:
                self._replay(op)
            self._changes.clear()
            live = 1 + len(self._records) + len(self._presets) + len(self._used)
            if self._state.needs_rewrite or len(ops) > 2 * live:
                self._state.rewrite(self._snapshot())

    def close(self) -> None:
        """Close the state file (reopened by the next write)."""
        with self._lock:
            if self._state is not None:
                self._state.close()

    # ---- numbers -------------------------------------------------------------------------------

    def owns(self, number: str) -> bool:
        if self._numbers is not None:
            return number in self._numbers
        return is_long_code(number) and not is_fictional(number)

    def use(self, numbers: Iterable[str]) -> None:
        """Open account: these numbers (those it owns) are in use, so a plain list shows them, as
        a real account lists the numbers it has. `run --sandbox` does this for the run's input:
        the demo account owns the numbers of the file it is tried with. No-op with `numbers`."""
        with self._lock:
            for number in numbers:
                if self.owns(number):
                    self._use(number)
            self._commit()

    def _use(self, number: str) -> None:
        if self._numbers is None and number not in self._used:
            self._used.add(number)
            self._listed_cache = None
            self._changes.append({"op": "use", "number": number})

    def _require_number(self, number: str) -> None:
        if not self.owns(number):
            raise SandboxApiError(404, NUMBER_NOT_FOUND, None)

    def numbers_page(
        self,
        *,
        offset: int,
        limit: int,
        starts_with: str | None = None,
        contains: str | None = None,
        ends_with: str | None = None,
        alias: str | None = None,
    ) -> tuple[list[str], bool]:
        """Up to `limit` owned numbers after `offset` matches of every filter (digit strings;
        starts_with already has its country code), sorted, and whether more follow.

        A filter that names a whole number (10 or 11 digits) can only match that number, which is
        how Flowroute's SDK looks a number up; on the open account that lookup counts as use. The
        open account's other lists show its demo block and the numbers used so far."""
        with self._lock:
            if alias is not None:
                return [], False  # no number has an alias

            def matches(n: str) -> bool:
                return (
                    (starts_with is None or n.startswith(starts_with))
                    and (contains is None or contains in n)
                    and (ends_with is None or n.endswith(ends_with))
                )

            queries = (starts_with, contains, ends_with)
            wholes = sorted({w for q in queries if q and (w := _whole_number(q))})
            found: list[str]
            if wholes:
                found = [n for n in wholes if self.owns(n) and matches(n)]
                for number in found:
                    self._use(number)
                self._commit()
            elif all(q is None for q in queries):
                found = self._listed()
            else:
                found = [n for n in self._listed() if matches(n)]
            found = found[offset : offset + limit + 1]
            return found[:limit], len(found) > limit

    def _listed(self) -> list[str]:
        """What a plain list shows, sorted: the configured numbers, or (open account) the demo
        block and the numbers used so far."""
        if self._listed_cache is None:
            shown = self._used.union(DEMO_NUMBERS) if self._numbers is None else self._numbers
            self._listed_cache = sorted(shown)
        return self._listed_cache

    def number_preset(self, number: str) -> Record | None:
        """The record preset on an owned number (404 when not owned); a lookup counts as use."""
        with self._lock:
            self._settle()
            self._require_number(number)
            self._use(number)
            self._commit()
            cnam_id = self._presets.get(number)
            return None if cnam_id is None else self._records[cnam_id]

    def associate(self, number: str, cnam_id: str) -> None:
        """Preset an approved record on an owned long-code number, replacing any earlier one."""
        with self._lock:
            self._settle()
            self._require_number(number)
            if number[1:4] in TOLL_FREE_AREA_CODES:
                raise _unprocessable("CNAM storage is not available for toll-free numbers.")
            record = self._record(cnam_id, "CNAM record not found.")
            if record.rejection_reason is not None:
                raise _unprocessable(
                    f"CNAM record {record.id} was rejected ({record.rejection_reason}) "
                    "and cannot be assigned to a number."
                )
            if not record.is_approved:
                raise _unprocessable(
                    f"CNAM record {record.id} has not been approved yet; "
                    "it can be assigned once it is approved."
                )
            self._use(number)
            self._set_preset(number, record.id)
            self._commit()

    def unassociate(self, number: str) -> None:
        """Clear an owned number's preset (fine when it has none)."""
        with self._lock:
            self._settle()
            self._require_number(number)
            self._use(number)
            if number in self._presets:
                self._set_preset(number, None)
            self._commit()

    def _set_preset(self, number: str, cnam_id: int | None) -> None:
        old = self._presets.pop(number, None)
        if old is not None:
            self._preset_on[old].discard(number)
        if cnam_id is not None:
            self._presets[number] = cnam_id
            self._preset_on.setdefault(cnam_id, set()).add(number)
        self._changes.append({"op": "preset", "number": number, "id": cnam_id})

    # ---- records -------------------------------------------------------------------------------

    def create(self, raw_value: object) -> Record:
        with self._lock:
            self._settle()
            value = clean_value(raw_value)
            if value in self._by_value:
                raise _unprocessable(DUPLICATE_DETAIL)
            record = Record(self._next_id, value, self._clock())
            self._add(record)
            self._commit()
            return record

    def get(self, cnam_id: str) -> tuple[Record, list[str]]:
        """The record and the numbers it is preset on (404 for an unknown id)."""
        with self._lock:
            self._settle()
            self._commit()
            record = self._record(cnam_id, "CNAM record not found.")
            return record, sorted(self._preset_on.get(record.id, ()))

    def page(
        self, *, offset: int, limit: int, is_approved: bool | None = None, value: str | None = None
    ) -> tuple[list[Record], bool]:
        """Up to `limit` records after `offset` matches (by id), and whether more follow."""
        with self._lock:
            self._settle()
            self._commit()
            if is_approved is None and not value:
                found = list(islice(self._records.values(), offset, offset + limit + 1))
            else:
                found = self._filtered(is_approved, value.upper() if value else "")
                found = found[offset : offset + limit + 1]
            return found[:limit], len(found) > limit

    def _filtered(self, is_approved: bool | None, needle: str) -> list[Record]:
        """Records matching a filter, cached until a record changes, so paging through a filtered
        list costs O(n) once rather than once per page."""
        key = (is_approved, needle, self._records_version)
        if self._filter_cache is None or self._filter_cache[0] != key:
            matches = [
                r
                for r in self._records.values()
                if (is_approved is None or r.is_approved == is_approved) and needle in r.value
            ]
            self._filter_cache = (key, matches)
        return self._filter_cache[1]

    def delete(self, cnam_id: str) -> None:
        """Remove a record and clear it from every number it was preset on."""
        with self._lock:
            self._settle()
            record = self._record(cnam_id, "CNAM record not found. Nothing to delete.")
            self._remove(record.id)
            self._changes.append({"op": "delete", "id": record.id})
            self._commit()

    def _record(self, cnam_id: str, detail: str) -> Record:
        ok = cnam_id.isascii() and cnam_id.isdigit()
        record = self._records.get(int(cnam_id)) if ok else None
        if record is None:
            raise SandboxApiError(404, detail, NOT_FOUND_TITLE)
        return record

    def _add(self, record: Record) -> None:
        self._records[record.id] = record
        self._by_value[record.value] = record.id
        self._next_id = max(self._next_id, record.id + 1)
        self._records_version += 1
        if not record.decided and math.isfinite(self._approve_after):
            heapq.heappush(self._due, (record.created + self._approve_after, record.id))
        self._changes.append(_record_op(record))

    def _remove(self, cnam_id: int) -> None:
        record = self._records.pop(cnam_id)
        del self._by_value[record.value]
        for number in self._preset_on.pop(cnam_id, set()):
            del self._presets[number]
        self._records_version += 1

    def _settle(self) -> None:
        """Decide every pending record whose review time has passed; the decision is dated then."""
        now = self._clock()
        while self._due and self._due[0][0] <= now:
            decided_at, cnam_id = heapq.heappop(self._due)
            record = self._records.get(cnam_id)
            if record is None or record.decided:
                continue
            reason = review(record.value)
            if reason is None:
                record.approved_at = decided_at
            else:
                record.rejection_reason = reason
            self._records_version += 1
            self._changes.append(_record_op(record))

    # ---- persistence ---------------------------------------------------------------------------

    def _commit(self) -> None:
        """Append this request's changes to the state file (kept in memory only without one)."""
        if self._state is not None and self._changes:
            self._state.append(self._changes)
        self._changes = []

    def _snapshot(self) -> Iterator[dict[str, object]]:
        yield {"op": "next_id", "id": self._next_id}
        for record in self._records.values():
            yield _record_op(record)
        for number, cnam_id in self._presets.items():
            yield {"op": "preset", "number": number, "id": cnam_id}
        for number in sorted(self._used):
            yield {"op": "use", "number": number}

    def _replay(self, op: dict[str, Any]) -> None:
        """Apply one operation read from the state file."""
        try:
            kind = op["op"]
            if kind == "record":
                record = Record(
                    int(op["id"]),
                    str(op["value"]),
                    float(op["created"]),
                    None if op["approved_at"] is None else float(op["approved_at"]),
                    op["rejection_reason"],
                )
                known = self._records.get(record.id)
                if known is None:
                    self._add(record)
                else:  # the review's decision on a record created earlier
                    known.approved_at = record.approved_at
                    known.rejection_reason = record.rejection_reason
                    self._records_version += 1
            elif kind == "delete":
                self._remove(int(op["id"]))
            elif kind == "preset":
                self._set_preset(str(op["number"]), None if op["id"] is None else int(op["id"]))
            elif kind == "use":
                self._used.add(str(op["number"]))
            elif kind == "next_id":
                self._next_id = max(self._next_id, int(op["id"]))
            else:
                raise ValueError(f"unknown operation {kind!r}")
        except (KeyError, TypeError, ValueError) as exc:
            assert self._state is not None
            raise self._state.unusable(f"bad operation {op}: {exc!r}") from exc


def _record_op(record: Record) -> dict[str, object]:
    return {
        "op": "record",
        "id": record.id,
        "value": record.value,
        "created": record.created,
        "approved_at": record.approved_at,
        "rejection_reason": record.rejection_reason,
    }


def _whole_number(query: str) -> str | None:
    """The 11-digit number a query names whole (10 digits get the country code), else None."""
    if len(query) == 11 and query.startswith("1"):
        return query
    if len(query) == 10:
        return "1" + query
    return None
