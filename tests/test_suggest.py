"""Suggestions for too-long names: shortened the way a person does (suggest.py), measured on real
business names (tests/data/long_business_names.txt, see suggest_measure.py)."""

from __future__ import annotations

from importlib import resources

import pytest
from suggest_measure import first_word_kept, invented_initial, measure, read_names, represented

from pipeline.model import Reason, Warn
from pipeline.rules.normalize import normalize_name
from pipeline.rules.suggest import ACRONYMS, PHRASE_ABBREVIATIONS, shorten, word_forms
from pipeline.rules.validate import NameRules


@pytest.fixture(scope="module")
def rules() -> NameRules:
    return NameRules.load()


def suggest(rules: NameRules, name: str) -> str:
    return rules.check(normalize_name(name)).suggestion


LEGAL_FORMS = [
    ("Acme Plumbing, Inc.", "ACME PLUMBING"),
    ("Acme Plumbing Services LLC", "ACME PLBG SVCS"),
    ("Northwest Roofing Co. LLC", "NW ROOFING"),
    ("The Goldman Sachs Group, Inc.", "GOLDMAN SACHS"),
    ("Smith Holdings Group Inc", "SMITH HOLDINGS"),  # GROUP goes, HOLDINGS is kept: it fits
    ("LyondellBasell Industries N.V.", "LYONDELLBASELL"),
    ("Kimberly-Clark Corporation", "KIMBERLY-CLARK"),
    ("JPMorgan Chase & Co.", "JPMORGAN CHASE"),
    ("Snap-on Incorporated", "SNAP-ON"),  # ON after a hyphen is part of the name
]
SHARE_CLASSES = [
    ("Alphabet Inc. Class A", "ALPHABET"),
    ("21st Century Fox Class A", "21ST CENTRY FOX"),
    ("Berkshire Hathaway Inc. Class B", "BERKSHIRE HTHWY"),
    ("Warner Bros. Discovery, Inc. Series A", "WARNER BROS DSC"),
]
ABBREVIATIONS = [
    ("Advanced Micro Devices", "ADV MICRO DEVCS"),
    ("Applied Materials", "APPLIED MATLS"),
    ("International Business Machines", "INTL BUS MACH"),
    ("Johnson Manufacturing Company", "JOHNSON MFG"),
    ("National Brothers Department", "NATL BROS DEPT"),
    ("Acme Pharmaceuticals International", "ACME PHRM INTL"),
    ("Navy Federal Credit Union", "NAVY FEDERAL CU"),
    ("The Bank of New York Mellon Corporation", "BANK NY MELLON"),
    ("Global International Management", "GLOBAL INTL"),  # MGMT is not cut to MGM
]
AMPERSANDS = [
    ("Dun & Bradstreet", "DUN&BRADSTREET"),
    ("Smith and Wesson Holdings", "SMITH & WESSON"),
    ("Barnes and Noble Booksellers", "BARNES&NOBL BKS"),
    ("Smith and Sons & Co Ltd", "SMITH AND SONS"),
]
LONG_WORDS = [
    ("Activision Blizzard", "ACTIVISION BLIZ"),
    ("Intercontinental Exchange", "INTRCNTNTL EXCH"),  # a 16-letter first word loses vowels
    ("Supercalifragilistic Services", "SUPRCLFRGLSTC"),
    ("Archer-Daniels-Midland Company", "ARCHER-DNLS-MDL"),
    ("Pacific Cocktail Lounge", "PAC CKTL LOUNGE"),
]
NON_ASCII = [
    ("Café Roma International", "CAFE ROMA INTL"),
    ("Crème Brûlée Patisserie Française", "CREME BRUL PTSR"),
    ("Łódź Trading Company", "LODZ TRADING"),
    ("Zürich Versicherungs Gesellschaft", "ZURICH VERS GES"),
]


