"""The one place that knows the order of stages: inputs -> rows -> rules -> API work -> report -> email."""

from __future__ import annotations

import logging
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.api.types import ApiCounts
from pipeline.config import Settings, check_for_run
from pipeline.environment import Environment
from pipeline.errors import CnamBatchError, ConfigError, EmailError, ExitCode, most_urgent
from pipeline.input.frame import LoadedFile, LoadOptions, file_hash
from pipeline.input.load import expand_inputs, load_file
from pipeline.model import REPORT_COLUMNS, Status, Warn
from pipeline.rules.rows import build_rows
from pipeline.rules.validate import NameRules
from pipeline.summary import RunSummary, build_summary

log = logging.getLogger(__name__)

PLANNED_REASON = (
    "dry run: a real run creates this name's record (or reuses the account's), "
    "then associates it with this number once Flowroute approves it"
)


@dataclass
class RunResult:
    exit_code: ExitCode
    run_id: str | None = None
    run_dir: Path | None = None
    summary: RunSummary | None = None


@dataclass
class InputPlan:
    """The files this run takes, and those a drop folder already gave to an earlier run."""

    files: list[tuple[Path, str]]  # (path, source_file as shown in the report)
    skipped: list[str]


def _plan_inputs(settings: Settings, seen: Any) -> InputPlan:
    """Expand folders; skip folder files an earlier run took (same content hash) unless --reprocess.
    A file named on the command line is always taken."""
    files: list[tuple[Path, str]] = []
    skipped: list[str] = []
    for raw in settings.inputs:
        path = Path(raw)
        if path.is_dir():
            for member in expand_inputs([path]):
                shown = str(Path(raw) / member.name)
                if seen is not None and not settings.reprocess and seen(file_hash(member)):
                    skipped.append(shown)
                    log.info("skipped %s: an earlier run took this file (same content)", shown)
                    continue
                files.append((member, shown))
        else:
            expand_inputs([path])  # raises InputError for a missing or unsupported file
            files.append((path, raw))
    return InputPlan(files=files, skipped=skipped)


def _load_all(plan: InputPlan, settings: Settings) -> list[LoadedFile]:
    options = LoadOptions(
        sheet=settings.sheet,
        number_column=settings.number_column,
        name_column=settings.name_column,
    )
    loaded = []
    for path, shown in plan.files:
        lf = load_file(path, options, source_file=shown)
        for note in lf.notes:
            log.warning("%s: %s", shown, note)
        log.info(
            "%s: %d rows%s",
            shown,
            len(lf.frame),
            f", {lf.blank_rows} blank rows skipped" if lf.blank_rows else "",
        )
        loaded.append(lf)
    return loaded


def _new_run_dir(settings: Settings, now: datetime) -> tuple[str, Path]:
    from pipeline.report.write import new_run_dir

    try:
        return new_run_dir(settings.output, now)
    except OSError as exc:
        raise ConfigError(
            f"{settings.output}: cannot create the run folder ({exc.strerror}); "
            "choose another --output"
        ) from None


@contextmanager
def _run_log(run_dir: Path) -> Iterator[None]:
    """Everything the run logs, with timestamps and levels, in run_dir/run.log."""
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger("pipeline")  # every module's logger is a child of it
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


def _outcome_line(summary: RunSummary, report: Path) -> str:
    n = summary.by_status.get
    return (
        f"cnam-batch {summary.run_id}: {n('associated', 0)} associated, {n('already_set', 0)} already set, "
        f"{n('pending_approval', 0)} pending, {n('rejected', 0)} rejected, {n('failed', 0)} failed, "
        f"{n('duplicate', 0)} duplicate"
        + (f", {n('planned', 0)} planned" if n("planned") else "")
        + f" ({summary.rows_total} rows); report: {report}"
    )


