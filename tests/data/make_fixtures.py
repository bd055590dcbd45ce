"""Regenerate the load fixtures whose exact bytes matter: workbooks, encodings, binary garbage.

Run from anywhere: `python tests/data/make_fixtures.py`. The output is deterministic (fixed
workbook dates, fixed zip timestamps, seeded random bytes), so running it again changes no file;
the tests use the checked-in results. Plain UTF-8 text fixtures are checked in as they are.

Needs xlsxwriter (it writes cached formula values, which openpyxl cannot).
"""

from __future__ import annotations

import codecs
import datetime as dt
import random
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

HERE = Path(__file__).resolve().parent
FIXED_DATE = dt.datetime(2024, 1, 1)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

Cell = str | int | float | bool | dt.date | None


def write_text_fixtures(out: Path) -> None:
    """Delimited files whose bytes (BOM, encoding, line ends, NULs) are the point of the test."""
    crlf_rows = "Phone,Name\r\n16463439697,Café Olé\r\n+1 646 343 9698,Bob’s Diner\r\n"
    (out / "utf8_bom.csv").write_bytes(codecs.BOM_UTF8 + crlf_rows.encode("utf-8"))
    (out / "utf16_bom.csv").write_bytes(codecs.BOM_UTF16_LE + crlf_rows.encode("utf-16-le"))
    (out / "utf16be_bom.csv").write_bytes(codecs.BOM_UTF16_BE + crlf_rows.encode("utf-16-be"))
    (out / "cp1252.csv").write_bytes(
        "Phone,Name\r\n16463439697,Café Müller\r\n16463439698,Bob’s – Diner\r\n".encode("cp1252")
    )
    # A binary file with a .csv name: a NUL byte on line 3.
    (out / "garbage_bytes.csv").write_bytes(
        b"Phone,Name\n16463439697,ACME\n\x00\x01\x02\xff\xfe" + bytes(range(256))
    )
    # No NUL, but 0x81 is undefined even in cp1252 (line 3).
    (out / "undecodable.csv").write_bytes(b"Phone,Name\n16463439697,ACME\n16463439698,AC\x81ME\n")
    (out / "huge_cell.csv").write_bytes(
        b"Phone,Name\n16463439697," + b"A" * 100_000 + b"\n16463439698,ACME\n"
    )
    (out / "crlf_and_cr.csv").write_bytes(
        b'Phone,Name\r\n16463439697,ACME\r\n\r\n16463439698,"Two\rLines"\r16463439699,Old Mac\r'
    )
    (out / "not_a_workbook.xlsx").write_bytes(b"Phone,Name\n16463439697,ACME\n")
    (out / "random_bytes.ods").write_bytes(random.Random(7).randbytes(512))


def write_xlsx(path: Path, build: Callable[[xlsxwriter.Workbook], None]) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties({"created": FIXED_DATE})
    build(workbook)
    workbook.close()


def write_rows(
    sheet: Worksheet, rows: list[list[Cell]], first_row: int = 0, first_col: int = 0
) -> None:
    """Cells typed as given: str -> text, int/float -> number, bool, date; None leaves it empty."""
    for r, row in enumerate(rows, start=first_row):
        for c, value in enumerate(row, start=first_col):
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(r, c, value)
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            else:
                sheet.write_datetime(r, c, value)


def numbers_as_floats(wb: xlsxwriter.Workbook) -> None:
    """Excel number cells where phones belong, then text phones lower in the same column."""
    sheet = wb.add_worksheet("Numbers")
    date_format = wb.add_format({"num_format": "yyyy-mm-dd"})
    write_rows(
        sheet,
        [
            ["Phone Number", "Caller ID Name"],
            [16463439697, "ACME"],
            [6463439698, "Number As Name"],
            [16463439699, 12345],
            [1.5, True],
            [1e20, False],
            ["+16463439690", "Plus Text"],
            ["06463439691", "Leading Zero Text"],
            ["(646) 343-9692", "Punctuated Text"],
        ],
    )
    sheet.write_datetime(9, 0, dt.datetime(2024, 2, 3), date_format)
    sheet.write_string(9, 1, "A Date")


def first_sheet_empty(wb: xlsxwriter.Workbook) -> None:
    wb.add_worksheet("Cover")
    write_rows(wb.add_worksheet("Numbers"), [["TN", "CNAM"], [16463439697, "ACME"]])


