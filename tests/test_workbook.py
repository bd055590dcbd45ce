"""report.xlsx as a person opens it: the Summary in words, the Needs attention sheet, status colours
read back from the file, and the layout of every row sheet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from summaries import make_summary

from pipeline.api.types import ApiCounts, RateSummary
from pipeline.errors import ExitCode
from pipeline.input.frame import TAKEN_BEFORE
from pipeline.model import REPORT_COLUMNS, STATUS_ORDER, Reason, Status, Warn
from pipeline.report.attention import ATTENTION_COLUMNS, attention
from pipeline.report.fixes import FIXES_FILE as WRITTEN_FIXES_FILE
from pipeline.report.guidance import REASONS, plain
from pipeline.report.summary_sheet import FIXES_FILE
from pipeline.report.workbook import write_xlsx
from pipeline.report.write import prepare_rows, write_reports

GREEN, AMBER, RED, GREY = "C6EFCE", "FFEB9C", "FFC7CE", "E7E6E6"
EXPECTED_FILL = {
    Status.ASSOCIATED: GREEN,
    Status.ALREADY_SET: GREEN,
    Status.PENDING_APPROVAL: AMBER,
    Status.PLANNED: AMBER,
    Status.REJECTED: RED,
    Status.FAILED: RED,
    Status.DUPLICATE: GREY,
}


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    """Report rows: each dict overrides a row's defaults; source_row counts from 2."""
    records = []
    for n, overrides in enumerate(rows):
        record = {c: "" for c in REPORT_COLUMNS}
        record.update(
            source_file="in.csv",
            source_row=n + 2,
            input_number=f"206555{n:04d}",
            input_name=f"NAME {n}",
            status="associated",
        )
        record.update(overrides)
        records.append(record)
    return pd.DataFrame(records, columns=list(REPORT_COLUMNS)).astype({"source_row": "int64"})


def write(path: Path, rows: pd.DataFrame, carried: pd.DataFrame | None = None, **kw: Any) -> Path:
    summary = kw.pop("summary", make_summary())
    text = prepare_rows(rows).text
    carried_text = None if carried is None else prepare_rows(carried).text
    write_xlsx(path, text, summary, carried_text, **kw)
    return path


def values(ws: Worksheet) -> list[list[Any]]:
    return [list(row) for row in ws.iter_rows(values_only=True)]


def status_fills(ws: Worksheet) -> dict[int, str]:
    """Sheet row -> the fill a spreadsheet shows on that row's status cell, read back from the
    file's conditional formats (the one rule whose range holds the cell and whose text the
    value begins with; Excel applies the first such rule)."""
    header = [c.value for c in ws[1]]
    column = header.index("status") + 1
    fills: dict[int, str] = {}
    for row in range(2, ws.max_row + 1):
        cell = ws.cell(row, column)
        for cf in ws.conditional_formatting:
            if cell.coordinate not in cf.sqref:
                continue
            for rule in cf.rules:
                if rule.type == "beginsWith" and str(cell.value).startswith(rule.text):
                    fill = rule.dxf.fill
                    colour = (
                        fill.bgColor.rgb if fill.bgColor.rgb != "00000000" else fill.fgColor.rgb
                    )
                    fills.setdefault(row, colour[-6:])
    return fills


# ----------------------------------------------------------------------------------- colours


def test_status_colours_read_back_per_status_in_every_row_sheet(tmp_path: Path) -> None:
    statuses = [s.value for s in STATUS_ORDER]
    rows = frame(*({"status": s} for s in statuses))
    carried = frame(*({"status": s} for s in reversed(statuses)))
    path = write(tmp_path / "r.xlsx", rows, carried)
    wb = openpyxl.load_workbook(path)
    for name, order in (("Rows", statuses), ("Carried over", statuses[::-1])):
        fills = status_fills(wb[name])
        assert [fills.get(r) for r in range(2, 2 + len(order))] == [
            EXPECTED_FILL[Status(s)] for s in order
        ], name
    attention_sheet = wb["Needs attention"]
    fills = status_fills(attention_sheet)
    shown = [attention_sheet.cell(r, 5).value for r in range(2, attention_sheet.max_row + 1)]
    assert shown and set(shown) <= {"rejected", "failed"}
    assert set(fills.values()) == {RED}
    # the text colour is set with the fill (dark green/amber/red/grey on the light fill)
    fonts = {
        r.text: r.dxf.font.color.rgb[-6:]
        for cf in wb["Rows"].conditional_formatting
        for r in cf.rules
    }
    assert fonts == {
        "associated": "006100", "already_set": "006100", "pending_approval": "9C5700",
        "planned": "9C5700", "rejected": "9C0006", "failed": "9C0006", "duplicate": "3A3838",
    }  # fmt: skip


