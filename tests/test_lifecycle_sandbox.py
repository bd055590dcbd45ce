"""run_lifecycle with the real FlowrouteClient against the real sandbox over loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeClock

from pipeline.api.client import FlowrouteClient
from pipeline.journal.store import Journal
from pipeline.journal.types import WorkItem
from pipeline.lifecycle.engine import run_lifecycle
from pipeline.lifecycle.outcomes import LifecycleResult
from pipeline.model import Reason, Status
from pipeline.sandbox.control import FaultConfig
from pipeline.sandbox.server import SandboxConfig, SandboxServer

ROOT = Path(__file__).parents[1]
NOT_OWNED = "12065550142"  # the sandbox's open account does not own 555-01xx numbers


def work(names: list[str], first: int = 2064561000, hash_: str = "h1") -> list[WorkItem]:
    return [
        WorkItem(f"{hash_}:{row}", "input/a.csv", row, str(first + i), name.title(),
                 f"1{first + i}", name)
        for i, (row, name) in enumerate(enumerate(names, start=2))
    ]  # fmt: skip


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock, request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    config = getattr(request, "param", None) or SandboxConfig(approve_after=600)
    with SandboxServer(config, clock=clock) as server:
        yield server


def client_for(sandbox: SandboxServer) -> FlowrouteClient:
    return FlowrouteClient(
        sandbox.url, sandbox.access_key, sandbox.secret_key, sleep=lambda s: None, timeout=5
    )


def run(
    sandbox: SandboxServer, state: Path, run_id: str, items: list[WorkItem], clock: FakeClock, **kw
) -> LifecycleResult:
    sandbox.account.use(it.number for it in items)  # the open account lists what it is used with
    with Journal(state, clock=clock) as journal:
        return run_lifecycle(
            client_for(sandbox), journal, run_id, items, clock=clock, sleep=clock.sleep, **kw
        )


def writes(sandbox: SandboxServer) -> list[str]:
    return [f"{e.method} {e.path}" for e in sandbox.log if e.method in ("POST", "PATCH")]


def test_lifecycle_over_three_runs_against_the_sandbox(sandbox, tmp_path, clock):
    state = tmp_path / "state.sqlite"
    items = [
        *work(["ACME PLUMBING", "ACME PLUMBING", "SEATTLE POLICE"]),
        WorkItem("h1:9", "input/a.csv", 9, NOT_OWNED[1:], "Bob", NOT_OWNED, "BOB LAW"),
    ]

    first = run(sandbox, state, "r1", items, clock)
    assert [o.status for o in first.outcomes.values()] == [
        *[Status.PENDING_APPROVAL] * 3,
        Status.REJECTED,
    ]
    assert first.outcomes["h1:9"].reason_code is Reason.NUMBER_NOT_ON_ACCOUNT
    assert len([w for w in writes(sandbox) if w.startswith("POST")]) == 2

    clock.now += 3600  # the review decides
    second = run(sandbox, state, "r2", items, clock)
    police = second.outcomes["h1:4"]
    assert [o.status for o in second.outcomes.values()][:2] == [Status.ASSOCIATED] * 2
    assert (police.status, police.reason_code) == (Status.REJECTED, Reason.FLOWROUTE_REJECTED)
    assert police.reason.startswith('Flowroute\'s review rejected "SEATTLE POLICE": Misleading')

    before = len(writes(sandbox))
    third = run(sandbox, state, "r3", items, clock)
    assert [(o.status, o.cnam_id) for o in third.outcomes.values()] == [
        (o.status, o.cnam_id) for o in second.outcomes.values()
    ]
    assert len(writes(sandbox)) == before  # finished work: no create, no associate
    assert len([w for w in writes(sandbox) if w.startswith("PATCH")]) == 2

    secrets = (sandbox.secret_key, sandbox.access_key)
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("state"))
    assert not any(s.encode() in stored for s in secrets)


def test_wait_approval_finishes_in_one_run(sandbox, tmp_path, clock):
    items = work(["ACME PLUMBING", "BOB LAW"])

    result = run(sandbox, tmp_path / "state.sqlite", "r1", items, clock, wait_approval=900)

    assert {o.status for o in result.outcomes.values()} == {Status.ASSOCIATED}
    assert sum(clock.sleeps) <= 900


@pytest.mark.parametrize(
    "sandbox",
    [
        SandboxConfig(
            approve_after=0,
            faults=FaultConfig(
                seed=7, error_rate=0.2, after_commit_rate=0.2, drop_after_commit_rate=0.2
            ),
        )
    ],
    indirect=True,
)
def test_faults_after_commit_never_duplicate_a_record(sandbox, tmp_path, clock):
    names = [f"SHOP {i % 6} CO" for i in range(30)]
    items = work(names)

    outcomes: dict = {}
    for attempt in range(6):  # bounded: failed rows are retried by the next run
        outcomes = run(sandbox, tmp_path / "state.sqlite", f"r{attempt}", items, clock).outcomes
        if all(o.status is Status.ASSOCIATED for o in outcomes.values()):
            break

    assert {o.status for o in outcomes.values()} == {Status.ASSOCIATED}
    values = [r.value for r in client_for(sandbox).iter_cnams()]
    assert sorted(values) == sorted(set(names))  # each value exactly once


@pytest.mark.parametrize(
    ("phase", "distinct", "kill_after"), [("create", 40, 15), ("associate", 10, 30)]
)
def test_kill_9_mid_run_then_rerun_loses_nothing(tmp_path, clock, phase, distinct, kill_after):
    """A real process is killed at an arbitrary instant while writing; the rerun finishes."""
    state = tmp_path / "state.sqlite"
    names = [f"SHOP {i % distinct} CO" for i in range(80)]
    child = textwrap.dedent(f"""
        import os
        from pipeline.api.client import FlowrouteClient
        from pipeline.journal.store import Journal
        from pipeline.lifecycle.engine import WorkItem, run_lifecycle
        from pipeline.api.ratelimit import RateLimiter
        client = FlowrouteClient(os.environ["URL"], os.environ["AK"], os.environ["SK"],
                                 limiter=RateLimiter(60))
        items = [WorkItem(f"h1:{{i + 2}}", "input/a.csv", i + 2, "n", "n", f"1{{2064561000 + i}}",
                          name) for i, name in enumerate({names!r})]
        run_lifecycle(client, Journal({str(state)!r}).open(), "r1", items, concurrency=4)
    """)
    with SandboxServer(SandboxConfig(approve_after=60), clock=clock) as sandbox:
        if phase == "associate":  # records exist and are approved: the child only associates
            run(sandbox, state, "r0", work(names), clock)
            clock.now += 3600
        method = "POST" if phase == "create" else "PATCH"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "URL": sandbox.url,
               "AK": sandbox.access_key, "SK": sandbox.secret_key}  # fmt: skip
        sandbox.account.use(it.number for it in work(names))
        proc = subprocess.Popen([sys.executable, "-c", child], env=env)
        try:
            deadline = time.monotonic() + 60
            while (proc.poll() is None and time.monotonic() < deadline
                   and sum(w.startswith(method) for w in writes(sandbox)) < kill_after):  # fmt: skip
                time.sleep(0.002)
        finally:
            proc.kill()
            proc.wait(timeout=30)
        assert proc.returncode == -9, "the child finished before it could be killed"

        run(sandbox, state, "r2", work(names), clock)  # creates what the child did not
        clock.now += 3600
        result = run(sandbox, state, "r3", work(names), clock)

        assert {o.status for o in result.outcomes.values()} == {Status.ASSOCIATED}
        values = [r.value for r in client_for(sandbox).iter_cnams()]
        assert sorted(values) == sorted(set(names))  # no duplicate record
        by_id = {r.id: r.value for r in client_for(sandbox).iter_cnams()}
        for item in work(names):
            preset = client_for(sandbox).get_number(item.number)
            assert preset is not None and by_id[preset.cnam_preset_id or ""] == item.name
