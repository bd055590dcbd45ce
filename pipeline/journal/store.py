"""The SQLite journal that carries work across runs, and the lock that keeps two runs apart.

Why a journal: approval takes up to 48 hours, so one batch spans several runs, and a run may be
killed at any instant. The journal remembers which rows wait on which record, which records exist,
which associations were made, and which input files were taken. Every create and associate call is
preceded by a committed *intent* and followed by its *result*, so a rerun after a crash can tell
"never sent" from "sent, outcome unknown" and resolve the latter against the account's listing.

Durability: WAL mode with ``synchronous=FULL``. An intent only protects anything if it is on disk
before the request leaves; ``NORMAL`` may lose the last commits on power loss. FULL costs one fsync
per commit, which is nothing next to an API call at a few requests per second, and bulk row writes
go in a handful of large transactions.

Threads: one connection, guarded by one lock; worker threads call the methods, which serialize.
Nothing secret is ever stored here: no credentials, no URLs with user info, only values and ids.

This module holds the queries. The file's schema, its checks and the run lock are in
journal_file.py; the values handed out (WorkItem, RowState, JournalRow...) are in journal_types.py
and re-exported here.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipeline.api.ratelimit import Learned
from pipeline.api.types import CnamRecord, RecordState, value_key
from pipeline.api.urls import normalize_base_url
from pipeline.errors import ConfigError
from pipeline.journal.file import (
    ROW_SELECT,
    connect,
    journal_row,
    release_lock,
    row_select,
    take_lock,
)
from pipeline.journal.types import (
    GAVE_UP,
    OPEN_ROW_STATES,
    JournalAssociation,
    JournalRecord,
    JournalRow,
    RowState,
    WorkItem,
    from_text,
    to_text,
)

# Rows as their inputs held them: by run, then file, then row number (a number: row 2 before 10).
INPUT_ORDER = " ORDER BY asked_seq, source_file, source_row, key"
_CHUNK = 900  # values per IN (...) query, below every SQLite build's variable limit


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _same_api(api: str) -> str:
    """One spelling per API (journals written before normalization hold the URL as typed)."""
    if api == "sandbox":
        return api
    try:
        return normalize_base_url(api)
    except ConfigError:
        return api


class Journal:
    """The journal at `path`, with its lock file `<path>.lock`. Use `open()` or `with`."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._mutex = threading.RLock()
        self._row_select = ROW_SELECT  # what reads a row from this file (see row_select)

    # ------------------------------------------------------------------ open / close / lock
    def open(self, *, read_only: bool = False) -> Journal:
        """Take the run lock (LockedError if another run holds it), then open or create the file.

        `read_only` (the `status` command) takes no lock and never creates or changes the file,
        so it works while a run is active (WAL lets readers in).
        """
        if read_only:
            if not self.path.is_file():
                raise ConfigError(
                    f"no journal at {self.path}; check --state (runs with --sandbox keep "
                    "theirs in OUTPUT/sandbox/state.sqlite: add --sandbox)"
                )
            self._conn = connect(self.path, read_only=True)
            self._row_select = row_select(self._conn)
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = take_lock(
            self.lock_path, lambda: f"pid {os.getpid()}, started {self._now()}"
        )
        try:
            self._conn = connect(self.path)
        except BaseException:
            self._release_lock()
            raise
        return self

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            release_lock(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Journal:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="seconds")

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"journal {self.path} is not open; call open() first")
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; rolled back if anything inside raises."""
        with self._mutex:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._mutex:
            return self._db.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ runs and input files
    def start_run(self, run_id: str) -> int:
        """Register a run (idempotent) and return its sequence number, which orders runs."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO runs (run_id, started_at, pid) VALUES (?, ?, ?)",
                (run_id, self._now(), os.getpid()),
            )
            return int(db.execute("SELECT seq FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0])

    def finish_run(self, run_id: str, exit_code: int) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, exit_code = ? WHERE run_id = ?",
                (self._now(), int(exit_code), run_id),
            )

    def bind_api(self, api: str, key_fingerprint: str) -> str | None:
        """Tie the journal to one API (and account key). A journal used with another API is
        refused: its "associated" rows would be false there. A different key on the same API is
        allowed (keys get rotated) but returned, so the caller can warn. `api` is a base URL or
        "sandbox"; `key_fingerprint` is a one-way hash, never the key. URLs are compared (and
        stored) normalized: `HTTPS://API.flowroute.com/v2/` is `https://api.flowroute.com`."""
        api = _same_api(api)
        with self._tx() as db:
            found = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('api', 'key')"))
            if "api" in found and _same_api(found["api"]) != api:
                raise ConfigError(
                    f"{self.path} holds the work of {found['api']}, not {api}; "
                    "use another --state for this API"
                )
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('api', ?)", (api,))
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('key', ?)", (key_fingerprint,)
            )
        previous = found.get("key")
        return previous if previous is not None and previous != key_fingerprint else None

    def learned_rate(self, api: str) -> Learned | None:
        """The rate limit an earlier run learned for `api`, or None."""
        found = self._query("SELECT rate, throttled FROM api_rates WHERE api = ?", (api,))
        return Learned(float(found[0][0]), bool(found[0][1])) if found else None

    def save_learned_rate(self, api: str, learned: Learned, setting: str, run_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO api_rates VALUES (?, ?, ?, ?, ?, ?)",
                (api, learned.rate, int(learned.throttled), setting, run_id, self._now()),
            )

    def input_seen(self, content_hash: str) -> bool:
        sql = "SELECT 1 FROM input_files WHERE content_hash = ?"
        return bool(self._query(sql, (content_hash,)))

    def record_input(self, content_hash: str, path: str | Path, run_id: str, rows: int) -> None:
        """Remember an input file by content; the first run that took it is kept."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO input_files VALUES (?, ?, ?, ?, ?)",
                (content_hash, str(path), run_id, int(rows), self._now()),
            )

    # ------------------------------------------------------------------ rows
    def upsert_rows(self, items: Iterable[WorkItem], run_id: str, seq: int) -> None:
        """Journal this run's rows in one transaction (streamed executemany: seconds for 500k).

        A row seen before keeps its state, unless its number or name changed (then it starts over).
        """
        now = self._now()
        values: dict[str, str] = {}  # names repeat a lot: normalize each once

        def params() -> Iterator[tuple[object, ...]]:
            for it in items:
                value = values.get(it.name)
                if value is None:
                    value = values[it.name] = value_key(it.name)
                yield (it.key, it.source_file, it.source_row, it.input_number, it.input_name,
                       it.number, it.name, value, run_id, run_id, seq, now)  # fmt: skip

        with self._tx() as db:
            db.executemany(
                """INSERT INTO rows (key, source_file, source_row, input_number, input_name, number,
                       name, value, state, first_run_id, last_run_id, asked_seq, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?)
                   ON CONFLICT (key) DO UPDATE SET
                       state = CASE WHEN rows.number = excluded.number AND rows.name = excluded.name
                                    THEN rows.state ELSE 'new' END,
                       failed_runs = CASE WHEN rows.number = excluded.number
                                          AND rows.name = excluded.name
                                          THEN rows.failed_runs ELSE 0 END,
                       source_file = excluded.source_file, input_number = excluded.input_number,
                       input_name = excluded.input_name, number = excluded.number,
                       name = excluded.name, value = excluded.value,
                       last_run_id = excluded.last_run_id, asked_seq = excluded.asked_seq,
                       updated_at = excluded.updated_at""",
                params(),
            )

    def decided_rows(self, seq: int) -> dict[str, RowState]:
        """States of run `seq`'s rows that an earlier run already took past 'new'."""
        sql = (
            "SELECT key, state, reason_code, reason, cnam_id, pending_since, last_error,"
            " failed_runs FROM rows WHERE asked_seq = ? AND state != 'new'"
        )
        shared: dict[tuple, RowState] = {}
        found: dict[str, RowState] = {}
        for r in self._query(sql, (seq,)):
            fields = r[1:]
            state = shared.get(fields)
            if state is None:
                state = shared[fields] = RowState(
                    r[1], r[2], r[3] or "", r[4] or "", r[5], r[6], r[7]
                )
            found[r[0]] = state
        return found

    def open_rows(
        self, exclude_seq: int | None = None, *, retry_gave_up: bool = False
    ) -> list[JournalRow]:
        """Rows still needing work (new, pending, failed; given up too with `retry_gave_up`),
        except those asked by run `exclude_seq`."""
        states = (*OPEN_ROW_STATES, GAVE_UP) if retry_gave_up else OPEN_ROW_STATES
        sql = (
            f"{self._row_select} WHERE state IN ({','.join('?' * len(states))}) AND asked_seq != ?"
        )
        params = (*states, exclude_seq or -1)
        return [journal_row(r) for r in self._query(sql + INPUT_ORDER, params)]

    def rows_in_states(self, states: Sequence[str]) -> list[JournalRow]:
        marks = ",".join("?" * len(states))
        sql = f"{self._row_select} WHERE state IN ({marks}){INPUT_ORDER}"
        return [journal_row(r) for r in self._query(sql, tuple(states))]

    def superseded_rows(self) -> dict[str, JournalRow]:
        """Open rows whose number a later run asked for under another name, with that later row.

        Only numbers that have rows with two values are read (one grouping pass, no index).
        """
        sql = f"""{self._row_select} WHERE number IN
                  (SELECT number FROM rows GROUP BY number HAVING count(DISTINCT value) > 1)
                  ORDER BY number, asked_seq"""
        found: dict[str, JournalRow] = {}
        rows = map(journal_row, self._query(sql))
        for _, same_number in itertools.groupby(rows, key=lambda r: r.item.number):
            group = list(same_number)  # ordered by asked_seq
            for row in group:
                if row.state.state in OPEN_ROW_STATES:
                    later = [
                        o for o in group if o.asked_seq > row.asked_seq and o.value != row.value
                    ]
                    if later:
                        found[row.item.key] = later[-1]  # the latest asker wins
        return found

    def save_outcomes(self, updates: Iterable[tuple[str, RowState]], run_id: str) -> None:
        """Write row states in one transaction (streamed executemany: seconds for 500k)."""
        now = self._now()
        params = ((*state, run_id, now, key) for key, state in updates)
        with self._tx() as db:
            db.executemany(
                """UPDATE rows SET state = ?, reason_code = ?, reason = ?, cnam_id = ?,
                       pending_since = ?, last_error = ?, failed_runs = ?, last_run_id = ?,
                       updated_at = ?
                   WHERE key = ?""",
                params,
            )

    # ------------------------------------------------------------------ records
    def records(self, values: Iterable[str] | None = None) -> dict[str, JournalRecord]:
        """Records by normalized value: all of them, or those among `values`."""
        base = "SELECT value, cnam_id, state, rejection_reason, created_at FROM records"
        if values is None:
            rows = self._query(base)
        else:
            rows = []
            for chunk in _chunks(sorted(set(values))):
                rows += self._query(f"{base} WHERE value IN ({','.join('?' * len(chunk))})", chunk)
        return {
            r[0]: JournalRecord(r[0], r[1], RecordState(r[2]), r[3], from_text(r[4])) for r in rows
        }  # fmt: skip

    def creating_records(self) -> dict[str, JournalRecord]:
        """Create intents without a result: a crash or an unresolved timeout left them."""
        rows = self._query(
            "SELECT value, cnam_id, state, rejection_reason, created_at FROM records"
            " WHERE state = 'creating'"
        )
        return {
            r[0]: JournalRecord(r[0], r[1], RecordState(r[2]), r[3], from_text(r[4])) for r in rows
        }

    def save_records(self, records: Iterable[CnamRecord]) -> None:
        """Store records as the account shows them (after a listing, a create or a poll)."""
        now = self._now()
        params = (
            (value_key(r.value), r.id, r.state.value, r.rejection_reason or None,
             to_text(r.creation_datetime) or now, to_text(r.approval_datetime), now)
            for r in records
        )  # fmt: skip
        with self._tx() as db:
            db.executemany(
                """INSERT INTO records (value, cnam_id, state, rejection_reason, created_at,
                       approved_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (value) DO UPDATE SET cnam_id = excluded.cnam_id,
                       state = excluded.state, rejection_reason = excluded.rejection_reason,
                       created_at = coalesce(excluded.created_at, records.created_at),
                       approved_at = excluded.approved_at, updated_at = excluded.updated_at""",
                params,
            )

    def forget_records(self, values: Iterable[str]) -> None:
        """Drop records the account does not have (an intent that never happened, a deletion)."""
        with self._tx() as db:
            db.executemany("DELETE FROM records WHERE value = ?", ((v,) for v in values))

    def create_intent(self, value: str) -> None:
        """Committed before POST /v2/cnams: if we die now, the next listing decides."""
        now = self._now()
        with self._tx() as db:
            db.execute(
                """INSERT INTO records (value, state, created_at, updated_at)
                   VALUES (?, 'creating', ?, ?)
                   ON CONFLICT (value) DO UPDATE SET state = 'creating', cnam_id = NULL,
                       updated_at = excluded.updated_at""",
                (value_key(value), now, now),
            )

    # ------------------------------------------------------------------ numbers and associations
    def owned_numbers(self, numbers: Iterable[str]) -> set[str]:
        owned: set[str] = set()
        for chunk in _chunks(sorted(set(numbers))):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT number FROM numbers WHERE owned = 1 AND number IN ({marks})"
            owned.update(r[0] for r in self._query(sql, chunk))
        return owned

    def mark_owned(self, numbers: Iterable[str], owned: bool = True) -> None:
        now = self._now()
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO numbers VALUES (?, ?, ?)",
                ((n, int(owned), now) for n in numbers),
            )

    def associations(self, numbers: Iterable[str]) -> dict[str, JournalAssociation]:
        found: dict[str, JournalAssociation] = {}
        for chunk in _chunks(sorted(set(numbers))):
            marks = ",".join("?" * len(chunk))
            sql = (
                "SELECT number, cnam_id, value, state, row_key, run_id FROM associations"
                f" WHERE number IN ({marks})"
            )
            found.update((r[0], JournalAssociation(*r)) for r in self._query(sql, chunk))
        return found

    def association_intent(
        self, number: str, cnam_id: str, value: str, row_key: str, run_id: str
    ) -> None:
        """Committed before the PATCH. An intent left behind is simply sent again (idempotent)."""
        self._set_association(number, cnam_id, value, "intent", row_key, run_id)

    def association_seen(self, number: str, cnam_id: str, value: str | None = None) -> None:
        """A lookup showed the number carries `cnam_id` (no call of ours made it so)."""
        self._set_association(number, cnam_id, value, "seen", None, None)

    def association_done(
        self, number: str, cnam_id: str, value: str, row_key: str, run_id: str
    ) -> None:
        """The PATCH succeeded: the association and the row's new state go in one transaction."""
        now = self._now()
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO associations VALUES (?, ?, ?, 'done', ?, ?, ?)",
                (number, cnam_id, value_key(value), row_key, run_id, now),
            )
            db.execute(
                """UPDATE rows SET state = 'associated', reason_code = NULL, reason = ?,
                       cnam_id = ?, last_error = NULL, failed_runs = 0, last_run_id = ?,
                       updated_at = ?
                   WHERE key = ?""",
                (f"associated in run {run_id}", cnam_id, run_id, now, row_key),
            )

    def forget_association(self, number: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM associations WHERE number = ?", (number,))

    def _set_association(
        self, number: str, cnam_id: str, value: str | None, state: str,
        row_key: str | None, run_id: str | None,
    ) -> None:  # fmt: skip
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO associations VALUES (?, ?, ?, ?, ?, ?, ?)",
                (number, cnam_id, value_key(value) if value else None, state, row_key, run_id,
                 self._now()),
            )  # fmt: skip

    # ------------------------------------------------------------------ status command
    def status(self) -> dict[str, object]:
        """What the `status` command prints: counts, and the rows that need a later run."""
        count = "SELECT state, count(*) FROM {} GROUP BY state"
        last = self._query("SELECT * FROM runs ORDER BY seq DESC LIMIT 1")
        columns = ("seq", "run_id", "started_at", "finished_at", "pid", "exit_code")
        return {
            "path": str(self.path),
            "rate_limit": self._rate_status(),
            "records": dict(self._query(count.format("records"))),
            "rows": dict(self._query(count.format("rows"))),
            "associations": dict(self._query(count.format("associations"))),
            "inputs": self._query("SELECT count(*) FROM input_files")[0][0],
            "last_run": dict(zip(columns, last[0], strict=True)) if last else None,
            "waiting": self.rows_in_states(["pending_approval"]),
            "failed": self.rows_in_states(["failed"]),
            "gave_up": self.rows_in_states([GAVE_UP]),
        }

    def _rate_status(self) -> dict[str, object] | None:
        """The learned rate of the API the journal is bound to (None before any run learned one,
        and for a journal older than the api_rates table: `status` never changes the file)."""
        exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'api_rates'"
        if not self._query(exists):
            return None
        found = self._query(
            "SELECT api, rate, throttled, setting, run_id, updated_at FROM api_rates "
            "WHERE api = (SELECT value FROM meta WHERE key = 'api')"
        )
        if not found:
            return None
        api, rate, throttled, setting, run_id, updated_at = found[0]
        return {
            "api": api,
            "learned": rate,
            "throttled": bool(throttled),
            "setting": setting,
            "run_id": run_id,
            "updated_at": updated_at,
        }
