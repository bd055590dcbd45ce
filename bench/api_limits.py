"""Benchmark part of bench_api.py (`--limits`): the learned rate limit against a strict server.

Issue 8, "Learn the limit": a sandbox allows `--server-limit` requests (default 10) in any sliding
second and answers 429 beyond it, with `Retry-After` or, as production may, without. Against it,
side by side, each in its own child process with its own sandbox:

  told 40     `run input.csv --rate-limit 40` (the user guessed high)
  auto        `run input.csv --rate-limit auto` (start at 5/s, learn up to 50/s)
  told 10     `run input.csv --rate-limit 10` (the user knew the limit)
  naive       a plain `requests` loop, one create per row, no client-side limit; after a 429 it
              sleeps Retry-After, or 1 s when there is none, and sends again

Each cnam-batch run starts from a fresh journal (nothing learned yet). The work: `--rows` rows
(default 900), each a new name on its own number, so one create per row after the listing. The
four clients of one 429 mode run at the same time, the two modes one after the other (about 3.5
minutes at the defaults); `--serial` runs one scenario at a time.
Figures come from the sandbox's request log (arrival times, which its limit counts):

  utilization     accepted requests after the first / (span x server limit); "steady" leaves out
                  the first 10 s (the first burst and the climb)
  429 share       429 answers / requests sent
  busiest 1 s     most requests *sent* (429s included) in any window [t, t + 1)
  learned         summary.json api.rate_limit: the rate learned and the number of slowdowns

Targets: told too high or auto, >= 90 % of the server's limit and <= 2 % 429s; told exactly,
>= 95 %.

    python bench/bench_api.py --limits [--rows 900] [--server-limit 10] [--serial]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLIENTS = {"told40": "40", "auto": "auto", "told10": "10", "naive": None}
TITLES = {"told40": "told 40", "auto": "auto", "told10": "told 10", "naive": "naive loop"}
MODES = {"ra": True, "nora": False}
MODE_TITLES = {"ra": "429 with Retry-After", "nora": "429 without Retry-After"}
STEADY_AFTER = 10.0  # seconds: "steady" utilization leaves out the start
NAIVE_MAX_ATTEMPTS = 50


def make_data(n_rows: int, seed: int = 8) -> list[tuple[str, str]]:
    """`n_rows` rows, each a distinct valid name on a distinct valid number."""
    from bench_api import make_names, make_numbers

    rng = random.Random(seed)
    numbers = make_numbers(n_rows, rng)
    names = make_names(n_rows, rng)
    return [(f"({n[1:4]}) {n[4:7]}-{n[7:]}", name) for n, name in zip(numbers, names, strict=True)]


def _sandbox(numbers: set[str], limit: float, retry_after: bool) -> Any:
    from pipeline.sandbox.server import SandboxConfig, SandboxServer

    config = SandboxConfig(
        numbers=numbers,
        rate_limit=limit,
        retry_after=retry_after,
        approve_after=10**9,
        log_limit=None,
    )
    return SandboxServer(config)


def _numbers(rows: list[tuple[str, str]]) -> set[str]:
    return {"1" + "".join(c for c in number if c.isdigit()) for number, _ in rows}


def run_ours(rows: list[tuple[str, str]], work: Path, setting: str, limit: float, ra: bool) -> dict:
    """The real CLI, in this process, against its own sandbox."""
    from bench_api import run_cli, write_csv

    csv = work / "input.csv"
    write_csv(rows, csv)
    with _sandbox(_numbers(rows), limit, ra) as server:
        argv = [
            "run", str(csv), "--rate-limit", setting,
            "--output", str(work / "out"), "--state", str(work / "state.sqlite"), "--quiet",
        ]  # fmt: skip
        code, wall, summary, stderr = run_cli(server, argv)
        result = measure(list(server.log), limit)
    result.update(
        exit=code,
        wall=wall,
        rows_done=summary.get("by_status", {}).get("pending_approval", 0),
        rate_limit=summary.get("api", {}).get("rate_limit"),
        stderr=stderr[-1500:],
    )
    return result


def run_naive(rows: list[tuple[str, str]], limit: float, ra: bool, deadline_s: float) -> dict:
    """One create per row, as fast as the server answers; 429: sleep Retry-After (or 1 s)."""
    import requests

    with _sandbox(_numbers(rows), limit, ra) as server, requests.Session() as session:
        auth = (server.access_key, server.secret_key)
        give_up = time.monotonic() + deadline_s
        done = 0
        t = time.perf_counter()
        for _number, name in rows:
            for _ in range(NAIVE_MAX_ATTEMPTS):
                if time.monotonic() > give_up:
                    break
                r = session.post(
                    f"{server.url}/v2/cnams", data={"value": name}, auth=auth, timeout=30
                )
                if r.status_code != 429:
                    done += r.status_code == 201
                    break
                time.sleep(float(r.headers.get("Retry-After", "1")))
        wall = time.perf_counter() - t
        result = measure(list(server.log), limit)
    result.update(exit=None, wall=wall, rows_done=done, rate_limit=None, stderr="")
    return result


def measure(entries: list[Any], limit: float) -> dict:
    times = sorted(e.time for e in entries)
    accepted = sorted(e.time for e in entries if e.status != 429)
    refused = len(times) - len(accepted)

    def use(ts: list[float]) -> float | None:
        span = ts[-1] - ts[0] if len(ts) > 1 else 0.0
        return (len(ts) - 1) / (span * limit) if span >= 5 else None

    steady = [t for t in accepted if t >= accepted[0] + STEADY_AFTER] if accepted else []
    return {
        "requests": len(times),
        "refused": refused,
        "refused_share": refused / len(times) if times else 0.0,
        "api_seconds": times[-1] - times[0] if times else 0.0,
        "utilization": use(accepted),
        "steady": use(steady),
        "busiest": busiest_second(times),
    }


def busiest_second(times: list[float]) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# --------------------------------------------------------------------------------- driver


def child(name: str, data: Path, out: Path, limit: float, deadline: float) -> None:
    client, mode = name.split("-")
    rows = [tuple(r) for r in json.loads(data.read_text())]
    ra = MODES[mode]
    if CLIENTS[client] is None:
        result = run_naive(rows, limit, ra, deadline)  # type: ignore[arg-type]
    else:
        work = out.parent / name
        work.mkdir(parents=True, exist_ok=True)
        result = run_ours(rows, work, CLIENTS[client], limit, ra)  # type: ignore[arg-type,arg-type]
    out.write_text(json.dumps(result))


def launch(names: list[str], data: Path, tmp: Path, limit: float, timeout: float, serial: bool):
    results: dict[str, Any] = {}

    def one(name: str) -> None:
        out = tmp / f"{name}.json"
        cmd = [
            sys.executable, __file__, "--child", name, "--data", str(data), "--result", str(out),
            "--server-limit", f"{limit:g}", "--deadline", f"{timeout - 30:g}",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            results[name] = {"error": f"timed out after {timeout:g} s"}
            return
        if proc.returncode != 0 or not out.exists():
            results[name] = {"error": f"exit {proc.returncode}: {err[-1500:]}"}
        else:
            results[name] = json.loads(out.read_text())

    if serial:
        for name in names:
            one(name)
        return results
    # One wave per 429 mode, its four clients side by side (each paced by its own sandbox): eight
    # at once on a small machine delay requests on their way and skew what is measured.
    for mode in MODES:
        wave = [n for n in names if n.endswith(f"-{mode}")]
        threads = [threading.Thread(target=one, args=(n,)) for n in wave]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout + 5)
    return results


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def print_table(results: dict[str, Any], args: argparse.Namespace) -> None:
    for mode, mode_title in MODE_TITLES.items():
        cols = [f"{c}-{mode}" for c in CLIENTS if f"{c}-{mode}" in results]
        if not cols:
            continue
        print(f"\nServer: {args.server_limit:g} requests in any sliding second, {mode_title}")
        header = [TITLES[c.split("-")[0]] for c in cols]
        lines: list[tuple[str, list[str]]] = []

        def row(label: str, fn: Any, cols: list[str] = cols, lines: list = lines) -> None:
            cells = []
            for c in cols:
                r = results[c]
                cells.append("error" if "error" in r else fn(r))
            lines.append((label, cells))

        def learned(r: dict) -> str:
            rate = r.get("rate_limit")
            if not rate:
                return "-"
            how = "" if rate["learned_from_429"] else " (no 429)"
            return f"{rate['learned']:g}/s{how}, {rate['slowdowns']} cut(s)"

        row("rows created", lambda r: f"{r['rows_done']:,} / {args.rows:,}")
        row("requests sent", lambda r: f"{r['requests']:,}")
        row("429 answers", lambda r: f"{r['refused']:,} ({_pct(r['refused_share'])})")
        row("utilization, whole run", lambda r: _pct(r["utilization"]))
        row(f"utilization after {STEADY_AFTER:g} s", lambda r: _pct(r["steady"]))
        row("busiest 1 s (sent)", lambda r: f"{r['busiest']}")
        row("API time", lambda r: f"{r['api_seconds']:.1f} s")
        row("learned (summary.json)", learned)
        width = max(len(label) for label, _ in lines) + 2
        colw = max(16, *(len(h) + 2 for h in header), *(len(c) + 2 for _, cs in lines for c in cs))
        print(f"{'':<{width}}" + "".join(f"{h:>{colw}}" for h in header))
        for label, cells in lines:
            print(f"{label:<{width}}" + "".join(f"{c:>{colw}}" for c in cells))
    for name, r in results.items():
        if "error" in r:
            print(f"\n{name}: ERROR {r['error']}")
        elif r.get("stderr", "").strip():
            print(f"\n{name} stderr: {r['stderr'].strip()}")


def verdict(results: dict[str, Any]) -> None:
    print()
    for name, r in sorted(results.items()):
        client, mode = name.split("-")
        if "error" in r or client == "naive":
            continue
        use = r["utilization"] or 0.0
        if client == "told10":
            ok = use >= 0.95
            goal = ">= 95 %"
        else:
            ok = use >= 0.90 and r["refused_share"] <= 0.02
            goal = ">= 90 %, <= 2 % 429s"
        print(
            f"target {TITLES[client]:>8}, {MODE_TITLES[mode]:<24} {goal:<22} "
            f"{'MET' if ok else 'MISSED'} ({_pct(use)}, {_pct(r['refused_share'])} 429s)"
        )


def main(args: argparse.Namespace) -> None:
    rows = make_data(args.rows)
    names = [f"{c}-{m}" for m in MODES for c in CLIENTS]
    # bound: the slowest client sends about one request a row at 90 % of the limit
    timeout = 120 + 2 * args.rows / args.server_limit
    with tempfile.TemporaryDirectory(prefix="bench_limits_") as tmp_dir:
        tmp = Path(tmp_dir)
        data = tmp / "data.json"
        data.write_text(json.dumps(rows))
        print(
            f"{args.rows:,} rows (one new name each), sandbox limit {args.server_limit:g}/s in any "
            f"sliding second; cnam-batch at its default concurrency; machine: {os.cpu_count()} "
            f"cores, python {sys.version.split()[0]}"
        )
        t = time.perf_counter()
        results = launch(names, data, tmp, args.server_limit, timeout, args.serial)
        elapsed = time.perf_counter() - t
    print_table(results, args)
    verdict(results)
    print(f"\nbenchmark took {elapsed:.0f} s")


def _child_main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--result", type=Path, required=True)
    ap.add_argument("--server-limit", type=float, required=True)
    ap.add_argument("--deadline", type=float, required=True)
    a = ap.parse_args()
    child(a.child, a.data, a.result, a.server_limit, a.deadline)


if __name__ == "__main__":
    _child_main()
