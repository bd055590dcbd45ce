"""The sandbox's stand-in for Flowroute's human review of a CNAM value.

Flowroute reviews every record by hand and rejects misleading, political, profane,
phone-number-like, too-short and generic values (flowroute-api.md §5, rules 3-4). The sandbox needs
a reviewer that says no the way a person would, so that demos and tests see real
`rejection_reason`s. It is deliberately small and self-contained: it is not the pipeline's
validator (`pipeline.rules.validate`), and it must not import it, or a validator bug would hide itself by
agreeing with the server.
"""

from __future__ import annotations

import re

# Whole tokens that impersonate an authority or an emergency service.
_MISLEADING_WORDS = frozenset(
    {
        "POLICE", "SHERIFF", "SHERIFFS", "FBI", "IRS", "CIA", "DEA", "SSA", "ATF", "GOVERNMENT",
        "GOVT", "911", "MEDICARE", "MEDICAID", "MARSHAL", "MARSHALS", "TROOPER", "HOMELAND",
    }
)  # fmt: skip
_MISLEADING_PHRASES = ("SOCIAL SECURITY", "STATE PATROL", "US TREASURY", "DEPT OF JUSTICE")

# Political figures and places (the docs' own examples are "Obama, Barack" and "The White House").
_POLITICAL_WORDS = frozenset({"OBAMA", "TRUMP", "BIDEN", "CLINTON", "CONGRESS", "SENATE"})
_POLITICAL_PHRASES = ("WHITE HOUSE", "THE PRESIDENT")

_PROFANE_WORDS = frozenset({"FUCK", "FUCKING", "SHIT", "BITCH", "ASSHOLE", "CUNT", "DICK", "PISS"})

# A value made only of these words (digits aside) tells the called party nothing.
_GENERIC_WORDS = frozenset(
    {
        "TEST", "TESTING", "UNKNOWN", "CALLER", "NAME", "PRIVATE", "ANONYMOUS", "WIRELESS",
        "CUSTOMER", "SERVICE", "SVC", "CELL", "PHONE", "MOBILE", "NUMBER", "USER", "NONE",
        "NULL", "NO",
        "UNAVAILABLE", "BLOCKED", "RESTRICTED", "DEFAULT", "SAMPLE", "EXAMPLE", "CNAM", "ID",
        "CALLERID", "OUT", "OF", "AREA",
    }
)  # fmt: skip

GENERIC_REASON = "Generic names are not allowed: use the business name"
PROFANITY_REASON = "Profanity and inappropriate language are not allowed"
PHONE_NUMBER_REASON = "A phone number is not allowed as a caller ID name"
TOO_SHORT_REASON = "Too short: a caller ID name needs more than one letter"

_TOKEN = re.compile(r"[A-Z0-9]+")


def _tokens(value: str) -> list[str]:
    """Split into letter/digit runs, joining spelled-out letters (F.B.I., F B I) into one token."""
    out: list[str] = []
    letters = ""
    for token in _TOKEN.findall(value.upper()):
        if len(token) == 1 and token.isalpha():
            letters += token
            continue
        if letters:
            out.append(letters)
            letters = ""
        out.append(token)
    if letters:
        out.append(letters)
    return out


def _first_hit(tokens: list[str], words: frozenset[str], phrases: tuple[str, ...]) -> str | None:
    joined = f" {' '.join(tokens)} "
    for phrase in phrases:
        if f" {phrase} " in joined:
            return phrase
    return next((t for t in tokens if t in words), None)


def review(value: str) -> str | None:
    """The rejection reason a reviewer would give `value` (stored uppercased), or None."""
    tokens = _tokens(value)
    if any(t in _PROFANE_WORDS for t in tokens):
        return PROFANITY_REASON
    hit = _first_hit(tokens, _MISLEADING_WORDS, _MISLEADING_PHRASES)
    if hit:
        return f"Misleading caller ID: {hit} impersonates a government agency or emergency service"
    hit = _first_hit(tokens, _POLITICAL_WORDS, _POLITICAL_PHRASES)
    if hit:
        return f"Political figures and places are not allowed: {hit}"
    if sum(c.isdigit() for c in value) >= 7:
        return PHONE_NUMBER_REASON
    if sum(c.isalpha() for c in value) < 2:
        return TOO_SHORT_REASON
    words = [t for t in tokens if not t.isdigit()]
    if all(t in _GENERIC_WORDS for t in words):
        return GENERIC_REASON
    return None
