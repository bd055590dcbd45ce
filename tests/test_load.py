"""load.py: each input defect in tests/data and the exact rows or the exact error it gives."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import InputError, UsageError
from pipeline.input.delimited import read_body_exact, read_body_fast
from pipeline.input.frame import LoadedFile, LoadOptions, file_hash
from pipeline.input.header import Header, normalize_header
from pipeline.input.load import SUPPORTED_SUFFIXES, expand_inputs, load_file

DATA = Path(__file__).parent / "data"
HUGE = "A" * 100_000


def load(name: str, **options: str) -> LoadedFile:
    return load_file(DATA / name, LoadOptions(**options), source_file=f"input/{name}")


def rows_of(loaded: LoadedFile) -> list[tuple[int, str, str]]:
    return list(loaded.frame.itertuples(index=False, name=None))


# (fixture, options, rows (source_row, input_number, input_name), blank_rows, notes, sheet)
LOADS = [
    (
        "utf8_bom.csv",
        {},
        [(2, "16463439697", "Café Olé"), (3, "+1 646 343 9698", "Bob’s Diner")],
        0,
        [],
        None,
    ),
    (
        "utf16_bom.csv",
        {},
        [(2, "16463439697", "Café Olé"), (3, "+1 646 343 9698", "Bob’s Diner")],
        0,
        [],
        None,
    ),
    (
        "utf16be_bom.csv",
        {},
        [(2, "16463439697", "Café Olé"), (3, "+1 646 343 9698", "Bob’s Diner")],
        0,
        [],
        None,
    ),
    (
        "cp1252.csv",
        {},
        [(2, "16463439697", "Café Müller"), (3, "16463439698", "Bob’s – Diner")],
        0,
        ["read as cp1252 (the file is not UTF-8)"],
        None,
    ),
    (
        "semicolons.csv",
        {},
        [(2, "16463439697", "Smith, Jones & Co"), (3, "+1 646 343 9698", "ACME")],
        0,
        [],
        None,
    ),
    (
        "tabs.tsv",
        {},
        [(2, "6463439697", "ACME"), (3, "1-646-343-9698", "Smith, Jones")],
        0,
        [],
        None,
    ),
    (
        "pipes.txt",
        {},
        [(2, "16463439697", "ACME"), (3, "16463439698", "Smith; Jones")],
        0,
        [],
        None,
    ),
    (
        "quoted_newlines.csv",
        {},
        [
            (2, "16463439697", "ACME\nCORP"),
            (3, "16463439698", 'Say "Hi"'),
            (4, "16463439699", "Bob"),
        ],
        0,
        [],
        None,
    ),
    (
        "crlf_and_cr.csv",
        {},
        [
            (2, "16463439697", "ACME"),
            (4, "16463439698", "Two\rLines"),
            (5, "16463439699", "Old Mac"),
        ],
        1,
        [],
        None,
    ),
    (
        "title_row_above_header.csv",
        {},
        [(4, "16463439697", "ACME"), (5, "16463439698", "BOB")],
        0,
        ["header is row 3; the rows above it were not read"],
        None,
    ),
    (
        "blank_rows.csv",
        {},
        [
            (2, "16463439697", "ACME"),
            (6, "", "NO NUMBER"),
            (7, "16463439698", ""),
            (8, "16463439699", "BOB"),
        ],
        3,
        [],
        None,
    ),
    ("header_only.csv", {}, [], 0, [], None),
    (
        "trailing_empty_fields.csv",
        {},
        [(2, "16463439697", "ACME"), (3, "16463439698", ""), (4, "16463439699", "BOB")],
        0,
        [],
        None,
    ),
    (
        "formula_injection.csv",
        {},
        [
            (2, "16463439697", '=HYPERLINK("http://evil.example","click")'),
            (3, "16463439698", "+1"),
            (4, "16463439699", "-2"),
            (5, "16463439690", "@SUM(A1:A2)"),
        ],
        0,
        [],
        None,
    ),
    (
        "excel_artefacts.csv",
        {},
        [
            (2, "16463439697.0", "FLOAT TEXT"),
            (3, "1.6463439697E+10", "SCIENTIFIC"),
            (4, "+16463439698", "PLUS"),
            (5, "06463439699", "LEADING ZERO"),
            (6, " 6463439690 ", "SPACES KEPT "),
        ],
        0,
        [],
        None,
    ),
    ("huge_cell.csv", {}, [(2, "16463439697", HUGE), (3, "16463439698", "ACME")], 0, [], None),
    (
        "two_name_columns.csv",
        {},
        [(2, "16463439697", "ACME")],
        0,
        ["2 name columns ('Name', 'CNAM'); used 'CNAM' (choose another with --name-column)"],
        None,
    ),
    (
        "two_name_columns.csv",
        {"name_column": "Name"},
        [(2, "16463439697", "Acme Account")],
        0,
        [],
        None,
    ),
    (
        "numbers_as_floats.xlsx",
        {},
        [
            (2, "16463439697", "ACME"),
            (3, "6463439698", "Number As Name"),
            (4, "16463439699", "12345"),
            (5, "1.5", "TRUE"),
            (6, "1e+20", "FALSE"),
            (7, "+16463439690", "Plus Text"),
            (8, "06463439691", "Leading Zero Text"),
            (9, "(646) 343-9692", "Punctuated Text"),
            (10, "2024-02-03", "A Date"),
        ],
        0,
        [],
        "Numbers",
    ),
    (
        "first_sheet_empty.xlsx",
        {},
        [(2, "16463439697", "ACME")],
        0,
        ["first sheet 'Cover' is empty; used 'Numbers'"],
        "Numbers",
    ),
    (
        "hidden_first_sheet.xlsx",
        {},
        [(2, "16463439697", "ACME")],
        0,
        ["hidden sheet 'Old' was not read; used 'Current'"],
        "Current",
    ),
    ("hidden_first_sheet.xlsx", {"sheet": "Old"}, [(2, "16460000000", "OLD DATA")], 0, [], "Old"),
    ("two_sheets.xlsx", {}, [(2, "16463439697", "JANUARY")], 0, [], "January"),
    ("two_sheets.xlsx", {"sheet": "February"}, [(2, "16463439698", "FEBRUARY")], 0, [], "February"),
    (
        "two_sheets.xlsx",
        {"sheet": " february "},
        [(2, "16463439698", "FEBRUARY")],
        0,
        [],
        "February",
    ),
    # a formula without a cached value reads as an empty cell (the row gets number_missing later)
    (
        "formulas.xlsx",
        {},
        [(2, "16463439697", "ACME"), (3, "", "NO NUMBER"), (4, "16463439699", "BOBS")],
        0,
        [],
        "Numbers",
    ),
    (
        "header_not_in_a1.xlsx",
        {},
        [(4, "16463439697", "ACME"), (6, "16463439698", "BOB")],
        1,
        ["header is row 3; the rows above it were not read"],
        "Export",
    ),
    (
        "header_not_in_a1.xlsx",
        {"number_column": "B", "name_column": "D"},
        [(4, "16463439697", "ACME"), (6, "16463439698", "BOB")],
        1,
        ["header is row 3; the rows above it were not read"],
        "Export",
    ),
    (
        "header_not_in_a1.xlsx",
        {"name_column": "Account"},
        [(4, "16463439697", "A-1"), (6, "16463439698", "A-2")],
        1,
        ["header is row 3; the rows above it were not read"],
        "Export",
    ),
    (
        "sample.ods",
        {},
        [
            (2, "16463439697", "ACME"),
            (4, "+16463439698", "Plus Text"),
            (5, "6463439699", "TRUE"),
            (6, "2024-02-03", "A Date"),
        ],
        1,
        [],
        "Numbers",
    ),
]


@pytest.mark.parametrize(
    ("name", "options", "rows", "blank", "notes", "sheet"),
    LOADS,
    ids=[f"{c[0]}{'-' + '-'.join(c[1].values()) if c[1] else ''}" for c in LOADS],
)
def test_fixture_loads_exact_rows(name, options, rows, blank, notes, sheet):
    loaded = load(name, **options)
    assert rows_of(loaded) == rows
    assert loaded.blank_rows == blank
    assert loaded.notes == notes
    assert loaded.sheet == sheet
    assert loaded.source_file == f"input/{name}"
    assert loaded.content_hash == hashlib.sha256((DATA / name).read_bytes()).hexdigest()


LISTED_SHEETS = "'January', 'February'"
NEEDS_COLUMNS = (
    "no number column (a header like Phone, Number, TN or DID) and no name column "
    "(a header like Name, CNAM or Caller ID) in the first 20 rows; row 1 has 'Account', 'Customer', "
    "'Mobile'; name them with --number-column and --name-column "
    "(header text, column letter or 1-based number)"
)
# (fixture, options, the whole message after "input/<fixture>")
ERRORS = [
    ("empty.csv", {}, " is empty; it needs a header row with number and name columns"),
    (
        "empty.csv",
        {"number_column": "A", "name_column": "2"},
        " is empty; it needs a header row with number and name columns",
    ),
    ("no_recognizable_column.csv", {}, ": " + NEEDS_COLUMNS),
    (
        "no_recognizable_column.csv",
        {"number_column": "Mobile"},
        ": no name column (a header like Name, CNAM or Caller ID) in the first 20 rows; row 1 has "
        "'Account', 'Customer', 'Mobile'; name it with --name-column "
        "(header text, column letter or 1-based number)",
    ),
    (
        "semicolons.csv",
        {"number_column": "Mobile"},
        ": no column 'Mobile' for --number-column in the first 20 rows; row 1 has 'Phone', "
        "'Caller ID Name'; name it with --number-column (header text, column letter or 1-based number)",
    ),
    (
        "too_many_fields.csv",
        {},
        " line 3: 3 fields where the header has 2; quote names that contain the delimiter",
    ),
    (
        "unclosed_quote.csv",
        {},
        " line 3: a quoted field starts on this line and is never closed; check the quotes",
    ),
    (
        "garbage_bytes.csv",
        {},
        " line 3: NUL bytes, so this is not delimited text (binary data, or UTF-16 without a "
        "byte-order mark); save it as CSV UTF-8",
    ),
    (
        "undecodable.csv",
        {},
        " line 3: byte 0x81 is not text in UTF-8 or cp1252; save the file as CSV UTF-8",
    ),
    (
        "not_a_workbook.xlsx",
        {},
        ": not a valid .xlsx workbook (it is not a zip archive); open it in a spreadsheet program "
        "and save it again as .xlsx or CSV UTF-8",
    ),
    (
        "random_bytes.ods",
        {},
        ": not a valid .ods workbook (it is not a zip archive); open it in a spreadsheet program "
        "and save it again as .ods or CSV UTF-8",
    ),
    (
        "all_sheets_empty.ods",
        {},
        ": every sheet is empty ('Sheet1', 'Sheet2'); it needs a header row with number and name "
        "columns",
    ),
    (
        "two_sheets.xlsx",
        {"sheet": "March"},
        f": no sheet named 'March'; the sheets are {LISTED_SHEETS} (pick one with --sheet)",
    ),
    (
        "first_sheet_empty.xlsx",
        {"sheet": "Cover"},
        " sheet 'Cover' is empty; choose another with --sheet ('Cover', 'Numbers')",
    ),
    (
        "numbers_as_floats.xlsx",
        {"name_column": "CNAM"},
        " sheet 'Numbers': no column 'CNAM' for --name-column in the first 20 rows; row 1 has "
        "'Phone Number', 'Caller ID Name'; name it with --name-column "
        "(header text, column letter or 1-based number)",
    ),
]


@pytest.mark.parametrize(
    ("name", "options", "message"),
    ERRORS,
    ids=[f"{c[0]}{'-' + '-'.join(c[1].values()) if c[1] else ''}" for c in ERRORS],
)
def test_fixture_error_names_file_place_and_fix(name, options, message):
    with pytest.raises(InputError) as caught:
        load(name, **options)
    assert str(caught.value) == f"input/{name}{message}"


def test_frame_has_contract_columns_and_types():
    frame = load("numbers_as_floats.xlsx").frame
    assert list(frame.columns) == ["source_row", "input_number", "input_name"]
    assert frame["source_row"].dtype == "int64"
    assert frame["input_number"].dtype == "str"
    assert frame["input_name"].dtype == "str"
    assert list(frame.index) == list(range(len(frame)))


def test_header_only_file_gives_typed_empty_frame():
    frame = load("header_only.csv").frame
    assert frame.empty
    assert frame["source_row"].dtype == "int64"
    assert frame["input_name"].dtype == "str"


def test_source_file_defaults_to_the_path():
    loaded = load_file(DATA / "pipes.txt", LoadOptions())
    assert loaded.source_file == str(DATA / "pipes.txt")
    assert loaded.path == DATA / "pipes.txt"


def test_xlsm_reads_like_xlsx(tmp_path):
    target = tmp_path / "macro.xlsm"
    shutil.copy(DATA / "two_sheets.xlsx", target)
    assert rows_of(load_file(target, LoadOptions())) == [(2, "16463439697", "JANUARY")]


def test_sheet_option_is_ignored_for_csv():
    assert rows_of(load("pipes.txt", sheet="Anything"))[0] == (2, "16463439697", "ACME")


# ----------------------------------------------------------------------------- headers and columns


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Phone Number", "phonenumber"),
        ("phone_number", "phonenumber"),
        ("Phone #", "phonenumber"),
        ("PHONE NUMBERS", "phonenumber"),
        ("  TN ", "tn"),
        ("DIDs", "did"),
        ("Long-Code", "longcode"),
        ("Caller ID Name", "calleridname"),
        ("CallerID", "callerid"),
        ("CNAM Name", "cnamname"),
        ("cnam_value", "cnamvalue"),
        ("Display Name:", "displayname"),
        ("Address", "address"),
        ("", ""),
    ],
)
def test_normalize_header(text, normalized):
    assert normalize_header(text) == normalized


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("number,name\n1,A\n", ("1", "A")),
        ("Phone Number,Caller ID Name\n1,A\n", ("1", "A")),
        ("phone_number,cnam_name\n1,A\n", ("1", "A")),
        ("Phone #,CNAM\n1,A\n", ("1", "A")),
        ("Telephone,Display Name\n1,A\n", ("1", "A")),
        ("Long Code,CNAM Value\n1,A\n", ("1", "A")),
        ("DIDs,Caller ID\n1,A\n", ("1", "A")),
        ("TN,Names\n1,A\n", ("1", "A")),
        ("Notes,CNAM,Account,Phone\nx,B,y,4\n", ("4", "B")),
        ('Phone,"Caller ID, Name"\n1,A\n', ("1", "A")),  # a quoted header holding the delimiter
        ("Phone;Name\n1;A, Inc\n", ("1", "A, Inc")),
    ],
)
def test_columns_found_by_header_text(tmp_path, content, expected):
    path = tmp_path / "in.csv"
    path.write_text(content, encoding="utf-8")
    assert rows_of(load_file(path, LoadOptions())) == [(2, *expected)]


OVERRIDE_CSV = "Account,TN,Mobile,CNAM,Customer\nA-1,16463439697,16465550000,ACME,Acme Inc\n"


@pytest.mark.parametrize(
    ("number_column", "name_column", "expected"),
    [
        (None, None, ("16463439697", "ACME")),
        ("Mobile", None, ("16465550000", "ACME")),
        ("C", "E", ("16465550000", "Acme Inc")),
        ("3", "5", ("16465550000", "Acme Inc")),
        ("c", "customer", ("16465550000", "Acme Inc")),
        ("TN", "Customer", ("16463439697", "Acme Inc")),  # "TN" is header text here, not column TN
    ],
)
def test_column_overrides(tmp_path, number_column, name_column, expected):
    path = tmp_path / "in.csv"
    path.write_text(OVERRIDE_CSV, encoding="utf-8")
    options = LoadOptions(number_column=number_column, name_column=name_column)
    assert rows_of(load_file(path, options)) == [(2, *expected)]


def test_positional_overrides_without_alias_header_use_first_row_as_header(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("Col1,Col2\n16463439697,ACME\n", encoding="utf-8")
    loaded = load_file(path, LoadOptions(number_column="A", name_column="2"))
    assert rows_of(loaded) == [(2, "16463439697", "ACME")]


@pytest.mark.parametrize(
    ("number_column", "name_column", "message"),
    [
        ("0", None, "--number-column 0: column numbers start at 1"),
        (
            "Phone",
            "phone",
            "--number-column and --name-column both name 'Phone'; give two different columns",
        ),
    ],
)
def test_bad_column_options_are_usage_errors(number_column, name_column, message):
    with pytest.raises(UsageError) as caught:
        load_file(
            DATA / "pipes.txt", LoadOptions(number_column=number_column, name_column=name_column)
        )
    assert str(caught.value) == message


def test_column_number_beyond_the_header_is_an_input_error(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("Phone,Name\n16463439697,ACME\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"no column '7' for --name-column .* row 1 has 'Phone', 'Name'"
    ):
        load_file(path, LoadOptions(name_column="7"))


def test_header_beyond_the_first_20_non_blank_rows_is_not_found(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("note\n" * 20 + "Phone,Name\n16463439697,ACME\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"in the first 20 rows; row 1 has 'note'"):
        load_file(path, LoadOptions())
    path.write_text("note\n" * 19 + "\n\n" + "Phone,Name\n16463439697,ACME\n", encoding="utf-8")
    assert rows_of(load_file(path, LoadOptions())) == [(23, "16463439697", "ACME")]


# --------------------------------------------------------------------------------- delimited edges


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # the line reported is the physical line where the bad record starts
        ('Phone,Name\n1,"a\nb"\n2,x,y\n', "line 4: 3 fields where the header has 2"),
        # the first data record is special for pandas: it must be caught too
        ("Phone,Name\n1,Smith, Jones\n2,x\n", "line 2: 3 fields where the header has 2"),
        ("Phone,Name\n1,a,,x\n", "line 2: 4 fields where the header has 2"),
        # trailing delimiters on data rows are fine, a filled extra field later is not
        ("Phone,Name\n1,a,\n2,b,\n3,c,d\n", "line 4: 3 fields where the header has 2"),
        (
            'Phone,Name\n1,"open\n' + "2,x\n" * 40_000,
            "line 2: a field longer than 131,072 characters",
        ),
    ],
)
def test_malformed_csv_names_the_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=f"^{tmp_path / 'bad.csv'} {message}"):
        load_file(path, LoadOptions())


@pytest.mark.parametrize(
    ("content", "start"),
    [
        (b"PK\x03\x04rest", "not a text file but a zip file"),
        (b"\xd0\xcf\x11\xe0rest", "not a text file but an old .xls or encrypted workbook"),
        ("Phone,Name\n1,A\n".encode("utf-16-le"), "line 1: NUL bytes"),
        (b"\xff\xfeP\x00h", "line 1: not valid UTF-16-LE although the file says so"),
    ],
)
def test_binary_disguised_as_csv_is_refused(tmp_path, content, start):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=f"^{path}: {start}|^{path} {start}"):
        load_file(path, LoadOptions())


def test_whitespace_only_file_is_empty(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_bytes(b"\xef\xbb\xbf \r\n\r\n,\r\n")
    with pytest.raises(InputError, match="is empty"):
        load_file(path, LoadOptions())


TRICKY_BODIES = [
    "1,a\n2,b\n",
    "1,a\n\n2,b\n",
    '1,"a\nb"\n2,"x,y"\n',
    '1,"say ""hi"""\r\n2,b\r\n',
    "1,a\r2,b\r",
    '1,a"b\n2,"c"d\n',
    " 1 , a \n",
    "1\n,only name\n",
    "\n\n",
    '""\n',
    "1,a",
    ",\n \t, \n3,c\n",
]


