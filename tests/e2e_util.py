"""Helpers for the end-to-end tests: the real CLI against the real sandbox over loopback HTTP.

`Harness.run(...)` calls `pipeline.cli.app.main(["run", ...], env)` in-process with the sandbox's URL and
keys in `env.environ`, `--output`/`--state` under the test's tmp_path, and returns what the run left:
exit code, stdout/stderr, the run folder's files, and the sandbox log entries of this run only.
Setup that a customer (or Flowroute's portal) would do outside the program goes straight to the
sandbox over HTTP with `requests` (`SandboxHttp`).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from pipeline.cli.app import main
from pipeline.environment import Environment
from pipeline.errors import CnamBatchError
from pipeline.input.frame import LoadOptions
from pipeline.input.load import expand_inputs, load_file
from pipeline.rules.normalize import normalize_number
from pipeline.sandbox.control import RequestLogEntry
from pipeline.sandbox.server import SandboxServer

ROOT = Path(__file__).parents[1]
RUN_BATCH = ROOT / "run_batch.py"
CNAMS = "/v2/cnams"


def phone_numbers(n: int, first: int = 2064561000) -> list[str]:
    """n distinct valid 10-digit US numbers that the open sandbox account owns."""
    return [str(first + i) for i in range(n)]


def write_input(path: Path, rows: Iterable[tuple[str, str]]) -> Path:
    """A CSV with the header `number,name`; the header is source_row 1."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["number", "name"])
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------------------- the account
def own_input_numbers(server: SandboxServer, paths: Iterable[str | Path], cwd: Path | None = None):  # type: ignore[no-untyped-def]
    """The customer's account has the numbers of their input files: on the open sandbox account
    (which owns every valid number but lists only those in use) they are marked in use, so the
    account's listing shows them, as `run --sandbox` does for its input. A run reads that listing
    whole and takes a number absent from it as not on the account (issue 8 item 6)."""
    numbers: set[str] = set()
    for raw in paths:
        path = Path(raw) if cwd is None or Path(raw).is_absolute() else cwd / raw
        if not path.exists():
            continue
        try:
            members = expand_inputs([path])
        except CnamBatchError:
            continue  # not an input (a config file) or an unreadable folder
        for member in members:
            try:
                loaded = load_file(member, LoadOptions())
            except CnamBatchError:
                continue  # a test of an unreadable file: it has no numbers to own
            for cell in loaded.frame["input_number"]:
                number = normalize_number(cell).number
                if number:
                    numbers.add(number)
    server.account.use(numbers)


# ---------------------------------------------------------------------------- the sandbox's view
def creates(entries: Sequence[RequestLogEntry]) -> list[RequestLogEntry]:
    return [e for e in entries if e.method == "POST" and e.path == CNAMS]


def patches(entries: Sequence[RequestLogEntry]) -> list[RequestLogEntry]:
    return [e for e in entries if e.method == "PATCH"]


def patched_number(entry: RequestLogEntry) -> str:
    """/v2/numbers/{number}/relationships/cnams/{id} -> number."""
    return entry.path.split("/")[3]


def patches_per_number(entries: Sequence[RequestLogEntry]) -> Counter[str]:
    return Counter(patched_number(e) for e in patches(entries))


def account_records(server: SandboxServer) -> list[Any]:
    """Every record on the sandbox account (read directly: no request in the log)."""
    records, more = server.account.page(offset=0, limit=1_000_000)
    assert not more
    return records


def account_values(server: SandboxServer) -> list[str]:
    return sorted(r.value for r in account_records(server))


def preset_of(server: SandboxServer, number11: str) -> str | None:
    """The value of the record preset on a number, read directly from the account."""
    record = server.account.number_preset(number11)
    return None if record is None else record.value


class SandboxHttp:
    """What someone does on the account outside cnam-batch (the portal, another tool)."""

    def __init__(self, server: SandboxServer) -> None:
        self.url = server.url
        self.session = requests.Session()
        self.session.auth = (server.access_key, server.secret_key)

    def create(self, value: str) -> str:
        r = self.session.post(f"{self.url}{CNAMS}", json={"value": value}, timeout=5)
        assert r.status_code == 201, r.text
        return str(r.json()["data"]["id"])

    def associate(self, number11: str, cnam_id: str) -> None:
        path = f"/v2/numbers/{number11}/relationships/cnams/{cnam_id}"
        r = self.session.patch(f"{self.url}{path}", timeout=5)
        assert r.status_code == 202, r.text

    def close(self) -> None:
        self.session.close()


# ---------------------------------------------------------------------------- running the CLI
@dataclass
class RunOutcome:
    code: int
    stdout: str
    stderr: str
    run_dir: Path | None
    log: list[RequestLogEntry] = field(default_factory=list)  # the sandbox's entries of this run

    def report(self) -> list[dict[str, str]]:
        assert self.run_dir is not None
        return read_csv(self.run_dir / "report.csv")

    def carried(self) -> list[dict[str, str]]:
        assert self.run_dir is not None
        return read_csv(self.run_dir / "carried_over.csv")

    def summary(self) -> dict[str, Any]:
        assert self.run_dir is not None
        return json.loads((self.run_dir / "summary.json").read_text(encoding="utf-8"))

    def statuses(self) -> list[str]:
        return [r["status"] for r in self.report()]


class Harness:
    """Runs `cnam-batch run` in-process against one sandbox, with one output folder and journal."""

    def __init__(
        self,
        server: SandboxServer,
        tmp_path: Path,
        *,
        rate_limit: float = 200,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        self.server = server
        self.output = tmp_path / "output"
        self.state = tmp_path / "state.sqlite"
        self.rate_limit = rate_limit
        self.access_key = server.access_key if access_key is None else access_key
        self.secret_key = server.secret_key if secret_key is None else secret_key

    def environ(self) -> dict[str, str]:
        return {
            "FLOWROUTE_API_URL": self.server.url,
            "FR_ACCESS_KEY": self.access_key,
            "FR_SECRET_KEY": self.secret_key,
        }

    def run(self, *args: str | Path, rate_limit: float | None = None) -> RunOutcome:
        own_input_numbers(self.server, [a for a in args if not str(a).startswith("-")])
        argv = ["run", *map(str, args), "--output", str(self.output), "--state", str(self.state)]
        argv += ["--rate-limit", str(rate_limit or self.rate_limit)]
        return self.main(argv)

    def main(self, argv: list[str]) -> RunOutcome:
        out, err = io.StringIO(), io.StringIO()
        env = Environment(stdout=out, stderr=err, environ=self.environ(), stderr_isatty=False)
        before = _run_dirs(self.output)
        mark = len(self.server.log)
        code = main(argv, env)
        new = sorted(_run_dirs(self.output) - before)
        assert len(new) <= 1, new
        return RunOutcome(code, out.getvalue(), err.getvalue(), new[0] if new else None,
                          list(self.server.log[mark:]))  # fmt: skip

    def status(self) -> dict[str, Any]:
        """`cnam-batch status --json --state ...`."""
        outcome = self.main(["status", "--json", "--state", str(self.state)])
        assert outcome.code == 0, outcome.stderr
        return json.loads(outcome.stdout)

    def forget_journal(self) -> None:
        """A lost journal: the state file and its companions are gone."""
        for path in self.state.parent.glob(self.state.name + "*"):
            path.unlink()


def _run_dirs(output: Path) -> set[Path]:
    return {p for p in output.iterdir() if p.is_dir()} if output.is_dir() else set()


def wait_for(predicate: Any, timeout: float, interval: float = 0.005) -> bool:
    """Poll `predicate` until true or `timeout` seconds pass (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
