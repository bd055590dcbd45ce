"""Golden reports: a dry run of input/example.xlsx (and of a few encoding fixtures) must write
exactly the report files checked in under tests/data/golden/.

To regenerate the goldens after an intended change, run

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

then read the diff (`git diff tests/data/golden/`): the tests below that check the goldens' content
against what input/example.xlsx says each row shows must still pass.

report.csv has no run-specific column, so it is compared byte for byte; summary.json is compared
without its run-specific keys (RUN_SPECIFIC).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from pipeline.cli.app import main
from pipeline.environment import Environment
from pipeline.model import REPORT_COLUMNS, Reason, Status
from pipeline.report.write import FORMULA_PREFIXES

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
RUN_SPECIFIC = ("run_id", "started_at", "finished_at", "timings_s")
EXAMPLE = "input/example.xlsx"  # as a user types it from the repository root: source_file shows it
ENCODINGS = ("tests/data/utf8_bom.csv", "tests/data/utf16_bom.csv", "tests/data/cp1252.csv")
# Reasons that only the account or Flowroute's review can give: a dry run plans these rows.
NEEDS_THE_API = {Reason.NUMBER_NOT_ON_ACCOUNT, Reason.FLOWROUTE_REJECTED, Reason.API_ERROR}


def dry_run(output: Path, *inputs: str) -> Path:
    """`cnam-batch run INPUT... --dry-run` from the repository root; returns the run folder."""
    logger = logging.getLogger("pipeline")  # main() sets it up per call
    saved = (list(logger.handlers), logger.level, logger.propagate)
    err = io.StringIO()
    env = Environment(stdout=io.StringIO(), stderr=err, environ={}, stderr_isatty=False)
    try:
        with contextlib.chdir(REPO):
            code = main(["run", *inputs, "--dry-run", "--output", str(output)], env)
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]
    assert code == 0, err.getvalue()
    (run_dir,) = output.iterdir()
    return run_dir


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dry_run(tmp_path_factory.mktemp("example"), EXAMPLE)


@pytest.fixture(scope="module")
def encodings_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dry_run(tmp_path_factory.mktemp("encodings"), *ENCODINGS)


def check_golden(actual: bytes, name: str) -> None:
    """actual == tests/data/golden/<name>, byte for byte; UPDATE_GOLDEN=1 rewrites the golden."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
    assert path.is_file(), f"{path} is missing: run UPDATE_GOLDEN=1 python -m pytest {__file__}"
    expected = path.read_bytes()
    # a readable diff first, then the exact bytes (BOM, line ends, quoting)
    assert actual.decode("utf-8").splitlines() == expected.decode("utf-8").splitlines()
    assert actual == expected


def stable_summary(run_dir: Path) -> dict[str, Any]:
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    for key in RUN_SPECIFIC:
        assert key in summary, key
        del summary[key]
    return summary


