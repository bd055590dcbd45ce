"""Batch rules across rows: exact repeats and numbers asked for two names; what a real run would do.

Works on the runner's row frame (REPORT_COLUMNS). A row still "open" has an empty `status`; rows that
validation rejected are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
    """Mark number conflicts and exact duplicates among the open rows, in place.

    Works on integer codes of (number, name) so a million rows take well under a second; only the
    few rows involved in a conflict or a repeat get Python-level work for their reason text.
    """
    open_pos = np.flatnonzero(frame["status"].to_numpy(dtype=object) == "")
    if len(open_pos) == 0:
        return
    number_codes, _ = pd.factorize(frame["number"].to_numpy(dtype=object)[open_pos])
    name_codes, name_uniques = pd.factorize(frame["name"].to_numpy(dtype=object)[open_pos])
    pair = number_codes.astype(np.int64) * (len(name_uniques) + 1) + name_codes
    distinct_pairs = pd.unique(pair)  # hash-based, a tenth of np.unique's time here
    names_per_number = np.bincount(
        distinct_pairs // (len(name_uniques) + 1), minlength=int(number_codes.max()) + 1
    )
    in_conflict = names_per_number[number_codes] > 1
    if in_conflict.any():
        _mark_conflicts(frame, frame.index[open_pos[in_conflict]])
    rest = ~in_conflict
    repeat = pd.Series(pair[rest]).duplicated(keep=False).to_numpy()
    if repeat.any():
        _mark_duplicates(frame, frame.index[open_pos[rest][repeat]])


def _mark_conflicts(frame: pd.DataFrame, rows: pd.Index) -> None:
    sub = frame.loc[rows, ["number", "name", "source_file", "source_row"]]
    for number, group in sub.groupby("number", sort=False):
        labels = [
            row_label(f, r) for f, r in zip(group["source_file"], group["source_row"], strict=True)
        ]
        names = list(group["name"])
        distinct = len(set(names))
        head = range(min(len(labels), MAX_NAMED_ROWS + 1))
        for pos, idx in enumerate(group.index):
            others = [f'"{names[i]}" ({labels[i]})' for i in head if i != pos]
            shown = ", ".join(others[:MAX_NAMED_ROWS])
            if len(labels) - 1 > MAX_NAMED_ROWS:
                shown += f" and {len(labels) - 1 - MAX_NAMED_ROWS} more"
            frame.at[idx, "status"] = Status.REJECTED.value
            frame.at[idx, "reason_code"] = Reason.NUMBER_CONFLICT.value
            frame.at[idx, "reason"] = (
                f"number {number} is asked for {distinct} different names in this batch; "
                f"the other rows: {shown}. Keep one name per number and run again"
            )


def _mark_duplicates(frame: pd.DataFrame, rows: pd.Index) -> None:
    groups = frame.loc[rows, ["number", "name", "source_file", "source_row"]]
    by_pair = groups.groupby(["number", "name"], sort=False)
    first_file = by_pair["source_file"].transform("first")
    first_row = by_pair["source_row"].transform("first")
    later = groups.duplicated(["number", "name"], keep="first").to_numpy()
    idx = groups.index[later]
    firsts = zip(first_file.to_numpy()[later], first_row.to_numpy()[later], strict=True)
    frame.loc[idx, "status"] = Status.DUPLICATE.value
    frame.loc[idx, "reason"] = [
        f"same number and name as {row_label(f, r)}; that row carries the work" for f, r in firsts
    ]


def plan_counts(frame: pd.DataFrame) -> PlanCounts:
    """Counts over the open rows (after batch rules): the work a real run starts from."""
    work = frame[frame["status"] == ""]
    return PlanCounts(
        rows=len(work),
        records=int(work["name"].nunique()),
        associations=int(work["number"].nunique()),
    )
