"""Big reports through polars: report.csv and the big sheets' XML are the bytes rustpy-xlsxwriter
writes for the same rows, and the workbook they go into is whole, readable and the same file.

The values mix what the writer escapes (entities, control characters, a literal `_xHHHH_`,
U+FFFE), what it marks `xml:space="preserve"`, empty and missing cells, text past a cell's limit
and non-ASCII text; chunks of a few rows put chunk and thread boundaries everywhere.
"""

from __future__ import annotations

import random
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import rustpy_xlsxwriter as rx
from summaries import make_summary

from pipeline.model import REPORT_COLUMNS
from pipeline.report import columnar, files, sheetxml, workbook, write, xlsxzip
from pipeline.report.write import prepare_rows

PIECES = [
    "a", "Z", "9", " ", "\t", "\n", "\r", "&", "<", ">", '"', "'", ",", "=", "_", "x", "_x0041_",
    "_x004a_", "_X0041_", "\x00", "\x01", "\x0b", "\x1f", "\x7f", "é", "€", "😀", "\ufffe", "\uffff",
    "\u2028", "ACME PLUMBING", "_x00",
]  # fmt: skip


def tricky_text(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return ""
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))


def tricky_frame(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = random.Random(seed)
    data: dict[str, Any] = {c: [tricky_text(rng) for _ in range(rows)] for c in REPORT_COLUMNS}
    data["source_row"] = [rng.randint(-5, 10**12) for _ in range(rows)]
    data["status"] = [rng.choice(["associated", "rejected", "", "planned"]) for _ in range(rows)]
    return pd.DataFrame(data, columns=list(REPORT_COLUMNS))


def writer_sheet_xml(frame: pd.DataFrame, tmp_path: Path) -> bytes:
    """The sheet XML rustpy-xlsxwriter writes for `frame` (one sheet, defaults)."""
    path = tmp_path / "writer.xlsx"
    rx.write_worksheets([("S", frame)], str(path))
    with zipfile.ZipFile(path) as book:
        return book.read("xl/worksheets/sheet1.xml")


def data_rows(sheet: bytes) -> bytes:
    start = sheet.index(b"</row>") + len(b"</row>")  # after the header row
    return sheet[start : sheet.index(b"</sheetData>")]


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_sheet_rows_are_the_writers_bytes(tmp_path: Path, chunk_rows: int) -> None:
    frame = tricky_frame(400)
    ours = b"".join(sheetxml.rows_xml(frame, 32_767, chunk_rows=chunk_rows))
    theirs = data_rows(writer_sheet_xml(frame, tmp_path))
    assert b"_x005F_x0041_" in theirs and b"&amp;" in theirs and b'xml:space="preserve"' in theirs
    assert ours == theirs


def test_missing_cells_are_no_cell_as_in_the_writer(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": ["x", None, "", "y", float("nan")], "b": [1, 2, 3, 4, 5]})
    frame["a"] = frame["a"].astype(object)
    ours = b"".join(sheetxml.rows_xml(frame, 32_767, chunk_rows=2))
    assert ours == data_rows(writer_sheet_xml(frame, tmp_path))
    assert b'r="A3"' not in ours and b'r="A4"' not in ours and b'r="A6"' not in ours
    text_only = frame[["a"]]  # a row left without a cell is left out, as the writer does
    ours = b"".join(sheetxml.rows_xml(text_only, 32_767, chunk_rows=2))
    assert ours == data_rows(writer_sheet_xml(text_only, tmp_path))
    assert b'<row r="3">' not in ours


def test_text_past_the_cell_limit_is_cut_to_it_by_characters(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": ["é" * 30, "short", "x" * 12 + "&"], "n": [1, 2, 3]})
    ours = b"".join(sheetxml.rows_xml(frame, 12))
    cut = frame.assign(a=frame["a"].str.slice(0, 12))
    assert ours == data_rows(writer_sheet_xml(cut, tmp_path))


def test_only_text_and_exact_integers_go_through_polars() -> None:
    assert columnar.is_columnar(tricky_frame(5))
    assert not columnar.is_columnar(pd.DataFrame({"a": [1.5]}))
    assert not columnar.is_columnar(pd.DataFrame({"a": [2**53]}))
    assert columnar.is_columnar(pd.DataFrame({"a": [2**53 - 1], "b": ["x"]}))


# ----------------------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("rows", [0, 1, 333])
def test_csv_is_the_writers_bytes(tmp_path: Path, rows: int) -> None:
    frame = prepare_rows(tricky_frame(rows)).csv
    columnar.write_csv(frame, tmp_path / "ours.csv", chunk_rows=7)
    rx.write_csv(frame, str(tmp_path / "theirs.csv"), bom=True)
    ours = (tmp_path / "ours.csv").read_bytes()
    assert ours == (tmp_path / "theirs.csv").read_bytes()
    assert ours.startswith("\ufeffsource_file,source_row,".encode())


def test_a_big_report_writes_the_same_files_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = tricky_frame(120)
    carried = tricky_frame(30, seed=8)
    for name in ("fast", "slow"):
        (tmp_path / name).mkdir()
    monkeypatch.setattr(files, "COLUMNAR_MIN_ROWS", 10)
    monkeypatch.setattr(workbook, "STYLED_MAX_ROWS", 10)
    fast = write.write_reports(tmp_path / "fast", rows, make_summary(), carried_over=carried)
    monkeypatch.setattr(files, "COLUMNAR_MIN_ROWS", 10**9)
    monkeypatch.setattr(workbook, "STYLED_MAX_ROWS", 10**9)
    slow = write.write_reports(tmp_path / "slow", rows, make_summary(), carried_over=carried)
    assert [p.name for p in fast] == [
        "report.csv", "report.xlsx", "carried_over.csv", "summary.json"
    ]  # fmt: skip
    for ours, theirs in zip(fast, slow, strict=True):
        if ours.suffix in (".csv", ".json"):
            assert ours.read_bytes() == theirs.read_bytes(), ours.name
    assert openpyxl.load_workbook(fast[1]).sheetnames == openpyxl.load_workbook(slow[1]).sheetnames
    assert sorted(p.name for p in (tmp_path / "fast").iterdir()) == sorted(p.name for p in fast)


# ------------------------------------------------------------------------------------ workbook


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as book:
        assert book.testzip() is None  # every part's CRC checks out
        return {name: book.read(name) for name in book.namelist() if name != "docProps/core.xml"}


def write_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: pd.DataFrame, **kw: Any
) -> tuple[Path, Path]:
    text = prepare_rows(rows).text
    carried = prepare_rows(tricky_frame(25, seed=3)).text
    monkeypatch.setattr(workbook, "STYLED_MAX_ROWS", 10)
    monkeypatch.setattr(sheetxml, "CHUNK_ROWS", 9)
    fast, slow = tmp_path / "fast.xlsx", tmp_path / "slow.xlsx"
    workbook.write_xlsx(fast, text, make_summary(), carried, **kw)
    monkeypatch.setattr(workbook, "is_columnar", lambda frame: False)
    workbook.write_xlsx(slow, text, make_summary(), carried, **kw)
    return fast, slow


def test_big_sheets_make_the_same_workbook_as_the_writer_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = tricky_frame(150).assign(status="rejected", reason_code="name_too_long")
    fast, slow = write_both(tmp_path, monkeypatch, rows, sheet_rows=60)
    ours, theirs = parts(fast), parts(slow)
    assert list(ours) == list(theirs)
    for name in theirs:
        assert ours[name] == theirs[name], name
    book = openpyxl.load_workbook(fast)
    assert book.sheetnames == [
        "Summary", "Needs attention", "Needs attention 2", "Needs attention 3",
        "Rows", "Rows 2", "Rows 3", "Carried over",
    ]  # fmt: skip
    sheet = book["Rows 3"]
    assert sheet.dimensions == "A1:L31"  # 150 rows: 60, 60 and 30
    got = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert got == rows["source_row"].iloc[120:].tolist()


def test_a_workbook_past_the_zip_limit_is_written_the_slow_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_big(*args: Any, **kwargs: Any) -> None:
        raise xlsxzip.TooBig("passes 4 GiB")

    rows = tricky_frame(40)
    monkeypatch.setattr(workbook, "fill_sheets", too_big)
    fast, slow = write_both(tmp_path, monkeypatch, rows)
    assert parts(fast) == parts(slow)


def test_fill_refuses_a_part_past_the_limit_and_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    frame = pd.DataFrame({"a": ["" for _ in range(50)]})
    rx.write_worksheets([("S", frame)], str(path))
    before = path.read_bytes()
    rows = {"S": (50, lambda: iter([b'<row r="2"><c r="A2"><v>1.0</v></c></row>' * 500]))}
    with pytest.raises(xlsxzip.TooBig):
        xlsxzip.fill_sheets(path, rows, zip_limit=10_000)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]  # no temporary file left


def test_fill_wants_a_sheet_holding_only_its_header(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    rx.write_worksheets([("S", pd.DataFrame({"a": ["x"]}))], str(path))
    with pytest.raises(ValueError, match="exactly its header row"):
        xlsxzip.fill_sheets(path, {"S": (1, lambda: iter([]))})
    with pytest.raises(ValueError, match="no sheet named T"):
        xlsxzip.fill_sheets(path, {"T": (1, lambda: iter([]))})


# ------------------------------------------------------------------------------ the CSV thread


def test_a_failing_csv_thread_leaves_no_report(tmp_path: Path) -> None:
    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(OSError, match="No space left"):
        files.write_all(
            run_dir,
            [("report.csv", broken), ("report.xlsx", lambda tmp: tmp.write_bytes(b"x"))],
            beside={"report.csv"},
        )
    assert list(run_dir.iterdir()) == []
    written = files.write_all(
        run_dir,
        [("a.csv", lambda tmp: tmp.write_bytes(b"a")), ("b", lambda tmp: tmp.write_bytes(b"b"))],
        beside={"a.csv"},
    )
    assert [p.read_bytes() for p in written] == [b"a", b"b"]
