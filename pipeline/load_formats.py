"""Reading the two kinds of input: delimited text (CSV/TSV/TXT) and workbooks (XLSX/XLSM/ODS).

Split from load.py, which holds the public API, header detection and frame building; see its
docstring for the rules both readers follow.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import python_calamine as calamine

from pipeline.errors import InputError
from pipeline.load import (
    _CSV_CHUNK_ROWS,
    _SIGNATURES,
    _SPARE_FIELDS,
    DELIMITERS,
    HEADER_SEARCH_ROWS,
    LoadedFile,
    LoadOptions,
    _build_frame,
    _Header,
    _is_blank,
    _locate_header,
    _no_columns_error,
    _shorten,
    file_hash,
)

# --------------------------------------------------------------------------------------- delimited


@dataclass(frozen=True)
class _Record:
    number: int  # record number, blank records included: the row a spreadsheet program shows
    fields: list[str]
    end_line: int  # physical line (1-based) where the record ends
    end: int  # character offset just past the record


class _Lines:
    """A text's lines (line ends kept) for csv.reader, counting what the reader consumed.

    That maps records back to physical line numbers, and to the offset where the body starts."""

    _LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")

    def __init__(self, text: str) -> None:
        self._matches = self._LINE.finditer(text)
        self.count = 0
        self.end = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        match = next(self._matches)
        self.count += 1
        self.end = match.end()
        return match.group()


def _load_delimited(path: Path, where: str, options: LoadOptions) -> LoadedFile:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    text, encoding = _decode(data, where)
    notes = [] if encoding.startswith("utf") else [f"read as {encoding} (the file is not UTF-8)"]
    delimiters = DELIMITERS if path.suffix.lower() != ".tsv" else ("\t", ",", ";", "|")
    found: tuple[str, list[_Record], _Header] | None = None
    for delimiter in delimiters:
        records = _sample_records(text, delimiter, where)
        header = _locate_header(_candidates(records), options)
        if header is not None:
            found = (delimiter, records, header)
            break
    if found is None:
        delimiter = _likely_delimiter(text, delimiters)
        raise _no_columns_error(
            where, _candidates(_sample_records(text, delimiter, where)), options
        )
    delimiter, records, header = found
    head = [r for r in records if not _is_blank(r.fields)][header.position]
    width = len(head.fields)
    body = text[head.end :]
    if body:
        # UTF-8 input goes to pandas as it is on disk; other encodings are re-encoded.
        skip = len(_bom(data)) + len(text[: head.end].encode("utf-8"))
        body_bytes = data[skip:] if encoding == "utf-8" else None
        numbers, names = _read_body(
            body, body_bytes, delimiter, width, header, head.end_line, where
        )
    else:
        numbers, names = [], []
    frame, blank = _build_frame(head.number + 1, numbers, names)
    return LoadedFile(path, where, None, frame, blank, notes + list(header.notes), digest)


def _bom(data: bytes) -> bytes:
    for bom in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if data.startswith(bom):
            return bom
    return b""


def _decode(data: bytes, where: str) -> tuple[str, str]:
    """The file's text and its encoding: UTF-8 (BOM optional), UTF-16 with BOM, else cp1252."""
    bom = _bom(data)
    if bom:
        encoding = {codecs.BOM_UTF8: "utf-8", codecs.BOM_UTF16_LE: "utf-16-le"}.get(
            bom, "utf-16-be"
        )
        try:
            text = data[len(bom) :].decode(encoding)
        except UnicodeDecodeError as err:
            line = _line_at(data[len(bom) : len(bom) + err.start].decode(encoding, "replace"))
            raise InputError(
                f"{where} line {line}: not valid {encoding.upper()} although the file says so; "
                "save it again as CSV UTF-8"
            ) from None
    else:
        for signature, what in _SIGNATURES:
            if data.startswith(signature):
                raise InputError(f"{where}: not a text file but {what}")
        nul = data.find(b"\x00")
        if nul >= 0:
            raise InputError(
                f"{where} line {_line_at(data[:nul].decode('latin-1'))}: NUL bytes, so this is not "
                "delimited text (binary data, or UTF-16 without a byte-order mark); "
                "save it as CSV UTF-8"
            )
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as err:
            line, byte = _line_at(data[: err.start].decode("latin-1")), data[err.start]
            raise InputError(
                f"{where} line {line}: byte 0x{byte:02X} is not text in UTF-8 or cp1252; "
                "save the file as CSV UTF-8"
            ) from None
    nul_char = text.find("\x00")
    if nul_char >= 0:
        raise InputError(
            f"{where} line {_line_at(text[:nul_char])}: NUL characters, so this is not delimited "
            "text; save it as CSV UTF-8"
        )
    return text, encoding


