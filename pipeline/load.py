"""Input files and folders -> LoadedFile: the number and name cells of every row, as text.

Everything here exists so that what a person typed reaches the later stages unchanged, with the row
number they see in their spreadsheet program:

- Every cell is text. Workbook number cells become their exact digits (16463439697.0 ->
  "16463439697"); CSV text is kept as typed ("1.6463439697E+10" stays; normalize restores it).
- `source_row` is the row a person sees: the spreadsheet row, or the CSV record number (header
  included, so a header on row 1 makes the first data row 2). Quoted newlines do not shift it.
- The header is found by its text (see NUMBER_ALIASES / NAME_ALIASES), so column order, extra
  columns and title rows above the header do not matter.
- A file that cannot be read as intended stops the run with an InputError naming the file, the line
  or sheet, and the fix. Row problems (empty cells, odd values) are left to later stages.

Workbooks are read with python-calamine, which returns the cached value of a formula; a formula
saved without a cached value (some generators write none) reads as an empty cell, so that row later
gets `number_missing` or `name_empty`. Error cells (#N/A, #DIV/0!) read as empty too.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import operator
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import python_calamine as calamine

from pipeline.errors import InputError, UsageError

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".ods")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".ods")
HEADER_SEARCH_ROWS = 20  # the header must be among this many non-blank rows
DELIMITERS = (",", ";", "\t", "|")

# Normalized header texts (see normalize_header), most specific first: when several columns match,
# the earliest alias in this order wins, so "CNAM" beats a generic "Name" column.
NUMBER_ALIASES = (
    "phonenumber",
    "phone",
    "phoneno",
    "phonenum",
    "telephonenumber",
    "telephone",
    "tn",
    "did",
    "didnumber",
    "longcode",
    "number",
)
NAME_ALIASES = (
    "cnam",
    "cnamvalue",
    "cnamname",
    "calleridname",
    "callerid",
    "callername",
    "displayname",
    "name",
)

_FRAME_COLUMNS = ("source_row", "input_number", "input_name")
_LETTERS = re.compile(r"[A-Za-z]{1,3}")
_CSV_CHUNK_ROWS = 200_000  # bounds memory when a wide CSV is read in full to check its widths
_SPARE_FIELDS = 4  # trailing fields a data record may have beyond the header when they are blank
_SIGNATURES = (
    (b"PK\x03\x04", "a zip file (probably a workbook saved with the wrong name); rename it"),
    (b"\xd0\xcf\x11\xe0", "an old .xls or encrypted workbook; save it as .xlsx or CSV UTF-8"),
)


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


# ------------------------------------------------------------------------------------------- files


def expand_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Files to load, in order: files as given, folders as their supported files sorted by name.

    Folders are not searched recursively; hidden files and Excel lock files (`~$book.xlsx`) and
    files of other types in a folder are ignored (a drop folder may hold a README). A path named
    twice (or a file also inside a named folder) is loaded once, at its first place.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            try:
                members = sorted(
                    (p for p in path.iterdir() if _is_input_member(p)), key=lambda p: p.name
                )
            except OSError as err:
                raise InputError(f"{raw}: cannot read the folder ({err.strerror or err})") from None
        elif path.is_file():
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise InputError(
                    f"{raw}: unsupported file type {path.suffix or '(none)'!r}; "
                    "use .csv, .tsv, .txt, .xlsx, .xlsm or .ods"
                )
            members = [path]
        else:
            raise InputError(f"{raw}: no such file or folder; check the path")
        for member in members:
            key = member.resolve()
            if key not in seen:
                seen.add(key)
                found.append(member)
    return found


def _is_input_member(path: Path) -> bool:
    name = path.name
    return (
        path.is_file()
        and not name.startswith((".", "~$"))
        and path.suffix.lower() in SUPPORTED_SUFFIXES
    )


def file_hash(path: Path) -> str:
    """sha256 hex of the file's bytes, read in 1 MiB blocks (the journal's identity of an input)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def load_file(path: Path, options: LoadOptions, source_file: str | None = None) -> LoadedFile:
    """Read one input file into a LoadedFile; InputError when it cannot be read as intended."""
    path = Path(path)
    where = source_file if source_file is not None else str(path)
    _check_column_options(options)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"{where}: unsupported file type {suffix or '(none)'!r}")
    try:
        if suffix in WORKBOOK_SUFFIXES:
            return _load_workbook(path, where, options)
        return _load_delimited(path, where, options)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise InputError(f"{where}: no such file; check the path") from None
    except PermissionError:
        raise InputError(f"{where}: permission denied; check the file's permissions") from None
    except OSError as err:
        raise InputError(f"{where}: cannot be read ({err.strerror or err})") from None


