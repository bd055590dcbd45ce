"""Turn what people type into the forms Flowroute uses: `1NPANXXXXXX` numbers and uppercased names.

Pure functions (no I/O, no clock, no logging), called by the runner on the *unique* values of a
column, so each call must cost microseconds: the common shapes ("16463439697", "(646) 343-9697",
"+1 646 343 9697") take a fast path of `str` methods; regexes run only for unusual input.

A rejected number never raises: it comes back as a `NumberResult` whose `reason` is a sentence that
quotes the input and says what to do (cnam-rules.md "Number", SPEC "Normalization and validation").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pipeline.model import Reason, Warn

TOLL_FREE_AREA_CODES = frozenset({"800", "833", "844", "855", "866", "877", "888"})

NEEDS = "a US number needs 10 (or 11 starting with 1)"

# Separators people put in numbers. "." is not here: "16463439697.0" must reach the Excel check
# before any dot is thrown away.
_FAST_STRIP = str.maketrans("", "", " -()/\t")

# Text Excel made of a number stored as a number: "16463439697.0" (a float cell exported as text)
# and "1.6463439697E+10" (scientific notation). Only "." decimals: "1,6E+10" is not Excel's export.
_EXCEL_FLOAT = re.compile(r"\+?([0-9]+)\.([0-9]+)")
_EXCEL_SCIENTIFIC = re.compile(r"\+?([0-9]+)(?:\.([0-9]*))?[eE]\+?([0-9]{1,2})")

# An extension at the end: "x123", "ext 5", "ext. 5", "extension 12", "#12", ";ext=12".
_EXTENSION = re.compile(
    r"(?:[;,]\s*)?(?<![A-Za-z])(?:ext(?:ension|n)?|x)\s*[.:=]?\s*[0-9]+\s*$|#\s*[0-9]+\s*$",
    re.IGNORECASE,
)
_COMMA_SCIENTIFIC = re.compile(r"\+?[0-9]+,[0-9]+[eE]\+?[0-9]{1,2}")
_LETTER = re.compile(r"[^\W\d_]")
_NON_DIGIT = re.compile(r"[^0-9]")

# Name normalization: curly quotes and dashes to ASCII, invisible format characters removed.
_NAME_PUNCT = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc\u00b4\u0060", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
        **dict.fromkeys("\u00ad\u200b\u200c\u200d\u2060\ufeff", None),
    }
)


@dataclass(frozen=True, slots=True)
class NumberResult:
    """A normalized number, or why there is none."""

    number: str  # "1NPANXXXXXX", or "" when rejected
    reason_code: Reason | None
    reason: str  # a sentence, "" when fine
    warnings: tuple[Warn, ...] = ()


def _quote(raw: str) -> str:
    """The input as the reason quotes it: stripped and kept short enough to read in a report cell."""
    text = raw.strip()
    if len(text) > 40:
        text = text[:37] + "..."
    return f'"{text}"'


def _reject(code: Reason, reason: str, warnings: tuple[Warn, ...] = ()) -> NumberResult:
    return NumberResult("", code, reason, warnings)


def _check_digits(digits: str, raw: str, warnings: tuple[Warn, ...] = ()) -> NumberResult:
    """Shape and NANP checks on a string of ASCII digits (no "+")."""
    n = len(digits)
    if n == 10:
        digits = "1" + digits
    elif n != 11 or digits[0] != "1":
        return _reject(Reason.NUMBER_INVALID, _length_reason(digits, raw), warnings)
    if digits[1] < "2" or digits[4] < "2" or digits[1:4] in TOLL_FREE_AREA_CODES:
        return _nanp_reject(digits, raw, warnings)
    return NumberResult(digits, None, "", warnings)


def _length_reason(digits: str, raw: str) -> str:
    if len(digits) == 11:
        return f"{_quote(raw)} has 11 digits but does not start with 1; {NEEDS}"
    return f"{_quote(raw)} has {len(digits)} digits; {NEEDS}"


def _nanp_reject(digits: str, raw: str, warnings: tuple[Warn, ...]) -> NumberResult:
    """An 11-digit number whose area code or exchange cannot be a US local number."""
    area, exchange = digits[1:4], digits[4:7]
    if area[0] in "01":
        return _reject(
            Reason.NUMBER_INVALID,
            f"{_quote(raw)}: the area code {area} starts with {area[0]}; "
            "US area codes start with 2-9",
            warnings,
        )
    if area in TOLL_FREE_AREA_CODES:
        return _reject(
            Reason.NUMBER_TOLL_FREE,
            f"{_quote(raw)} is a toll-free number (area code {area}); "
            "CNAM storage is for US local numbers",
            warnings,
        )
    return _reject(
        Reason.NUMBER_INVALID,
        f"{_quote(raw)}: the exchange {exchange} (the 3 digits after the area code) starts "
        f"with {exchange[0]}; US exchanges start with 2-9",
        warnings,
    )


def _from_excel(text: str, raw: str) -> NumberResult | None:
    """Restore "16463439697.0" / "1.6463439697E+10"; None when `text` is neither form.

    A scientific form whose mantissa has fewer digits than the number needs ("1.64634E+10") is
    rejected: Excel kept only the digits it displayed, and guessing the rest would put a name on
    someone else's number.
    """
    m = _EXCEL_FLOAT.fullmatch(text)
    if m:
        if m.group(2).strip("0"):  # "646.3439697": dots as separators, not a float
            return None
        return _check_digits(m.group(1), raw, (Warn.NUMBER_FROM_EXCEL_NUMBER,))
    m = _EXCEL_SCIENTIFIC.fullmatch(text)
    if not m:
        return None
    whole, frac, exp = m.group(1), m.group(2) or "", int(m.group(3))
    mantissa = (whole + frac).lstrip("0")
    needed = len(whole.lstrip("0")) + exp  # digits of the integer the notation stands for
    if len(mantissa) > needed:
        if mantissa[needed:].strip("0"):
            return _reject(Reason.NUMBER_INVALID, f"{_quote(raw)} is not a whole number; {NEEDS}")
        mantissa = mantissa[:needed]
    elif len(mantissa) < needed:
        return _reject(
            Reason.NUMBER_INVALID,
            f"{_quote(raw)} is a number Excel shortened to scientific notation, and its last "
            f"{needed - len(mantissa)} digits cannot be recovered from it; format the column "
            "as Text, re-enter or re-export the numbers, and load the file again",
            (Warn.NUMBER_FROM_EXCEL_NUMBER,),
        )
    return _check_digits(mantissa, raw, (Warn.NUMBER_FROM_EXCEL_NUMBER,))


def _slow_number(text: str, raw: str) -> NumberResult:
    """Everything the fast path did not settle: Excel forms, letters, extensions, odd punctuation."""
    excel = _from_excel(text, raw)
    if excel is not None:
        return excel
    if _COMMA_SCIENTIFIC.fullmatch(text):
        return _reject(
            Reason.NUMBER_INVALID,
            f"{_quote(raw)} is a number in scientific notation with a decimal comma, which "
            "cannot be read safely; format the column as Text, re-enter or re-export the "
            "numbers, and load the file again",
        )
    ext = _EXTENSION.search(text)
    if ext and _NON_DIGIT.sub("", text[: ext.start()]):
        return _reject(
            Reason.NUMBER_INVALID,
            f'{_quote(raw)} has an extension ("{ext.group().strip(" ;,")}"); extensions are '
            "not allowed: give the number alone",
        )
    if _LETTER.search(text):
        return _reject(
            Reason.NUMBER_INVALID,
            f"{_quote(raw)} contains letters; a number may hold only digits, spaces and "
            "punctuation such as ( ) - . +",
        )
    if not text.isascii():  # other scripts' digits (Arabic-Indic, Devanagari...) count as digits
        text = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)
    digits = _NON_DIGIT.sub("", text)
    if text.startswith("+") and digits and digits[0] != "1":
        return _reject(
            Reason.NUMBER_INVALID,
            f"{_quote(raw)} is not a US number: it does not start with +1; only US numbers "
            "can carry a CNAM record",
        )
    return _check_digits(digits, raw)


def normalize_number(raw: str) -> NumberResult:
    """Normalize one phone number cell to "1NPANXXXXXX", or say why it cannot be used.

    Accepts 10 digits, 11 digits starting with 1, or +1 and 10 digits, with any punctuation and
    spaces; full-width digits (NFKC); Excel's "16463439697.0" and "1.6463439697E+10" (restored,
    with warning number_from_excel_number). Rejects: empty (number_missing); letters, extensions,
    other lengths, other country codes, an area code or exchange starting with 0 or 1
    (number_invalid); area codes 800/833/844/855/866/877/888 (number_toll_free).
    """
    if type(raw) is not str:  # defensive: the loader gives text, but a stray float or None
        raw = "" if raw is None else str(raw)
    if not raw:
        return _reject(Reason.NUMBER_MISSING, "the number is empty; give a 10-digit US number")
    text = raw if raw.isascii() else unicodedata.normalize("NFKC", raw)
    text = text.strip()
    if not text:
        return _reject(Reason.NUMBER_MISSING, "the number is empty; give a 10-digit US number")
    if text.isdigit() and text.isascii():
        return _check_digits(text, raw)
    stripped = text.translate(_FAST_STRIP)
    if stripped.isascii():
        if stripped.isdigit():
            return _check_digits(stripped, raw)
        if stripped[:2] == "+1" and stripped[1:].isdigit():
            return _check_digits(stripped[1:], raw)
    return _slow_number(text, raw)


def normalize_name(raw: str) -> str:
    """NFKC, curly quotes and dashes to ASCII, invisible characters dropped, trimmed, inner
    whitespace collapsed to one space, uppercased (Flowroute stores values uppercased)."""
    if not raw:
        return ""
    if type(raw) is not str:
        raw = str(raw)
    if not raw.isascii():
        raw = unicodedata.normalize("NFKC", raw).translate(_NAME_PUNCT)
    return " ".join(raw.split()).upper()
