"""Values and exceptions of the Flowroute API layer, shared by the client, the lifecycle and tests."""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field
from datetime import datetime


def value_key(value: str) -> str:
    """How CNAM values compare everywhere (client, journal, lifecycle): Flowroute stores values
    uppercased, so case and spacing do not make a different record."""
    return " ".join(value.split()).upper()


class RecordState(enum.StrEnum):
    """Where a CNAM record stands. Flowroute has no state field: it is derived from is_approved and
    rejection_reason (flowroute-api.md §1.1). CREATING is the journal's alone: a create was sent and
    its outcome is not known yet."""

    CREATING = "creating"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class CnamRecord:
    """One CNAM record on the account (flowroute-api.md §1.1). ids are strings."""

    id: str
    value: str
    is_approved: bool
    rejection_reason: str | None = None
    creation_datetime: datetime | None = None
    approval_datetime: datetime | None = None

    @property
    def state(self) -> RecordState:
        """APPROVED, REJECTED (not approved and a non-empty rejection_reason) or PENDING."""
        if self.is_approved:
            return RecordState.APPROVED
        if self.rejection_reason:
            return RecordState.REJECTED
        return RecordState.PENDING


_PREFERENCE = {RecordState.APPROVED: 0, RecordState.PENDING: 1, RecordState.REJECTED: 2}


def preferred(current: CnamRecord | None, other: CnamRecord) -> CnamRecord:
    """Of two records with the same value, the one to reuse: approved, then pending, then rejected;
    among equals the oldest (ids are increasing numbers). `current` None: `other`.

    The one rule for an account that holds a value more than once (a lookup, the reconciling
    listing); a stream of records folds with it: `best = preferred(best, record)`."""
    if current is None or _rank(other) < _rank(current):
        return other
    return current


def _rank(record: CnamRecord) -> tuple[int, int, str]:
    return (_PREFERENCE[record.state], len(record.id), record.id)


@dataclass(frozen=True)
class NumberInfo:
    """A number on the account. cnam_preset_id is only known from the detail call."""

    id: str
    number_type: str | None = None
    cnam_preset_id: str | None = None


@dataclass
class ApiStats:
    """Counters for summary.json's `api` block; safe to bump from many threads."""

    requests: int = 0
    creates: int = 0
    associations: int = 0
    retries: int = 0
    rate_limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def bump(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> ApiCounts:
        with self._lock:
            return ApiCounts(
                requests=self.requests,
                creates=self.creates,
                associations=self.associations,
                retries=self.retries,
                rate_limited=self.rate_limited,
            )


@dataclass(frozen=True)
class RateSummary:
    """summary.json's `api.rate_limit`: the setting (a number or "auto"), its ceiling, the rate the
    run started from, the one it learned (from 429s, or only a lower bound), and how often a 429
    made it slow down. Rates in requests per second."""

    setting: float | str
    ceiling: float
    start: float
    learned: float
    learned_from_429: bool
    slowdowns: int

    def __str__(self) -> str:  # the workbook's Summary sheet shows it so
        setting = self.setting if isinstance(self.setting, str) else f"{self.setting:g}"
        learned = (
            f"learned {self.learned:g}/s from 429s"
            if self.learned_from_429
            else f"at least {self.learned:g}/s (no 429)"
        )
        return (
            f"{learned}; --rate-limit {setting}, started at {self.start:g}/s, "
            f"{self.slowdowns} slowdown(s)"
        )


@dataclass(frozen=True)
class ApiCounts:
    """The counters at one moment: summary.json's `api` block, in this order."""

    requests: int = 0
    creates: int = 0
    associations: int = 0
    retries: int = 0
    rate_limited: int = 0
    rate_limit: RateSummary | None = None  # None: no API work (a dry run)


class ApiError(Exception):
    """An error answer from the API, parsed from its JSON:API body. Never carries credentials."""

    def __init__(
        self,
        status: int,
        title: str = "",
        detail: str = "",
        error_id: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.error_id = error_id
        self.method = method
        self.path = path
        super().__init__(self.describe())

    def describe(self) -> str:
        where = f"{self.method} {self.path} " if self.method else ""
        what = ": ".join(p for p in (self.title, self.detail) if p) or "no detail given"
        ref = f" (error id {self.error_id})" if self.error_id else ""
        if self.status == 0:  # a transport failure: nothing answered
            return f"{where}got no answer: {what}"
        return f"{where}answered {self.status}: {what}{ref}"


class NotFoundError(ApiError):
    """404."""


class UnprocessableError(ApiError):
    """422: a duplicate value, an unapproved record to associate, an invalid value."""


class RateLimitedError(ApiError):
    """429 after every retry."""

    def __init__(self, *args: object, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


class ServerError(ApiError):
    """5xx after every retry."""


class TransportError(ApiError):
    """Timeout or connection error after every retry (status 0)."""


class AmbiguousWriteError(ApiError):
    """A write whose outcome is unknown (timeout, reset, 5xx) and could not be resolved by a lookup."""
