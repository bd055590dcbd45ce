"""normalize_number and normalize_name: the shapes people and Excel produce."""

from __future__ import annotations

import pytest

from pipeline.model import Reason, Warn
from pipeline.rules.normalize import NumberResult, normalize_name, normalize_number

EXCEL = (Warn.NUMBER_FROM_EXCEL_NUMBER,)


@pytest.mark.parametrize(
    ("raw", "number", "warnings"),
    [
        ("6463439697", "16463439697", ()),
        ("16463439697", "16463439697", ()),
        ("+16463439697", "16463439697", ()),
        ("+1 646 343 9697", "16463439697", ()),
        ("+1-646-343-9697", "16463439697", ()),
        ("(646) 343-9697", "16463439697", ()),
        ("1 (646) 343-9697", "16463439697", ()),
        ("646.343.9697", "16463439697", ()),
        ("1.646.343.9697", "16463439697", ()),
        ("646/343/9697", "16463439697", ()),
        ("  646 343 9697  ", "16463439697", ()),
        ("646\u00a0343\u00a09697", "16463439697", ()),  # no-break spaces
        ("１６４６３４３９６９７", "16463439697", ()),  # full-width digits
        ("（６４６）３４３－９６９７", "16463439697", ()),  # full-width punctuation
        ("\u0666\u0664\u0666\u0663\u0664\u0663\u0669\u0666\u0669\u0667", "16463439697", ()),
        ("16463439697.0", "16463439697", EXCEL),
        ("6463439697.0", "16463439697", EXCEL),
        ("16463439697.00", "16463439697", EXCEL),
        ("1.6463439697E+10", "16463439697", EXCEL),
        ("1.6463439697e+10", "16463439697", EXCEL),
        ("1.6463439697E10", "16463439697", EXCEL),
        ("6.463439697E+09", "16463439697", EXCEL),
        ("1.64634396970E+10", "16463439697", EXCEL),  # a trailing zero is still exact
        ("1.2065550100E+10", "12065550100", EXCEL),
    ],
)
def test_accepted_shapes_become_the_11_digit_form(raw, number, warnings):
    assert normalize_number(raw) == NumberResult(number, None, "", warnings)


@pytest.mark.parametrize(
    ("raw", "code", "needle"),
    [
        ("", Reason.NUMBER_MISSING, "empty"),
        ("   ", Reason.NUMBER_MISSING, "empty"),
        ("\u3000", Reason.NUMBER_MISSING, "empty"),  # ideographic space only
        ("555-12", Reason.NUMBER_INVALID, '"555-12" has 5 digits; a US number needs 10'),
        ("646343969", Reason.NUMBER_INVALID, "has 9 digits"),
        ("164634396971", Reason.NUMBER_INVALID, "has 12 digits"),
        ("26463439697", Reason.NUMBER_INVALID, "does not start with 1"),
        ("---", Reason.NUMBER_INVALID, "has 0 digits"),
        ("+44 20 7946 0958", Reason.NUMBER_INVALID, "does not start with +1"),
        ("+6463439697", Reason.NUMBER_INVALID, "does not start with +1"),
        ("046-343-9697", Reason.NUMBER_INVALID, "area code 046 starts with 0"),
        ("146-343-9697", Reason.NUMBER_INVALID, "area code 146 starts with 1"),
        ("1-146-343-9697", Reason.NUMBER_INVALID, "area code 146 starts with 1"),
        ("646-043-9697", Reason.NUMBER_INVALID, "exchange 043"),
        ("646-143-9697", Reason.NUMBER_INVALID, "exchange 143"),
        ("646-343-9697 x123", Reason.NUMBER_INVALID, 'extension ("x123")'),
        ("646-343-9697x123", Reason.NUMBER_INVALID, 'extension ("x123")'),
        ("646-343-9697 ext 5", Reason.NUMBER_INVALID, 'extension ("ext 5")'),
        ("646.343.9697 ext. 12", Reason.NUMBER_INVALID, 'extension ("ext. 12")'),
        ("646 343 9697 extension 7", Reason.NUMBER_INVALID, "extensions are not allowed"),
        ("6463439697#12", Reason.NUMBER_INVALID, "extensions are not allowed"),
        ("646-343-9697;ext=12", Reason.NUMBER_INVALID, "extensions are not allowed"),
        ("CALL ME", Reason.NUMBER_INVALID, "contains letters"),
        ("1-800-FLOWERS", Reason.NUMBER_INVALID, "contains letters"),
        ("n/a", Reason.NUMBER_INVALID, "contains letters"),
        ("16463439697.5", Reason.NUMBER_INVALID, "has 12 digits"),
        ("1.646343969712E+10", Reason.NUMBER_INVALID, "not a whole number"),
        ("1,6463439697E+10", Reason.NUMBER_INVALID, "decimal comma"),
        ("800-555-0199", Reason.NUMBER_TOLL_FREE, "toll-free number (area code 800)"),
        ("1 (833) 555-0199", Reason.NUMBER_TOLL_FREE, "area code 833"),
        ("+1 844 555 0199", Reason.NUMBER_TOLL_FREE, "area code 844"),
        ("18555550199", Reason.NUMBER_TOLL_FREE, "area code 855"),
        ("866.555.0199", Reason.NUMBER_TOLL_FREE, "area code 866"),
        ("877-555-0199", Reason.NUMBER_TOLL_FREE, "area code 877"),
        ("1.8885550199E+10", Reason.NUMBER_TOLL_FREE, "area code 888"),
    ],
)
def test_rejected_shapes_say_why(raw, code, needle):
    result = normalize_number(raw)
    assert (result.number, result.reason_code) == ("", code)
    assert needle in result.reason


