"""The journal's values: the rows, records and associations it hands out, and how it compares them.

Split from journal.py so the lifecycle, the status command and the tests can read what a journal
row or record *is* without the SQL that stores it. Everything here is a small frozen value or a
pure function (no I/O, no clock); journal.py re-exports the names other modules import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from pipeline.api.types import RecordState

# Row states: "new" (journaled, not yet decided), a Status value, or GAVE_UP: a row that failed in
# --give-up-after runs in a row, reported `failed` and no longer sent (--retry-failed takes it again).
# OPEN_ROW_STATES need work in a later run.
GAVE_UP = "gave_up"
GAVE_UP_PREFIX = "gave up after "  # how the reason of a row given up on starts
OPEN_ROW_STATES = ("new", "pending_approval", "failed")


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A row that needs API work: valid number, valid name, not a duplicate or conflict."""

    key: str  # f"{content_hash}:{source_row}": stable across runs
    source_file: str
    source_row: int
    input_number: str
    input_name: str
    number: str
    name: str


class RowState(NamedTuple):
    """A row's decided state as stored. Rows with equal states share one instance (500k rows)."""

    state: str  # "new" or a Status value
    reason_code: str | None = None
    reason: str = ""
    cnam_id: str = ""
    pending_since: str | None = None  # ISO 8601 UTC text, as stored
    last_error: str | None = None
    failed_runs: int = 0  # runs in a row that ended with this row failed


@dataclass(frozen=True, slots=True)
class JournalRow:
    """A row as the journal remembers it."""

    item: WorkItem
    value: str  # the record value it waits on
    state: RowState
    first_run_id: str
    last_run_id: str
    asked_seq: int


@dataclass(frozen=True, slots=True)
class JournalRecord:
    value: str
    cnam_id: str | None
    state: RecordState
    rejection_reason: str | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class JournalAssociation:
    number: str
    cnam_id: str
    value: str | None
    state: str  # intent (sent, no result yet) / done / seen (found by a lookup)
    row_key: str | None
    run_id: str | None


def to_text(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds")


def from_text(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
