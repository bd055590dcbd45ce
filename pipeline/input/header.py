"""Finding the header row and the number and name columns in the first rows of a file.

The header is found by its text (NUMBER_ALIASES / NAME_ALIASES), so column order, extra columns and
title rows above it do not matter; --number-column / --name-column name a column by header text,
letter or 1-based number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.errors import InputError, UsageError
from pipeline.input.frame import LoadOptions

HEADER_SEARCH_ROWS = 20  # the header must be among this many non-blank rows

# Normalized header texts (see normalize_header), most specific first: when several columns match,
# the earliest alias in this order wins, so "CNAM" beats a generic "Name" column.
NUMBER_ALIASES = (
    "phonenumber",
    "phone",
    "phoneno",
    "phonenum",
    "telephonenumber",
    "telephone",
    "tn",
    "did",
    "didnumber",
    "longcode",
    "number",
)
NAME_ALIASES = (
    "cnam",
    "cnamvalue",
    "cnamname",
    "calleridname",
    "callerid",
    "callername",
    "displayname",
    "name",
)

_LETTERS = re.compile(r"[A-Za-z]{1,3}")


def check_column_options(options: LoadOptions) -> None:
    for flag, spec in (
        ("--number-column", options.number_column),
        ("--name-column", options.name_column),
    ):
        if spec is not None and spec.strip().isdigit() and int(spec) < 1:
            raise UsageError(f"{flag} {spec}: column numbers start at 1")
    if (
        options.number_column
        and options.name_column
        and normalize_header(options.number_column) == normalize_header(options.name_column)
    ):
        raise UsageError(
            f"--number-column and --name-column both name {options.number_column!r}; "
            "give two different columns"
        )


def normalize_header(text: str) -> str:
    """Header text reduced so that "Phone #", "phone_numbers" and "PhoneNumber" compare equal.

    Lowercase, '#' read as "number", words split on anything not a letter or digit, a plural 's'
    dropped from each word ("CNAMs", "DIDs"), then joined without spaces ("Caller ID" = "CallerID").
    """
    words = re.findall(r"[a-z0-9]+", text.lower().replace("#", " number "))
    return "".join(
        w[:-1] if len(w) > 2 and w.endswith("s") and not w.endswith("ss") else w for w in words
    )


@dataclass(frozen=True)
class _Pick:
    index: int
    by_text: bool  # found by header text, not by a column letter or number


@dataclass(frozen=True)
class Header:
    position: int  # index into the candidate rows
    number: int
    name: int
    notes: tuple[str, ...] = ()


def _pick(cells: list[str], spec: str | None, aliases: tuple[str, ...]) -> _Pick | None:
    """The column for one role in one candidate header row (cells already normalized)."""
    if spec is None or not spec.strip():
        hits = [(aliases.index(c), i) for i, c in enumerate(cells) if c in aliases]
        return _Pick(min(hits)[1], True) if hits else None
    spec = spec.strip()
    if spec.isdigit():
        index = int(spec) - 1
    else:
        wanted = normalize_header(spec)
        if wanted and wanted in cells:
            return _Pick(cells.index(wanted), True)
        if not _LETTERS.fullmatch(spec):
            return None
        index = _letter_index(spec)
    return _Pick(index, False) if index < len(cells) else None


def _letter_index(letters: str) -> int:
    """0-based index of a spreadsheet column letter: A -> 0, Z -> 25, AA -> 26."""
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - ord("A") + 1
    return index - 1


def _is_positional(spec: str | None) -> bool:
    return spec is not None and (spec.strip().isdigit() or bool(_LETTERS.fullmatch(spec.strip())))


def locate_header(rows: list[tuple[int, list[str]]], options: LoadOptions) -> Header | None:
    """The header among candidate rows (row number, cells): the first row where both columns are
    found and at least one is found by its text. With both columns given by letter or number, the
    first row with a number and a name alias is taken as the header, else the first row."""
    normalized = [[normalize_header(c) for c in cells] for _, cells in rows]
    for position, cells in enumerate(normalized):
        number = _pick(cells, options.number_column, NUMBER_ALIASES)
        name = _pick(cells, options.name_column, NAME_ALIASES)
        if number and name and (number.by_text or name.by_text) and number.index != name.index:
            return Header(
                position, number.index, name.index, _header_notes(rows, position, options)
            )
    if not rows or not (
        _is_positional(options.number_column) and _is_positional(options.name_column)
    ):
        return None
    position = next(
        (
            i
            for i, cells in enumerate(normalized)
            if _pick(cells, None, NUMBER_ALIASES) and _pick(cells, None, NAME_ALIASES)
        ),
        0,
    )
    number = _pick(normalized[position], options.number_column, NUMBER_ALIASES)
    name = _pick(normalized[position], options.name_column, NAME_ALIASES)
    if number is None or name is None or number.index == name.index:
        return None
    return Header(position, number.index, name.index, _header_notes(rows, position, options))


def _header_notes(
    rows: list[tuple[int, list[str]]], position: int, options: LoadOptions
) -> tuple[str, ...]:
    row_number, cells = rows[position]
    notes = []
    if position:
        notes.append(f"header is row {row_number}; the rows above it were not read")
    normalized = [normalize_header(c) for c in cells]
    for role, spec, aliases, flag in (
        ("number", options.number_column, NUMBER_ALIASES, "--number-column"),
        ("name", options.name_column, NAME_ALIASES, "--name-column"),
    ):
        if spec:
            continue
        matches = [cells[i] for i, c in enumerate(normalized) if c in aliases]
        if len(matches) > 1:
            chosen = _pick(normalized, None, aliases)
            assert chosen is not None
            listed = ", ".join(repr(m) for m in matches)
            notes.append(
                f"{len(matches)} {role} columns ({listed}); used {cells[chosen.index]!r} "
                f"(choose another with {flag})"
            )
    return tuple(notes)


def no_columns_error(
    where: str, rows: list[tuple[int, list[str]]], options: LoadOptions
) -> InputError:
    """The error for a file whose header cannot be found: what was looked for, what is there."""
    if not rows:
        return InputError(f"{where} is empty; it needs a header row with number and name columns")
    roles = (
        (
            "number",
            options.number_column,
            NUMBER_ALIASES,
            "--number-column",
            "Phone, Number, TN or DID",
        ),
        ("name", options.name_column, NAME_ALIASES, "--name-column", "Name, CNAM or Caller ID"),
    )
    normalized = [[normalize_header(c) for c in cells] for _, cells in rows]
    # Show the first row where one column was found (most likely the header), else the first row.
    position = next(
        (i for i, cells in enumerate(normalized) if any(_pick(cells, r[1], r[2]) for r in roles)),
        0,
    )
    missing = [r for r in roles if _pick(normalized[position], r[1], r[2]) is None] or list(roles)
    wanted = " and ".join(
        f"no column {spec!r} for {flag}" if spec else f"no {role} column (a header like {hint})"
        for role, spec, _, flag, hint in missing
    )
    row_number, cells = rows[position]
    shown = ", ".join(repr(shorten(c)) for c in cells[:12] if c.strip())
    flags = " and ".join(r[3] for r in missing)
    return InputError(
        f"{where}: {wanted} in the first {HEADER_SEARCH_ROWS} rows; row {row_number} has {shown}; "
        f"name {'them' if len(missing) > 1 else 'it'} with {flags} "
        "(header text, column letter or 1-based number)"
    )


def shorten(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
