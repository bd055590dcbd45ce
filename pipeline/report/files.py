"""Writing a run folder's files atomically: each under a temporary name, all renamed at the end.

Split from report.py, which decides what the files hold; this module only makes sure a crash never
leaves half a report.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import rustpy_xlsxwriter as rx

from pipeline.report import columnar

# From this many rows report.csv is written through polars: 3x faster, after the 0.2 s it takes to
# import it.
COLUMNAR_MIN_ROWS = 50_000


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """report.csv's format (pipeline.report.columnar): a big frame through polars, the same bytes."""
    if uses_columnar(frame):
        columnar.write_csv(frame, path)
    else:
        rx.write_csv(frame, str(path), bom=True)


def uses_columnar(frame: pd.DataFrame) -> bool:
    """Whether write_csv writes `frame` through polars (a big frame of text and integers)."""
    return len(frame) >= COLUMNAR_MIN_ROWS and columnar.is_columnar(frame)


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def write_all(
    run_dir: Path,
    files: Sequence[tuple[str, Callable[[Path], None]]],
    beside: Collection[str] = (),
) -> list[Path]:
    """Write every file under a temporary name, then rename them all; on failure remove the temps.

    Files named in `beside` are written by a second thread while this one writes the rest: worth
    it only for writers that release the GIL for most of their time (polars, pipeline.report.
    columnar), so that the two use both cores.
    """
    written: list[tuple[Path, Path]] = []
    pending: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report") as pool:
        try:
            for name, write in files:
                tmp = run_dir / f".{name}.tmp"
                written.append((tmp, run_dir / name))
                if name in beside:
                    pending.append(pool.submit(_write_synced, write, tmp))
                else:
                    _write_synced(write, tmp)
            for future in pending:
                future.result()
            for tmp, final in written:
                os.replace(tmp, final)
        except BaseException:
            for future in pending:  # a failure here: let the other thread finish before cleaning up
                future.cancel()
                with contextlib.suppress(BaseException):
                    future.result()
            for tmp, _ in written:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
            raise
    _fsync(run_dir)
    return [final for _, final in written]


def _write_synced(write: Callable[[Path], None], tmp: Path) -> None:
    write(tmp)
    _fsync(tmp)


def _fsync(path: Path) -> None:
    """Flush a file (or the folder's entries) to disk, so a rename never exposes unwritten data."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)
