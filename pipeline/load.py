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

import hashlib
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

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
    from pipeline.load_formats import _load_delimited, _load_workbook

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
