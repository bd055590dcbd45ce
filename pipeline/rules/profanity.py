"""Profanity in a name: whole words, leetspeak, spaced letters, and the Scunthorpe problem.

A term of profanity.txt matches (and rejects the name) when, after leetspeak is undone in each
word that has a letter (0->O 1->I 3->E 4->A 5->S 7->T @->A $->S, and ! | ->I; "455 MAIN" stays
digits):
  1. it is a whole word, or the word is the term plus S, or a multi-word term is a sequence of
     whole words ("SH1T", "SHITS", "BLOW JOB");
  2. a run of single letters joins into it ("F U C K", "S.H.I.T"); a run that merely contains a
     term counts for terms looked for inside words ("F U C K Y O U");
  3. the first words of the name, squeezed together, equal it ("FU CK", "AS S"): the squeezed
     name must reach the term's end at a word boundary, so "AS SEEN ON TV" is not "ASS";
  4. the name's first word starts with a term looked for inside words ("FUCKFACE LLC");
  5. a word with `*` in it reads as the term with each `*` one letter ("F*CK", "SH*T").
A term inside a longer word anywhere else ("UNFUCKINGBELIEVABLE") is not a rejection but the
warning name_embedded_term, so a person looks. Terms marked `=` (ASS, TIT, CUM, RAPE...) are
matched by 1-3 only, never inside words: ordinary words are full of them (CLASS, TITLE).

Allowlist: a listed word or phrase never matches (the customer's --allowlist adds to it), and a
term inside a longer word is excused when an allowlisted word covers it there (COCK inside
HANCOCKS is covered by HANCOCK, CUNT inside SCUNTHORPE by SCUNTHORPE).

Speed: one prefix-tree regex over the squeezed name finds every possible hit, so the usual
name (no term anywhere in it) costs one `search`; a name whose only hits are whole-word-only
terms inside words ("BLUE GLASS") costs a set test more. Only real candidates are analysed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.rules.wordlists import Entry, PhraseIndex, spans, trie_pattern

LEET = "013457@$!|"
DELEET = str.maketrans(LEET, "OIEASTASII")
_ASCII_NOT_TOKEN = "".join(
    chr(c) for c in range(128) if not chr(c).isalnum() and chr(c) not in LEET
)
# The name with every separator removed and leetspeak undone: the prefilter's input.
SQUEEZE = str.maketrans(LEET, "OIEASTASII", _ASCII_NOT_TOKEN)
_WORD_RE = re.compile(r"[A-Z0-9@$!|*]+")
_HAS_LETTER = re.compile(r"[A-Z@$!|]")
_SPACED = re.compile(r"(?<![A-Z0-9@$!|])[A-Z0-9@$!|][^A-Z0-9@$!|]+[A-Z0-9@$!|](?![A-Z0-9@$!|])")


@dataclass(frozen=True, slots=True)
class Hit:
    """A profanity match: `shown` is the name's own text, `term` the listed term it reads as."""

    shown: str
    term: str
    embedded: bool = False  # only inside a longer word: a warning, not a rejection
    starts: bool = False  # the name's first word starts with the term ("SHITSTORM")


@dataclass(frozen=True, slots=True)
class _Word:
    raw: str
    plain: str  # leetspeak undone
    start: int
    end: int


