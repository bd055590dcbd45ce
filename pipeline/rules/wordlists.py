"""The word lists behind the name rules: reading them, and the lookups built from them.

Lists are package data (`pipeline/rules/data/*.txt`, versioned with the code) or the customer's
`--blocklist` / `--allowlist` files, all in one format: one term a line, `#` starts a comment,
blank lines ignored, any case. Each term is normalized like a name (and transliterated to
ASCII), then split into tokens, the runs of A-Z/0-9. Built-in lists mark a term with a leading
character: `=` (profanity.txt: whole word only) and `?` (misleading.txt, political.txt:
ambiguous, excused beside a commercial word). The marks mean nothing in customer files.

Matching is by whole tokens, never raw substrings (the Scunthorpe problem): a `PhraseIndex`
finds token sequences, with dotted or spaced single letters ("F.B.I.", "I R S") also tried
joined. Everything here is immutable once built, so one `NameRules` serves many threads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from anyascii import anyascii

from pipeline.errors import InputError
from pipeline.rules.normalize import normalize_name

TOKEN_RE = re.compile(r"[A-Z0-9]+")
MARKS = "=?"


@dataclass(frozen=True, slots=True)
class Entry:
    """One term of a list, normalized."""

    text: str  # as a reason quotes it: "SOCIAL SECURITY"
    tokens: tuple[str, ...]  # ("SOCIAL", "SECURITY")
    mark: str = ""  # "", "=" or "?"


@dataclass(frozen=True, slots=True)
class Span:
    """A token of a name and where it stands, so a reason can quote the name's own text."""

    text: str
    start: int
    end: int


def to_ascii_name(text: str) -> str:
    """A name in the ASCII form the content rules read (É->E, Ф->F): lists and names alike."""
    name = normalize_name(text)
    return name if name.isascii() else normalize_name(anyascii(name))


def parse_entries(text: str, *, marks: bool) -> list[Entry]:
    """Entries of one list file's text; `marks` keeps a leading = or ? as the entry's mark."""
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        mark = ""
        if marks and line and line[0] in MARKS:
            mark, line = line[0], line[1:]
        name = to_ascii_name(line)
        tokens = tuple(TOKEN_RE.findall(name))
        if tokens:
            entries.append(Entry(" ".join(tokens), tokens, mark))
    return entries


def read_entries(path: Path, option: str) -> list[Entry]:
    """A customer's list file. InputError naming the file when it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(
            f"{option} {path}: cannot read it ({err.strerror or err}); check the path"
        ) from err
    return parse_entries(_decode(data), marks=False)


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252: what spreadsheets save."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    return data.decode("cp1252", errors="replace")


def builtin_entries(name: str) -> list[Entry]:
    """A list shipped in pipeline/rules/data. InputError if the installation lost it."""
    try:
        text = resources.files("pipeline.rules").joinpath("data", name).read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(
            f"built-in word list pipeline/rules/data/{name} is missing or unreadable ({err}); "
            "reinstall cnam-batch"
        ) from err
    return parse_entries(text, marks=True)


def spans(text: str, pattern: re.Pattern[str] = TOKEN_RE) -> list[Span]:
    return [Span(m.group(), m.start(), m.end()) for m in pattern.finditer(text)]


def merge_singles(items: Sequence[Span]) -> list[Span] | None:
    """Runs of two or more one-character tokens joined ("F.B.I." -> "FBI"); None if none."""
    out: list[Span] = []
    merged = False
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and len(items[j].text) == 1:
            j += 1
        if j - i >= 2:
            run = items[i:j]
            out.append(Span("".join(s.text for s in run), run[0].start, run[-1].end))
            merged = True
            i = j
        else:
            out.append(items[i])
            i += 1
    return out if merged else None


def merged_tokens(tokens: tuple[str, ...]) -> tuple[str, ...]:
    merged = merge_singles([Span(t, 0, 0) for t in tokens])
    return tokens if merged is None else tuple(s.text for s in merged)


class PhraseIndex:
    """Finds entries as whole-token sequences. Each entry is indexed as written and with its
    single letters joined, so "GEORGE H W BUSH" matches "GEORGE H.W. BUSH" and "GEORGE HW BUSH"."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        # first token -> ((length, {tokens: entry}), ...) longest first: a lookup per length
        # instead of a comparison per phrase, since many phrases share a first word (US ...).
        by_first: dict[str, dict[int, dict[tuple[str, ...], Entry]]] = {}
        for entry in entries:
            for tokens in (entry.tokens, merged_tokens(entry.tokens)):
                lengths = by_first.setdefault(tokens[0], {})
                lengths.setdefault(len(tokens), {}).setdefault(tokens, entry)
        self._by_first = {
            first: tuple(sorted(lengths.items(), reverse=True))
            for first, lengths in by_first.items()
        }
        self.first_tokens = frozenset(self._by_first)

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def matches(self, tokens: Sequence[str]) -> Iterator[tuple[int, int, Entry]]:
        """(start, end, entry) of each occurrence, left to right, longest first at a position."""
        n = len(tokens)
        for i, token in enumerate(tokens):
            for length, phrases in self._by_first.get(token, ()):
                if length == 1:
                    yield i, i + 1, phrases[(token,)]
                elif i + length <= n:
                    entry = phrases.get(tuple(tokens[i : i + length]))
                    if entry is not None:
                        yield i, i + length, entry

    def mask(self, tokens: Sequence[str]) -> list[bool]:
        """Which tokens lie inside an occurrence of an entry (the allowlist's use)."""
        masked = [False] * len(tokens)
        for i, j, _ in self.matches(tokens):
            masked[i:j] = [True] * (j - i)
        return masked


