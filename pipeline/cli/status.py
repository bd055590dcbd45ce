"""`cnam-batch status`: what the journal holds, as a table or JSON. Reads without taking the lock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TextIO

from pipeline.config import Settings
from pipeline.errors import ExitCode
from pipeline.journal.store import Journal
from pipeline.journal.types import JournalRow

SHOW_ROWS = 20  # rows listed per section in the table; --json lists all


def _since(text: str | None, now: datetime) -> tuple[str, float | None]:
    if not text:
        return "", None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text, None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"), (now - when).total_seconds() / 86400


def _row_dict(row: JournalRow, now: datetime) -> dict[str, Any]:
    since, days = _since(row.state.pending_since, now)
    return {
        "source_file": row.item.source_file,
        "source_row": row.item.source_row,
        "number": row.item.number,
        "name": row.item.name,
        "state": row.state.state,
        "reason_code": row.state.reason_code or "",
        "reason": row.state.reason,
        "cnam_id": row.state.cnam_id,
        "pending_since": row.state.pending_since or "",
        "days_pending": None if days is None else round(days, 2),
        "last_error": row.state.last_error or "",
        "first_run_id": row.first_run_id,
        "last_run_id": row.last_run_id,
        "_since": since,
    }


def journal_status(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    journal = Journal(settings.state)
    journal.open(read_only=True)
    try:
        raw = journal.status()
    finally:
        journal.close()
    waiting = [_row_dict(r, now) for r in raw["waiting"]]  # type: ignore[attr-defined]
    failed = [_row_dict(r, now) for r in raw["failed"]]  # type: ignore[attr-defined]
    gave_up = [_row_dict(r, now) for r in raw["gave_up"]]  # type: ignore[attr-defined]
    for row, journaled in zip(gave_up, raw["gave_up"], strict=True):  # type: ignore[call-overload]
        row["failed_runs"] = journaled.state.failed_runs
    return {
        "journal": raw["path"],
        "rate_limit": raw["rate_limit"],
        "records": raw["records"],
        "rows": raw["rows"],
        "associations": raw["associations"],
        "inputs_taken": raw["inputs"],
        "last_run": raw["last_run"],
        "waiting": waiting,
        "failed": failed,
        "gave_up": gave_up,
    }


def _rate_line(rate: dict[str, Any] | None) -> str:
    if not rate:
        return "nothing learned yet (the next run starts from --rate-limit)"
    if rate["throttled"]:
        learned = f"{rate['learned']:g} requests/s, learned from Flowroute's 429s"
    else:
        learned = f"at least {rate['learned']:g} requests/s (no 429 seen yet)"
    return (
        f"{learned} by run {rate['run_id']} (--rate-limit {rate['setting']}); "
        "the next run starts from it"
    )


def _table(
    out: TextIO, title: str, rows: list[dict[str, Any]], columns: list[tuple[str, str]]
) -> None:
    out.write(f"\n{title} ({len(rows)})\n")
    if not rows:
        out.write("  none\n")
        return
    shown = rows[:SHOW_ROWS]
    widths = [max(len(h), *(len(str(r[k])) for r in shown)) for k, h in columns]
    widths = [min(w, 50) for w in widths]
    out.write(
        "  " + "  ".join(h.ljust(w) for (_, h), w in zip(columns, widths, strict=True)) + "\n"
    )
    for r in shown:
        cells = [str(r[k])[:w].ljust(w) for (k, _), w in zip(columns, widths, strict=True)]
        out.write("  " + "  ".join(cells).rstrip() + "\n")
    if len(rows) > SHOW_ROWS:
        out.write(f"  ... and {len(rows) - SHOW_ROWS} more (--json lists all)\n")


def print_status(settings: Settings, *, as_json: bool, out: TextIO) -> int:
    status = journal_status(settings)
    if as_json:
        for section in ("waiting", "failed", "gave_up"):
            for row in status[section]:
                row.pop("_since", None)
        json.dump(status, out, indent=2, default=str)
        out.write("\n")
        return int(ExitCode.OK)
    out.write(f"journal: {status['journal']}\n")
    last = status["last_run"]
    if last:
        finished = last.get("finished_at") or "not finished"
        out.write(
            f"last run: {last['run_id']} (started {last['started_at']}, finished {finished}, "
            f"exit code {last.get('exit_code')})\n"
        )
    records = status["records"]
    out.write(
        "records: "
        + (", ".join(f"{n} {state}" for state, n in sorted(records.items())) or "none")
        + "\n"
    )
    rows = status["rows"]
    out.write(
        "rows: " + (", ".join(f"{n} {state}" for state, n in sorted(rows.items())) or "none") + "\n"
    )
    out.write(f"input files taken: {status['inputs_taken']}\n")
    out.write(f"rate limit: {_rate_line(status['rate_limit'])}\n")
    for row in status["waiting"]:
        row["days"] = "" if row["days_pending"] is None else f"{row['days_pending']:.1f}"
    _table(
        out,
        "waiting for Flowroute's review",
        status["waiting"],
        [
            ("number", "number"),
            ("name", "name"),
            ("_since", "pending since"),
            ("days", "days"),
            ("source_file", "file"),
            ("source_row", "row"),
        ],
    )
    _table(
        out,
        "failed (the next run retries them)",
        status["failed"],
        [
            ("number", "number"),
            ("name", "name"),
            ("reason", "reason"),
            ("source_file", "file"),
            ("source_row", "row"),
        ],
    )
    _table(
        out,
        "given up (failed in --give-up-after runs in a row; --retry-failed sends them again)",
        status["gave_up"],
        [
            ("number", "number"),
            ("name", "name"),
            ("reason", "reason"),
            ("source_file", "file"),
            ("source_row", "row"),
        ],
    )
    return int(ExitCode.OK)
