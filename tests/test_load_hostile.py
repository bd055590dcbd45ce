"""Damaged and hostile workbooks: one line naming the file, never a traceback or a dead process.

The damaged files are made here from the checked-in good ones (a part cut off half way, as a broken
upload leaves it), so no binary fixture is needed for each defect.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.cli.app import main
from pipeline.environment import Environment
from pipeline.errors import InputError
from pipeline.input.extent import (
    MAX_GRID_CELLS,
    Extent,
    column_index,
    column_letters,
    sheet_extent,
)
from pipeline.input.frame import LoadOptions
from pipeline.input.load import load_file

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
SHEET = "xl/worksheets/sheet1.xml"


def rewrite(source: Path, target: Path, part: str, change: Callable[[bytes], bytes]) -> Path:
    """A copy of the zip `source` with one part's bytes changed (a consistent zip: CRCs match)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            new.writestr(info, change(data) if info.filename == part else data)
    return target


def run_cli(*argv: object) -> tuple[int, list[str]]:
    """main(argv, env) with captured streams; (exit code, stderr lines)."""
    err = io.StringIO()
    env = Environment(stdout=io.StringIO(), stderr=err, environ={}, stderr_isatty=False)
    return main([str(a) for a in argv], env), err.getvalue().splitlines()


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def with_cells(xml: bytes) -> Callable[[bytes], bytes]:
    """Append rows (XML) to the end of a sheet's data."""
    return lambda data: data.replace(b"</sheetData>", xml + b"</sheetData>")


STRAY = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'


# ----------------------------------------------------------------------------------------- damaged


@pytest.mark.parametrize(
    ("source", "part", "change", "sheet"),
    [
        ("two_sheets.xlsx", SHEET, half, "January"),
        ("two_sheets.xlsx", SHEET, lambda d: b"\x00\xff" * 40, "January"),
        ("two_sheets.xlsx", "xl/sharedStrings.xml", half, None),
        ("two_sheets.xlsx", "xl/styles.xml", half, None),
        ("two_sheets.xlsx", "xl/workbook.xml", half, None),
        ("sample.ods", "content.xml", half, None),
    ],
    ids=["sheet-cut", "sheet-garbage", "shared-strings-cut", "styles-cut", "workbook-cut", "ods"],
)
def test_damaged_part_is_one_input_error_naming_the_file(tmp_path, source, part, change, sheet):
    suffix = Path(source).suffix
    path = rewrite(DATA / source, tmp_path / f"upload{suffix}", part, change)
    with pytest.raises(InputError) as caught:
        load_file(path, LoadOptions(), source_file=f"drop/upload{suffix}")
    message = str(caught.value)
    assert message.startswith(f"drop/upload{suffix}: the workbook is damaged (")
    if sheet is not None:
        assert f"(sheet {sheet!r}: " in message
    assert message.endswith(f"save it again as {suffix} or CSV UTF-8")
    assert "\n" not in message