@pytest.mark.parametrize(
    ("body", "columns"),
    [(b, 2) for b in TRICKY_BODIES] + [(b, 6) for b in [*TRICKY_BODIES, "1,a,\n2,b,, ,\n"]],
)
def test_fast_and_exact_csv_paths_agree(body, columns):
    header = Header(0, 0, 1)
    fast = read_body_fast(body.encode("utf-8"), ",", 2, columns, header)
    exact = read_body_exact(body, ",", 2, header, 1, "x.csv")
    assert fast == exact


@pytest.mark.parametrize("body", ["1,a,x\n", "1,a\n2,b,,,,,\n", "1,a\n2,b,, ,x\n"])
def test_fast_path_refuses_filled_or_too_many_spare_fields(body):
    with pytest.raises(ValueError):
        read_body_fast(body.encode("utf-8"), ",", 2, 6, Header(0, 0, 1))


# ----------------------------------------------------------------------------------- expand_inputs


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("Phone,Name\n", encoding="utf-8")


def test_folder_expands_to_supported_files_sorted_by_name(tmp_path):
    drop = tmp_path / "input"
    _touch(drop, "b.xlsx", "a.csv", "C.TSV", "d.txt", "e.ods", "f.xlsm", "README.md", ".hidden.csv")
    _touch(drop, "~$b.xlsx")
    _touch(drop / "nested", "g.csv")
    assert expand_inputs([drop]) == [
        drop / n for n in ("C.TSV", "a.csv", "b.xlsx", "d.txt", "e.ods", "f.xlsm")
    ]