def run_job(settings: Settings, env: Environment) -> RunResult:
    """Run `cnam-batch run` with these settings. Raises CnamBatchError for what stops a run."""
    started = env.now()
    check_for_run(settings)
    rules = NameRules.load(settings.blocklist, settings.allowlist)
    real = not settings.dry_run
    with ExitStack() as stack:
        journal = None
        state_path = settings.state
        if real:
            from pipeline.journal.store import Journal

            state_path.parent.mkdir(parents=True, exist_ok=True)
            journal = Journal(state_path)
            journal.open()
            stack.callback(journal.close)
        run_id, run_dir = _new_run_dir(settings, started)
        stack.enter_context(_run_log(run_dir))
        try:
            plan = _plan_inputs(settings, journal.input_seen if journal is not None else None)
        except CnamBatchError as exc:
            log.error("%s", exc, extra={"file_only": True})
            raise
        log.info(
            "run %s started (%s)",
            run_id,
            "dry run"
            if settings.dry_run
            else ("sandbox" if settings.sandbox else settings.api_url),
        )
        timings: dict[str, float] = {}
        mark = env.monotonic()
        say = _status_line(settings, env)
        say(f"reading {len(plan.files)} input file(s)")
        try:
            loaded = _load_all(plan, settings)
        except CnamBatchError as exc:
            log.error("%s", exc, extra={"file_only": True})
            raise
        mark = _lap(timings, "load", mark, env)
        say(f"checking {sum(len(lf.frame) for lf in loaded):,} rows")
        rows = build_rows(loaded, rules)
        mark = _lap(timings, "validate", mark, env)
        carried: pd.DataFrame | None = None
        api = ApiCounts()
        fatal: CnamBatchError | None = None
        if settings.dry_run:
            open_rows = rows["status"] == ""
            rows.loc[open_rows, "status"] = Status.PLANNED.value
            rows.loc[open_rows, "reason"] = PLANNED_REASON
        else:
            from pipeline.lifecycle.api_phase import run_api_phase

            assert journal is not None
            outcome = run_api_phase(settings, env, journal, run_id, rows, loaded, stack, state_path)
            carried, api, fatal = outcome.carried_over, outcome.api, outcome.fatal
        mark = _lap(timings, "plan" if settings.dry_run else "api", mark, env)
        summary = build_summary(
            settings=settings,
            run_id=run_id,
            started_at=started,
            finished_at=env.now(),
            loaded=loaded,
            inputs_skipped=plan.skipped,
            rows=rows,
            carried=carried,
            api=api,
            timings=timings,
            stopped_by=None if fatal is None else fatal.exit_code,
        )
        from pipeline.report.write import write_reports

        say(f"writing the report for {len(rows):,} rows")
        write_reports(
            run_dir,
            rows[list(REPORT_COLUMNS)],
            summary,
            carried[list(REPORT_COLUMNS)] if carried is not None else None,
        )
        mark = _lap(timings, "report", mark, env)
        if journal is not None:
            journal.finish_run(run_id, int(summary.exit_code))
        if journal is not None and fatal is None:
            for lf in loaded:
                journal.record_input(lf.content_hash, lf.source_file, run_id, len(lf.frame))
            _move_processed(settings, loaded)
        report_path = run_dir / "report.xlsx"
        line = _outcome_line(summary, report_path)
        log.info("%s", line, extra={"file_only": True})
        if not settings.quiet:
            env.stderr.write(line + "\n")
        if settings.email_to:
            try:
                _send_email(settings, env, summary, rows, carried, run_dir)
            except EmailError as exc:
                log.error("%s", exc, extra={"file_only": True})
                exit_code = most_urgent(summary.exit_code, ExitCode.EMAIL_FAILED)
                if exit_code != summary.exit_code:
                    summary = replace(summary, exit_code=exit_code, timings_s=dict(timings))
                    from pipeline.report.write import write_summary

                    write_summary(run_dir, summary)
                env.stderr.write(f"cnam-batch: error: {exc}\n")
        if fatal is not None:
            raise fatal
        return RunResult(
            exit_code=summary.exit_code, run_id=run_id, run_dir=run_dir, summary=summary
        )


def _status_line(settings: Settings, env: Environment) -> Callable[[str], None]:
    """On a terminal, what the run is doing now (a big file takes seconds per stage); elsewhere
    nothing: cron mails whatever reaches stderr."""
    if settings.quiet or not env.stderr_isatty:
        return lambda text: None

    def say(text: str) -> None:
        env.stderr.write(f"cnam-batch: {text}...\n")
        env.stderr.flush()

    return say


def _lap(timings: dict[str, float], stage: str, since: float, env: Environment) -> float:
    now = env.monotonic()
    timings[stage] = round(now - since, 3)
    log.info("stage %s took %.2f s", stage, now - since)
    return now


def _move_processed(settings: Settings, loaded: list[LoadedFile]) -> None:
    target = settings.move_processed
    if target is None:
        return
    target.mkdir(parents=True, exist_ok=True)
    for lf in loaded:
        dest = target / lf.path.name
        n = 2
        while dest.exists():
            dest = target / f"{lf.path.stem}-{n}{lf.path.suffix}"
            n += 1
        shutil.move(str(lf.path), dest)
        log.info("moved %s to %s", lf.source_file, dest)


def _send_email(
    settings: Settings,
    env: Environment,
    summary: RunSummary,
    rows: pd.DataFrame,
    carried: pd.DataFrame | None,
    run_dir: Path,
) -> None:
    from pipeline.notify.mail import SmtpSettings, build_message, send_message

    assert settings.smtp_host is not None
    frames = [f for f in (rows, carried) if f is not None and len(f)]
    stale = (
        pd.concat(
            [f[f["warnings"].str.contains(Warn.PENDING_STALE.value, regex=False)] for f in frames]
        )
        if frames
        else rows.iloc[0:0]
    ).copy()
    now = env.now()
    since = pd.to_datetime(stale["pending_since"], utc=True, errors="coerce")
    stale["days_pending"] = ((now - since).dt.total_seconds() / 86400).round(1)
    sender = settings.email_from or f"cnam-batch@{socket.gethostname()}"
    msg = build_message(
        summary=summary,
        rows=rows,
        run_dir=run_dir,
        to=list(settings.email_to),
        sender=sender,
        stale=stale,
        max_mb=settings.email_max_mb,
    )
    smtp = SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        ssl=settings.smtp_ssl,
    )
    send_message(msg, smtp, sleep=env.sleep)
    log.info("emailed the report to %s", ", ".join(settings.email_to))
