"""A big row sheet's `<sheetData>` rows as XML, built column-wise by polars instead of cell by cell.

rustpy-xlsxwriter spends about 6.6 s of CPU on a million-row, 12-column sheet, two thirds of it
deflating 620 MB of XML at zlib's default level. Here polars joins each row's cells in Rust
(`concat_str`, on slices from pipeline.report.columnar) and pipeline.report.xlsxzip deflates them
at a fast level (isal, 0.35 s): the same sheet in about 3 s.

The XML is byte for byte what rustpy-xlsxwriter writes for the same rows (its constant-memory
inline strings; the tests compare the two): `<row r="2">`, then a cell per non-empty value,
`<c r="A2" t="inlineStr"><is><t>text</t></is></c>` for text and `<c r="B2"><v>2.0</v></c>` for an
integer, with the writer's escapes: `& < >` as entities, control characters as `_xHHHH_`, a literal
`_xHHHH_` guarded as `_x005F_xHHHH_`, and `xml:space="preserve"` on text that starts or ends with a
space, tab or newline. Only a sheet without cell formats can be written this way (a big sheet has
none: pipeline.report.workbook's STYLED_MAX_ROWS).
"""

from __future__ import annotations

import io
import re
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.input.extent import column_letters
from pipeline.report.columnar import CHUNK_ROWS, chunks

if TYPE_CHECKING:
    import polars as pl

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_ESCAPE_LIKE = re.compile("_(?=x[0-9A-Fa-f]{4}_)")
# The control characters in polars' (Rust) regex syntax, matched as bytes (faster).
_CONTROL_RS = r"(?-u)[\x00-\x08\x0B-\x1F]"
THREADS = 2  # the machine's cores; each chunk's work is in polars, which releases the GIL
AHEAD = 3  # chunks built ahead of the writer: about 40 MB of XML at most


def xml_text(value: str) -> str:
    """A text cell's content escaped as the writer escapes it (the rare path, one value at a time)."""
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _ESCAPE_LIKE.sub("_x005F_", value)
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


def rows_xml(
    frame: pd.DataFrame, max_chars: int, first_row: int = 2, chunk_rows: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """The `<row>` elements for `frame`'s rows, the first numbered `first_row`, in UTF-8 chunks;
    a text longer than `max_chars` is cut to it (Excel's cell limit, as the writer's caller does).

    Two threads build the chunks (polars releases the GIL while it works), at most AHEAD chunks
    ahead of the one being consumed, which come out in order.
    """
    import polars as pl

    numeric = [pd.api.types.is_integer_dtype(v.dtype) for _, v in frame.items()]
    letters = [column_letters(i + 1) for i in range(frame.shape[1])]

    def build(start: int, chunk: pl.DataFrame) -> bytes:
        row = pl.int_range(first_row + start, first_row + start + chunk.height, eager=False)
        return _chunk_xml(pl, chunk, row.cast(pl.String), letters, numeric, max_chars)

    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="sheetxml") as pool:
        ahead: deque[Future[bytes]] = deque()
        try:
            for start, chunk in chunks(frame, chunk_rows):
                ahead.append(pool.submit(build, start, chunk))
                if len(ahead) >= AHEAD:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()
        finally:
            for future in ahead:
                future.cancel()


def _chunk_xml(
    pl: Any,
    chunk: pl.DataFrame,
    row: pl.Expr,
    letters: list[str],
    numeric: list[bool],
    max_chars: int,
) -> bytes:
    """One chunk's rows. An empty text is null here (pipeline.report.columnar), so its cell is
    null and the row's concatenation, which skips nulls, leaves it out."""
    text = [f"c{i}" for i, n in enumerate(numeric) if not n]
    longest = chunk.select(*(pl.col(c).str.len_bytes().max() for c in text)).row(0)
    long = [c for c, n in zip(text, longest, strict=True) if n is not None and n > max_chars]
    if long:  # cut by characters, which are fewer than bytes: only a CSV input holds such text
        chunk = chunk.with_columns(*(pl.col(c).str.slice(0, max_chars) for c in long))
    flags = chunk.select(
        *(_special(pl, pl.col(c)).any().alias(f"special {c}") for c in text),
        *(pl.col(c).str.contains_any(["&", "<", ">"]).any().alias(f"entity {c}") for c in text),
        *(_preserve(pl, pl.col(c)).any().alias(f"preserve {c}") for c in text),
    ).row(0, named=True)
    special = [c for c in text if flags[f"special {c}"]]
    if special:  # control characters or a literal _xHHHH_: rare, escaped in Python
        chunk = chunk.with_columns(
            *(pl.col(c).alias(f"raw {c}") for c in special),
            *(
                pl.Series(c, [None if v is None else xml_text(v) for v in chunk[c].to_list()])
                for c in special
            ),
        )
    parts: list[Any] = [pl.lit('<row r="'), row, pl.lit('">')]
    for i, letter in enumerate(letters):
        c = f"c{i}"
        if numeric[i]:
            parts += [pl.lit(f'<c r="{letter}'), row, pl.lit('"><v>'), pl.col(c).cast(pl.String)]
            parts.append(pl.lit(".0</v></c>"))
            continue
        value = pl.col(c)
        if c not in special and flags[f"entity {c}"]:
            value = value.str.replace_many(["&", "<", ">"], ["&amp;", "&lt;", "&gt;"])
        open_t: Any = pl.lit("<t>")
        if flags[f"preserve {c}"]:
            keep = _preserve(pl, pl.col(f"raw {c}" if c in special else c))
            open_t = pl.when(keep).then(pl.lit('<t xml:space="preserve">')).otherwise(open_t)
        head = [pl.lit(f'<c r="{letter}'), row, pl.lit('" t="inlineStr"><is>'), open_t]
        parts.append(pl.concat_str([*head, value, pl.lit("</t></is></c>")]))
    parts.append(pl.lit("</row>"))
    xml = pl.concat_str(parts, ignore_nulls=True)
    if not any(numeric):  # a row without a cell is no row, as in the writer
        xml = pl.when(pl.any_horizontal(pl.col(c).is_not_null() for c in text)).then(xml)
    xml = chunk.select(xml.alias("xml"))
    out = io.BytesIO()
    xml.write_csv(out, include_header=False, quote_style="never", line_terminator="")
    return out.getvalue()


def _special(pl: Any, value: pl.Expr) -> pl.Expr:
    """Whether a value may need the Python escapes: a control character, U+FFFE/FFFF or `_x`
    (two literal scans, 3x faster than one regex)."""
    return value.str.contains(_CONTROL_RS).or_(value.str.contains_any(["_x", "\ufffe", "\uffff"]))


def _preserve(pl: Any, value: pl.Expr) -> pl.Expr:
    """Whether a value starts or ends with a space, tab or newline (then xml:space="preserve")."""
    return value.str.len_bytes() != value.str.strip_chars(" \t\n").str.len_bytes()