def _line_at(before: str) -> int:
    """1-based line number of the position that follows `before` (\\r\\n, \\n and \\r end lines)."""
    return before.count("\n") + before.count("\r") - before.count("\r\n") + 1


def _sample_records(text: str, delimiter: str, where: str) -> list[_Record]:
    """Records from the top of the file until HEADER_SEARCH_ROWS non-blank ones were seen."""
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=delimiter)
    records: list[_Record] = []
    nonblank = 0
    while nonblank < HEADER_SEARCH_ROWS:
        start = lines.count + 1
        try:
            fields = next(reader, None)
        except csv.Error as err:
            raise _csv_error(where, start, err) from None
        if fields is None:
            break
        records.append(_Record(len(records) + 1, fields, lines.count, lines.end))
        nonblank += not _is_blank(fields)
    return records


def _candidates(records: list[_Record]) -> list[tuple[int, list[str]]]:
    """Non-blank records as (record number, fields): the rows a header may be."""
    return [(r.number, r.fields) for r in records if not _is_blank(r.fields)]


def _likely_delimiter(text: str, delimiters: tuple[str, ...]) -> str:
    """For the error message only: the delimiter most common on the first non-blank line."""
    first = next((line for line in text[:65536].splitlines() if line.strip()), "")
    return max(delimiters, key=first.count)


def _csv_error(where: str, line: int, err: csv.Error) -> InputError:
    if "field larger than field limit" in str(err):
        return InputError(
            f"{where} line {line}: a field longer than {csv.field_size_limit():,} characters; "
            "check for a quote that is never closed"
        )
    return InputError(f"{where} line {line}: cannot be read as delimited text ({err})")


def _read_body(
    body: str,
    body_bytes: bytes | None,
    delimiter: str,
    width: int,
    header: _Header,
    lines_before: int,
    where: str,
) -> tuple[list[str], list[str]]:
    """The number and name cells of every record after the header.

    The fast path is pandas' C parser. It reads as many columns as the header has (or the first
    record, if wider: trailing delimiters on data rows are common), so that it refuses a record
    with more fields; columns past the header's must stay blank. If that fails it tries once more
    with a few spare columns. When both refuse, the exact path re-reads the body with the csv
    module and names the line of the problem.
    """
    # pandas takes extra fields of the FIRST record as an index (or drops them) instead of refusing
    # them, so that record's width is checked here; any later wider record makes pandas raise.
    try:
        first = len(next(csv.reader(_Lines(body), delimiter=delimiter), []))
    except csv.Error:
        first = width + _SPARE_FIELDS + 1
    for columns in dict.fromkeys((max(first, width), width + _SPARE_FIELDS)):
        if first <= columns:
            try:
                return _read_body_fast(
                    body_bytes or body.encode("utf-8"), delimiter, width, columns, header
                )
            except ValueError:  # pandas' ParserError, or a spare column that is not blank
                pass
    return _read_body_exact(body, delimiter, width, header, lines_before, where)


def _read_body_fast(
    body: bytes, delimiter: str, width: int, columns: int, header: _Header
) -> tuple[list[str], list[str]]:
    """pandas reads `columns` fields a record (raising on more); those past `width` must be blank."""
    chunks = pd.read_csv(
        io.BytesIO(body),
        sep=delimiter,
        header=None,
        names=range(columns),
        index_col=False,
        dtype=object,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=False,  # a blank line is a record: keeps source_row right
        quotechar='"',
        doublequote=True,
        engine="c",
        encoding="utf-8",
        on_bad_lines="error",
        chunksize=_CSV_CHUNK_ROWS,
    )
    numbers: list[str] = []
    names: list[str] = []
    with chunks:
        for chunk in chunks:
            for spare in range(width, columns):
                cells = chunk[spare]
                filled = cells[cells != ""]
                if len(filled) and filled.str.strip().ne("").any():
                    raise ValueError("a record has more fields than the header")
            numbers.extend(chunk[header.number].tolist())
            names.extend(chunk[header.name].tolist())
    return numbers, names


