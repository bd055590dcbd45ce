"""A record's state, and which of several records with one value is reused."""

from __future__ import annotations

from functools import reduce

import pytest

from pipeline.api.types import CnamRecord, RecordState, preferred


def rec(id: str, state: str) -> CnamRecord:
    return CnamRecord(
        id=id,
        value="ACME",
        is_approved=state == "approved",
        rejection_reason="Misleading" if state == "rejected" else None,
    )


@pytest.mark.parametrize(
    ("is_approved", "reason", "state"),
    [
        (True, None, RecordState.APPROVED),
        (True, "stale reason", RecordState.APPROVED),  # approval wins over a leftover reason
        (False, "Misleading", RecordState.REJECTED),
        (False, "", RecordState.PENDING),
        (False, None, RecordState.PENDING),
    ],
)
def test_record_state_is_derived_from_approval_and_reason(
    is_approved: bool, reason: str | None, state: RecordState
) -> None:
    got = CnamRecord("1", "ACME", is_approved, reason).state
    assert got is state
    assert got == state.value  # stored and shown as its text


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([("1", "rejected"), ("2", "pending")], "2"),
        ([("1", "pending"), ("2", "approved"), ("3", "pending")], "2"),
        ([("3", "approved"), ("2", "approved")], "2"),  # the oldest of equals
        ([("10", "approved"), ("9", "approved")], "9"),  # ids compare as numbers, not as text
        ([("9", "pending"), ("10", "approved")], "10"),
        ([("5", "rejected"), ("4", "rejected")], "4"),
        ([("1", "rejected")], "1"),
    ],
)
def test_preferred_record_is_approved_then_pending_then_the_oldest(
    records: list[tuple[str, str]], expected: str
) -> None:
    listed = [rec(i, s) for i, s in records]
    for order in (listed, listed[::-1]):  # the listing's order does not matter
        assert reduce(preferred, order, None).id == expected  # type: ignore[arg-type]


def test_preferred_of_nothing_yet_is_the_record() -> None:
    one = rec("7", "pending")
    assert preferred(None, one) is one
