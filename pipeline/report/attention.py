"""The "Needs attention" sheet's rows: what a person must act on, grouped by reason.

Which rows: `pipeline.summary.needs_attention` (rejected, failed, pending approval too long), from
this run's rows and then the carried-over rows of earlier runs. Groups are ordered by size, largest
first (ties by code), the same order as the Summary's "What to do next"; within a group rows keep
their order (input order for this run's rows). Vectorized: no Python runs per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.model import REPORT_COLUMNS, Status
from pipeline.report.guidance import STALE
from pipeline.summary import needs_attention

# The report's columns, with what a person fixes from first: where the row is, what it says, why
# it was stopped and the suggested fix, then the rest.
ATTENTION_COLUMNS: tuple[str, ...] = (
    "source_file",
    "source_row",
    "input_number",
    "input_name",
    "status",
    "reason_code",
    "suggestion",
    "reason",
    "number",
    "name",
    "cnam_id",
    "warnings",
)
assert sorted(ATTENTION_COLUMNS) == sorted(REPORT_COLUMNS)


@dataclass(frozen=True)
class Attention:
    """The rows, in sheet order and ATTENTION_COLUMNS, and the groups as (code, rows), in order."""

    rows: pd.DataFrame
    groups: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return len(self.rows)


def attention(*frames: pd.DataFrame | None) -> Attention:
    """The rows of `frames` (report frames, REPORT_COLUMNS) that need a person, grouped by reason.

    A row's group is its reason_code; a pending row without one is `pending_stale`, any other
    row without one its status.
    """
    parts = [frame[needs_attention(frame).to_numpy()] for frame in frames if frame is not None]
    parts = [part for part in parts if len(part)]
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in ATTENTION_COLUMNS})
        return Attention(rows=empty.astype({"source_row": "int64"}), groups=())
    rows = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    code = rows["reason_code"].to_numpy(dtype=object, copy=True)
    blank = code == ""
    if blank.any():
        status = rows["status"].to_numpy(dtype=object)
        pending = status == Status.PENDING_APPROVAL.value
        code[blank] = np.where(pending[blank], STALE, status[blank])
    counts = pd.Series(code).value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    rank = {key: n for n, (key, _) in enumerate(ordered)}
    order = np.argsort(pd.Series(code).map(rank).to_numpy(), kind="stable")
    rows = rows.iloc[order].reset_index(drop=True)[list(ATTENTION_COLUMNS)]
    return Attention(rows=rows, groups=tuple((str(k), int(n)) for k, n in ordered))
