"""From loaded files to the row frame: normalize and validate every row, then apply the batch rules.

Numbers and names repeat (one customer's name on thousands of numbers), so each rule runs once per
unique value and the results are spread back with the factorize codes: the work is proportional to
the distinct values, not the rows.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd

from pipeline.input.frame import LoadedFile
from pipeline.model import FIXABLE_REASONS, REPORT_COLUMNS, Status, Warn
from pipeline.rules.normalize import TOLL_FREE_AREA_CODES, normalize_name, normalize_number
from pipeline.rules.plan import apply_batch_rules
from pipeline.rules.validate import NameResult, NameRules

INTERNAL_COLUMNS = ("content_hash", "pending_since")


def _spread(values: list[str], codes: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=object)[codes] if len(codes) else np.empty(0, dtype=object)


def _join(a: np.ndarray, b: np.ndarray, sep: str) -> np.ndarray:
    """Elementwise a + sep + b, skipping empty sides."""
    out = np.where(a == "", b, a)
    both = (a != "") & (b != "")
    if both.any():
        out[both] = a[both] + sep + b[both]
    return out


# A plain 10-digit number, or 11 starting with 1, with a valid area code and exchange: by far the
# most common cell. Matching it here gives exactly what normalize_number would, without building a
# result object per number; the cells of 10 and 11 characters are checked together as a matrix of
# bytes (1M unique numbers: ~0.15 s, where a regex per cell took ~0.6 s and normalize_number ~3 s).
_PLAIN_NUMBER = re.compile(r"1?([2-9][0-9]{2}[2-9][0-9]{6})")
_TOLL_FREE = np.array(sorted(int(code) for code in TOLL_FREE_AREA_CODES))


def plain_numbers(cells: list[str]) -> list[str | None]:
    """For each cell, "1" + its ten digits when it is a plain number (_PLAIN_NUMBER, not toll
    free), else None."""
    out = np.full(len(cells), None, dtype=object)
    texts = np.asarray(cells, dtype=object)
    lengths = np.fromiter(map(len, cells), dtype=np.int64, count=len(cells))
    for width in (10, 11):
        where = np.flatnonzero(lengths == width)
        if not len(where):
            continue
        picked = texts[where]
        joined = "".join(picked.tolist())
        if not joined.isascii():  # a rare non-ASCII cell: one regex per cell for this width
            for i, text in zip(where.tolist(), picked.tolist(), strict=True):
                m = _PLAIN_NUMBER.fullmatch(text)
                if m is not None and m[1][:3] not in TOLL_FREE_AREA_CODES:
                    out[i] = "1" + m[1]
            continue
        grid = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(-1, width)
        ok = ((grid - ord("0")) <= 9).all(axis=1)  # uint8: a byte below "0" wraps past 9
        if width == 11:
            ok &= grid[:, 0] == ord("1")
        first = width - 10  # the area code's first digit, then the exchange's at first + 3
        ok &= (grid[:, first] >= ord("2")) & (grid[:, first + 3] >= ord("2"))
        area = grid[:, first : first + 3].astype(np.int64) - ord("0")
        ok &= ~np.isin(area[:, 0] * 100 + area[:, 1] * 10 + area[:, 2], _TOLL_FREE)
        out[where[ok]] = picked[ok] if width == 11 else "1" + picked[ok]
    return out.tolist()  # type: ignore[no-any-return]


def normalize_numbers(uniques: np.ndarray) -> tuple[list[str], list[str], list[str], list[str]]:
    """normalize_number over unique cells, as four parallel lists (number, code, reason, warnings)."""
    cells = [str(raw) for raw in uniques]
    numbers = plain_numbers(cells)
    n = len(cells)
    codes, reasons, warns = [""] * n, [""] * n, [""] * n
    for i in [i for i, v in enumerate(numbers) if v is None]:
        r = normalize_number(cells[i])
        numbers[i] = r.number
        codes[i] = r.reason_code.value if r.reason_code else ""
        reasons[i] = r.reason
        warns[i] = ";".join(w.value for w in r.warnings)
    return numbers, codes, reasons, warns  # type: ignore[return-value]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Millions of small objects, no cycles: the collector's passes would only cost time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def empty_rows() -> pd.DataFrame:
    columns = {c: pd.Series([], dtype=object) for c in (*REPORT_COLUMNS, *INTERNAL_COLUMNS)}
    columns["source_row"] = pd.Series([], dtype="int64")
    return pd.DataFrame(columns)


def build_rows(
    loaded: Sequence[LoadedFile], rules: NameRules, *, accept_suggestions: bool = False
) -> pd.DataFrame:
    with _gc_paused():
        return _build_rows(loaded, rules, accept_suggestions)


def fixable(frame: pd.DataFrame) -> np.ndarray:
    """Which rows suggested_fixes.csv lists: rejected for a name a rewrite fixes (too long, bad
    characters), with a suggestion to run instead."""
    if not len(frame):
        return np.zeros(0, dtype=bool)
    return (
        (frame["status"].to_numpy(dtype=object) == Status.REJECTED.value)
        & frame["reason_code"].isin(FIXABLE_REASONS).to_numpy()
        & (frame["suggestion"].to_numpy(dtype=object) != "")
    )


def _accept(rules: NameRules, name: str, result: NameResult) -> tuple[str, NameResult]:
    """--accept-suggestions: a fixable name becomes its suggestion, which passes every rule; the
    row keeps the suggestion's own warnings, after `suggestion_applied`."""
    if result.reason_code is None or result.reason_code.value not in FIXABLE_REASONS:
        return name, result
    if not result.suggestion:
        return name, result
    used = rules.check(result.suggestion)
    return result.suggestion, NameResult(None, "", "", (Warn.SUGGESTION_APPLIED, *used.warnings))


