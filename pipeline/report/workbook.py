"""report.xlsx: "Summary", "Needs attention", "Rows", "Carried over".

rustpy-xlsxwriter (Rust, constant memory) writes it: measured on this project's 2-core machine for
1,000,000 rows x 12 columns, the rows in about 5.5 s of CPU where xlsxwriter takes over 35 s
(engineering notes), with no memory added beyond the rows frame. It stores every Python `str` as a
text cell, never as a number, date or formula, so numbers stay text and a name like `=HYPERLINK(..)`
never runs; `source_row` is a number, so it sorts.

Colour by status is one conditional format per status on the status column (Excel's Good /
Neutral / Bad styles, grey for duplicates): a rule per status, not a style per cell, so a million
rows cost nothing extra (a row format per row took twice the time and 900 MB more), and the colour
follows the value when a person sorts, filters or edits. Every row sheet has a styled, frozen,
filterable header and widths fitted to a sample of its rows; past Excel's 1,048,575 data rows a
sheet continues on "<name> 2", "<name> 3"...
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rustpy_xlsxwriter as rx

from pipeline.model import REPORT_COLUMNS, Status
from pipeline.report.attention import Attention, attention
from pipeline.report.columnar import is_columnar
from pipeline.report.sheetxml import rows_xml
from pipeline.report.summary_sheet import (
    CARRIED_SHEET,
    COLUMNS,
    ROWS_SHEET,
    SummarySheet,
    summary_sheet,
)
from pipeline.report.xlsxzip import TooBig, fill_sheets
from pipeline.summary import NEEDS_ATTENTION_SHEET, RunSummary

EXCEL_MAX_DATA_ROWS = 1_048_575  # 1,048,576 rows per sheet, one of them the header
EXCEL_MAX_CELL_CHARS = 32_767  # Excel refuses a longer text cell
SUMMARY_SHEET = "Summary"
TEXT_COLUMNS = tuple(c for c in REPORT_COLUMNS if c != "source_row")
MIN_COLUMN_WIDTH = 8
MAX_COLUMN_WIDTH = 60
WIDTH_SAMPLE_ROWS = 2_000
HEADER_FILL = "#DDEBF7"
SUMMARY_WIDTHS = [28, 10, 52, 62]
# A row sheet with more rows than this gets no per-column cell formats (wrap, alignment, fitted
# heights): measured, a format on one column of a million rows costs 0.4-0.7 s of CPU.
STYLED_MAX_ROWS = 50_000
LINE_HEIGHT = 15  # points per line of wrapped text
# Printed (and turned into PDF) one page wide, landscape: a sheet never splits down the middle.
PAGE = {"landscape": True, "fit_to_pages": (1, 0)}
# status -> (fill, text colour): Excel's Good (green), Neutral (amber) and Bad (red) cell styles.
_GREEN, _AMBER, _RED, _GREY = (
    ("#C6EFCE", "#006100"),
    ("#FFEB9C", "#9C5700"),
    ("#FFC7CE", "#9C0006"),
    ("#E7E6E6", "#3A3838"),
)
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    Status.ASSOCIATED: _GREEN,
    Status.ALREADY_SET: _GREEN,
    Status.PENDING_APPROVAL: _AMBER,
    Status.PLANNED: _AMBER,
    Status.REJECTED: _RED,
    Status.FAILED: _RED,
    Status.DUPLICATE: _GREY,
}


def write_xlsx(
    path: Path,
    rows: pd.DataFrame,
    summary: RunSummary,
    carried_over: pd.DataFrame | None = None,
    *,
    sheet_rows: int = EXCEL_MAX_DATA_ROWS,
) -> None:
    """Write the workbook to `path` (not atomic by itself; write_reports renames it into place).

    `rows`/`carried_over` are report frames whose text cells are str (`prepare_rows(...).text`).
    `sheet_rows` is the most data rows per sheet: Excel's limit by default; tests pass a small
    one to see the split without writing a million rows.
    """
    try:
        _write_workbook(path, rows, carried_over, summary, sheet_rows)
    except RuntimeError:
        # The writer refuses a cell over Excel's 32,767 characters. Such a value is rare (only a
        # CSV input can hold one), so it is looked for only now rather than on every run.
        safe_rows = _excel_safe(rows)
        safe_carried = None if carried_over is None else _excel_safe(carried_over)
        if safe_rows is rows and safe_carried is carried_over:
            raise
        _write_workbook(path, safe_rows, safe_carried, summary, sheet_rows)


def _write_workbook(
    path: Path,
    rows: pd.DataFrame,
    carried_over: pd.DataFrame | None,
    summary: RunSummary,
    sheet_rows: int,
) -> None:
    header = rx.Format().set_bold().set_background_color(HEADER_FILL).set_border("thin")
    todo = attention(rows, carried_over)
    content = summary_sheet(summary, todo.groups)
    book = _Book(header)
    book.summary(content)
    book.attention(todo, summary, sheet_rows)
    book.rows(ROWS_SHEET, rows, sheet_rows)
    if carried_over is not None:
        book.rows(CARRIED_SHEET, carried_over, sheet_rows)
    book.write(path)


class _Book:
    """The sheets and their per-sheet options, gathered for one write_worksheets call."""

    def __init__(self, header: Any) -> None:
        self.header = header
        self.sheets: list[tuple[str, Any]] = []
        self.big: dict[str, pd.DataFrame] = {}  # sheet -> rows written by sheetxml, not the writer
        self.options: dict[str, Any] = {}  # write_worksheets keyword -> {sheet: value}

    def _set(self, option: str, sheet: str, value: Any) -> None:
        self.options.setdefault(option, {})[sheet] = value

    def summary(self, content: SummarySheet) -> None:
        name = SUMMARY_SHEET
        title = rx.Format().set_bold().set_font_size(14)
        line = rx.Format().set_align("left")
        merges: list[tuple[Any, ...]] = [
            (0, 0, 0, len(COLUMNS) - 1, encodable(content.headline), title)
        ]
        for n, text in enumerate(content.lines, start=1):
            merges.append((n, 0, n, len(COLUMNS) - 1, encodable(text), line))
        header_row = len(content.lines) + 2  # a blank row between the lines and the table
        records = [
            {c: _summary_cell(v) for c, v in zip(COLUMNS, cells, strict=True)}
            for cells in content.rows
        ]
        bold = rx.Format().set_bold()
        wrap = rx.Format().set_text_wrap().set_align("top")
        top = rx.Format().set_align("top")
        self.sheets.append((name, records))
        self._set("header_row", name, header_row)
        self._set("merge_ranges", name, merges)
        self._set("header_format", name, self.header)
        self._set("row_formats", name, {header_row + 1 + i: bold for i in content.headings})
        heights = {0: 22.0}
        for i, cells in enumerate(content.rows):
            lines = max(_lines(cells[2], SUMMARY_WIDTHS[2]), _lines(cells[3], SUMMARY_WIDTHS[3]))
            if lines > 1:
                heights[header_row + 1 + i] = float(LINE_HEIGHT * lines)
        self._set("row_heights", name, heights)
        self._set("page_setup", name, PAGE)
        self._set("column_widths", name, SUMMARY_WIDTHS)
        self._set("column_formats", name, [top, top, wrap, wrap])
        self._set("conditional_formats", name, {COLUMNS[0]: status_rules()})

    def attention(self, todo: Attention, summary: RunSummary, sheet_rows: int) -> None:
        if todo.total == 0:
            days = f"{summary.stale_after:g}"
            text = (
                "Nothing needs attention: no row was rejected or failed, and none has waited "
                f"for Flowroute's review longer than {days} days."
            )
            self.sheets.append((NEEDS_ATTENTION_SHEET, pd.DataFrame(columns=[text])))
            self._set("header_format", NEEDS_ATTENTION_SHEET, rx.Format().set_bold())
            return
        self.rows(NEEDS_ATTENTION_SHEET, todo.rows, sheet_rows, wrap="reason")

    def rows(
        self,
        title: str,
        frame: pd.DataFrame,
        sheet_rows: int,
        wrap: str | None = None,
    ) -> None:
        """A row sheet (continued past `sheet_rows`); `wrap`: a column whose long text wraps,
        with each row as tall as its text, on sheets of up to STYLED_MAX_ROWS rows."""
        widths = column_widths(frame)
        text = [c for c in frame.columns if c != "source_row"]
        wrapped = rx.Format().set_text_wrap().set_align("top")
        top = rx.Format().set_align("top")
        centred = rx.Format().set_align("center")  # a number beside text that starts with digits
        formats: dict[str, Any] = {"source_row": centred}
        if wrap is not None:
            formats = {c: wrapped if c == wrap else top for c in frame.columns}
            formats["source_row"] = rx.Format().set_align("center").set_align("top")
        for name, part in split_sheets(title, frame, sheet_rows):
            if len(part) > STYLED_MAX_ROWS and is_columnar(part):
                self.big[name] = part
                self.sheets.append((name, _empty_like(part)))
            else:
                self.sheets.append((name, part))
            self._set("header_format", name, self.header)
            self._set("column_widths", name, widths)
            self._set("freeze_panes", name, {"row": 1, "col": 0})
            self._set("autofilter", name, True)
            # Digits kept as text on purpose: no green "number stored as text" triangles.
            self._set("ignore_errors", name, text)
            self._set("conditional_formats", name, {"status": status_rules()})
            self._set("page_setup", name, {**PAGE, "repeat_rows": 0})
            if len(part) > STYLED_MAX_ROWS:
                continue
            if wrap is None or not len(part):
                self._set("column_formats", name, {"source_row": centred})
                continue
            width = widths[list(frame.columns).index(wrap)]
            lines = _line_counts(part[wrap], width)
            tall = np.flatnonzero(lines > 1)
            self._set(
                "row_heights",
                name,
                {int(i) + 1: float(LINE_HEIGHT * lines[i]) for i in tall},
            )
            self._set("column_formats", name, formats)

    def write(self, path: Path) -> None:
        """Big sheets are laid out empty by the writer, then filled (pipeline.report.xlsxzip)."""
        rx.write_worksheets(self.sheets, str(path), **self.options)
        if not self.big:
            return
        rows = {
            name: (len(part), partial(rows_xml, part, EXCEL_MAX_CELL_CHARS))
            for name, part in self.big.items()
        }
        try:
            fill_sheets(path, rows)
        except TooBig:  # past 4 GiB of XML: the writer's own ZIP64 file, the slow way
            sheets = [(name, self.big.get(name, cells)) for name, cells in self.sheets]
            rx.write_worksheets(sheets, str(path), **self.options)


def _empty_like(frame: pd.DataFrame) -> pd.DataFrame:
    """As many rows as `frame`, every cell empty: the writer sizes the sheet's ranges to them but
    writes no cell (an empty text is no cell), in a fraction of a second."""
    empty = np.full(len(frame), "", dtype=object)
    return pd.DataFrame({c: empty for c in frame.columns}, columns=frame.columns, copy=False)


def status_rules() -> list[dict[str, Any]]:
    """One conditional format per status: the cell's fill and text colour by its value."""
    return [
        {
            "type": "text",
            "criteria": "begins_with",
            "value": status,
            "format": rx.Format().set_background_color(fill).set_font_color(ink),
        }
        for status, (fill, ink) in STATUS_COLOURS.items()
    ]


