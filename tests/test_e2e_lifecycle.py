"""End to end: `cnam-batch run` (pipeline.cli.app.main, in-process) against the real sandbox over loopback.

Each test starts its own sandbox with a controllable review clock, runs the program with the
sandbox's URL and keys in the environment, and checks the exit code, the run folder (report.csv,
carried_over.csv, summary.json), the journal (`status --json`) and what the sandbox saw (its request
log and its account).
"""

from __future__ import annotations

import base64
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_util import (
    Harness,
    SandboxHttp,
    account_records,
    account_values,
    creates,
    patched_number,
    patches,
    patches_per_number,
    phone_numbers,
    preset_of,
    write_input,
)
from fakes import FakeClock

from pipeline.sandbox.control import FaultConfig
from pipeline.sandbox.server import SandboxConfig, SandboxServer

HOUR = 3600.0
NOT_OWNED = "2065550142"  # the open sandbox account does not own NXX-555-01XX


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())  # records are dated "now": nothing is stale


@pytest.fixture
def server(clock: FakeClock, request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    config = getattr(request, "param", None) or SandboxConfig(approve_after=600)
    with SandboxServer(config, clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def harness(server: SandboxServer, tmp_path: Path) -> Harness:
    return Harness(server, tmp_path)


def rows_for(names: list[str]) -> list[tuple[str, str]]:
    """(number, name) input rows, one distinct owned number per name."""
    return list(zip(phone_numbers(len(names)), names, strict=True))


# ------------------------------------------------------------------------------------------ 1
def test_three_runs_create_once_then_associate_then_send_nothing(harness, server, clock, tmp_path):
    nums = phone_numbers(6)
    names = [
        "Acme Plumbing",
        "  acme   PLUMBING ",
        "ACME PLUMBING",
        "Bob Law",
        "bob law",
        "City Deli",
    ]
    source = write_input(tmp_path / "customers.csv", zip(nums, names, strict=True))

    first = harness.run(source)

    assert first.code == 0, first.stderr
    assert first.statuses() == ["pending_approval"] * 6
    assert sorted(e.status for e in creates(first.log)) == [201] * 3  # one per unique name
    assert account_values(server) == ["ACME PLUMBING", "BOB LAW", "CITY DELI"]
    assert first.summary()["api"]["creates"] == 3
    assert patches(first.log) == []
    ids = {r["name"]: r["cnam_id"] for r in first.report()}
    assert {r.value: str(r.id) for r in account_records(server)} == ids
    status = harness.status()
    assert status["rows"] == {"pending_approval": 6}
    assert sorted(r["source_row"] for r in status["waiting"]) == [2, 3, 4, 5, 6, 7]

    clock.now += HOUR  # the review approves all three
    second = harness.run(source)

    assert second.code == 0, second.stderr
    assert second.statuses() == ["associated"] * 6
    assert [r["cnam_id"] for r in second.report()] == [r["cnam_id"] for r in first.report()]
    assert creates(second.log) == []
    assert patches_per_number(second.log) == Counter({f"1{n}": 1 for n in nums})
    assert all(e.status == 202 for e in patches(second.log))
    for number, row in zip(nums, second.report(), strict=True):
        assert preset_of(server, f"1{number}") == row["name"]
    assert second.summary()["api"]["associations"] == 6

    third = harness.run(source)

    assert third.code == 0, third.stderr
    assert third.statuses() == ["associated"] * 6
    assert [r["cnam_id"] for r in third.report()] == [r["cnam_id"] for r in first.report()]
    assert creates(third.log) == [] and patches(third.log) == []
    assert third.summary()["api"]["creates"] == third.summary()["api"]["associations"] == 0
    assert harness.status()["rows"] == {"associated": 6}
    assert harness.status()["waiting"] == []


def test_run_without_input_advances_earlier_pending_rows_into_carried_over(
    harness, server, clock, tmp_path
):
    nums = phone_numbers(3)
    source = write_input(
        tmp_path / "a.csv", rows_for(["ACME PLUMBING", "ACME PLUMBING", "BOB LAW"])
    )
    assert harness.run(source).code == 0

    before_review = harness.run()

    assert before_review.code == 0, before_review.stderr
    assert before_review.report() == []
    assert [r["status"] for r in before_review.carried()] == ["pending_approval"] * 3
    assert creates(before_review.log) == []

    clock.now += HOUR
    nightly = harness.run()

    assert nightly.code == 0, nightly.stderr
    assert nightly.report() == []
    carried = nightly.carried()
    assert [(r["source_row"], r["number"], r["status"]) for r in carried] == [
        ("2", f"1{nums[0]}", "associated"),
        ("3", f"1{nums[1]}", "associated"),
        ("4", f"1{nums[2]}", "associated"),
    ]
    assert all(r["cnam_id"] for r in carried)
    assert nightly.summary()["carried_over"] == 3
    assert sorted(patches_per_number(nightly.log).values()) == [1, 1, 1]
    assert harness.status()["waiting"] == []

    quiet = harness.run()
    assert quiet.carried() == [] and patches(quiet.log) == []


# ------------------------------------------------------------------------------------------ 2
def test_name_rejected_by_review_quotes_its_reason_and_is_not_created_again(
    harness, server, clock, tmp_path
):
    nums = phone_numbers(3)
    source = write_input(
        tmp_path / "a.csv", rows_for(["Wireless Caller", "WIRELESS CALLER", "Acme Plumbing"])
    )
    assert harness.run(source).statuses() == ["pending_approval"] * 3

    clock.now += HOUR
    second = harness.run(source)

    verdict = {r.value: r.rejection_reason for r in account_records(server)}["WIRELESS CALLER"]
    assert verdict  # the sandbox's own words
    rows = second.report()
    assert second.code == 0, second.stderr
    assert [(r["status"], r["reason_code"]) for r in rows] == [
        ("rejected", "flowroute_rejected"),
        ("rejected", "flowroute_rejected"),
        ("associated", ""),
    ]
    assert verdict in rows[0]["reason"] and verdict in rows[1]["reason"]
    assert patches_per_number(second.log) == Counter({f"1{nums[2]}": 1})

    third = harness.run(source)

    assert creates(third.log) == [] and patches(third.log) == []
    assert [r["status"] for r in third.report()] == ["rejected", "rejected", "associated"]
    assert verdict in third.report()[0]["reason"]
    assert account_values(server) == ["ACME PLUMBING", "WIRELESS CALLER"]


# ------------------------------------------------------------------------------------------ 3
def test_record_already_on_the_account_is_reused_and_a_lost_journal_creates_no_duplicate(
    harness, server, clock, tmp_path
):
    portal = SandboxHttp(server)
    existing = portal.create("ACME PLUMBING")  # made outside cnam-batch, before its first run
    source = write_input(
        tmp_path / "a.csv", rows_for(["Acme Plumbing", "Bob Law", "acme plumbing"])
    )

    first = harness.run(source)

    assert first.code == 0, first.stderr
    assert len(creates(first.log)) == 1  # BOB LAW only
    assert [r["cnam_id"] for r in first.report()][::2] == [existing, existing]
    assert account_values(server) == ["ACME PLUMBING", "BOB LAW"]

    harness.forget_journal()
    again = harness.run(source)

    assert again.code == 0, again.stderr
    assert creates(again.log) == []
    assert again.statuses() == ["pending_approval"] * 3
    assert account_values(server) == ["ACME PLUMBING", "BOB LAW"]

    clock.now += HOUR
    harness.forget_journal()
    done = harness.run(source)

    assert done.code == 0, done.stderr
    assert done.statuses() == ["associated"] * 3
    assert creates(done.log) == []
    assert account_values(server) == ["ACME PLUMBING", "BOB LAW"]
    assert done.report()[0]["cnam_id"] == existing

    harness.forget_journal()  # lost once more, after the associations were made
    after = harness.run(source)

    assert after.code == 0, after.stderr
    assert creates(after.log) == [] and patches(after.log) == []
    assert after.statuses() == ["already_set"] * 3
    assert account_values(server) == ["ACME PLUMBING", "BOB LAW"]
    portal.close()


# ------------------------------------------------------------------------------------------ 4
OWNED = {f"1{n}" for n in phone_numbers(4)}


@pytest.mark.parametrize(
    ("server", "outsider"),
    [
        (SandboxConfig(approve_after=600), NOT_OWNED),  # open account: 555-01XX is not owned
        (SandboxConfig(approve_after=600, numbers=OWNED), "2064569999"),  # a listed account
    ],
    indirect=["server"],
    ids=["open-account-555-01xx", "numbers-file"],
)
def test_number_not_on_the_account_is_rejected(harness, server, tmp_path, outsider):
    nums = phone_numbers(2)
    source = write_input(tmp_path / "a.csv", [(nums[0], "ACME PLUMBING"), (outsider, "BOB LAW")])

    result = harness.run(source)

    rows = result.report()
    assert result.code == 0, result.stderr
    assert rows[0]["status"] == "pending_approval"
    assert (rows[1]["status"], rows[1]["reason_code"]) == ("rejected", "number_not_on_account")
    assert f"1{outsider}" in rows[1]["reason"]
    assert account_values(server) == ["ACME PLUMBING"]  # no record for a number it cannot use


@pytest.mark.parametrize(
    "server",
    [SandboxConfig(approve_after=600), SandboxConfig(approve_after=600, numbers=OWNED)],
    indirect=True,
    ids=["open-account", "numbers-file"],
)
def test_number_that_already_carries_the_record_is_already_set_without_a_patch(
    harness, server, clock, tmp_path
):
    portal = SandboxHttp(server)
    cnam_id = portal.create("ACME PLUMBING")
    clock.now += HOUR  # approved
    preset, fresh = phone_numbers(2)
    portal.associate(f"1{preset}", cnam_id)  # set on the portal before cnam-batch ever ran
    source = write_input(tmp_path / "a.csv", [(preset, "Acme Plumbing"), (fresh, "Acme Plumbing")])

    result = harness.run(source)

    rows = result.report()
    assert result.code == 0, result.stderr
    assert (rows[0]["status"], rows[0]["cnam_id"]) == ("already_set", cnam_id)
    assert (rows[1]["status"], rows[1]["cnam_id"]) == ("associated", cnam_id)
    assert patches_per_number(result.log) == Counter({f"1{fresh}": 1})
    assert creates(result.log) == []
    portal.close()


# ------------------------------------------------------------------------------------------ 5
@pytest.mark.slow
@pytest.mark.parametrize(
    "server", [SandboxConfig(approve_after=600, rate_limit=5)], indirect=True, ids=["5/s"]
)
def test_429_storm_still_gives_every_row_a_status_and_no_duplicate(harness, server, tmp_path):
    nums = phone_numbers(16)
    names = [f"SHOP {i % 8} CO" for i in range(16)]
    source = write_input(tmp_path / "a.csv", zip(nums, names, strict=True))

    result = harness.run(source, rate_limit=20)

    assert result.code in (0, 1), result.stderr
    statuses = result.statuses()
    assert len(statuses) == 16 and all(statuses)
    assert set(statuses) == {"pending_approval"}  # a 429 is sent again, never a failed row
    assert result.summary()["api"]["rate_limited"] > 0
    assert sum(e.status == 429 for e in result.log) > 0
    assert Counter(account_values(server)).most_common(1)[0][1] == 1
    assert set(account_values(server)) <= set(names)


# ------------------------------------------------------------------------------------------ 6
FAULTS = FaultConfig(
    seed=20240607,
    error_rate=0.1,
    after_commit_rate=0.1,
    drop_rate=0.1,
    drop_after_commit_rate=0.1,
    operations=frozenset({"create_cnam", "associate"}),
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "server", [SandboxConfig(approve_after=0, faults=FAULTS)], indirect=True, ids=["faults"]
)
def test_injected_faults_converge_with_one_record_per_name(harness, server, tmp_path):
    nums = phone_numbers(24)
    names = [f"SHOP {i % 10} CO" for i in range(24)]
    source = write_input(tmp_path / "a.csv", zip(nums, names, strict=True))

    runs = []
    for _ in range(6):  # bounded: failed rows are retried by the next run
        runs.append(harness.run(source))
        if set(runs[-1].statuses()) == {"associated"}:
            break

    final = runs[-1]
    assert final.code == 0, final.stderr
    assert final.statuses() == ["associated"] * 24
    assert len(runs) <= 4
    assert account_values(server) == sorted(set(names))  # exactly one record per name
    for number, name in zip(nums, names, strict=True):
        assert preset_of(server, f"1{number}") == name
    faults = Counter(e.fault for e in server.log if e.fault)
    assert any(e.fault for e in creates(server.log))  # the seed hit creates
    assert any(e.fault for e in patches(server.log))  # and associations
    # Associations are idempotent, so after an ambiguous answer (committed, then 500 or dropped)
    # resending is acceptable; after a clean 202 for a number, no further PATCH may follow.
    by_number: dict[str, list] = {}
    for entry in patches(server.log):
        by_number.setdefault(patched_number(entry), []).append(entry)
    for number, sent in by_number.items():
        clean = [i for i, e in enumerate(sent) if e.status == 202 and e.fault is None]
        assert clean and clean[0] == len(sent) - 1, (number, sent)
    resent = {n: len(s) for n, s in by_number.items() if len(s) > 1}
    print(f"faults {dict(faults)}; runs {len(runs)}; numbers with a re-sent PATCH {resent}")


# ------------------------------------------------------------------------------------------ 7
@pytest.mark.slow
@pytest.mark.parametrize(
    "server", [SandboxConfig(approve_after=600, rate_limit=None)], indirect=True, ids=["no-limit"]
)
def test_client_rate_limit_holds_in_every_one_second_window_at_the_server(
    harness, server, tmp_path
):
    nums = phone_numbers(60)  # 60 creates (the listing shows the numbers: no lookups)
    source = write_input(tmp_path / "a.csv", ((n, f"SHOP {i} CO") for i, n in enumerate(nums)))

    result = harness.run(source, rate_limit=10)

    assert result.code == 0, result.stderr
    times = sorted(e.time for e in result.log)
    assert len(times) >= 60
    busiest = max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))
    assert busiest <= 10
    span = times[-1] - times[0]
    print(f"{len(times)} requests in {span:.2f} s; busiest one-second window {busiest}")


