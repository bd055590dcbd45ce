"""The real entry points as subprocesses: `python run_batch.py`, `python -m pipeline` and the
`cnam-batch` console script (when installed next to the running interpreter)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pipeline import __version__

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
EXAMPLE = REPO / "input" / "example.xlsx"
TIMEOUT = 60  # seconds; each of these takes well under one


def _console_scripts() -> list[Path]:
    found = []
    for folder in (REPO / ".venv" / "bin", Path(sys.executable).parent):
        script = folder / "cnam-batch"
        if script.is_file() and os.access(script, os.X_OK) and script not in found:
            found.append(script)
    return found


ENTRY_POINTS = [
    pytest.param([sys.executable, str(REPO / "run_batch.py")], id="run_batch.py"),
    pytest.param([sys.executable, "-m", "pipeline"], id="python -m pipeline"),
]
ENTRY_POINTS += [pytest.param([str(s)], id="cnam-batch") for s in _console_scripts()[:1]]
if not _console_scripts():
    ENTRY_POINTS.append(
        pytest.param(
            None,
            id="cnam-batch",
            marks=pytest.mark.skip(
                reason="cnam-batch is not installed in the venv (pip install -e .)"
            ),
        )
    )


def clean_environ() -> dict[str, str]:
    """This process's environment without settings that would change the program's behaviour."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FR_", "CNAM_BATCH_", "SMTP_", "FLOWROUTE_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    return env


def run(entry: list[str], *args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*entry, *map(str, args)],
        cwd=cwd,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_package_version_is_the_project_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert __version__ == project["version"]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_version(entry: list[str], tmp_path: Path) -> None:
    result = run(entry, "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"cnam-batch {__version__}\n"
    assert result.stderr == ""


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_dry_run_of_the_example_exits_0(entry: list[str], tmp_path: Path) -> None:
    result = run(entry, "run", EXAMPLE, "--dry-run", "--output", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # the outcome line; no progress bar on a pipe
    assert "\r" not in result.stderr
    match = re.match(
        r"^cnam-batch (\d{8}T\d{6}Z): .*8 planned \(23 rows\); report: (.+)$", lines[0]
    )
    assert match, lines[0]
    run_dir = tmp_path / "out" / match.group(1)
    assert Path(match.group(2)) == run_dir / "report.xlsx"
    assert {p.name for p in run_dir.iterdir()} == {
        "report.csv",
        "report.xlsx",
        "summary.json",
        "run.log",
        "suggested_fixes.csv",  # the example has names too long
    }
    assert result.stdout == ""
    assert not (tmp_path / "output").exists()  # --output was honoured


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_input_error_exits_2_with_one_line_and_no_traceback(
    entry: list[str], tmp_path: Path
) -> None:
    result = run(entry, "run", DATA / "too_many_fields.csv", "--dry-run", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"cnam-batch: error: {DATA / 'too_many_fields.csv'} line 3: 3 fields where the header "
        "has 2; quote names that contain the delimiter"
    ]
    assert result.stdout == ""


def test_usage_error_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run([sys.executable, str(REPO / "run_batch.py")], "run", "--frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "--frobnicate" in result.stderr and "Traceback" not in result.stderr


def test_no_subcommand_prints_usage_and_exits_2(tmp_path: Path) -> None:
    result = run([sys.executable, "-m", "pipeline"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: cnam-batch")
    assert result.stdout == ""


def test_run_help_exits_0_on_stdout(tmp_path: Path) -> None:
    result = run([sys.executable, str(REPO / "run_batch.py")], "run", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: cnam-batch run")
    assert "--dry-run" in result.stdout and "exit codes:" in result.stdout
    assert result.stderr == ""


def test_sandbox_run_from_a_clean_folder(tmp_path: Path) -> None:
    """A real run against the built-in sandbox, as the quick start does, without waiting."""
    result = run(
        [sys.executable, str(REPO / "run_batch.py")],
        "run",
        DATA / "pipes.txt",
        "--sandbox",
        "--rate-limit",
        "500",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "1 pending" in result.stderr
    # the sandbox's journal and account stay apart from real work
    assert (tmp_path / "output" / "sandbox" / "state.sqlite").is_file()
    assert not (tmp_path / "output" / "state.sqlite").exists()