# Initials, only when the words do not fit with four letters each (suggest.py, steps 5 and 7).
ACRONYM_CASES = [
    ("Swedish Medical Center", "SWEDISH MED CTR"),  # fits abbreviated: no initials
    ("Harborview Medical Center", "HARBORVIEW MC"),  # listed in acronyms.txt
    ("Vanderbilt University Medical Center", "VANDERBILT UMC"),
    ("Citibank National Association", "CITIBANK NA"),
    ("Zions First National Bank", "ZIONS FNB"),
    ("Green Lake Physical Therapy", "GREEN LAKE PT"),
    ("Eastside Heating and Air Conditioning", "EASTSIDE HTG&AC"),
    ("Paul, Weiss, Rifkind, Wharton & Garrison LLP", "PAUL WEISS RWG"),  # trailing words
    ("Memorial Sloan Kettering Cancer Center", "MEML SLOAN KCC"),
    ("Akin Gump Strauss Hauer & Feld LLP", "AKIN GUMP SHF"),
    ("Five Guys Burgers and Fries", "FIVE GUYS B&F"),  # two words joined by AND
    ("Smith & Sons Plumbing and Heating", "SMITH&SONS P&H"),
    ("Jiffy Lube Service Center", "JIFFY LUBE SC"),  # two standard abbreviations: SVC CTR
    ("Skadden, Arps, Slate, Meagher & Flom LLP", "SKADDEN ASMF"),  # partners, after one word
    ("Virginia Mason Medical Center", "VIRGINIA MMC"),  # holds listed initials (MC)
    ("Snohomish County Public Utility District", "SNOHOMISH CPUD"),
    ("Top Pot Hand-Forged Doughnuts", "TOP POT HND-FRG"),  # never splits a hyphenated name
    ("Dewey Cheatham & Howe Attorneys at Law", "DEWEY CHT&HOWE"),  # never starts after &
    ("Red Robin Gourmet Burgers", "RED ROBIN GRMT"),  # no initials of ordinary words alone
]


@pytest.mark.parametrize(
    ("name", "suggestion"),
    LEGAL_FORMS
    + SHARE_CLASSES
    + ABBREVIATIONS
    + AMPERSANDS
    + LONG_WORDS
    + NON_ASCII
    + ACRONYM_CASES,
)
def test_suggestion(rules, name, suggestion):
    assert suggest(rules, name) == suggestion
    assert rules.check(suggestion).reason_code is None


# Names whose usual shortening makes a blocked word: (name, what the steps alone would give,
# the suggestion).
BLOCKED_FORMS = [
    ("Abercrombie & Fitch", "ABERCROMBIE&FTC", "ABERCROMBIE&FT"),  # FTC: an authority
    ("Westbrook Dickinson Partners", "WESTBROOK DICK", "WESTBROOK DCK"),
    ("Columbus Cummins Engine Sales", "COLUMBUS CUM EN", "COLUMBUS CM ENG"),
    ("Florida Titusville Storage", "FLORIDA TIT STR", "FLORIDA TS STR"),
    # initials that would spell an authority or a slur are never used
    ("Ace Tool Fisher Bailey Ingram", "ACE TOOL FBI", "ACE TL FSH BLY"),
    ("Ace Tool Kent Kirk Kline", "ACE TOOL KKK", "ACE TL KNT KRK"),
    ("Ace Tool Irving Roberts Sims", "ACE TOOL IRS", "ACE TL IRV ROB"),
]


@pytest.mark.parametrize(("name", "unchecked", "suggestion"), BLOCKED_FORMS)
def test_suggestion_never_makes_a_blocked_word(rules, name, unchecked, suggestion):
    assert shorten(normalize_name(name), lambda candidate: True) == unchecked
    assert not rules.passes(unchecked)
    assert suggest(rules, name) == suggestion


def test_word_forms_shorten_step_by_step():
    assert word_forms("MATERIALS") == ["MATERIALS", "MATRLS", "MTRLS", "MAT", "MT"]
    assert word_forms("BLIZZARD") == ["BLIZZARD", "BLIZRD", "BLZRD", "BLIZ", "BLZ", "BL"]
    assert word_forms("CARE") == ["CARE", "CR"]  # never CAR: a different word
    assert word_forms("FOX") == ["FOX"]
    assert word_forms("21ST") == ["21ST"]


def test_suggestions_are_stable(rules):
    names = read_names()[:200]
    first = [suggest(rules, n) for n in names]
    again = [NameRules.load().check(normalize_name(n)).suggestion for n in reversed(names)]
    assert first == again[::-1]


def test_no_lone_initial_is_invented(rules):
    for name in ("Ace Bolt Cable Dynamics Electric Fuse", "Rapid Electric Engineering Services"):
        result = suggest(rules, name)
        assert result
        assert not invented_initial(normalize_name(name), result), result


