"""Names written without spaces are judged like their spaced form, authority names written with
short forms like the full words, and real names (tests/data) still pass (issue 10, item 11).

Profane test inputs are kept to what the rules need.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import pytest

from pipeline.model import Reason
from pipeline.rules.normalize import normalize_name
from pipeline.rules.segment import Lexicon
from pipeline.rules.validate import NameRules
from pipeline.rules.wordlists import ShortForms, builtin_entries

DATA = Path(__file__).parent / "data"
CONTENT = {
    Reason.NAME_PROFANITY,
    Reason.NAME_MISLEADING,
    Reason.NAME_POLITICAL,
    Reason.NAME_BLOCKLISTED,
}


@pytest.fixture(scope="module")
def rules() -> NameRules:
    return NameRules.load()


@pytest.fixture(scope="module")
def before() -> NameRules:
    """The rules as they were: no run-together reading, no short forms."""
    return NameRules(
        profanity=builtin_entries("profanity.txt"),
        misleading=builtin_entries("misleading.txt"),
        political=builtin_entries("political.txt"),
        commercial=builtin_entries("commercial.txt"),
        generic=builtin_entries("generic.txt"),
        allow=builtin_entries("allowlist.txt"),
    )


def real_names() -> list[str]:
    names = []
    for file in ("long_business_names.txt", "real_names_blocked_strings.txt"):
        for line in (DATA / file).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                names.append(normalize_name(line))
    return names


RUN_TOGETHER = [
    ("BESTSHITDEALS", Reason.NAME_PROFANITY, '"BESTSHITDEALS" reads as "BEST SHIT DEALS": '
     'contains "SHIT", which is profanity (name_profanity)'),
    ("MY SHITSHOP", Reason.NAME_PROFANITY, '"SHITSHOP" reads as "SHIT SHOP"'),
    ("SEATTLEPOLICE", Reason.NAME_MISLEADING, '"SEATTLEPOLICE" reads as "SEATTLE POLICE": '
     'contains "POLICE", which impersonates an authority (name_misleading)'),
    ("IRSREFUND", Reason.NAME_MISLEADING, '"IRSREFUND" reads as "IRS REFUND": contains "IRS"'),
    ("FBIAGENT", Reason.NAME_MISLEADING, '"FBIAGENT" reads as "FBI AGENT"'),
    ("USGOVT", Reason.NAME_MISLEADING, '"USGOVT" reads as "US GOVT": contains "US GOVT"'),
    ("SHERIFFOFC", Reason.NAME_MISLEADING, '"SHERIFFOFC" reads as "SHERIFF OFC"'),
    ("DEPTOFJUSTICE", Reason.NAME_MISLEADING, '"DEPTOFJUSTICE" reads as "DEPT OF JUSTICE"'),
    ("NYPDTIPS", Reason.NAME_MISLEADING, '"NYPDTIPS" reads as "NYPD TIPS"'),
]  # fmt: skip


@pytest.mark.parametrize(("name", "code", "reason"), RUN_TOGETHER)
def test_a_run_together_name_is_judged_like_its_spaced_form(rules, name, code, reason):
    result = rules.check(name)
    assert result.reason_code is code and result.reason.startswith(reason), result.reason
    spaced = rules.check(reason.split('reads as "')[1].split('"')[0])
    assert spaced.reason_code is code


SCUNTHORPE = [
    "SCUNTHORPE", "PENISTONE", "ESSEX", "CLASSIC", "MIDDLESEX", "CUMBERLAND", "CLITHEROE",
    "MATSUSHITA", "HANCOCKFABRICS", "SUSSEXHOMES", "EXPERTSEXCHANGE", "ASSOCIATESGROUP",
    "BASSPROSHOPS", "COCKTAILBAR", "THERAPISTFINDER", "ANALYTICSPRO", "ICECREAMSHOP",
    "POLICEMANS BALL", "SEXTONS CREEK", "PUSSYWILLOWFARM", "FIRSTBANK", "OFFICEDEPOT",
    "SERVICEMASTER", "GOVT SURPLUS STORE",
]  # fmt: skip


@pytest.mark.parametrize("name", SCUNTHORPE)
def test_a_blocked_string_inside_an_ordinary_word_or_place_still_passes(rules, name):
    result = rules.check(name)
    assert result.reason_code not in CONTENT, result.reason


def test_no_real_name_is_newly_rejected_as_written_or_run_together(rules, before):
    names = real_names()
    assert len(names) > 1000
    newly = [n for n in names if rules.check(n).reason_code in CONTENT
             and before.check(n).reason_code not in CONTENT]  # fmt: skip
    squeezed = [n.replace(" ", "") for n in names if " " in n and
                rules.check(n).reason_code not in CONTENT]  # fmt: skip
    run_together = [(s, rules.check(s).reason) for s in squeezed
                    if rules.check(s).reason_code in CONTENT]  # fmt: skip
    assert newly == [] and run_together == []


def test_valid_names_keep_their_verdict_byte_for_byte(rules, before):
    for name in real_names():
        old, new = before.check(name), rules.check(name)
        if old.reason_code not in CONTENT:
            assert new == old, name


SHORT_FORMS = [
    ("SOC SEC ADMIN", "SOC SEC"),
    ("SOCIAL SEC", "SOCIAL SEC"),
    ("HOMELAND SEC", "HOMELAND SEC"),
    ("DEPARTMENT OF JUSTICE", "DEPARTMENT OF JUSTICE"),
    ("DEPT OF TREAS", "DEPT OF TREAS"),
    ("INTERNAL REV SVC", "INTERNAL REV SVC"),
    ("US ATTY", "US ATTY"),
    ("DIST ATTY", "DIST ATTY"),
    ("ATTY GEN", "ATTY GEN"),
    ("DIST CT", "DIST CT"),
    ("HWY PATROL", "HWY PATROL"),
    ("NATL GUARD", "NATL GUARD"),
    ("FED AGENT", "FED AGENT"),
    ("USA GOVT", "USA GOVT"),
    ("UNITED STATES GOV", "UNITED STATES GOV"),
    ("NYPD", "NYPD"),
    ("DEPT OF STATE", "DEPT OF STATE"),
    ("DEPT OF HEALTH", "DEPT OF HEALTH"),
]


@pytest.mark.parametrize(("name", "shown"), SHORT_FORMS)
def test_authority_names_with_short_forms_are_caught_like_the_full_words(rules, name, shown):
    result = rules.check(name)
    assert result.reason_code is Reason.NAME_MISLEADING, result.reason
    assert result.reason.startswith(f'contains "{shown}", which impersonates an authority')


@pytest.mark.parametrize(
    "name", ["ACME CT", "GEN Z CAFE", "SEC FILINGS", "FED EX", "DIST WAREHOUSE", "HWY 99 DINER"]
)
def test_a_short_form_alone_is_no_authority(rules, name):
    assert rules.check(name).reason_code not in CONTENT


def test_the_word_list_is_read_offline_once_and_splits_only_into_known_words():
    lexicon = Lexicon.shared()
    assert Lexicon.shared() is lexicon and len(lexicon) > 300_000
    assert lexicon.split("BESTSHITDEALS") == ("BEST", "SHIT", "DEALS")
    assert lexicon.split("SCUNTHORPE") is None  # a word: left as it is
    assert lexicon.split("POLICEMANS") is None  # a word with an S
    assert lexicon.split("QZXJQZXJQ") is None  # no reading in words only
    small = Lexicon({"best": 10.0, "deals": 5.0, "bestdeals": 0.0})
    assert small.split("BESTDEALS") == ("BEST", "DEALS")  # a zero count is no word
    assert small.split("BESTXDEALS") is None  # no lone letter but A and I


def test_the_word_list_holds_each_words_log_share_and_the_dictionary_as_shipped():
    """The bulk reading gives exactly what reading line by line gives (the splits compare sums of
    these numbers, so a last-bit difference could change a tie)."""
    package = resources.files("wordsegment")
    counts = {}
    for line in package.joinpath("unigrams.txt").read_text("utf-8").splitlines():
        word, _, count = line.partition("\t")
        counts[word.upper()] = float(count)
    total = sum(counts.values())
    lexicon = Lexicon.shared()
    assert lexicon._logp == {w: math.log10(c / total) for w, c in counts.items() if c > 0}
    words = package.joinpath("words.txt").read_text("utf-8").split()
    assert lexicon.dictionary == {w.upper() for w in words}


def test_every_line_of_short_forms_txt_is_read():
    text = (Path(__file__).parents[1] / "pipeline/rules/data/short_forms.txt").read_text("utf-8")
    assert text.startswith("# short_forms.txt: ")
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    forms = ShortForms.parse(text)
    for line in lines:
        full, _, shorts = line.partition("=")
        for short in shorts.split(","):
            expanded = forms.expand(short.split())
            assert expanded is not None and expanded[0] == [full.strip()], line
