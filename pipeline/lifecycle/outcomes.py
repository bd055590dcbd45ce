"""What a real run decides for each row: the Outcome values, the ledger that records them, and how
an outcome is stored in the journal.

Split from lifecycle.py so the decisions a row can end in (associated, already_set, rejected,
failed, ...) and their wording can be read apart from the API calls that lead to them. Rows with
equal outcomes share one Outcome and one stored RowState: a run may hold 500k rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from pipeline.api.types import ApiStats, CnamRecord, RecordState
from pipeline.errors import CnamBatchError, CredentialsError, RuntimeLimitError
from pipeline.journal.types import (
    GAVE_UP,
    GAVE_UP_PREFIX,
    RowState,
    WorkItem,
    from_text,
    to_text,
)
from pipeline.model import Reason, Status

RETRIED_NEXT_RUN = "; the next run retries this row"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the API phase did with one row; rows with equal outcomes share one instance."""

    status: Status
    reason_code: Reason | None
    reason: str
    cnam_id: str
    pending_since: datetime | None = None
    gave_up: bool = False  # failed in --give-up-after runs in a row: no longer sent


@dataclass
class LifecycleResult:
    outcomes: dict[str, Outcome]  # one per WorkItem.key passed in
    carried_over: list[tuple[WorkItem, Outcome]]  # rows of earlier runs advanced in this run
    stats: ApiStats
    # What stopped the run early (credentials refused, outage, --max-runtime), or None. Rows it
    # left undone have an outcome saying so, which the journal does not store: they stay open.
    fatal: CnamBatchError | None = None


@dataclass(slots=True)
class Row:
    """A row in this run's pass: its item, the record value it needs, and what it was before."""

    item: WorkItem
    value: str  # value_key(name): the record it needs
    carried: bool
    prior: RowState | None = None


class Ledger:
    """Each row's outcome in this run, by WorkItem.key; equal outcomes share one instance."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}
        self._shared: dict[tuple, Outcome] = {}

    def decide(
        self, key: str, status: Status, code: Reason | None, reason: str, cnam_id: str,
        pending_since: datetime | None = None,
    ) -> None:  # fmt: skip
        fields = (status, code, reason, cnam_id, pending_since)
        outcome = self._shared.get(fields)
        if outcome is None:
            outcome = self._shared[fields] = Outcome(*fields)
        self.outcomes[key] = outcome

    def settled(self, row: Row, cnam_id: str, by_this_row: bool) -> None:
        """The number carries the row's record: associated (by this row) or already_set."""
        if by_this_row:
            self.decide(row.item.key, Status.ASSOCIATED, None, "", cnam_id)
        else:
            reason = (
                f'the number already carries "{row.item.name}" (record {cnam_id}); nothing sent'
            )
            self.decide(row.item.key, Status.ALREADY_SET, None, reason, cnam_id)

    def fail(self, rows: Iterable[Row], message: str) -> None:
        for row in rows:
            reason = f"Flowroute API error: {message}{RETRIED_NEXT_RUN}"
            self.decide(row.item.key, Status.FAILED, Reason.API_ERROR, reason, "")

    def give_up(self, key: str, reason: str) -> None:
        """Reported `failed` with `reason`, and stored as given up: later runs do not send it."""
        fields = (Status.FAILED, Reason.API_ERROR, reason, "", None, True)
        outcome = self._shared.get(fields)
        if outcome is None:
            outcome = self._shared[fields] = Outcome(*fields)
        self.outcomes[key] = outcome

    def pending(self, row: Row, rec: CnamRecord, now: datetime) -> None:
        """The row waits for Flowroute's review of its record."""
        since = rec.creation_datetime or prior_since(row) or now
        reason = (f"waiting for Flowroute's review of \"{rec.value}\" (up to 48 h); "
                  "the next run associates it")  # fmt: skip
        self.decide(row.item.key, Status.PENDING_APPROVAL, None, reason, rec.id, since)

    def still_waiting(
        self, rows: Iterable[Row], records: Mapping[str, CnamRecord], now: datetime
    ) -> None:
        """After a fatal error: rows whose record is pending are pending (journaled), and so are
        rows pending since an earlier run that this run did not reach."""
        for row in rows:
            if row.item.key in self.outcomes:
                continue
            rec = records.get(row.value)
            if rec is not None and rec.state is RecordState.PENDING:
                self.pending(row, rec, now)
            elif rec is None and row.prior is not None and row.prior.state == "pending_approval":
                self.decide(
                    row.item.key, Status.PENDING_APPROVAL, None, row.prior.reason,
                    row.prior.cnam_id, prior_since(row),
                )  # fmt: skip

    def unfinished(self, rows: Iterable[Row], cause: CnamBatchError) -> None:
        """Rows a fatal error left undone are `failed`, saying why. The caller does not journal
        these outcomes: the rows stay open and the next run takes them again."""
        if isinstance(cause, RuntimeLimitError):
            why = "the run reached its --max-runtime before this row was done"
        elif isinstance(cause, CredentialsError):
            why = f"Flowroute refused the credentials before this row was done ({cause})"
        else:
            why = f"Flowroute did not answer before this row was done ({cause})"
        for row in rows:
            if row.item.key not in self.outcomes:
                reason = f"{why}; the next run retries it"
                self.decide(row.item.key, Status.FAILED, Reason.API_ERROR, reason, "")

    def not_on_account(self, row: Row) -> None:
        reason = (f"number {row.item.number} is not on the Flowroute account; "
                  "check the number or add it to the account")  # fmt: skip
        self.decide(row.item.key, Status.REJECTED, Reason.NUMBER_NOT_ON_ACCOUNT, reason, "")

    def changes(
        self,
        keys: Iterable[str],
        prior: dict[str, RowState],
        run_id: str,
        failed_runs: dict[str, int] | None = None,
    ) -> Iterator[tuple[str, RowState]]:
        """(key, state to store) for every decided row among `keys` whose state changed.
        `failed_runs`: each failed row's count of runs in a row that ended failed (else 0)."""
        counts = failed_runs or {}
        as_state: dict[tuple[int, int], RowState] = {}
        for key in keys:
            outcome = self.outcomes.get(key)
            if outcome is None:
                continue  # undecided (a fatal error came first): stays open for the next run
            count = counts.get(key, 0)
            state = as_state.get((id(outcome), count))
            if state is None:
                state = as_state[id(outcome), count] = row_state(outcome, run_id, count)
            if prior.get(key) != state:
                yield key, state


def prior_since(row: Row) -> datetime | None:
    """Since when the row has been waiting, as an earlier run stored it."""
    return from_text(row.prior.pending_since) if row.prior else None


def row_state(outcome: Outcome, run_id: str, failed_runs: int = 0) -> RowState:
    """How an outcome is stored. A later run reports an association as made "in run X"."""
    failed = outcome.status is Status.FAILED
    reason = outcome.reason
    if outcome.status is Status.ASSOCIATED and not reason:
        reason = f"associated in run {run_id}"
    return RowState(
        GAVE_UP if outcome.gave_up else outcome.status.value,
        outcome.reason_code.value if outcome.reason_code else None,
        reason,
        outcome.cnam_id,
        to_text(outcome.pending_since),
        outcome.reason if failed else None,
        failed_runs if failed else 0,
    )


def gave_up_reason(runs: int, last_reason: str) -> str:
    """What a row given up on says: how many runs, and the last failure's reason."""
    last = last_reason.removesuffix(RETRIED_NEXT_RUN)
    return f"{GAVE_UP_PREFIX}{runs} runs: {last}; --retry-failed sends it again"