def test_summary_counts_are_coloured_like_the_rows(tmp_path: Path) -> None:
    summary = make_summary(by_status={"associated": 2, "pending_approval": 1, "failed": 1})
    path = write(tmp_path / "r.xlsx", frame({}), summary=summary)
    ws = openpyxl.load_workbook(path)["Summary"]
    rows = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    colours = {}
    for label in ("associated", "pending_approval", "failed", "total", "Started"):
        cell = ws.cell(rows[label], 1)
        hits = [
            rule.dxf.fill.bgColor.rgb[-6:]
            for cf in ws.conditional_formatting
            if cell.coordinate in cf.sqref
            for rule in cf.rules
            if rule.type == "beginsWith" and str(cell.value).startswith(rule.text)
        ]
        colours[label] = hits[0] if hits else None
    assert colours == {
        "associated": GREEN,
        "pending_approval": AMBER,
        "failed": RED,
        "total": None,
        "Started": None,
    }


# --------------------------------------------------------------------------- needs attention


def test_needs_attention_is_rejected_failed_and_stale_pending_grouped_by_reason(
    tmp_path: Path,
) -> None:
    stale = Warn.PENDING_STALE.value
    rows = frame(
        {"status": "rejected", "reason_code": "name_too_long", "suggestion": "ACME PLBG"},  # 2
        {"status": "associated"},  # 3
        {"status": "failed", "reason_code": "api_error"},  # 4
        {"status": "rejected", "reason_code": "number_invalid"},  # 5
        {"status": "pending_approval"},  # 6: waiting, not yet too long
        {"status": "rejected", "reason_code": "name_too_long"},  # 7
        {"status": "duplicate"},  # 8
        {"status": "planned"},  # 9
        {"status": "already_set"},  # 10
    )
    carried = frame(
        {"status": "pending_approval", "warnings": stale, "source_file": "old.csv"},
        {"status": "rejected", "reason_code": "flowroute_rejected", "source_file": "old.csv"},
        {
            "status": "pending_approval",
            "warnings": f"name_generic;{stale}",
            "source_file": "old.csv",
        },
    )
    path = write(tmp_path / "r.xlsx", rows, carried)
    cells = values(openpyxl.load_workbook(path)["Needs attention"])
    assert cells[0] == list(ATTENTION_COLUMNS)
    got = [(r[0], int(r[1]), r[4], r[5] or "") for r in cells[1:]]
    assert got == [
        ("in.csv", 2, "rejected", "name_too_long"),  # the biggest group first (2 rows, a tie
        ("in.csv", 7, "rejected", "name_too_long"),  # broken by code), in input order
        ("old.csv", 2, "pending_approval", ""),  # pending_stale: 2 rows
        ("old.csv", 4, "pending_approval", ""),
        ("in.csv", 4, "failed", "api_error"),  # then the single rows, by code
        ("old.csv", 3, "rejected", "flowroute_rejected"),
        ("in.csv", 5, "rejected", "number_invalid"),
    ]
    assert cells[1][ATTENTION_COLUMNS.index("suggestion")] == "ACME PLBG"
    todo = attention(prepare_rows(rows).text, prepare_rows(carried).text)
    assert todo.groups == (
        ("name_too_long", 2),
        ("pending_stale", 2),
        ("api_error", 1),
        ("flowroute_rejected", 1),
        ("number_invalid", 1),
    )