def summary_bytes(summary: dict[str, Any]) -> bytes:
    return (json.dumps(summary, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "report.csv starts with a UTF-8 byte order mark"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def example_descriptions() -> dict[int, str | None]:
    """input/example.xlsx: spreadsheet row -> the third column, 'What this row shows', for every
    row with a number or a name (blank rows are left out: the report skips them)."""
    wb = openpyxl.load_workbook(REPO / EXAMPLE, read_only=True)
    try:
        ws = wb.worksheets[0]
        rows = list(ws.iter_rows(values_only=True))
    finally:
        wb.close()
    assert rows[0][2] == "What this row shows"
    return {
        n: row[2]
        for n, row in enumerate(rows, start=1)
        if n > 1 and any(c not in (None, "") for c in row[:2])
    }


def expected_outcome(description: str) -> tuple[Status, Reason | None]:
    """What a dry run must say of a row, read from its description: `valid...` and `passes
    local rules...` are planned, `duplicate...` is a duplicate, a leading reason code is that
    rejection (unless only the API can tell, which a dry run plans)."""
    word = re.match(r"[a-z_]+", description)
    assert word, description
    token = word.group(0)
    if token in ("valid", "passes"):
        return Status.PLANNED, None
    if token == "duplicate":
        return Status.DUPLICATE, None
    reason = Reason(token)  # ValueError: the description names no known reason code
    if reason in NEEDS_THE_API:
        return Status.PLANNED, None
    return Status.REJECTED, reason


# --------------------------------------------------------------------------------- example.xlsx


def test_example_report_csv_matches_the_golden(example_run: Path) -> None:
    check_golden((example_run / "report.csv").read_bytes(), "example_dry_run.csv")


def test_example_summary_matches_the_golden(example_run: Path) -> None:
    check_golden(summary_bytes(stable_summary(example_run)), "example_dry_run.summary.json")


def test_example_summary_run_specific_keys_are_well_formed(example_run: Path) -> None:
    summary = json.loads((example_run / "summary.json").read_text(encoding="utf-8"))
    assert summary["run_id"] == example_run.name
    assert re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?", summary["run_id"])
    started = summary["started_at"]
    finished = summary["finished_at"]
    assert started.endswith("+00:00") and finished.endswith("+00:00")
    assert started <= finished
    assert set(summary["timings_s"]) >= {"load", "validate"}
    assert all(isinstance(v, int | float) and v >= 0 for v in summary["timings_s"].values())


def test_golden_rows_say_what_the_example_says_they_show() -> None:
    """The golden itself, read row by row against input/example.xlsx's third column."""
    golden = csv_rows((GOLDEN / "example_dry_run.csv").read_bytes())
    descriptions = example_descriptions()
    assert [int(r["source_row"]) for r in golden] == sorted(descriptions)
    assert all(r["source_file"] == EXAMPLE for r in golden)
    for row in golden:
        n = int(row["source_row"])
        description = descriptions[n]
        assert description, f"example.xlsx row {n} has no description"
        status, reason = expected_outcome(description)
        assert (row["status"], row["reason_code"]) == (
            status.value,
            reason.value if reason else "",
        ), f"row {n}: {description!r}"
        assert row["reason"], f"row {n} has no reason sentence"
        if "suggestion" in description:
            assert row["suggestion"], f"row {n}: {description!r}"
        if "name_generic warning" in description:
            assert "name_generic" in row["warnings"].split(";"), f"row {n}"
        if status is Status.DUPLICATE:
            assert f"{EXAMPLE} row 2" in row["reason"]  # "duplicate of the first row"
        if reason is Reason.NUMBER_CONFLICT:
            others = {24: 25, 25: 24}[n]
            assert f"row {others}" in row["reason"]
        if status is Status.PLANNED:
            assert re.fullmatch(r"1[2-9]\d{2}[2-9]\d{6}", row["number"]), f"row {n}"
            assert row["name"] == row["name"].upper() and row["name"]


def test_golden_summary_counts_add_up() -> None:
    golden = json.loads((GOLDEN / "example_dry_run.summary.json").read_text(encoding="utf-8"))
    rows = csv_rows((GOLDEN / "example_dry_run.csv").read_bytes())
    assert not set(RUN_SPECIFIC) & set(golden)
    assert golden["rows_total"] == len(rows) == sum(golden["by_status"].values())
    assert golden["blank_rows_skipped"] == 1
    assert golden["dry_run"] is True and golden["exit_code"] == 0
    assert golden["inputs"] == [EXAMPLE]
    assert golden["api"] == {
        **dict.fromkeys(("requests", "creates", "associations", "retries", "rate_limited"), 0),
        "rate_limit": None,  # a dry run learns nothing about the API
    }
    by_reason: dict[str, int] = {}
    for row in rows:
        if row["reason_code"]:
            by_reason[row["reason_code"]] = by_reason.get(row["reason_code"], 0) + 1
    assert golden["by_reason"] == by_reason


def _xlsx_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _csv_cell_as_stored_in_xlsx(cell: str) -> str:
    """The CSV neutralizes a formula-like value with a leading ' ; the workbook keeps it as is."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_PREFIXES):
        return cell[1:]
    return cell


def test_example_workbook_matches_the_csv(example_run: Path) -> None:
    with (example_run / "report.csv").open(encoding="utf-8-sig", newline="") as fh:
        csv_lines = list(csv.reader(fh))
    wb = openpyxl.load_workbook(example_run / "report.xlsx")
    try:
        assert wb.sheetnames == ["Summary", "Needs attention", "Rows"]
        rows_sheet = wb["Rows"]
        cells = [[_xlsx_text(v) for v in row] for row in rows_sheet.iter_rows(values_only=True)]
        assert cells[0] == list(REPORT_COLUMNS) == csv_lines[0]
        expected = [[_csv_cell_as_stored_in_xlsx(c) for c in line] for line in csv_lines[1:]]
        assert cells[1:] == expected
        # the example has neutralized cells ("+1 425...", "-- 42 --"): the comparison saw them
        assert any(c.startswith("'") for line in csv_lines[1:] for c in line)
        # every source_row is a number (sorts as one); the other columns are text
        source_rows = [row[1] for row in rows_sheet.iter_rows(min_row=2, values_only=True)]
        assert all(isinstance(v, int | float) for v in source_rows)
        assert rows_sheet.freeze_panes == "A2"
        assert rows_sheet.auto_filter.ref == f"A1:L{len(csv_lines)}"
        status_counts = {
            row[0]: row[1]
            for row in wb["Summary"].iter_rows(values_only=True)
            if row[0] in {s.value for s in Status} and isinstance(row[1], int | float)
        }
    finally:
        wb.close()
    summary = json.loads((example_run / "summary.json").read_text(encoding="utf-8"))
    assert status_counts == summary["by_status"]


# ------------------------------------------------------------------------- the workbook in words


def sheet_text(path: Path, name: str, trim: bool = True) -> list[list[str]]:
    """A sheet's cells as text (counts as their digits), trailing empty cells dropped if `trim`."""
    wb = openpyxl.load_workbook(path)
    try:
        out = []
        for row in wb[name].iter_rows(values_only=True):
            cells = ["" if v is None else str(int(v) if isinstance(v, float) else v) for v in row]
            while trim and cells and cells[-1] == "":
                cells.pop()
            out.append(cells)
        return out
    finally:
        wb.close()


def stable_summary_text(run_dir: Path) -> str:
    """The Summary sheet as lines of `cell | cell`, run-specific values (run id, times) masked."""
    lines = []
    for cells in sheet_text(run_dir / "report.xlsx", "Summary"):
        line = " | ".join(cells)
        line = re.sub(r"\d{8}T\d{6}Z", "<run_id>", line)
        line = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "<time>", line)
        line = re.sub(r"\(took [^)]*\)", "(took <seconds>)", line)
        if line.startswith("Time per stage"):
            line = "Time per stage | <timings>"
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_example_summary_sheet_matches_the_golden(example_run: Path) -> None:
    check_golden(stable_summary_text(example_run).encode("utf-8"), "example_summary_sheet.txt")


def test_example_needs_attention_rows_match_the_golden(example_run: Path) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        sheet_text(example_run / "report.xlsx", "Needs attention", trim=False)
    )
    check_golden(buffer.getvalue().encode("utf-8"), "example_needs_attention.csv")