def reversed_name(entry: Entry) -> Entry | None:
    """ "BARACK OBAMA" -> "OBAMA BARACK", the order of lists and of "OBAMA, BARACK"."""
    if len(entry.tokens) < 2:
        return None
    tokens = (entry.tokens[-1], *entry.tokens[:-1])
    return Entry(entry.text, tokens, entry.mark)


def trie_pattern(words: Iterable[str]) -> str:
    """One regex alternation shaped as a prefix tree: far faster than "A|B|C" over hundreds of
    words, because the engine rejects a position after one character class test."""
    root: dict[str, dict] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        ends_here = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        if len(branches) == 1:
            body = branches[0]
            grouped = len(body) > 1
        elif all(len(b) == 1 for b in branches):
            body, grouped = "[" + "".join(branches) + "]", False
        else:
            body, grouped = "(?:" + "|".join(branches) + ")", False
        if ends_here:
            return f"(?:{body})?" if grouped else body + "?"
        return body

    return build(root) or "(?!)"


class ShortForms:
    """Words written short read as the word they stand for ("SOC SEC ADMIN" as SOCIAL SECURITY
    ADMINISTRATION), from short_forms.txt: `FULL = SHORT, SHORT ...`, one full word a line."""

    def __init__(self, forms: Iterable[tuple[str, tuple[str, ...]]]) -> None:
        by_first: dict[str, dict[tuple[str, ...], str]] = {}
        for full, short in forms:
            by_first.setdefault(short[0], {})[short] = full
        # first token -> ((short form, full word), ...) longest first
        self._by_first = {
            first: tuple(sorted(found.items(), key=lambda kv: -len(kv[0])))
            for first, found in by_first.items()
        }
        self.tokens = frozenset(self._by_first)

    def short_forms_of(self, words: Iterable[str]) -> frozenset[str]:
        """The first tokens of the short forms of these full words (SOC for SOCIAL)."""
        wanted = frozenset(words)
        return frozenset(
            first
            for first, forms in self._by_first.items()
            if any(full in wanted for _, full in forms)
        )

    @classmethod
    def parse(cls, text: str) -> ShortForms:
        forms = []
        for line in text.splitlines():
            full, sep, shorts = line.split("#", 1)[0].partition("=")
            full_tokens = TOKEN_RE.findall(to_ascii_name(full))
            if not sep or len(full_tokens) != 1:
                continue
            for short in shorts.split(","):
                tokens = tuple(TOKEN_RE.findall(to_ascii_name(short)))
                if tokens and tokens != (full_tokens[0],):
                    forms.append((full_tokens[0], tokens))
        return cls(forms)

    def expand(self, tokens: Sequence[str]) -> tuple[list[str], list[tuple[int, int]]] | None:
        """The tokens with every short form replaced by its full word, and for each resulting
        token the range of `tokens` it stands for; None when no token is a short form."""
        if self.tokens.isdisjoint(tokens):
            return None
        out: list[str] = []
        ranges: list[tuple[int, int]] = []
        i = 0
        while i < len(tokens):
            for short, full in self._by_first.get(tokens[i], ()):
                if tuple(tokens[i : i + len(short)]) == short:
                    out.append(full)
                    ranges.append((i, i + len(short)))
                    i += len(short)
                    break
            else:
                out.append(tokens[i])
                ranges.append((i, i + 1))
                i += 1
        return out, ranges

    def expand_entry(self, entry: Entry) -> Entry | None:
        """A term of two or more words with its short forms written out, when it has any."""
        expanded = self.expand(entry.tokens) if len(entry.tokens) > 1 else None
        if expanded is None or len(expanded[0]) < 2:
            return None
        return Entry(entry.text, tuple(expanded[0]), entry.mark)


def builtin_short_forms() -> ShortForms:
    """short_forms.txt of pipeline/rules/data."""
    try:
        text = (
            resources.files("pipeline.rules").joinpath("data", "short_forms.txt").read_text("utf-8")
        )
    except OSError as err:
        raise InputError(
            f"built-in word list pipeline/rules/data/short_forms.txt is missing or unreadable "
            f"({err}); reinstall cnam-batch"
        ) from err
    return ShortForms.parse(text)
