"""A big report frame handed to polars a slice at a time, and report.csv written from those slices.

polars (Rust) writes a million report rows as CSV in about 1 s with the conversion from pandas,
where rustpy-xlsxwriter takes 2-2.8 s; pipeline.report.sheetxml builds a big sheet's XML from the
same slices. A slice of CHUNK_ROWS rows is converted, used and dropped, so the copy polars holds
stays small (about 12 MB of text, where a whole million rows would add 300 MB).

The CSV is byte for byte what rustpy-xlsxwriter writes (the tests compare the two): a byte order
mark, a header, `,` between fields, `\\n` after each row, a field quoted only when it holds `,`,
`"`, CR or LF, `"` doubled inside quotes, and an empty text as an empty field.

polars runs threads of its own, so it is imported only when a big frame is written, and never
in a process forked after it started them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import polars as pl

# Rows per slice: measured, 20,000 rows is the fastest for the sheet XML; a big slice costs more in
# fresh memory pages than it saves in calls (250,000 rows took twice the time).
CHUNK_ROWS = 20_000
# The largest integer a workbook cell holds exactly (numbers are doubles there).
MAX_EXACT_INT = 2**53
BOM = "\ufeff".encode()


def is_columnar(frame: pd.DataFrame) -> bool:
    """Whether every column is text (str cells) or integers this module converts as they are."""
    for _, values in frame.items():
        if pd.api.types.is_integer_dtype(values.dtype):
            if len(values) and int(np.abs(values.to_numpy(dtype=np.int64)).max()) >= MAX_EXACT_INT:
                return False
        elif not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            return False
    return True


def chunks(frame: pd.DataFrame, chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[int, pl.DataFrame]]:
    """(first row's position, the slice as polars) for each slice of `frame`; the columns are
    named c0, c1...: integers as Int64, everything else as String, with an empty or missing text
    as null (an empty field in the CSV, no cell in the workbook)."""
    import polars as pl  # only here: a run that writes no big frame never starts polars' threads

    numeric = [pd.api.types.is_integer_dtype(v.dtype) for _, v in frame.items()]
    for start in range(0, len(frame), chunk_rows):
        part = frame.iloc[start : start + chunk_rows]
        columns: dict[str, Any] = {}
        for i, (_, values) in enumerate(part.items()):
            if numeric[i]:
                columns[f"c{i}"] = pl.Series(values.to_numpy(dtype=np.int64), dtype=pl.Int64)
            else:
                columns[f"c{i}"] = _text(pl, values.tolist())
        yield start, pl.DataFrame(columns)


def _text(pl: Any, values: list[Any]) -> pl.Series:
    """A text column: "", None and NaN are null; other non-text values their text (report frames
    hold only str, pipeline.report.write.prepare_rows)."""
    try:
        series = pl.Series(values, dtype=pl.String)
    except TypeError:
        series = pl.Series(
            [v if isinstance(v, str) else None if pd.isna(v) else str(v) for v in values],
            dtype=pl.String,
        )
    return series.replace("", None)


def write_csv(frame: pd.DataFrame, path: Path, chunk_rows: int = CHUNK_ROWS) -> None:
    """`frame` as report.csv (module docstring): the same bytes rustpy-xlsxwriter writes."""
    import polars as pl

    with open(path, "wb") as out:
        out.write(BOM)
        header = pl.DataFrame(schema={str(c): pl.String for c in frame.columns})
        header.write_csv(out, include_header=True, line_terminator="\n")
        for _, chunk in chunks(frame, chunk_rows):
            chunk.write_csv(out, include_header=False, line_terminator="\n")
