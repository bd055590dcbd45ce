"""Unattended runs end to end (issue 4): the drop folder over several nights, the end-of-run email,
the logs a cron job leaves, through `pipeline.cli.app.main(argv, env)` against the real sandbox over
loopback HTTP and a real SMTP server (aiosmtpd) on 127.0.0.1.

One sandbox lives through all the "nights" of a test; its review decides records when the test
advances the injected clock (the runner's `env.now` reads the same clock, so `pending_since` and the
stale check see consistent times). Nothing here waits for a review in real time.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from e2e_util import own_input_numbers, read_csv
from e2e_util import write_input as write_csv
from fakes import FakeClock
from smtp_server import (
    Authenticator,
    Handler,
    free_port,
    make_certificate,
    server_context,
    smtp_server,
)

from pipeline.cli.app import main
from pipeline.environment import Environment
from pipeline.sandbox.control import FaultConfig, RequestLogEntry
from pipeline.sandbox.server import SandboxConfig, SandboxServer

ROOT = Path(__file__).parents[1]
DAY = 86_400.0
SMTP_PASSWORD = "Qv9!unlikely-smtp-pw#4417"  # distinctive: any leak shows in a substring search
SMTP_USER = "cnam-mailer"
ISO_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S")
ERROR_LINE = "cnam-batch: error: "

# Night 1's file: two rows go to Flowroute's review (one it approves, one it rejects as generic),
# one is rejected locally before anything is sent.
ACME = [
    ("2064561001", "Acme Plumbing"),
    ("2064561002", "Seattle Police Dept"),
    ("2064561003", "Caller ID"),
]


# ------------------------------------------------------------------------------------ harness


@dataclass
class Outcome:
    """What one `cnam-batch run` left behind."""

    code: int
    stdout: str
    stderr: str
    run_dir: Path | None
    log: list[RequestLogEntry] = field(default_factory=list)  # the sandbox's entries of this run

    @property
    def summary(self) -> dict[str, Any]:
        assert self.run_dir is not None, self.stderr
        return json.loads((self.run_dir / "summary.json").read_text(encoding="utf-8"))

    @property
    def report(self) -> list[dict[str, str]]:
        assert self.run_dir is not None, self.stderr
        return read_csv(self.run_dir / "report.csv")

    @property
    def carried(self) -> list[dict[str, str]]:
        assert self.run_dir is not None, self.stderr
        return read_csv(self.run_dir / "carried_over.csv")

    @property
    def run_log(self) -> str:
        assert self.run_dir is not None, self.stderr
        return (self.run_dir / "run.log").read_text(encoding="utf-8")

    @property
    def writes(self) -> list[str]:
        """POST/PATCH/DELETE requests the sandbox saw in this run, as 'METHOD path'."""
        return [f"{e.method} {e.path}" for e in self.log if e.method in ("POST", "PATCH", "DELETE")]

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def rows_by_name(self, frame: list[dict[str, str]] | None = None) -> dict[str, dict[str, str]]:
        return {r["name"]: r for r in (self.report if frame is None else frame)}


class Nights:
    """`cnam-batch run` in-process, night after night, against one sandbox and one journal.

    The working directory is the test's tmp_path (as a cron job's `cd`), so inputs and report
    paths read as they would in a crontab: `drop/acme.csv`, `output/<run_id>/`.
    """

    def __init__(self, server: SandboxServer, clock: FakeClock, root: Path) -> None:
        self.server = server
        self.clock = clock
        self.root = root
        self.output = root / "output"
        self.sleeps: list[float] = []  # what the run asked env.sleep for

    def environ(self, extra: dict[str, str | None] | None = None) -> dict[str, str]:
        environ = {
            "FLOWROUTE_API_URL": self.server.url,
            "FR_ACCESS_KEY": self.server.access_key,
            "FR_SECRET_KEY": self.server.secret_key,
            "CNAM_BATCH_OUTPUT": "output",
            "CNAM_BATCH_STATE": "state.sqlite",
            "CNAM_BATCH_RATE_LIMIT": "1000",
        }
        for key, value in (extra or {}).items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = value
        return environ

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def sleep(self, seconds: float) -> None:
        # API retries and the rate limiter wait through env.sleep; a short real wait keeps the
        # limiter's real monotonic clock moving while no test waits long.
        self.sleeps.append(seconds)
        time.sleep(min(seconds, 0.01))

    def next_night(self, days: float = 1.0) -> None:
        self.clock.now += days * DAY

    def run(
        self, *argv: str, env: dict[str, str | None] | None = None, isatty: bool = False
    ) -> Outcome:
        out, err = io.StringIO(), io.StringIO()
        environment = Environment(
            stdout=out,
            stderr=err,
            environ=self.environ(env),
            stderr_isatty=isatty,
            now=self.now,
            sleep=self.sleep,
        )
        own_input_numbers(self.server, [a for a in argv if not a.startswith("-")], self.root)
        before = _run_dirs(self.output)
        mark = len(self.server.log)
        code = main(["run", *argv], environment)
        new = sorted(_run_dirs(self.output) - before)
        assert len(new) <= 1, new
        self.clock.now += 1  # the next run gets its own second (and run_id)
        return Outcome(code, out.getvalue(), err.getvalue(), new[0] if new else None,
                       list(self.server.log[mark:]))  # fmt: skip


def _run_dirs(output: Path) -> set[Path]:
    if not output.is_dir():
        return set()
    return {p for p in output.iterdir() if p.is_dir() and (p / "summary.json").exists()}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=float(int(time.time())))


@pytest.fixture
def make_nights(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """make_nights(SandboxConfig(...)) -> Nights; every sandbox started here is stopped after."""
    monkeypatch.chdir(tmp_path)
    with ExitStack() as stack:

        def make(config: SandboxConfig | None = None) -> Nights:
            server = SandboxServer(config or SandboxConfig(approve_after=600), clock=clock)
            stack.enter_context(server)
            return Nights(server, clock, tmp_path)

        yield make


@pytest.fixture
def nights(make_nights: Any) -> Nights:
    return make_nights()


def number11(ten: str) -> str:
    return "1" + ten


def patch_of(ten: str) -> re.Pattern[str]:
    return re.compile(rf"^PATCH /v2/numbers/{number11(ten)}/relationships/cnams?/\d+$")


def smtp_env(port: int, **extra: str) -> dict[str, str | None]:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), **extra}


def bodies(msg: EmailMessage) -> tuple[str, str]:
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def outcome_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.match(r"^cnam-batch \d{8}T\d{6}Z", line)]


# ------------------------------------------------------------------------------- drop folder


def test_drop_folder_over_three_nights_takes_new_and_changed_files_and_skips_seen_ones(nights):
    drop = Path("drop")
    write_csv(drop / "acme.csv", ACME)
    (drop / "README.md").write_text("drop customer files here\n")  # other types: listed, not read
    readme = "drop/README.md"
    readme_why = "unsupported file type '.md': use .csv, .tsv, .txt, .xlsx, .xlsm or .ods"

    first = nights.run("drop")
    assert first.code == 0, first.stderr
    assert first.summary["inputs"] == ["drop/acme.csv"]
    assert first.summary["inputs_skipped"] == [readme]
    assert first.summary["inputs_skipped_reasons"] == {readme: readme_why}
    assert [r["status"] for r in first.report] == [
        "pending_approval",
        "rejected",
        "pending_approval",
    ]
    assert first.writes == ["POST /v2/cnams", "POST /v2/cnams"]

    # Night 2: acme.csv is still there (nobody removed it), a new file arrived; the review decided.
    nights.next_night()
    write_csv(drop / "beta.csv", [("2064561010", "Beta Bakery")])
    second = nights.run("drop")
    assert second.code == 0, second.stderr
    assert second.summary["inputs"] == ["drop/beta.csv"]
    assert second.summary["inputs_skipped"] == [readme, "drop/acme.csv"]
    assert second.summary["inputs_skipped_reasons"] == {
        readme: readme_why,
        "drop/acme.csv": "an earlier run took this file (same content); --reprocess takes it again",
    }
    assert [r["source_file"] for r in second.report] == ["drop/beta.csv"]
    # acme.csv costs nothing new: one create for beta's name, and the one association that
    # finishes night 1's approved row (carried over), nothing else.
    assert second.writes.count("POST /v2/cnams") == 1
    assert len([w for w in second.writes if patch_of("2064561001").match(w)]) == 1
    assert len(second.writes) == 2, second.writes
    carried = second.rows_by_name(second.carried)
    assert set(carried) == {"ACME PLUMBING", "CALLER ID"}
    assert carried["ACME PLUMBING"]["status"] == "associated"
    assert carried["ACME PLUMBING"]["source_file"] == "drop/acme.csv"
    assert (carried["CALLER ID"]["status"], carried["CALLER ID"]["reason_code"]) == (
        "rejected",
        "flowroute_rejected",
    )
    assert second.summary["carried_over"] == 2

    # Night 3: acme.csv was replaced by a new version under the same name: it is a new file.
    nights.next_night()
    write_csv(drop / "acme.csv", [("2064561001", "Acme Plumbing"), ("2064561004", "Bobs Bikes")])
    third = nights.run("drop")
    assert third.code == 0, third.stderr
    assert third.summary["inputs"] == ["drop/acme.csv"]
    assert third.summary["inputs_skipped"] == [readme, "drop/beta.csv"]
    statuses = {r["name"]: r["status"] for r in third.report}
    assert statuses["BOBS BIKES"] == "pending_approval"
    assert statuses["ACME PLUMBING"] in ("associated", "already_set")
    # Only the new name is created; ACME's number is not touched again. (Beta Bakery, approved
    # since night 2, is associated as carried-over work.)
    assert third.writes.count("POST /v2/cnams") == 1
    assert not [w for w in third.writes if patch_of("2064561001").match(w)]
    assert [w for w in third.writes if w.startswith("PATCH")] == [
        w for w in third.writes if patch_of("2064561010").match(w)
    ]


def test_run_log_names_the_files_the_drop_folder_skipped(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    assert nights.run("drop").code == 0
    nights.next_night()
    second = nights.run("drop")
    assert second.summary["inputs_skipped"] == ["drop/acme.csv"]
    assert re.search(r"INFO skipped drop/acme\.csv", second.run_log)


def test_run_without_input_finishes_what_night_one_left_pending(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    assert nights.run("drop").code == 0
    nights.next_night()

    night = nights.run()
    assert night.code == 0, night.stderr
    assert (night.summary["inputs"], night.summary["inputs_skipped"]) == ([], [])
    assert night.summary["carried_over"] == 2
    assert night.summary["carried_over_by_status"] == {"associated": 1, "rejected": 1}
    assert len(night.writes) == 1 and patch_of("2064561001").match(night.writes[0])
    assert {r["name"]: r["status"] for r in night.carried} == {
        "ACME PLUMBING": "associated",
        "CALLER ID": "rejected",
    }

    # Nothing left to do: the next night sends nothing at all.
    nights.next_night()
    idle = nights.run("drop")
    assert idle.code == 0 and idle.writes == [] and idle.carried == []
    assert idle.summary["inputs_skipped"] == ["drop/acme.csv"]


def test_reprocess_takes_seen_files_again_without_repeating_api_work(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    assert nights.run("drop").code == 0
    nights.next_night()
    assert nights.run("drop").code == 0  # associates ACME, learns CALLER ID's rejection
    nights.next_night()

    again = nights.run("drop", "--reprocess")
    assert again.code == 0, again.stderr
    assert again.summary["inputs"] == ["drop/acme.csv"]
    assert again.summary["inputs_skipped"] == []
    rows = again.rows_by_name()
    assert set(rows) == {"ACME PLUMBING", "SEATTLE POLICE DEPT", "CALLER ID"}
    assert rows["ACME PLUMBING"]["status"] in ("associated", "already_set")
    assert (rows["CALLER ID"]["status"], rows["CALLER ID"]["reason_code"]) == (
        "rejected",
        "flowroute_rejected",
    )
    assert rows["SEATTLE POLICE DEPT"]["reason_code"] == "name_misleading"
    assert again.writes == []  # no create, no association: the work was done
    assert again.summary["api"]["creates"] == 0 and again.summary["api"]["associations"] == 0


def test_move_processed_moves_files_after_the_run_and_the_report_still_names_them(nights):
    drop, done = Path("drop"), Path("done")
    write_csv(drop / "acme.csv", ACME)
    write_csv(drop / "beta.csv", [("2064561010", "Beta Bakery")])

    night = nights.run("drop", "--move-processed", "done")
    assert night.code == 0, night.stderr
    assert sorted(p.name for p in drop.iterdir()) == []
    assert sorted(p.name for p in done.iterdir()) == ["acme.csv", "beta.csv"]
    assert night.summary["inputs"] == ["drop/acme.csv", "drop/beta.csv"]
    assert {r["source_file"] for r in night.report} == {"drop/acme.csv", "drop/beta.csv"}
    assert "moved drop/acme.csv" in night.run_log

    # A file of the same name arrives the next night: moved beside the first, nothing overwritten.
    nights.next_night()
    write_csv(drop / "acme.csv", [("2064561004", "Bobs Bikes")])
    original = (done / "acme.csv").read_bytes()
    second = nights.run("drop", "--move-processed", "done")
    assert second.code == 0, second.stderr
    assert sorted(p.name for p in done.iterdir()) == ["acme-2.csv", "acme.csv", "beta.csv"]
    assert (done / "acme.csv").read_bytes() == original
    assert "Bobs Bikes" in (done / "acme-2.csv").read_text()
    assert [r["source_file"] for r in second.report] == ["drop/acme.csv"]


def test_move_processed_leaves_files_in_place_when_the_run_stops_on_an_input_error(nights):
    drop = Path("drop")
    write_csv(drop / "acme.csv", ACME)
    (drop / "broken.csv").write_bytes(b"number,name\n2064561005,Ok\n2064561006,Too,many,cells\n")

    night = nights.run("drop", "--move-processed", "done")
    assert night.code == 2
    assert night.writes == [] and not Path("done").exists()
    errors = [line for line in night.stderr_lines if line.startswith(ERROR_LINE)]
    assert len(errors) == 1 and "drop/broken.csv" in errors[0]
    (folder,) = [p for p in nights.output.iterdir() if p.is_dir()]  # no report, but a log
    assert re.search(r"ERROR drop/broken\.csv", (folder / "run.log").read_text(encoding="utf-8"))

    # Once the broken file is taken away, the good one is new work (it was not marked as seen).
    (drop / "broken.csv").unlink()
    nights.next_night()
    retry = nights.run("drop")
    assert retry.code == 0, retry.stderr
    assert retry.summary["inputs"] == ["drop/acme.csv"]
    assert retry.summary["inputs_skipped"] == []


def test_file_named_on_the_command_line_is_processed_even_if_seen_before(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    assert nights.run("drop").code == 0
    nights.next_night()

    named = nights.run("drop/acme.csv")
    assert named.code == 0, named.stderr
    assert named.summary["inputs"] == ["drop/acme.csv"]
    assert named.summary["inputs_skipped"] == []
    assert [r["source_row"] for r in named.report] == ["2", "3", "4"]
    assert "POST /v2/cnams" not in named.writes  # its names exist: nothing created twice

    # The folder still skips it: naming a file does not change what the folder has seen.
    nights.next_night()
    assert nights.run("drop").summary["inputs_skipped"] == ["drop/acme.csv"]


# ------------------------------------------------------------------------------------- email

EMAIL_ROWS = [
    ("2064561001", "Acme Plumbing"),  # pending
    ("2064561002", "Seattle Police Dept"),  # rejected: name_misleading (the top reason)
    ("2064561003", "Acme Corporation International Holdings"),  # rejected: name_too_long
    ("2064561004", "Bobs Bikes"),  # pending
    ("2064561005", "IRS Refund Desk"),  # rejected: name_misleading
]


def test_email_reaches_every_recipient_with_counts_top_reason_and_the_workbook(nights):
    write_csv(Path("drop/acme.csv"), EMAIL_ROWS)
    with smtp_server() as (port, handler):
        night = nights.run(
            "drop", "--email-to", "a@x", "--email-to", "b@x", "--email-from", "ops@x",
            env=smtp_env(port),
        )  # fmt: skip
    assert night.code == 0, night.stderr
    assert len(handler.received) == 1
    got = handler.received[0]
    assert got.mail_from == "ops@x"
    assert sorted(got.rcpt_tos) == ["a@x", "b@x"]
    run_id = night.summary["run_id"]
    assert night.summary["by_status"] == {"pending_approval": 2, "rejected": 3}
    # .strip(): Python folds a 70-77 character subject onto a continuation line, and its parser
    # keeps the folding space (mail clients drop it)
    assert got.message["Subject"].strip() == (
        f"cnam-batch {run_id}: 0 associated, 2 pending, 3 rejected, 0 failed"
    )

    plain, html = bodies(got.message)
    assert re.search(r"pending_approval\s+2\b", plain) and re.search(r"rejected\s+3\b", plain)
    assert re.search(r"pending_approval.*?>2<", html, re.S)
    assert re.search(r"rejected.*?>3<", html, re.S)
    for body in (plain, html):  # the top reason, with its first row as the example
        assert "name_misleading" in body
        assert "Seattle Police Dept" in body and "row 3" in body
        assert "name_too_long" in body

    attachments = list(got.message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["report.xlsx"]
    book = openpyxl.load_workbook(io.BytesIO(attachments[0].get_content()), read_only=True)
    rows = list(book["Rows"].iter_rows(values_only=True))
    assert len(rows) == 1 + len(EMAIL_ROWS)  # header + one line per input row
    assert rows[0][:3] == ("source_file", "source_row", "input_number")
    assert "emailed the report" in night.run_log


def test_email_attaches_zipped_csv_when_the_workbook_is_over_email_max_mb(nights):
    write_csv(Path("drop/acme.csv"), EMAIL_ROWS)
    limit_mb = 0.004  # 4 KiB: the workbook is larger, the zipped CSV of five rows is not
    with smtp_server() as (port, handler):
        night = nights.run("drop", "--email-to", "a@x", "--email-max-mb", str(limit_mb),
                           env=smtp_env(port))  # fmt: skip
    assert night.code == 0, night.stderr
    assert (night.run_dir / "report.xlsx").stat().st_size > limit_mb * 1024 * 1024
    attachments = list(handler.received[0].message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["report.csv.zip"]
    assert len(attachments[0].get_content()) <= limit_mb * 1024 * 1024
    with zipfile.ZipFile(io.BytesIO(attachments[0].get_content())) as archive:
        assert archive.namelist() == ["report.csv"]
        text = archive.read("report.csv").decode("utf-8-sig")
    assert text == (night.run_dir / "report.csv").read_text(encoding="utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(text)))) == len(EMAIL_ROWS)
    plain, _ = bodies(handler.received[0].message)
    assert "report.csv.zip" in plain and "--email-max-mb" in plain


def test_email_with_a_limit_below_even_the_zip_attaches_nothing_and_says_where(nights):
    write_csv(Path("drop/acme.csv"), EMAIL_ROWS)
    with smtp_server() as (port, handler):
        night = nights.run("drop", "--email-to", "a@x", "--email-max-mb", "0.000001",
                           env=smtp_env(port))  # fmt: skip
    assert night.code == 0, night.stderr
    assert list(handler.received[0].message.iter_attachments()) == []
    plain, html = bodies(handler.received[0].message)
    for body in (plain, html):
        assert "Nothing is attached" in body and night.summary["run_id"] in body


@pytest.fixture
def waiting_rows(make_nights: Any) -> Nights:
    """Night 1 done against a sandbox whose review never decides: two rows wait for approval."""
    nights = make_nights(SandboxConfig(approve_after=math.inf))
    write_csv(Path("drop/acme.csv"), EMAIL_ROWS)
    first = nights.run("drop", "--stale-after", "3")
    assert first.code == 0, first.stderr
    assert first.summary["stale_pending"] == 0  # pending since just now: not stale yet
    assert "pending_stale" not in (first.run_dir / "report.csv").read_text(encoding="utf-8-sig")
    return nights


def test_rows_pending_longer_than_stale_after_are_called_out_everywhere(waiting_rows):
    waiting_rows.next_night(4)
    with smtp_server() as (port, handler):
        night = waiting_rows.run("--stale-after", "3", "--email-to", "a@x", env=smtp_env(port))
    assert night.code == 0, night.stderr
    stale = [r for r in night.carried if "pending_stale" in r["warnings"].split(";")]
    assert sorted(r["name"] for r in stale) == ["ACME PLUMBING", "BOBS BIKES"]
    assert all(r["status"] == "pending_approval" for r in stale)
    assert night.summary["stale_pending"] == 2
    book = openpyxl.load_workbook(night.run_dir / "report.xlsx", read_only=True)
    carried_sheet = list(book["Carried over"].iter_rows(values_only=True))
    warnings_col = carried_sheet[0].index("warnings")
    assert sum("pending_stale" in (r[warnings_col] or "") for r in carried_sheet[1:]) == 2

    plain, html = bodies(handler.received[0].message)
    for body in (plain, html):
        assert "Pending approval longer than 3" in body
        assert number11("2064561001") in body and number11("2064561004") in body


def test_reprocessed_rows_pending_too_long_carry_pending_stale_in_the_report(waiting_rows):
    waiting_rows.next_night(4)
    night = waiting_rows.run("drop", "--reprocess", "--stale-after", "3")
    assert night.code == 0, night.stderr
    rows = night.rows_by_name()
    assert "pending_stale" in rows["ACME PLUMBING"]["warnings"].split(";")
    assert "pending_stale" not in rows["SEATTLE POLICE DEPT"]["warnings"]
    assert night.summary["stale_pending"] >= 2


def test_stale_rows_in_the_email_say_how_many_days_they_waited(waiting_rows):
    waiting_rows.next_night(4)
    with smtp_server() as (port, handler):
        night = waiting_rows.run("--stale-after", "3", "--email-to", "a@x", env=smtp_env(port))
    assert night.code == 0, night.stderr
    plain, _ = bodies(handler.received[0].message)
    stale_lines = [line for line in plain.splitlines() if number11("2064561001") in line]
    assert stale_lines and re.search(r"\| 4(\.\d)? days", stale_lines[0]), stale_lines


def test_smtp_starttls_and_login_from_the_environment(nights, tmp_path, monkeypatch):
    (tmp_path / "tls").mkdir()
    cert, key = make_certificate(tmp_path / "tls")
    # The run trusts the system store, which honours SSL_CERT_FILE (read from the process env).
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    auth = Authenticator(SMTP_USER, SMTP_PASSWORD)
    write_csv(Path("drop/acme.csv"), ACME)
    with smtp_server(tls_context=server_context(cert, key), require_starttls=True,
                     authenticator=auth) as (port, handler):  # fmt: skip
        night = nights.run("drop", "--email-to", "a@x", env=smtp_env(
            port, SMTP_STARTTLS="true", SMTP_USER=SMTP_USER, SMTP_PASSWORD=SMTP_PASSWORD))  # fmt: skip
    assert night.code == 0, night.stderr
    assert auth.attempts == [(SMTP_USER, SMTP_PASSWORD)]
    assert len(handler.received) == 1
    assert SMTP_PASSWORD not in night.stderr + night.stdout + night.run_log


def test_smtp_implicit_tls_and_login_from_the_config_file(nights, tmp_path, monkeypatch):
    (tmp_path / "tls").mkdir()
    cert, key = make_certificate(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    auth = Authenticator(SMTP_USER, SMTP_PASSWORD)
    write_csv(Path("drop/acme.csv"), ACME)
    with smtp_server(implicit_tls=server_context(cert, key), authenticator=auth,
                     auth_require_tls=False) as (port, handler):  # fmt: skip
        config = tmp_path / "cnam-batch.toml"
        config.write_text(
            'inputs = ["drop"]\nemail_to = ["ops@example.com", "lead@example.com"]\n'
            f'email_from = "cnam@example.com"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
            f'smtp_ssl = true\nsmtp_user = "{SMTP_USER}"\nsmtp_password = "{SMTP_PASSWORD}"\n',
            encoding="utf-8",
        )
        night = nights.run("--config", str(config), "--quiet")
    assert night.code == 0, night.stderr
    assert night.stderr == ""
    assert night.summary["inputs"] == ["drop/acme.csv"]
    assert auth.attempts == [(SMTP_USER, SMTP_PASSWORD)]
    got = handler.received[0]
    assert (got.mail_from, sorted(got.rcpt_tos)) == (
        "cnam@example.com",
        ["lead@example.com", "ops@example.com"],
    )


# ------------------------------------------------------------------------------ email failures


def no_secret_anywhere(night: Outcome, secret: str, root: Path) -> None:
    assert secret not in night.stdout and secret not in night.stderr
    assert night.run_dir is not None
    for path in night.run_dir.iterdir():
        assert secret.encode() not in path.read_bytes(), path
    for path in root.glob("state.sqlite*"):
        assert secret.encode() not in path.read_bytes(), path


def test_unreachable_smtp_exits_5_with_the_report_on_disk_and_one_error_line(nights, tmp_path):
    write_csv(Path("drop/acme.csv"), ACME)
    closed = free_port()
    night = nights.run("drop", "--email-to", "a@x", env=smtp_env(
        closed, SMTP_USER=SMTP_USER, SMTP_PASSWORD=SMTP_PASSWORD))  # fmt: skip
    assert night.code == 5
    assert [s for s in nights.sleeps if s >= 1] == [2.0, 4.0]  # three attempts, via env.sleep
    assert night.run_dir is not None
    for name in ("report.csv", "report.xlsx", "summary.json", "run.log"):
        assert (night.run_dir / name).is_file(), name
    assert night.summary["exit_code"] == 5
    errors = [line for line in night.stderr_lines if line.startswith(ERROR_LINE)]
    assert len(errors) == 1, night.stderr
    assert f"127.0.0.1:{closed}" in errors[0] and "report is on disk" in errors[0]
    assert len(outcome_lines(night.stderr)) == 1
    others = set(night.stderr_lines) - set(errors) - set(outcome_lines(night.stderr))
    assert all(line.startswith("cnam-batch: WARNING: ") for line in others), others
    assert "ERROR could not email the report" in night.run_log
    no_secret_anywhere(night, SMTP_PASSWORD, tmp_path)


def test_refused_email_exits_5_and_never_shows_the_smtp_password(nights, tmp_path):
    """Login works, the relay refuses the message with a reply that echoes the password."""
    write_csv(Path("drop/acme.csv"), ACME)
    auth = Authenticator(SMTP_USER, SMTP_PASSWORD)
    refusing = Handler(replies=[f"554 5.7.1 refused for {SMTP_USER}:{SMTP_PASSWORD}"])
    with smtp_server(refusing, authenticator=auth, auth_require_tls=False) as (port, handler):
        night = nights.run("drop", "--email-to", "a@x", env=smtp_env(
            port, SMTP_USER=SMTP_USER, SMTP_PASSWORD=SMTP_PASSWORD))  # fmt: skip
    assert auth.attempts == [(SMTP_USER, SMTP_PASSWORD)]  # the password was really used
    assert handler.data_attempts == 1  # a permanent refusal is not retried
    assert night.code == 5 and night.summary["exit_code"] == 5
    errors = [line for line in night.stderr_lines if line.startswith(ERROR_LINE)]
    assert len(errors) == 1 and "554" in errors[0]
    assert (night.run_dir / "report.xlsx").is_file()
    no_secret_anywhere(night, SMTP_PASSWORD, tmp_path)


def test_quiet_still_prints_the_email_error_and_nothing_else(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    with smtp_server(Handler(replies=["550 5.7.1 no relay"])) as (port, _):
        night = nights.run("drop", "--quiet", "--email-to", "a@x", env=smtp_env(port))
    assert night.code == 5
    assert len(night.stderr_lines) == 1 and night.stderr_lines[0].startswith(ERROR_LINE)


def test_email_failure_after_failed_rows_exits_5(make_nights):
    """README/SPEC: exit 5 'unless a higher-priority code applies'; the runner ranks 5 above 1
    (failed rows are retried by the next run anyway; an unsent report reaches nobody)."""
    nights = make_nights(
        SandboxConfig(faults=FaultConfig(error_rate=1.0, operations=frozenset({"create_cnam"})))
    )
    write_csv(Path("drop/acme.csv"), ACME)
    with smtp_server(Handler(replies=["550 5.7.1 no relay"])) as (port, _):
        night = nights.run("drop", "--email-to", "a@x", env=smtp_env(port))
    assert night.summary["by_status"].get("failed") == 2  # without the email, this is exit 1
    assert night.code == 5
    assert night.summary["exit_code"] == 5


def test_email_failure_after_a_fatal_api_error_keeps_exit_3(nights, tmp_path):
    write_csv(Path("drop/acme.csv"), ACME)
    with smtp_server(Handler(replies=["550 5.7.1 no relay"])) as (port, _):
        night = nights.run(
            "drop", "--email-to", "a@x", env={**smtp_env(port), "FR_SECRET_KEY": "wrong-secret"}
        )
    assert night.code == 3
    assert night.summary["exit_code"] == 3
    errors = [line for line in night.stderr_lines if line.startswith(ERROR_LINE)]
    assert len(errors) == 2  # the email failure, then the fatal cause
    assert any("email" in e for e in errors) and any("credentials" in e.lower() for e in errors)
    # Not recorded as seen: the next night takes the file again.
    assert nights.run("drop").summary["inputs"] == ["drop/acme.csv"]


def test_transient_smtp_failure_is_retried_and_delivered_once(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    with smtp_server(Handler(replies=["451 4.3.0 try again later"])) as (port, handler):
        night = nights.run("drop", "--email-to", "a@x", env=smtp_env(port))
    assert night.code == 0, night.stderr
    assert handler.data_attempts == 2 and len(handler.received) == 1


def test_email_retry_waits_through_the_injected_sleep(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    with smtp_server(Handler(replies=["451 4.3.0 try again later"])) as (port, handler):
        night = nights.run("drop", "--email-to", "a@x", env=smtp_env(port))
    assert handler.data_attempts == 2 and night.code == 0
    assert 2.0 in nights.sleeps


def test_email_retry_warning_is_in_run_log_and_on_stderr(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    with smtp_server(Handler(replies=["451 4.3.0 try again later"])) as (port, _):
        night = nights.run("drop", "--email-to", "a@x", env=smtp_env(port))
    assert night.code == 0
    assert re.search(r"WARNING email via 127\.0\.0\.1:\d+: attempt 1 of 3 failed", night.run_log)
    assert any("attempt 1 of 3 failed" in line for line in night.stderr_lines)


def test_quiet_cron_run_prints_nothing_when_the_email_needed_a_retry(tmp_path):
    """The real entry point as cron runs it: stderr not a terminal, --quiet, a 451 then a 250."""
    write_csv(tmp_path / "drop" / "acme.csv", ACME)
    with smtp_server(Handler(replies=["451 4.3.0 try again later"])) as (port, handler):
        environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CNAM_BATCH_", "SMTP_"))},
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "PYTHONPATH": str(ROOT),
        }
        done = subprocess.run(
            [sys.executable, str(ROOT / "run_batch.py"), "run", "drop", "--dry-run", "--quiet",
             "--email-to", "a@x", "--output", "output"],
            cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(handler.received) == 1
    assert done.stdout == ""
    assert done.stderr == ""
    (run_log,) = (tmp_path / "output").glob("*/run.log")
    assert "attempt 1 of 3 failed" in run_log.read_text(encoding="utf-8")  # logged, not printed


# -------------------------------------------------------------------------------------- logs


def test_api_retries_are_in_the_run_log(make_nights):
    nights = make_nights(
        SandboxConfig(faults=FaultConfig(error_rate=1.0, operations=frozenset({"create_cnam"})))
    )
    write_csv(Path("drop/acme.csv"), ACME)
    night = nights.run("drop")
    assert night.code == 1  # the two creates failed after retries
    assert night.summary["api"]["retries"] > 0
    assert re.search(r"WARNING .*retry 1 of \d+ in", night.run_log), night.run_log


def test_every_run_folder_has_a_run_log_with_timestamps_levels_stages_and_outcome(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    runs = [nights.run("drop"), nights.run("drop/acme.csv", "--dry-run"), nights.run()]
    for night in runs:
        assert night.code == 0, night.stderr
        lines = night.run_log.splitlines()
        assert lines, night.run_dir
        bad = [line for line in lines if not ISO_LINE.match(line)]
        assert bad == [], bad
        run_id = night.summary["run_id"]
        assert re.search(rf"INFO run {run_id} started", night.run_log)
        for stage in ("load", "validate", "report"):
            assert re.search(rf"INFO stage {stage} took", night.run_log), stage
        assert re.search(rf"INFO cnam-batch {run_id}: .* rows\); report: ", lines[-1])
    assert "INFO stage api took" in runs[0].run_log
    assert "INFO stage plan took" in runs[1].run_log


def test_cron_stderr_holds_only_warnings_and_the_one_line_outcome(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    plain = nights.run("drop")
    assert plain.code == 0
    assert plain.stderr_lines == outcome_lines(plain.stderr)
    assert len(plain.stderr_lines) == 1
    run_id = plain.summary["run_id"]
    assert plain.stderr_lines[0].startswith(f"cnam-batch {run_id}: 0 associated, ")
    assert "1 rejected" in plain.stderr_lines[0] and "2 pending" in plain.stderr_lines[0]
    assert plain.stdout == ""

    # A workbook whose first sheet is empty: the run says which sheet it read, as a warning.
    workbook = ROOT / "tests" / "data" / "first_sheet_empty.xlsx"
    warned = nights.run(str(workbook), "--dry-run")
    assert warned.code == 0, warned.stderr
    warnings = [line for line in warned.stderr_lines if line.startswith("cnam-batch: WARNING: ")]
    assert len(warnings) >= 1
    assert sorted(warned.stderr_lines) == sorted(warnings + outcome_lines(warned.stderr))
    assert all(f"WARNING {w.removeprefix('cnam-batch: WARNING: ')}" in warned.run_log
               for w in warnings)  # fmt: skip


def test_quiet_leaves_stderr_empty_on_success(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    night = nights.run("drop", "--quiet")
    assert night.code == 0
    assert night.stderr == "" and night.stdout == ""
    assert "INFO cnam-batch " in night.run_log  # the outcome is still logged


def test_verbose_adds_info_lines_on_stderr(nights):
    write_csv(Path("drop/acme.csv"), ACME)
    night = nights.run("drop", "--verbose")
    assert night.code == 0
    assert any(line.startswith("cnam-batch: INFO: stage api took") for line in night.stderr_lines)
    assert len(outcome_lines(night.stderr)) == 1


def test_progress_bar_only_on_a_terminal(nights):
    write_csv(Path("drop/a.csv"), [("2064561001", "Acme Plumbing"), ("2064561004", "Bobs Bikes")])
    write_csv(Path("drop/b.csv"), [("2064561005", "Beta Bakery")])
    on_tty = nights.run("drop/a.csv", isatty=True)
    assert on_tty.code == 0
    assert "\r" in on_tty.stderr and "row" in on_tty.stderr

    off_tty = nights.run("drop/b.csv", isatty=False)
    quiet_tty = nights.run("drop/b.csv", "--reprocess", "--quiet", isatty=True)
    for night in (off_tty, quiet_tty):
        assert night.code == 0
        assert "\r" not in night.stderr
    assert quiet_tty.stderr == ""