def _check_column_options(options: LoadOptions) -> None:
    for flag, spec in (
        ("--number-column", options.number_column),
        ("--name-column", options.name_column),
    ):
        if spec is not None and spec.strip().isdigit() and int(spec) < 1:
            raise UsageError(f"{flag} {spec}: column numbers start at 1")
    if (
        options.number_column
        and options.name_column
        and normalize_header(options.number_column) == normalize_header(options.name_column)
    ):
        raise UsageError(
            f"--number-column and --name-column both name {options.number_column!r}; "
            "give two different columns"
        )


# ----------------------------------------------------------------------------------------- headers


def normalize_header(text: str) -> str:
    """Header text reduced so that "Phone #", "phone_numbers" and "PhoneNumber" compare equal.

    Lowercase, '#' read as "number", words split on anything not a letter or digit, a plural 's'
    dropped from each word ("CNAMs", "DIDs"), then joined without spaces ("Caller ID" = "CallerID").
    """
    words = re.findall(r"[a-z0-9]+", text.lower().replace("#", " number "))
    return "".join(
        w[:-1] if len(w) > 2 and w.endswith("s") and not w.endswith("ss") else w for w in words
    )


@dataclass(frozen=True)
class _Pick:
    index: int
    by_text: bool  # found by header text, not by a column letter or number


@dataclass(frozen=True)
class _Header:
    position: int  # index into the candidate rows
    number: int
    name: int
    notes: tuple[str, ...] = ()


def _pick(cells: list[str], spec: str | None, aliases: tuple[str, ...]) -> _Pick | None:
    """The column for one role in one candidate header row (cells already normalized)."""
    if spec is None or not spec.strip():
        hits = [(aliases.index(c), i) for i, c in enumerate(cells) if c in aliases]
        return _Pick(min(hits)[1], True) if hits else None
    spec = spec.strip()
    if spec.isdigit():
        index = int(spec) - 1
    else:
        wanted = normalize_header(spec)
        if wanted and wanted in cells:
            return _Pick(cells.index(wanted), True)
        if not _LETTERS.fullmatch(spec):
            return None
        index = _letter_index(spec)
    return _Pick(index, False) if index < len(cells) else None


def _letter_index(letters: str) -> int:
    """0-based index of a spreadsheet column letter: A -> 0, Z -> 25, AA -> 26."""
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - ord("A") + 1
    return index - 1


def _is_positional(spec: str | None) -> bool:
    return spec is not None and (spec.strip().isdigit() or bool(_LETTERS.fullmatch(spec.strip())))


