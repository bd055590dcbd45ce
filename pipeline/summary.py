"""The run's summary: one frozen record, built by `build_summary`, written as summary.json.

The report (summary.json, the workbook's Summary sheet) and the email read its attributes. Its
fields are summary.json's keys, in order; `as_json` gives that dict. To add a key: add a field here
(where it belongs in summary.json), fill it in `build_summary`, and say what it means in README.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import pandas as pd

from pipeline.api.types import ApiCounts
from pipeline.config import Settings
from pipeline.errors import ExitCode, run_exit_code
from pipeline.input.frame import InputIssue, LoadedFile
from pipeline.journal.types import GAVE_UP_PREFIX
from pipeline.model import STATUS_ORDER, Status, Warn
from pipeline.rules.rows import fixable

# The workbook sheet of the rows needs_attention() picks; the email names it.
NEEDS_ATTENTION_SHEET = "Needs attention"
# Statuses that always need a person (pending_approval does once it waits too long).
ATTENTION_STATUSES = (Status.REJECTED.value, Status.FAILED.value)


@dataclass(frozen=True)
class RunSummary:
    """What one run did, in counts (SPEC "Report": summary.json)."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    dry_run: bool
    sandbox: bool
    inputs: tuple[str, ...]  # source_file of each input taken, in order
    rows_total: int
    blank_rows_skipped: int
    by_status: Mapping[str, int]  # in STATUS_ORDER, non-zero only
    by_reason: Mapping[str, int]  # most frequent first
    suggested_fixes: int  # rows listed in suggested_fixes.csv (rejected, with a suggestion)
    suggestions_applied: int  # rows run with their suggestion (--accept-suggestions)
    api: ApiCounts
    # INPUT-folder files not read (SPEC: named), and why for each: an earlier run took it (same
    # content), an unsupported type, a link leading out of the folder, ...
    inputs_skipped: tuple[str, ...]
    inputs_skipped_reasons: Mapping[str, str]  # file -> why, in the order of inputs_skipped
    inputs_not_moved: tuple[InputIssue, ...]  # read, but left in place by --move-processed
    carried_over: int  # rows of earlier runs this run advanced
    carried_over_by_status: Mapping[str, int]
    stale_pending: int  # rows pending approval longer than stale_after days
    stale_after: float
    given_up: int  # failed rows given up on (--give-up-after): reported, no longer sent
    needs_attention: int  # rows on the workbook's "Needs attention" sheet (see needs_attention())
    timings_s: Mapping[str, float]  # stage -> seconds
    exit_code: ExitCode

    def as_json(self) -> dict[str, Any]:
        """summary.json's content: the fields in order, as JSON values."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def build_summary(
    *,
    settings: Settings,
    run_id: str,
    started_at: datetime,
    finished_at: datetime,
    loaded: Sequence[LoadedFile],
    inputs_skipped: Sequence[InputIssue],
    rows: pd.DataFrame,
    carried: pd.DataFrame | None,
    api: ApiCounts,
    timings: Mapping[str, float],
    stopped_by: ExitCode | None,
    inputs_not_moved: Sequence[InputIssue] = (),
) -> RunSummary:
    """The one place a RunSummary is made. `stopped_by`: the code of the error that ended the API
    work early (credentials refused, API unreachable), if one did."""
    by_status = count_by_status(rows)
    carried_by_status = {} if carried is None else count_by_status(carried)
    failed = Status.FAILED.value
    return RunSummary(
        run_id=run_id,
        started_at=started_at,
        finished_at=finished_at,
        dry_run=settings.dry_run,
        sandbox=settings.sandbox,
        inputs=tuple(lf.source_file for lf in loaded),
        rows_total=len(rows),
        blank_rows_skipped=sum(lf.blank_rows for lf in loaded),
        by_status=by_status,
        by_reason=_count(rows["reason_code"]),
        suggested_fixes=int(fixable(rows).sum()),
        suggestions_applied=_count_warning(rows, None, Warn.SUGGESTION_APPLIED),
        api=api,
        inputs_skipped=tuple(i.file for i in inputs_skipped),
        inputs_skipped_reasons={i.file: i.reason for i in inputs_skipped},
        inputs_not_moved=tuple(inputs_not_moved),
        carried_over=0 if carried is None else len(carried),
        carried_over_by_status=carried_by_status,
        stale_pending=_count_stale(rows, carried),
        stale_after=settings.stale_after,
        given_up=_count_given_up(rows, carried),
        needs_attention=sum(
            int(needs_attention(f).sum()) for f in (rows, carried) if f is not None and len(f)
        ),
        timings_s=dict(timings),
        exit_code=run_exit_code(
            stopped_by=stopped_by,
            rows_failed=bool(by_status.get(failed) or carried_by_status.get(failed)),
        ),
    )


def count_by_status(frame: pd.DataFrame) -> dict[str, int]:
    """Rows per status, in STATUS_ORDER, statuses with no row left out."""
    counts = _count(frame["status"])
    return {s.value: counts[s.value] for s in STATUS_ORDER if s.value in counts}


def needs_attention(frame: pd.DataFrame) -> pd.Series:
    """Which rows a person must act on: `rejected` and `failed` rows, and `pending_approval` rows
    waiting longer than --stale-after (warning pending_stale). One definition for the count in
    the summary and the email and for the workbook's "Needs attention" sheet."""
    status = frame["status"]
    mask = status.isin(ATTENTION_STATUSES)
    pending = status == Status.PENDING_APPROVAL.value
    if pending.any():
        stale = frame["warnings"][pending].str.contains(Warn.PENDING_STALE.value, regex=False)
        mask[pending] = stale.to_numpy(dtype=bool)
    return mask


def _count(series: pd.Series) -> dict[str, int]:
    counts = series[series != ""].value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def _count_stale(rows: pd.DataFrame, carried: pd.DataFrame | None) -> int:
    return _count_warning(rows, carried, Warn.PENDING_STALE)


def _count_given_up(rows: pd.DataFrame, carried: pd.DataFrame | None) -> int:
    total = 0
    for frame in (rows, carried):
        if frame is not None and len(frame):
            # Only failed rows' reasons are read: a million-row frame has few of them.
            failed = frame["reason"][frame["status"] == Status.FAILED.value]
            total += int(failed.str.startswith(GAVE_UP_PREFIX).sum())
    return total


def _count_warning(rows: pd.DataFrame, carried: pd.DataFrame | None, warning: Warn) -> int:
    total = 0
    for frame in (rows, carried):
        if frame is not None and len(frame):
            warnings = frame["warnings"]
            warnings = warnings[warnings != ""]  # most rows have none: compare, then search
            total += int(warnings.str.contains(warning.value, regex=False).sum())
    return total


def _plain(value: Any) -> Any:
    """A field's value as JSON has it: times in ISO 8601, codes as numbers, records as objects."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, ExitCode):
        return int(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
