"""suggested_fixes.csv (report/fixes.py) and --accept-suggestions: the file of fixed rows, run
again as it is, and the option that runs fixable rows with their suggestion."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest
from summaries import make_summary

from pipeline.cli.app import main
from pipeline.environment import Environment
from pipeline.errors import ExitCode
from pipeline.model import REPORT_COLUMNS
from pipeline.notify.render import facts_from, plain
from pipeline.report.fixes import FIXES_COLUMNS, FIXES_FILE, suggested_fixes

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "input" / "example.xlsx"


def cli(argv: Sequence[object], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(cwd)
    err = io.StringIO()
    env = Environment(stdout=io.StringIO(), stderr=err, environ={}, stderr_isatty=False)
    return main([str(a) for a in argv], env), err.getvalue()


def only_run_dir(output: Path) -> Path:
    (run_dir,) = [p for p in output.iterdir() if p.is_dir() and p.name != "sandbox"]
    return run_dir


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def report_rows(*rows: dict[str, object]) -> pd.DataFrame:
    base = dict.fromkeys(REPORT_COLUMNS, "")
    return pd.DataFrame([{**base, "source_row": 2, **row} for row in rows])


# -- the file's rows -----------------------------------------------------------------------------


def test_only_rejected_fixable_rows_with_a_suggestion_are_listed():
    rows = report_rows(
        {"number": "12065550100", "input_name": "Acme Plumbing Services LLC",
         "status": "rejected", "reason_code": "name_too_long", "suggestion": "ACME PLBG SVCS",
         "source_file": "a.csv", "source_row": 2},
        {"number": "12065550101", "input_name": "Café Olé", "status": "rejected",
         "reason_code": "name_bad_characters", "suggestion": "CAFE OLE", "source_file": "a.csv",
         "source_row": 3},
        {"number": "12065550102", "input_name": "SUPERCALIFRAGILISTICEXPIALIDOCIOUS",
         "status": "rejected", "reason_code": "name_too_long", "suggestion": ""},
        {"number": "12065550103", "input_name": "FBI", "status": "rejected",
         "reason_code": "name_misleading"},
        {"number": "", "input_name": "Acme Plumbing Services LLC", "status": "rejected",
         "reason_code": "number_invalid", "suggestion": "ACME PLBG SVCS"},
        {"number": "12065550104", "input_name": "ACME", "status": "planned"},
    )  # fmt: skip
    fixes = suggested_fixes(rows)
    assert list(fixes.columns) == list(FIXES_COLUMNS)
    assert fixes.to_dict("records") == [
        {"number": "12065550100", "name": "ACME PLBG SVCS",
         "input_name": "Acme Plumbing Services LLC", "reason_code": "name_too_long",
         "source_file": "a.csv", "source_row": 2},
        {"number": "12065550101", "name": "CAFE OLE", "input_name": "Café Olé",
         "reason_code": "name_bad_characters", "source_file": "a.csv", "source_row": 3},
    ]  # fmt: skip


def test_cells_a_spreadsheet_would_run_are_quoted():
    rows = report_rows(
        {"number": "12065550100", "input_name": "=HYPERLINK(1) Acme Plumbing Services",
         "status": "rejected", "reason_code": "name_bad_characters", "suggestion": "HYPERLINK 1",
         "source_file": "@evil.csv"},
    )  # fmt: skip
    (record,) = suggested_fixes(rows).to_dict("records")
    assert record["input_name"] == "'=HYPERLINK(1) Acme Plumbing Services"
    assert record["source_file"] == "'@evil.csv"
    assert record["name"] == "HYPERLINK 1"


# -- end to end ----------------------------------------------------------------------------------


@pytest.fixture
def example_fixes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example's dry run, and the suggested_fixes.csv it wrote."""
    code, _ = cli(["run", EXAMPLE, "--dry-run", "--output", "out"], tmp_path, monkeypatch)
    assert code == ExitCode.OK
    run_dir = only_run_dir(tmp_path / "out")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    fixes = read_csv(run_dir / FIXES_FILE)
    assert len(fixes) == summary["suggested_fixes"] == 2
    report = {(r["source_row"]): r for r in read_csv(run_dir / "report.csv")}
    for fix in fixes:
        row = report[fix["source_row"]]
        assert row["status"] == "rejected"
        assert row["reason_code"] == fix["reason_code"]
        assert row["reason_code"] in ("name_too_long", "name_bad_characters")
        assert (fix["number"], fix["name"], fix["input_name"]) == (
            row["number"],
            row["suggestion"],
            row["input_name"],
        )
        assert fix["source_file"] == str(EXAMPLE)
    log = (run_dir / "run.log").read_text(encoding="utf-8")
    assert f"cnam-batch run out/{run_dir.name}/{FIXES_FILE}" in log
    return run_dir / FIXES_FILE


