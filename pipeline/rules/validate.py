"""The CNAM name rules (cnam-rules.md "Name"): one reason per rejected name, a suggestion that
itself passes, and non-blocking warnings.

Order of the rules, first failure wins:
  1. name_empty.
  2. Content: name_profanity, name_misleading, name_political, name_blocklisted. These come
     before the format rules because no rewrite rescues such a name: reporting "too long" first
     would send the customer to shorten a name that Flowroute then rejects two days later, and a
     shortened suggestion could quietly drop the offending word. They read an ASCII
     transliteration of the name, so "FÜCK" or a Cyrillic "ФBI" cannot slip through.
  3. name_is_phone_number: a phone number in the name has no valid rewrite either, and it says
     more than "no letter" about "(206) 555-1234".
  4. name_no_letter: nothing to transliterate or shorten ("12345", "---").
  5. name_bad_characters: suggestion = transliterated (É->E), other disallowed characters
     dropped, shortened if it is then too long.
  6. name_too_long: suggestion = legal forms dropped, standard abbreviations, & tightened, long
     words shortened, then trailing words dropped (see suggest.py). Names are never truncated
     silently.
A suggestion is offered only if it passes every rule; otherwise it is "".

Matching is by whole words (see wordlists.py and profanity.py for the Scunthorpe problem).
Misleading and political terms marked "?" in their lists (ICE, COURT, MARSHAL, CONGRESS, WHITE
HOUSE ...) are ordinary words too: they block only when no word of commercial.txt (DELI, GRILL,
CREAM, PLUMBING, LLC, STREET ...) stands elsewhere in the name, so "ICE CREAM SHOP", "FOOD COURT"
and "COURT STREET DELI" pass while "ICE" and "THE WHITE HOUSE" do not. Unambiguous terms (FBI,
IRS, POLICE, SHERIFF, MEDICARE ...) always block. The allowlist (built-in plus --allowlist)
excuses built-in matches inside its words and phrases; nothing excuses the --blocklist.

Warnings, on names that pass: name_one_letter, name_embedded_term (a strong profane term inside
a longer word not on the allowlist), name_generic (every word a placeholder, city or state:
"CUSTOMER SERVICE", "SEATTLE, WA"), name_special_characters (- _ . , @ + & ' / ").

Political full names also match surname first ("OBAMA, BARACK" from "BARACK OBAMA").

`NameRules.check` is pure: no I/O, clock or logging. The usual name (A-Z/0-9 words and spaces)
costs a handful of str methods, two regex searches and two set tests; only names that contain a
listed term take the slower exact analysis. A `NameRules` is immutable once loaded and safe to
share between threads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.model import Reason, Warn
from pipeline.rules.profanity import DELEET, SQUEEZE, ProfanityMatcher
from pipeline.rules.suggest import shorten
from pipeline.rules.wordlists import (
    TOKEN_RE,
    Entry,
    PhraseIndex,
    Span,
    builtin_entries,
    merge_singles,
    read_entries,
    reversed_name,
    spans,
    to_ascii_name,
)

MAX_LENGTH = 15
SPECIAL_CHARACTERS = "-_.,@+&'/\""
ALLOWED_TEXT = "A-Z, 0-9, space and - _ . , @ + & ' / \""

_BAD_CHARS = re.compile(r"[^A-Z0-9 \-_.,@+&'/\"]")
_SPECIAL = re.compile(f"[{re.escape(SPECIAL_CHARACTERS)}]")
_LETTER = re.compile(r"[A-Z]")
_TWO_LETTERS = re.compile(r"[A-Z][^A-Z]*[A-Z]")
# 7 or more digits once separators are removed, or a vanity NANP shape such as 1-800-FLOWERS.
_PHONE = re.compile(
    r"[0-9](?:[ ().+/\-]*[0-9]){6}"
    r"|(?<![A-Z0-9])1[-. ]\(?[2-9][0-9]{2}\)?[-. ][A-Z0-9]{3}[-. ]?[A-Z0-9]{4}(?![A-Z0-9])"
)
# Two one-character words in a row ("F B I", "I.R.S."): the joined view must be matched too.
_SPACED = re.compile(r"(?<![A-Z0-9])[A-Z0-9][^A-Z0-9]+[A-Z0-9](?![A-Z0-9])")

_WHY = {
    Reason.NAME_MISLEADING: "which impersonates an authority",
    Reason.NAME_POLITICAL: "which names a political figure or place",
    Reason.NAME_BLOCKLISTED: "which is on your --blocklist",
}


@dataclass(frozen=True, slots=True)
class NameResult:
    """The verdict on one normalized name."""

    reason_code: Reason | None
    reason: str  # names the matched term and the rule; "" when the name passes
    suggestion: str  # a name that passes every rule, or ""
    warnings: tuple[Warn, ...] = ()


_PASS = NameResult(None, "", "")
_EMPTY = NameResult(
    Reason.NAME_EMPTY,
    "the name is empty; give the caller ID name to show, up to 15 characters (name_empty)",
    "",
)


def _shown(char: str) -> str:
    return char if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


class NameRules:
    """The word lists, loaded once; `check(name)` applies every rule to a normalized name."""

    def __init__(
        self,
        *,
        profanity: Sequence[Entry],
        misleading: Sequence[Entry],
        political: Sequence[Entry],
        commercial: Sequence[Entry],
        generic: Sequence[Entry],
        allow: Sequence[Entry],
        blocklist: Sequence[Entry] = (),
    ) -> None:
        political_all = list(political)
        political_all += [r for r in map(reversed_name, political) if r is not None]
        self._profanity = ProfanityMatcher(profanity, allow)
        self._allow = PhraseIndex(allow)
        self._rules = (
            (Reason.NAME_MISLEADING, PhraseIndex(misleading), True),
            (Reason.NAME_POLITICAL, PhraseIndex(political_all), True),
            (Reason.NAME_BLOCKLISTED, PhraseIndex(blocklist), False),
        )
        self._first_tokens = frozenset().union(*(index.first_tokens for _, index, _ in self._rules))
        self._commercial = frozenset(e.tokens[0] for e in commercial if len(e.tokens) == 1)
        self._generic = PhraseIndex(generic)
        self._generic_tokens = frozenset(t for e in generic for t in e.tokens)

    @classmethod
    def load(cls, blocklist: Path | None = None, allowlist: Path | None = None) -> NameRules:
        """The built-in lists plus the customer's files. InputError naming a file it cannot read."""
        allow = builtin_entries("allowlist.txt")
        if allowlist is not None:
            allow += read_entries(allowlist, "--allowlist")
        return cls(
            profanity=builtin_entries("profanity.txt"),
            misleading=builtin_entries("misleading.txt"),
            political=builtin_entries("political.txt"),
            commercial=builtin_entries("commercial.txt"),
            generic=builtin_entries("generic.txt"),
            allow=allow,
            blocklist=read_entries(blocklist, "--blocklist") if blocklist is not None else (),
        )

    def check(self, name: str) -> NameResult:
        """Apply every rule to `name` (already normalized with normalize_name)."""
        if not name:
            return _EMPTY
        failure, embedded, words, plain = self._failure(name)
        if failure is not None:
            code, reason = failure
            return NameResult(code, reason, self._suggest(name, code))
        warnings = self._warnings(name, words, embedded, plain)
        return NameResult(None, "", "", warnings) if warnings else _PASS

    def passes(self, name: str) -> bool:
        """Whether `name` passes every rule (used to vet suggestions)."""
        return bool(name) and self._failure(name)[0] is None

    # -- rules -----------------------------------------------------------------------------

    def _failure(self, name: str) -> tuple[tuple[Reason, str] | None, bool, list[str], bool]:
        """(first failing rule and its reason or None, whether a profane term is embedded in a
        word, the name's words, whether the name is only A-Z/0-9 and spaces). The usual name
        takes that plain path: str methods and two regex searches."""
        basis = name if name.isascii() else to_ascii_name(name)
        compact = basis.replace(" ", "")
        plain = compact.isalnum()  # words of A-Z/0-9 (or lowercase) and single spaces
        if plain:
            squeezed = compact if compact.isalpha() else compact.translate(DELEET)
            words = basis.split()
        else:
            squeezed = basis.translate(SQUEEZE)
            words = TOKEN_RE.findall(basis)
        hit = self._profanity.find(basis, squeezed, words if plain else None)
        if hit is not None and not hit.embedded:
            if hit.starts:
                what = f'which starts with the profanity "{hit.term}"'
            elif hit.shown == hit.term:
                what = "which is profanity"
            else:
                what = f'read as "{hit.term}", which is profanity'
            reason = f'contains "{hit.shown}", {what} (name_profanity)'
            return (Reason.NAME_PROFANITY, reason), False, words, plain
        if not self._first_tokens.isdisjoint(words) or _SPACED.search(basis):
            failure = self._phrase_failure(basis, words)
            if failure is not None:
                return failure, False, words, plain
        if (
            plain  # only A-Z/0-9 with at least one letter (isupper), short enough, no phone
            and name.isascii()
            and compact.isupper()
            and len(name) <= MAX_LENGTH
            and (compact.isalpha() or not _PHONE.search(name))
        ):
            return None, hit is not None, words, True
        return self._format_failure(name), hit is not None, words, False

    def _phrase_failure(self, basis: str, words: list[str]) -> tuple[Reason, str] | None:
        """Misleading, political and blocklisted terms, as whole-word sequences. `words` are
        the name's tokens; the joined view of single letters ("F.B.I.") is tried as well."""
        views: list[tuple[list[str], list[Span] | None]] = [(words, None)]
        if _SPACED.search(basis):
            merged = merge_singles(spans(basis))
            if merged is not None:
                views.append(([s.text for s in merged], merged))
        for code, index, excusable in self._rules:
            for view_words, view_spans in views:
                if index.first_tokens.isdisjoint(view_words):
                    continue
                masked: list[bool] | None = None
                for i, j, entry in index.matches(view_words):
                    if excusable:
                        masked = masked or self._allow.mask(view_words)
                        if any(masked[i:j]):
                            continue
                    rest = view_words[:i] + view_words[j:]
                    if entry.mark == "?" and not self._commercial.isdisjoint(rest):
                        continue
                    where = view_spans or spans(basis)
                    shown = basis[where[i].start : where[j - 1].end]
                    reason = f'contains "{shown}", {_WHY[code]} ({code.value})'
                    if entry.mark == "?":
                        reason += (
                            "; beside a word that says what a business does (DELI, PLUMBING, "
                            "LLC ...) it would pass"
                        )
                    return code, reason
        return None

    def _format_failure(self, name: str) -> tuple[Reason, str] | None:
        quoted = f'"{name}"'
        if _PHONE.search(name):
            return (
                Reason.NAME_IS_PHONE_NUMBER,
                f"{quoted} looks like a phone number; a caller ID name may not contain one "
                "(name_is_phone_number)",
            )
        if not (_LETTER.search(name) if name.isascii() else any(c.isalpha() for c in name)):
            return (
                Reason.NAME_NO_LETTER,
                f"{quoted} has no letter; a caller ID name needs at least one (name_no_letter)",
            )
        bad = _BAD_CHARS.findall(name)
        if bad:
            shown = " ".join(f'"{_shown(c)}"' for c in dict.fromkeys(bad))
            return (
                Reason.NAME_BAD_CHARACTERS,
                f"{quoted} has characters caller ID does not allow: {shown}; use only "
                f"{ALLOWED_TEXT} (name_bad_characters)",
            )
        if len(name) > MAX_LENGTH:
            return (
                Reason.NAME_TOO_LONG,
                f"{quoted} has {len(name)} characters; a caller ID name holds at most "
                f"{MAX_LENGTH} (name_too_long)",
            )
        return None

    # -- suggestions and warnings ------------------------------------------------------------

    def _suggest(self, name: str, code: Reason) -> str:
        if code is Reason.NAME_BAD_CHARACTERS:
            candidate = " ".join(_BAD_CHARS.sub(" ", to_ascii_name(name)).split())
            if self.passes(candidate):
                return candidate
            return shorten(candidate, self._suggestable) if len(candidate) > MAX_LENGTH else ""
        if code is Reason.NAME_TOO_LONG:
            return shorten(name, self._suggestable)
        return ""

    def _suggestable(self, name: str) -> bool:
        """Passes every rule and holds no blocked term inside a word (an abbreviation must not
        make one: a suggestion is offered to be used as it is)."""
        failure, embedded, _, _ = self._failure(name)
        return failure is None and not embedded

    def _warnings(
        self, name: str, words: list[str], embedded: bool, plain: bool
    ) -> tuple[Warn, ...]:
        warnings = []
        if not (plain and len(name) > 1 and name.isalpha()) and not _TWO_LETTERS.search(name):
            warnings.append(Warn.NAME_ONE_LETTER)
        if embedded:
            warnings.append(Warn.NAME_EMBEDDED_TERM)
        if self._generic_tokens.issuperset(words) and self._is_generic(words):
            warnings.append(Warn.NAME_GENERIC)
        if not plain and _SPECIAL.search(name):
            warnings.append(Warn.NAME_SPECIAL_CHARACTERS)
        return tuple(warnings)

    def _is_generic(self, words: list[str]) -> bool:
        """Every word covered by generic.txt entries ("SEATTLE, WA", "CUSTOMER SERVICE")."""
        if not words:
            return False
        reachable = [True] + [False] * len(words)
        for i, j, _ in self._generic.matches(words):  # in order of i, so one pass suffices
            if reachable[i]:
                reachable[j] = True
        return reachable[-1]
