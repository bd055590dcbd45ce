"""The workbook's first sheet, in words: a headline, what to do next, counts, and the run's facts.

Pure: a RunSummary and the Needs attention groups in, text and numbers out (`SummarySheet`);
pipeline.report.workbook lays it out. summary.json keeps the machine-readable keys; this sheet
says the same for a person, with labels instead of keys and times a person reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pipeline.model import STATUS_ORDER, Status
from pipeline.report.guidance import STATUSES, reason_help
from pipeline.summary import NEEDS_ATTENTION_SHEET, RunSummary

ROWS_SHEET = "Rows"
CARRIED_SHEET = "Carried over"
COLUMNS = ("What to do next", "Rows", "What it means", "What to do")
# Fields the sheet shows in its own words; any other field is listed under "More" by its name.
_SHOWN = frozenset(
    {
        "run_id",
        "started_at",
        "finished_at",
        "dry_run",
        "sandbox",
        "inputs",
        "rows_total",
        "blank_rows_skipped",
        "by_status",
        "by_reason",
        "api",
        "inputs_skipped",
        "inputs_skipped_reasons",
        "inputs_not_moved",
        "carried_over",
        "carried_over_by_status",
        "stale_pending",
        "stale_after",
        "needs_attention",
        "given_up",
        "suggested_fixes",
        "suggestions_applied",
        "timings_s",
        "exit_code",
    }
)
FIXES_FILE = "suggested_fixes.csv"  # pipeline.report.fixes writes it (a test keeps them equal)
_API_WORDS = {"rate_limited": "rate-limited (429)"}
_EXIT_WORDS = {  # codes a run can end with before its email (README "Exit codes")
    0: "finished; every row has a status",
    1: "finished; some rows failed and the next run retries them",
    3: "stopped early by the API (credentials refused or unreachable)",
}


@dataclass(frozen=True)
class SummarySheet:
    """The Summary's content: lines above the table, then the table's rows under COLUMNS.

    `headings` are indexes into `rows` of section headings (shown bold); `statuses` are indexes
    of rows whose first cell is a status (coloured like the rows).
    """

    headline: str
    lines: tuple[str, ...]
    rows: list[tuple[Any, Any, Any, Any]] = field(default_factory=list)
    headings: list[int] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


def summary_sheet(summary: RunSummary, groups: Sequence[tuple[str, int]]) -> SummarySheet:
    """The Summary for this run. `groups`: the Needs attention groups, (code, rows), in order."""
    attention = sum(n for _, n in groups)
    out = SummarySheet(headline=headline(summary, attention), lines=_lines(summary, attention))
    _what_to_do(out, summary, groups)
    _counts(out, "Rows by status", summary.by_status, summary.rows_total)
    if summary.carried_over or summary.carried_over_by_status:
        _counts(
            out,
            "Carried over from earlier runs",
            summary.carried_over_by_status,
            summary.carried_over,
        )
    _facts(out, summary)
    return out


def headline(summary: RunSummary, attention: int) -> str:
    """`Run 20261202T061037Z: 6 of 23 rows associated, 16 need attention` (a dry run: planned)."""
    n = summary.by_status.get
    if summary.dry_run:
        done = f"Dry run {summary.run_id}: {n(Status.PLANNED, 0):,} of {summary.rows_total:,} rows planned"
    elif summary.rows_total == 0 and summary.carried_over:  # a night with no new file
        carried = summary.carried_over_by_status.get
        done = (
            f"Run {summary.run_id}: no new rows; {carried(Status.ASSOCIATED, 0):,} of "
            f"{summary.carried_over:,} carried-over rows associated"
        )
    else:
        done = f"Run {summary.run_id}: {n(Status.ASSOCIATED, 0):,} of {summary.rows_total:,} rows associated"
        if n(Status.ALREADY_SET):
            done += f", {n(Status.ALREADY_SET, 0):,} already set"
    if attention == 0:
        return f"{done}, nothing needs attention"
    return f"{done}, {attention:,} {'needs' if attention == 1 else 'need'} attention"


def _lines(summary: RunSummary, attention: int) -> tuple[str, ...]:
    out = []
    if attention:
        out.append(
            f'The "{NEEDS_ATTENTION_SHEET}" sheet lists {_rows(attention, "those")}, '
            f'grouped by reason; "{ROWS_SHEET}" has every row.'
        )
    else:
        out.append(f'No row needs a person; "{ROWS_SHEET}" has every row.')
    if summary.dry_run:
        out.append("Dry run: nothing was sent to Flowroute; planned rows show what a run would do.")
    n = summary.by_status.get
    if pending := n(Status.PENDING_APPROVAL, 0):
        out.append(
            f"{_rows(pending)} {'waits' if pending == 1 else 'wait'} for Flowroute's review "
            "(up to 48 hours); a later run finishes them."
        )
    if failed := n(Status.FAILED, 0):
        out.append(f"{_rows(failed)} failed on API errors; the next run retries them.")
    return tuple(out)


def _what_to_do(out: SummarySheet, summary: RunSummary, groups: Sequence[tuple[str, int]]) -> None:
    """The table's first section, under the header row COLUMNS: one row per reason present."""
    for code, count in groups:
        meaning, fix = reason_help(code)
        if code == "pending_stale":
            meaning = meaning.replace("--stale-after", f"{_days(summary.stale_after)}")
        out.rows.append((code, count, meaning, fix))
    if not groups:
        out.rows.append(("nothing", 0, "no row was rejected or failed, none waits too long", ""))
    if fixes := summary.suggested_fixes:
        out.rows.append(
            (
                "suggested fixes",
                fixes,
                f"rejected rows with a suggested name, in {FIXES_FILE} in the run folder",
                f"review it (edit any name), then run it: cnam-batch run <run folder>/{FIXES_FILE}",
            )
        )


