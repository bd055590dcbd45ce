"""The journal file itself: its schema, the checks that it is ours, and the run lock beside it.

Split from journal.py so the on-disk contract (tables, application id, schema version, durability
pragmas, the columns a row is read back from) and the lock that keeps two runs apart can be read
in one place, apart from the queries.
`connect` refuses a file that is not a cnam-batch journal or was written by a newer version;
`take_lock` refuses a second run while the first holds `<journal>.lock`.

Durability: WAL mode with ``synchronous=FULL`` (see journal.py for why). The lock is an `flock`
on its own file, so the OS drops it when the process dies, however it dies.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.errors import ConfigError, LockedError
from pipeline.journal.types import JournalRow, RowState, WorkItem

APPLICATION_ID = 0x434E4142  # "CNAB": marks the file as a cnam-batch journal
SCHEMA_VERSION = 3

# The rate limit learned per API (pipeline/api/ratelimit.py), so the next run starts from it.
API_RATES = """
CREATE TABLE IF NOT EXISTS api_rates (
    api        TEXT PRIMARY KEY,     -- as bound in meta: a base URL or "sandbox"
    rate       REAL NOT NULL,        -- requests per second the next run starts from
    throttled  INTEGER NOT NULL,     -- 1: the server's 429s taught it; 0: a lower bound only
    setting    TEXT NOT NULL,        -- the --rate-limit of the run that learned it
    run_id     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""
# What each schema version added, applied in order to an older journal opened for a run. A journal
# opened read-only (`status`) is not changed: `row_select` reads the missing columns as defaults,
# and a missing `api_rates` reads as "nothing learned yet".
MIGRATIONS: dict[int, str] = {
    2: "ALTER TABLE rows ADD COLUMN failed_runs INTEGER NOT NULL DEFAULT 0;",
    3: API_RATES,
}

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS runs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL UNIQUE,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    pid         INTEGER,
    exit_code   INTEGER
);
CREATE TABLE IF NOT EXISTS input_files (
    content_hash TEXT PRIMARY KEY,
    path         TEXT NOT NULL,
    first_run_id TEXT NOT NULL,
    rows         INTEGER NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    value            TEXT PRIMARY KEY,   -- normalized: collapsed spaces, uppercase
    cnam_id          TEXT,
    state            TEXT NOT NULL CHECK (state IN ('creating', 'pending', 'approved', 'rejected')),
    rejection_reason TEXT,
    created_at       TEXT,
    approved_at      TEXT,
    updated_at       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    key           TEXT PRIMARY KEY,      -- WorkItem.key: content hash and source row
    source_file   TEXT NOT NULL,
    source_row    INTEGER NOT NULL,
    input_number  TEXT NOT NULL,
    input_name    TEXT NOT NULL,
    number        TEXT NOT NULL,
    name          TEXT NOT NULL,
    value         TEXT NOT NULL,         -- the record value the row waits on
    state         TEXT NOT NULL,         -- 'new' or a Status value
    reason_code   TEXT,
    reason        TEXT NOT NULL DEFAULT '',
    cnam_id       TEXT NOT NULL DEFAULT '',
    pending_since TEXT,
    last_error    TEXT,
    failed_runs   INTEGER NOT NULL DEFAULT 0, -- runs in a row that ended with the row failed
    first_run_id  TEXT NOT NULL,
    last_run_id   TEXT NOT NULL,
    asked_seq     INTEGER NOT NULL,      -- runs.seq of the latest run whose input held the row
    updated_at    TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS associations (
    number  TEXT PRIMARY KEY,
    cnam_id TEXT NOT NULL,
    value   TEXT,
    state   TEXT NOT NULL CHECK (state IN ('intent', 'done', 'seen')),
    row_key TEXT,
    run_id  TEXT,
    at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS numbers (
    number     TEXT PRIMARY KEY,
    owned      INTEGER NOT NULL,
    checked_at TEXT NOT NULL
);
"""
    + API_RATES
)

# The rows table as read back: journal_row() turns one such tuple into a JournalRow.
ROW_SELECT = """SELECT key, source_file, source_row, input_number, input_name, number, name,
    value, state, reason_code, reason, cnam_id, pending_since, last_error, first_run_id,
    last_run_id, asked_seq, failed_runs FROM rows"""


def row_select(conn: sqlite3.Connection) -> str:
    """ROW_SELECT for this file: a schema-1 journal opened read-only has no failed_runs (0)."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(rows)")}
    if "failed_runs" in columns:
        return ROW_SELECT
    return ROW_SELECT.replace("failed_runs FROM", "0 AS failed_runs FROM")


def journal_row(r: Sequence) -> JournalRow:
    return JournalRow(
        item=WorkItem(*r[:7]),
        value=r[7],
        state=RowState(r[8], r[9], r[10] or "", r[11] or "", r[12], r[13], r[17]),
        first_run_id=r[14],
        last_run_id=r[15],
        asked_seq=r[16],
    )


def take_lock(lock_path: Path, holder: Callable[[], str]) -> int:
    """Hold `lock_path` exclusively and write `holder()` into it; LockedError if another run has it.

    Returns the file descriptor to pass to `release_lock`. The lock file is opened without following
    a symlink (O_NOFOLLOW): a link planted in its place cannot make a run truncate another file.
    """
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ConfigError(
                f"{lock_path} is a symbolic link; cnam-batch does not follow it: remove it "
                "(the next run creates the lock file itself)"
            ) from None
        raise ConfigError(
            f"{lock_path}: cannot open the lock file ({err.strerror or err}); check --state"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        held_by = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "pid ?, started ?"
        os.close(fd)
        raise LockedError(
            f"another cnam-batch run ({held_by}) holds the lock on {lock_path}; "
            "wait for it or remove the lock only if no run is active"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, holder().encode(), 0)
    return fd


def release_lock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)  # the OS also drops it if the process dies
    os.close(fd)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open the journal at `path` (creating the schema unless `read_only`); ConfigError when the
    file is not a cnam-batch journal, was written by a newer cnam-batch, or cannot be opened."""
    bad = f"{path} is not a cnam-batch journal"
    target = f"{path.resolve().as_uri()}?mode=ro" if read_only else str(path)
    try:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, uri=read_only)
    except sqlite3.Error as err:
        raise ConfigError(f"{path}: cannot open the journal ({err}); check --state") from err
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
            raise ConfigError(f"{bad}; point --state at another file or move this one aside")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"{path} was written by a newer cnam-batch (schema {version}); "
                "upgrade cnam-batch or use another --state file"
            )
        if read_only:
            if app_id != APPLICATION_ID:
                raise ConfigError(f"{bad}; check --state")
            return conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA cache_size=-131072")  # up to 128 MiB: bulk writes of 500k rows
        # An older journal is brought up to date in the same transaction that checks the schema
        # (a fresh one gets the whole schema and no migration).
        migrations = "".join(
            MIGRATIONS[v] for v in range(version + 1, SCHEMA_VERSION + 1) if tables
        )
        conn.executescript(
            "BEGIN IMMEDIATE;"
            + migrations
            + SCHEMA
            + f"PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version={SCHEMA_VERSION};"
            + "COMMIT;"
        )
    except sqlite3.DatabaseError as err:  # "file is not a database", a torn header...
        conn.close()
        raise ConfigError(
            f"{bad} ({err}); point --state at another file or move this one aside"
        ) from err
    except BaseException:
        conn.close()
        raise
    return conn
