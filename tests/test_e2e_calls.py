"""End to end: the calls a run makes, counted in the sandbox's request log (real loopback HTTP).

- A record found on the account (made on the portal) may already be on some numbers: one
  GET /v2/cnams/{id} lists them, instead of one GET /v2/numbers/{n} per number.
- With --wait-approval the first poll comes soon after the creates and approved records are
  associated at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from e2e_util import Harness, SandboxHttp, creates, patches_per_number, phone_numbers, write_input
from fakes import FakeClock

from pipeline.sandbox.server import SandboxConfig, SandboxServer

HOUR = 3600.0
PER_RECORD = 10
NUMBERS = phone_numbers(2 * PER_RECORD)
OWNED = {f"1{n}" for n in NUMBERS}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


def gets(log, prefix: str) -> list:  # type: ignore[no-untyped-def]
    return [e for e in log if e.method == "GET" and e.path.startswith(prefix)]


def test_numbers_of_a_record_found_on_the_account_are_read_with_one_call_per_record(
    clock, tmp_path
):
    with SandboxServer(SandboxConfig(approve_after=600, numbers=OWNED), clock=clock) as server:
        portal = SandboxHttp(server)
        ids = [portal.create("ACME PLUMBING"), portal.create("BOB LAW")]
        clock.now += HOUR  # approved
        preset = NUMBERS[::2]  # half the numbers already carry their name (set on the portal)
        names = ["ACME PLUMBING" if i < PER_RECORD else "BOB LAW" for i in range(len(NUMBERS))]
        for i, number in enumerate(NUMBERS):
            if number in preset:
                portal.associate(f"1{number}", ids[i >= PER_RECORD])
        portal.close()
        source = write_input(tmp_path / "a.csv", zip(NUMBERS, names, strict=True))

        result = Harness(server, tmp_path).run(source)

    assert result.code == 0, result.stderr
    by_number = {r["number"][-10:]: r["status"] for r in result.report()}
    assert {by_number[n] for n in preset} == {"already_set"}
    assert {by_number[n] for n in NUMBERS if n not in preset} == {"associated"}
    record_reads = [e for e in gets(result.log, "/v2/cnams/") if e.path != "/v2/cnams/"]
    number_reads = [e for e in gets(result.log, "/v2/numbers/") if e.path != "/v2/numbers/"]
    assert len(record_reads) == 2  # one per record
    assert number_reads == []  # none per number (it was one per number: 20)
    assert set(patches_per_number(result.log)) == {f"1{n}" for n in NUMBERS if n not in preset}
    assert creates(result.log) == []
    print(f"record reads: {len(record_reads)}, number reads: {len(number_reads)}")


@pytest.fixture
def live_server() -> Iterator[SandboxServer]:
    # The review runs on the real clock here: the run waits for it (about a second).
    with SandboxServer(SandboxConfig(approve_after=1.0, numbers=OWNED)) as server:
        yield server


def test_wait_approval_polls_soon_after_the_creates_and_associates_at_once(live_server, tmp_path):
    source = write_input(tmp_path / "a.csv", [(NUMBERS[0], "ACME PLUMBING")])

    start = time.monotonic()
    result = Harness(live_server, tmp_path).run(source, "--wait-approval", "30")
    elapsed = time.monotonic() - start

    assert result.code == 0, result.stderr
    assert result.statuses() == ["associated"]
    created = next(e.time for e in result.log if e.method == "POST")
    polls = [e.time for e in gets(result.log, "/v2/cnams/") if e.time > created]
    assert polls and polls[0] - created < 1.5  # the first poll about a second after the create
    assert elapsed < 5, elapsed  # (it was a fixed 5 s before the first poll)
    print(f"first poll {polls[0] - created:.2f} s after the create; run took {elapsed:.2f} s")


def test_numbers_absent_from_the_whole_listing_are_not_on_the_account_without_a_call(
    clock, tmp_path
):
    owned = NUMBERS[:5]
    outsiders = phone_numbers(200, first=3125550300)  # e.g. ports still pending
    rows = [(n, "ACME PLUMBING") for n in owned] + [(n, "BOB LAW") for n in outsiders]
    config = SandboxConfig(approve_after=600, numbers={f"1{n}" for n in owned})
    with SandboxServer(config, clock=clock) as server:
        source = write_input(tmp_path / "a.csv", rows)

        result = Harness(server, tmp_path).run(source)

    assert result.code == 0, result.stderr
    report = result.report()
    assert {r["reason_code"] for r in report[len(owned) :]} == {"number_not_on_account"}
    assert {r["status"] for r in report[: len(owned)]} == {"pending_approval"}
    number_reads = [e for e in gets(result.log, "/v2/numbers/") if e.path != "/v2/numbers/"]
    listing_pages = [e for e in result.log if e.method == "GET" and e.path == "/v2/numbers"]
    assert number_reads == []  # it was one GET per number absent from the listing: 200
    assert len(listing_pages) == 1
    assert len(creates(result.log)) == 1  # BOB LAW is not created: no number can use it
    print(f"{len(outsiders)} numbers not on the account: {len(number_reads)} lookups, "
          f"{len(result.log)} requests in all")  # fmt: skip
