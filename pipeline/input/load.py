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

import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import InputError
from pipeline.input.delimited import load_delimited
from pipeline.input.frame import InputIssue, LoadedFile, LoadOptions
from pipeline.input.header import check_column_options
from pipeline.input.workbook import load_workbook

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".ods")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".ods")
# What to do with the types people most often drop beside their spreadsheets.
_UNSUPPORTED_ADVICE = {
    ".xls": "an old Excel workbook; save it as .xlsx or CSV UTF-8",
    ".xlsb": "a binary Excel workbook; save it as .xlsx or CSV UTF-8",
    ".numbers": "an Apple Numbers file; export it as .xlsx or CSV",
    ".xltx": "an Excel template; save it as .xlsx",
    ".ots": "a spreadsheet template; save it as .ods",
    ".fods": "a flat OpenDocument file; save it as .ods",
}


_SPREADSHEETS = frozenset(_UNSUPPORTED_ADVICE)


@dataclass(frozen=True)
class FolderScan:
    """A folder's files to read (sorted by name) and those not read, each with why. `other_types`:
    the skipped files of types no spreadsheet program writes (a README): worth a line in the report,
    not a warning every night."""

    files: list[Path]
    skipped: list[InputIssue]
    other_types: frozenset[str] = frozenset()


def unsupported_reason(path: Path) -> str:
    suffix = path.suffix.lower()
    advice = _UNSUPPORTED_ADVICE.get(suffix, "use .csv, .tsv, .txt, .xlsx, .xlsm or .ods")
    return f"unsupported file type {suffix or '(none)'!r}: {advice}"


def scan_folder(folder: Path, shown: str | Path | None = None) -> FolderScan:
    """The files of one folder, not searched recursively (sub-folders are not inputs).

    Hidden files and Excel's lock files (`~$book.xlsx`) are ignored. Every other entry that is not
    read is listed with its reason: a file type cnam-batch does not read (`.xls`, `.numbers`, a
    README), a link leading out of the folder (not followed: a drop folder must not reach into
    the rest of the machine), a link to nothing, or something that is not a regular file.
    `shown` is the folder as the report names it (default: as given).
    """
    label = Path(shown) if shown is not None else folder
    try:
        home = folder.resolve(strict=True)
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as err:
        raise InputError(f"{label}: cannot read the folder ({err.strerror or err})") from None
    files: list[Path] = []
    skipped: list[InputIssue] = []
    other: set[str] = set()
    for entry in entries:
        name = entry.name
        if name.startswith((".", "~$")):
            continue
        reason = _member_problem(entry, home)
        if reason is None:
            files.append(entry)
        elif reason:
            skipped.append(InputIssue(str(label / name), reason))
            if reason == unsupported_reason(entry) and entry.suffix.lower() not in _SPREADSHEETS:
                other.add(skipped[-1].file)
    return FolderScan(files, skipped, frozenset(other))


def _member_problem(entry: Path, home: Path) -> str | None:
    """None for a file to read, "" for an entry to pass over silently (a folder), else why not."""
    try:
        mode = entry.lstat().st_mode
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    if stat.S_ISLNK(mode):
        try:
            target = entry.resolve(strict=True)
        except (OSError, RuntimeError):
            return "a link to nothing (its target is gone)"
        if target.parent != home and home not in target.parents:
            return "a link leading out of the folder; not followed"
        try:
            mode = target.stat().st_mode
        except OSError as err:
            return f"cannot be read ({err.strerror or err})"
    if stat.S_ISDIR(mode):
        return ""
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device)"
    if entry.suffix.lower() not in SUPPORTED_SUFFIXES:
        return unsupported_reason(entry)
    return None


def expand_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Files to load, in order: files as given, folders as their supported files sorted by name.

    Folders: see `scan_folder` (what it does not read is dropped here; the runner lists it). A path
    named twice (or a file also inside a named folder) is loaded once, at its first place.
    """
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for raw in paths:
        path = Path(raw)
        members = scan_folder(path, raw).files if path.is_dir() else [check_file(raw)]
        for member in members:
            key = file_identity(member)
            if key not in seen:
                seen.add(key)
                found.append(member)
    return found


def check_file(raw: str | Path) -> Path:
    """A file named on the command line: InputError when it is missing or of an unsupported type."""
    path = Path(raw)
    if not path.exists():
        raise InputError(f"{raw}: no such file or folder; check the path")
    if not path.is_file():
        raise InputError(f"{raw}: not a regular file (a pipe, socket or device); name a file")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"{raw}: unsupported file type {path.suffix or '(none)'!r}; "
            "use .csv, .tsv, .txt, .xlsx, .xlsm or .ods"
        )
    return path


def file_identity(path: Path) -> tuple[int, int]:
    """(device, inode): the same file however it is named (twice, via a folder, a link)."""
    info = path.stat()
    return info.st_dev, info.st_ino


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
