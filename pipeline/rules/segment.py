"""Run-together names read as their spaced form: "BESTSHITDEALS" is "BEST SHIT DEALS".

People write brand-style names without spaces, and a blocked word inside such a name must be
judged like the same word standing alone, while a blocked string inside an ordinary word or a
place name (SCUNTHORPE, PENISTONE, ESSEX, CLASSIC) must still pass. What tells the two apart is
a word-frequency list: a token that is itself a known word is an ordinary word and is left as
it is; only a token that is not a word is split, into the most probable sequence of known words
(a unigram language model, Viterbi), and only a split into real words counts.

The frequencies are the unigram counts that the `wordsegment` package ships (333,000 English
words and names from the Google Web Trillion Word Corpus, as compiled by Peter Norvig for
"Natural Language Corpus Data", Beautiful Data, 2009), and `dictionary` its list of 179,000
common English words without proper names; read once per process from the installed package,
no network. The segmentation itself is ours (a dozen lines below): it needs no bigram
table, no global memo, and it is pure.

`Lexicon.split(token)` is pure and thread-safe: O(len(token) x MAX_WORD) dictionary lookups,
tens of microseconds for a 15-letter token; the rules call it only for a token that holds a
listed term and is not a known word.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources

import numpy as np

from pipeline.errors import InputError

MAX_WORD = 24  # longest piece tried: the list's useful words are shorter
# Pieces of one letter are words ("A", "I"), but every string splits into letters: no other lone
# letter is a piece. A token is read only as known words, never with an unknown piece.
ONE_LETTER_WORDS = frozenset({"A", "I"})


class Lexicon:
    """Known words (uppercase) and their log10 probability; immutable once built."""

    def __init__(self, counts: Mapping[str, float], dictionary: Iterable[str] = ()) -> None:
        words = [w.upper() for w in counts]
        self._logp = _log_probabilities(words, np.fromiter(counts.values(), dtype=np.float64))
        self.dictionary = frozenset(w.upper() for w in dictionary)  # common words, no names

    @classmethod
    @cache
    def shared(cls) -> Lexicon:
        """The wordsegment unigram list, loaded once per process (about half a second)."""
        try:
            package = resources.files("wordsegment")
            text = package.joinpath("unigrams.txt").read_text("utf-8")
            words = package.joinpath("words.txt").read_text("utf-8").split()
        except (OSError, ModuleNotFoundError) as err:
            raise InputError(
                f"the word-frequency list of the wordsegment package is missing ({err}); "
                "reinstall cnam-batch"
            ) from err
        # "word<TAB>count" lines, read as one list (0.25 s where a loop per line took 0.5 s)
        fields = text.upper().split()
        lexicon = cls({})
        lexicon._logp = _log_probabilities(fields[0::2], np.asarray(fields[1::2], dtype=np.float64))
        lexicon.dictionary = frozenset("\n".join(words).upper().split())
        return lexicon

    def __contains__(self, word: object) -> bool:
        return word in self._logp

    def __len__(self) -> int:
        return len(self._logp)

    def split(self, token: str) -> tuple[str, ...] | None:
        """The most probable reading of `token` (A-Z) as two or more known words, or None when
        the token is a known word itself (or one with an S added: POLICEMANS, a possessive
        written without its apostrophe) or cannot be read as known words only."""
        if token in self._logp or (token[-1:] == "S" and token[:-1] in self._logp):
            return None
        logp = self._logp
        n = len(token)
        best = [0.0] + [-math.inf] * n
        back = [0] * (n + 1)
        for end in range(1, n + 1):
            for start in range(max(0, end - MAX_WORD), end):
                if best[start] == -math.inf:
                    continue
                piece = token[start:end]
                p = logp.get(piece)
                if p is None or (end - start == 1 and piece not in ONE_LETTER_WORDS):
                    continue
                if best[start] + p > best[end]:
                    best[end], back[end] = best[start] + p, start
        if best[n] == -math.inf:
            return None
        pieces: list[str] = []
        end = n
        while end > 0:
            pieces.append(token[back[end] : end])
            end = back[end]
        return tuple(reversed(pieces)) if len(pieces) > 1 else None


def _log_probabilities(words: list[str], counts: np.ndarray) -> dict[str, float]:
    """word -> log10 of its share of all counts, for the words counted at least once."""
    total = counts.sum() or 1.0
    keep = counts > 0
    shares = (counts[keep] / total).tolist()
    kept = words if keep.all() else [w for w, k in zip(words, keep.tolist(), strict=True) if k]
    return dict(zip(kept, map(math.log10, shares), strict=True))  # math's log10: the same bits