def _build_rows(
    loaded: Sequence[LoadedFile], rules: NameRules, accept_suggestions: bool
) -> pd.DataFrame:
    """One row per non-blank input row, in input order, with REPORT_COLUMNS and a stable `key`.

    Rows that a rule rejects get status `rejected`; rows still open have an empty status, to be
    filled by the dry-run plan or the real run. With `accept_suggestions`, a name rejected as
    too long or for its characters is replaced by its suggestion (the `name` column; `input_name`
    keeps what was typed) and the row warns `suggestion_applied`.
    """
    parts = []
    for lf in loaded:
        if not len(lf.frame):
            continue
        part = pd.DataFrame(
            {
                "source_file": lf.source_file,
                "source_row": lf.frame["source_row"].to_numpy(dtype="int64"),
                "input_number": lf.frame["input_number"].to_numpy(dtype=object),
                "input_name": lf.frame["input_name"].to_numpy(dtype=object),
                "content_hash": lf.content_hash,
            }
        )
        parts.append(part)
    if not parts:
        return empty_rows()
    frame = pd.concat(parts, ignore_index=True)
    n = len(frame)

    num_codes, num_uniques = pd.factorize(frame["input_number"].to_numpy(dtype=object))
    numbers, num_codes_u, num_reasons_u, num_warns_u = normalize_numbers(num_uniques)
    number = _spread(numbers, num_codes)
    num_reason_code = _spread(num_codes_u, num_codes)
    num_reason = _spread(num_reasons_u, num_codes)
    num_warn = _spread(num_warns_u, num_codes)

    raw_codes, raw_uniques = pd.factorize(frame["input_name"].to_numpy(dtype=object))
    normalized = [normalize_name(str(raw)) for raw in raw_uniques]
    # The distinct names after normalizing, by factorizing the few raw distinct names rather than
    # every row: the same codes and order (a name's first row is its first raw spelling's).
    norm_codes, name_uniques = pd.factorize(np.asarray(normalized, dtype=object))
    name_codes = norm_codes[raw_codes] if n else np.empty(0, dtype=np.intp)
    name_results = [rules.check(str(nm)) for nm in name_uniques]
    used = list(name_uniques)
    if accept_suggestions:
        for i, result in enumerate(name_results):
            if result.reason_code is not None:
                used[i], name_results[i] = _accept(rules, used[i], result)
    name = np.asarray(used, dtype=object)[name_codes]
    name_reason_code = _spread(
        [r.reason_code.value if r.reason_code else "" for r in name_results], name_codes
    )
    name_reason = _spread([r.reason for r in name_results], name_codes)
    suggestion = _spread([r.suggestion for r in name_results], name_codes)
    name_warn = _spread([";".join(w.value for w in r.warnings) for r in name_results], name_codes)

    bad_number = num_reason_code != ""
    bad_name = name_reason_code != ""
    status = np.where(bad_number | bad_name, Status.REJECTED.value, "").astype(object)
    reason_code = np.where(bad_number, num_reason_code, name_reason_code).astype(object)
    reason = np.where(bad_number, num_reason, name_reason).astype(object)
    both = bad_number & bad_name
    if both.any():
        reason[both] = num_reason[both] + "; the name is rejected too: " + name_reason[both]

    frame["number"] = number
    frame["name"] = name
    frame["status"] = status
    frame["reason_code"] = reason_code
    frame["reason"] = reason
    frame["cnam_id"] = ""
    frame["suggestion"] = suggestion
    frame["warnings"] = _join(num_warn, name_warn, ";")
    frame["pending_since"] = ""
    apply_batch_rules(frame)
    return frame[[*REPORT_COLUMNS, *INTERNAL_COLUMNS]]
