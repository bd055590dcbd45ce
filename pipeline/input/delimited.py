"""Reading delimited text (CSV/TSV/TXT): encoding and delimiter detection, exact row numbers.

See pipeline/input/load.py for the rules every reader follows.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.input.frame import LoadedFile, LoadOptions, build_frame, is_blank
from pipeline.input.header import HEADER_SEARCH_ROWS, Header, locate_header, no_columns_error

DELIMITERS = (",", ";", "\t", "|")
_CSV_CHUNK_ROWS = 200_000  # bounds memory when a wide CSV is read in full to check its widths
_SPARE_FIELDS = 4  # trailing fields a data record may have beyond the header when they are blank
_SIGNATURES = (
    (b"PK\x03\x04", "a zip file (probably a workbook saved with the wrong name); rename it"),
    (b"\xd0\xcf\x11\xe0", "an old .xls or encrypted workbook; save it as .xlsx or CSV UTF-8"),
)


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


def load_delimited(path: Path, where: str, options: LoadOptions) -> LoadedFile:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    text, encoding = _decode(data, where)
    notes = [] if encoding.startswith("utf") else [f"read as {encoding} (the file is not UTF-8)"]
    delimiters = DELIMITERS if path.suffix.lower() != ".tsv" else ("\t", ",", ";", "|")
    found: tuple[str, list[_Record], Header] | None = None
    for delimiter in delimiters:
        records = _sample_records(text, delimiter, where)
        header = locate_header(_candidates(records), options)
        if header is not None:
            found = (delimiter, records, header)
            break
    if found is None:
        delimiter = _likely_delimiter(text, delimiters)
        raise no_columns_error(where, _candidates(_sample_records(text, delimiter, where)), options)
    delimiter, records, header = found
    head = [r for r in records if not is_blank(r.fields)][header.position]
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
    frame, blank = build_frame(head.number + 1, numbers, names)
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
        nonblank += not is_blank(fields)
    return records


def _candidates(records: list[_Record]) -> list[tuple[int, list[str]]]:
    """Non-blank records as (record number, fields): the rows a header may be."""
    return [(r.number, r.fields) for r in records if not is_blank(r.fields)]


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
    header: Header,
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
                return read_body_fast(
                    body_bytes or body.encode("utf-8"), delimiter, width, columns, header
                )
            except ValueError:  # pandas' ParserError, or a spare column that is not blank
                pass
    return read_body_exact(body, delimiter, width, header, lines_before, where)


def read_body_fast(
    body: bytes, delimiter: str, width: int, columns: int, header: Header
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


def read_body_exact(
    body: str, delimiter: str, width: int, header: Header, lines_before: int, where: str
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
