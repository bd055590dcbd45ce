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
     words shortened, initials where the words do not fit (MEDICAL CENTER -> MC), then trailing
     words dropped (see suggest.py). Names are never truncated silently.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.model import Reason, Warn
from pipeline.rules.profanity import DELEET, SQUEEZE, ProfanityMatcher
from pipeline.rules.segment import Lexicon
from pipeline.rules.suggest import shorten
from pipeline.rules.wordlists import (
    TOKEN_RE,
    Entry,
    PhraseIndex,
    ShortForms,
    Span,
    builtin_entries,
    builtin_short_forms,
    merge_singles,
    read_entries,
    reversed_name,
    spans,
    to_ascii_name,
    trie_pattern,
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

_AMBIGUOUS = (
    "; beside a word that says what a business does (DELI, PLUMBING, LLC ...) it would pass"
)
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
        short_forms: ShortForms | None = None,
        lexicon: Lexicon | Callable[[], Lexicon] | None = None,
    ) -> None:
        political_all = list(political)
        political_all += [r for r in map(reversed_name, political) if r is not None]
        self._profanity = ProfanityMatcher(profanity, allow)
        self._allow = PhraseIndex(allow)
        self._short_forms = short_forms
        self._rules = (
            (Reason.NAME_MISLEADING, PhraseIndex(misleading), True,
             self._written_out(misleading)),
            (Reason.NAME_POLITICAL, PhraseIndex(political_all), True,
             self._written_out(political_all)),
            (Reason.NAME_BLOCKLISTED, PhraseIndex(blocklist), False, None),
        )  # fmt: skip
        written_first = frozenset().union(
            *(written.first_tokens for _, _, _, written in self._rules if written)
        )
        self._first_tokens = frozenset().union(
            *(index.first_tokens for _, index, _, _ in self._rules),
            written_first,
            short_forms.short_forms_of(written_first) if short_forms is not None else (),
        )
        # The word-frequency list takes about half a second to load: a callable (Lexicon.shared)
        # is called the first time a name holds a listed term inside a word, which most runs never see.
        self._lexicon = lexicon
        self._allow_words = frozenset(e.tokens[0] for e in allow if len(e.tokens) == 1)
        # What a run-together token must hold to be worth reading as words: a listed term
        # (profanity, or a word of a misleading, political or blocklisted term).
        self._strong_terms = frozenset(e.text for e in profanity if e.mark != "=")
        inside = {"".join(e.tokens) for e in profanity if e.mark != "="}
        inside.update("".join(e.tokens) for e in (*misleading, *political, *blocklist))
        self._inside = re.compile(trie_pattern(t for t in inside if len(t) > 2 and t.isalpha()))
        self._commercial = frozenset(e.tokens[0] for e in commercial if len(e.tokens) == 1)
        self._generic = PhraseIndex(generic)
        self._generic_tokens = frozenset(t for e in generic for t in e.tokens)

    def _written_out(self, entries: Sequence[Entry]) -> PhraseIndex | None:
        """Terms of two or more words with their short forms written out (DEPT OF JUSTICE as
        DEPARTMENT OF JUSTICE), matched against a name with its short forms written out."""
        if self._short_forms is None:
            return None
        expand = self._short_forms.expand_entry
        return PhraseIndex(expand(e) or e for e in entries if len(e.tokens) > 1)

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
            short_forms=builtin_short_forms(),
            lexicon=Lexicon.shared,
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
        if self._lexicon is not None and self._inside.search(squeezed):
            tokens = words if plain else TOKEN_RE.findall(basis)
            failure = self._run_together(basis, tokens, hit is not None)
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

    def _phrase_failure(
        self, basis: str, words: list[str], accept: Callable[[str], bool] | None = None
    ) -> tuple[Reason, str] | None:
        """Misleading, political and blocklisted terms, as whole-word sequences. `words` are
        the name's tokens; the joined view of single letters ("F.B.I.") is tried as well, and
        terms of several words also with short forms written out ("SOC SEC" as SOCIAL
        SECURITY). With `accept` (a run-together reading), ambiguous terms are skipped and a
        match counts only if `accept(the name's text it covers)`."""
        views: list[tuple[list[str], list[Span] | None]] = [(words, None)]
        if _SPACED.search(basis):
            merged = merge_singles(spans(basis))
            if merged is not None:
                views.append(([s.text for s in merged], merged))
        for code, index, excusable, written in self._rules:
            ambiguous: tuple[Reason, str] | None = None
            for view_words, view_spans in views:
                found = self._first_match(
                    basis, code, index, excusable, view_words, view_spans, accept
                )
                if found is not None and _AMBIGUOUS in found[1]:
                    ambiguous = ambiguous or found
                elif found is not None:
                    return found
            if written is None or self._short_forms is None:
                if ambiguous is not None:
                    return ambiguous
                continue
            for view_words, view_spans in views:
                expanded = self._short_forms.expand(view_words)
                if expanded is None:
                    out, out_spans = view_words, view_spans
                else:
                    where = view_spans or spans(basis)
                    out = expanded[0]
                    out_spans = [Span(w, where[i].start, where[j - 1].end)
                                 for w, (i, j) in zip(out, expanded[1], strict=True)]  # fmt: skip
                found = self._first_match(basis, code, written, excusable, out, out_spans, accept)
                if found is not None and (ambiguous is None or _AMBIGUOUS not in found[1]):
                    return found  # "USA GOVT" is US GOVERNMENT rather than the ambiguous GOVT
            if ambiguous is not None:
                return ambiguous
        return None

    def _first_match(
        self, basis: str, code: Reason, index: PhraseIndex, excusable: bool,
        view_words: list[str], view_spans: list[Span] | None,
        accept: Callable[[str], bool] | None = None,
    ) -> tuple[Reason, str] | None:  # fmt: skip
        if index.first_tokens.isdisjoint(view_words):
            return None
        masked: list[bool] | None = None
        for i, j, entry in index.matches(view_words):
            if excusable:
                masked = masked or self._allow.mask(view_words)
                if any(masked[i:j]):
                    continue
            rest = view_words[:i] + view_words[j:]
            if entry.mark == "?" and (accept or not self._commercial.isdisjoint(rest)):
                continue
            where = view_spans or spans(basis)
            shown = basis[where[i].start : where[j - 1].end]
            if accept is not None and not accept(shown):
                continue
            reason = f'contains "{shown}", {_WHY[code]} ({code.value})'
            if entry.mark == "?":
                reason += _AMBIGUOUS
            return code, reason
        return None

    def _run_together(
        self, basis: str, words: list[str], embedded: bool
    ) -> tuple[Reason, str] | None:
        """A name with words run together ("BESTSHITDEALS") is judged like its spaced form: each
        token that holds a listed term, is no known word (SCUNTHORPE and CLASSIC are) and reads
        as known words only is spaced out, and the content rules read the result. Stricter than
        for spaced names, since a reading is a guess: profanity only when the name holds a
        strong term inside a word no allowlisted word covers (`embedded`), no whole-word-only
        term (ASS, CUM) and no ambiguous term (ICE, COURT); an acronym of three letters or
        fewer only as the token's first word, followed by dictionary words ("IRSREFUND", not
        the place names CIANORTE or BANEPA); every other word of a reading a dictionary word, a
        short form (OFC) or a name of five letters or more (SEATTLE), not a fragment (SEM PORN A
        is SEMPORNA, a town)."""
        lexicon = self._lexicon
        assert lexicon is not None
        if not isinstance(lexicon, Lexicon):
            lexicon = lexicon()
        short_tokens = self._short_forms.tokens if self._short_forms is not None else frozenset()

        def wordlike(piece: str) -> bool:  # a common word, a short form, or a name (SEATTLE)
            return len(piece) >= 5 or piece in lexicon.dictionary or piece in short_tokens

        spaced: dict[str, tuple[str, ...]] = {}
        for word in words:
            if (
                word in spaced
                or len(word) < 4
                or not word.isalpha()
                or word in self._allow_words
                or not self._inside.search(word)
            ):
                continue
            pieces = lexicon.split(word)
            if pieces is not None and all(wordlike(p) or self._inside.fullmatch(p) for p in pieces):
                spaced[word] = pieces
        if not spaced:
            return None
        parts, at = [], 0
        for m in TOKEN_RE.finditer(basis):
            pieces = spaced.get(m.group())
            parts += [basis[at : m.start()], " ".join(pieces) if pieces else m.group()]
            at = m.end()
        text = "".join(parts) + basis[at:]

        def acceptable(shown: str) -> bool:
            if " " in shown or len(shown) > 3:
                return True
            return any(
                pieces[0] == shown and lexicon.dictionary.issuperset(pieces[1:])
                for pieces in spaced.values()
            )

        failure: tuple[Reason, str] | None = None
        hit = self._profanity.find(text, text.translate(SQUEEZE), None) if embedded else None
        if hit is not None and not hit.embedded and hit.term in self._strong_terms:
            failure = Reason.NAME_PROFANITY, f'contains "{hit.shown}", which is profanity'
            failure = failure[0], failure[1] + " (name_profanity)"
        else:
            failure = self._phrase_failure(text, TOKEN_RE.findall(text), acceptable)
        if failure is None:
            return None
        token = next((w for w in spaced if _overlaps(spaced[w], failure[1])), next(iter(spaced)))
        return failure[0], f'"{token}" reads as "{" ".join(spaced[token])}": {failure[1]}'

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


def _overlaps(pieces: tuple[str, ...], reason: str) -> bool:
    """Does the reason quote a word of this spaced-out token?"""
    return any(f'"{piece}' in reason or f'{piece}"' in reason for piece in pieces)