# ------------------------------------------------------------------------------------------ 8
def test_wrong_credentials_exit_3_after_at_most_two_requests(server, tmp_path):
    harness = Harness(server, tmp_path, secret_key="not-the-secret")
    source = write_input(tmp_path / "a.csv", [(phone_numbers(1)[0], "ACME PLUMBING")])

    result = harness.run(source)

    assert result.code == 3
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("cnam-batch: error:")]
    assert len(lines) == 1 and "credentials" in lines[0]
    assert len(server.log) <= 2
    assert {e.status for e in server.log} == {401}
    assert account_values(server) == []


# ------------------------------------------------------------------------------------------ 9
ACCESS = "AKzq81Xv93Lm"
SECRET = "SKw7Tq2Pz9Hk4Rb6"
WRONG = "SKnotit5Yd3Cv8Ne"


def _leaks(blob: bytes) -> list[str]:
    tokens = [ACCESS, SECRET, WRONG]
    for secret in (SECRET, WRONG):
        tokens.append(base64.b64encode(f"{ACCESS}:{secret}".encode()).decode())
    return [t for t in tokens if t.encode() in blob]


def _files_written(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(tmp_path.rglob("*")):
        if not path.is_file() or path.suffix == ".csv" and path.parent == tmp_path:
            continue  # (the test's own input)
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                for member in book.namelist():
                    yield f"{path.name}:{member}", book.read(member)
        else:
            yield str(path.relative_to(tmp_path)), path.read_bytes()


@pytest.mark.parametrize(
    "server",
    [
        SandboxConfig(
            access_key=ACCESS,
            secret_key=SECRET,
            approve_after=0,
            faults=FaultConfig(seed=3, error_rate=0.25, drop_rate=0.15,
                               operations=frozenset({"create_cnam", "associate"})),
        )
    ],
    indirect=True,
    ids=["faults"],
)  # fmt: skip
def test_secrets_appear_in_no_output_report_log_or_journal(server, tmp_path):
    source = write_input(tmp_path / "a.csv", rows_for(["ACME PLUMBING", "BOB LAW"] * 3))
    wrong = Harness(server, tmp_path, access_key=ACCESS, secret_key=WRONG)
    right = Harness(server, tmp_path, access_key=ACCESS, secret_key=SECRET)

    refused = wrong.run(source, "--verbose")  # the 401 path, with tracebacks on
    runs = [right.run(source, "--verbose") for _ in range(3)]  # retries, creates, associations

    assert refused.code == 3
    assert runs[-1].statuses() == ["associated"] * 6
    assert sum(e.fault is not None for e in server.log) > 0  # the retry path was taken
    assert sum(r.summary()["api"]["retries"] for r in runs) > 0
    streams = [(f"run {i} {name}", text.encode())
               for i, r in enumerate([refused, *runs]) for name, text in
               (("stdout", r.stdout), ("stderr", r.stderr))]  # fmt: skip
    written = list(_files_written(tmp_path))
    names = {name.rsplit("/", 1)[-1].split(":")[0] for name, _ in written}
    assert {"run.log", "report.csv", "summary.json", "carried_over.csv", "report.xlsx"} <= names
    assert {"state.sqlite"} <= names
    assert [(name, _leaks(blob)) for name, blob in streams + written if _leaks(blob)] == []
