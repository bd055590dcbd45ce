"""End to end across runs: the order of carried-over rows, and rows that fail the same way run
after run (`--give-up-after`, `--retry-failed`), against the real sandbox over loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from e2e_util import Harness, phone_numbers, write_input
from fakes import FakeClock

from pipeline.sandbox.server import SandboxConfig, SandboxServer

HOUR = 3600.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def server(clock: FakeClock) -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(approve_after=600), clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def harness(server: SandboxServer, tmp_path: Path) -> Harness:
    return Harness(server, tmp_path)


def test_carried_over_rows_are_in_input_order_file_then_row_number(harness, tmp_path):
    nums = phone_numbers(14)
    names = [f"SHOP {chr(65 + i)}" for i in range(14)]
    rows = list(zip(nums, names, strict=True))
    second_file = write_input(tmp_path / "b.csv", rows[11:])  # named first: b before a on the CLI
    first_file = write_input(tmp_path / "a.csv", rows[:11])  # rows 2..12: 10 and 11 and 12
    assert harness.run(second_file, first_file).code == 0

    nightly = harness.run()

    assert nightly.code == 0, nightly.stderr
    shown = [(r["source_file"].rsplit("/", 1)[-1], int(r["source_row"])) for r in nightly.carried()]
    expected = [("a.csv", n) for n in range(2, 13)] + [("b.csv", n) for n in range(2, 5)]
    assert shown == expected
    book = openpyxl.load_workbook(nightly.run_dir / "report.xlsx", read_only=True)
    sheet = book["Carried over"]
    header, *body = [list(r) for r in sheet.iter_rows(values_only=True)]
    file_col, row_col = header.index("source_file"), header.index("source_row")
    assert [(str(r[file_col]).rsplit("/", 1)[-1], r[row_col]) for r in body] == expected
    book.close()
