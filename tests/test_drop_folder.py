"""The drop folder and --move-processed (issue 10 items 4-6): a file named twice is read and moved
once; a file is moved only as it was read and never over another; what a folder holds but cannot be
read is listed with its reason in summary.json, the Summary sheet and the email; links out of the
folder are not followed; the lock file is not opened through a link.

Runs go through `main(argv, env)` with the built-in sandbox (`--sandbox`) and a real SMTP server on
127.0.0.1 where an email is part of the behaviour.
"""

from __future__ import annotations

import errno
import io
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from e2e_util import read_csv
from e2e_util import write_input as write_csv
from smtp_server import smtp_server

from pipeline.cli.app import main
from pipeline.environment import Environment
from pipeline.errors import ConfigError
from pipeline.input.frame import InputIssue, LoadOptions, file_hash
from pipeline.input.load import expand_inputs, load_file, scan_folder
from pipeline.input.move import CHANGED, GONE, LINK, NotMoved, move_file, move_processed
from pipeline.journal.file import take_lock

ROWS = [("2064561001", "Acme Plumbing"), ("2064561002", "Bobs Bikes")]
XLS_REASON = "unsupported file type '.xls': an old Excel workbook; save it as .xlsx or CSV UTF-8"


def run(
    *argv: object, environ: dict[str, str] | None = None, now: Callable[[], datetime] | None = None
) -> tuple[int, str]:
    """`cnam-batch run ...` in-process; (exit code, stderr)."""
    err = io.StringIO()
    env = Environment(stdout=io.StringIO(), stderr=err, environ=environ or {}, stderr_isatty=False)
    if now is not None:
        env.now = now
    code = main(["run", *map(str, argv)], env)
    return code, err.getvalue()