def _locate_header(rows: list[tuple[int, list[str]]], options: LoadOptions) -> _Header | None:
    """The header among candidate rows (row number, cells): the first row where both columns are
    found and at least one is found by its text. With both columns given by letter or number, the
    first row with a number and a name alias is taken as the header, else the first row."""
    normalized = [[normalize_header(c) for c in cells] for _, cells in rows]
    for position, cells in enumerate(normalized):
        number = _pick(cells, options.number_column, NUMBER_ALIASES)
        name = _pick(cells, options.name_column, NAME_ALIASES)
        if number and name and (number.by_text or name.by_text) and number.index != name.index:
            return _Header(
                position, number.index, name.index, _header_notes(rows, position, options)
            )
    if not rows or not (
        _is_positional(options.number_column) and _is_positional(options.name_column)
    ):
        return None
    position = next(
        (
            i
            for i, cells in enumerate(normalized)
            if _pick(cells, None, NUMBER_ALIASES) and _pick(cells, None, NAME_ALIASES)
        ),
        0,
    )
    number = _pick(normalized[position], options.number_column, NUMBER_ALIASES)
    name = _pick(normalized[position], options.name_column, NAME_ALIASES)
    if number is None or name is None or number.index == name.index:
        return None
    return _Header(position, number.index, name.index, _header_notes(rows, position, options))


def _header_notes(
    rows: list[tuple[int, list[str]]], position: int, options: LoadOptions
) -> tuple[str, ...]:
    row_number, cells = rows[position]
    notes = []
    if position:
        notes.append(f"header is row {row_number}; the rows above it were not read")
    normalized = [normalize_header(c) for c in cells]
    for role, spec, aliases, flag in (
        ("number", options.number_column, NUMBER_ALIASES, "--number-column"),
        ("name", options.name_column, NAME_ALIASES, "--name-column"),
    ):
        if spec:
            continue
        matches = [cells[i] for i, c in enumerate(normalized) if c in aliases]
        if len(matches) > 1:
            chosen = _pick(normalized, None, aliases)
            assert chosen is not None
            listed = ", ".join(repr(m) for m in matches)
            notes.append(
                f"{len(matches)} {role} columns ({listed}); used {cells[chosen.index]!r} "
                f"(choose another with {flag})"
            )
    return tuple(notes)


def _no_columns_error(
    where: str, rows: list[tuple[int, list[str]]], options: LoadOptions
) -> InputError:
    """The error for a file whose header cannot be found: what was looked for, what is there."""
    if not rows:
        return InputError(f"{where} is empty; it needs a header row with number and name columns")
    roles = (
        (
            "number",
            options.number_column,
            NUMBER_ALIASES,
            "--number-column",
            "Phone, Number, TN or DID",
        ),
        ("name", options.name_column, NAME_ALIASES, "--name-column", "Name, CNAM or Caller ID"),
    )
    normalized = [[normalize_header(c) for c in cells] for _, cells in rows]
    # Show the first row where one column was found (most likely the header), else the first row.
    position = next(
        (i for i, cells in enumerate(normalized) if any(_pick(cells, r[1], r[2]) for r in roles)),
        0,
    )
    missing = [r for r in roles if _pick(normalized[position], r[1], r[2]) is None] or list(roles)
    wanted = " and ".join(
        f"no column {spec!r} for {flag}" if spec else f"no {role} column (a header like {hint})"
        for role, spec, _, flag, hint in missing
    )
    row_number, cells = rows[position]
    shown = ", ".join(repr(_shorten(c)) for c in cells[:12] if c.strip())
    flags = " and ".join(r[3] for r in missing)
    return InputError(
        f"{where}: {wanted} in the first {HEADER_SEARCH_ROWS} rows; row {row_number} has {shown}; "
        f"name {'them' if len(missing) > 1 else 'it'} with {flags} "
        "(header text, column letter or 1-based number)"
    )


def _shorten(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_blank(cells: Sequence[str]) -> bool:
    return not any(c.strip() for c in cells)


# ------------------------------------------------------------------------------------------ frames


def _build_frame(first_row: int, numbers: list[str], names: list[str]) -> tuple[pd.DataFrame, int]:
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
        columns=list(_FRAME_COLUMNS),
    )
    return frame, blank_count


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
            raise InputError(f"{where}: no sheet named {options.sheet!r}; the sheets are {listed}")
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
