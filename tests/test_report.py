"""Report files: exact rows in CSV and xlsx, text stays text, formulas never run, atomic writes."""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import rustpy_xlsxwriter
from openpyxl.utils.escape import unescape
from summaries import make_summary

from pipeline.errors import ExitCode
from pipeline.model import REPORT_COLUMNS, Status
from pipeline.report.workbook import EXCEL_MAX_DATA_ROWS, MAX_COLUMN_WIDTH, write_xlsx
from pipeline.report.write import (
    new_run_dir,
    prepare_rows,
    write_reports,
    write_summary,
)
from pipeline.summary import RunSummary

TEXT_COLUMNS = [c for c in REPORT_COLUMNS if c != "source_row"]

# Values a spreadsheet program likes to reinterpret; none of them starts like a formula.
TRICKY = [
    "16463439697",
    "0016463439697",
    "007",
    "1.6463439697E+10",
    "16463439697.0",
    "TRUE",
    "2024-01-01",
    "#N/A",
    "NaN",
    "null",
    "1,234",
    "a,b",
    'say "hi"',
    "line1\nline2",
    "  padded  ",
    "CAFÉ ROUGE",
    "名前",
    "emoji 😀",
    "'already quoted",
    "",
]
FORMULAS = ['=HYPERLINK("http://x","y")', "+15551234567", "-3", "@SUM(A1)", "\tTAB", "\rCR"]


def rows_frame(n: int, **columns: list[Any]) -> pd.DataFrame:
    """n report rows with distinct text per cell; `columns` overrides whole columns."""
    data: dict[str, Any] = {c: [f"{c} {i}" for i in range(n)] for c in TEXT_COLUMNS}
    data["source_row"] = list(range(2, n + 2))
    data.update(columns)
    return pd.DataFrame(data)[list(REPORT_COLUMNS)]


def tricky_frame() -> pd.DataFrame:
    """Every tricky value in every text column (rotated, so columns differ)."""
    n = len(TRICKY)
    columns = {c: [TRICKY[(i + k) % n] for i in range(n)] for k, c in enumerate(TEXT_COLUMNS)}
    return rows_frame(n, **columns)


def summary(**overrides: Any) -> RunSummary:
    return make_summary(**overrides)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def csv_expected(frame: pd.DataFrame) -> list[list[str]]:
    return [list(REPORT_COLUMNS)] + [
        [str(v) for v in row] for row in frame[list(REPORT_COLUMNS)].itertuples(index=False)
    ]


def sheet_rows(path: Path, name: str) -> list[list[Any]]:
    """Cells of one sheet as written: text unescaped, empty cells as "", numbers as int."""
    ws = openpyxl.load_workbook(path)[name]
    out = []
    for row in ws.iter_rows():
        cells = []
        for cell in row:
            value = cell.value
            if value is None:
                value = ""
            elif isinstance(value, str):
                value = unescape(value)
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            cells.append(value)
        out.append(cells)
    return out


def xlsx_expected(frame: pd.DataFrame) -> list[list[Any]]:
    return [list(REPORT_COLUMNS)] + [
        [row[0], int(row[1]), *row[2:]]
        for row in frame[list(REPORT_COLUMNS)].itertuples(index=False)
    ]


# --- run folder -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "run_id"),
    [
        (datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), "20250102T030405Z"),
        (datetime(2025, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "20250102T030405Z"),
        (datetime(2025, 1, 2, 3, 4, 5), "20250102T030405Z"),  # naive: taken as UTC
        (
            datetime(2025, 1, 2, 22, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
            "20250103T030405Z",
        ),
    ],
)
def test_run_id_is_the_utc_time(tmp_path: Path, now: datetime, run_id: str) -> None:
    got_id, path = new_run_dir(tmp_path / "out", now)
    assert got_id == run_id
    assert path == tmp_path / "out" / run_id and path.is_dir()


def test_taken_run_id_gets_the_next_free_suffix(tmp_path: Path) -> None:
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    ids = [new_run_dir(tmp_path, now)[0] for _ in range(3)]
    assert ids == ["20250102T030405Z", "20250102T030405Z-2", "20250102T030405Z-3"]
    (tmp_path / "20250102T030405Z-5").mkdir()
    assert new_run_dir(tmp_path, now)[0] == "20250102T030405Z-4"
    assert new_run_dir(tmp_path, now)[0] == "20250102T030405Z-6"