def test_the_fixes_file_runs_as_it_is_dry_run(example_fixes, tmp_path, monkeypatch):
    fixes = read_csv(example_fixes)
    code, _ = cli(["run", example_fixes, "--dry-run", "--output", "again"], tmp_path, monkeypatch)
    assert code == ExitCode.OK
    rows = read_csv(only_run_dir(tmp_path / "again") / "report.csv")
    assert [r["status"] for r in rows] == ["planned"] * len(fixes)
    assert [(r["number"], r["name"]) for r in rows] == [(f["number"], f["name"]) for f in fixes]
    assert not (only_run_dir(tmp_path / "again") / FIXES_FILE).exists()


def test_the_fixes_file_runs_as_it_is_against_the_sandbox(example_fixes, tmp_path, monkeypatch):
    fixes = read_csv(example_fixes)
    code, _ = cli(
        ["run", example_fixes, "--sandbox", "--output", "real", "--state", "st/state.sqlite"],
        tmp_path,
        monkeypatch,
    )
    assert code == ExitCode.OK
    rows = read_csv(only_run_dir(tmp_path / "real") / "report.csv")
    assert len(rows) == len(fixes)
    assert {r["status"] for r in rows} <= {"pending_approval", "associated"}
    assert all(r["reason_code"] == "" for r in rows)


def test_a_name_edited_in_the_fixes_file_is_the_one_used(example_fixes, tmp_path, monkeypatch):
    fixes = read_csv(example_fixes)
    fixes[0]["name"] = "NORTHWEST PLBG"  # what a person changes in Excel before running it
    edited = tmp_path / "edited.csv"
    with edited.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(FIXES_COLUMNS))
        writer.writeheader()
        writer.writerows(fixes)
    code, _ = cli(["run", edited, "--dry-run", "--output", "again"], tmp_path, monkeypatch)
    assert code == ExitCode.OK
    rows = read_csv(only_run_dir(tmp_path / "again") / "report.csv")
    assert [r["name"] for r in rows] == [f["name"] for f in fixes]
    assert rows[0]["input_name"] == "NORTHWEST PLBG"


def test_no_fixes_file_when_no_row_is_fixable(tmp_path, monkeypatch):
    (tmp_path / "ok.csv").write_text("number,name\n2065550100,ACME PLUMBING\n", encoding="utf-8")
    code, _ = cli(["run", "ok.csv", "--dry-run", "--output", "out"], tmp_path, monkeypatch)
    assert code == ExitCode.OK
    run_dir = only_run_dir(tmp_path / "out")
    assert not (run_dir / FIXES_FILE).exists()
    assert json.loads((run_dir / "summary.json").read_text())["suggested_fixes"] == 0


# -- --accept-suggestions ------------------------------------------------------------------------

INPUT = (
    "number,name\n"
    "2065550100,Acme Plumbing Services LLC\n"
    "2065550101,Café Olé\n"
    "2065550102,Acme Deli\n"
    "2065550103,FBI Plumbing Services of America\n"
)


