"""The outage guard (api/outage.py) with a fake clock, and the real client under the production
defaults against the sandbox's outage switch in simulated time: how long until it stops sending."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests
from e2e_util import RUN_BATCH
from fakes import FakeClock

from pipeline.api.client import FlowrouteClient
from pipeline.api.outage import DEFAULT_BUDGET, OutageGuard
from pipeline.errors import ApiUnreachableError, RuntimeLimitError
from pipeline.journal.store import Journal
from pipeline.journal.types import WorkItem
from pipeline.lifecycle.engine import run_lifecycle
from pipeline.model import Status
from pipeline.sandbox.control import OUTAGE, OutageConfig, OutageSwitch
from pipeline.sandbox.server import SandboxConfig, SandboxServer

URL = "https://api.flowroute.com"


def test_nothing_answering_at_start_stops_after_two_tries_naming_the_url():
    guard = OutageGuard(URL, clock=FakeClock())

    guard.failure("connection refused", transport=True, retryable=True)
    with pytest.raises(ApiUnreachableError) as caught:
        guard.failure("connection refused", transport=True, retryable=True)

    assert URL in str(caught.value) and "--api-url" in str(caught.value)
    with pytest.raises(ApiUnreachableError):
        guard.before_send()  # nothing more is sent


def test_a_tls_failure_at_start_stops_at_once():
    guard = OutageGuard(URL, clock=FakeClock())
    with pytest.raises(ApiUnreachableError):
        guard.failure("certificate verify failed", transport=True, retryable=False)


def test_mid_run_failures_stop_only_after_the_budget_and_an_answer_starts_over():
    clock = FakeClock(0)
    guard = OutageGuard(URL, budget=120, clock=clock)
    guard.answer(200)
    for _ in range(11):  # 100 s of failures: still within the budget
        guard.failure("answered 503", transport=False, retryable=True)
        guard.before_send()
        clock.now += 10
    guard.answer(404)  # the server is there: the stretch is over
    clock.now += 100
    guard.failure("got no answer", transport=True, retryable=True)
    assert guard.cap_wait(300) == 120  # a retry wakes when the budget runs out
    clock.now += 60
    guard.failure("got no answer", transport=True, retryable=True)
    clock.now += 59
    guard.failure("answered 500", transport=False, retryable=True)
    clock.now += 1

    with pytest.raises(ApiUnreachableError) as caught:
        guard.before_send()
    assert "did not answer" in str(caught.value) and "2 min" in str(caught.value)


def test_requests_that_time_out_count_from_when_they_were_sent():
    clock = FakeClock(0)
    guard = OutageGuard(URL, budget=120, clock=clock)
    guard.answer(200)
    for sent in (0, 1, 2, 3):  # four workers' requests hang, each for the 30 s read timeout
        clock.now = sent + 30
        guard.failure("no answer within 30 s", transport=True, retryable=True, sent_at=sent)
    clock.now = 120  # the budget runs from the first hanging request's sending, not its timeout

    with pytest.raises(ApiUnreachableError):
        guard.before_send()


def test_the_deadline_stops_new_calls_and_caps_waits():
    clock = FakeClock(0)
    guard = OutageGuard(URL, deadline=90, max_runtime=90, clock=clock)
    guard.before_send()
    clock.now = 80
    assert guard.cap_wait(30) == 10 and guard.time_left() == 10
    clock.now = 90
    with pytest.raises(RuntimeLimitError) as caught:
        guard.before_send()
    assert "--max-runtime 90 s reached" in str(caught.value)


def test_with_the_production_defaults_an_outage_stops_the_run_within_three_minutes(tmp_path):
    """The real client and lifecycle, 6 attempts a call and the 120 s budget, in simulated time:
    the sandbox answers 503 from its 10th request on; sleeps advance the fake clock."""
    clock = FakeClock(0)
    items = [
        WorkItem(f"h:{i}", "a.csv", i + 2, "n", "n", f"1{2064561000 + i}", f"SHOP {i} CO")
        for i in range(200)
    ]
    config = SandboxConfig(
        approve_after=600,
        numbers={it.number for it in items},
        outage=OutageConfig(after_requests=10, mode="503"),
    )
    with SandboxServer(config) as server:
        guard = OutageGuard(server.url, budget=DEFAULT_BUDGET, clock=clock)
        client = FlowrouteClient(
            server.url, server.access_key, server.secret_key, sleep=clock.sleep, guard=guard
        )
        with Journal(tmp_path / "state.sqlite") as journal:
            result = run_lifecycle(client, journal, "r1", items, sleep=clock.sleep)
        during = [e for e in server.log if e.fault == OUTAGE]

    assert isinstance(result.fatal, ApiUnreachableError)
    stopped_after = clock.now  # simulated seconds; the outage began at about 0
    assert DEFAULT_BUDGET <= stopped_after <= 180
    assert len(during) < 200  # not 6 tries for each of 200 rows
    assert {o.status for o in result.outcomes.values()} <= {Status.FAILED, Status.PENDING_APPROVAL}
    print(f"defaults: stopped {stopped_after:.0f} simulated s into the outage, after "
          f"{len(during)} requests in it")  # fmt: skip


# ------------------------------------------------------------------------------ the sandbox's switch
def test_outage_switch_fires_after_n_requests_and_ends_by_hand():
    switch = OutageSwitch(OutageConfig(after_requests=2, mode="500"), clock=FakeClock(0))

    assert [switch.check() for _ in range(4)] == [None, None, "500", "500"]
    switch.end()
    assert [switch.check() for _ in range(2)] == [None, None]  # the trigger does not fire again


def test_outage_switch_fires_at_a_moment_and_lasts_its_duration():
    clock = FakeClock(0)
    switch = OutageSwitch(OutageConfig(at=10, mode="drop", duration=5), clock=clock)

    assert switch.check() is None
    clock.now = 10
    assert switch.check() == "drop" and switch.active
    clock.now = 15
    assert switch.check() is None and not switch.active


def test_outage_switch_by_hand_with_a_mode():
    switch = OutageSwitch(None, clock=FakeClock(0))
    assert switch.check() is None
    switch.begin("401")
    assert switch.check() == "401"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"mode": "404"}, "outage mode"),
        ({"after_requests": -1}, "negative"),
        ({"duration": 0}, "above 0"),
    ],
)
def test_outage_config_refuses_nonsense(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        OutageConfig(**kwargs)


def test_sandbox_command_serves_an_outage_and_says_so(tmp_path):
    """`cnam-batch sandbox --outage-after 1 --outage-mode 500` as a user starts it (a process)."""
    argv = [sys.executable, str(RUN_BATCH), "sandbox", "--port", "0", "--outage-after", "1",
            "--outage-mode", "500"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FR_", "CNAM_BATCH_"))}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(9)]
        url = banner[0].split()[-1]
        keys = {ln.split(":")[0].strip(): ln.split(":", 1)[1].strip() for ln in banner[1:3]}
        session = requests.Session()
        session.auth = (keys["access key"], keys["secret key"])
        seen = [session.get(f"{url}/v2/cnams", timeout=5).status_code for _ in range(3)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    assert seen == [200, 500, 500]
    assert any("outage:" in ln and "after the first 1 fails (500)" in ln for ln in banner), banner