def _lines(text: Any, width: float) -> int:
    """Lines a wrapped text takes in a column `width` characters wide (an estimate: words are
    not split, so a line holds a little less than the width)."""
    if not isinstance(text, str) or not text:
        return 1
    return int(_line_counts(pd.Series([text]), width)[0])


def _line_counts(texts: pd.Series, width: float) -> np.ndarray:
    per_line = max(int(width * 1.1) - 1, 8)  # a width unit is a digit; most letters are narrower
    lengths = np.fromiter(map(len, texts.tolist()), dtype=np.int64, count=len(texts))
    return np.maximum(1, -(-lengths // per_line))


def _summary_cell(value: Any) -> Any:
    """Counts stay numbers (they add up in Excel); text is made writable; None is an empty cell."""
    if value is None or isinstance(value, int | float):
        return value
    return encodable(str(value))


def column_widths(frame: pd.DataFrame) -> list[float]:
    """Readable widths from the header and an evenly spread sample of rows, capped at 60."""
    n = len(frame)
    picks: np.ndarray | list[int] = (
        np.linspace(0, n - 1, min(n, WIDTH_SAMPLE_ROWS)).astype(np.int64) if n else []
    )
    sample = frame.iloc[picks]
    widths = []
    for column in frame.columns:
        values = sample[column].astype(str)
        longest = int(values.str.len().max()) if len(values) else 0
        width = max(len(column) + 3, longest + 2, MIN_COLUMN_WIDTH)
        widths.append(float(min(width, MAX_COLUMN_WIDTH)))
    return widths


def split_sheets(title: str, frame: pd.DataFrame, limit: int) -> Iterator[tuple[str, pd.DataFrame]]:
    """("Rows", first `limit` rows), ("Rows 2", the next)...; one sheet even when empty."""
    if limit < 1:
        raise ValueError(f"sheet_rows must be at least 1, not {limit}")
    yield title, frame.iloc[:limit]
    for number, start in enumerate(range(limit, len(frame), limit), start=2):
        yield f"{title} {number}", frame.iloc[start : start + limit].reset_index(drop=True)


def encodable(text: str) -> str:
    """Text the writer can store: lone surrogates escaped, cut to Excel's cell limit."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:EXCEL_MAX_CELL_CHARS]


def _excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with text past Excel's cell limit cut to it (the same frame when none is)."""
    out = frame
    for column in TEXT_COLUMNS:
        values = frame[column]
        if not len(values) or max(map(len, values.tolist())) <= EXCEL_MAX_CELL_CHARS:
            continue
        if out is frame:
            out = frame.copy(deep=False)
        out[column] = values.str.slice(0, EXCEL_MAX_CELL_CHARS)
    return out
