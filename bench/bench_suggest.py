"""Suggestions for too-long names, measured on real business names (issue 11).

Prints the figures of tests/suggest_measure.py for the whole list and each section of
tests/data/long_business_names.txt, the cost per unique long name, and examples. With
`--before REV`, the same figures for the suggest.py of a git revision (the old algorithm) and
before/after examples side by side.

    python bench/bench_suggest.py
    python bench/bench_suggest.py --before 3f920a3 --examples 20
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from suggest_measure import Figures, measure, read_names  # noqa: E402

from pipeline.model import Reason  # noqa: E402
from pipeline.rules.normalize import normalize_name  # noqa: E402
from pipeline.rules.validate import NameRules  # noqa: E402
from pipeline.rules.wordlists import to_ascii_name  # noqa: E402


def old_suggester(rev: str, rules: NameRules) -> Callable[[str], str]:
    """The suggestion the suggest.py of `rev` makes for a normalized name."""
    source = subprocess.run(
        ["git", "show", f"{rev}:pipeline/rules/suggest.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("old_suggest")
    exec(compile(source, f"{rev}:suggest.py", "exec"), module.__dict__)

    def suggest(name: str) -> str:
        code = rules.check(name).reason_code
        if code is Reason.NAME_BAD_CHARACTERS:
            name = " ".join(to_ascii_name(name).split())
            if rules.passes(name):
                return name
        elif code is not Reason.NAME_TOO_LONG:
            return ""
        return str(module.shorten(name, rules.passes))

    return suggest


def line(label: str, f: Figures) -> str:
    return (
        f"{label:<11} {f.names:>5} {f.long:>5} {f.share(f.offered):>8.1%} "
        f"{f.share(f.represented):>12.1%} {f.share(f.represented_plain):>10.1%} "
        f"{f.share(f.first_kept):>11.1%} "
        f"{f.share(f.first_kept_strict):>7.1%} {f.share(f.invented):>9.1%} {len(f.failing):>8}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="compare with suggest.py of this git rev")
    parser.add_argument("--examples", type=int, default=20, help="how many examples to print")
    args = parser.parse_args()

    rules = NameRules.load()
    print(
        "list        names  long  offered  represented  (plain)  first kept  strict  initials"
        "  failing"
    )
    for section in (None, "companies", "local"):
        print(line(section or "whole", measure(rules, read_names(section=section))))

    longs = [normalize_name(n) for n in read_names()]
    longs = [n for n in longs if rules.check(n).suggestion]
    rounds = 5
    start = time.perf_counter()
    for _ in range(rounds):
        for name in longs:
            rules.check(name)
    each = (time.perf_counter() - start) / rounds / len(longs)
    start = time.perf_counter()
    for _ in range(rounds):
        for name in longs:
            rules.passes(name)
    checks = (time.perf_counter() - start) / rounds / len(longs)
    print(
        f"\ncost per unique long name: {each * 1e6:.0f} us for check() with its suggestion "
        f"(of which {checks * 1e6:.0f} us the rules alone), {len(longs)} names x {rounds}; "
        "a shared machine: read as an order of magnitude"
    )

    names = [n for n in read_names() if rules.check(normalize_name(n)).suggestion]
    if args.before:
        old = old_suggester(args.before, rules)
        print(line(f"before {args.before}"[:11], _old_figures(old, rules)))
        changed = [
            (n, old(normalize_name(n)), rules.check(normalize_name(n)).suggestion) for n in names
        ]
        changed = [c for c in changed if c[1] != c[2]]
        print(f"\n{len(changed)} of {len(names)} suggestions changed; before -> after, spread:")
        step = max(1, len(changed) // max(1, args.examples))
        for name, before, after in changed[::step][: args.examples]:
            print(f"  {name:<46} {before or '(none)':<16} {after}")
    else:
        step = max(1, len(names) // max(1, args.examples))
        print(f"\n{len(names)} suggestions, spread over the list:")
        for name in names[::step][: args.examples]:
            print(f"  {name:<46} {rules.check(normalize_name(name)).suggestion}")


def _old_figures(old: Callable[[str], str], rules: NameRules) -> Figures:
    """The measurement with the old suggestions in place of the current ones."""

    class OldRules:
        def check(self, name: str):  # noqa: ANN202 - a NameResult with the old suggestion
            result = rules.check(name)
            return type(result)(result.reason_code, result.reason, old(name), result.warnings)

    return measure(OldRules(), read_names())  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
