"""End to end: giving up cleanly. `cnam-batch run` (in-process) against the real sandbox over loopback
when nothing answers at start, when the API fails mid-run (the sandbox's outage switch), when the
keys are refused mid-run, at --max-runtime, and with a bad --api-url; then the next run finishes.

Budgets are small (`--outage-budget 1`, `--max-runtime 1s`) so each test takes seconds; the
production defaults (120 s, none) are the same code with larger numbers.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_util import (
    Harness,
    account_values,
    creates,
    patches,
    patches_per_number,
    phone_numbers,
    wait_for,
    write_input,
)
from fakes import FakeClock
from smtp_server import Handler, smtp_server

from pipeline.sandbox.control import OUTAGE, OutageConfig
from pipeline.sandbox.server import SandboxConfig, SandboxServer

HOUR = 3600.0
ROWS = 30
NUMBERS = phone_numbers(ROWS)
NAMES = [f"SHOP {i} CO" for i in range(ROWS)]
OWNED = {f"1{n}" for n in NUMBERS}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def server(clock: FakeClock, request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    config = getattr(request, "param", None) or SandboxConfig(approve_after=600, numbers=OWNED)
    with SandboxServer(config, clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_input(tmp_path / "customers.csv", zip(NUMBERS, NAMES, strict=True))


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("cnam-batch: error:")]


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bound_api(state: Path) -> str | None:
    if not state.exists():
        return None
    with sqlite3.connect(state) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'api'").fetchone()
    return None if row is None else str(row[0])


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - start


# ------------------------------------------------------------------------------ nothing answers
def test_nothing_listening_at_start_exits_3_within_seconds_naming_the_url(server, source, tmp_path):
    harness = Harness(server, tmp_path)
    url = f"http://127.0.0.1:{free_port()}"

    result, elapsed = timed(harness.run, source, "--api-url", url)

    assert result.code == 3, result.stderr
    [line] = error_lines(result.stderr)
    assert url in line and "--api-url" in line and "connection refused" in line.lower(), line
    assert elapsed < 5, elapsed
    assert set(result.statuses()) == {"failed"} and len(result.report()) == ROWS
    assert result.summary()["exit_code"] == 3
    assert bound_api(harness.state) is None  # the refused URL is not remembered
    print(f"refused URL: exit 3 after {elapsed:.2f} s")

    fine = harness.run(source)  # the right URL afterwards: the journal takes it

    assert fine.code == 0, fine.stderr
    assert bound_api(harness.state) == server.url


def test_a_listener_that_never_answers_at_start_exits_3_within_seconds(server, source, tmp_path):
    harness = Harness(server, tmp_path)
    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        result, elapsed = timed(harness.run, source, "--api-url", url, "--request-timeout", "1")

    assert result.code == 3, result.stderr
    [line] = error_lines(result.stderr)
    assert url in line and "no answer within 1 s" in line, line
    assert elapsed < 6, elapsed  # two tries of the first request, then it stops
    assert bound_api(harness.state) is None
    print(f"silent listener: exit 3 after {elapsed:.2f} s")


def test_tls_against_a_plain_server_exits_3_at_once(server, source, tmp_path):
    harness = Harness(server, tmp_path)
    url = server.url.replace("http://", "https://")

    result, elapsed = timed(harness.run, source, "--api-url", url)

    assert result.code == 3, result.stderr
    [line] = error_lines(result.stderr)
    assert url in line
    assert elapsed < 5
    assert len(server.log) <= 1  # a handshake the server did not understand, not retried
    assert bound_api(harness.state) is None


# ------------------------------------------------------------------------------ outage mid-run
@pytest.mark.parametrize(
    "server",
    [
        SandboxConfig(approve_after=600, numbers=OWNED, outage=OutageConfig(12, mode="503")),
        SandboxConfig(approve_after=600, numbers=OWNED, outage=OutageConfig(12, mode="drop")),
        SandboxConfig(approve_after=600, numbers=OWNED, outage=OutageConfig(12, mode="500")),
    ],
    indirect=True,
    ids=["503", "drop", "500"],
)
def test_outage_mid_run_stops_sending_reports_every_row_and_the_next_run_finishes(
    server, clock, source, tmp_path
):
    harness = Harness(server, tmp_path)

    result, elapsed = timed(harness.run, source, "--outage-budget", "1")

    assert result.code == 3, result.stderr
    [line] = error_lines(result.stderr)
    assert "did not answer" in line and server.url in line, line
    rows = result.report()
    assert [int(r["source_row"]) for r in rows] == list(range(2, ROWS + 2))  # every row
    assert set(result.statuses()) <= {"pending_approval", "failed"}
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed and all(r["reason"].endswith("the next run retries it") for r in failed)
    assert any("Flowroute did not answer" in r["reason"] for r in failed)
    during = [e for e in result.log if e.fault == OUTAGE]
    assert elapsed < 10, elapsed  # 1 s of outage budget, then it stops
    assert len(during) < 60, len(during)  # it stopped sending: no retry storm
    stopped_at = max(e.time for e in result.log)
    print(f"outage: stopped after {elapsed:.2f} s, {len(during)} requests into the outage")

    server.outage.end()  # the API is back
    again = harness.run(source)

    assert again.code == 0, again.stderr
    assert set(again.statuses()) == {"pending_approval"}
    assert account_values(server) == sorted(NAMES)  # one record per name: no duplicate
    assert min(e.time for e in again.log) > stopped_at

    clock.now += HOUR
    done = harness.run(source)

    assert done.code == 0, done.stderr
    assert set(done.statuses()) == {"associated"}
    assert set(patches_per_number(server.log).values()) == {1}


def test_nothing_listening_mid_run_stops_the_run_and_the_next_run_finishes(clock, source, tmp_path):
    state_file = tmp_path / "sandbox.jsonl"  # the account outlives the server
    config = SandboxConfig(
        access_key="AK12345678", secret_key="SKabcdefgh12345678", approve_after=600,
        numbers=OWNED, state_file=state_file,
    )  # fmt: skip
    first = SandboxServer(config, clock=clock)
    first.start()
    harness = Harness(first, tmp_path, rate_limit=20)
    # The API host goes away (nothing listens on its port) after a dozen requests.
    killer = threading.Thread(
        target=lambda: wait_for(lambda: len(first.log) >= 12, 30) and first.stop()
    )
    killer.start()
    try:
        result, elapsed = timed(harness.run, source, "--outage-budget", "1")
    finally:
        killer.join(30)
        first.stop()

    assert result.code == 3, result.stderr
    [line] = error_lines(result.stderr)
    assert "did not answer" in line and first.url in line, line
    assert len(result.report()) == ROWS and "failed" in result.statuses()
    assert elapsed < 10, elapsed

    port = int(first.url.rsplit(":", 1)[1])
    with SandboxServer(config, clock=clock, port=port) as back:  # the same address, back up
        harness.server = back
        again = harness.run(source)

        assert again.code == 0, again.stderr
        assert set(again.statuses()) == {"pending_approval"}
        assert account_values(back) == sorted(NAMES)  # each name once: nothing created twice
    print(f"nothing listening mid-run: stopped after {elapsed:.2f} s")


def test_credentials_refused_mid_run_keep_every_association_made(server, clock, source, tmp_path):
    harness = Harness(server, tmp_path)
    assert harness.run(source).code == 0  # records created, pending
    clock.now += HOUR  # approved
    server.outage.config = OutageConfig(after_requests=len(server.log) + 15, mode="401")

    result = harness.run(source, "--concurrency", "1")

    assert result.code == 3, result.stderr
    [line] = error_lines(result.stderr)
    assert "credentials" in line
    rows = result.report()
    done = {e.path.split("/")[3] for e in patches(result.log) if e.status == 202}
    associated = {"1" + r["number"][-10:] for r in rows if r["status"] == "associated"}
    assert done and associated == done  # every association made is reported as made
    assert len(done) < ROWS
    others = [r for r in rows if r["status"] != "associated"]
    assert {r["status"] for r in others} == {"failed"}
    assert all("refused the credentials" in r["reason"] for r in others)
    assert harness.status()["rows"]["associated"] == len(done)

    server.outage.end()
    again = harness.run(source)

    assert again.code == 0, again.stderr
    assert set(again.statuses()) == {"associated"}
    accepted = [e for e in server.log if e.status == 202]
    assert set(patches_per_number(accepted).values()) == {1}  # none made twice
    assert len(patches_per_number(accepted)) == ROWS


# ------------------------------------------------------------------------------ --max-runtime
def test_max_runtime_stops_starting_calls_and_unfinished_rows_wait_for_the_next_run(
    server, source, tmp_path
):
    harness = Harness(server, tmp_path, rate_limit=10)  # 30 creates take about 3 s

    result, elapsed = timed(harness.run, source, "--max-runtime", "1s")

    assert result.code == 1, result.stderr
    [line] = error_lines(result.stderr)
    assert "--max-runtime 1 s reached" in line
    assert elapsed < 4, elapsed
    statuses = result.statuses()
    assert len(statuses) == ROWS and set(statuses) == {"pending_approval", "failed"}
    waiting = [r for r in result.report() if r["status"] == "failed"]
    assert all("--max-runtime" in r["reason"] for r in waiting)
    assert result.summary()["exit_code"] == 1
    created = len(account_values(server))
    assert created == statuses.count("pending_approval")
    assert harness.status()["rows"].get("new") == len(waiting)  # open, not lost, not "failed"

    again = harness.run(source)

    assert again.code == 0, again.stderr
    assert set(again.statuses()) == {"pending_approval"}
    assert account_values(server) == sorted(NAMES)
    assert len(creates(again.log)) == ROWS - created


def test_max_runtime_and_a_failed_email_exit_5_and_say_both(server, source, tmp_path):
    harness = Harness(server, tmp_path, rate_limit=10)
    with smtp_server(Handler(replies=["550 5.7.1 no relay"])) as (port, _):
        smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}
        harness.environ = lambda: {**Harness.environ(harness), **smtp}  # type: ignore[method-assign]

        result = harness.run(source, "--max-runtime", "1s", "--email-to", "ops@example.com")

    assert result.code == 5, result.stderr
    assert result.summary()["exit_code"] == 5
    lines = error_lines(result.stderr)
    assert any("--max-runtime" in ln for ln in lines) and any("mail" in ln for ln in lines), lines


def test_max_runtime_in_the_toml_file_is_used(server, source, tmp_path):
    harness = Harness(server, tmp_path, rate_limit=10)
    config = tmp_path / "cron.toml"
    config.write_text('max_runtime = "1s"\n', encoding="utf-8")

    result = harness.run(source, "--config", config)

    assert result.code == 1, result.stderr
    assert "failed" in result.statuses()


# ------------------------------------------------------------------------------ --api-url
@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://api.flowroute.com", "plain http"),
        ("api.flowroute.com", "not an http(s) address"),
        ("https://api.flowroute.com:99999", "invalid port"),
    ],
)
def test_a_bad_api_url_exits_2_and_never_touches_the_journal(
    server, source, tmp_path, url, fragment
):
    harness = Harness(server, tmp_path)

    result = harness.run(source, "--api-url", url)

    assert result.code == 2
    [line] = error_lines(result.stderr)
    assert fragment in line
    assert not harness.state.exists()
    assert server.log == []


def test_the_journal_binding_compares_normalized_urls(server, source, tmp_path):
    harness = Harness(server, tmp_path)
    first = harness.run(source, "--api-url", server.url + "/")
    port = server.url.rsplit(":", 1)[1]

    again = harness.run(source, "--api-url", f"HTTP://127.0.0.1:{port}/v2/")

    assert first.code == 0 and again.code == 0, again.stderr
    assert bound_api(harness.state) == server.url
