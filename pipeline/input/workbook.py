"""Reading workbooks (XLSX/XLSM/ODS) with python-calamine: cached formula values, exact digits.

See pipeline/input/load.py for the rules every reader follows. A workbook that is a zip but whose
parts cannot be read (a sheet cut off half way by a broken upload, damaged shared strings or styles)
is "damaged": one InputError line, never a traceback. A sheet whose grid would be too big to build
(a stray cell in XFD1048576; pipeline/input/extent.py) is read cell by cell instead (sparse.py), with
a note naming how far it reaches.
"""

from __future__ import annotations

import datetime as dt
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import python_calamine as calamine

from pipeline.errors import InputError
from pipeline.input.extent import Oversized, column_letters, oversized_sheet
from pipeline.input.frame import LoadedFile, LoadOptions, build_frame, file_hash, is_blank
from pipeline.input.header import HEADER_SEARCH_ROWS, locate_header, no_columns_error, shorten
from pipeline.input.sparse import MAX_ROWS, SparseSheet

MAX_COLUMNS = 16_384  # XFD: a sheet's columns in Excel


def load_workbook(path: Path, where: str, options: LoadOptions) -> LoadedFile:
    digest = file_hash(path)
    kind = path.suffix.lower()
    try:
        workbook = calamine.CalamineWorkbook.from_path(str(path))
    except calamine.PasswordError:
        raise InputError(
            f"{where}: the workbook is password-protected; save a copy without a password"
        ) from None
    except (calamine.CalamineError, ValueError) as err:
        with open(path, "rb") as handle:
            start = handle.read(4)
        if "cell limit" in str(err).lower():  # calamine's own cap (ODS, at opening)
            raise InputError(
                f"{where}: a sheet reaches farther than cnam-batch reads ({shorten(str(err), 60)}); "
                "delete the cells beyond your data and save again, or save the sheet as CSV UTF-8"
            ) from None
        if start == b"PK\x03\x04":
            raise damaged(where, kind, None, err) from None
        raise InputError(
            f"{where}: not a valid {kind} workbook (it is not a zip archive); open it in a "
            f"spreadsheet program and save it again as {kind} or CSV UTF-8"
        ) from None

    def read(name: str) -> Rows:
        if kind != ".ods" and (big := oversized_sheet(path, name)) is not None:
            return big  # never handed to calamine: read cell by cell below
        try:
            return _sheet_rows(workbook, name)
        except (calamine.CalamineError, ValueError, OverflowError) as err:
            raise damaged(where, kind, name, err) from None

    with workbook:
        sheet, rows, notes = _choose_sheet(workbook, where, options, read)
    located = f"{where} sheet {sheet!r}"
    if isinstance(rows, Oversized):
        try:
            return _load_sparse(path, where, sheet, rows, options, notes, digest)
        except (ElementTree.ParseError, zipfile.BadZipFile, zlib.error, KeyError) as err:
            raise damaged(where, kind, sheet, err) from None
        except (ValueError, OSError, EOFError) as err:
            raise damaged(where, kind, sheet, err) from None
    candidates: list[tuple[int, list[str]]] = []
    for index, row in enumerate(rows):
        cells = [_cell_text(v) for v in row]
        if not is_blank(cells):
            candidates.append((index + 1, cells))
            if len(candidates) == HEADER_SEARCH_ROWS:
                break
    header = locate_header(candidates, options)
    if header is None:
        raise no_columns_error(located, candidates, options)
    header_row = candidates[header.position][0]
    numbers = _column_text(rows, header_row, header.number)
    names = _column_text(rows, header_row, header.name)
    frame, blank = build_frame(header_row + 1, numbers, names)
    return LoadedFile(path, where, sheet, frame, blank, notes + list(header.notes), digest)


