"""End to end across runs: the order of carried-over rows, and rows that fail the same way run
after run (`--give-up-after`, `--retry-failed`), against the real sandbox over loopback."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from e2e_util import Harness, creates, phone_numbers, write_input
from fakes import FakeClock

from pipeline.sandbox.control import FaultConfig
from pipeline.sandbox.server import SandboxConfig, SandboxServer

HOUR = 3600.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def server(clock: FakeClock, request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    config = getattr(request, "param", None) or SandboxConfig(approve_after=600)
    with SandboxServer(config, clock=clock) as sandbox:
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


# ---------------------------------------------------------------------------- --give-up-after
REFUSED = "REFUSED CO"  # the sandbox answers 422 to every create of it, and no listing shows it
GIVE_UP_FAULTS = FaultConfig(seed=7, refuse_values=frozenset({REFUSED}))


def refused_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["name"] == REFUSED]


def same(reason: str) -> str:
    """A reason without the per-answer error id, to compare across runs."""
    return re.sub(r" \(error id [0-9a-f-]+\)", "", reason)


@pytest.mark.parametrize(
    "server", [SandboxConfig(approve_after=0, faults=GIVE_UP_FAULTS)], indirect=True
)
def test_a_row_refused_run_after_run_is_given_up_then_retried_on_request(harness, server, tmp_path):
    source = write_input(
        tmp_path / "a.csv",
        zip(phone_numbers(3), ["ACME PLUMBING", REFUSED, "BOB LAW"], strict=True),
    )
    give_up = ("--give-up-after", "3")

    first = harness.run(source, *give_up)
    assert first.code == 1, first.stderr
    refused = first.report()[1]
    assert refused["status"] == "failed" and refused["reason_code"] == "api_error"
    assert refused["reason"].endswith("; the next run retries this row")
    assert len(creates(first.log)) == 3

    second = harness.run(*give_up)  # nightly runs: the carried-over rows
    assert second.code == 1
    assert [r["status"] for r in second.carried()] == ["associated", "failed", "associated"]
    assert same(refused_rows(second.carried())[0]["reason"]) == same(refused["reason"])
    assert len(creates(second.log)) == 1

    third = harness.run(*give_up)
    assert third.code == 1
    (given_up,) = third.carried()
    assert given_up["status"] == "failed" and given_up["reason_code"] == "api_error"
    assert same(given_up["reason"]) == (
        "gave up after 3 runs: "
        + same(refused["reason"]).removesuffix("; the next run retries this row")
        + "; --retry-failed sends it again"
    )
    assert len(creates(third.log)) == 1
    assert (first.summary()["given_up"], third.summary()["given_up"]) == (0, 1)
    status = harness.status()
    assert status["failed"] == []
    assert [(r["name"], r["source_row"], r["failed_runs"]) for r in status["gave_up"]] == [
        (REFUSED, 3, 3)
    ]
    assert status["gave_up"][0]["reason"] == given_up["reason"]
    text = harness.main(["status", "--state", str(harness.state)]).stdout
    assert "given up (failed in --give-up-after runs in a row" in text and REFUSED in text

    quiet = harness.run(*give_up)  # nothing left to send: no call for the row, exit 0
    assert quiet.code == 0, quiet.stderr
    assert quiet.carried() == [] and creates(quiet.log) == []

    again = harness.run(source, *give_up)  # the same file again: reported, still not sent
    assert again.code == 1
    assert [r["status"] for r in again.report()] == ["associated", "failed", "associated"]
    assert again.report()[1]["reason"] == given_up["reason"]
    assert creates(again.log) == []

    retried = harness.run("--retry-failed", *give_up)
    assert retried.code == 1
    assert len(creates(retried.log)) == 1  # sent again
    (row,) = retried.carried()
    assert row["status"] == "failed" and same(row["reason"]) == same(refused["reason"])
    status = harness.status()
    assert status["gave_up"] == [] and [r["name"] for r in status["failed"]] == [REFUSED]
    assert status["rows"] == {"associated": 2, "failed": 1}


@pytest.mark.parametrize(
    "server", [SandboxConfig(approve_after=0, faults=GIVE_UP_FAULTS)], indirect=True
)
def test_the_default_is_five_runs_and_toml_sets_it(harness, server, tmp_path):
    source = write_input(tmp_path / "a.csv", [(phone_numbers(1)[0], REFUSED)])
    runs = [harness.run(source)] + [harness.run() for _ in range(4)]
    reasons = [r.report()[0]["reason"] for r in runs[:1]] + [
        r.carried()[0]["reason"] for r in runs[1:]
    ]
    assert [reason.startswith("gave up after") for reason in reasons] == [False] * 4 + [True]
    assert reasons[-1].startswith("gave up after 5 runs: ")

    config = tmp_path / "cnam.toml"
    config.write_text("give_up_after = 0\nretry_failed = true\n", encoding="utf-8")
    never = [harness.run("--config", str(config)) for _ in range(3)]
    assert [len(creates(r.log)) for r in never] == [1, 1, 1]
    assert not any(r.carried()[0]["reason"].startswith("gave up") for r in never)


FLAKY = FaultConfig(
    seed=20261202,
    error_rate=0.2,
    drop_rate=0.1,
    operations=frozenset({"create_cnam", "associate"}),
    refuse_values=frozenset({REFUSED}),
)


@pytest.mark.slow
@pytest.mark.parametrize("server", [SandboxConfig(approve_after=0, faults=FLAKY)], indirect=True)
def test_transient_faults_never_give_a_row_up_but_a_refused_value_is(harness, server, tmp_path):
    names = [f"SHOP {chr(65 + i)} CO" for i in range(7)] + [REFUSED]
    source = write_input(tmp_path / "a.csv", zip(phone_numbers(8), names, strict=True))
    runs = [harness.run(source, "--give-up-after", "3")]
    runs += [harness.run("--give-up-after", "3") for _ in range(4)]

    faults = [e.fault for r in runs for e in r.log if e.fault]
    assert faults, "the seed must inject some faults"
    status = harness.status()
    assert status["rows"] == {"associated": 7, "gave_up": 1}, status["rows"]
    assert [r["name"] for r in status["gave_up"]] == [REFUSED]
    assert runs[-1].code == 0 and creates(runs[-1].log) == []
