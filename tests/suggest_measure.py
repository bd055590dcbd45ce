"""How good the suggestions for too-long names are, measured on a list of real business names
(tests/data/long_business_names.txt). Used by tests/test_suggest.py (thresholds) and
bench/bench_suggest.py (figures and examples).

Definitions (issue 11):
- a name counts when the rules reject it as name_too_long, or as name_bad_characters with a
  transliteration still too long: the names a suggestion has to shorten;
- distinctive words: the name's words without legal forms, share classes, HOLDINGS, GROUP,
  COMPANIES, and THE/OF/AND/FOR/A; a word is represented when a word of the suggestion starts
  with its first letter, in order (words of the suggestion split at spaces, &, / and -);
  a short form of several words of abbreviations.txt (NY for NEW YORK) represents each of
  them;
- acronym counting (the `represented` figure; `represented_plain` leaves it out): a word of
  the suggestion of 2-5 letters that spells the first letters of that many consecutive
  distinctive words, in order, represents each of them: RWG in PAUL WEISS RWG stands for
  RIFKIND, WHARTON, GARRISON, MC in CEDARS-SINAI MC for MEDICAL, CENTER. That is what "at
  least by its first letter" asks, but a reader has to know the initials; both figures are
  reported so that neither is mistaken for the other. A word that happens to spell the next
  words' initials counts too (rare: ST before SOUTH TEXAS);
- first word kept: the suggestion's first word is the first distinctive word, whole or as its
  standard abbreviation (AMER for AMERICAN); "strict" counts only the whole word;
- a lone invented initial: a one-letter word of the suggestion that is not a one-letter word
  of the name ("R E E");
- every suggestion must pass every rule, without a blocked term inside a word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.model import Reason, Warn
from pipeline.rules.normalize import normalize_name
from pipeline.rules.suggest import ABBREVIATIONS, PHRASE_ABBREVIATIONS
from pipeline.rules.validate import NameRules
from pipeline.rules.wordlists import to_ascii_name

NAMES_FILE = Path(__file__).parent / "data" / "long_business_names.txt"

NOT_DISTINCTIVE = frozenset(
    {
        "LLC", "INC", "INCORPORATED", "CORP", "CORPORATION", "CO", "COMPANY", "LTD", "LIMITED",
        "LLP", "LP", "PLLC", "PC", "PA", "PLC", "NV", "NA", "SA", "AG", "GMBH", "HOLDINGS",
        "HOLDING", "GROUP", "COMPANIES", "THE", "OF", "AND", "FOR", "",
    }
)  # fmt: skip
SHARE_CLASS = frozenset({"CLASS", "CL", "SERIES"})
# short forms of several words (NY for NEW YORK) represent each of them
PHRASES = {short: full for full, short in PHRASE_ABBREVIATIONS.items() if len(full) > 1}

_SPLIT = re.compile(r"[ &/\-+]+")


def read_names(path: Path = NAMES_FILE, section: str | None = None) -> list[str]:
    """The names of the list, or of one section of it ("# [companies] ...")."""
    names, current = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("# ["):
            current = line[3:].split("]", 1)[0]
        elif line and not line.startswith("#") and section in (None, current):
            names.append(line)
    return names


def _words(name: str) -> list[str]:
    return ["".join(c for c in w if c.isalnum()) for w in name.split()]


def distinctive(name: str) -> list[str]:
    words = _words(name)
    out = []
    for i, word in enumerate(words):
        if word in SHARE_CLASS and i + 1 < len(words) and len(words[i + 1]) == 1:
            continue
        if i > 0 and len(word) == 1 and words[i - 1] in SHARE_CLASS:
            continue
        if word not in NOT_DISTINCTIVE:
            out.append(word)
    return out


def represented(name: str, suggestion: str, *, acronyms: bool = True) -> bool:
    """Every distinctive word of `name` has a word of `suggestion` starting with its letter,
    in order. With `acronyms`, a word of 2-5 letters that spells the first letters of that
    many consecutive distinctive words (RWG for RIFKIND WHARTON GARRISON) represents each of
    them. Counting acronyms never loses a word counted without them."""
    if acronyms and represented(name, suggestion, acronyms=False):
        return True
    tokens: list[str] = []
    for token in _SPLIT.split(suggestion):
        token = "".join(c for c in token if c.isalnum())
        tokens.extend(PHRASES.get(token, (token,)) if token in PHRASES else (token,))
    words = distinctive(name)
    i = j = 0
    while i < len(words):
        while j < len(tokens) and not (tokens[j] and tokens[j][0] == words[i][0]):
            j += 1
        if j == len(tokens):
            return False
        token = tokens[j]
        if (
            acronyms
            and 2 <= len(token) <= 5
            and token == "".join(w[0] for w in words[i : i + len(token)])
        ):
            i += len(token)
        else:
            i += 1
        j += 1
    return True


def first_word_kept(name: str, suggestion: str, *, strict: bool) -> bool:
    """The suggestion starts with the name's first distinctive word (its first part, when the
    word is joined by - / or &: ARCHER of ARCHER-DANIELS-MIDLAND, M of M&T)."""
    words = [w for w in _SPLIT.split(name) if w]
    kept = [w for w in distinctive(" ".join(words))]
    tokens = [t for t in _SPLIT.split(suggestion) if t]
    if not kept or not tokens:
        return False
    first, word = _words(tokens[0])[0], kept[0]
    if first == word:
        return True
    return not strict and (ABBREVIATIONS.get(word) == first or PHRASES.get(first, ("",))[0] == word)


def invented_initial(name: str, suggestion: str) -> bool:
    singles = {w for w in _words(name) if len(w) == 1}
    return any(len(w) == 1 and w.isalpha() and w not in singles for w in _words(suggestion))


@dataclass
class Figures:
    names: int = 0  # names on the list
    long: int = 0  # names a suggestion has to shorten
    offered: int = 0  # of those, with a suggestion
    represented: int = 0  # acronyms counted (see represented)
    represented_plain: int = 0  # acronyms not counted: each word needs a word of its own
    first_kept: int = 0
    first_kept_strict: int = 0
    invented: int = 0
    failing: list[tuple[str, str]] = field(default_factory=list)  # suggestions that fail a rule
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (name, suggestion)

    def share(self, count: int) -> float:
        return count / self.long if self.long else 0.0


def measure(rules: NameRules, names: list[str]) -> Figures:
    figures = Figures(names=len(names))
    for raw in names:
        name = normalize_name(raw)
        result = rules.check(name)
        if result.reason_code is Reason.NAME_BAD_CHARACTERS:
            if len(to_ascii_name(name)) <= 15:
                continue
            name = to_ascii_name(name)
        elif result.reason_code is not Reason.NAME_TOO_LONG:
            continue
        figures.long += 1
        suggestion = result.suggestion
        figures.pairs.append((raw, suggestion))
        if not suggestion:
            continue
        figures.offered += 1
        again = rules.check(suggestion)
        if again.reason_code is not None or Warn.NAME_EMBEDDED_TERM in again.warnings:
            figures.failing.append((raw, suggestion))
        figures.represented += represented(name, suggestion)
        figures.represented_plain += represented(name, suggestion, acronyms=False)
        figures.first_kept += first_word_kept(name, suggestion, strict=False)
        figures.first_kept_strict += first_word_kept(name, suggestion, strict=True)
        figures.invented += invented_initial(name, suggestion)
    return figures