def test_needs_attention_has_the_row_sheet_layout_with_the_reason_wrapped(tmp_path: Path) -> None:
    long = "a reason that goes on " * 12
    rows = frame({"status": "rejected", "reason_code": "name_empty", "reason": long})
    ws = openpyxl.load_workbook(write(tmp_path / "r.xlsx", rows))["Needs attention"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:L2"
    assert all(c.font.b for c in ws[1])
    reason = ws.cell(2, ATTENTION_COLUMNS.index("reason") + 1)
    assert reason.value == long and reason.alignment.wrap_text
    assert ws.row_dimensions[2].height >= 45  # tall enough for the wrapped lines
    assert isinstance(ws.cell(2, 2).value, int | float)  # source_row stays a number


def test_nothing_needs_attention_is_one_line(tmp_path: Path) -> None:
    rows = frame({"status": "associated"}, {"status": "pending_approval"}, {"status": "planned"})
    path = write(tmp_path / "r.xlsx", rows, summary=make_summary(stale_after=2.5))
    cells = values(openpyxl.load_workbook(path)["Needs attention"])
    assert cells == [
        [
            "Nothing needs attention: no row was rejected or failed, and none has waited for "
            "Flowroute's review longer than 2.5 days."
        ]
    ]


@pytest.mark.parametrize(
    ("n", "sheets"),
    [
        (3, {"Needs attention": 3}),
        (7, {"Needs attention": 3, "Needs attention 2": 3, "Needs attention 3": 1}),
    ],
)
def test_needs_attention_continues_past_the_sheet_limit_like_rows(
    tmp_path: Path, n: int, sheets: dict[str, int]
) -> None:
    rows = frame(*({"status": "rejected", "reason_code": "name_empty"} for _ in range(n)))
    path = write(tmp_path / "r.xlsx", rows, sheet_rows=3)
    wb = openpyxl.load_workbook(path)
    row_sheets = [s for s in wb.sheetnames if s.startswith("Rows")]
    assert wb.sheetnames == ["Summary", *sheets, *row_sheets]
    back = []
    for name, count in sheets.items():
        cells = values(wb[name])
        assert cells[0] == list(ATTENTION_COLUMNS) and len(cells) - 1 == count
        back += [int(r[1]) for r in cells[1:]]
    assert back == list(range(2, n + 2))  # no row lost or repeated


# ----------------------------------------------------------------------------------- summary


def summary_cells(path: Path) -> list[list[Any]]:
    return [
        [v for v in row if v is not None]
        for row in openpyxl.load_workbook(path)["Summary"].iter_rows(values_only=True)
    ]


def test_summary_speaks_in_words_not_json_keys(tmp_path: Path) -> None:
    summary = make_summary(
        dry_run=False,
        sandbox=False,
        run_id="20261202T061037Z",
        started_at=datetime(2026, 12, 2, 6, 10, 37, 512_000, tzinfo=UTC),
        finished_at=datetime(2026, 12, 2, 6, 12, 40, tzinfo=UTC),
        rows_total=23,
        by_status={"associated": 6, "rejected": 15, "failed": 1, "duplicate": 1},
        carried_over=2,
        carried_over_by_status={"associated": 2},
        blank_rows_skipped=1,
        timings_s={"load": 0.5, "api": 120.25},
        exit_code=ExitCode.ROWS_FAILED,
    )
    rows = frame(
        *({"status": "rejected", "reason_code": "name_too_long"} for _ in range(15)),
        {"status": "failed", "reason_code": "api_error"},
    )
    cells = summary_cells(write(tmp_path / "r.xlsx", rows, summary=summary))
    assert cells[0] == ["Run 20261202T061037Z: 6 of 23 rows associated, 16 need attention"]
    text = "\n".join(" | ".join(str(v) for v in row) for row in cells)
    for key in (
        "run_id",
        "rows_total",
        "carried_over_by_status",
        "timings_s",
        "blank_rows_skipped",
    ):
        assert key not in text, key
    meaning, fix = (plain(t) for t in REASONS[Reason.NAME_TOO_LONG])
    assert ["name_too_long", 15, meaning, fix] in cells
    assert "use the suggestion" in fix  # the suggestion column is named where it helps
    assert ["api_error", 1, *(plain(t) for t in REASONS[Reason.API_ERROR])] in cells
    for fact in (
        ["Started", "2026-12-02 06:10:37 UTC"],
        ["Finished", "2026-12-02 06:12:40 UTC (took 2 min 2 s)"],
        ["Inputs", "input/acme.xlsx"],
        ["input/more.csv"],
        ["Inputs skipped", "none"],
        ["Rows read", "23"],
        ["Blank rows skipped", "1"],
        ["API requests", "0: 0 creates, 0 associations, 0 retries, 0 rate-limited (429)"],
        ["Exit code", "1: finished; some rows failed and the next run retries them"],
        ["Time per stage", "load 0.50 s, api 2 min 0 s"],
    ):
        assert fact in cells, fact
    # counts by status, then the carried-over ones, each with a total
    start = cells.index(["Rows by status", "Rows", "What it means"])
    assert [row[:2] for row in cells[start + 1 : start + 6]] == [
        ["associated", 6], ["rejected", 15], ["failed", 1], ["duplicate", 1], ["total", 23],
    ]  # fmt: skip
    start = cells.index(["Carried over from earlier runs", "Rows", "What it means"])
    assert [row[:2] for row in cells[start + 1 : start + 3]] == [["associated", 2], ["total", 2]]
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["Summary"]
    bold = {ws.cell(r, 1).value for r in range(1, ws.max_row + 1) if ws.cell(r, 1).font.b}
    assert {"What to do next", "Rows by status", "About this run"} <= bold


def test_summary_lists_skipped_inputs_with_their_reasons(tmp_path: Path) -> None:
    summary = make_summary(
        inputs_skipped=("drop/old.csv", "drop/notes.pdf"),
        inputs_skipped_reasons={
            "drop/old.csv": TAKEN_BEFORE,
            "drop/notes.pdf": "not a spreadsheet",
        },
    )
    cells = summary_cells(write(tmp_path / "r.xlsx", frame({}), summary=summary))
    assert ["Inputs skipped", "2, listed below"] in cells
    start = cells.index(["Inputs skipped", "Why"])
    assert cells[start + 1 : start + 3] == [
        [
            "drop/old.csv",
            "an earlier run took this file (same content); --reprocess takes it again",
        ],
        ["drop/notes.pdf", "not a spreadsheet"],
    ]


def test_summary_with_nothing_to_do_says_so(tmp_path: Path) -> None:
    summary = make_summary(dry_run=False, by_status={"associated": 3}, rows_total=3)
    cells = summary_cells(write(tmp_path / "r.xlsx", frame({}, {}, {}), summary=summary))
    assert cells[0] == ["Run 20250102T030405Z: 3 of 3 rows associated, nothing needs attention"]
    assert ["nothing", 0, "no row was rejected or failed, none waits too long"] in cells


def test_summary_points_to_the_suggested_fixes_file_when_the_run_writes_one(tmp_path: Path) -> None:
    rows = frame(
        {"status": "rejected", "reason_code": "name_too_long", "suggestion": "ACME PLBG"},
        {"status": "rejected", "reason_code": "name_empty"},
    )
    without = summary_cells(
        write(tmp_path / "a.xlsx", rows, summary=make_summary(suggested_fixes=0))
    )
    assert not any("suggested_fixes" in str(c) for row in without for c in row)
    summary = make_summary(suggested_fixes=1)
    cells = summary_cells(write(tmp_path / "b.xlsx", rows, summary=summary))
    line = next(row for row in cells if row[:1] == ["suggested fixes"])
    assert line[1] == 1 and f"{FIXES_FILE} in the run folder" in line[2]
    assert f"cnam-batch run <run folder>/{FIXES_FILE}" in line[3]
    assert FIXES_FILE == WRITTEN_FIXES_FILE


def test_summary_keeps_the_json_keys_in_summary_json(tmp_path: Path) -> None:
    summary = make_summary(needs_attention=1)
    write_reports(tmp_path, frame({"status": "rejected", "reason_code": "name_empty"}), summary)
    import json

    assert json.loads((tmp_path / "summary.json").read_text()) == replace(summary).as_json()


def test_summary_shows_the_rate_limit_in_force_when_the_run_used_the_api(tmp_path: Path) -> None:
    rate = RateSummary(
        setting="auto", ceiling=50.0, start=5.0, learned=8.5, learned_from_429=True, slowdowns=2
    )
    summary = make_summary(dry_run=False, api=ApiCounts(requests=40, rate_limit=rate))
    cells = summary_cells(write(tmp_path / "r.xlsx", frame({}), summary=summary))
    assert ["Rate limit in force", str(rate)] in cells
    assert "learned 8.5/s from 429s" in str(rate)
    dry = summary_cells(write(tmp_path / "d.xlsx", frame({})))
    assert not any(row[:1] == ["Rate limit in force"] for row in dry)


def test_summary_headline_of_a_run_that_only_advanced_earlier_work(tmp_path: Path) -> None:
    summary = make_summary(
        dry_run=False,
        rows_total=0,
        by_status={},
        carried_over=5,
        carried_over_by_status={"associated": 4, "pending_approval": 1},
    )
    carried = frame(*({"status": "associated"} for _ in range(4)), {"status": "pending_approval"})
    cells = summary_cells(write(tmp_path / "r.xlsx", frame(), carried, summary=summary))
    assert cells[0] == [
        "Run 20250102T030405Z: no new rows; 4 of 5 carried-over rows associated, "
        "nothing needs attention"
    ]
