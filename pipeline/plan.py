"""Batch rules across rows: exact repeats and numbers asked for two names; what a real run would do.

Works on the runner's row frame (REPORT_COLUMNS). A row still "open" has an empty `status`; rows that
validation rejected are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.model import Reason, Status

MAX_NAMED_ROWS = 5  # a conflict reason names at most this many other rows


def row_label(source_file: str, source_row: int) -> str:
    return f"{source_file} row {source_row}"


@dataclass(frozen=True)
class PlanCounts:
    """What a real run would make, before it knows what the account already has."""

    rows: int  # rows that need API work
    records: int  # unique names among them: creates at most, fewer where the account has them
    associations: int  # numbers to associate


def apply_batch_rules(frame: pd.DataFrame) -> None:
    """Mark number conflicts and exact duplicates among the open rows, in place."""
    open_rows = frame.index[frame["status"] == ""]
    if len(open_rows) == 0:
        return
    sub = frame.loc[open_rows, ["number", "name", "source_file", "source_row"]]
    names_per_number = sub.groupby("number", sort=False)["name"].nunique()
    conflicted = names_per_number.index[names_per_number > 1]
    if len(conflicted):
        in_conflict = sub[sub["number"].isin(conflicted)]
        for number, group in in_conflict.groupby("number", sort=False):
            labels = [
                row_label(f, r)
                for f, r in zip(group["source_file"], group["source_row"], strict=True)
            ]
            names = list(group["name"])
            distinct = sorted(set(names))
            head = range(min(len(labels), MAX_NAMED_ROWS + 1))
            for pos, idx in enumerate(group.index):
                others = [f'"{names[i]}" ({labels[i]})' for i in head if i != pos]
                shown = ", ".join(others[:MAX_NAMED_ROWS])
                if len(labels) - 1 > MAX_NAMED_ROWS:
                    shown += f" and {len(labels) - 1 - MAX_NAMED_ROWS} more"
                frame.at[idx, "status"] = Status.REJECTED.value
                frame.at[idx, "reason_code"] = Reason.NUMBER_CONFLICT.value
                frame.at[idx, "reason"] = (
                    f"number {number} is asked for {len(distinct)} different names in this batch; "
                    f"the other rows: {shown}. Keep one name per number and run again"
                )
        sub = sub[~sub["number"].isin(conflicted)]
    repeats = sub.duplicated(["number", "name"], keep=False)
    if not repeats.any():
        return
    groups = sub[repeats]
    first_file = groups.groupby(["number", "name"], sort=False)["source_file"].transform("first")
    first_row = groups.groupby(["number", "name"], sort=False)["source_row"].transform("first")
    later = groups.duplicated(["number", "name"], keep="first")
    for idx in groups.index[later]:
        frame.at[idx, "status"] = Status.DUPLICATE.value
        frame.at[idx, "reason"] = (
            f"same number and name as {row_label(first_file[idx], first_row[idx])}; "
            "that row carries the work"
        )


def plan_counts(frame: pd.DataFrame) -> PlanCounts:
    """Counts over the open rows (after batch rules): the work a real run starts from."""
    work = frame[frame["status"] == ""]
    return PlanCounts(
        rows=len(work),
        records=int(work["name"].nunique()),
        associations=int(work["number"].nunique()),
    )
