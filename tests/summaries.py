"""A RunSummary for tests of the report and the email: every field set, any of them overridden."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pipeline.api.types import ApiCounts
from pipeline.errors import ExitCode
from pipeline.summary import RunSummary

BASE = RunSummary(
    run_id="20250102T030405Z",
    started_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    finished_at=datetime(2025, 1, 2, 3, 4, 9, tzinfo=UTC),
    dry_run=True,
    sandbox=False,
    inputs=("input/acme.xlsx", "input/more.csv"),
    rows_total=3,
    blank_rows_skipped=0,
    by_status={"planned": 2, "rejected": 1},
    by_reason={"name_too_long": 1},
    suggested_fixes=1,
    suggestions_applied=0,
    api=ApiCounts(),
    inputs_skipped=(),
    inputs_skipped_reasons={},
    inputs_not_moved=(),
    carried_over=0,
    carried_over_by_status={},
    stale_pending=0,
    stale_after=3.0,
    given_up=0,
    needs_attention=1,
    timings_s={},
    exit_code=ExitCode.OK,
)


def make_summary(**overrides: Any) -> RunSummary:
    return replace(BASE, **overrides)