def test_the_abbreviation_list_is_sound(rules):
    text = resources.files("pipeline.rules").joinpath("data", "abbreviations.txt").read_text()
    assert text.startswith("# abbreviations.txt")
    assert len(PHRASE_ABBREVIATIONS) > 100
    for full, short in PHRASE_ABBREVIATIONS.items():
        assert len(short) >= 2, (full, short)  # never a lone initial
        assert len(short) < len(" ".join(full)), (full, short)
        # no new blocked word: GOVT is as ambiguous as GOVERNMENT, nothing worse
        result, before = rules.check(f"ACME {short}"), rules.check(f"ACME {' '.join(full)}")
        assert result.reason_code in (None, before.reason_code), (full, short, result)
        assert Warn.NAME_EMBEDDED_TERM not in result.warnings


def test_the_acronym_list_is_sound(rules):
    text = resources.files("pipeline.rules").joinpath("data", "acronyms.txt").read_text()
    assert text.startswith("# acronyms.txt")
    assert len(ACRONYMS) >= 10
    for full, short in ACRONYMS.items():
        assert len(full) >= 2 and 2 <= len(short) <= 5, (full, short)
        assert short == "".join(word[0] for word in full), (full, short)  # its initials
        assert rules.passes(f"ACME {short}"), (full, short)
        assert Warn.NAME_EMBEDDED_TERM not in rules.check(f"ACME {short}").warnings


# -- the measurement (issue 11) ---------------------------------------------------------------


def test_measurement_helpers():
    assert represented("ABERCROMBIE & FITCH", "ABERCROMBIE&FT")
    assert not represented("ABERCROMBIE & FITCH", "ABERCROMBIE")
    assert represented("BANK OF NEW YORK MELLON", "BANK NY MELLON")
    assert represented("ALPHABET INC CLASS A", "ALPHABET")
    assert first_word_kept("AMERICAN EXPRESS", "AMER EXPRESS", strict=False)
    assert not first_word_kept("AMERICAN EXPRESS", "AMER EXPRESS", strict=True)
    # an acronym represents the words whose initials it spells, only with acronym counting
    assert represented("PAUL WEISS RIFKIND WHARTON GARRISON", "PAUL WEISS RWG")
    assert not represented("PAUL WEISS RIFKIND WHARTON GARRISON", "PAUL WEISS RWG", acronyms=False)
    assert represented("CEDARS-SINAI MEDICAL CENTER", "CEDARS-SINAI MC")
    assert not represented("SKADDEN ARPS SLATE MEAGHER FLOM", "SKADDEN ASM")
    assert represented("FIVE GUYS BURGERS AND FRIES", "FIVE GUYS B&F", acronyms=False)
    assert invented_initial("RAPID ELECTRIC", "RAPID E")
    assert not invented_initial("TOYS R US INC", "TOYS R US")


def test_suggestions_on_real_business_names(rules):
    """The figures README.md quotes (issue 11): every distinctive word represented in at least
    85% of suggestions, counting an acronym as representing the words whose initials it spells
    (see suggest_measure.py). Without that counting the figure is lower (about 79%: local
    names of four or five words do not fit every word in 15 characters otherwise); it is held
    above 75% so that acronyms never replace words that fit."""
    whole = measure(rules, read_names())
    companies = measure(rules, read_names(section="companies"))
    assert whole.long > 600 and companies.long > 300
    assert whole.failing == []
    assert whole.offered >= 0.99 * whole.long
    assert whole.share(whole.represented) >= 0.85
    assert whole.share(whole.represented_plain) >= 0.75
    assert companies.share(companies.represented) >= 0.90
    assert whole.share(whole.first_kept) >= 0.97
    assert whole.share(whole.invented) <= 0.02
    for name, suggestion in whole.pairs:
        if suggestion:
            assert len(suggestion) <= 15
            assert rules.check(suggestion).reason_code is None, (name, suggestion)


def test_only_too_long_and_bad_character_names_are_measured(rules):
    figures = measure(rules, ["Acme", "FBI Plumbing Services of America", "Acme Plumbing Services"])
    assert figures.long == 1 and figures.pairs == [("Acme Plumbing Services", "ACME PLBG SVCS")]
    assert rules.check("FBI PLUMBING SERVICES OF AMERICA").reason_code is Reason.NAME_MISLEADING