class ProfanityMatcher:
    """Built once from profanity.txt and the allowlists; `find(name)` is pure and thread-safe."""

    def __init__(self, terms: Sequence[Entry], allow: Sequence[Entry]) -> None:
        forms: dict[str, Entry] = {}
        strong: dict[str, Entry] = {}
        for entry in terms:
            squeezed = "".join(entry.tokens)
            for form in (squeezed, squeezed + "S"):
                forms.setdefault(form, entry)
            if entry.mark != "=":
                strong.setdefault(squeezed, entry)
        self._forms = forms
        self._form_set = frozenset(forms)
        self._strong = strong
        self._strong_lengths = tuple(sorted({len(f) for f in strong}, reverse=True))
        self._max_len = max((len(f) for f in forms), default=0)
        self._phrases = PhraseIndex(e for e in terms if len(e.tokens) > 1)
        self._prefilter = re.compile(trie_pattern(forms))
        self._strong_any = re.compile(trie_pattern(strong))
        self._strong_re = re.compile(f"(?=({trie_pattern(strong)}))")
        self._allow = PhraseIndex(allow)
        allow_words = {e.tokens[0] for e in allow if len(e.tokens) == 1}
        self._allow_words = frozenset(allow_words)
        cover: dict[str, list[tuple[str, int]]] = {}
        for form in strong:
            for word in allow_words:
                at = word.find(form)
                while at >= 0:
                    cover.setdefault(form, []).append((word, at))
                    at = word.find(form, at + 1)
        self._cover = {form: tuple(items) for form, items in cover.items()}

    def find(
        self, name: str, squeezed: str | None = None, words: list[str] | None = None
    ) -> Hit | None:
        """The first rejecting hit in `name` (ASCII, normalized), else the first embedded one.

        `squeezed` (`name.translate(SQUEEZE)`) and `words` (`name.split()`, only for a name of
        A-Z/0-9 and spaces) save the work when the caller has them already."""
        if squeezed is None:
            squeezed = name.translate(SQUEEZE)
        if "*" not in name:
            if not self._prefilter.search(squeezed):
                return None
            if words is not None:  # words on the allowlist (HANCOCK, ESSEX) never match
                rest = [w for w in words if w not in self._allow_words]
                if len(rest) < len(words):
                    squeezed = "".join(rest).translate(DELEET)
                    if not self._prefilter.search(squeezed):
                        return None
            if not self._strong_any.search(squeezed) and not self._may_match_whole(
                name, squeezed, words
            ):
                return None
        return self._analyse(name)

    def _may_match_whole(self, name: str, squeezed: str, words: list[str] | None) -> bool:
        """Cheap test for names whose only hits are whole-word-only terms inside words
        ("BLUE GLASS", "TITLE LOANS"): could any rule 1-3 apply at all?"""
        if words is None:
            words = _WORD_RE.findall(name)
        plain = [w if w.isalpha() or w.isdigit() else w.translate(DELEET) for w in words]
        return (
            not self._form_set.isdisjoint(plain)
            or not self._phrases.first_tokens.isdisjoint(plain)
            or self._prefilter.match(squeezed) is not None
            or _SPACED.search(name) is not None
        )

    def _analyse(self, name: str) -> Hit | None:
        words = [
            _Word(
                s.text,
                s.text.translate(DELEET) if _HAS_LETTER.search(s.text) else s.text,
                s.start,
                s.end,
            )
            for s in spans(name, _WORD_RE)
        ]
        masked = self._allow.mask([w.raw for w in words])
        for i, w in enumerate(words):
            masked[i] = masked[i] or w.raw in self._allow_words or w.plain in self._allow_words
        return (
            self._whole_words(name, words, masked)
            or self._masked_letters(words, masked)
            or self._squeezed_start(name, words, masked)
            or self._single_letter_runs(name, words, masked)
            or self._inside_words(words, masked)
        )

    def _whole_words(self, name: str, words: list[_Word], masked: list[bool]) -> Hit | None:
        for w, m in zip(words, masked, strict=True):
            if not m and w.plain in self._forms:
                return Hit(w.raw, self._forms[w.plain].text)
        for i, j, entry in self._phrases.matches([w.plain for w in words]):
            if not any(masked[i:j]):
                return Hit(name[words[i].start : words[j - 1].end], entry.text)
        return None

    def _masked_letters(self, words: list[_Word], masked: list[bool]) -> Hit | None:
        for w, m in zip(words, masked, strict=True):
            if m or "*" not in w.raw or not _HAS_LETTER.search(w.raw):
                continue
            pattern = re.compile("[A-Z]".join(re.escape(part) for part in w.plain.split("*")))
            for form, entry in self._forms.items():
                if pattern.fullmatch(form):
                    return Hit(w.raw, entry.text)
        return None

    def _squeezed_start(self, name: str, words: list[_Word], masked: list[bool]) -> Hit | None:
        if not words or masked[0]:
            return None
        joined = words[0].plain
        for j in range(1, len(words)):
            if masked[j]:
                return None
            joined += words[j].plain
            if len(joined) > self._max_len:
                return None
            if joined in self._forms:
                return Hit(name[words[0].start : words[j].end], self._forms[joined].text)
        return None

    def _single_letter_runs(self, name: str, words: list[_Word], masked: list[bool]) -> Hit | None:
        i = 0
        while i < len(words):
            j = i
            while j < len(words) and len(words[j].raw) == 1 and not masked[j]:
                j += 1
            if j - i >= 2:
                run = "".join(w.raw for w in words[i:j])
                run = run.translate(DELEET) if _HAS_LETTER.search(run) else run
                shown = name[words[i].start : words[j - 1].end]
                if run in self._forms:
                    return Hit(shown, self._forms[run].text)
                m = self._strong_re.search(run)
                if m:
                    return Hit(shown, self._strong[self._longest_at(run, m.start())].text)
            i = max(j, i + 1)
        return None

    def _longest_at(self, word: str, at: int) -> str:
        for length in self._strong_lengths:
            if word[at : at + length] in self._strong:
                return word[at : at + length]
        raise AssertionError("the strong-term regex matched a position with no strong term")

    def _covered(self, word: str, at: int, form: str) -> bool:
        """Is the occurrence of `form` at `at` inside an allowlisted word there?"""
        for allowed, offset in self._cover.get(form, ()):
            start = at - offset
            if start >= 0 and word.startswith(allowed, start):
                return True
        return False

    def _inside_words(self, words: list[_Word], masked: list[bool]) -> Hit | None:
        """Strong terms inside longer words: reject at the start of the name, else warn."""
        embedded: Hit | None = None
        for i, w in enumerate(words):
            if masked[i]:
                continue
            for m in self._strong_re.finditer(w.plain):
                at = m.start()
                for length in self._strong_lengths:
                    form = w.plain[at : at + length]
                    if (
                        len(form) < length
                        or form not in self._strong
                        or self._covered(w.plain, at, form)
                    ):
                        continue
                    if i == 0 and at == 0:
                        return Hit(w.raw, self._strong[form].text, starts=True)
                    if embedded is None:
                        embedded = Hit(w.raw, self._strong[form].text, embedded=True)
                    break
        return embedded
