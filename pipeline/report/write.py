"""Write a run's report files: report.csv, report.xlsx, summary.json and carried_over.csv.

Every file is written to a hidden temporary name in the run folder (`.report.csv.tmp`), flushed to
disk, and only renamed into place (`os.replace`) once every file of the report has been written, so
a crash or a full disk never leaves half a report: either the files appear whole or none do, and the
temporary files are removed on failure. summary.json is renamed last, so its presence means the
report is complete.

rustpy-xlsxwriter (Rust, constant memory) writes both formats. Measured on this project's 2-core
machine for 1,000,000 rows x 12 columns: the workbook in about 7.5 s of CPU where xlsxwriter takes
over 35 s (engineering notes), the CSV in about 2 s (pandas' `to_csv` about 4.5 s), with no memory
added beyond the rows frame. It stores every Python `str` as a text cell, never as a number, date
or formula, which is exactly what the report needs.

Cells that a spreadsheet program would run as a formula (SPEC "Report"): in report.csv a text value
starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote in front
(`=HYPERLINK(...)` -> `'=HYPERLINK(...)`, `+15551234567` -> `'+15551234567`), the OWASP advice for
CSV injection; in report.xlsx values are stored unchanged as text cells, which Excel never
evaluates.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rustpy_xlsxwriter as rx

from pipeline.model import REPORT_COLUMNS, STATUS_ORDER
from pipeline.report.files import write_all, write_csv, write_text
from pipeline.summary import RunSummary

EXCEL_MAX_DATA_ROWS = 1_048_575  # 1,048,576 rows per sheet, one of them the header
PARALLEL_MIN_ROWS = 100_000  # below this, forking costs more than it saves
EXCEL_MAX_CELL_CHARS = 32_767  # Excel refuses a longer text cell
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = tuple(c for c in REPORT_COLUMNS if c != "source_row")
SUMMARY_SHEET = "Summary"
ROWS_SHEET = "Rows"
CARRIED_SHEET = "Carried over"
MIN_COLUMN_WIDTH = 8
MAX_COLUMN_WIDTH = 60
WIDTH_SAMPLE_ROWS = 2_000
HEADER_FILL = "#DDEBF7"

# Each text column is joined once by NUL: substring searches over that one string find, in C,
# whether any value needs its formula start neutralized, which is rare; only then is a mask built.
_SEP = "\x00"
_FORMULA_CODES = tuple(ord(p) for p in FORMULA_PREFIXES)
_AFTER_SEP_FORMULA = re.compile("\x00[=+\\-@\t\r]")
# RunSummary fields the Summary sheet shows in its own sections; any other is listed under "More".
_SHOWN_KEYS = frozenset(
    {
        "run_id",
        "started_at",
        "finished_at",
        "dry_run",
        "exit_code",
        "inputs",
        "rows_total",
        "by_status",
        "by_reason",
        "api",
        "inputs_skipped",
        "inputs_not_moved",
        "carried_over",
    }
)


def new_run_dir(output: Path, now: datetime) -> tuple[str, Path]:
    """Create `output/<run_id>/` and return (run_id, path); run_id is `YYYYMMDDTHHMMSSZ` in UTC.

    A naive `now` is taken to be UTC already. When the folder exists (two runs in the same second),
    `-2`, `-3`... is appended; each candidate is created with exist_ok=False, so two processes
    racing for the same second still get different folders. OSError (unwritable `output`)
    propagates for the caller to turn into a message.
    """
    if now.tzinfo is not None:
        now = now.astimezone(UTC)
    base = now.strftime("%Y%m%dT%H%M%SZ")
    output.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        run_id = base if n == 1 else f"{base}-{n}"
        path = output / run_id
        try:
            path.mkdir(exist_ok=False)
        except FileExistsError:
            continue
        return run_id, path
    raise FileExistsError(f"{output}: 9,999 run folders named {base}*; clean up the folder")


def write_reports(
    run_dir: Path,
    rows: pd.DataFrame,
    summary: RunSummary,
    carried_over: pd.DataFrame | None = None,
) -> list[Path]:
    """Write the report files into run_dir and return their paths.

    Returns [report.csv, report.xlsx, summary.json] plus carried_over.csv when `carried_over` is
    not None (an empty frame still gives the file and the "Carried over" sheet, with headers).

    `rows` and `carried_over` must hold REPORT_COLUMNS (source_row int, the others text); other
    columns are ignored and the files carry exactly REPORT_COLUMNS, rows in the given order.
    Missing cells (None/NaN) are written empty, non-text cells as their text, and text Python
    cannot encode (a file name with undecodable bytes) with backslash escapes.

    report.csv and carried_over.csv are UTF-8 *with* a byte order mark: without it Excel, opening
    the file by double-click, decodes it in the local code page and garbles names like "CAFÉ";
    scripts lose nothing (pandas and `encoding="utf-8-sig"` skip the mark). Lines end in "\\n";
    values are quoted only when needed. Formula-like values get a leading `'` (module docstring).

    report.xlsx: a "Summary" sheet first, then "Rows" (continued on "Rows 2", "Rows 3"... past
    Excel's 1,048,575 data rows per sheet), then "Carried over". Every cell is text except
    source_row (a number, so it sorts) and the Summary's counts; a text longer than Excel's
    32,767-character cell limit is cut to it in the workbook only.
    """
    main = prepare_rows(rows, "rows")
    carried = None if carried_over is None else prepare_rows(carried_over, "carried_over")
    summary_text = _summary_json(summary)  # before any file: an unserializable summary fails fast
    files: list[tuple[str, Callable[[Path], None]]] = [
        ("report.csv", lambda tmp: write_csv(main.csv, tmp)),
        (
            "report.xlsx",
            lambda tmp: write_xlsx(
                tmp, main.text, summary, None if carried is None else carried.text
            ),
        ),
    ]
    if carried is not None:
        files.append(("carried_over.csv", lambda tmp: write_csv(carried.csv, tmp)))
    files.append(("summary.json", lambda tmp: write_text(tmp, summary_text)))
    # The workbook is the slow file (~8 s a million rows, in Rust code that holds the GIL): on
    # a big report a forked child writes it while this process writes the rest.
    in_child = {"report.xlsx"} if len(main.text) >= PARALLEL_MIN_ROWS else set()
    return write_all(run_dir, files, in_child=in_child)


def write_summary(run_dir: Path, summary: RunSummary) -> Path:
    """Rewrite summary.json alone, atomically (the runner updates exit_code after a failed email)."""
    text = _summary_json(summary)
    return write_all(run_dir, [("summary.json", lambda tmp: write_text(tmp, text))])[0]


@dataclass(frozen=True)
class ReportFrames:
    """One set of report rows in the two forms the files need."""

    text: pd.DataFrame  # REPORT_COLUMNS, every text cell a str: the workbook's cells
    csv: pd.DataFrame  # the same, formula-like values quoted: the CSV's cells


def prepare_rows(rows: pd.DataFrame, what: str = "rows") -> ReportFrames:
    """Exactly REPORT_COLUMNS, source_row int64, text columns holding only encodable `str`.

    One pass per column (a join and a regex search, both in C) finds whether the column needs any
    fixing; clean columns, the usual case, are passed through without a copy.
    """
    missing = [c for c in REPORT_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"{what}: report columns missing: {', '.join(missing)}")
    rows = rows.reset_index(drop=True)
    text = {"source_row": rows["source_row"].astype("int64")}
    csv = dict(text)
    for column in TEXT_COLUMNS:
        values, joined = _text_column(rows[column])
        text[column] = values
        csv[column] = _quote_formulas(values, joined) if _any_formula(joined) else values
    return ReportFrames(
        text=pd.DataFrame(text, columns=list(REPORT_COLUMNS), copy=False),
        csv=pd.DataFrame(csv, columns=list(REPORT_COLUMNS), copy=False),
    )


def _text_column(values: pd.Series) -> tuple[pd.Series, str]:
    """The column as encodable str values, and those values joined by NUL (for the checks)."""
    try:
        joined = _SEP.join(values.tolist())
    except TypeError:  # a missing or non-str cell: empty, or its text
        values = values.astype(object).where(values.notna(), "").astype(str)
        joined = _SEP.join(values.tolist())
    if not joined.isascii():
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, e.g. a file name with undecodable bytes
            values = values.map(_encodable)
            joined = _encodable(joined)
    return values, joined


def _encodable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _any_formula(joined: str) -> bool:
    """Whether some value of the NUL-joined column starts with = + - @ TAB or CR.

    One regex search in C (4x faster than six substring searches). A NUL inside a value can only
    cause a false alarm, which the exact mask then sorts out.
    """
    return joined.startswith(FORMULA_PREFIXES) or _AFTER_SEP_FORMULA.search(joined) is not None


def _quote_formulas(values: pd.Series, joined: str) -> pd.Series:
    """A `'` in front of each value starting with = + - @ TAB or CR, vectorized.

    Each value's first character is read straight out of the joined column's code points (ASCII
    bytes, or UTF-32 when the column has other characters) at the value's offset, so no Python
    code runs per row; pandas' `str.startswith` does, and takes 3-4x longer.
    """
    lengths = np.fromiter(map(len, values.tolist()), dtype=np.int64, count=len(values))
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    if joined.isascii():
        codes = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    else:
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype="<u4")
    first = codes[np.minimum(starts, len(codes) - 1)] if len(codes) else starts
    risky = (lengths > 0) & np.isin(first, _FORMULA_CODES)
    cells = values.to_numpy(dtype=object, copy=True)
    cells[risky] = "'" + cells[risky]
    return pd.Series(cells, index=values.index, dtype=values.dtype)


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
        _write_workbook(path, rows, summary, carried_over, sheet_rows)
    except RuntimeError:
        # The writer refuses a cell over Excel's 32,767 characters. Such a value is rare (only a
        # CSV input can hold one), so it is looked for only now rather than on every run.
        safe_rows = _excel_safe(rows)
        safe_carried = None if carried_over is None else _excel_safe(carried_over)
        if safe_rows is rows and safe_carried is carried_over:
            raise
        _write_workbook(path, safe_rows, summary, safe_carried, sheet_rows)


def _write_workbook(
    path: Path,
    rows: pd.DataFrame,
    summary: RunSummary,
    carried_over: pd.DataFrame | None,
    sheet_rows: int,
) -> None:
    header = rx.Format().set_bold().set_background_color(HEADER_FILL).set_border("thin")
    bold = rx.Format().set_bold()
    summary_rows, headings = _summary_sheet(summary)
    sheets: list[tuple[str, Any]] = [(SUMMARY_SHEET, summary_rows)]
    data_sheets: list[str] = []
    widths: dict[str, list[float] | dict[str, float]] = {SUMMARY_SHEET: [28, 60]}
    for title, frame in ((ROWS_SHEET, rows), (CARRIED_SHEET, carried_over)):
        if frame is None:
            continue
        sample_widths = column_widths(frame)
        for name, part in _split(title, frame, sheet_rows):
            sheets.append((name, part))
            data_sheets.append(name)
            widths[name] = sample_widths
    rx.write_worksheets(
        sheets,
        str(path),
        header_format={name: header for name, _ in sheets},
        row_formats={SUMMARY_SHEET: {row: bold for row in headings}},
        column_widths=widths,
        freeze_panes={name: {"row": 1, "col": 0} for name in data_sheets},
        autofilter={name: True for name in data_sheets},
        # Digits kept as text on purpose: no green "number stored as text" triangles.
        ignore_errors={name: list(TEXT_COLUMNS) for name in data_sheets},
    )


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


def _split(title: str, frame: pd.DataFrame, limit: int) -> Iterator[tuple[str, pd.DataFrame]]:
    """("Rows", first `limit` rows), ("Rows 2", the next)...; one sheet even when empty."""
    if limit < 1:
        raise ValueError(f"sheet_rows must be at least 1, not {limit}")
    yield title, frame.iloc[:limit]
    for number, start in enumerate(range(limit, len(frame), limit), start=2):
        yield f"{title} {number}", frame.iloc[start : start + limit].reset_index(drop=True)


# --- summary ------------------------------------------------------------------------------------


def _summary_json(summary: RunSummary) -> str:
    content = summary.as_json()
    try:
        text = json.dumps(content, indent=2, ensure_ascii=False, default=_json_default) + "\n"
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: let json escape them
        text = json.dumps(content, indent=2, default=_json_default) + "\n"
    return text


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    raise TypeError(f"summary.json: {type(value).__name__} value {value!r} is not JSON")


def _summary_sheet(summary: RunSummary) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of ("Item", "Value") and the sheet row indexes of the section headings (bold)."""
    rows: list[dict[str, Any]] = []
    headings: list[int] = []

    def heading(title: str) -> None:
        if rows:
            rows.append({"Item": None, "Value": None})
        headings.append(len(rows) + 1)  # sheet row index: the header is row 0
        rows.append({"Item": title, "Value": None})

    def fact(item: str, value: Any) -> None:
        rows.append({"Item": _excel_text(item), "Value": _cell(value)})

    heading("Run")
    fact("run_id", summary.run_id)
    fact("started_at", summary.started_at)
    fact("finished_at", summary.finished_at)
    fact("dry_run", "yes" if summary.dry_run else "no")
    fact("exit_code", int(summary.exit_code))
    fact("rows_total", summary.rows_total)
    fact("carried_over", summary.carried_over)

    heading("Rows by status")
    by_status = {str(k): v for k, v in summary.by_status.items()}
    for status in STATUS_ORDER:
        fact(status.value, by_status.pop(status.value, 0))
    for other, count in by_status.items():
        fact(other, count)

    heading("Rows by reason")
    by_reason = {str(k): v for k, v in summary.by_reason.items()}
    for code, count in sorted(by_reason.items(), key=lambda kv: (-_count(kv[1]), kv[0])):
        fact(code, count)
    if not by_reason:
        fact("(none)", "")

    heading("API requests")
    for counter in dataclasses.fields(summary.api):
        fact(counter.name, getattr(summary.api, counter.name))

    heading("Inputs")
    for item in summary.inputs:
        fact(_text(item), "")
    if not summary.inputs:
        fact("(none)", "")
    heading("Inputs skipped")
    for skipped in summary.inputs_skipped:
        if isinstance(skipped, str):  # a name alone: a file an earlier run took
            fact(_text(skipped), "an earlier run took this file (same content)")
        else:
            fact(_text(skipped.file), _text(skipped.reason))
    if not summary.inputs_skipped:
        fact("(none)", "")
    if summary.inputs_not_moved:
        heading("Inputs not moved")
        for issue in summary.inputs_not_moved:
            fact(_text(issue.file), _text(issue.reason))

    # Every other field, by its summary.json name: a new field shows here without a change.
    extra = [(k, v) for k, v in summary.as_json().items() if k not in _SHOWN_KEYS]
    if extra:
        heading("More")
        for key, value in extra:
            if isinstance(value, Mapping):
                fact(str(key), "" if value else "(none)")
                for sub, subvalue in value.items():
                    fact(f"  {sub}", subvalue)
            else:
                fact(str(key), value)
    return rows, headings


def _cell(value: Any) -> Any:
    """Numbers stay numbers (counts add up in Excel); everything else becomes text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | np.integer | np.floating):
        return value.item() if isinstance(value, np.generic) else value
    return _excel_text(_text(value))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return "; ".join(_text(v) for v in value)
    return str(value)


def _excel_text(text: str) -> str:
    return _encodable(text)[:EXCEL_MAX_CELL_CHARS]


def _count(value: Any) -> float:
    return value if isinstance(value, int | float) else 0
