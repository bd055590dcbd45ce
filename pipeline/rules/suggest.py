"""Shortened names to suggest for name_too_long (cnam-rules.md: "drop legal suffixes such as
LLC, INC, CORP, CO, LTD, THE; abbreviate; cut at a word boundary").

Steps, each tried only while the name is still too long, the first result that passes every
rule wins:
  1. drop legal suffixes at the end ("ACME PLUMBING, LLC") and a leading THE;
  2. abbreviate common words the way US business listings do (SERVICES->SVCS,
     INTERNATIONAL->INTL), the longest saving first, one word at a time;
  3. cut at a word boundary, keeping as many leading words as fit, without a dangling "&",
     "AND", "OF" or trailing punctuation.
A word is never cut in the middle, and a result with fewer than two letters is not offered:
when nothing valid can be derived the suggestion is "".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from types import MappingProxyType

MAX_LENGTH = 15

LEGAL_SUFFIXES = frozenset(
    {
        "LLC", "INC", "INCORPORATED", "CORP", "CORPORATION", "CO", "COMPANY", "LTD", "LIMITED",
        "LLP", "LP", "PLLC", "PC", "PA", "PLC", "GMBH", "DBA",
    }
)  # fmt: skip
DANGLING = frozenset({"&", "AND", "OF", "THE", "-", "/", "+", "AT", "@"})

ABBREVIATIONS = MappingProxyType(
    {
        "ACCOUNTING": "ACCTG", "ADVERTISING": "ADV", "AGENCY": "AGCY", "AMERICAN": "AMER",
        "APARTMENTS": "APTS", "ASSOCIATES": "ASSOC", "ASSOCIATION": "ASSN",
        "ATTORNEYS": "ATTYS", "ATTORNEY": "ATTY", "AUTOMOTIVE": "AUTO", "AVENUE": "AVE",
        "BOULEVARD": "BLVD", "BROTHERS": "BROS", "BUILDING": "BLDG", "CENTER": "CTR",
        "CENTRE": "CTR", "COMMUNICATIONS": "COMM", "COMMUNITY": "CMNTY",
        "CONSTRUCTION": "CONSTR", "CONSULTANTS": "CONSLTS", "CONSULTING": "CONSLTG",
        "CONTRACTORS": "CONTRS", "COUNTY": "CNTY", "DELICATESSEN": "DELI",
        "DEPARTMENT": "DEPT", "DEVELOPMENT": "DEV", "DISTRIBUTION": "DISTR",
        "DISTRIBUTORS": "DISTR", "DIVISION": "DIV", "EDUCATION": "EDUC",
        "ELECTRICAL": "ELEC", "ELECTRIC": "ELEC", "ENGINEERING": "ENGRG",
        "ENTERPRISES": "ENT", "ENTERPRISE": "ENT", "ENVIRONMENTAL": "ENVIRO",
        "EQUIPMENT": "EQUIP", "FINANCIAL": "FIN", "FOUNDATION": "FNDN", "GROUP": "GRP",
        "HEATING": "HTG", "HOLDINGS": "HLDGS", "HOSPITAL": "HOSP", "INDUSTRIES": "INDS",
        "INFORMATION": "INFO", "INSTITUTE": "INST", "INSURANCE": "INS",
        "INTERNATIONAL": "INTL", "INVESTMENTS": "INVST", "LABORATORIES": "LABS",
        "LABORATORY": "LAB", "MAINTENANCE": "MAINT", "MANAGEMENT": "MGMT",
        "MANUFACTURING": "MFG", "MARKETING": "MKTG", "MEDICAL": "MED", "MOUNTAIN": "MTN",
        "MOUNT": "MT", "NATIONAL": "NATL", "NORTHEAST": "NE", "NORTHWEST": "NW",
        "PARTNERS": "PTNRS", "PHARMACY": "PHARM", "PHOTOGRAPHY": "PHOTO",
        "PLUMBING": "PLBG", "PRODUCTS": "PRODS", "PROFESSIONAL": "PROF",
        "PROPERTIES": "PROPS", "REALTY": "RLTY", "RESOURCES": "RES",
        "RESTAURANT": "REST", "SAINT": "ST", "SCHOOL": "SCH", "SERVICES": "SVCS",
        "SERVICE": "SVC", "SOLUTIONS": "SOLNS", "SOUTHEAST": "SE", "SOUTHWEST": "SW",
        "STREET": "ST", "SYSTEMS": "SYS", "TECHNOLOGIES": "TECH", "TECHNOLOGY": "TECH",
        "TELECOMMUNICATIONS": "TELECOM", "TRANSPORTATION": "TRANSP", "UNITED": "UTD",
        "UNIVERSITY": "UNIV", "WHOLESALE": "WHSL",
    }
)  # fmt: skip


_ALNUM = re.compile(r"[A-Z0-9]")
_TWO_LETTERS = re.compile(r"[A-Za-z].*[A-Za-z]")


def _core(word: str) -> str:
    """A word without its punctuation, for looking it up: "L.L.C.," -> "LLC"."""
    return word.replace(".", "").replace(",", "") if "." in word or "," in word else word


def _tidy(words: list[str]) -> list[str]:
    """Drop dangling connectors and trailing punctuation at the end of a cut name."""
    words = list(words)
    while words and (words[-1] in DANGLING or not _ALNUM.search(words[-1])):
        words.pop()
    if words:
        words[-1] = words[-1].rstrip(",-/&+.")
        if not words[-1]:
            words.pop()
    return words


def _candidates(name: str) -> Iterator[str]:
    """Ever shorter rewrites of `name`, in the order of the module docstring."""
    words = name.split()
    while len(words) > 1 and _core(words[-1]) in LEGAL_SUFFIXES:
        words = _tidy(words[:-1])
    if len(words) > 1 and words[0] == "THE":
        words = words[1:]
    words = _tidy(words) or name.split()
    yield " ".join(words)

    cores = [_core(w) for w in words]
    order = sorted(
        (i for i, core in enumerate(cores) if core in ABBREVIATIONS),
        key=lambda i: len(ABBREVIATIONS[cores[i]]) - len(cores[i]),
    )
    for i in order:
        if len(" ".join(words)) <= MAX_LENGTH:
            break
        short = ABBREVIATIONS[cores[i]]
        words[i] = words[i].replace(cores[i], short, 1) if cores[i] in words[i] else short
        yield " ".join(words)

    for keep in range(len(words) - 1, 0, -1):
        cut = _tidy(words[:keep])
        if cut:
            yield " ".join(cut)


def shorten(name: str, passes: Callable[[str], bool]) -> str:
    """The first rewrite of `name` that fits in 15 characters, keeps two letters and passes
    every rule (`passes`), or "" when there is none."""
    for candidate in _candidates(name):
        if len(candidate) <= MAX_LENGTH and _TWO_LETTERS.search(candidate) and passes(candidate):
            return candidate
    return ""
