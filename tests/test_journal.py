"""The SQLite journal: the run lock, refusing foreign files, durable settings, bulk row writes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import FakeClock

from pipeline.api.ratelimit import Learned
from pipeline.api.types import CnamRecord, value_key
from pipeline.errors import ConfigError, ExitCode, LockedError
from pipeline.journal.file import APPLICATION_ID, SCHEMA, SCHEMA_VERSION
from pipeline.journal.store import Journal
from pipeline.journal.types import RowState, WorkItem

ROOT = Path(__file__).parents[1]


def items(n: int, name: str = "ACME INC", hash_: str = "a" * 64) -> list[WorkItem]:
    return [
        WorkItem(f"{hash_}:{row}", "input/big.csv", row, f"206{row:07d}", name.title(),
                 f"1206{row:07d}", name)
        for row in range(2, n + 2)
    ]  # fmt: skip


@pytest.fixture
def journal(tmp_path: Path):
    with Journal(tmp_path / "state.sqlite", clock=FakeClock()) as j:
        yield j


# ---------------------------------------------------------------------------- the lock


def test_second_open_on_the_same_path_is_locked(tmp_path):
    path = tmp_path / "state.sqlite"
    with Journal(path), pytest.raises(LockedError) as err:
        Journal(path).open()
    message = str(err.value)
    assert f"pid {os.getpid()}" in message and str(path) in message
    assert "remove the lock only if no run is active" in message
    assert err.value.exit_code is ExitCode.LOCKED
    Journal(path).open().close()  # released on close


def test_lock_held_by_another_process_and_released_when_it_dies(tmp_path):
    path = tmp_path / "state.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"from pipeline.journal.store import Journal; Journal({str(path)!r}).open(); print('ready',"
         " flush=True); input()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(LockedError, match=f"pid {holder.pid}, started "):
            Journal(path).open()
    finally:
        holder.kill()  # like kill -9: no cleanup runs
        holder.wait(timeout=30)
    Journal(path).open().close()  # the OS dropped the dead process's lock


def test_read_only_open_works_while_a_run_holds_the_lock(tmp_path):
    path = tmp_path / "state.sqlite"
    with Journal(path) as running:
        running.record_input("abc", "input/a.csv", "r1", 3)
        reader = Journal(path).open(read_only=True)
        assert reader.input_seen("abc") and reader.status()["inputs"] == 1
        reader.close()


@pytest.mark.parametrize("content", [None, b""], ids=["missing", "empty"])
def test_read_only_open_needs_an_existing_journal(tmp_path, content):
    path = tmp_path / "state.sqlite"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=str(path)):
        Journal(path).open(read_only=True)
    assert path.exists() == (content is not None)  # nothing created


def test_journal_is_usable_only_when_open(tmp_path):
    with pytest.raises(RuntimeError, match="not open"):
        Journal(tmp_path / "state.sqlite").input_seen("x")


# ---------------------------------------------------------------------------- the file


@pytest.mark.parametrize(
    "content",
    [b"name,number\nACME,12065550101\n", b"\x00" * 4096, b"SQLite format 3\x00" + b"\xff" * 200],
    ids=["csv", "zeros", "torn-header"],
)
def test_a_file_that_is_not_sqlite_is_a_config_error_naming_it(tmp_path, content):
    path = tmp_path / "state.sqlite"
    path.write_bytes(content)
    for _ in range(2):  # the second time proves the failed open released the lock
        with pytest.raises(ConfigError, match=f"{path} is not a cnam-batch journal"):
            Journal(path).open()
    assert path.read_bytes() == content  # left as it was, for the user to look at


def test_a_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(ConfigError, match="not a cnam-batch journal"):
        Journal(path).open()


def test_wal_and_full_sync_are_used(journal):
    db = journal._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_missing_parent_folder_is_created(tmp_path):
    Journal(tmp_path / "new" / "state.sqlite").open().close()
    assert (tmp_path / "new" / "state.sqlite").exists()


# ---------------------------------------------------------------------------- runs and inputs


def test_runs_are_numbered_in_order_and_registering_twice_is_harmless(journal):
    first = journal.start_run("20240101T000000Z")
    second = journal.start_run("20240102T000000Z")
    assert second > first and journal.start_run("20240101T000000Z") == first
    journal.finish_run("20240101T000000Z", 1)
    assert journal.status()["last_run"]["run_id"] == "20240102T000000Z"


def test_input_files_are_remembered_by_content_hash(journal):
    assert not journal.input_seen("abc")
    journal.record_input("abc", "input/a.csv", "r1", 10)
    journal.record_input("abc", "input/renamed.csv", "r2", 10)  # the first run is kept
    assert journal.input_seen("abc")
    assert journal._query("SELECT path, first_run_id FROM input_files") == [("input/a.csv", "r1")]


# ---------------------------------------------------------------------------- rows


def test_rows_keep_their_state_across_runs_unless_their_content_changed(journal):
    rows = items(2)
    journal.upsert_rows(rows, "r1", journal.start_run("r1"))
    done = RowState("associated", None, "associated in run r1", "17")
    journal.save_outcomes([(rows[0].key, done), (rows[1].key, done)], "r1")

    seq = journal.start_run("r2")
    renamed = WorkItem(*[*_fields(rows[1])[:6], "OTHER NAME"])
    journal.upsert_rows([rows[0], renamed], "r2", seq)

    assert journal.decided_rows(seq) == {rows[0].key: done}
    assert [r.item.key for r in journal.open_rows()] == [rows[1].key]


def test_open_rows_leave_out_this_runs_rows(journal):
    rows = items(3)
    journal.upsert_rows(rows, "r1", journal.start_run("r1"))
    journal.save_outcomes([(rows[0].key, RowState("rejected", "flowroute_rejected"))], "r1")
    seq = journal.start_run("r2")
    journal.upsert_rows(rows[1:2], "r2", seq)

    assert [r.item.key for r in journal.open_rows(seq)] == [rows[2].key]


def test_superseded_rows_name_the_later_row(journal):
    old = items(1, "ACME")
    journal.upsert_rows(old, "r1", journal.start_run("r1"))
    new = items(1, "ACME INC", hash_="b" * 64)
    journal.upsert_rows(new, "r2", journal.start_run("r2"))

    later = journal.superseded_rows()

    assert list(later) == [old[0].key] and later[old[0].key].item == new[0]


# ---------------------------------------------------------------------------- records, numbers


def test_records_are_keyed_by_normalized_value(journal):
    journal.save_records([CnamRecord("17", "Acme  Inc", False, "Misleading")])
    journal.create_intent("bob law")
    recs = journal.records()
    assert recs["ACME INC"].state == "rejected" and recs["ACME INC"].cnam_id == "17"
    assert set(journal.creating_records()) == {"BOB LAW"}
    journal.forget_records(["BOB LAW"])
    assert set(journal.records(["BOB LAW", "ACME INC"])) == {"ACME INC"}


def test_owned_numbers_and_associations_are_cached(journal):
    journal.mark_owned(["12065550101", "12065550102"])
    journal.mark_owned(["12065550102"], owned=False)
    journal.association_intent("12065550101", "17", "ACME", "h:2", "r1")
    assert journal.owned_numbers(["12065550101", "12065550102", "x"]) == {"12065550101"}
    assert journal.associations(["12065550101"])["12065550101"].state == "intent"


def test_value_key_ignores_case_and_spacing():
    assert value_key("  acme   inc ") == "ACME INC"


def test_nothing_secret_is_in_the_schema(journal):
    columns = " ".join(
        r[0] for r in journal._query("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")
    ).lower()
    assert not any(word in columns for word in ("secret", "password", "access_key", "token"))


# ---------------------------------------------------------------------------- scale


@pytest.mark.slow
def test_journaling_500k_rows_takes_seconds(tmp_path):
    rows = items(500_000)
    with Journal(tmp_path / "state.sqlite") as journal:
        start = time.perf_counter()
        seq = journal.start_run("r1")
        journal.upsert_rows(rows, "r1", seq)
        journal.decided_rows(seq)
        waiting = RowState("pending_approval", None, "waiting", "17", "2024-01-01T00:00:00+00:00")
        journal.save_outcomes(((r.key, waiting) for r in rows), "r1")
        first = time.perf_counter() - start

        start = time.perf_counter()
        seq = journal.start_run("r2")
        journal.upsert_rows(rows, "r2", seq)
        decided = journal.decided_rows(seq)
        again = time.perf_counter() - start

    print(f"\n500k rows: first run {first:.1f} s, rerun {again:.1f} s")
    assert len(decided) == 500_000
    assert first < 30 and again < 30  # seconds, not minutes (a few seconds on a 2-core box)


def _fields(it: WorkItem) -> list[object]:
    return [it.key, it.source_file, it.source_row, it.input_number, it.input_name, it.number,
            it.name]  # fmt: skip


# ---------------------------------------------------------------------------- schema 1 -> 2


def _schema_1_journal(path: Path) -> None:
    """A journal as cnam-batch wrote it before rows counted their failed runs (schema 1)."""
    line = "    failed_runs   INTEGER NOT NULL DEFAULT 0, -- runs in a row that ended with the row failed\n"
    assert line in SCHEMA
    conn = sqlite3.connect(path)
    conn.executescript(
        SCHEMA.replace(line, "")
        + f"PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version=1;"
        + """INSERT INTO rows (key, source_file, source_row, input_number, input_name, number,
                 name, value, state, reason, last_error, first_run_id, last_run_id, asked_seq,
                 updated_at)
             VALUES ('h:2', 'a.csv', 2, '2065550100', 'Acme', '12065550100', 'ACME', 'ACME',
                     'failed', 'boom', 'boom', 'r1', 'r1', 1, '2026-01-01T00:00:00+00:00');"""
    )
    conn.close()


def test_a_schema_1_journal_reads_read_only_unchanged_and_migrates_when_a_run_opens_it(tmp_path):
    path = tmp_path / "state.sqlite"
    _schema_1_journal(path)

    reader = Journal(path).open(read_only=True)
    (failed,) = reader.status()["failed"]
    reader.close()
    assert failed.item.key == "h:2" and failed.state.failed_runs == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1

    with Journal(path, clock=FakeClock()) as journal:
        (row,) = journal.open_rows()
        assert row.state == RowState("failed", None, "boom", "", None, "boom", 0)
        journal.save_outcomes([("h:2", row.state._replace(failed_runs=2))], "r2")
        assert journal.open_rows()[0].state.failed_runs == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3


def test_a_schema_2_journal_gets_the_learned_rate_table_when_a_run_opens_it(tmp_path):
    path = tmp_path / "state.sqlite"
    with Journal(path, clock=FakeClock()) as journal:
        journal.bind_api("https://api.example", "fingerprint")
    with sqlite3.connect(path) as conn:  # as cnam-batch wrote it before the api_rates table
        conn.execute("DROP TABLE api_rates")
        conn.execute("PRAGMA user_version = 2")

    reader = Journal(path).open(read_only=True)
    assert reader.status()["rate_limit"] is None  # nothing learned yet; the file is not changed
    reader.close()
    with Journal(path, clock=FakeClock()) as journal:
        assert journal.learned_rate("https://api.example") is None
        journal.save_learned_rate("https://api.example", Learned(9.5, True), "auto", "r1")
        assert journal.learned_rate("https://api.example") == Learned(9.5, True)
        assert journal.learned_rate("sandbox") is None  # per API
        rate = journal.status()["rate_limit"]
    assert rate == {"api": "https://api.example", "learned": 9.5, "throttled": True,
                    "setting": "auto", "run_id": "r1", "updated_at": rate["updated_at"]}  # fmt: skip
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_changed_name_starts_the_failed_count_over(journal):
    (item,) = items(1)
    journal.upsert_rows([item], "r1", journal.start_run("r1"))
    journal.save_outcomes(
        [(item.key, RowState("gave_up", "api_error", "x", "", None, "x", 5))], "r1"
    )
    assert journal.status()["gave_up"][0].state.failed_runs == 5
    renamed = WorkItem(item.key, item.source_file, item.source_row, item.input_number,
                       "Other", item.number, "OTHER")  # fmt: skip
    journal.upsert_rows([renamed], "r2", journal.start_run("r2"))
    (row,) = journal.open_rows()
    assert row.state.state == "new" and row.state.failed_runs == 0
