"""Reading an XLSX/XLSM sheet cell by cell, without the grid: for a sheet too big to build.

python-calamine builds a sheet as the dense rectangle from A1 to its farthest value; a few rows of
data and one stray value in XFD1048576 make that 17 billion cells (extent.py finds this first).
Such a sheet is read here instead, streaming its XML: memory follows the cells that hold something
(and, for the rows below the header, only the number and name columns are kept), never the area.

Values come out as calamine gives them, so that `workbook._cell_text` turns them into the same
text: numbers as float, booleans, shared and inline strings, formula results (their cached value),
error cells as "", and numbers in a date or time format as date, datetime, time or timedelta
(the 1900 date system with its phantom 29 February, or 1904).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Container, Iterator
from pathlib import Path
from xml.etree import ElementTree

from pipeline.input.extent import column_index

MAX_ROWS = 1_048_576  # a sheet's rows in Excel; a reference beyond is a damaged file
# Built-in number formats that are dates or times (ECMA-376 18.8.30, and the CJK ones calamine
# knows), and the one built-in elapsed-time format.
_DATE_FORMATS = frozenset([*range(14, 23), *range(27, 37), 45, 47, *range(50, 59), *range(71, 82)])
_ELAPSED_FORMATS = frozenset([46])
_QUOTED = re.compile(r'"[^"]*"|\\.|_.|\*.')
_ELAPSED = re.compile(r"\[(h+|m+|s+)\]", re.IGNORECASE)
_BRACKETS = re.compile(r"\[[^\]]*\]")
_DATE_LETTERS = re.compile(r"[dmyhs]", re.IGNORECASE)
_REF = re.compile(r"([A-Za-z]*)(\d*)")
_EPOCH_1900 = dt.datetime(1899, 12, 31)
_EPOCH_1904 = dt.datetime(1904, 1, 1)

Value = str | float | bool | dt.date | dt.time | dt.timedelta


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def format_kind(code: str) -> str | None:
    """'date' for a date/time format code, 'elapsed' for [h]:mm and the like, else None."""
    if _ELAPSED.search(code):
        return "elapsed"
    bare = _BRACKETS.sub("", _QUOTED.sub("", code))
    if bare.lower() in ("general", "@"):
        return None
    return "date" if _DATE_LETTERS.search(bare) else None


class SparseSheet:
    """One worksheet part of an XLSX/XLSM, with what its values need (shared strings, styles)."""

    def __init__(self, path: Path, member: str) -> None:
        self.path = path
        self.member = member
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            self.shared = _shared_strings(archive) if "xl/sharedStrings.xml" in names else []
            self.styles = _style_kinds(archive) if "xl/styles.xml" in names else []
            self.epoch = _EPOCH_1904 if _uses_1904(archive) else _EPOCH_1900

    def rows(self, keep: Container[int] | None = None) -> Iterator[tuple[int, dict[int, Value]]]:
        """(0-based row, {0-based column: value}) for every row holding a value, in file order;
        only the columns in `keep` when given (the row is yielded all the same)."""
        with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as handle:
            row = -1
            column = -1
            cells: dict[int, Value] = {}
            filled = False
            holder: ElementTree.Element | None = None
            for event, elem in ElementTree.iterparse(handle, events=("start", "end")):
                tag = _local(elem.tag)
                if event == "start":
                    if tag == "sheetData":
                        holder = elem
                    elif tag == "row":
                        row = _row_number(elem.get("r"), row)
                        column = -1
                        cells, filled = {}, False
                    continue
                if tag == "c":
                    column, cell_row = _cell_place(elem.get("r"), row, column)
                    if cell_row != row:  # a cell placed in another row than its own
                        if filled:
                            yield row, cells
                        row, cells, filled = cell_row, {}, False
                    value = self._value(elem)
                    if value is not None:
                        filled = True
                        if keep is None or column in keep:
                            cells[column] = value
                    elem.clear()
                elif tag == "row":
                    if filled:
                        yield row, cells
                    cells, filled = {}, False
                    if holder is not None:
                        holder.clear()  # rows read are dropped: memory stays flat

    def _value(self, cell: ElementTree.Element) -> Value | None:
        kind = cell.get("t", "n")
        text: str | None = None
        for child in cell:
            name = _local(child.tag)
            if name == "v":
                text = child.text or ""
            elif name == "is":
                text = _rich_text(child)
        if text is None:
            return None
        if kind == "s":
            try:
                return self.shared[int(text)]
            except (ValueError, IndexError):
                return ""
        if kind in ("str", "inlineStr"):
            return text
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind == "e":
            return ""
        if kind == "d":
            try:
                return dt.datetime.fromisoformat(text)
            except ValueError:
                return text
        try:
            number = float(text)
        except ValueError:
            return text
        style = int(cell.get("s", "0") or 0)
        how = self.styles[style] if 0 <= style < len(self.styles) else None
        if how == "date":
            return self._date(number)
        if how == "elapsed":
            return dt.timedelta(days=number)
        return number

    def _date(self, serial: float) -> Value:
        """An Excel date serial as calamine gives it: a time below 1, a date when whole, else a
        datetime; day 60 of the 1900 system (the phantom 29 February 1900) reads as the 28th."""
        if serial < 0:
            return serial
        days = int(serial)
        if self.epoch is _EPOCH_1900:
            days = days if days < 60 else (59 if days == 60 else days - 1)
        fraction = round((serial - int(serial)) * 86_400_000)  # milliseconds
        moment = self.epoch + dt.timedelta(days=days, milliseconds=fraction)
        if serial < 1:
            return moment.time()
        if not fraction:
            return moment.date()
        return moment


def _row_number(ref: str | None, previous: int) -> int:
    if ref and ref.isdigit():
        return int(ref) - 1
    return previous + 1


def _cell_place(ref: str | None, row: int, column: int) -> tuple[int, int]:
    """(column, row), 0-based, of a cell: its reference, or the next column in the row."""
    if ref:
        found = _REF.fullmatch(ref)
        if found and found[1]:
            return column_index(found[1]) - 1, int(found[2]) - 1 if found[2] else row
    return column + 1, row


def _rich_text(node: ElementTree.Element) -> str:
    """The text of an inline or shared string: its `t`, or its runs' `t`s; phonetic runs left out."""
    parts: list[str] = []
    for child in node:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(parts)


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    strings: list[str] = []
    with archive.open("xl/sharedStrings.xml") as handle:
        root: ElementTree.Element | None = None
        for event, elem in ElementTree.iterparse(handle, events=("start", "end")):
            if event == "start":
                if root is None:
                    root = elem
                continue
            if _local(elem.tag) == "si":
                strings.append(_rich_text(elem))
                if root is not None:
                    root.clear()
    return strings


def _style_kinds(archive: zipfile.ZipFile) -> list[str | None]:
    """Per cell style (the `s` of a cell): 'date', 'elapsed' or None."""
    root = ElementTree.fromstring(archive.read("xl/styles.xml"))
    codes: dict[int, str] = {}
    kinds: list[str | None] = []
    for node in root.iter():
        name = _local(node.tag)
        if name == "numFmt":
            try:
                codes[int(node.get("numFmtId", ""))] = node.get("formatCode", "")
            except ValueError:
                continue
    for holder in root:
        if _local(holder.tag) != "cellXfs":
            continue
        for xf in holder:
            try:
                number_format = int(xf.get("numFmtId", "0"))
            except ValueError:
                number_format = 0
            if number_format in codes:
                kinds.append(format_kind(codes[number_format]))
            elif number_format in _ELAPSED_FORMATS:
                kinds.append("elapsed")
            else:
                kinds.append("date" if number_format in _DATE_FORMATS else None)
    return kinds


def _uses_1904(archive: zipfile.ZipFile) -> bool:
    try:
        root = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    except (KeyError, ElementTree.ParseError):
        return False
    for node in root.iter():
        if _local(node.tag) == "workbookPr":
            return node.get("date1904", "").lower() in ("1", "true")
    return False
