"""The row frame every reader produces, and the options that choose its columns.

`LoadedFile.frame` has three columns: source_row (int64, the row a person sees), input_number and
input_name (text exactly as typed). Blank rows (both cells empty) are dropped and counted.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

FRAME_COLUMNS = ("source_row", "input_number", "input_name")


@dataclass(frozen=True)
class LoadOptions:
    """--sheet, --number-column and --name-column. A column is header text (compared after
    normalize_header), a column letter (A, B, ... AA) or a 1-based index."""

    sheet: str | None = None
    number_column: str | None = None
    name_column: str | None = None


@dataclass
class LoadedFile:
    path: Path
    source_file: str  # what the report's source_file column shows (the path as the user named it)
    sheet: str | None  # sheet used (workbooks)
    frame: pd.DataFrame  # columns: source_row (int64), input_number (str), input_name (str)
    blank_rows: int  # rows skipped because both cells were blank
    notes: list[str]  # human notes, e.g. "first sheet 'Cover' is empty; used 'Numbers'"
    content_hash: str  # sha256 hex of the file's bytes


@dataclass(frozen=True)
class InputIssue:
    """A file the run did not read, or read but did not move, and why (summary.json: {file, reason})."""

    file: str  # as the report shows it: the path as the user named it (folder / name)
    reason: str


# Why a drop-folder file was not read again (summary.json inputs_skipped_reasons, Summary sheet).
TAKEN_BEFORE = "an earlier run took this file (same content); --reprocess takes it again"


def is_blank(cells: Sequence[str]) -> bool:
    return not any(c.strip() for c in cells)


def build_frame(first_row: int, numbers: list[str], names: list[str]) -> tuple[pd.DataFrame, int]:
    """Rows numbered from first_row; blank rows (both cells empty/whitespace) dropped, counted."""
    count = len(numbers)
    rows = np.arange(first_row, first_row + count, dtype=np.int64)
    # Vectorized: C-level maps over the number column, Python only for rows whose number is blank.
    number_blank = np.fromiter(map(operator.not_, numbers), bool, count) | np.fromiter(
        map(str.isspace, numbers), bool, count
    )
    blank = np.zeros(count, dtype=bool)
    for index in np.flatnonzero(number_blank).tolist():
        blank[index] = not names[index].strip()
    blank_count = int(blank.sum())
    number_values: list[str] | np.ndarray = numbers
    name_values: list[str] | np.ndarray = names
    if blank_count:
        keep = ~blank
        rows = rows[keep]
        number_values = np.array(numbers, dtype=object)[keep]
        name_values = np.array(names, dtype=object)[keep]
    frame = pd.DataFrame(
        {
            "source_row": rows,
            "input_number": pd.array(number_values, dtype="str"),
            "input_name": pd.array(name_values, dtype="str"),
        },
        columns=list(FRAME_COLUMNS),
    )
    return frame, blank_count


def file_hash(path: Path) -> str:
    """sha256 hex of the file's bytes, read in 1 MiB blocks (the journal's identity of an input)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