def _counts(out: SummarySheet, title: str, by_status: Mapping[str, int], total: int) -> None:
    _heading(out, (title, "Rows", "What it means", ""))
    known = [s.value for s in STATUS_ORDER]
    for status in known + sorted(str(k) for k in by_status if str(k) not in known):
        count = int(by_status.get(status, 0) or 0)
        if count:
            out.statuses.append(len(out.rows))
            out.rows.append((status, count, STATUSES.get(status, ""), ""))
    out.rows.append(("total", int(total), "", ""))


def _facts(out: SummarySheet, summary: RunSummary) -> None:
    _heading(out, ("About this run", "", "", ""))

    def fact(label: str, value: Any) -> None:
        out.rows.append((label, value, "", ""))

    fact("Run", summary.run_id)
    fact("Started", when(summary.started_at))
    took = (summary.finished_at - summary.started_at).total_seconds()
    fact("Finished", f"{when(summary.finished_at)} (took {_duration(took)})")
    if summary.dry_run:
        mode = "dry run: nothing sent to Flowroute"
    elif summary.sandbox:
        mode = "sandbox: the built-in stand-in for Flowroute's API"
    else:
        mode = "Flowroute's API"
    fact("Mode", mode)
    _listed(out, "Inputs", [str(i) for i in summary.inputs], "none (only earlier work advanced)")
    skipped = len(summary.inputs_skipped)
    fact("Inputs skipped", f"{skipped:,}, listed below" if skipped else "none")
    if summary.inputs_not_moved:
        fact("Inputs not moved", f"{len(summary.inputs_not_moved):,}, listed below")
    fact("Rows read", f"{summary.rows_total:,}")
    fact("Blank rows skipped", f"{summary.blank_rows_skipped:,}")
    if given_up := summary.given_up:
        fact(
            "Failed rows given up on", f"{given_up:,} (--give-up-after; --retry-failed sends them)"
        )
    if applied := summary.suggestions_applied:
        fact("Run with the suggested name", f"{applied:,} (--accept-suggestions)")
    fact("API requests", _api(summary))
    if (rate := _rate_limit(summary)) is not None:
        fact("Rate limit in force", rate)
    fact("Pending counts as stale after", f"{_days(summary.stale_after)} (--stale-after)")
    code = int(summary.exit_code)
    fact("Exit code", f"{code}: {_EXIT_WORDS[code]}" if code in _EXIT_WORDS else str(code))
    if summary.timings_s:
        parts = [f"{stage} {_duration(s)}" for stage, s in summary.timings_s.items()]
        fact("Time per stage", ", ".join(parts))
    extra = [(k, v) for k, v in summary.as_json().items() if k not in _SHOWN]
    for key, value in extra:
        fact(key.replace("_", " ").capitalize(), _text(value))
    for title, items in (
        ("Inputs skipped", list(summary.inputs_skipped_reasons.items())),
        ("Inputs not moved", [(i.file, i.reason) for i in summary.inputs_not_moved]),
    ):
        if items:
            _heading(out, (title, "Why", "", ""))
            out.rows.extend((_text(file), _text(why), None, None) for file, why in items)


def _heading(out: SummarySheet, cells: tuple[Any, Any, Any, Any]) -> None:
    out.rows.append((None, None, None, None))
    out.headings.append(len(out.rows))
    out.rows.append(cells)


def _listed(out: SummarySheet, label: str, items: list[str], none: str) -> None:
    for n, item in enumerate(items or [none]):
        out.rows.append((label if n == 0 else None, item, None, None))


def _api(summary: RunSummary) -> str:
    if summary.dry_run:
        return "none (dry run)"
    counts = _as_mapping(summary.api)
    total = counts.get("requests", 0)
    parts = [
        f"{int(v):,} {_API_WORDS.get(k, k)}"
        for k, v in counts.items()
        if k != "requests" and isinstance(v, int)
    ]
    return f"{int(total):,}" + (f": {', '.join(parts)}" if parts else "")


def _rate_limit(summary: RunSummary) -> str | None:
    """The rate the run worked at and learned (api.rate_limit); None without API work."""
    rate = summary.api.rate_limit
    return None if rate is None else str(rate)


def _as_mapping(value: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    return {}


def when(value: datetime) -> str:
    """`2026-12-02 06:10:37 UTC`: a time a person reads (naive times are taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _days(value: float) -> str:
    days = float(value)
    shown = f"{days:.0f}" if days == int(days) else f"{days:g}"
    return f"{shown} day" if days == 1 else f"{shown} days"


def _rows(n: int, those: str = "") -> str:
    word = "row" if n == 1 else "rows"
    return f"{those} {n:,} {word}".strip() if those else f"{n:,} {word}"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return "; ".join(_text(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _text(_as_mapping(value))
    return "" if value is None else str(value)