def test_output_that_is_a_file_raises_oserror(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(OSError):
        new_run_dir(tmp_path / "out", datetime(2025, 1, 2, tzinfo=UTC))


# --- report.csv -----------------------------------------------------------------------------


def test_csv_reads_back_exactly_as_the_rows_given(tmp_path: Path) -> None:
    frame = tricky_frame()
    write_reports(tmp_path, frame, summary())
    assert read_csv(tmp_path / "report.csv") == csv_expected(frame)


def test_csv_is_utf8_with_bom_and_exactly_the_report_columns(tmp_path: Path) -> None:
    frame = rows_frame(2).assign(extra_internal=["x", "y"])
    write_reports(tmp_path, frame, summary())
    raw = (tmp_path / "report.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + ",".join(REPORT_COLUMNS).encode() + b"\n")
    back = pd.read_csv(tmp_path / "report.csv", dtype=str, keep_default_na=False)
    assert list(back.columns) == list(REPORT_COLUMNS)
    assert back["source_row"].tolist() == ["2", "3"]


@pytest.mark.parametrize("value", FORMULAS)
def test_csv_neutralizes_formula_starts_in_every_text_column(tmp_path: Path, value: str) -> None:
    frame = rows_frame(3, **{c: ["plain", value, "a=b"] for c in TEXT_COLUMNS})
    write_reports(tmp_path, frame, summary())
    body = read_csv(tmp_path / "report.csv")[1:]
    for column in TEXT_COLUMNS:
        cells = [row[REPORT_COLUMNS.index(column)] for row in body]
        assert cells == ["plain", "'" + value, "a=b"], column


def test_csv_neutralizes_only_the_formula_rows_of_a_large_column(tmp_path: Path) -> None:
    names = [("=X" if i % 7 == 0 else "É NAME 😀") if i % 5 else "" for i in range(5_000)]
    names[-1] = "-LAST"
    frame = rows_frame(len(names), name=names)
    write_reports(tmp_path, frame, summary())
    got = [row[REPORT_COLUMNS.index("name")] for row in read_csv(tmp_path / "report.csv")[1:]]
    assert got == [("'" + v if v[:1] in ("=", "-") else v) for v in names]


def test_missing_and_non_text_cells_are_written_as_text(tmp_path: Path) -> None:
    cnam_id = pd.Series([None, 42, float("nan")], dtype=object)
    frame = rows_frame(3, cnam_id=cnam_id, warnings=pd.array(["a", pd.NA, "c"]))
    write_reports(tmp_path, frame, summary())
    body = read_csv(tmp_path / "report.csv")[1:]
    assert [r[REPORT_COLUMNS.index("cnam_id")] for r in body] == ["", "42", ""]
    assert [r[REPORT_COLUMNS.index("warnings")] for r in body] == ["a", "", "c"]
    xlsx = sheet_rows(tmp_path / "report.xlsx", "Rows")[1:]
    assert [r[REPORT_COLUMNS.index("cnam_id")] for r in xlsx] == ["", "42", ""]


def test_undecodable_file_name_is_written_with_escapes_not_a_crash(tmp_path: Path) -> None:
    name = os.fsdecode(b"input/caf\xe9.csv")  # a surrogate escape, as a folder listing gives
    frame = rows_frame(2, source_file=[name, name])
    write_reports(tmp_path, frame, summary(inputs=(name,)))
    assert read_csv(tmp_path / "report.csv")[1][0] == "input/caf\\udce9.csv"
    assert sheet_rows(tmp_path / "report.xlsx", "Rows")[1][0] == "input/caf\\udce9.csv"
    assert json.loads((tmp_path / "summary.json").read_text())["inputs"] == [name]


def test_missing_report_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rows: report columns missing: reason, cnam_id"):
        write_reports(tmp_path, rows_frame(1).drop(columns=["reason", "cnam_id"]), summary())
    assert list(tmp_path.iterdir()) == []


# --- report.xlsx ----------------------------------------------------------------------------


def test_xlsx_reads_back_exactly_as_the_rows_given(tmp_path: Path) -> None:
    frame = pd.concat([tricky_frame(), rows_frame(len(FORMULAS), name=FORMULAS)])
    write_reports(tmp_path, frame, summary())
    assert sheet_rows(tmp_path / "report.xlsx", "Rows") == xlsx_expected(frame)


def test_xlsx_cells_are_text_never_numbers_or_formulas(tmp_path: Path) -> None:
    values = ["16463439697", "007", '=HYPERLINK("http://x","y")', "=1+1", "1.5E+10", "TRUE"]
    frame = rows_frame(len(values), input_number=values, name=values, reason=values)
    write_reports(tmp_path, frame, summary())
    ws = openpyxl.load_workbook(tmp_path / "report.xlsx")["Rows"]
    for row in ws.iter_rows(min_row=2):
        source_file, source_row, *text = row
        assert source_row.data_type == "n"
        assert {c.data_type for c in [source_file, *text]} == {"s"}, [c.value for c in row]
    column = REPORT_COLUMNS.index("input_number") + 1
    assert [ws.cell(r, column).value for r in range(2, 2 + len(values))] == values


def test_workbook_has_summary_first_then_rows(tmp_path: Path) -> None:
    write_reports(tmp_path, rows_frame(3), summary())
    wb = openpyxl.load_workbook(tmp_path / "report.xlsx")
    assert wb.sheetnames == ["Summary", "Needs attention", "Rows"]
    assert wb.active.title == "Summary"


def test_rows_sheet_has_styled_frozen_filtered_header_and_readable_widths(tmp_path: Path) -> None:
    frame = rows_frame(50, reason=["x" * 200] * 50, status=["planned"] * 50)
    write_reports(tmp_path, frame, summary())
    ws = openpyxl.load_workbook(tmp_path / "report.xlsx")["Rows"]
    assert [c.value for c in ws[1]] == list(REPORT_COLUMNS)
    assert all(c.font.b for c in ws[1])
    assert {c.fill.fgColor.rgb for c in ws[1]} == {"FFDDEBF7"}
    assert not ws["A2"].font.b
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:L51"
    width = {c: ws.column_dimensions[chr(ord("A") + i)].width for i, c in enumerate(REPORT_COLUMNS)}
    assert MAX_COLUMN_WIDTH <= width["reason"] <= MAX_COLUMN_WIDTH + 1  # capped
    assert 8 <= width["status"] < 20  # "planned" and its header fit
    assert width["source_file"] >= len("source_file 49")


def test_summary_sheet_keeps_formula_like_input_names_as_text(tmp_path: Path) -> None:
    write_reports(tmp_path, rows_frame(1), summary(inputs=("=cmd.csv",)))
    ws = openpyxl.load_workbook(tmp_path / "report.xlsx")["Summary"]
    cell = next(c for row in ws.iter_rows() for c in row if c.value == "=cmd.csv")
    assert cell.data_type == "s"


@pytest.mark.parametrize(
    ("n", "sheets"),
    [
        (0, {"Rows": 0}),
        (1, {"Rows": 1}),
        (3, {"Rows": 3}),
        (4, {"Rows": 3, "Rows 2": 1}),
        (6, {"Rows": 3, "Rows 2": 3}),
        (7, {"Rows": 3, "Rows 2": 3, "Rows 3": 1}),
    ],
)
def test_rows_past_the_sheet_limit_continue_on_further_sheets(
    tmp_path: Path, n: int, sheets: dict[str, int]
) -> None:
    frame = rows_frame(n)
    path = tmp_path / "report.xlsx"
    write_xlsx(path, prepare_rows(frame).text, summary(), sheet_rows=3)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Needs attention", *sheets]
    back: list[list[Any]] = []
    for name, count in sheets.items():
        cells = sheet_rows(path, name)
        assert cells[0] == list(REPORT_COLUMNS)
        assert len(cells) - 1 == count
        assert wb[name].freeze_panes == "A2"
        assert wb[name].auto_filter.ref == f"A1:L{count + 1}"
        back += cells[1:]
    assert [list(REPORT_COLUMNS), *back] == xlsx_expected(frame)


def test_excel_row_limit_is_excels(tmp_path: Path) -> None:
    assert EXCEL_MAX_DATA_ROWS == 1_048_576 - 1


def test_text_past_excels_cell_limit_is_cut_in_xlsx_only(tmp_path: Path) -> None:
    long = "N" * 40_000
    write_reports(tmp_path, rows_frame(2, input_name=["OK", long]), summary())
    column = REPORT_COLUMNS.index("input_name")
    assert read_csv(tmp_path / "report.csv")[2][column] == long
    assert sheet_rows(tmp_path / "report.xlsx", "Rows")[2][column] == long[:32_767]


# --- carried over ---------------------------------------------------------------------------


def test_carried_over_rows_get_their_csv_and_sheet(tmp_path: Path) -> None:
    carried = rows_frame(2, status=["associated", "pending_approval"], name=["=X", "OK"])
    paths = write_reports(tmp_path, rows_frame(3), summary(), carried)
    assert [p.name for p in paths] == [
        "report.csv",
        "report.xlsx",
        "carried_over.csv",
        "summary.json",
    ]
    assert read_csv(tmp_path / "carried_over.csv") == csv_expected(
        carried.assign(name=["'=X", "OK"])
    )
    wb = openpyxl.load_workbook(tmp_path / "report.xlsx")
    assert wb.sheetnames == ["Summary", "Needs attention", "Rows", "Carried over"]
    assert wb["Carried over"].freeze_panes == "A2"
    assert sheet_rows(tmp_path / "report.xlsx", "Carried over") == xlsx_expected(carried)


def test_empty_carried_over_still_writes_headers(tmp_path: Path) -> None:
    write_reports(tmp_path, rows_frame(1), summary(), rows_frame(0))
    assert read_csv(tmp_path / "carried_over.csv") == [list(REPORT_COLUMNS)]
    assert sheet_rows(tmp_path / "report.xlsx", "Carried over") == [list(REPORT_COLUMNS)]


def test_no_carried_over_means_no_file_and_no_sheet(tmp_path: Path) -> None:
    paths = write_reports(tmp_path, rows_frame(1), summary())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "report.csv",
        "report.xlsx",
        "summary.json",
    ]
    assert sorted(paths) == sorted(tmp_path.iterdir())
    assert "Carried over" not in openpyxl.load_workbook(tmp_path / "report.xlsx").sheetnames


# --- summary.json ---------------------------------------------------------------------------


def test_summary_json_is_the_summary_as_given(tmp_path: Path) -> None:
    facts = summary(by_status={Status.PLANNED: 2}, started_at=datetime(2025, 1, 2, tzinfo=UTC))
    write_reports(tmp_path, rows_frame(1), facts)
    text = (tmp_path / "summary.json").read_text(encoding="utf-8")
    assert text.startswith('{\n  "run_id": "20250102T030405Z"')
    assert json.loads(text) == {
        **facts.as_json(),
        "by_status": {"planned": 2},
        "started_at": "2025-01-02T00:00:00+00:00",
    }


def test_write_summary_replaces_summary_json_alone(tmp_path: Path) -> None:
    write_reports(tmp_path, rows_frame(1), summary())
    before = (tmp_path / "report.xlsx").stat().st_mtime_ns
    write_summary(tmp_path, summary(exit_code=ExitCode.EMAIL_FAILED))
    assert json.loads((tmp_path / "summary.json").read_text())["exit_code"] == 5
    assert (tmp_path / "report.xlsx").stat().st_mtime_ns == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- atomicity ------------------------------------------------------------------------------


def test_crash_while_writing_the_workbook_leaves_no_report_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workbook writer dies half way (disk full) after report.csv's temp file is complete.

    The module makes every cell writable (text, encodable, cut to Excel's limit), so no frame
    can make the real writer fail; a stand-in writes half a file and raises instead.
    """
    seen: list[Path] = []

    def dies_half_way(sheets: Any, path: str, **options: Any) -> None:
        seen.extend(tmp_path.iterdir())
        Path(path).write_bytes(b"PK\x03\x04 half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rustpy_xlsxwriter, "write_worksheets", dies_half_way)
    with pytest.raises(OSError, match="No space left"):
        write_reports(tmp_path, rows_frame(3), summary(), rows_frame(1))
    assert [p.name for p in seen] == [".report.csv.tmp"]  # the CSV was already written
    assert list(tmp_path.iterdir()) == []


def test_summary_json_cannot_hold_fails_before_any_file_is_written(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="summary.json: object value"):
        write_reports(tmp_path, rows_frame(1), summary(timings_s={"load": object()}))
    assert list(tmp_path.iterdir()) == []


def test_rewriting_a_report_replaces_every_file_whole(tmp_path: Path) -> None:
    write_reports(tmp_path, rows_frame(5), summary())
    write_reports(tmp_path, rows_frame(2), summary(rows_total=2))
    assert len(read_csv(tmp_path / "report.csv")) == 3
    assert len(sheet_rows(tmp_path / "report.xlsx", "Rows")) == 3
    assert json.loads((tmp_path / "summary.json").read_text())["rows_total"] == 2


# --- scale ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_row_past_excels_limit_is_not_lost(tmp_path: Path) -> None:
    from python_calamine import CalamineWorkbook

    n = EXCEL_MAX_DATA_ROWS + 1
    empty = [""] * n
    frame = pd.DataFrame({c: empty for c in TEXT_COLUMNS}).assign(
        source_row=range(2, n + 2),
        source_file="in.csv",
        status="rejected",
        reason_code="name_empty",
    )[list(REPORT_COLUMNS)]
    write_reports(tmp_path, frame, summary(rows_total=n))
    wb = CalamineWorkbook.from_path(str(tmp_path / "report.xlsx"))
    assert wb.sheet_names == [
        "Summary", "Needs attention", "Needs attention 2", "Rows", "Rows 2",
    ]  # fmt: skip
    for title in ("Rows", "Needs attention"):  # every row needs attention: capped the same way
        first = wb.get_sheet_by_name(title).to_python()
        second = wb.get_sheet_by_name(f"{title} 2").to_python()
        assert first[0][:2] == second[0][:2] == ["source_file", "source_row"]
        assert len(first) - 1 == EXCEL_MAX_DATA_ROWS and len(second) - 1 == 1
        rows_back = [int(r[1]) for r in first[1:]] + [int(r[1]) for r in second[1:]]
        assert rows_back == list(range(2, n + 2)), title
    with (tmp_path / "report.csv").open(encoding="utf-8-sig") as f:
        assert sum(1 for _ in f) == n + 1
