"""Writing a run folder's files atomically: each under a temporary name, all renamed at the end.

Split from report.py, which decides what the files hold; this module only makes sure a crash never
leaves half a report, and writes a big workbook in a forked child beside the other files.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import rustpy_xlsxwriter as rx


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    rx.write_csv(frame, str(path), bom=True)


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def write_all(
    run_dir: Path,
    files: Sequence[tuple[str, Callable[[Path], None]]],
    in_child: set[str] | frozenset[str] = frozenset(),
) -> list[Path]:
    """Write every file under a temporary name, then rename them all; on failure remove the temps.

    Files named in `in_child` are written by a forked child process at the same time, where that is
    safe (POSIX, and no other thread in this process that a fork could catch holding a lock).
    """
    written: list[tuple[Path, Path]] = []
    children: list[tuple[str, int, int]] = []  # (file name, pid, read end of its error pipe)
    can_fork = hasattr(os, "fork") and threading.active_count() == 1
    try:
        for name, write in files:
            tmp = run_dir / f".{name}.tmp"
            written.append((tmp, run_dir / name))
            if can_fork and name in in_child:
                children.append((name, *_fork_writer(write, tmp)))
                continue
            write(tmp)
            _fsync(tmp)
        while children:
            name, pid, fd = children.pop()
            _join_writer(name, pid, fd)
        for tmp, final in written:
            os.replace(tmp, final)
    except BaseException:
        for _, pid, fd in children:  # a failure here: do not leave a writer behind
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                os.close(fd)
        for tmp, _ in written:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        raise
    _fsync(run_dir)
    return [final for _, final in written]


def _fork_writer(write: Callable[[Path], None], tmp: Path) -> tuple[int, int]:
    """Run write(tmp) in a forked child; returns (pid, read end of a pipe carrying its error)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write, report, and leave without running the parent's exit code
        code = 0
        try:
            os.close(read_end)
            write(tmp)
            _fsync(tmp)
        except BaseException as exc:
            code = 1
            with contextlib.suppress(Exception):
                os.write(write_end, f"{type(exc).__name__}: {exc}".encode()[:4000])
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _join_writer(name: str, pid: int, fd: int) -> None:
    with os.fdopen(fd, "rb") as pipe:
        message = pipe.read().decode("utf-8", "replace")
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise OSError(f"writing {name} failed: {message or f'the writer exited with {code}'}")


def _fsync(path: Path) -> None:
    """Flush a file (or the folder's entries) to disk, so a rename never exposes unwritten data."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)
