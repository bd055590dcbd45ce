"""End to end: the learned rate limit, over real loopback HTTP against a strict sandbox.

The sandbox allows 10 requests in any sliding second and answers 429 beyond it, with
`Retry-After` or, as production may, without. `cnam-batch run --rate-limit 40` (told too high)
must finish every row with no failure and no duplicate, slow down after the first burst of 429s
instead of backing off exponentially, remember what it learned in the journal (status, summary),
and start the next run from it, without a first burst of 429s. Each run takes about two seconds (about 20
requests at 10 a second).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from e2e_util import Harness, account_values, creates, phone_numbers, write_input
from fakes import FakeClock

from pipeline.sandbox.server import SandboxConfig, SandboxServer

LIMIT = 10
TOLD = 40
ROWS = 16


def source(tmp_path: Path, name: str, batch: int) -> Path:
    """ROWS rows, each a new name on its own number; another `batch`, other names and numbers."""
    nums = phone_numbers(ROWS, first=2064561000 + 1000 * batch)
    names = (f"SHOP {100 * batch + i} CO" for i in range(ROWS))
    return write_input(tmp_path / name, zip(nums, names, strict=True))


@pytest.mark.parametrize("retry_after", [True, False], ids=["retry-after", "no-retry-after"])
def test_told_too_high_it_learns_the_limit_and_the_next_run_starts_from_it(
    tmp_path: Path, retry_after: bool
) -> None:
    config = SandboxConfig(approve_after=600, rate_limit=LIMIT, retry_after=retry_after)
    with SandboxServer(config, clock=FakeClock(time.time())) as server:
        harness = Harness(server, tmp_path)
        first = harness.run(source(tmp_path, "a.csv", 1), rate_limit=TOLD)

        assert first.code == 0, first.stderr
        assert first.statuses() == ["pending_approval"] * ROWS  # a 429 fails no row
        assert len(creates([e for e in first.log if e.status == 201])) == ROWS
        assert max(Counter(account_values(server)).values()) == 1  # no duplicate record
        refused = [e for e in first.log if e.status == 429]
        assert 1 <= len(refused) <= 6  # the first burst only, then it keeps under the limit
        span = first.log[-1].time - first.log[0].time
        assert span < len(first.log) / LIMIT + 2.5  # no pause that grows while it learns
        rate = first.summary()["api"]["rate_limit"]
        assert rate["setting"] == TOLD and rate["start"] == pytest.approx(TOLD / 1.02, abs=1e-3)
        assert rate["learned_from_429"] is True and rate["slowdowns"] >= 1
        assert 0.8 * LIMIT <= rate["learned"] <= 1.05 * LIMIT
        assert first.summary()["api"]["rate_limited"] == len(refused)

        status = harness.status()["rate_limit"]
        assert (status["learned"], status["throttled"]) == (rate["learned"], True)
        assert status["api"] == server.url and status["setting"] == str(TOLD)
        text = harness.main(["status", "--state", str(harness.state)]).stdout
        assert f"rate limit: {rate['learned']:g} requests/s, learned from Flowroute's 429s" in text

        second = harness.run(source(tmp_path, "b.csv", 2), rate_limit=TOLD)

        assert second.code == 0, second.stderr
        assert second.statuses() == ["pending_approval"] * ROWS
        # nothing to rediscover: no first burst (a busy machine's jitter may cost one 429)
        assert len([e for e in second.log if e.status == 429]) <= 1
        again = second.summary()["api"]["rate_limit"]
        assert 0.97 * rate["learned"] <= again["start"] <= rate["learned"]


def test_told_exactly_it_sends_at_the_limit_without_a_429(tmp_path: Path) -> None:
    config = SandboxConfig(approve_after=600, rate_limit=LIMIT, retry_after=False)
    with SandboxServer(config, clock=FakeClock(time.time())) as server:
        result = Harness(server, tmp_path).run(source(tmp_path, "a.csv", 1), rate_limit=LIMIT)

        assert result.code == 0, result.stderr
        assert result.statuses() == ["pending_approval"] * ROWS
        # the client spaces its requests 1.02 / 10 s apart; only a busy machine delaying one
        # request on its way and not the next can make two arrive close enough for a 429
        assert len([e for e in result.log if e.status == 429]) <= 1
        times = [e.time for e in result.log]
        assert (len(times) - 1) / (times[-1] - times[0]) >= 0.9 * LIMIT


def test_the_sandbox_can_answer_429_without_retry_after() -> None:
    for retry_after in (True, False):
        config = SandboxConfig(rate_limit=2, retry_after=retry_after)
        with SandboxServer(config) as server, requests.Session() as session:
            session.auth = (server.access_key, server.secret_key)
            answers = [session.get(f"{server.url}/v2/cnams", timeout=5) for _ in range(3)]
            assert [a.status_code for a in answers] == [200, 200, 429]
            assert ("Retry-After" in answers[2].headers) is retry_after