def _load_sparse(
    path: Path,
    where: str,
    sheet: str,
    big: Oversized,
    options: LoadOptions,
    notes: list[str],
    digest: str,
) -> LoadedFile:
    """A sheet too big for a grid, read in two streaming passes: the first rows for the header,
    then only the number and name columns. The rows come out as the grid would have given them
    (blank rows up to the last row holding a value counted the same way)."""
    located = f"{where} sheet {sheet!r}"
    extent = big.extent
    far = f"{column_letters(extent.columns)}{extent.rows}"
    if extent.columns > MAX_COLUMNS or extent.rows > MAX_ROWS:
        raise InputError(
            f"{located}: a cell lies beyond XFD1048576 (at {far}), where no spreadsheet program "
            "writes; the workbook is damaged: upload it again, or open it in a spreadsheet "
            "program and save it again"
        )
    reader = SparseSheet(path, big.member)
    candidates: list[tuple[int, list[str]]] = []
    for index, values in reader.rows():
        cells = [""] * extent.columns
        for column, value in values.items():
            cells[column] = _cell_text(value)
        if not is_blank(cells):
            candidates.append((index + 1, cells))
            if len(candidates) == HEADER_SEARCH_ROWS:
                break
    candidates.sort(key=lambda c: c[0])
    header = locate_header(candidates, options)
    if header is None:
        raise no_columns_error(located, candidates, options)
    header_row = candidates[header.position][0]  # 1-based: rows below it are 0-based header_row+
    count = extent.rows - header_row
    numbers = [""] * max(count, 0)
    names = [""] * max(count, 0)
    for index, values in reader.rows(keep=(header.number, header.name)):
        if header_row <= index < extent.rows:
            numbers[index - header_row] = _cell_text(values.get(header.number, ""))
            names[index - header_row] = _cell_text(values.get(header.name, ""))
    frame, blank = build_frame(header_row + 1, numbers, names)
    note = (
        f"sheet {sheet!r} reaches {far} ({extent.cells:,} cells counting the empty ones), so it "
        "was read cell by cell; delete the cells beyond your data (Ctrl+End shows the last one)"
    )
    return LoadedFile(path, where, sheet, frame, blank, [*notes, note, *header.notes], digest)


def damaged(where: str, kind: str, sheet: str | None, err: Exception) -> InputError:
    """The one line for a workbook that is a zip archive whose parts cannot be read."""
    part = f"sheet {sheet!r}: " if sheet is not None else ""
    return InputError(
        f"{where}: the workbook is damaged ({part}{shorten(str(err), 60)}); upload it again, or "
        f"open it in a spreadsheet program and save it again as {kind} or CSV UTF-8"
    )


def _choose_sheet(
    workbook: calamine.CalamineWorkbook,
    where: str,
    options: LoadOptions,
    read: Callable[[str], Rows],
) -> tuple[str, Rows, list[str]]:
    """The sheet to read and its rows (row i is spreadsheet row i + 1, column j is column j + 1).

    --sheet picks by name (exact, else case-insensitive). Otherwise the first visible worksheet,
    or, when it holds no data, the first one that does, with a note saying so.
    """
    names = workbook.sheet_names
    listed = ", ".join(repr(n) for n in names)
    if options.sheet is not None:
        wanted = options.sheet.strip()
        matches = [n for n in names if n == options.sheet] or [
            n for n in names if n.strip().casefold() == wanted.casefold()
        ]
        if len(matches) != 1:
            raise InputError(
                f"{where}: no sheet named {options.sheet!r}; the sheets are {listed} "
                "(pick one with --sheet)"
            )
        rows = read(matches[0])
        if not rows:
            raise InputError(
                f"{where} sheet {matches[0]!r} is empty; choose another with --sheet ({listed})"
            )
        return matches[0], rows, []
    worksheets = [m for m in workbook.sheets_metadata if m.typ == calamine.SheetTypeEnum.WorkSheet]
    hidden = [m.name for m in worksheets if m.visible != calamine.SheetVisibleEnum.Visible]
    visible = [m.name for m in worksheets if m.name not in hidden] or names
    for name in visible:
        rows = read(name)
        if rows:
            notes = (
                [f"first sheet {visible[0]!r} is empty; used {name!r}"]
                if name != visible[0]
                else []
            )
            skipped = [h for h in hidden if names.index(h) < names.index(name)]
            notes += [f"hidden sheet {h!r} was not read; used {name!r}" for h in skipped]
            return name, rows, notes
    raise InputError(
        f"{where}: every sheet is empty ({listed}); "
        "it needs a header row with number and name columns"
    )


Rows = list[list[object]] | Oversized  # a sheet's cells from A1, or a sheet too big for a grid


def _sheet_rows(workbook: calamine.CalamineWorkbook, name: str) -> list[list[object]]:
    """A sheet's cells from A1 on, or [] when no cell holds anything but whitespace."""
    sheet = workbook.get_sheet_by_name(name)
    rows: list[list[object]] = sheet.to_python(skip_empty_area=False)  # type: ignore[assignment]
    for row in rows:
        for value in row:
            if not isinstance(value, str) or value.strip():
                return rows
    return []


def _cell_text(value: object) -> str:
    """A workbook cell as the text a person sees: 16463439697.0 -> "16463439697", True -> "TRUE",
    a date -> ISO text; non-integral numbers in their shortest exact form (repr)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:  # beyond that a float holds no exact digits
            return str(int(value))
        return repr(value)
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    if value is None:
        return ""
    return str(value)


def _column_text(rows: list[list[object]], header_row: int, column: int) -> list[str]:
    """Text of one column below the header row (header_row is 1-based, so rows[header_row] is the
    first data row)."""
    convert = _cell_text
    out = []
    for row in rows[header_row:]:
        value = row[column] if column < len(row) else ""
        out.append(value if type(value) is str else convert(value))
    return out