def test_workbook_cut_off_in_transfer_is_damaged(tmp_path):
    data = (DATA / "two_sheets.xlsx").read_bytes()
    path = tmp_path / "upload.xlsx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"upload\.xlsx: the workbook is damaged \(.*Zip"):
        load_file(path, LoadOptions())


def test_damaged_sheet_exits_2_with_one_line_not_internal_error(tmp_path):
    path = rewrite(DATA / "two_sheets.xlsx", tmp_path / "upload.xlsx", SHEET, half)
    code, lines = run_cli("run", path, "--dry-run", "--output", tmp_path / "out")
    assert code == 2
    assert lines == [
        f"cnam-batch: error: {path}: the workbook is damaged (sheet 'January': syntax error: tag "
        "not closed: `>` not found before end of...); upload it again, or open it in a "
        "spreadsheet program and save it again as .xlsx or CSV UTF-8"
    ]


def test_not_a_zip_keeps_its_message():
    with pytest.raises(InputError) as caught:
        load_file(DATA / "not_a_workbook.xlsx", LoadOptions(), source_file="n.xlsx")
    assert str(caught.value) == (
        "n.xlsx: not a valid .xlsx workbook (it is not a zip archive); open it in a spreadsheet "
        "program and save it again as .xlsx or CSV UTF-8"
    )


# ------------------------------------------------------------------------------- far stray cells


def test_column_letters_round_trip():
    for index, letters in [(1, "A"), (26, "Z"), (27, "AA"), (702, "ZZ"), (703, "AAA")]:
        assert column_letters(index) == letters
        assert column_index(letters) == index
    assert column_letters(16384) == "XFD"


@pytest.mark.parametrize(
    ("rows", "extent"),
    [
        (b"", None),  # three data rows: within the narrow bound
        (b'<row r="1048576"><c r="C1048576"><v>1</v></c></row>', None),
        (b'<row r="9"><c r="XFD9" s="0"/></row>', None),  # formatting only, no value
        (STRAY, Extent(16384, 1_048_576)),
        (b'<row r="1048576">' + b"<c><v>1</v></c>" * 16384 + b"</row>", Extent(16384, 1_048_576)),
        (b'<row r="2000000"><c s="0" r="AB2000000"><v>1</v></c></row>', Extent(28, 2_000_000)),
    ],
    ids=["plain", "deep-narrow", "styled-empty", "stray", "no-refs", "attr-order"],
)
def test_sheet_extent_counts_the_grid_calamine_would_build(tmp_path, rows, extent):
    path = rewrite(DATA / "two_sheets.xlsx", tmp_path / "s.xlsx", SHEET, with_cells(rows))
    with zipfile.ZipFile(path) as archive:
        found = sheet_extent(archive, SHEET)
    if extent is None:
        assert found.cells <= MAX_GRID_CELLS
    else:
        assert found == extent


def test_cell_reference_beats_its_row_reference(tmp_path):
    rows = b'<row r="4"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    path = rewrite(DATA / "two_sheets.xlsx", tmp_path / "s.xlsx", SHEET, with_cells(rows))
    with zipfile.ZipFile(path) as archive:
        assert sheet_extent(archive, SHEET) == Extent(16384, 1_048_576)


def test_name_space_prefixed_sheet_is_counted_exactly(tmp_path):
    def prefixed(data: bytes) -> bytes:
        data = data.replace(b"<worksheet ", b'<x:worksheet xmlns:x="urn:x" ', 1)
        return with_cells(b'<x:row r="1048576"><x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row>')(
            data
        )

    path = rewrite(DATA / "two_sheets.xlsx", tmp_path / "s.xlsx", SHEET, prefixed)
    with zipfile.ZipFile(path) as archive:
        assert sheet_extent(archive, SHEET) == Extent(16384, 1_048_576)


def run_capped(*argv: object) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process capped at 1.5 GiB of address space, so that a reader building a
    17-billion-cell grid kills the child (before the fix: exit -6), never the test runner."""
    script = textwrap.dedent(
        """
        import resource, sys
        limit = 1536 * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        from pipeline.cli.app import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_stray_far_cell_is_read_cell_by_cell_within_the_memory_cap(tmp_path):
    """Before: the reader built the 17-billion-cell grid and the process died (exit -6)."""
    path = rewrite(DATA / "two_sheets.xlsx", tmp_path / "stray.xlsx", SHEET, with_cells(STRAY))
    out = tmp_path / "out"
    done = run_capped("run", path, "--dry-run", "--output", out)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.splitlines()
    assert lines[0] == (
        f"cnam-batch: WARNING: {path}: sheet 'January' reaches XFD1048576 (17,179,869,184 cells "
        "counting the empty ones), so it was read cell by cell; delete the cells beyond your "
        "data (Ctrl+End shows the last one)"
    )
    assert len(lines) == 2 and lines[1].startswith("cnam-batch ")  # the outcome line
    (run_dir,) = out.iterdir()
    report = (run_dir / "report.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(report) == 2 and ",16463439697," in report[1] and "JANUARY" in report[1]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    # the same count the grid would give: every row from 3 to 1,048,576 is blank
    assert (summary["rows_total"], summary["blank_rows_skipped"]) == (1, 1_048_576 - 2)


def test_stray_in_a_hidden_sheet_that_is_not_read_does_not_matter(tmp_path):
    # hidden_first_sheet.xlsx: 'Old' (sheet1) is hidden; 'Current' is read.
    path = rewrite(DATA / "hidden_first_sheet.xlsx", tmp_path / "h.xlsx", SHEET, with_cells(STRAY))
    done = run_capped("run", path, "--dry-run", "--quiet", "--output", tmp_path / "out")
    assert (done.returncode, done.stderr) == (0, "")
    assert [p.name for p in (tmp_path / "out").iterdir()]  # a run folder with the report


def test_stray_in_the_sheet_asked_for_is_read_cell_by_cell_too(tmp_path):
    path = rewrite(DATA / "hidden_first_sheet.xlsx", tmp_path / "h.xlsx", SHEET, with_cells(STRAY))
    out = tmp_path / "out"
    done = run_capped("run", path, "--sheet", "Old", "--dry-run", "--output", out)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "h.xlsx: sheet 'Old' reaches XFD1048576" in done.stderr
    (run_dir,) = out.iterdir()
    assert "OLD DATA" in (run_dir / "report.csv").read_text(encoding="utf-8-sig")


@pytest.mark.parametrize(
    ("ref", "far"),
    [("XFE1048576", "XFE1048576"), ("XFD1048577", "XFD1048577")],
    ids=["column", "row"],
)
def test_a_far_cell_beyond_xfd1048576_is_a_damaged_workbook(tmp_path, ref, far):
    rows = b'<row r="5"><c r="' + ref.encode() + b'"><v>1</v></c></row>'
    path = rewrite(DATA / "two_sheets.xlsx", tmp_path / "bad.xlsx", SHEET, with_cells(rows))
    done = run_capped("run", path, "--dry-run", "--output", tmp_path / "out")
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stderr == (
        f"cnam-batch: error: {path} sheet 'January': a cell lies beyond XFD1048576 (at {far}), "
        "where no spreadsheet program writes; the workbook is damaged: upload it again, or open "
        "it in a spreadsheet program and save it again\n"
    )


# Each workbook fixture, read as a grid (calamine) and, with a stray cell added, cell by cell: the
# rows must be the same, every value type included (dates, times, floats, booleans, formulas).
EQUIVALENT = [
    ("numbers_as_floats.xlsx", None),
    ("formulas.xlsx", None),
    ("header_not_in_a1.xlsx", None),
    ("two_sheets.xlsx", "February"),
    ("hidden_first_sheet.xlsx", None),
    ("first_sheet_empty.xlsx", None),
    ("value_types.xlsx", None),
]


def value_types(path: Path) -> Path:
    """Dates and times in several formats, the 1900 phantom leap day, percentages, errors."""
    import datetime as dt

    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Types")
    formats = {
        code: book.add_format({"num_format": code})
        for code in ("yyyy-mm-dd", "yyyy-mm-dd hh:mm", "hh:mm:ss", "[h]:mm", "0.00%", '"d"0')
    }
    sheet.write_row(0, 0, ["Phone", "Name"])
    cells: list[tuple[object, str | None]] = [
        (dt.datetime(2024, 2, 3), "yyyy-mm-dd"),
        (dt.datetime(2024, 2, 3, 4, 5), "yyyy-mm-dd hh:mm"),
        (0.25, "hh:mm:ss"),
        (1.5, "[h]:mm"),
        (0.5, "0.00%"),
        (7, '"d"0'),
        (60, "yyyy-mm-dd"),
        (61, "yyyy-mm-dd"),
        (16463439697, None),
        (1.5, None),
        (True, None),
        ("x &amp; <y>", None),
    ]
    for row, (value, code) in enumerate(cells, start=1):
        fmt = formats[code] if code else None
        if isinstance(value, dt.datetime):
            sheet.write_datetime(row, 0, value, fmt)
        elif isinstance(value, bool):
            sheet.write_boolean(row, 0, value)
        elif isinstance(value, str):
            sheet.write_string(row, 0, value)
        else:
            sheet.write_number(row, 0, value, fmt)
        sheet.write_string(row, 1, f"ROW {row}")
    sheet.write_formula(len(cells) + 1, 0, "=1/0", None, "#DIV/0!")
    sheet.write_string(len(cells) + 1, 1, "ERROR CELL")
    book.close()
    return path


def test_a_sheet_read_cell_by_cell_gives_the_rows_the_grid_gives(tmp_path):
    from pipeline.input.extent import sheet_parts

    value_types(tmp_path / "value_types.xlsx")
    expected: dict[str, object] = {}
    jobs = []
    for name, sheet in EQUIVALENT:
        source = tmp_path / name if name == "value_types.xlsx" else DATA / name
        loaded = load_file(source, LoadOptions(sheet=sheet))
        expected[name] = [list(r) for r in loaded.frame.itertuples(index=False, name=None)]
        with zipfile.ZipFile(source) as archive:
            member = sheet_parts(archive)[loaded.sheet]
        stray = rewrite(source, tmp_path / f"stray-{name}", member, with_cells(STRAY))
        jobs.append((name, str(stray), loaded.sheet))
    script = textwrap.dedent(
        """
        import json, resource, sys
        limit = 1536 * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        from pipeline.input.frame import LoadOptions
        from pipeline.input.load import load_file
        out = {}
        for name, path, sheet in json.loads(sys.argv[1]):
            loaded = load_file(path, LoadOptions(sheet=sheet))
            assert any("read cell by cell" in n for n in loaded.notes), loaded.notes
            out[name] = [list(r) for r in loaded.frame.itertuples(index=False, name=None)]
        print(json.dumps(out))
        """
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(jobs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout)
    for name, _ in EQUIVALENT:
        assert got[name] == expected[name], name


def test_deep_narrow_stray_still_reads_the_data(tmp_path):
    rows = b'<row r="1048576"><c r="C1048576"><v>1</v></c></row>'
    path = rewrite(DATA / "two_sheets.xlsx", tmp_path / "deep.xlsx", SHEET, with_cells(rows))
    loaded = load_file(path, LoadOptions())
    assert loaded.frame["input_name"].tolist() == ["JANUARY"]
    assert loaded.blank_rows == 1_048_576 - 2


def test_ods_beyond_calamines_cell_limit_is_refused(tmp_path):
    far = (
        b'<table:table-row table:number-rows-repeated="1048570">'
        b'<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
        b'<table:table-row><table:table-cell table:number-columns-repeated="16383"/>'
        b'<table:table-cell office:value-type="float" office:value="1"><text:p>1</text:p>'
        b"</table:table-cell></table:table-row>"
    )
    path = rewrite(
        DATA / "sample.ods",
        tmp_path / "far.ods",
        "content.xml",
        lambda d: d.replace(b"</table:table>", far + b"</table:table>", 1),
    )
    with pytest.raises(InputError, match=r"^far\.ods: a sheet reaches farther than cnam-batch"):
        load_file(path, LoadOptions(), source_file="far.ods")
