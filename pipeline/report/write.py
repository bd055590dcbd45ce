"""Write a run's report files: report.csv, report.xlsx, summary.json and carried_over.csv.

Every file is written to a hidden temporary name in the run folder (`.report.csv.tmp`), flushed to
disk, and only renamed into place (`os.replace`) once every file of the report has been written, so
a crash or a full disk never leaves half a report: either the files appear whole or none do, and the
temporary files are removed on failure. summary.json is renamed last, so its presence means the
report is complete.

A big report's CSV is written by polars (pipeline.report.columnar: about 1 s a million rows, where
rustpy-xlsxwriter takes 2-2.8 s and pandas' `to_csv` 4.5 s), a small one by rustpy-xlsxwriter;
the two write the same bytes. The workbook's sheets are pipeline.report.workbook's.

Cells that a spreadsheet program would run as a formula (SPEC "Report"): in report.csv a text value
starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote in front
(`=HYPERLINK(...)` -> `'=HYPERLINK(...)`, `+15551234567` -> `'+15551234567`), the OWASP advice for
CSV injection; in report.xlsx values are stored unchanged as text cells, which Excel never
evaluates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.model import REPORT_COLUMNS
from pipeline.report.files import uses_columnar, write_all, write_csv, write_text
from pipeline.report.workbook import write_xlsx
from pipeline.summary import RunSummary

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = tuple(c for c in REPORT_COLUMNS if c != "source_row")

# Each text column is joined once by NUL: substring searches over that one string find, in C,
# whether any value needs its formula start neutralized, which is rare; only then is a mask built.
_SEP = "\x00"
_FORMULA_CODES = tuple(ord(p) for p in FORMULA_PREFIXES)
_AFTER_SEP_FORMULA = re.compile("\x00[=+\\-@\t\r]")


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

    report.xlsx: "Summary" (in words), "Needs attention" (the rows a person must act on), "Rows"
    (continued on "Rows 2", "Rows 3"... past Excel's 1,048,575 data rows per sheet), then
    "Carried over" (pipeline.report.workbook). Every cell is text except source_row (a number, so
    it sorts) and the Summary's counts; a text longer than Excel's 32,767-character cell limit is
    cut to it in the workbook only.
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
    csvs = {"report.csv": main.csv}
    if carried is not None:
        files.append(("carried_over.csv", lambda tmp: write_csv(carried.csv, tmp)))
        csvs["carried_over.csv"] = carried.csv
    files.append(("summary.json", lambda tmp: write_text(tmp, summary_text)))
    # A big report's CSVs are written by polars in a second thread while this one writes the
    # workbook (pipeline.report.files.write_all); a small one's by rustpy-xlsxwriter, which holds
    # the GIL, so in turn.
    beside = {name for name, frame in csvs.items() if uses_columnar(frame)}
    return write_all(run_dir, files, beside=beside)


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