@pytest.mark.parametrize("how", ["option", "toml"])
def test_accept_suggestions_runs_fixable_rows_with_their_suggestion(tmp_path, monkeypatch, how):
    (tmp_path / "in.csv").write_text(INPUT, encoding="utf-8")
    argv: list[object] = ["run", "in.csv", "--dry-run", "--output", "out"]
    if how == "option":
        argv.append("--accept-suggestions")
    else:
        (tmp_path / "c.toml").write_text("accept_suggestions = true\n", encoding="utf-8")
        argv += ["--config", "c.toml"]
    code, _ = cli(argv, tmp_path, monkeypatch)
    assert code == ExitCode.OK
    run_dir = only_run_dir(tmp_path / "out")
    rows = read_csv(run_dir / "report.csv")
    shown = [(r["input_name"], r["name"], r["status"], r["warnings"]) for r in rows]
    assert shown == [
        ("Acme Plumbing Services LLC", "ACME PLBG SVCS", "planned", "suggestion_applied"),
        ("Café Olé", "CAFE OLE", "planned", "suggestion_applied"),
        ("Acme Deli", "ACME DELI", "planned", ""),
        ("FBI Plumbing Services of America", "FBI PLUMBING SERVICES OF AMERICA", "rejected", ""),
    ]
    assert rows[3]["reason_code"] == "name_misleading"  # no rewrite rescues an impersonation
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["suggestions_applied"] == 2
    assert summary["suggested_fixes"] == 0
    assert not (run_dir / FIXES_FILE).exists()


def test_without_the_option_fixable_rows_are_rejected(tmp_path, monkeypatch):
    (tmp_path / "in.csv").write_text(INPUT, encoding="utf-8")
    code, _ = cli(["run", "in.csv", "--dry-run", "--output", "out"], tmp_path, monkeypatch)
    assert code == ExitCode.OK
    rows = read_csv(only_run_dir(tmp_path / "out") / "report.csv")
    assert [r["status"] for r in rows] == ["rejected", "rejected", "planned", "rejected"]
    assert "suggestion_applied" not in {r["warnings"] for r in rows}


def test_accepted_suggestions_that_meet_are_duplicates(tmp_path, monkeypatch):
    (tmp_path / "in.csv").write_text(
        "number,name\n2065550100,Acme Plumbing Services LLC\n"
        "2065550100,Acme Plumbing Services Inc\n",
        encoding="utf-8",
    )
    argv = ["run", "in.csv", "--dry-run", "--output", "out", "--accept-suggestions"]
    code, _ = cli(argv, tmp_path, monkeypatch)
    assert code == ExitCode.OK
    rows = read_csv(only_run_dir(tmp_path / "out") / "report.csv")
    assert [(r["name"], r["status"]) for r in rows] == [
        ("ACME PLBG SVCS", "planned"),
        ("ACME PLBG SVCS", "duplicate"),
    ]


# -- the email -----------------------------------------------------------------------------------


def test_the_email_points_to_the_fixes_file(tmp_path):
    run_dir = tmp_path / "20250102T030405Z"
    summary = make_summary(suggested_fixes=3, suggestions_applied=0)
    text = plain(facts_from(summary, None, None, run_id=summary.run_id, run_dir=run_dir))
    assert "3 rows with a name too long or with characters caller ID cannot show have a " in text
    assert f"cnam-batch run {run_dir}/suggested_fixes.csv" in text
    none = plain(
        facts_from(make_summary(suggested_fixes=0), None, None, run_id="x", run_dir=run_dir)
    )
    assert "suggested_fixes.csv" not in none


def test_the_email_says_when_suggestions_were_applied(tmp_path):
    summary = make_summary(suggested_fixes=0, suggestions_applied=2)
    text = plain(facts_from(summary, None, None, run_id=summary.run_id, run_dir=tmp_path))
    assert "2 rows ran with the suggested name (--accept-suggestions" in text
