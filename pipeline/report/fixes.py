"""suggested_fixes.csv: the rows a rewrite of the name fixes, ready to run again.

One line per row rejected as name_too_long or name_bad_characters that has a suggestion, in
input order: the number, the suggestion as the name, then what it fixes (the name as typed, the
reason code) and where the row came from. The first two columns are ones `cnam-batch run` finds
by their header (`number`, `name`); the others have headers the loader does not take for a
number or a name column, so a person can review the file in Excel, edit a name they dislike,
and run it as it is: `cnam-batch run output/<run_id>/suggested_fixes.csv`.

The number is the normalized `1NPANXXXXXX`: eleven digits, which Excel shows and saves whole.
Cells that a spreadsheet would run as a formula get a leading `'`, as in report.csv.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.report.files import write_all, write_csv
from pipeline.report.write import FORMULA_PREFIXES
from pipeline.rules.rows import fixable

FIXES_FILE = "suggested_fixes.csv"
FIXES_COLUMNS = ("number", "name", "input_name", "reason_code", "source_file", "source_row")


def suggested_fixes(rows: pd.DataFrame) -> pd.DataFrame:
    """The file's rows: FIXES_COLUMNS, one per fixable row of `rows` (report columns)."""
    picked = rows[fixable(rows)]
    frame = pd.DataFrame(
        {
            "number": picked["number"].astype(str).to_numpy(),
            "name": picked["suggestion"].astype(str).to_numpy(),
            "input_name": picked["input_name"].astype(str).to_numpy(),
            "reason_code": picked["reason_code"].astype(str).to_numpy(),
            "source_file": picked["source_file"].astype(str).to_numpy(),
            "source_row": picked["source_row"].astype("int64").to_numpy(),
        },
        columns=list(FIXES_COLUMNS),
    )
    for column in ("name", "input_name", "source_file"):
        values = frame[column]
        risky = values.str.startswith(FORMULA_PREFIXES)
        if risky.any():
            frame.loc[risky, column] = "'" + values[risky]
    return frame


def write_fixes(run_dir: Path, rows: pd.DataFrame) -> Path | None:
    """Write run_dir/suggested_fixes.csv when `rows` has a fixable row; None when it has none."""
    frame = suggested_fixes(rows)
    if not len(frame):
        return None
    return write_all(run_dir, [(FIXES_FILE, lambda tmp: write_csv(frame, tmp))])[0]


def fixes_note(count: int, path: Path) -> str:
    """The line that points a person at the file (stderr, run.log, the email)."""
    rows = "1 rejected row has" if count == 1 else f"{count:,} rejected rows have"
    return (
        f"{rows} a suggested name in {path}: review it (edit any name), then run it: "
        f"cnam-batch run {path}"
    )