@pytest.mark.parametrize("raw", ["1.64634E+10", "6.46343E+09", "1E+10", "1.6463E10"])
def test_scientific_form_that_lost_digits_is_rejected_with_the_fix(raw):
    result = normalize_number(raw)
    assert result.reason_code is Reason.NUMBER_INVALID
    assert result.number == ""
    assert f'"{raw}"' in result.reason
    assert "cannot be recovered" in result.reason
    assert "format the column as Text" in result.reason
    assert result.warnings == EXCEL


def test_reason_quotes_the_input_exactly_as_the_example():
    assert normalize_number("555-12").reason == (
        '"555-12" has 5 digits; a US number needs 10 (or 11 starting with 1)'
    )


def test_reason_shortens_a_very_long_input():
    result = normalize_number("9" * 200)
    assert result.reason_code is Reason.NUMBER_INVALID
    assert len(result.reason) < 120
    assert "has 200 digits" in result.reason


@pytest.mark.parametrize("raw", ["6463439697", "+1 (212) 555-0100", "16463439697.0"])
def test_accepted_number_is_11_digits_with_valid_area_code_and_exchange(raw):
    number = normalize_number(raw).number
    assert len(number) == 11 and number.isdigit() and number[0] == "1"
    assert number[1] in "23456789" and number[4] in "23456789"


@pytest.mark.parametrize(("raw", "number"), [(None, ""), (16463439697.0, "16463439697")])
def test_non_text_cells_are_handled(raw, number):
    assert normalize_number(raw).number == number  # type: ignore[arg-type]


def test_result_is_immutable():
    result = normalize_number("6463439697")
    with pytest.raises(AttributeError):
        result.number = "1"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("", ""),
        ("   ", ""),
        ("acme plumbing", "ACME PLUMBING"),
        ("  Acme   Plumbing\t LLC ", "ACME PLUMBING LLC"),
        ("Joe\u2019s Pizza", "JOE'S PIZZA"),  # curly apostrophe
        ("\u201cBest\u201d Deli", '"BEST" DELI'),  # curly double quotes
        ("Smith \u2013 Jones", "SMITH - JONES"),  # en dash
        ("Smith\u2014Jones", "SMITH-JONES"),  # em dash
        ("ＡＣＭＥ", "ACME"),  # full-width letters (NFKC)
        ("ﬁne foods", "FINE FOODS"),  # ligature (NFKC)
        ("acme\u00a0co", "ACME CO"),  # no-break space
        ("ac\u200bme", "ACME"),  # zero-width space removed
        ("Café Roma", "CAFÉ ROMA"),  # accents stay: validation suggests the transliteration
        ("line\nbreak", "LINE BREAK"),
        ("straße", "STRASSE"),
    ],
)
def test_normalize_name(raw, name):
    assert normalize_name(raw) == name


def test_normalize_name_is_idempotent():
    for raw in ["  Joe\u2019s   Café ", "ＡＣＭＥ  co", "a\u2013b"]:
        once = normalize_name(raw)
        assert normalize_name(once) == once