def test_golden_needs_attention_is_every_rejected_row_grouped_by_reason() -> None:
    """The golden sheet holds exactly report.csv's rejected rows (a dry run fails none and has no
    pending rows), largest reason group first, input order within a group, and each group's
    size is the Summary's count for that reason."""
    sheet = list(csv.DictReader(io.StringIO((GOLDEN / "example_needs_attention.csv").read_text())))
    report = csv_rows((GOLDEN / "example_dry_run.csv").read_bytes())
    rejected = [r for r in report if r["status"] == Status.REJECTED]
    assert sorted(int(r["source_row"]) for r in sheet) == sorted(
        int(r["source_row"]) for r in rejected
    )
    codes = [r["reason_code"] for r in sheet]
    groups = list(dict.fromkeys(codes))
    sizes = [codes.count(c) for c in groups]
    assert codes == [c for c, n in zip(groups, sizes, strict=True) for _ in range(n)]  # contiguous
    assert sizes == sorted(sizes, reverse=True)
    for code in groups:
        rows = [int(r["source_row"]) for r in sheet if r["reason_code"] == code]
        assert rows == sorted(rows), code
    summary_text = (GOLDEN / "example_summary_sheet.txt").read_text(encoding="utf-8")
    for code, size in zip(groups, sizes, strict=True):
        assert f"\n{code} | {size} | " in summary_text, code
    # the suggestion sits beside the reason code, before the long reason text
    header = next(csv.reader(io.StringIO((GOLDEN / "example_needs_attention.csv").read_text())))
    assert header.index("suggestion") == header.index("reason_code") + 1 < header.index("reason")


# ------------------------------------------------------------------------------------ encodings


def test_encodings_report_csv_matches_the_golden(encodings_run: Path) -> None:
    check_golden((encodings_run / "report.csv").read_bytes(), "encodings_dry_run.csv")


def test_encodings_golden_decodes_every_file_the_same() -> None:
    """UTF-8 with BOM, UTF-16 with BOM and cp1252 give the same text, read from the golden."""
    rows = csv_rows((GOLDEN / "encodings_dry_run.csv").read_bytes())
    got = [(r["source_file"], r["source_row"], r["input_name"], r["name"]) for r in rows]
    assert got == [
        ("tests/data/utf8_bom.csv", "2", "Café Olé", "CAFÉ OLÉ"),
        ("tests/data/utf8_bom.csv", "3", "Bob’s Diner", "BOB'S DINER"),
        ("tests/data/utf16_bom.csv", "2", "Café Olé", "CAFÉ OLÉ"),
        ("tests/data/utf16_bom.csv", "3", "Bob’s Diner", "BOB'S DINER"),
        ("tests/data/cp1252.csv", "2", "Café Müller", "CAFÉ MÜLLER"),
        ("tests/data/cp1252.csv", "3", "Bob’s – Diner", "BOB'S - DINER"),
    ]
    cafes, bobs = rows[0::2], rows[1::2]
    assert [r["reason_code"] for r in cafes] == [Reason.NAME_BAD_CHARACTERS] * 3
    assert [r["suggestion"] for r in cafes] == ["CAFE OLE", "CAFE OLE", "CAFE MULLER"]
    # one number, two names across the files ("BOB'S DINER" twice, "BOB'S - DINER" once)
    assert [r["reason_code"] for r in bobs] == [Reason.NUMBER_CONFLICT] * 3
    assert {r["number"] for r in bobs} == {"16463439698"}
    assert "tests/data/cp1252.csv row 3" in bobs[0]["reason"]
    assert [r["input_number"] for r in bobs[:2]] == ["'+1 646 343 9698"] * 2  # neutralized


@pytest.fixture(autouse=True)
def _no_stray_output(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    yield
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
