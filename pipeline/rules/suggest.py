"""Shortened names to suggest for a name too long for caller ID, written the way a person
shortens one (cnam-rules.md: "drop legal suffixes ...; abbreviate; cut at a word boundary").

Steps, each taken only while the name is still too long; every step yields a candidate and
the first one that fits in 15 characters and passes every rule wins:
  1. drop what carries no identity: a leading THE, then legal forms and share classes at the
     end (INC, CORP, CO, LLC, LTD, PLC, N.V., CLASS A), then HOLDINGS, GROUP or COMPANIES at
     the end, one at a time: "THE GOLDMAN SACHS GROUP, INC." -> "GOLDMAN SACHS";
  2. standard abbreviations from data/abbreviations.txt (INTERNATIONAL -> INTL, SERVICES ->
     SVCS), the biggest saving first, later words before the first word on a tie;
  3. tighten: AND -> &, "A & B" -> "A&B", commas and final periods dropped, then OF, THE
     and FOR inside the name;
  4. shorten the longest remaining word, one step at a time: inner vowels dropped after the
     first syllable (MATERIALS -> MATRLS), then after the first letter (MTRLS), then the first
     syllable alone (MAT); in this first pass no word goes below four letters (a standard
     abbreviation stays as it is). The first word is kept whole; a form that is a blocked word
     on its own (DICKINSON -> DICK, FITCH -> FTC) is skipped;
  5. initials, the way businesses write them, when the words do not fit that way: first the
     listed ones of data/acronyms.txt (VANDERBILT UNIVERSITY MEDICAL CENTER -> VANDERBILT
     UMC, CITIBANK NATIONAL ASSOCIATION -> CITIBANK NA), then the trailing words as one
     acronym of 3-5 letters after two words at least, as many words kept as fit (PAUL WEISS
     RIFKIND WHARTON & GARRISON -> PAUL WEISS RWG), two words joined by & as X&Y (FIVE GUYS
     BURGERS AND FRIES -> FIVE GUYS B&F);
  6. step 4 again down to three letters, two for one word at most (MT); a standard
     abbreviation only loses a vowel (NATL -> NTL);
  7. the last initials: two trailing standard abbreviations as two letters (JIFFY LUBE SVC
     CTR -> JIFFY LUBE SC), and an acronym after the first word alone for a list of partners
     (SKADDEN, ARPS, SLATE, MEAGHER & FLOM -> SKADDEN ASMF) or a tail holding listed initials
     (VIRGINIA MASON MEDICAL CENTER -> VIRGINIA MMC);
  8. only then drop trailing words, shortening what is left again as little as needed;
  9. a first word too long on its own (16+ letters) loses its inner vowels.
An acronym never splits a hyphenated name, never starts after & or OF, and is never a blocked
word (ACE TOOL FISHER BAILEY INGRAM is not ACE TOOL FBI).
A word never becomes a lone initial, and a result with fewer than two letters is not offered:
when nothing valid can be derived the suggestion is "". The steps depend on the name alone,
so the same name always gets the same suggestion.

Cost: only names over 15 characters get here, once per unique name; a typical name takes a
few candidates and one or two rule checks, tens of microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from importlib import resources
from types import MappingProxyType

MAX_LENGTH = 15

# Legal forms, dropped from the end of a name all at once (step 1).
LEGAL_SUFFIXES = frozenset(
    {
        "LLC", "INC", "INCORPORATED", "CORP", "CORPORATION", "CO", "COMPANY", "LTD", "LIMITED",
        "LLP", "LP", "LLLP", "PLLC", "PC", "PA", "PLC", "GMBH", "DBA", "NV", "NA", "SA", "AG",
        "SE", "AB", "BV",
    }
)  # fmt: skip
# Words that say a business is a group of others, dropped from the end one at a time, only
# while the name is too long: "SMITH HOLDINGS GROUP" -> "SMITH HOLDINGS".
GROUP_SUFFIXES = frozenset({"HOLDINGS", "HOLDING", "GROUP", "COMPANIES"})
# Words after which a share class letter follows: "CLASS A", "CL B", "SERIES C".
SHARE_CLASS = frozenset({"CLASS", "CL", "SERIES"})
# Little words dropped inside a name in step 3, and never left dangling at its end.
INNER_SMALL = ("OF", "THE", "FOR")
DANGLING = frozenset({"&", "AND", "OF", "THE", "FOR", "-", "/", "+", "AT", "@", "IN", "ON"})

_VOWELS = frozenset("AEIOU")


def _read_abbreviations(filename: str = "abbreviations.txt") -> dict[tuple[str, ...], str]:
    text = resources.files("pipeline.rules").joinpath("data", filename).read_text("utf-8")
    table: dict[tuple[str, ...], str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            full, short = (part.strip().upper() for part in line.split("=", 1))
            table[tuple(full.split())] = short
    return table


PHRASE_ABBREVIATIONS = MappingProxyType(_read_abbreviations())
ABBREVIATIONS = MappingProxyType(
    {full[0]: short for full, short in PHRASE_ABBREVIATIONS.items() if len(full) == 1}
)
_PHRASES = tuple(
    (full, short) for full, short in PHRASE_ABBREVIATIONS.items() if len(full) > 1
)  # few; tried by their first word
_PHRASE_FIRSTS = frozenset(full[0] for full, _ in _PHRASES)
_SHORT_FORMS = frozenset(PHRASE_ABBREVIATIONS.values())  # already as short as a reader knows
# Initials several words are written with (MEDICAL CENTER = MC), used in step 4b only.
ACRONYMS = MappingProxyType(_read_abbreviations("acronyms.txt"))

_TWO_LETTERS = re.compile(r"[A-Za-z].*[A-Za-z]")
_JOINERS = re.compile(r"([-/])")
_HYPHENS = frozenset({"-", "/"})  # a word after one is part of a name: SNAP-ON
_LEADING = frozenset({"&", "-", "/", "+"})  # never the start of a suggestion


def _core(word: str) -> str:
    """A word without its punctuation, for looking it up: "L.L.C.," -> "LLC"."""
    return word.replace(".", "").replace(",", "") if "." in word or "," in word else word


def _tidy(words: list[str]) -> list[str]:
    """Drop dangling connectors and trailing punctuation at the end of a cut name."""
    words = list(words)
    while words and (
        (words[-1] in DANGLING and not (len(words) > 1 and words[-2] in _HYPHENS))
        or not any(c.isalnum() for c in words[-1])
    ):
        words.pop()
    if words:
        words[-1] = words[-1].rstrip(",-/&+.")
        if not words[-1]:
            words.pop()
    return words


def _split(name: str) -> list[str]:
    """The name's words, with "-" and "/" between two words as words of their own, so that
    ARCHER-DANIELS-MIDLAND can be shortened word by word."""
    words = []
    for word in name.split():
        if ("-" in word or "/" in word) and len(word) > 2:
            words += [part for part in _JOINERS.split(word) if part]
        else:
            words.append(word)
    return words


def _join(words: list[str], tight: bool) -> str:
    text = " ".join(words)
    if "-" in words or "/" in words:
        text = text.replace(" - ", "-").replace(" / ", "/")
    return text.replace(" & ", "&") if tight else text


# -- word forms (step 4) ------------------------------------------------------------------------


def _first_syllable(word: str) -> int:
    """Where the first syllable ends: leading consonants, the first vowels (Y counts after the
    first letter), the consonants after them. "MATERIALS" -> 3 (MAT), "MACHINES" -> 4 (MACH)."""
    n = len(word)
    i = 0
    while i < n and word[i] not in _VOWELS and not (i and word[i] == "Y"):
        i += 1
    while i < n and (word[i] in _VOWELS or (i and word[i] == "Y")):
        i += 1
    while i < n and word[i] not in _VOWELS and word[i] != "Y":
        i += 1
    return i


def _consonants(text: str, before: str) -> str:
    """`text` without A E I O U and without a letter repeating the one before it."""
    out = []
    last = before
    for ch in text:
        if ch in _VOWELS or ch == last:
            continue
        out.append(ch)
        last = ch
    return "".join(out)


def word_forms(word: str) -> list[str]:
    """Ever shorter forms of one word, the word itself first: MATERIALS, MATRLS, MTRLS, MAT,
    MT. Only words of letters are shortened; a form keeps at least two letters."""
    original = word
    if word.endswith(("'S", "S'")) and word[:-2].isalpha():
        word = word[:-2] + "S"  # CHILDREN'S -> CHILDRNS
    if len(word) < 4 or not word.isalpha() or not word.isupper():
        return [original]
    cut = _first_syllable(word)
    head = word[:cut]
    while len(head) > 2 and head[-1] == head[-2]:
        head = head[:-1]  # BLIZZARD -> BLIZ, not BLIZZ
    bare = word[0] + _consonants(word[1:], word[0])
    forms = [bare]
    if len(word) > 4:  # CARE -> CR, never CAR
        forms.insert(0, head + _consonants(word[cut:], head[-1]))
        if len(head) >= 3 or (len(head) == 2 and word[0] in _VOWELS):
            forms.append(head)
    forms += [bare[:3], bare[:2]]
    out = [original]
    for form in forms:
        if 2 <= len(form) < len(out[-1]):
            out.append(form)
    return out


def _shrink(
    words: list[str],
    tight: bool,
    usable: Callable[[str], bool],
    known: dict[str, list[str]],
    floor: int = 2,
    frozen: frozenset[str] = frozenset(),
) -> Iterator[str]:
    """Step 4: the longest word not yet at its shortest form takes its next form, again and
    again; the first word only when it does not fit on its own. With `floor`, no word is cut
    below that many letters (a standard abbreviation stays usable); `frozen` words (acronyms)
    keep their form."""
    forms = [known[w] if w in known else known.setdefault(w, word_forms(w)) for w in words]
    for i, word in enumerate(words):
        if word in _SHORT_FORMS:  # NATL may lose its vowel (NTL), SVCS become SVC, MGMT stays
            bare = word[0] + _consonants(word[1:], word[0])
            forms[i] = [word] + [
                f
                for f in (bare, word[:-1])
                if 3 <= len(f) < len(word) and (f == bare or f in _SHORT_FORMS)
            ]
    for i, word in enumerate(words):
        if word in frozen or (floor > 2 and word in _SHORT_FORMS):
            forms[i] = [word]
        elif floor > 2:
            forms[i] = forms[i][:1] + [f for f in forms[i][1:] if len(f) >= floor]
    first_fits = len(words[0]) <= MAX_LENGTH
    forms[0] = forms[0][:1] if first_fits else forms[0][:3]  # never its first syllable alone
    level = [0] * len(words)
    current = list(words)
    two = False  # one word at most is cut to two letters
    while len(_join(current, tight)) > MAX_LENGTH:
        best = -1
        for i in range(len(words) - 1, -1, -1):
            if (
                level[i] + 1 < len(forms[i])
                and not (two and len(forms[i][level[i] + 1]) == 2)
                and (best < 0 or len(current[i]) > len(current[best]))
            ):
                best = i
        if best < 0:
            return
        level[best] += 1
        form = forms[best][level[best]]
        if form != words[best] and not usable(form):
            continue  # a form that is a blocked word on its own is never shown
        current[best] = form
        two = two or len(form) == 2
        yield _join(current, tight)


# -- the steps -----------------------------------------------------------------------------------


def _drop_identityless(words: list[str]) -> Iterator[list[str]]:
    """Step 1: a leading THE; legal forms and share classes at the end; then HOLDINGS, GROUP,
    COMPANIES at the end, one at a time."""
    dropped = False
    if len(words) > 1 and words[0] == "THE":
        words, dropped = words[1:], True
    while len(words) > 1:
        last = _core(words[-1])
        if len(words) > 2 and _core(words[-2]) in SHARE_CLASS and len(last) == 1:
            words = _tidy(words[:-2])
        elif last in LEGAL_SUFFIXES:
            words = _tidy(words[:-1])
        else:
            break
        dropped = True
    if dropped and words:
        yield words
    while len(words) > 1 and _core(words[-1]) in GROUP_SUFFIXES:
        words = _tidy(words[:-1])
        while len(words) > 1 and _core(words[-1]) in LEGAL_SUFFIXES:
            words = _tidy(words[:-1])  # "SMITH & CO HOLDINGS"
        if words:
            yield words


def _abbreviations(words: list[str]) -> Iterator[list[str]]:
    """Step 2: standard abbreviations, the biggest saving first (later words first on a tie)."""
    words = list(words)
    cores = [_core(w) for w in words]
    if not _PHRASE_FIRSTS.isdisjoint(cores):
        for full, short in _PHRASES:
            n = len(full)
            for i in range(len(cores) - n + 1):
                if tuple(cores[i : i + n]) == full:
                    words[i : i + n] = [short + words[i + n - 1][len(cores[i + n - 1]) :]]
                    cores[i : i + n] = [short]
                    yield list(words)
                    break
    order = sorted(
        (i for i, core in enumerate(cores) if core in ABBREVIATIONS),
        key=lambda i: (len(ABBREVIATIONS[cores[i]]) - len(cores[i]), -i),
    )
    for i in order:
        if len(" ".join(words)) <= MAX_LENGTH:
            return
        short = ABBREVIATIONS[cores[i]]
        words[i] = words[i].replace(cores[i], short, 1) if cores[i] in words[i] else short
        yield list(words)


def _tighten(words: list[str]) -> Iterator[tuple[list[str], bool]]:
    """Step 3: AND as &, & without spaces, punctuation off word ends, OF/THE/FOR inside."""
    if "AND" in words[1:-1]:
        words = [("&" if w == "AND" and 0 < i < len(words) - 1 else w) for i, w in enumerate(words)]
        yield words, False
    tight = "&" in words[1:-1]
    if tight:
        yield words, True
    if any(w[-1] in ",." for w in words):
        words = [w.rstrip(",.") or w for w in words]
        yield words, tight
    for small in INNER_SMALL:
        if small in words[1:-1]:
            words = [w for i, w in enumerate(words) if w != small or i == 0 or i == len(words) - 1]
            yield words, tight


GENTLE = 4  # step 4: no word below four letters, unless a standard abbreviation
# Words an acronym skips, as a business writes its initials (WHARTON & GARRISON -> WG).
ACRONYM_SKIP = frozenset({"&", "AND", "OF", "THE", "FOR", "A", "AN", "-", "/", "+", "@", "AT"})
_LISTED = frozenset(ACRONYMS.values())
_INITIALS = frozenset(short for _, short in _PHRASES) | _LISTED


# each phrase of acronyms.txt as written in full and with standard abbreviations, longest first
_LISTED_PHRASES = tuple(
    (full, tuple(ABBREVIATIONS.get(w, w) for w in full), short)
    for full, short in sorted(ACRONYMS.items(), key=lambda item: (-len(item[0]), item[0]))
)


def _listed_acronyms(words: list[str]) -> list[str]:
    """The words with each phrase of acronyms.txt as its acronym, the phrase written in full or
    with its standard abbreviations (MEDICAL CENTER or MED CTR -> MC), longest phrase first."""
    cores = [_core(w) for w in words]
    out: list[str] = []
    i = 0
    while i < len(words):
        for full, abbreviated, short in _LISTED_PHRASES:
            here = tuple(cores[i : i + len(full)])
            if here in (full, abbreviated):
                out.append(short)
                i += len(full)
                break
        else:
            out.append(words[i])
            i += 1
    return out


def _acronym(words: list[str], least: int = 3) -> str:
    """The first letters of `words` as one word of 3-5 letters (a listed short form such as NY
    or MC keeps all its letters), X&Y for two words joined by & or AND, or "" when they do not
    make one (a hyphenated name, a word that does not start with a letter)."""
    if any(w in _HYPHENS for w in words):
        return ""
    letters = []
    for word in words:
        core = "".join(c for c in _core(word) if c.isalnum())
        if word in ACRONYM_SKIP or not core:
            continue
        if not core[0].isalpha():
            return ""
        letters.append(core if core in _INITIALS else core[0])
    if len(words) == 3 and words[1] in ("&", "AND") and len(letters) == 2:
        return "&".join(letters)  # PLUMBING & HEATING -> P&H
    text = "".join(letters)
    return text if least <= len(text) <= 5 and len(letters) >= 2 else ""


def _with_listed(
    words: list[str], tight: bool, usable: Callable[[str], bool], known: dict[str, list[str]]
) -> tuple[list[str], list[str]]:
    """Step 5: the words with the initials of acronyms.txt (VANDERBILT UNIVERSITY MEDICAL
    CENTER -> VANDERBILT UMC), and the candidates they give with words of four letters at
    least; the words unchanged when none applies or one would be a blocked word."""
    listed = _listed_acronyms(words)
    frozen = frozenset(w for w in listed if w in _LISTED)
    if listed == words or not all(usable(w) for w in frozen):
        return words, []
    shrunk = _shrink(listed, tight, usable, known, floor=GENTLE, frozen=frozen)
    return listed, [_join(listed, tight), *shrunk]


def _any_tail(tail: list[str]) -> bool:
    return True


def _acronyms(
    words: list[str],
    tight: bool,
    usable: Callable[[str], bool],
    known: dict[str, list[str]],
    *,
    kept: int = 2,
    least: int = 3,
    tails: Callable[[list[str]], bool] = _any_tail,
) -> Iterator[str]:
    """Steps 5 and 7: the trailing words as one acronym, the way businesses brand
    themselves (PAUL WEISS RIFKIND WHARTON & GARRISON -> PAUL WEISS RWG), after `kept` words
    at least (a hyphenated name counts as one), as many kept as fit; an acronym of `least`
    letters at least, of a tail that `tails` accepts. Never starts after & or OF, never
    splits a hyphenated name, never is a blocked word."""
    names = [  # where a word of the name starts
        i
        for i, word in enumerate(words)
        if word not in ACRONYM_SKIP and (i == 0 or words[i - 1] not in _HYPHENS)
    ]
    starts = [i for i in names[kept:] if words[i - 1] not in ACRONYM_SKIP]
    for keep in reversed(starts):
        head, tail = _tidy(words[:keep]), words[keep:]
        acronym = _acronym(tail, least)
        if not head or not acronym or not tails(tail) or not usable(acronym):
            continue
        yield _join(head + [acronym], tight)
        yield from _shrink(
            head + [acronym], tight, usable, known, floor=GENTLE, frozen=frozenset({acronym})
        )


def _standard(tail: list[str]) -> bool:
    """Every word of `tail` is a standard abbreviation (SVC CTR, PPTY MGMT)."""
    return all(_core(w) in _SHORT_FORMS for w in tail if w not in ACRONYM_SKIP)


def _holds_listed(tail: list[str]) -> bool:
    """`tail` holds initials of acronyms.txt (MASON MC -> MMC)."""
    return any(w in _LISTED for w in tail)


def _partners(words: list[str]) -> bool:
    """The name lists partners: "SKADDEN, ARPS, SLATE, MEAGHER & FLOM"."""
    return any(w.endswith(",") for w in words[:-1]) and ("&" in words or "AND" in words)


def _candidates(name: str, usable: Callable[[str], bool]) -> Iterator[str]:
    """Ever shorter rewrites of `name`, in the order of the module docstring."""
    words = _split(name)
    words = _tidy(words) or words  # "ACME AND" -> "ACME"
    while len(words) > 1 and words[0] in _LEADING:
        words = words[1:]
    for step in _drop_identityless(words):
        words = step
        yield _join(words, False)
    for step in _abbreviations(words):
        words = step
        yield _join(words, False)
    partners = _partners(words)
    tight = False
    for step, tight in _tighten(words):
        words = step
        yield _join(words, tight)
    known: dict[str, list[str]] = {}  # the forms of each word, worked out once
    yield from _shrink(words, tight, usable, known, floor=GENTLE)
    initials, listed = _with_listed(words, tight, usable, known)
    yield from listed
    yield from _acronyms(initials, tight, usable, known)
    yield from _shrink(words, tight, usable, known)
    yield from _acronyms(initials, tight, usable, known, least=2, tails=_standard)
    yield from _acronyms(
        initials,
        tight,
        usable,
        known,
        kept=1,
        tails=_any_tail if partners else _holds_listed,
    )
    for keep in range(len(words) - 1, 0, -1):
        cut = _tidy(words[:keep])
        if cut:
            yield _join(cut, tight)
            yield from _shrink(cut, tight, usable, known)


def shorten(name: str, passes: Callable[[str], bool]) -> str:
    """The first rewrite of `name` that fits in 15 characters, keeps two letters and passes
    every rule (`passes`), or "" when there is none."""
    if not name.split():
        return ""
    for candidate in _candidates(name, passes):
        if len(candidate) <= MAX_LENGTH and _TWO_LETTERS.search(candidate) and passes(candidate):
            return candidate
    return ""
