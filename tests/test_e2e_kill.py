"""End to end with real processes: `python run_batch.py run` killed with SIGKILL mid-run, then run
again; and a second run refused while the first holds the journal's lock.

The sandbox runs in the test process (its review clock under the test's control); the program runs
as a subprocess pointed at it through FLOWROUTE_API_URL. The test watches the sandbox's request log
to kill the child between the first and the last write of a phase.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_util import (
    RUN_BATCH,
    Harness,
    account_values,
    creates,
    patches,
    patches_per_number,
    phone_numbers,
    preset_of,
    wait_for,
    write_input,
)
from fakes import FakeClock

from pipeline.sandbox.server import SandboxConfig, SandboxServer

HOUR = 3600.0
ROWS = 60
NUMBERS = phone_numbers(ROWS)
NAMES = [f"SHOP {i} CO" for i in range(ROWS)]  # 60 unique names: 60 creates, 60 associations


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def server(clock: FakeClock) -> Iterator[SandboxServer]:
    # A listed account: one listing call proves ownership, so the child reaches its writes fast.
    config = SandboxConfig(approve_after=600, numbers={f"1{n}" for n in NUMBERS})
    with SandboxServer(config, clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_input(tmp_path / "customers.csv", zip(NUMBERS, NAMES, strict=True))


def spawn(harness: Harness, tmp_path: Path, *args: str, rate_limit: float = 20) -> subprocess.Popen:
    """`python run_batch.py run ...` on the harness's sandbox, output and journal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CNAM_BATCH_", "FR_", "SMTP_"))}
    env.update(harness.environ())
    argv = [sys.executable, str(RUN_BATCH), "run", *args, "--output", str(harness.output),
            "--state", str(harness.state), "--rate-limit", str(rate_limit)]  # fmt: skip
    with (tmp_path / "child.err").open("ab") as err:
        return subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)


def kill_when(proc: subprocess.Popen, condition, timeout: float = 60) -> None:
    """SIGKILL the child as soon as `condition()` holds (polled), or when `timeout` passes."""
    try:
        wait_for(lambda: proc.poll() is not None or condition(), timeout, interval=0.002)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


def assert_every_row_reported(harness: Harness, rows: list[dict[str, str]], status: str) -> None:
    assert [int(r["source_row"]) for r in rows] == list(range(2, ROWS + 2))  # none lost
    assert {r["status"] for r in rows} == {status}


def test_kill_9_during_creates_then_rerun_creates_no_duplicate_and_loses_no_row(
    server, clock, source, tmp_path
):
    harness = Harness(server, tmp_path)
    proc = spawn(harness, tmp_path, str(source))
    kill_when(proc, lambda: len(creates(server.log)) >= 10)

    assert proc.returncode == -signal.SIGKILL, "the child ended before it could be killed"
    created_by_child = len(account_values(server))
    assert 10 <= created_by_child < ROWS

    rerun = harness.run(source)

    assert rerun.code == 0, rerun.stderr
    assert_every_row_reported(harness, rerun.report(), "pending_approval")
    assert account_values(server) == sorted(NAMES)  # each name exactly once
    # Only what was missing (fewer if a request of the dying child still committed meanwhile).
    assert len(creates(rerun.log)) <= ROWS - created_by_child

    clock.now += HOUR
    done = harness.run(source)

    assert done.code == 0, done.stderr
    assert_every_row_reported(harness, done.report(), "associated")
    assert account_values(server) == sorted(NAMES)
    assert all(n == 1 for n in patches_per_number(server.log).values())
    for number, name in zip(NUMBERS, NAMES, strict=True):
        assert preset_of(server, f"1{number}") == name


def test_kill_9_during_associations_then_rerun_finishes_every_row(server, clock, source, tmp_path):
    harness = Harness(server, tmp_path)
    assert harness.run(source).code == 0  # records created; pending
    clock.now += HOUR  # approved
    proc = spawn(harness, tmp_path, str(source))
    kill_when(proc, lambda: len(patches(server.log)) >= 10)

    assert proc.returncode == -signal.SIGKILL, "the child ended before it could be killed"
    by_child = len(patches(server.log))
    assert 10 <= by_child < ROWS

    rerun = harness.run(source)

    assert rerun.code == 0, rerun.stderr
    assert_every_row_reported(harness, rerun.report(), "associated")
    assert creates(rerun.log) == []
    assert account_values(server) == sorted(NAMES)
    for number, name in zip(NUMBERS, NAMES, strict=True):
        assert preset_of(server, f"1{number}") == name
    # A PATCH in flight when the child died (an intent without a result in the journal) is
    # resolved by reading the record's numbers before sending: no number is associated twice.
    resent = [n for n, count in patches_per_number(server.log).items() if count > 1]
    assert resent == []
    assert set(patches_per_number(server.log).values()) == {1}
    reads = [e for e in rerun.log if e.method == "GET" and e.path.startswith("/v2/cnams/")]
    print(f"child sent {by_child} PATCHes before SIGKILL; rerun: {len(patches(rerun.log))} "
          f"PATCHes, {len(reads)} record reads, re-sent: {len(resent)}")  # fmt: skip


def test_second_run_on_a_locked_journal_exits_4_with_one_line(server, source, tmp_path):
    harness = Harness(server, tmp_path)
    proc = spawn(harness, tmp_path, str(source), rate_limit=1)  # 1 request/s: holds the lock
    try:
        assert wait_for(lambda: len(server.log) >= 1 or proc.poll() is not None, 60)
        assert proc.poll() is None, (tmp_path / "child.err").read_text()

        second = harness.run(source)

        assert second.code == 4
        lines = second.stderr.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("cnam-batch: error: another cnam-batch run")
        assert f"pid {proc.pid}" in lines[0] and "lock" in lines[0]
        assert second.run_dir is None  # nothing written for the refused run
        assert len(server.log) < 10  # the refused run sent nothing: only the slow child did
    finally:
        proc.kill()
        proc.wait(timeout=30)
