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

from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import InputError
from pipeline.input.delimited import load_delimited
from pipeline.input.frame import LoadedFile, LoadOptions
from pipeline.input.header import check_column_options
from pipeline.input.workbook import load_workbook

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".ods")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".ods")


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


def load_file(path: Path, options: LoadOptions, source_file: str | None = None) -> LoadedFile:
    """Read one input file into a LoadedFile; InputError when it cannot be read as intended."""
    path = Path(path)
    where = source_file if source_file is not None else str(path)
    check_column_options(options)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"{where}: unsupported file type {suffix or '(none)'!r}")
    try:
        if suffix in WORKBOOK_SUFFIXES:
            return load_workbook(path, where, options)
        return load_delimited(path, where, options)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise InputError(f"{where}: no such file; check the path") from None
    except PermissionError:
        raise InputError(f"{where}: permission denied; check the file's permissions") from None
    except OSError as err:
        raise InputError(f"{where}: cannot be read ({err.strerror or err})") from None
