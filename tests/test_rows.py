"""build_rows: every non-blank input row becomes one report row with the right status and reason."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.input.frame import LoadedFile
from pipeline.model import REPORT_COLUMNS
from pipeline.rules.normalize import normalize_number
from pipeline.rules.rows import build_rows, normalize_numbers
from pipeline.rules.validate import NameRules


def loaded(rows: list[tuple[str, str]], name: str = "in.csv", digest: str = "h1") -> LoadedFile:
    frame = pd.DataFrame(
        {
            "source_row": np.arange(2, len(rows) + 2, dtype="int64"),
            "input_number": [r[0] for r in rows],
            "input_name": [r[1] for r in rows],
        }
    )
    return LoadedFile(
        path=Path(name),
        source_file=name,
        sheet=None,
        frame=frame,
        blank_rows=0,
        notes=[],
        content_hash=digest,
    )


@pytest.fixture(scope="module")
def rules() -> NameRules:
    return NameRules.load()


@pytest.mark.parametrize(
    "cell",
    [
        "2065550100",
        "12065550100",
        "+12065550100",
        "(206) 555-0100",
        "8005551234",
        "18665551234",
        "1206555010",
        "02065550100",
        "2061555010",
        "２０６５５５０１００",
        " 2065550100 ",
        "16463439697.0",
        "1.6463439697E+10",
        "1.64634E+10",
        "",
        "206-555-0100 x12",
        "22065550100",
    ],
)
def test_fast_number_path_gives_exactly_what_normalize_number_gives(cell: str) -> None:
    numbers, codes, reasons, warns = normalize_numbers(np.asarray([cell], dtype=object))
    r = normalize_number(cell)
    assert (numbers[0], codes[0], reasons[0], warns[0]) == (
        r.number,
        r.reason_code.value if r.reason_code else "",
        r.reason,
        ";".join(w.value for w in r.warnings),
    )


@pytest.mark.parametrize("other", ["", "\u0660\uff12"])
def test_fast_number_path_in_bulk_gives_what_normalize_number_gives(other: str) -> None:
    """Many cells at once, so the 10- and 11-character ones are checked together as a matrix
    (or, when one of them holds a non-ASCII character, one by one): digits of every kind,
    toll-free and reserved area codes, exchanges starting 0 or 1, other characters anywhere."""
    rng = random.Random(11)
    alphabet = "0123456789" * 6 + "1" * 10 + "8" * 5 + " -.()+x/:" + other
    cells = ["".join(rng.choice(alphabet) for _ in range(rng.randint(9, 12))) for _ in range(5000)]
    cells += [f"{a}{b}{c}5550100" for a in "0128" for b in "0089" for c in "0368"]
    cells += ["1" + cell for cell in cells[-64:]] + ["2065550100", "0" * 10, "9" * 11]
    numbers, codes, reasons, warns = normalize_numbers(np.asarray(cells, dtype=object))
    expected = [normalize_number(cell) for cell in cells]
    assert numbers == [r.number for r in expected]
    assert codes == [r.reason_code.value if r.reason_code else "" for r in expected]
    assert reasons == [r.reason for r in expected]
    assert warns == [";".join(w.value for w in r.warnings) for r in expected]
    assert 500 < sum(code == "" for code in codes) < len(cells)  # both outcomes


def test_one_row_per_input_row_in_input_order(rules: NameRules) -> None:
    a = loaded(
        [("2065550100", "Acme"), ("555-12", "Acme"), ("2065550101", "Seattle Police")],
        "a.csv",
        "ha",
    )
    b = loaded([("2065550102", "Blue Sky"), ("2065550102", "Blue Sky")], "b.csv", "hb")
    rows = build_rows([a, b], rules)
    assert list(rows.columns[: len(REPORT_COLUMNS)]) == list(REPORT_COLUMNS)
    assert list(zip(rows["source_file"], rows["source_row"], strict=True)) == [
        ("a.csv", 2),
        ("a.csv", 3),
        ("a.csv", 4),
        ("b.csv", 2),
        ("b.csv", 3),
    ]
    assert list(rows["status"]) == ["", "rejected", "rejected", "", "duplicate"]
    assert list(rows["reason_code"]) == ["", "number_invalid", "name_misleading", "", ""]
    assert list(rows["name"]) == ["ACME", "ACME", "SEATTLE POLICE", "BLUE SKY", "BLUE SKY"]
    assert list(rows["content_hash"]) == ["ha", "ha", "ha", "hb", "hb"]


def test_a_row_bad_in_number_and_name_reports_the_number_and_mentions_the_name(
    rules: NameRules,
) -> None:
    rows = build_rows([loaded([("555-12", "Seattle Police")])], rules)
    assert rows.loc[0, "reason_code"] == "number_invalid"
    assert "the name is rejected too" in rows.loc[0, "reason"] and "POLICE" in rows.loc[0, "reason"]


def test_warnings_of_number_and_name_are_joined(rules: NameRules) -> None:
    rows = build_rows([loaded([("12066417661.0", "A")])], rules)
    assert rows.loc[0, "warnings"].split(";") == ["number_from_excel_number", "name_one_letter"]


def test_no_rows_gives_an_empty_frame_with_the_report_columns(rules: NameRules) -> None:
    rows = build_rows([loaded([])], rules)
    assert len(rows) == 0 and list(rows.columns[: len(REPORT_COLUMNS)]) == list(REPORT_COLUMNS)
