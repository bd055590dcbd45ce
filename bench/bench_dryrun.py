#!/usr/bin/env python3
"""Benchmark: `run --dry-run` end to end on a 1,000,000-row CSV and a 100,000-row xlsx.

Prints each stage's time (from summary.json), the whole run's wall time, its CPU time (user + sys
of every thread: on a machine shared with others the wall time mostly measures their load, the
CPU time much less), peak memory (RSS), and the ratio of the whole
to a raw pandas read of the same file. With --repeat N each file runs N times and the spread
(min / median / max) is printed.
Targets (issue 9): 1M-row CSV at most 12 s and 1 GB (goal 10 s); 100k-row xlsx at most 2.5 s.

    python bench/bench_dryrun.py [--rows 1000000] [--xlsx-rows 100000] [--unique-names 200000]
                                 [--repeat 1]

Data is generated into bench/data/ (git-ignored) once and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
WORDS = [
    "ACME",
    "PACIFIC",
    "NORTHWEST",
    "BLUE",
    "SKY",
    "RIVER",
    "STONE",
    "CEDAR",
    "MAPLE",
    "HARBOR",
    "SUMMIT",
    "VALLEY",
    "METRO",
    "CITY",
    "DENTAL",
    "PLUMBING",
    "BAKERY",
    "AUTO",
    "LAW",
    "GROUP",
    "CAFE",
    "FARMS",
    "REALTY",
    "CLINIC",
    "HVAC",
    "ROOFING",
    "SALON",
]


def make_rows(n: int, unique_names: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    names = []
    for i in range(unique_names):
        a, b = rng.choice(WORDS), rng.choice(WORDS)
        names.append(f"{a} {b} {i % 1000}"[:15])
    rows = []
    for i in range(n):
        area = 206 + (i // 8_000_000)
        exchange = 200 + (i // 10_000) % 800
        number = f"{area}{exchange:03d}{i % 10_000:04d}"
        shape = i % 50
        if shape == 0:
            shown = f"({number[:3]}) {number[3:6]}-{number[6:]}"
        elif shape == 1:
            shown = f"1{number}.0"  # what a float-typed export looks like
        elif shape == 2:
            shown = "555-12"  # invalid
        else:
            shown = number
        rows.append((shown, names[rng.randrange(unique_names)]))
    return rows


def ensure_csv(n: int, unique_names: int) -> Path:
    path = DATA / f"rows_{n}_{unique_names}.csv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Phone Number,Caller ID Name\n")
        fh.writelines(f"{a},{b}\n" for a, b in make_rows(n, unique_names))
    tmp.replace(path)
    return path


def ensure_xlsx(n: int, unique_names: int) -> Path:
    path = DATA / f"rows_{n}_{unique_names}.xlsx"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Numbers")
    ws.append(["Phone Number", "Caller ID Name"])
    for i, (number, name) in enumerate(make_rows(n, unique_names)):
        digits = number.replace(".0", "")
        # a third of the numbers as number cells, the way Excel stores a typed-in number
        ws.append([float(digits) if i % 3 == 0 and digits.isdigit() else number, name])
    tmp = path.with_name(path.stem + ".tmp.xlsx")
    wb.save(tmp)
    tmp.replace(path)
    return path


def raw_read(path: Path) -> float:
    import pandas as pd

    t = time.perf_counter()
    if path.suffix == ".csv":
        pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        pd.read_excel(path, engine="calamine", dtype=str)
    return time.perf_counter() - t


def run_dry(path: Path) -> tuple[float, float, float, dict]:
    """Run the real CLI in a child process; return (wall s, CPU s, peak RSS MB, summary).

    CPU time and peak RSS are wait4's, the kernel's own count for the process (every thread of
    it: the report is written by threads, no child process), so nothing samples memory while
    the run goes: a sampler reading /proc took CPU from the run on a 2-core machine.
    """
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, str(ROOT / "run_batch.py"), "run", str(path), "--dry-run"]
        cmd += ["--output", out, "--quiet"]
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise SystemExit(f"dry run of {path.name} exited {code}")
        summary_path = next(Path(out).glob("*/summary.json"))
        summary = json.loads(summary_path.read_text())
        cpu = usage.ru_utime + usage.ru_stime
        return wall, cpu, usage.ru_maxrss / 1024, summary


def _spread(values: list[float], unit: str) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f} {unit}"
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    return f"{ordered[0]:.2f} / {median:.2f} / {ordered[-1]:.2f} {unit} (min / median / max)"


def report(
    label: str, path: Path, target_s: float, target_mb: float | None, repeat: int = 1
) -> None:
    raw = raw_read(path)
    runs = [run_dry(path) for _ in range(repeat)]
    walls = [r[0] for r in runs]
    cpus = [r[1] for r in runs]
    rss = max(r[2] for r in runs)
    summary = runs[0][3]
    print(f"\n{label}: {path.name} ({summary['rows_total']:,} rows), {repeat} run(s)")
    for wall, _, _, one in runs:
        timings = one.get("timings_s", {})
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
        print(f"  stages: {stages}, report + start-up {wall - sum(timings.values()):.2f} s")
    print(f"  wall: {_spread(walls, 's')} (target <= {target_s:g} s)")
    print(f"  CPU (user + sys): {_spread(cpus, 's')}")
    print(
        f"  peak memory (RSS) {rss:,.0f} MB"
        + (f" (target <= {target_mb:,.0f} MB)" if target_mb else "")
    )
    best = min(walls)
    print(
        f"  raw pandas read of the same file: {raw:.2f} s; fastest whole / raw = {best / raw:.1f}x"
    )
    print(f"  by status: {summary['by_status']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--xlsx-rows", type=int, default=100_000)
    ap.add_argument("--unique-names", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=1, help="runs per file (the spread is printed)")
    args = ap.parse_args()
    csv_path = ensure_csv(args.rows, args.unique_names)
    xlsx_path = ensure_xlsx(args.xlsx_rows, min(args.unique_names, args.xlsx_rows))
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report("CSV", csv_path, 12, 1000, args.repeat)
    report("XLSX", xlsx_path, 2.5, None, args.repeat)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
