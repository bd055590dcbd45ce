"""A real run's API phase: reconcile with the account, create, poll, associate, carry over.

Flowroute is the source of truth and calls are the scarce resource (a few per second), so a run
lists the account's records and numbers once, reuses whatever already exists, creates each unique
value once, and makes only the association calls still needed. The journal remembers the rest:
what earlier runs finished is reported again without a call, and what they left waiting or failed
is advanced in the same pass and returned as carried over.

Order within a row: record (created, or found) -> approved -> associated. Creates and associations
fan out over `concurrency` worker threads; the client and its rate limiter are thread-safe, and
the journal serializes its writes. Every create and associate call is preceded by a committed
intent and followed by its result (see journal.py), so a run killed at any instant loses nothing.

This module holds the pass itself. What a row can end in (Outcome) and the ledger of decisions
are in lifecycle_outcomes.py; the bounded fan-out of calls over the workers in lifecycle_fanout.py.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pipeline.api.types import (
    AmbiguousWriteError,
    ApiError,
    ApiStats,
    CnamRecord,
    NotFoundError,
    RecordState,
    preferred,
    value_key,
)
from pipeline.errors import CnamBatchError
from pipeline.journal.store import Journal
from pipeline.journal.types import GAVE_UP, JournalAssociation, RowState, WorkItem
from pipeline.lifecycle.fanout import Fail, fan_out
from pipeline.lifecycle.outcomes import Ledger, LifecycleResult, Row, gave_up_reason
from pipeline.lifecycle.polling import fetch_pending, poll_waits
from pipeline.lifecycle.presets import read_presets
from pipeline.model import Reason, Status

Progress = Callable[[int, int, str], None]
T = TypeVar("T")


def run_lifecycle(
    client: Any,
    journal: Journal,
    run_id: str,
    items: Sequence[WorkItem],
    *,
    wait_approval: float = 0,
    concurrency: int = 4,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress | None = None,
    give_up_after: int = 0,
    retry_failed: bool = False,
    time_left: Callable[[], float | None] = lambda: None,
) -> LifecycleResult:
    """Advance `items` (each number at most once) and the journal's open rows of earlier runs.

    What stops the run early (CredentialsError, ApiUnreachableError: exit 3; RuntimeLimitError)
    is returned as `fatal` once the journal holds every decision made; the rows it left undone
    get an outcome saying so (not journaled: they stay open for the next run). Every other API
    error becomes the affected rows' `failed` status. A row that ends failed in `give_up_after`
    runs in a row (0: never) is given up: reported failed, no longer sent, unless
    `retry_failed`. `time_left()` (seconds, None: no limit) bounds the wait for approval.
    """
    stats = getattr(client, "stats", None)
    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="cnam-api") as pool:
        run = _Run(client, journal, run_id, pool, max(1, concurrency), clock, sleep, progress)
        run.give_up_after, run.retry_failed = give_up_after, retry_failed
        run.time_left = time_left
        run.execute(items, wait_approval)
    return LifecycleResult(
        outcomes={it.key: run.ledger.outcomes[it.key] for it in items},
        carried_over=[(r.item, run.ledger.outcomes[r.item.key]) for r in run.carried],
        stats=stats if isinstance(stats, ApiStats) else ApiStats(),
        fatal=run.fatal,
    )


@dataclass
class _Run:
    client: Any
    journal: Journal
    run_id: str
    pool: ThreadPoolExecutor
    concurrency: int
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    progress: Progress | None
    ledger: Ledger = field(default_factory=Ledger)  # each row's outcome, by key
    carried: list[Row] = field(default_factory=list)
    records: dict[str, CnamRecord] = field(default_factory=dict)  # by value_key
    presets: dict[str, str] = field(default_factory=dict)  # number -> cnam id from a lookup
    looked_up: set[str] = field(default_factory=set)  # numbers whose detail (preset) was read
    found: set[str] = field(default_factory=set)  # values reused from the account, not journaled
    account_size: int = 0  # records on the account: decides how to poll
    give_up_after: int = 0  # runs in a row a row may fail before it is given up (0: never)
    retry_failed: bool = False  # take rows given up on again
    intents: dict[str, JournalAssociation] = field(default_factory=dict)  # earlier runs' PATCHes
    time_left: Callable[[], float | None] = lambda: None
    fatal: CnamBatchError | None = None
    _total: int = 0

    # ------------------------------------------------------------------ the whole pass
    def execute(self, items: Sequence[WorkItem], wait_approval: float) -> None:
        seq = self.journal.start_run(self.run_id)
        self.journal.upsert_rows(items, self.run_id, seq)
        prior = self.journal.decided_rows(seq)
        self.carried = [
            Row(jr.item, jr.value, True, jr.state)
            for jr in self.journal.open_rows(seq, retry_gave_up=self.retry_failed)
        ]
        active: list[Row] = []
        values: dict[str, str] = {}  # names repeat: normalize each once
        for it in items:
            state = prior.get(it.key)
            if state is not None and state.state in (Status.ASSOCIATED, Status.ALREADY_SET):
                self.ledger.decide(it.key, Status(state.state), None, state.reason, state.cnam_id)
            elif state is not None and state.state == GAVE_UP and not self.retry_failed:
                self.ledger.give_up(it.key, state.reason)  # as stored: nothing is sent
            else:
                value = values.get(it.name) or values.setdefault(it.name, value_key(it.name))
                active.append(Row(it, value, False, state))
        self._total = len(items) + len(self.carried)
        every = active + self.carried
        try:
            active += self._without_superseded(self.carried)
            self._settle_from_journal(active)
            active = [r for r in active if r.item.key not in self.ledger.outcomes]
            if active:
                self._advance(active, wait_approval)
        except CnamBatchError as exc:  # credentials refused, outage, --max-runtime
            self.fatal = exc
            self.ledger.still_waiting(every, self.records, self._now())
        finally:  # also on a fatal error: the journal keeps every decision made so far
            self._save(items, prior)
        if self.fatal is not None:  # the rest: failed with the cause, not journaled (stay open)
            self.ledger.unfinished(every, self.fatal)

    def _decide_pending(self, row: Row, rec: CnamRecord) -> None:
        self.ledger.pending(row, rec, self._now())

    def _advance(self, active: list[Row], wait_approval: float) -> None:
        try:
            self._load_account_records({r.value for r in active})
        except ApiError as err:
            self.ledger.fail(active, f"listing the account's CNAM records failed: {err}")
            return
        active = self._check_ownership(active)
        approved, waiting, to_create = self._sort_by_record(active)
        if to_create:
            self._create(to_create, approved, waiting)
        self._associate(approved)
        self._poll(waiting, wait_approval)
        for value, rows in waiting.items():
            rec = self.records[value]
            for row in rows:
                self._decide_pending(row, rec)

    # ------------------------------------------------------------------ rows settled by the journal
    def _without_superseded(self, carried: list[Row]) -> list[Row]:
        """Drop carried rows whose number a later run asked for under another name."""
        if not carried:
            return []
        later = self.journal.superseded_rows()
        kept = []
        for row in carried:
            newer = later.get(row.item.key)
            if newer is None:
                kept.append(row)
                continue
            reason = (f"superseded: {newer.item.source_file} row {newer.item.source_row} "
                      f"(a later run) asks for \"{newer.item.name}\" for this number")  # fmt: skip
            self.ledger.decide(row.item.key, Status.REJECTED, Reason.NUMBER_CONFLICT, reason, "")
        return kept

    def _settle_from_journal(self, active: list[Row]) -> None:
        """A number the journal knows carries the wanted approved record: already_set, no call."""
        known = self.journal.associations(r.item.number for r in active)
        if not known:
            return
        # PATCHes an earlier run sent without learning the result (killed in flight): the account
        # is asked before sending them again (_settle_presets).
        self.intents = {n: a for n, a in known.items() if a.state == "intent"}
        records = self.journal.records(r.value for r in active if r.item.number in known)
        for row in active:
            assoc, rec = known.get(row.item.number), records.get(row.value)
            if (assoc and rec and rec.state is RecordState.APPROVED and assoc.state != "intent"
                    and assoc.cnam_id == rec.cnam_id):  # fmt: skip
                self.ledger.settled(row, rec.cnam_id, row.item.key == assoc.row_key)

    # ------------------------------------------------------------------ reconcile with the account
    def _load_account_records(self, needed: set[str]) -> None:
        """List the account once; reuse matching records; resolve create intents left behind."""
        account: dict[str, CnamRecord] = {}
        for rec in self.client.iter_cnams():
            self.account_size += 1
            key = value_key(rec.value)
            account[key] = preferred(account.get(key), rec)
        self._report("reconcile")
        intents = set(self.journal.creating_records())
        journaled = self.journal.records(needed)
        keep_rejected = {  # a rejected record gone from the listing is still a rejected name
            v: CnamRecord(r.cnam_id or "", v, False, r.rejection_reason or "rejected")
            for v, r in journaled.items()
            if r.state is RecordState.REJECTED and v not in account
        }
        gone = [v for v in (intents | set(journaled)) - set(account) if v not in keep_rejected]
        self.journal.forget_records(gone)  # an intent absent from the account never happened
        self.journal.save_records(account[v] for v in (intents | needed) & set(account))
        self.records = {v: account[v] for v in needed if v in account} | keep_rejected
        # Made outside this journal (by hand, by another tool, or by runs whose journal was lost):
        # numbers may already carry these, which only a number's detail shows (see _associate).
        self.found = (needed & set(account)) - set(journaled) - intents

    def _check_ownership(self, active: list[Row]) -> list[Row]:
        """Numbers in the listing (or cached as owned) are owned. When the listing was read whole,
        a number absent from it is not on the account, with no further call (a port still
        pending shows up in a later run's listing). Only when it was not (pagination broke off)
        is each number missing from it looked up once."""
        numbers = {r.item.number for r in active}
        owned = self.journal.owned_numbers(numbers)
        unknown = numbers - owned
        if unknown:
            try:
                listing, whole = self.client.list_number_ids()
            except ApiError as err:
                message = f"listing the account's numbers failed: {err}"
                self.ledger.fail([r for r in active if r.item.number in unknown], message)
                return [r for r in active if r.item.number in owned]
            listed = listing & unknown
            self.journal.mark_owned(listed)
            owned |= listed
            unknown -= listed
            if whole:
                self.journal.mark_owned(unknown, owned=False)
                unknown = set()
        results: dict[str, Any] = {}
        self._fan_out(self.client.get_number, sorted(unknown), results.__setitem__, "reconcile")
        found = {
            n for n, info in results.items() if info is not None and not isinstance(info, Fail)
        }
        self.journal.mark_owned(found)
        owned |= found
        self.presets = {n: info.cnam_preset_id for n, info in results.items()
                        if n in found and info.cnam_preset_id}  # fmt: skip
        self.looked_up |= found
        kept = []
        for row in active:
            info = results.get(row.item.number)
            if isinstance(info, Fail):
                self.ledger.fail([row], f"looking up number {row.item.number} failed: {info.error}")
            elif row.item.number in owned:
                kept.append(row)
            else:
                self.ledger.not_on_account(row)
        return kept

    def _sort_by_record(
        self, rows: Iterable[Row]
    ) -> tuple[dict[str, list[Row]], dict[str, list[Row]], dict[str, list[Row]]]:
        """Group rows by what their record needs: (approved, waiting, to create), by value."""
        approved: dict[str, list[Row]] = defaultdict(list)
        waiting: dict[str, list[Row]] = defaultdict(list)
        to_create: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            self._route(row, approved, waiting, to_create)
        return approved, waiting, to_create

    def _route(self, row: Row, approved: dict, waiting: dict, to_create: dict | None) -> None:
        rec = self.records.get(row.value)
        if rec is None:
            if to_create is not None:
                to_create[row.value].append(row)
        elif rec.state is RecordState.APPROVED:
            if self.presets.get(row.item.number) == rec.id:
                self.journal.association_seen(row.item.number, rec.id, rec.value)
                self.ledger.settled(row, rec.id, by_this_row=False)
            else:
                approved[row.value].append(row)
        elif rec.state is RecordState.REJECTED:
            reason = f'Flowroute\'s review rejected "{rec.value}": {rec.rejection_reason}'
            self.ledger.decide(
                row.item.key, Status.REJECTED, Reason.FLOWROUTE_REJECTED, reason, rec.id
            )
        else:
            waiting[row.value].append(row)

    # ------------------------------------------------------------------ create
    def _create(self, to_create: dict[str, list[Row]], approved: dict, waiting: dict) -> None:
        """Create each missing value once; intent committed before the call, result after."""

        def create(value: str) -> CnamRecord | Fail:
            self.journal.create_intent(value)
            try:
                rec = self.client.create_cnam(to_create[value][0].item.name)
            except AmbiguousWriteError as err:
                return Fail(err)  # the intent stays: the next run's listing resolves it
            except ApiError as err:
                self.journal.forget_records([value])  # refused: nothing was created
                return Fail(err)
            self.journal.save_records([rec])
            return rec

        def done(value: str, rec: CnamRecord | Fail) -> None:
            rows = to_create[value]
            if isinstance(rec, Fail):
                if isinstance(rec.error, AmbiguousWriteError):
                    msg = (f'creating "{value}" had an unknown outcome ({rec.error}); '
                           "the next run checks the account and retries")  # fmt: skip
                else:
                    msg = f'creating "{value}" failed: {rec.error}'
                self.ledger.fail(rows, msg)
                return
            self.account_size += 1
            self.records[value] = rec
            for row in rows:
                self._route(row, approved, waiting, None)

        self._fan_out(create, list(to_create), done, "create")

    # ------------------------------------------------------------------ associate
    def _associate(self, approved: dict[str, list[Row]]) -> None:
        """One PATCH per number; other rows for the same number and record are already_set."""
        self._settle_presets(approved)
        by_number: dict[str, list[Row]] = defaultdict(list)
        for rows in approved.values():
            for row in rows:
                by_number[row.item.number].append(row)
        for rows in by_number.values():
            rows.sort(key=lambda r: r.carried)  # this run's row first: it is the one that acts

        def associate(number: str) -> None | Fail:
            row = by_number[number][0]
            rec = self.records[row.value]
            self.journal.association_intent(number, rec.id, rec.value, row.item.key, self.run_id)
            try:
                self.client.associate(number, rec.id)
            except NotFoundError as err:  # the number or the record is gone: ask which
                return Fail(err, number_gone=self.client.get_number(number) is None)
            except ApiError as err:
                return Fail(err)  # the intent stays: sending it again is harmless
            self.journal.association_done(number, rec.id, rec.value, row.item.key, self.run_id)
            return None

        def done(number: str, result: None | Fail) -> None:
            first, *others = by_number[number]
            rec = self.records[first.value]
            if result is None:
                self.ledger.decide(first.item.key, Status.ASSOCIATED, None, "", rec.id)
                for row in others:
                    self.ledger.settled(row, rec.id, by_this_row=False)
            elif result.number_gone:
                self.journal.forget_association(number)
                self.journal.mark_owned([number], owned=False)
                for row in by_number[number]:
                    self.ledger.not_on_account(row)
            elif isinstance(result.error, NotFoundError):
                self.journal.forget_records([first.value])
                message = (f'record {rec.id} ("{rec.value}") is no longer on the account '
                           f"({result.error}); the next run creates it again")  # fmt: skip
                self.ledger.fail(by_number[number], message)
            else:
                self.ledger.fail(
                    by_number[number], f'associating "{rec.value}" failed: {result.error}'
                )

        self._fan_out(associate, list(by_number), done, "associate")

    def _settle_presets(self, approved: dict[str, list[Row]]) -> None:
        """Rows whose number already carries their record: no PATCH.

        The numbers listing shows no presets. A record this journal created is only on numbers
        the journal associated, so nothing needs asking, except where an earlier run's PATCH was
        in flight at a crash (an intent without a result): the number may carry the record or
        not. A record found on the account may have been set on the portal. For both, one
        GET /v2/cnams/{id} lists the numbers that carry the record (one call per record); if
        that fails, each number's detail is read instead. A failed lookup is not an error: the
        PATCH is sent, and sending it again is harmless.
        """
        checks: dict[str, set[str]] = {}  # value -> numbers to check against its record
        for value, rows in approved.items():
            rec_id = self.records[value].id
            for row in rows:
                number = row.item.number
                intent = self.intents.get(number)
                if number in self.looked_up:
                    continue
                if value in self.found or (intent is not None and intent.cnam_id == rec_id):
                    checks.setdefault(value, set()).add(number)
        if checks:
            self._read_presets(checks)
        for value in list(approved):
            rec = self.records[value]
            keep = []
            for row in approved[value]:
                number = row.item.number
                if self.presets.get(number) != rec.id:
                    keep.append(row)
                    continue
                intent = self.intents.pop(number, None)
                if intent is not None and intent.cnam_id == rec.id and intent.row_key:
                    # The earlier run's PATCH went through: its result is recorded now.
                    self.journal.association_done(
                        number, rec.id, rec.value, intent.row_key, intent.run_id or self.run_id
                    )
                    self.ledger.settled(row, rec.id, by_this_row=row.item.key == intent.row_key)
                else:
                    self.journal.association_seen(number, rec.id, rec.value)
                    self.ledger.settled(row, rec.id, by_this_row=False)
            approved[value] = keep

    def _read_presets(self, checks: dict[str, set[str]]) -> None:
        by_id = {self.records[v].id: numbers for v, numbers in checks.items()}
        presets, looked_up = read_presets(self.client, self._fan_out, by_id, self.looked_up)
        self.presets.update(presets)
        self.looked_up |= looked_up

    # ------------------------------------------------------------------ poll
    def _poll(self, waiting: dict[str, list[Row]], wait_approval: float) -> None:
        """Poll pending records until decided or `wait_approval` seconds pass (see polling.py);
        records approved in a poll are associated at once while the others still wait. The wait
        also ends with --max-runtime (`time_left`)."""
        left = self.time_left()
        for pause in poll_waits(wait_approval if left is None else min(wait_approval, left),
                                self.clock):  # fmt: skip
            if not waiting:
                return
            self.sleep(pause)
            ids = {v: self.records[v].id for v in waiting}
            fresh = fetch_pending(self.client, self._fan_out, ids, self.account_size)
            decided = [r for r in fresh if r.state is not RecordState.PENDING]
            self.journal.save_records(decided)
            approved: dict[str, list[Row]] = defaultdict(list)
            for rec in decided:
                value = value_key(rec.value)
                self.records[value] = rec
                for row in waiting.pop(value, []):
                    self._route(row, approved, waiting, None)
            self._associate(approved)

    # ------------------------------------------------------------------ helpers
    def _fan_out(
        self, fn: Callable[[T], Any], tasks: Sequence[T], done: Callable[[T, Any], None], phase: str
    ) -> None:
        """`fan_out` on the run's pool; progress is reported after each result is handled."""

        def handled(task: T, result: Any) -> None:
            done(task, result)
            self._report(phase)

        fan_out(self.pool, self.concurrency, fn, tasks, handled)

    def _report(self, phase: str) -> None:
        """progress(rows decided, rows in this pass, phase)."""
        if self.progress is not None:
            self.progress(len(self.ledger.outcomes), self._total, phase)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _save(self, items: Sequence[WorkItem], prior: dict[str, RowState]) -> None:
        """Write every decided row whose state changed, in one bulk transaction."""
        keys = [it.key for it in items] + [r.item.key for r in self.carried]
        before = prior | {r.item.key: r.prior for r in self.carried if r.prior is not None}
        failed_runs = self._count_failures(keys, before)
        changes = self.ledger.changes(keys, prior, self.run_id, failed_runs)
        self.journal.save_outcomes(changes, self.run_id)

    def _count_failures(self, keys: list[str], prior: dict[str, RowState]) -> dict[str, int]:
        """Each failed row's runs in a row that ended failed, this one included; a row that
        reaches `give_up_after` is given up. Rows taken again by --retry-failed count from 0."""
        counts: dict[str, int] = {}
        for key in keys:
            outcome = self.ledger.outcomes.get(key)
            if outcome is None or outcome.status is not Status.FAILED:
                continue
            before = prior.get(key)
            if outcome.gave_up:  # given up in an earlier run and not sent: the count stays
                counts[key] = before.failed_runs if before is not None else 0
                continue
            runs = 1
            if before is not None and before.state == Status.FAILED:
                runs += max(before.failed_runs, 1)  # 0: failed before the journal counted runs
            counts[key] = runs
            if self.give_up_after and runs >= self.give_up_after:
                self.ledger.give_up(key, gave_up_reason(runs, outcome.reason))
        return counts