def test_folder_members_keep_the_path_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _touch(tmp_path / "input", "acme.csv")
    assert [str(p) for p in expand_inputs(["input/"])] == ["input/acme.csv"]


def test_files_and_folders_keep_order_and_load_once(tmp_path):
    _touch(tmp_path / "drop", "a.csv", "b.csv")
    _touch(tmp_path, "z.csv")
    got = expand_inputs([tmp_path / "z.csv", tmp_path / "drop", tmp_path / "drop" / "a.csv"])
    assert got == [tmp_path / "z.csv", tmp_path / "drop" / "a.csv", tmp_path / "drop" / "b.csv"]


def test_empty_folder_expands_to_nothing(tmp_path):
    assert expand_inputs([tmp_path]) == []


@pytest.mark.parametrize(
    ("name", "create", "message"),
    [
        ("missing.csv", False, "missing.csv: no such file or folder; check the path"),
        (
            "notes.pdf",
            True,
            "notes.pdf: unsupported file type '.pdf'; use .csv, .tsv, .txt, .xlsx, .xlsm or .ods",
        ),
    ],
)
def test_expand_inputs_refuses_missing_or_unsupported(tmp_path, monkeypatch, name, create, message):
    monkeypatch.chdir(tmp_path)
    if create:
        Path(name).write_bytes(b"%PDF")
    with pytest.raises(InputError) as caught:
        expand_inputs([name])
    assert str(caught.value) == message