def only_run_dir(output: Path) -> Path:
    dirs = [p for p in output.iterdir() if p.is_dir() and (p / "summary.json").exists()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def summary_of(output: Path) -> dict[str, Any]:
    return json.loads((only_run_dir(output) / "summary.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- named twice (4)


@pytest.mark.parametrize(
    "inputs",
    [["drop", "drop/acme.csv"], ["drop/acme.csv", "drop/acme.csv"], ["drop", "drop"]],
    ids=["folder-and-its-file", "same-file-twice", "same-folder-twice"],
)
def test_a_file_named_twice_is_read_and_moved_once_and_the_email_goes(
    tmp_path, monkeypatch, inputs
):
    """Before: the second move raised and the run exited 1 without its email."""
    monkeypatch.chdir(tmp_path)
    write_csv(Path("drop/acme.csv"), ROWS)
    environ = {"SMTP_HOST": "127.0.0.1"}
    with smtp_server() as (port, handler):
        environ["SMTP_PORT"] = str(port)
        code, err = run(
            *inputs, "--sandbox", "--move-processed", "done", "--output", "out",
            "--email-to", "ops@example.com", environ=environ,
        )  # fmt: skip
    assert code == 0, err
    assert len(handler.received) == 1
    summary = summary_of(Path("out"))
    first = "drop/acme.csv"
    assert summary["inputs"] == [first]
    assert summary["rows_total"] == 2
    assert summary["inputs_not_moved"] == []
    assert sorted(p.name for p in Path("done").iterdir()) == ["acme.csv"]
    assert not Path("drop/acme.csv").exists()
    assert [r["source_file"] for r in read_csv(only_run_dir(Path("out")) / "report.csv")] == [
        first
    ] * 2


def test_a_hard_link_to_a_file_named_already_is_the_same_file(tmp_path):
    write_csv(tmp_path / "a.csv", ROWS)
    os.link(tmp_path / "a.csv", tmp_path / "b.csv")
    assert expand_inputs([tmp_path / "a.csv", tmp_path / "b.csv"]) == [tmp_path / "a.csv"]


# ------------------------------------------------------------------------------ moving (5)


def loaded_file(path: Path):
    return load_file(path, LoadOptions())


def test_move_takes_the_file_when_its_bytes_are_those_read(tmp_path):
    write_csv(tmp_path / "drop" / "a.csv", ROWS)
    data = (tmp_path / "drop" / "a.csv").read_bytes()
    lf = loaded_file(tmp_path / "drop" / "a.csv")
    assert move_processed(tmp_path / "done", [lf]) == []
    assert (tmp_path / "done" / "a.csv").read_bytes() == data
    assert not (tmp_path / "drop" / "a.csv").exists()


def test_a_file_still_being_written_is_left_for_the_next_run(tmp_path):
    path = tmp_path / "drop" / "a.csv"
    write_csv(path, ROWS)
    lf = loaded_file(path)
    with open(path, "a", encoding="utf-8") as more:  # the upload goes on after the read
        more.write("2064561003,Late Row\r\n")
    left = move_processed(tmp_path / "done", [lf])
    assert left == [InputIssue(str(path), CHANGED)]
    assert path.exists()
    assert list((tmp_path / "done").iterdir()) == []


def test_a_move_never_overwrites_a_taken_name(tmp_path):
    done = tmp_path / "done"
    done.mkdir()
    (done / "a.csv").write_text("yesterday's a.csv\n")
    (done / "a-2.csv").write_text("the day before\n")
    for _ in range(2):
        write_csv(tmp_path / "drop" / "a.csv", ROWS)
        path = tmp_path / "drop" / "a.csv"
        move_file(path, done, file_hash(path))
    assert (done / "a.csv").read_text() == "yesterday's a.csv\n"
    assert (done / "a-2.csv").read_text() == "the day before\n"
    assert sorted(p.name for p in done.iterdir()) == ["a-2.csv", "a-3.csv", "a-4.csv", "a.csv"]


def cross_device(monkeypatch: pytest.MonkeyPatch, drop: Path) -> None:
    """os.link from the drop folder fails as it does across file systems (EXDEV); links within
    the target folder still work. (tmp_path is one file system; this is the only way to reach
    the copying branch in a test that runs anywhere.)"""
    real_link = os.link

    def link(src: Any, dst: Any, **kwargs: Any) -> None:
        if Path(src).parent == drop:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_link(src, dst, **kwargs)

    monkeypatch.setattr(os, "link", link)


def test_across_file_systems_the_file_is_copied_then_published_then_removed(tmp_path, monkeypatch):
    drop, done = tmp_path / "drop", tmp_path / "done"
    write_csv(drop / "a.csv", ROWS)
    done.mkdir()
    (done / "a.csv").write_text("taken\n")
    data = (drop / "a.csv").read_bytes()
    cross_device(monkeypatch, drop)
    dest = move_file(drop / "a.csv", done, file_hash(drop / "a.csv"))
    assert dest == done / "a-2.csv"
    assert dest.read_bytes() == data
    assert (done / "a.csv").read_text() == "taken\n"
    assert not (drop / "a.csv").exists()
    assert sorted(p.name for p in done.iterdir()) == ["a-2.csv", "a.csv"]  # no temp left


def test_across_file_systems_a_changed_file_is_left_and_no_copy_remains(tmp_path, monkeypatch):
    drop, done = tmp_path / "drop", tmp_path / "done"
    write_csv(drop / "a.csv", ROWS)
    done.mkdir()
    cross_device(monkeypatch, drop)
    expected = file_hash(drop / "a.csv")
    # The first hash check passes; the bytes change before the copy reads them.
    real_open = open

    def growing_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if Path(file) == drop / "a.csv" and mode == "rb" and not growing_open.done:
            growing_open.calls += 1
            if growing_open.calls == 2:  # file_hash opened it first; now the copy
                growing_open.done = True
                with real_open(drop / "a.csv", "a", encoding="utf-8") as more:
                    more.write("2064561003,Late Row\r\n")
        return real_open(file, mode, *args, **kwargs)

    growing_open.calls = 0  # type: ignore[attr-defined]
    growing_open.done = False  # type: ignore[attr-defined]
    monkeypatch.setattr("builtins.open", growing_open)
    with pytest.raises(NotMoved, match="changed after it was read"):
        move_file(drop / "a.csv", done, expected)
    assert (drop / "a.csv").exists()
    assert list(done.iterdir()) == []


def test_a_gone_file_or_a_link_is_not_moved(tmp_path):
    done = tmp_path / "done"
    done.mkdir()
    with pytest.raises(NotMoved) as gone:
        move_file(tmp_path / "nowhere.csv", done, "0" * 64)
    assert str(gone.value) == GONE
    write_csv(tmp_path / "real.csv", ROWS)
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    with pytest.raises(NotMoved) as link:
        move_file(tmp_path / "link.csv", done, file_hash(tmp_path / "real.csv"))
    assert str(link.value) == LINK


def test_a_run_names_the_file_it_could_not_move_in_summary_report_and_email(tmp_path, monkeypatch):
    """The upload of acme.csv goes on while the run works: its rows are journaled as read, the
    file stays in the drop folder for the next run, and the summary says why."""
    monkeypatch.chdir(tmp_path)
    write_csv(Path("drop/acme.csv"), ROWS)

    def now() -> datetime:  # the first clock reading after the file was read: the upload goes on
        log = list(Path("out").glob("*/run.log"))
        if log and "drop/acme.csv: 2 rows" in log[0].read_text() and not now.grown:
            now.grown = True
            with open("drop/acme.csv", "a", encoding="utf-8") as more:
                more.write("2064561003,Late Row\r\n")
        return datetime.now(UTC)

    now.grown = False  # type: ignore[attr-defined]
    with smtp_server() as (port, handler):
        code, err = run(
            "drop", "--sandbox", "--move-processed", "done", "--output", "out",
            "--email-to", "ops@example.com",
            environ={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}, now=now,
        )  # fmt: skip
    assert code == 0, err
    assert now.grown  # type: ignore[attr-defined]
    expected = {"file": "drop/acme.csv", "reason": CHANGED}
    assert summary_of(Path("out"))["inputs_not_moved"] == [expected]
    assert Path("drop/acme.csv").exists() and list(Path("done").iterdir()) == []
    assert f"not moved drop/acme.csv: {CHANGED}" in err
    sheet = openpyxl.load_workbook(only_run_dir(Path("out")) / "report.xlsx")["Summary"]
    cells = [(r[0], r[1]) for r in sheet.iter_rows(values_only=True)]
    assert ("drop/acme.csv", CHANGED) in cells
    body = handler.received[0].message.get_body(("plain",)).get_content()
    assert f"drop/acme.csv ({CHANGED})" in body


# -------------------------------------------------------------------- what a folder holds (6)


def fill_drop(drop: Path, outside: Path) -> None:
    write_csv(drop / "acme.csv", ROWS)
    for name in (
        "old.xls",
        "binary.xlsb",
        "apple.numbers",
        "README.md",
        ".hidden.csv",
        "~$acme.xlsx",
    ):
        (drop / name).write_bytes(b"not read")
    (drop / "archive").mkdir()  # sub-folders are not inputs, and not worth a line
    write_csv(outside / "secret.csv", [("2064569999", "Not Yours")])
    (drop / "escape.csv").symlink_to(outside / "secret.csv")
    (drop / "inside.csv").symlink_to(drop / "acme.csv")
    (drop / "dangling.csv").symlink_to(drop / "gone.csv")
    os.mkfifo(drop / "pipe.csv")


EXPECTED_SKIPS = [
    ("apple.numbers", "unsupported file type '.numbers': an Apple Numbers file; export it as .xlsx or CSV"),
    ("binary.xlsb", "unsupported file type '.xlsb': a binary Excel workbook; save it as .xlsx or CSV UTF-8"),
    ("dangling.csv", "a link to nothing (its target is gone)"),
    ("escape.csv", "a link leading out of the folder; not followed"),
    ("old.xls", XLS_REASON),
    ("pipe.csv", "not a regular file (a pipe, socket or device)"),
    ("README.md", "unsupported file type '.md': use .csv, .tsv, .txt, .xlsx, .xlsm or .ods"),
]  # fmt: skip


def test_scan_folder_lists_what_it_does_not_read_with_the_reason(tmp_path):
    drop, outside = tmp_path / "drop", tmp_path / "elsewhere"
    outside.mkdir()
    fill_drop(drop, outside)
    scan = scan_folder(drop, "drop")
    assert [p.name for p in scan.files] == ["acme.csv", "inside.csv"]
    assert sorted((Path(i.file).name, i.reason) for i in scan.skipped) == sorted(EXPECTED_SKIPS)
    assert all(i.file.startswith("drop/") for i in scan.skipped)
    assert scan.other_types == {"drop/README.md"}


def test_a_drop_folder_run_lists_skipped_files_in_summary_sheet_and_email(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    fill_drop(tmp_path / "drop", outside)
    with smtp_server() as (port, handler):
        code, err = run(
            "drop", "--dry-run", "--output", "out", "--email-to", "ops@example.com",
            environ={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)},
        )  # fmt: skip
    assert code == 0, err
    summary = summary_of(Path("out"))
    # inside.csv leads to acme.csv: the same file, read once
    assert summary["inputs"] == ["drop/acme.csv"]
    assert sorted(summary["inputs_skipped"]) == sorted(f"drop/{name}" for name, _ in EXPECTED_SKIPS)
    assert sorted(summary["inputs_skipped_reasons"].items()) == sorted(
        (f"drop/{name}", reason) for name, reason in EXPECTED_SKIPS
    )
    report = read_csv(only_run_dir(Path("out")) / "report.csv")
    assert "NOT YOURS" not in {r["name"] for r in report}  # the link out was not followed
    sheet = openpyxl.load_workbook(only_run_dir(Path("out")) / "report.xlsx")["Summary"]
    cells = {(r[0], r[1]) for r in sheet.iter_rows(values_only=True)}
    assert ("drop/old.xls", XLS_REASON) in cells
    assert ("drop/escape.csv", "a link leading out of the folder; not followed") in cells
    body = handler.received[0].message.get_body(("plain",)).get_content()
    assert f"drop/old.xls ({XLS_REASON})" in body
    # a spreadsheet-like type warns on stderr (cron mails it); a README is only listed
    assert f"skipped drop/old.xls: {XLS_REASON}" in err
    assert "README.md" not in err


def test_a_file_named_on_the_command_line_may_be_a_link(tmp_path):
    """Only folder members are held to the folder; a file the user names is taken as named."""
    write_csv(tmp_path / "real.csv", ROWS)
    (tmp_path / "named.csv").symlink_to(tmp_path / "real.csv")
    assert expand_inputs([tmp_path / "named.csv"]) == [tmp_path / "named.csv"]


# ----------------------------------------------------------------------------------- lock file


def test_the_lock_file_is_not_opened_through_a_symlink(tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("must not be truncated\n")
    lock = tmp_path / "state.sqlite.lock"
    lock.symlink_to(victim)
    with pytest.raises(ConfigError, match=r"state\.sqlite\.lock is a symbolic link"):
        take_lock(lock, lambda: "pid 1")
    assert victim.read_text() == "must not be truncated\n"


def test_a_run_refuses_a_symlinked_lock_with_one_line(tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("must not be truncated\n")
    (tmp_path / "state.sqlite.lock").symlink_to(victim)
    write_csv(tmp_path / "a.csv", ROWS)
    code, err = run(
        tmp_path / "a.csv", "--sandbox", "--state", tmp_path / "state.sqlite",
        "--output", tmp_path / "out",
    )  # fmt: skip
    assert code == 2
    assert err.splitlines() == [
        f"cnam-batch: error: {tmp_path / 'state.sqlite.lock'} is a symbolic link; cnam-batch does "
        "not follow it: remove it (the next run creates the lock file itself)"
    ]
    assert victim.read_text() == "must not be truncated\n"


def test_a_pipe_named_on_the_command_line_is_refused_with_one_line(tmp_path):
    os.mkfifo(tmp_path / "in.csv")
    code, err = run(tmp_path / "in.csv", "--dry-run", "--output", tmp_path / "out")
    assert (code, err.splitlines()) == (
        2,
        [
            f"cnam-batch: error: {tmp_path / 'in.csv'}: not a regular file (a pipe, socket or "
            "device); name a file"
        ],
    )
