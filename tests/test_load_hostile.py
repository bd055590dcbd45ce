"""Damaged and hostile workbooks: one line naming the file, never a traceback or a dead process.

The damaged files are made here from the checked-in good ones (a part cut off half way, as a broken
upload leaves it), so no binary fixture is needed for each defect.
"""

from __future__ import annotations

import io
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


def test_stray_far_cell_is_refused_with_what_to_do(tmp_path):
    path = rewrite(DATA / "two_sheets.xlsx", tmp_path / "stray.xlsx", SHEET, with_cells(STRAY))
    done = run_capped("run", path, "--dry-run", "--output", tmp_path / "out")
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stderr == (
        f"cnam-batch: error: {path} sheet 'January' reaches column XFD and row 1,048,576 "
        "(17,179,869,184 cells counting the empty ones), more than cnam-batch reads (33,554,432); "
        "delete the cells beyond your data (Ctrl+End shows the last one) and save again, "
        "or save the sheet as CSV UTF-8\n"
    )


def test_stray_in_a_hidden_sheet_that_is_not_read_does_not_matter(tmp_path):
    # hidden_first_sheet.xlsx: 'Old' (sheet1) is hidden; 'Current' is read.
    path = rewrite(DATA / "hidden_first_sheet.xlsx", tmp_path / "h.xlsx", SHEET, with_cells(STRAY))
    done = run_capped("run", path, "--dry-run", "--quiet", "--output", tmp_path / "out")
    assert (done.returncode, done.stderr) == (0, "")
    assert [p.name for p in (tmp_path / "out").iterdir()]  # a run folder with the report


def test_stray_with_an_explicit_sheet_is_refused_too(tmp_path):
    path = rewrite(DATA / "hidden_first_sheet.xlsx", tmp_path / "h.xlsx", SHEET, with_cells(STRAY))
    done = run_capped("run", path, "--sheet", "Old", "--dry-run", "--output", tmp_path / "out")
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "h.xlsx sheet 'Old' reaches column XFD and row 1,048,576" in done.stderr


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
