"""Big reports write the workbook in a forked child while the parent writes the rest.

Run in a fresh interpreter: the fork path is taken only when the process has no other thread, and
a pytest process may have some (servers of other tests).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import os, sys, threading
    from pathlib import Path
    import pandas as pd
    from openpyxl import load_workbook
    from pipeline.report import write as report, files as report_files, workbook
    from pipeline.model import REPORT_COLUMNS
    sys.path.insert(0, "tests")
    from summaries import make_summary

    report.PARALLEL_MIN_ROWS = 1
    forks = []
    real_fork = report_files._fork_writer
    report_files._fork_writer = lambda write, tmp: forks.append(tmp.name) or real_fork(write, tmp)
    if sys.argv[2] == "fail":
        def broken(*args, **kwargs):
            raise OSError(28, "No space left on device")
        workbook.rx.write_worksheets = broken
    rows = pd.DataFrame({c: [f"{c}-{i}" for i in range(5)] for c in REPORT_COLUMNS})
    rows["source_row"] = range(2, 7)
    run_dir = Path(sys.argv[1])
    try:
        report.write_reports(run_dir, rows, make_summary(run_id="x"))
    except OSError as exc:
        print("ERROR", exc)
    print("FORKS", forks, "THREADS", threading.active_count())
    print("FILES", sorted(p.name for p in run_dir.iterdir()))
    if (run_dir / "report.xlsx").exists():
        ws = load_workbook(run_dir / "report.xlsx", read_only=True)["Rows"]
        print("XLSX_ROWS", sum(1 for _ in ws.iter_rows()))
    """
)


def run(tmp_path: Path, mode: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), mode],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return out.stdout


def test_big_report_writes_the_workbook_in_a_child_and_all_files_arrive(tmp_path: Path) -> None:
    out = run(tmp_path, "ok")
    assert "FORKS ['.report.xlsx.tmp']" in out
    assert "FILES ['report.csv', 'report.xlsx', 'summary.json']" in out
    assert "XLSX_ROWS 6" in out  # header + 5 rows
    assert "ERROR" not in out


def test_a_failing_child_leaves_no_report_and_says_why(tmp_path: Path) -> None:
    out = run(tmp_path, "fail")
    assert "FORKS ['.report.xlsx.tmp']" in out
    assert "ERROR writing report.xlsx failed: OSError: [Errno 28] No space left on device" in out
    assert "FILES []" in out  # no report, no temp file