def hidden_first_sheet(wb: xlsxwriter.Workbook) -> None:
    old = wb.add_worksheet("Old")
    write_rows(old, [["Phone", "Name"], [16460000000, "OLD DATA"]])
    current = wb.add_worksheet("Current")
    write_rows(current, [["Phone", "Name"], [16463439697, "ACME"]])
    current.activate()
    current.set_first_sheet()
    old.hide()


def two_sheets(wb: xlsxwriter.Workbook) -> None:
    write_rows(wb.add_worksheet("January"), [["Phone", "Name"], [16463439697, "JANUARY"]])
    write_rows(wb.add_worksheet("February"), [["Phone", "Name"], [16463439698, "FEBRUARY"]])


def formulas(wb: xlsxwriter.Workbook) -> None:
    """Formulas with cached values (what Excel saves), and a cell whose formula has none."""
    sheet = wb.add_worksheet("Numbers")
    write_rows(sheet, [["Phone", "Name"]])
    sheet.write_formula("A2", "=16463439697", None, 16463439697)
    sheet.write_formula("B2", '=UPPER("acme")', None, "ACME")
    sheet.write_formula("A3", "=A2+1", None, "")  # saved without a cached value
    sheet.write_formula("B3", '=UPPER("no number")', None, "NO NUMBER")
    sheet.write_number("A4", 16463439699)
    sheet.write_formula("B4", '=CONCAT("BOB","S")', None, "BOBS")


def header_not_in_a1(wb: xlsxwriter.Workbook) -> None:
    """A title in A1, a blank row, the table from B3; an unrelated column between."""
    sheet = wb.add_worksheet("Export")
    write_rows(sheet, [["Numbers for ACME, exported 2024-01-01"]])
    write_rows(
        sheet,
        [
            ["Phone", "Account", "Name"],
            [16463439697, "A-1", "ACME"],
            [None, None, None],
            ["16463439698", "A-2", "BOB"],
        ],
        first_row=2,
        first_col=1,
    )


def write_ods(path: Path, sheets: dict[str, list[list[Cell]]]) -> None:
    """A minimal OpenDocument spreadsheet, written by hand so that it needs no library."""

    def cell(value: Cell) -> str:
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, bool):
            flag = "true" if value else "false"
            return (
                f'<table:table-cell office:value-type="boolean" office:boolean-value="{flag}">'
                f"<text:p>{flag.upper()}</text:p></table:table-cell>"
            )
        if isinstance(value, (int, float)):
            return (
                f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        if isinstance(value, dt.date):
            return (
                f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}">'
                f"<text:p>{value.isoformat()}</text:p></table:table-cell>"
            )
        return (
            f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p>'
            "</table:table-cell>"
        )

    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join(
            "<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>"
            for row in rows
        )
        + "</table:table>"
        for name, rows in sheets.items()
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, text, method in (
            ("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED),
            ("content.xml", content, zipfile.ZIP_DEFLATED),
            ("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED),
        ):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = method
            archive.writestr(info, text)


def main(out: Path = HERE) -> None:
    """Write every generated fixture into `out` (the tests compare a fresh run with tests/data)."""
    write_text_fixtures(out)
    write_xlsx(out / "numbers_as_floats.xlsx", numbers_as_floats)
    write_xlsx(out / "first_sheet_empty.xlsx", first_sheet_empty)
    write_xlsx(out / "hidden_first_sheet.xlsx", hidden_first_sheet)
    write_xlsx(out / "two_sheets.xlsx", two_sheets)
    write_xlsx(out / "formulas.xlsx", formulas)
    write_xlsx(out / "header_not_in_a1.xlsx", header_not_in_a1)
    write_ods(
        out / "sample.ods",
        {
            "Numbers": [
                ["Phone", "CNAM"],
                [16463439697, "ACME"],
                [None, None],
                ["+16463439698", "Plus Text"],
                [6463439699.0, True],
                [dt.date(2024, 2, 3), "A Date"],
            ]
        },
    )
    write_ods(out / "all_sheets_empty.ods", {"Sheet1": [], "Sheet2": [[None, None]]})


if __name__ == "__main__":
    main()