def test_supported_suffixes_match_the_spec():
    assert SUPPORTED_SUFFIXES == (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".ods")


def test_load_file_on_missing_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="gone.csv: no such file; check the path"):
        load_file(tmp_path / "gone.csv", LoadOptions(), source_file="gone.csv")


# -------------------------------------------------------------------------------- hashes, fixtures


def test_file_hash_is_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * (3 << 20) + b"tail")
    assert file_hash(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_make_fixtures_reproduces_the_checked_in_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_fixtures", DATA / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert len(generated) >= 15
    for name in generated:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


# ------------------------------------------------------------------------------------------- scale


@pytest.mark.slow
def test_million_row_csv_loads_quickly(tmp_path):
    path = tmp_path / "million.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("Phone Number,CNAM,Notes\r\n")
        handle.writelines(f"1646{i:07d},NAME {i % 5000},n\r\n" for i in range(1_000_000))
        handle.write("\r\n")
    started = time.perf_counter()
    loaded = load_file(path, LoadOptions())
    elapsed = time.perf_counter() - started
    assert len(loaded.frame) == 1_000_000
    assert loaded.blank_rows == 1
    assert loaded.frame.iloc[-1].tolist() == [1_000_001, "16460999999", "NAME 4999"]
    assert elapsed < 5, elapsed


@pytest.mark.slow
def test_100k_row_xlsx_loads_quickly(tmp_path):
    import xlsxwriter

    path = tmp_path / "big.xlsx"
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["Phone", "Name"])
    for i in range(1, 100_001):
        if i % 10:
            sheet.write_number(i, 0, 16460000000 + i)
        else:
            sheet.write_string(i, 0, f"+1 646 {i:07d}")
        sheet.write_string(i, 1, f"NAME {i}")
    workbook.close()
    started = time.perf_counter()
    loaded = load_file(path, LoadOptions())
    elapsed = time.perf_counter() - started
    assert len(loaded.frame) == 100_000
    assert loaded.frame.iloc[8].tolist() == [10, "16460000009", "NAME 9"]
    assert loaded.frame.iloc[9].tolist() == [11, "+1 646 0000010", "NAME 10"]
    assert isinstance(loaded.frame, pd.DataFrame)
    assert elapsed < 3, elapsed
