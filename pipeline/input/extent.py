"""How big a workbook sheet's grid is, found by scanning its XML, before anything builds the grid.

python-calamine builds a sheet as a dense rectangle from A1 to the farthest cell holding a value: a
sheet with three rows of data and one stray value in XFD1048576 becomes a 17-billion-cell grid, and
the process dies allocating it. `oversized_sheet` reads the sheet's part of the zip in blocks
(memory stays at a few MiB whatever the file) and says when the grid would exceed MAX_GRID_CELLS;
such a sheet is then read cell by cell (sparse.py), never as a grid.

Writers put `r="B7"` first in every `<c>`; for such sheets the scan runs at C speed (one regex
search per block for a narrow sheet; matches only for references beyond column Z or row 999,999). Any other sheet (cells without references, name-space prefixes) is read by a slower
but exact tokenizer. Cells written as `<c r="XFD9" s="1"/>` (formatting only) hold no value;
calamine skips them and so does the count. XLSX/XLSM only: calamine itself refuses an ODS sheet
beyond its cell limit when the workbook is opened (workbook.py turns that into a line).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

# 2**25 cells: about 1 GiB in calamine's grid (32 bytes a cell). A million rows of 32 columns fit.
MAX_GRID_CELLS = 1 << 25
_BLOCK = 1 << 20

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"

# A cell that is not `<c r="A1"` .. `<c r="Z999999"`: beyond column Z, below row 999,999, or
# without a reference first. When a sheet has none, its grid is at most 26 x 999,999 cells, below
# MAX_GRID_CELLS (a cell's reference places it; the row's own reference does not matter).
_NARROW = (26, 999_999)
_ODD_CELL = re.compile(rb'<c(?:/?>| (?!r="[A-Z]\d{1,6}"))')
_UNREFERENCED_CELL = re.compile(rb'<c(?:/?>| (?!r="))')
# Filled cells (not closed by `/>`) beyond column Z, and below row 999,999; any cell's row.
_WIDE = re.compile(rb'<c r="([A-Z]{2,})\d+"[^>]*(?<!/)>')
_DEEP = re.compile(rb'<c r="[A-Z]+(\d{7,})"[^>]*(?<!/)>')
_CELL_ROW = re.compile(rb'<c r="[A-Z]+(\d+)"')
# The exact tokenizer: rows and cells with any attributes, in any name space.
_TOKEN = re.compile(rb"<(/?)(?:[\w.-]+:)?(row|c)\b([^>]*)>")
_REF = re.compile(rb'\br="([A-Za-z]*)(\d*)"')


@dataclass(frozen=True)
class Extent:
    """The grid from A1 to the farthest value: `columns` wide and `rows` deep (1-based)."""

    columns: int
    rows: int

    @property
    def cells(self) -> int:
        return self.columns * self.rows


def column_letters(index: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA, 16384 -> XFD."""
    out = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def column_index(letters: bytes | str) -> int:
    text = letters.decode("ascii") if isinstance(letters, bytes) else letters
    value = 0
    for char in text.upper():
        value = value * 26 + ord(char) - 64
    return value


@dataclass(frozen=True)
class Oversized:
    """A sheet whose grid calamine must not build: its part in the zip and its exact extent."""

    member: str
    extent: Extent


def oversized_sheet(path: Path, sheet: str) -> Oversized | None:
    """The sheet's part and extent when `sheet` of the XLSX/XLSM at `path` spans more than
    MAX_GRID_CELLS cells, else None. A sheet this scan cannot find, or a damaged package, is left
    to calamine, which reports a damaged workbook its own way."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = sheet_parts(archive).get(sheet)
            if member is None:
                return None
            extent = sheet_extent(archive, member)
    except (
        zipfile.BadZipFile,
        zlib.error,
        KeyError,
        ElementTree.ParseError,
        OSError,
        EOFError,
        NotImplementedError,
    ):
        return None
    return Oversized(member, extent) if extent.cells > MAX_GRID_CELLS else None


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part in the zip, from xl/workbook.xml and its relationships."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {
        rel.get("Id"): rel.get("Target", "") for rel in rels.iter(f"{_NS_PKG_REL}Relationship")
    }
    parts: dict[str, str] = {}
    for node in workbook.iter(f"{_NS_MAIN}sheet"):
        target = targets.get(node.get(f"{_NS_REL}id"))
        name = node.get("name")
        if target and name is not None:
            member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            parts[name] = posixpath.normpath(member)
    return parts


def sheet_extent(archive: zipfile.ZipFile, member: str) -> Extent:
    """The grid of one worksheet part, or a bound of it no larger than MAX_GRID_CELLS.

    The fast scan bounds the grid; only when that bound is too big does the exact tokenizer count
    (so a refusal always rests on an exact count).
    """
    bound = _fast_bound(archive, member)
    if bound is not None and bound.cells <= MAX_GRID_CELLS:
        return bound
    return _exact_extent(archive, member)


def _blocks(archive: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """The part's bytes in blocks that each end after a `>`, so that no tag is split."""
    tail = b""
    with archive.open(member) as handle:
        while block := handle.read(_BLOCK):
            buffer = tail + block
            cut = buffer.rfind(b">") + 1
            tail = buffer[cut:]
            if cut:
                yield buffer[:cut]
    if tail:
        yield tail


def _fast_bound(archive: zipfile.ZipFile, member: str) -> Extent | None:
    """A grid at least as big as the sheet's, from C-speed scans; None when a cell does not start
    with its reference or the XML uses a name-space prefix (only the exact tokenizer can tell)."""
    odd = False
    for index, block in enumerate(_blocks(archive, member)):
        if index == 0 and b"<worksheet" not in block:
            return None
        if _ODD_CELL.search(block):
            odd = True
            break
    columns, rows = _NARROW
    if not odd:
        return Extent(columns, rows)
    for block in _blocks(archive, member):
        if _UNREFERENCED_CELL.search(block):
            return None
        wide = set(_WIDE.findall(block))
        if wide:
            columns = max(columns, max(column_index(c) for c in wide))
        deep = _DEEP.findall(block)
        if deep:
            rows = max(rows, max(int(r) for r in deep))
    if columns * rows > MAX_GRID_CELLS and rows == _NARROW[1]:  # a wide sheet: count its rows
        rows = 0
        for block in _blocks(archive, member):
            refs = _CELL_ROW.findall(block)
            if refs:
                rows = max(rows, max(int(r) for r in refs))
    return Extent(columns, rows)


def _exact_extent(archive: zipfile.ZipFile, member: str) -> Extent:
    """Every row and cell, references or not (a missing one follows the previous)."""
    columns = rows = 0
    row = 0
    column = 0
    for block in _blocks(archive, member):
        for closing, tag, attrs in _TOKEN.findall(block):
            if closing:
                continue
            ref = _REF.search(attrs)
            if tag == b"row":
                row = int(ref[2]) if ref and ref[2] else row + 1
                column = 0
                continue
            if ref and ref[1]:
                column = column_index(ref[1])
                if ref[2]:
                    row = int(ref[2])
            else:
                column += 1
            if not attrs.endswith(b"/"):
                columns = max(columns, column)
                rows = max(rows, row)
    return Extent(columns, rows)
