#!/usr/bin/env python3
"""(Re)build input/example.xlsx: one workbook that shows every kind of outcome.

Run from the repository root: `python scripts/make_example_input.py`. The workbook is checked in;
this script documents what is in it and why.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

# (number cell, name cell, what the row demonstrates). A float number cell is what Excel stores
# when a column of phone numbers was typed as numbers.
ROWS: list[tuple[object, object, str]] = [
    ("(206) 641-7659", "Pacific Dental", "valid: associated once approved"),
    ("206.641.7660", "Regence Inc", "valid"),
    (12066417661.0, "Heartwood Cafe", "valid: Excel stored the number as a number"),
    ("+1 425 555 2671", "Acme Plumbing", "valid: +1 form"),
    ("425-555-2672", "ACME PLUMBING", "valid: same name as the row above, one record for both"),
    ("503 555 1234", "Scunthorpe Gas", "valid: a real place name that contains a blocked string"),
    (
        "360-555-2000",
        "Wireless Caller",
        "passes local rules (a name_generic warning); the review rejects it as generic",
    ),
    (None, None, "a blank row: skipped and counted"),
    ("206-641-7663", "Northwest Plumbing and Heating LLC", "name_too_long, with a suggestion"),
    ("206-641-7664", "Café Olé", "name_bad_characters, with a transliterated suggestion"),
    ("206-641-7665", "-- 42 --", "name_no_letter"),
    ("206-641-7666", "206-555-0134", "name_is_phone_number"),
    ("206-641-7667", "SH1T HAPPENS", "name_profanity (leetspeak undone)"),
    ("206-641-7668", "Seattle Police", "name_misleading"),
    ("206-641-7669", "Obama, Barack", "name_political"),
    (None, "Orphan Name", "number_missing"),
    ("555-12", "Short Number Co", "number_invalid"),
    ("1.20664E+10", "Excel Mangled", "number_invalid: Excel dropped the last digits"),
    ("206-641-7662 x12", "Extension Inc", "number_invalid: extensions are not allowed"),
    ("800-555-0199", "Toll Free Co", "number_toll_free"),
    ("206-555-0142", "Ghost Number", "number_not_on_account (the sandbox does not own 555-01XX)"),
    ("(206) 641-7659", "Pacific Dental", "duplicate of the first row"),
    ("360-555-1000", "Blue Sky Bakery", "number_conflict: one number, two names"),
    ("3605551000", "Blue Sky Bread", "number_conflict"),
]


def build(path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Numbers"
    ws.append(["Phone Number", "Caller ID Name", "What this row shows"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for number, name, note in ROWS:
        if number is None and name is None:
            ws.append([None, None, None])
            continue
        ws.append([number, name, note])
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 36
    ws.column_dimensions["C"].width = 70
    wb.save(path)


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "input" / "example.xlsx"
    build(target)
    print(f"wrote {target.name} ({len(ROWS)} rows)")
