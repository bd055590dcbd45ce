"""run_lifecycle against the in-memory fake account: reconcile, create, poll, associate, carry over."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fakes import Crash, FakeAccount, FakeClock, FakeFlowroute

from pipeline.api.types import AmbiguousWriteError, NotFoundError, ServerError, TransportError
from pipeline.errors import ApiUnreachableError, CredentialsError, RuntimeLimitError
from pipeline.journal.store import Journal
from pipeline.journal.types import WorkItem
from pipeline.lifecycle.engine import run_lifecycle
from pipeline.lifecycle.outcomes import LifecycleResult
from pipeline.lifecycle.polling import POLL_FIRST, POLL_MAX
from pipeline.model import Reason, Status

N1, N2, N3, N4 = "12065550101", "12065550102", "12065550103", "12065550104"


def item(number: str, name: str, row: int = 2, file: str = "input/a.csv", hash_: str = "h1"):
    return WorkItem(f"{hash_}:{row}", file, row, number[1:], name.title(), number, name)


def batch(*pairs: tuple[str, str], file: str = "input/a.csv", hash_: str = "h1") -> list[WorkItem]:
    return [item(n, v, row, file, hash_) for row, (n, v) in enumerate(pairs, start=2)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite"


def run(
    client: FakeFlowroute, state: Path, run_id: str, items: list[WorkItem], clock: FakeClock, **kw
) -> LifecycleResult:
    with Journal(state, clock=clock) as journal:
        return run_lifecycle(client, journal, run_id, items, clock=clock, sleep=clock.sleep, **kw)


def statuses(result: LifecycleResult) -> list[Status]:
    return [o.status for o in result.outcomes.values()]


def writes(client: FakeFlowroute) -> tuple[int, int]:
    return client.count("create_cnam"), client.count("associate")


# ---------------------------------------------------------------------------- the lifecycle


def test_three_runs_create_then_associate_then_make_no_calls(state, clock):
    client = FakeFlowroute(numbers=[N1, N2, N3], clock=clock)
    items = batch((N1, "ACME"), (N2, "ACME"), (N3, "BOB LAW"))

    first = run(client, state, "r1", items, clock)
    assert statuses(first) == [Status.PENDING_APPROVAL] * 3
    assert writes(client) == (2, 0)  # each unique value created once
    pending = first.outcomes[items[0].key]
    assert pending.reason == (
        'waiting for Flowroute\'s review of "ACME" (up to 48 h); the next run associates it'
    )
    assert pending.pending_since is not None and pending.cnam_id

    client.review_all()
    second = run(client, state, "r2", items, clock)
    assert statuses(second) == [Status.ASSOCIATED] * 3
    assert writes(client) == (2, 3)
    assert client.account.presets == {N1: pending.cnam_id, N2: pending.cnam_id, N3: "1001"}

    client.calls.clear()
    third = run(client, state, "r3", items, clock)
    assert statuses(third) == [Status.ASSOCIATED] * 3
    assert third.outcomes[items[0].key].reason == "associated in run r2"
    assert client.calls == []  # finished work: not even a listing


def test_existing_record_on_the_account_is_reused(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    record = client.add_record("Acme", "approved")

    result = run(client, state, "r1", batch((N1, "ACME")), clock)

    assert writes(client) == (0, 1)
    assert result.outcomes["h1:2"] == result.outcomes["h1:2"].__class__(
        Status.ASSOCIATED, None, "", record.id
    )


def test_lost_journal_creates_no_duplicate_record(state, clock):
    client = FakeFlowroute(numbers=[N1, N2], clock=clock)
    items = batch((N1, "ACME"), (N2, "BOB LAW"))
    run(client, state, "r1", items, clock)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    client.review_all()

    result = run(client, state, "r2", items, clock)

    assert statuses(result) == [Status.ASSOCIATED] * 2
    assert client.count("create_cnam") == 2  # only run 1's
    assert len(client.account.records) == 2


def test_value_matching_ignores_case_and_spacing(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    client.add_record("acme  inc", "approved")

    result = run(client, state, "r1", batch((N1, "ACME INC")), clock)

    assert statuses(result) == [Status.ASSOCIATED]
    assert client.count("create_cnam") == 0


def test_account_duplicates_prefer_the_approved_record(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    client.add_record("ACME", "pending")
    client.account.records["999"] = client.by_value("ACME").__class__("999", "ACME", True)

    result = run(client, state, "r1", batch((N1, "ACME")), clock)

    assert result.outcomes["h1:2"].cnam_id == "999"
    assert client.account.presets == {N1: "999"}


# ---------------------------------------------------------------------------- ownership


def test_number_not_on_account_is_rejected_without_create(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)

    result = run(client, state, "r1", batch((N1, "ACME"), (N2, "BOB LAW")), clock)

    rejected = result.outcomes["h1:3"]
    assert (rejected.status, rejected.reason_code) == (
        Status.REJECTED,
        Reason.NUMBER_NOT_ON_ACCOUNT,
    )
    assert N2 in rejected.reason
    assert client.count("get_number") == 0  # the listing was read whole: no call per number
    assert [args for name, args in client.calls if name == "create_cnam"] == [("ACME",)]


def test_numbers_absent_from_a_whole_listing_cost_no_call_and_a_later_listing_finds_them(
    state, clock
):
    numbers = [f"1206555{i:04d}" for i in range(50)]
    client = FakeFlowroute(hidden_numbers=numbers, clock=clock)  # a port still pending
    items = [item(n, "ACME", row=i + 2) for i, n in enumerate(numbers)]

    first = run(client, state, "r1", items, clock)
    client.account.listed |= set(numbers)  # the port completed
    second = run(client, state, "r2", items, clock)

    assert set(statuses(first)) == {Status.REJECTED}
    assert set(statuses(second)) == {Status.PENDING_APPROVAL}
    assert client.count("get_number") == 0  # it was one per number: 50, then 50 again
    assert client.count("list_numbers") == 2  # one listing page per run


def test_a_listing_cut_short_falls_back_to_one_lookup_per_missing_number(state, clock):
    client = FakeFlowroute(hidden_numbers=[N1], clock=clock)
    client.listing_whole = False  # pagination broke off: absent does not mean not owned
    items = batch((N1, "ACME"))

    assert statuses(run(client, state, "r1", items, clock)) == [Status.PENDING_APPROVAL]
    client.review_all()
    assert statuses(run(client, state, "r2", items, clock)) == [Status.ASSOCIATED]

    assert client.count("get_number") == 1
    assert client.count("list_numbers") == 1  # run 2 knew the number from the journal


def test_already_set_from_the_records_numbers_sends_nothing(state, clock):
    client = FakeFlowroute(numbers=[N1, N2], clock=clock)
    record = client.add_record("ACME", "approved")  # made on the portal, on N1 already
    client.account.presets[N1] = record.id

    result = run(client, state, "r1", batch((N1, "ACME"), (N2, "ACME")), clock)

    assert (result.outcomes["h1:2"].status, result.outcomes["h1:2"].cnam_id) == (
        Status.ALREADY_SET,
        record.id,
    )
    assert result.outcomes["h1:3"].status is Status.ASSOCIATED
    assert writes(client) == (0, 1)
    assert client.count("get_cnam_numbers") == 1  # one read for the record, none per number
    assert client.count("get_number") == 0


def test_already_set_from_the_detail_lookup_when_the_records_read_fails(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    record = client.add_record("ACME", "approved")
    client.account.presets[N1] = record.id
    client.fail("get_cnam_numbers", lambda: ServerError(503, "Unavailable"))

    result = run(client, state, "r1", batch((N1, "ACME")), clock)

    outcome = result.outcomes["h1:2"]
    assert (outcome.status, outcome.cnam_id) == (Status.ALREADY_SET, record.id)
    assert writes(client) == (0, 0)
    assert client.count("get_number") == 1


def test_already_set_from_the_journal_sends_nothing(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    client.add_record("ACME", "approved")
    run(client, state, "r1", batch((N1, "ACME")), clock)
    client.calls.clear()

    other_file = batch((N1, "ACME"), file="input/b.csv", hash_="h2")
    result = run(client, state, "r2", other_file, clock)

    assert statuses(result) == [Status.ALREADY_SET]
    assert 'already carries "ACME"' in result.outcomes["h2:2"].reason
    assert client.calls == []


def test_released_number_is_rejected_when_associating(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    items = batch((N1, "ACME"))
    run(client, state, "r1", items, clock)  # caches N1 as owned
    client.account.listed.discard(N1)
    client.review_all()

    result = run(client, state, "r2", items, clock)

    assert result.outcomes["h1:2"].reason_code is Reason.NUMBER_NOT_ON_ACCOUNT


def test_a_404_on_associate_for_an_owned_number_means_the_record_is_gone(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    client.add_record("ACME", "approved")
    client.fail("associate", lambda: NotFoundError(404, "Not Found", "CNAM record not found"))

    outcome = run(client, state, "r1", batch((N1, "ACME")), clock).outcomes["h1:2"]

    assert (outcome.status, outcome.reason_code) == (Status.FAILED, Reason.API_ERROR)
    assert "no longer on the account" in outcome.reason
    assert client.calls[-1] == ("get_number", (N1,))  # asked which of the two was gone


# ---------------------------------------------------------------------------- review


def test_rejected_by_review_quotes_the_reason_and_is_never_recreated(state, clock):
    client = FakeFlowroute(numbers=[N1, N2], clock=clock)
    client.account.verdicts["SEATTLE POLICE"] = "Misleading: impersonates a public agency."
    items = batch((N1, "SEATTLE POLICE"))
    run(client, state, "r1", items, clock)
    client.review_all()

    second = run(client, state, "r2", items, clock)
    later = run(client, state, "r3", batch((N2, "SEATTLE POLICE"), hash_="h2"), clock)

    for result, key in ((second, "h1:2"), (later, "h2:2")):
        outcome = result.outcomes[key]
        assert (outcome.status, outcome.reason_code) == (
            Status.REJECTED,
            Reason.FLOWROUTE_REJECTED,
        )
        assert outcome.reason == (
            'Flowroute\'s review rejected "SEATTLE POLICE": Misleading: impersonates a public agency.'
        )
    assert writes(client) == (1, 0)


def test_wait_approval_polls_and_associates_in_the_same_run(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock, approve_after=12)

    result = run(client, state, "r1", batch((N1, "ACME")), clock, wait_approval=60)

    assert statuses(result) == [Status.ASSOCIATED]
    # The first poll 1 s after the create, then backing off: decided at 12 s, seen at 15 s.
    assert clock.sleeps == [POLL_FIRST, 2.0, 4.0, 8.0]
    assert client.count("get_cnam") == 4  # one pending record: GET by id beats a listing


def test_wait_approval_gives_up_at_the_deadline(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock, approve_after=3600)

    result = run(client, state, "r1", batch((N1, "ACME")), clock, wait_approval=12)

    assert statuses(result) == [Status.PENDING_APPROVAL]
    assert sum(clock.sleeps) == 12
    assert clock.sleeps == [1.0, 2.0, 4.0, 5.0]  # backing off, the last wait cut to the deadline
    assert max(clock.sleeps) <= POLL_MAX


def test_polling_many_pending_records_lists_the_account_instead(state, clock):
    numbers = [f"1206555{i:04d}" for i in range(300)]
    client = FakeFlowroute(numbers=numbers, clock=clock, approve_after=7)
    items = [item(n, f"NAME {i}", row=i + 2) for i, n in enumerate(numbers)]

    result = run(client, state, "r1", items, clock, wait_approval=10, concurrency=8)

    assert set(statuses(result)) == {Status.ASSOCIATED}
    assert client.count("get_cnam") == 0
    assert clock.sleeps == [1.0, 2.0, 4.0]  # decided at 7 s
    assert client.count("list_cnams") == 1 + 3 * 2  # reconcile (empty), then 3 polls of 2 pages


# ---------------------------------------------------------------------------- carried over


def test_waiting_rows_of_earlier_runs_are_carried_over(state, clock):
    client = FakeFlowroute(numbers=[N1, N2], clock=clock)
    run(client, state, "r1", batch((N1, "ACME")), clock)
    client.review_all()

    second = run(client, state, "r2", [], clock)  # the nightly cron: no new input
    third = run(client, state, "r3", [], clock)

    assert second.outcomes == {}
    assert [(it.key, o.status) for it, o in second.carried_over] == [("h1:2", Status.ASSOCIATED)]
    assert third.carried_over == []


def test_row_in_this_runs_input_is_not_carried_over_twice(state, clock):
    client = FakeFlowroute(numbers=[N1, N2], clock=clock)
    run(client, state, "r1", batch((N1, "ACME"), (N2, "BOB LAW")), clock)

    result = run(client, state, "r2", batch((N1, "ACME")), clock)

    assert list(result.outcomes) == ["h1:2"]
    assert [it.key for it, _ in result.carried_over] == ["h1:3"]


def test_carried_row_superseded_by_a_later_name_for_its_number(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    run(client, state, "r1", batch((N1, "ACME")), clock)
    client.review_all()

    result = run(
        client, state, "r2", batch((N1, "ACME INC"), file="input/b.csv", hash_="h2"), clock
    )

    (old, outcome), *_ = result.carried_over
    assert (outcome.status, outcome.reason_code) == (Status.REJECTED, Reason.NUMBER_CONFLICT)
    assert "input/b.csv row 2" in outcome.reason and '"ACME INC"' in outcome.reason
    assert client.count("associate") == 0  # ACME is approved, but nobody wants it any more


# ---------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("method", "error"),
    [
        ("create_cnam", lambda: ServerError(503, "Service Unavailable", method="POST")),
        ("create_cnam", lambda: TransportError(0, "timeout", method="POST")),
        ("associate", lambda: ServerError(500, "Internal Server Error", method="PATCH")),
    ],
)
def test_failed_rows_are_retried_next_run(state, clock, method, error):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    if method == "associate":
        client.add_record("ACME", "approved")
    client.fail(method, error)
    items = batch((N1, "ACME"))

    first = run(client, state, "r1", items, clock).outcomes["h1:2"]
    client.review_all()
    second = run(client, state, "r2", items, clock).outcomes["h1:2"]

    assert (first.status, first.reason_code) == (Status.FAILED, Reason.API_ERROR)
    assert str(error()) in first.reason and "next run retries" in first.reason
    assert second.status in (Status.PENDING_APPROVAL, Status.ASSOCIATED)
    assert len(client.account.records) == 1


def test_failed_row_is_carried_over_when_its_input_is_gone(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    client.add_record("ACME", "approved")
    client.fail("associate", lambda: ServerError(502, "Bad Gateway", method="PATCH"))
    run(client, state, "r1", batch((N1, "ACME")), clock)

    result = run(client, state, "r2", [], clock)

    assert [(it.key, o.status) for it, o in result.carried_over] == [("h1:2", Status.ASSOCIATED)]


def test_listing_failure_fails_rows_and_creates_nothing(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    client.fail("list_cnams", lambda: ServerError(503, "Service Unavailable", method="GET"))

    result = run(client, state, "r1", batch((N1, "ACME")), clock)

    assert statuses(result) == [Status.FAILED]
    assert "listing the account's CNAM records failed" in result.outcomes["h1:2"].reason
    assert writes(client) == (0, 0)


def test_ambiguous_create_is_resolved_by_the_next_runs_listing(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    client.fail("create_cnam", lambda: AmbiguousWriteError(0, "outcome unknown"), after=True)
    items = batch((N1, "ACME"))

    first = run(client, state, "r1", items, clock).outcomes["h1:2"]
    with Journal(state) as journal:
        assert journal.records()["ACME"].state == "creating"
    second = run(client, state, "r2", items, clock).outcomes["h1:2"]

    assert first.status is Status.FAILED and "unknown outcome" in first.reason
    assert second.status is Status.PENDING_APPROVAL
    assert client.count("create_cnam") == 1 and len(client.account.records) == 1


@pytest.mark.parametrize("method", ["create_cnam", "associate"])
def test_crash_right_after_a_write_loses_no_row_and_duplicates_nothing(state, clock, method):
    client = FakeFlowroute(numbers=[N1, N2], clock=clock)
    client.add_record("BOB LAW", "approved")
    client.fail(method, Crash, after=True)
    items = batch((N1, "ACME"), (N2, "BOB LAW"))
    journal = Journal(state, clock=clock).open()
    with pytest.raises(Crash):
        run_lifecycle(client, journal, "r1", items, clock=clock, sleep=clock.sleep)
    journal.close()  # what the OS does for a dead process: no further writes

    client.review_all()
    result = run(client, state, "r2", items, clock)

    assert statuses(result) == [Status.ASSOCIATED] * 2
    assert sorted(r.value for r in client.account.records.values()) == ["ACME", "BOB LAW"]
    assert client.account.presets.keys() == {N1, N2}


def test_kill_9_after_create_commit_then_rerun(state, tmp_path, clock):
    """A real process dies (os._exit) right after the server created the record."""
    account_file = tmp_path / "account.pickle"
    FakeAccount(listed={N1, N2}).save(account_file)
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from fakes import FakeAccount, FakeFlowroute
        from pipeline.journal.store import Journal
        from pipeline.lifecycle.engine import WorkItem, run_lifecycle
        account = FakeAccount.load(__import__("pathlib").Path({str(account_file)!r}))
        client = FakeFlowroute(account)
        def die():
            account.save(__import__("pathlib").Path({str(account_file)!r}))
            os._exit(9)
        client.fail("create_cnam", die, after=True)
        items = [WorkItem("h1:2", "a.csv", 2, "n", "n", {N1!r}, "ACME"),
                 WorkItem("h1:3", "a.csv", 3, "n", "n", {N2!r}, "ACME")]
        run_lifecycle(client, Journal({str(state)!r}).open(), "r1", items, concurrency=1)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=60)
    assert proc.returncode == 9

    client = FakeFlowroute(FakeAccount.load(account_file), clock=clock)
    assert len(client.account.records) == 1  # it did get created before the "crash"
    with Journal(state) as journal:
        assert journal.records()["ACME"].state == "creating"  # the intent, without result
    client.review_all()
    items = batch((N1, "ACME"), (N2, "ACME"))
    result = run(client, state, "r2", items, clock)

    assert statuses(result) == [Status.ASSOCIATED] * 2
    assert client.count("create_cnam") == 0 and len(client.account.records) == 1


@pytest.mark.parametrize("fatal", [CredentialsError, ApiUnreachableError, RuntimeLimitError])
def test_fatal_errors_end_the_pass_keeping_every_decision_made(state, clock, fatal):
    client = FakeFlowroute(numbers=[N1, N2], clock=clock)
    client.add_record("ACME", "approved")
    client.fail("associate", lambda: fatal("the API refused"), match=lambda a: a[0] == N2)
    items = batch((N1, "ACME"), (N2, "ACME"))

    stopped = run(client, state, "r1", items, clock, concurrency=1)
    with Journal(state) as journal:
        kept = {r.item.key: r.state.state for r in journal.rows_in_states(["associated", "new"])}
    result = run(client, state, "r2", items, clock)

    assert isinstance(stopped.fatal, fatal)
    # The row done before the stop stays associated; the other says why and stays open.
    assert statuses(stopped) == [Status.ASSOCIATED, Status.FAILED]
    assert stopped.outcomes["h1:3"].reason.endswith("the next run retries it")
    assert kept == {"h1:2": "associated", "h1:3": "new"}
    assert statuses(result) == [Status.ASSOCIATED] * 2
    assert client.count("associate") == 3  # N1 once, N2 twice (refused, then done)


# ---------------------------------------------------------------------------- fan-out


def test_many_rows_fan_out_and_create_each_value_once(state, clock):
    numbers = [f"1206555{i:04d}" for i in range(60)]
    client = FakeFlowroute(numbers=numbers, clock=clock)
    items = [item(n, f"NAME {i % 7}", row=i + 2) for i, n in enumerate(numbers)]
    seen: list[tuple[int, int, str]] = []

    run(client, state, "r1", items, clock, concurrency=8, progress=lambda *a: seen.append(a))
    client.review_all()
    result = run(client, state, "r2", items, clock, concurrency=8)

    assert set(statuses(result)) == {Status.ASSOCIATED}
    assert writes(client) == (7, 60)
    assert seen and all(total == 60 and done <= total for done, total, _ in seen)
    assert {phase for *_, phase in seen} >= {"create"}


def failed_runs(state: Path, clock: FakeClock) -> dict[str, int]:
    with Journal(state, clock=clock) as journal:
        return {r.item.key: r.state.failed_runs for r in journal.rows_in_states(
            ["failed", "gave_up", "associated", "pending_approval"])}  # fmt: skip


def test_failed_runs_count_in_a_row_and_start_over_after_any_other_outcome(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    client.add_record("ACME", "approved")
    bad_gateway = lambda: ServerError(502, "Bad Gateway", method="PATCH")  # noqa: E731
    client.fail("associate", bad_gateway, times=2)
    items = batch((N1, "ACME"))
    run(client, state, "r1", items, clock, give_up_after=3)
    run(client, state, "r2", [], clock, give_up_after=3)
    assert failed_runs(state, clock) == {"h1:2": 2}

    third = run(client, state, "r3", [], clock, give_up_after=3)  # the PATCH goes through

    assert [o.status for _, o in third.carried_over] == [Status.ASSOCIATED]
    assert failed_runs(state, clock) == {"h1:2": 0}


def test_give_up_after_zero_never_gives_up(state, clock):
    client = FakeFlowroute(numbers=[N1], clock=clock)
    client.add_record("ACME", "approved")
    client.fail("associate", lambda: ServerError(502, "Bad Gateway", method="PATCH"), times=9)
    run(client, state, "r1", batch((N1, "ACME")), clock, give_up_after=0)
    results = [run(client, state, f"r{n}", [], clock, give_up_after=0) for n in range(2, 8)]
    assert all(
        not o.gave_up and o.status is Status.FAILED for r in results for _, o in r.carried_over
    )
    assert client.count("associate") == 7
    assert failed_runs(state, clock) == {"h1:2": 7}