def _read_body_exact(
    body: str, delimiter: str, width: int, header: _Header, lines_before: int, where: str
) -> tuple[list[str], list[str]]:
    lines = _Lines(body)
    reader = csv.reader(lines, delimiter=delimiter)
    numbers: list[str] = []
    names: list[str] = []
    line, offset = 1, 0  # where the next record starts
    last_line, last_offset = 1, 0  # where the last record read started
    try:
        for fields in reader:
            if len(fields) > width:
                used = max(i for i, f in enumerate(fields) if i < width or f.strip()) + 1
                if used > width:
                    raise InputError(
                        f"{where} line {lines_before + line}: {used} fields where the header has "
                        f"{width}; quote names that contain the delimiter"
                    )
            count = len(fields)
            numbers.append(fields[header.number] if header.number < count else "")
            names.append(fields[header.name] if header.name < count else "")
            last_line, last_offset = line, offset
            line, offset = lines.count + 1, lines.end
    except csv.Error as err:
        raise _csv_error(where, lines_before + line, err) from None
    if numbers and _quote_left_open(body[last_offset:], delimiter):
        raise InputError(
            f"{where} line {lines_before + last_line}: a quoted field starts on this line and is "
            "never closed; check the quotes"
        )
    return numbers, names


def _quote_left_open(record: str, delimiter: str) -> bool:
    """True when the text of a file's last record ends inside a quoted field.

    csv.reader's default (non-strict) mode silently takes the rest of the file into that field;
    strict mode says "unexpected end of data" for exactly this case.
    """
    try:
        list(csv.reader(io.StringIO(record, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as err:
        return "unexpected end of data" in str(err)
    return False


# --------------------------------------------------------------------------------------- workbooks


def _load_workbook(path: Path, where: str, options: LoadOptions) -> LoadedFile:
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
        reason = "it is not a zip archive" if start != b"PK\x03\x04" else _shorten(str(err), 60)
        raise InputError(
            f"{where}: not a valid {kind} workbook ({reason}); open it in a spreadsheet program "
            f"and save it again as {kind} or CSV UTF-8"
        ) from None
    with workbook:
        sheet, rows, notes = _choose_sheet(workbook, where, options)
    located = f"{where} sheet {sheet!r}"
    candidates: list[tuple[int, list[str]]] = []
    for index, row in enumerate(rows):
        cells = [_cell_text(v) for v in row]
        if not _is_blank(cells):
            candidates.append((index + 1, cells))
            if len(candidates) == HEADER_SEARCH_ROWS:
                break
    header = _locate_header(candidates, options)
    if header is None:
        raise _no_columns_error(located, candidates, options)
    header_row = candidates[header.position][0]
    numbers = _column_text(rows, header_row, header.number)
    names = _column_text(rows, header_row, header.name)
    frame, blank = _build_frame(header_row + 1, numbers, names)
    return LoadedFile(path, where, sheet, frame, blank, notes + list(header.notes), digest)


def _choose_sheet(
    workbook: calamine.CalamineWorkbook, where: str, options: LoadOptions
) -> tuple[str, list[list[object]], list[str]]:
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
        rows = _sheet_rows(workbook, matches[0])
        if not rows:
            raise InputError(
                f"{where} sheet {matches[0]!r} is empty; choose another with --sheet ({listed})"
            )
        return matches[0], rows, []
    worksheets = [m for m in workbook.sheets_metadata if m.typ == calamine.SheetTypeEnum.WorkSheet]
    hidden = [m.name for m in worksheets if m.visible != calamine.SheetVisibleEnum.Visible]
    visible = [m.name for m in worksheets if m.name not in hidden] or names
    for name in visible:
        rows = _sheet_rows(workbook, name)
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
