"""The run's summary: built from the run's frames by one function, written with summary.json's keys."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from pipeline.api.types import ApiCounts, RateSummary
from pipeline.config import Settings
from pipeline.errors import ExitCode
from pipeline.input.frame import TAKEN_BEFORE, InputIssue, LoadedFile
from pipeline.model import REPORT_COLUMNS
from pipeline.summary import RunSummary, build_summary, count_by_status

STARTED = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
FINISHED = datetime(2026, 3, 4, 5, 6, 9, tzinfo=UTC)
# summary.json's keys, in order: scripts and the golden test read them.
KEYS = [
    "run_id", "started_at", "finished_at", "dry_run", "sandbox", "inputs", "rows_total",
    "blank_rows_skipped", "by_status", "by_reason", "suggested_fixes", "suggestions_applied",
    "api", "inputs_skipped", "inputs_skipped_reasons", "inputs_not_moved",
    "carried_over",
    "carried_over_by_status", "stale_pending", "stale_after", "given_up", "needs_attention",
    "timings_s",
    "exit_code",
]  # fmt: skip


def frame(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """Report rows from (status, reason_code, warnings)."""
    records = [
        dict.fromkeys(REPORT_COLUMNS, "")
        | {"source_row": i + 2, "status": status, "reason_code": code, "warnings": warnings}
        for i, (status, code, warnings) in enumerate(rows)
    ]
    return pd.DataFrame(records, columns=list(REPORT_COLUMNS))


def loaded(name: str, blank_rows: int) -> LoadedFile:
    return LoadedFile(
        path=Path(name),
        source_file=name,
        sheet=None,
        frame=pd.DataFrame(),
        blank_rows=blank_rows,
        notes=[],
        content_hash="0" * 64,
    )


def build(
    rows: pd.DataFrame,
    carried: pd.DataFrame | None = None,
    stopped_by: ExitCode | None = None,
    timings: dict[str, float] | None = None,
    **settings: object,
) -> RunSummary:
    return build_summary(
        settings=Settings(**settings),  # type: ignore[arg-type]
        run_id="20260304T050607Z",
        started_at=STARTED,
        finished_at=FINISHED,
        loaded=[loaded("in/a.csv", 2), loaded("in/b.xlsx", 1)],
        inputs_skipped=[InputIssue("in/old.csv", TAKEN_BEFORE)],
        rows=rows,
        carried=carried,
        api=ApiCounts(requests=9, creates=2, associations=3, retries=1, rate_limited=0),
        timings={"load": 0.25} if timings is None else timings,
        stopped_by=stopped_by,
    )


def test_summary_counts_the_rows_the_way_summary_json_says() -> None:
    rows = frame(
        ("rejected", "name_too_long", ""),
        ("associated", "", ""),
        ("pending_approval", "", "pending_stale"),
        ("rejected", "name_profanity", ""),
        ("rejected", "name_too_long", "name_generic;pending_stale"),
    )
    carried = frame(("associated", "", ""), ("pending_approval", "", "pending_stale"))
    summary = build(rows, carried, sandbox=True, stale_after=5.0)
    assert summary.inputs == ("in/a.csv", "in/b.xlsx")
    assert summary.blank_rows_skipped == 3
    assert summary.rows_total == 5
    assert list(summary.by_status.items()) == [
        ("associated", 1),
        ("pending_approval", 1),
        ("rejected", 3),
    ]  # STATUS_ORDER, not frequency
    assert summary.by_reason == {"name_too_long": 2, "name_profanity": 1}
    assert summary.carried_over == 2
    assert summary.carried_over_by_status == {"associated": 1, "pending_approval": 1}
    assert summary.stale_pending == 3  # this run's two and the carried-over one
    # rejected rows (3) and pending rows waiting too long (this run's one, the carried-over one)
    assert summary.needs_attention == 5
    assert (summary.sandbox, summary.dry_run, summary.stale_after) == (True, False, 5.0)
    assert summary.inputs_skipped == ("in/old.csv",)
    assert summary.exit_code is ExitCode.OK


@pytest.mark.parametrize(
    ("rows", "carried", "stopped_by", "expected"),
    [
        ([("associated", "", "")], None, None, ExitCode.OK),
        ([("rejected", "name_too_long", "")], [], None, ExitCode.OK),
        ([("failed", "api_error", "")], None, None, ExitCode.ROWS_FAILED),
        ([("associated", "", "")], [("failed", "api_error", "")], None, ExitCode.ROWS_FAILED),
        ([("failed", "api_error", "")], None, ExitCode.API_FATAL, ExitCode.API_FATAL),
        ([("associated", "", "")], None, ExitCode.API_FATAL, ExitCode.API_FATAL),
    ],
)
def test_summary_exit_code_says_what_stopped_the_run_or_that_rows_failed(
    rows: list[tuple[str, str, str]],
    carried: list[tuple[str, str, str]] | None,
    stopped_by: ExitCode | None,
    expected: ExitCode,
) -> None:
    summary = build(frame(*rows), None if carried is None else frame(*carried), stopped_by)
    assert summary.exit_code is expected


def test_summary_json_has_its_keys_in_order_and_json_values() -> None:
    summary = build(frame(("planned", "", "")), dry_run=True)
    content = summary.as_json()
    assert list(content) == KEYS
    assert json.loads(json.dumps(content)) == content  # plain JSON values only
    assert content["started_at"] == "2026-03-04T05:06:07+00:00"
    assert content["finished_at"] == "2026-03-04T05:06:09+00:00"
    assert content["inputs"] == ["in/a.csv", "in/b.xlsx"]
    assert content["api"] == {
        "requests": 9,
        "creates": 2,
        "associations": 3,
        "retries": 1,
        "rate_limited": 0,
        "rate_limit": None,
    }
    assert content["exit_code"] == 0 and type(content["exit_code"]) is int
    assert content["timings_s"] == {"load": 0.25}


def test_the_learned_rate_limit_is_an_object_in_summary_json() -> None:
    rate = RateSummary(
        setting="auto", ceiling=50.0, start=5.0, learned=9.8, learned_from_429=True, slowdowns=2
    )
    summary = dataclasses.replace(
        build(frame(("associated", "", ""))), api=ApiCounts(rate_limit=rate)
    )
    assert summary.as_json()["api"]["rate_limit"] == {
        "setting": "auto",
        "ceiling": 50.0,
        "start": 5.0,
        "learned": 9.8,
        "learned_from_429": True,
        "slowdowns": 2,
    }
    assert str(rate) == "learned 9.8/s from 429s; --rate-limit auto, started at 5/s, 2 slowdown(s)"


def test_summary_is_frozen_and_keeps_its_own_timings() -> None:
    timings = {"load": 0.25}
    summary = build(frame(("planned", "", "")), timings=timings)
    timings["report"] = 1.0  # the runner's dict goes on; the summary does not move with it
    assert summary.timings_s == {"load": 0.25}
    with pytest.raises(AttributeError):
        summary.rows_total = 7  # type: ignore[misc]


def test_count_by_status_leaves_out_open_rows_and_empty_statuses() -> None:
    assert count_by_status(frame(("", "", ""), ("duplicate", "", ""), ("planned", "", ""))) == {
        "planned": 1,
        "duplicate": 1,
    }
    assert count_by_status(frame()) == {}
