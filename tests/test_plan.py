"""Batch rules: exact repeats are duplicates of the first row; one number asked for two names is a conflict."""

from __future__ import annotations

import pandas as pd

from pipeline.rules.plan import apply_batch_rules, plan_counts


def frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """rows: (number, name, status) with source rows 2, 3, ... of in.csv."""
    return pd.DataFrame(
        {
            "source_file": ["in.csv"] * len(rows),
            "source_row": list(range(2, len(rows) + 2)),
            "number": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "status": [r[2] for r in rows],
            "reason_code": [""] * len(rows),
            "reason": [""] * len(rows),
        }
    )


def test_exact_repeat_is_a_duplicate_naming_the_first_row() -> None:
    f = frame(
        [("12065550100", "ACME", ""), ("12065550101", "ACME", ""), ("12065550100", "ACME", "")]
    )
    apply_batch_rules(f)
    assert list(f["status"]) == ["", "", "duplicate"]
    assert f.loc[2, "reason"].startswith("same number and name as in.csv row 2")
    assert (
        plan_counts(f).rows == 2
        and plan_counts(f).records == 1
        and plan_counts(f).associations == 2
    )


def test_one_number_two_names_rejects_every_row_and_names_the_others() -> None:
    f = frame(
        [
            ("12065550100", "BLUE SKY BAKERY", ""),
            ("12065550199", "OTHER", ""),
            ("12065550100", "BLUE SKY BREAD", ""),
            ("12065550100", "BLUE SKY BAKERY", ""),
        ]
    )
    apply_batch_rules(f)
    assert list(f["status"]) == ["rejected", "", "rejected", "rejected"]
    assert set(f.loc[[0, 2, 3], "reason_code"]) == {"number_conflict"}
    assert '"BLUE SKY BREAD" (in.csv row 4)' in f.loc[0, "reason"]
    assert '"BLUE SKY BAKERY" (in.csv row 5)' in f.loc[0, "reason"]
    assert "in.csv row 2" in f.loc[2, "reason"] and "in.csv row 5" in f.loc[2, "reason"]
    assert "in.csv row 4" not in f.loc[2, "reason"]  # a row never names itself


def test_rows_already_rejected_take_no_part() -> None:
    f = frame([("12065550100", "ACME", ""), ("12065550100", "SH1T", "rejected")])
    apply_batch_rules(f)
    assert list(f["status"]) == ["", "rejected"]
    assert f.loc[0, "reason"] == ""


def test_conflict_reason_stays_short_for_many_rows() -> None:
    f = frame([("12065550100", f"NAME {i}", "") for i in range(40)])
    apply_batch_rules(f)
    assert (f["reason_code"] == "number_conflict").all()
    assert "and 34 more" in f.loc[0, "reason"]
    assert len(f.loc[0, "reason"]) < 400
