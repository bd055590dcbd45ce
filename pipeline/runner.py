"""The one place that knows the order of stages: inputs -> rows -> rules -> API work -> report -> email."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.api.types import ApiCounts
from pipeline.config import Settings, check_for_run
from pipeline.environment import Environment
from pipeline.errors import CnamBatchError, ConfigError, EmailError, ExitCode, most_urgent
from pipeline.input.frame import TAKEN_BEFORE, InputIssue, LoadedFile, LoadOptions, file_hash
from pipeline.input.load import check_file, file_identity, load_file, scan_folder
from pipeline.input.move import move_processed
from pipeline.model import REPORT_COLUMNS, Status, Warn
from pipeline.rules.rows import build_rows
from pipeline.rules.validate import NameRules
from pipeline.summary import RunSummary, build_summary

if TYPE_CHECKING:
    from pipeline.journal.store import Journal

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
    """The files this run takes, and those it does not read, each with why: an earlier run took
    it (TAKEN_BEFORE), or an INPUT folder holds it but it cannot be an input."""

    files: list[tuple[Path, str]]  # (path, source_file as shown in the report)
    skipped: list[InputIssue]


def _plan_inputs(settings: Settings, seen: Any) -> InputPlan:
    """Expand folders; skip folder files an earlier run took (same content hash) unless --reprocess.
    A file named on the command line is always taken. A file named twice (the same path, or a file
    and its folder) is taken once, at its first place."""
    files: list[tuple[Path, str]] = []
    skipped: list[InputIssue] = []
    taken: set[tuple[int, int]] = set()  # files and folders, by (device, inode)
    for raw in settings.inputs:
        path = Path(raw)
        if path.is_dir():
            if file_identity(path) in taken:
                log.info("%s: named more than once; read once", raw)
                continue
            taken.add(file_identity(path))
            scan = scan_folder(path, raw)
            for issue in scan.skipped:
                level = logging.INFO if issue.file in scan.other_types else logging.WARNING
                log.log(level, "skipped %s: %s", issue.file, issue.reason)
            skipped.extend(scan.skipped)
            members = [(m, str(Path(raw) / m.name), True) for m in scan.files]
        else:
            members = [(check_file(raw), raw, False)]  # InputError: missing or unsupported
        for member, shown, in_folder in members:
            try:
                identity = file_identity(member)
            except OSError as err:  # gone between the listing and now (a drop folder is live)
                skipped.append(InputIssue(shown, f"cannot be read ({err.strerror or err})"))
                continue
            if identity in taken:
                log.info("%s: named more than once; read once", shown)
                continue
            taken.add(identity)
            earlier = in_folder and seen is not None and not settings.reprocess
            if earlier and seen(file_hash(member)):
                skipped.append(InputIssue(shown, TAKEN_BEFORE))
                log.info("skipped %s: an earlier run took this file (same content)", shown)
                continue
            files.append((member, shown))
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
    with ExitStack() as stack:
        run = _start(settings, env, stack, started)
        plan = _take_inputs(run)
        loaded = _load(run, plan)
        rows = _validate(run, loaded, rules)
        work = _plan_rows(run, rows) if settings.dry_run else _api_work(run, rows, loaded)
        not_moved = _record_inputs(run, loaded, work)
        summary = _summarize(run, started, plan, loaded, rows, work, not_moved)
        _write_report(run, rows, work.carried, summary)
        _close_journal_run(run, summary)
        _tell_outcome(run, summary)
        summary = _email(run, summary, rows, work.carried)
        if work.stopped_by is not None:
            if summary.exit_code == work.stopped_by.exit_code:
                raise work.stopped_by
            # A more urgent code won (a failed email over --max-runtime's 1): still say why.
            env.stderr.write(f"cnam-batch: error: {work.stopped_by}\n")
        return RunResult(summary.exit_code, run.run_id, run.run_dir, summary)


@dataclass
class _Run:
    """One run's context as the stages share it: settings, environment, the open journal (a real
    run), the run folder, the stage timings."""

    settings: Settings
    env: Environment
    stack: ExitStack
    journal: Journal | None
    run_id: str
    run_dir: Path
    say: Callable[[str], None]
    timings: dict[str, float] = field(default_factory=dict)
    mark: float = 0.0

    def lap(self, stage: str) -> None:
        """Time the stage that just ended (summary.json's timings_s, run.log)."""
        now = self.env.monotonic()
        self.timings[stage] = round(now - self.mark, 3)
        log.info("stage %s took %.2f s", stage, now - self.mark)
        self.mark = now


@dataclass(frozen=True)
class _Work:
    """What the API stage (or a dry run's planning) hands on."""

    carried: pd.DataFrame | None = None  # earlier runs' rows this run advanced
    api: ApiCounts = ApiCounts()
    stopped_by: CnamBatchError | None = None  # the error that ended the API work early


def _start(settings: Settings, env: Environment, stack: ExitStack, started: datetime) -> _Run:
    """Open the journal (a real run), make the run folder, send the log to its run.log."""
    journal = None
    if not settings.dry_run:
        from pipeline.journal.store import Journal

        if not settings.sandbox:  # a bad --api-url never reaches the journal (bound to it)
            from pipeline.api.urls import normalize_base_url

            normalize_base_url(settings.api_url)
        settings.state.parent.mkdir(parents=True, exist_ok=True)
        journal = Journal(settings.state)
        journal.open()
        stack.callback(journal.close)
    run_id, run_dir = _new_run_dir(settings, started)
    stack.enter_context(_run_log(run_dir))
    say = _status_line(settings, env)
    return _Run(settings, env, stack, journal, run_id, run_dir, say)


def _take_inputs(run: _Run) -> InputPlan:
    settings = run.settings
    with _logged():
        plan = _plan_inputs(settings, run.journal.input_seen if run.journal is not None else None)
    where = "sandbox" if settings.sandbox else settings.api_url
    log.info("run %s started (%s)", run.run_id, "dry run" if settings.dry_run else where)
    run.mark = run.env.monotonic()
    return plan


def _load(run: _Run, plan: InputPlan) -> list[LoadedFile]:
    run.say(f"reading {len(plan.files)} input file(s)")
    with _logged():
        loaded = _load_all(plan, run.settings)
    run.lap("load")
    return loaded


def _validate(run: _Run, loaded: list[LoadedFile], rules: NameRules) -> pd.DataFrame:
    run.say(f"checking {sum(len(lf.frame) for lf in loaded):,} rows")
    rows = build_rows(loaded, rules, accept_suggestions=run.settings.accept_suggestions)
    run.lap("validate")
    return rows


def _plan_rows(run: _Run, rows: pd.DataFrame) -> _Work:
    """A dry run: every row the rules let through is `planned`; nothing is sent."""
    open_rows = rows["status"] == ""
    rows.loc[open_rows, "status"] = Status.PLANNED.value
    rows.loc[open_rows, "reason"] = PLANNED_REASON
    run.lap("plan")
    return _Work()


def _api_work(run: _Run, rows: pd.DataFrame, loaded: list[LoadedFile]) -> _Work:
    """A real run: create, wait, associate; advance earlier runs' open rows."""
    from pipeline.lifecycle.api_phase import run_api_phase

    assert run.journal is not None
    outcome = run_api_phase(
        run.settings, run.env, run.journal, run.run_id, rows, loaded, run.stack, run.settings.state
    )
    run.lap("api")
    return _Work(outcome.carried_over, outcome.api, outcome.fatal)


def _summarize(
    run: _Run,
    started: datetime,
    plan: InputPlan,
    loaded: list[LoadedFile],
    rows: pd.DataFrame,
    work: _Work,
    not_moved: list[InputIssue],
) -> RunSummary:
    return build_summary(
        settings=run.settings,
        run_id=run.run_id,
        started_at=started,
        finished_at=run.env.now(),
        loaded=loaded,
        inputs_skipped=plan.skipped,
        inputs_not_moved=not_moved,
        rows=rows,
        carried=work.carried,
        api=work.api,
        timings=run.timings,
        stopped_by=None if work.stopped_by is None else work.stopped_by.exit_code,
    )


def _write_report(
    run: _Run, rows: pd.DataFrame, carried: pd.DataFrame | None, summary: RunSummary
) -> None:
    from pipeline.report.fixes import fixes_note, write_fixes
    from pipeline.report.write import write_reports

    run.say(f"writing the report for {len(rows):,} rows")
    write_reports(
        run.run_dir,
        rows[list(REPORT_COLUMNS)],
        summary,
        carried[list(REPORT_COLUMNS)] if carried is not None else None,
    )
    fixes = write_fixes(run.run_dir, rows)
    if fixes is not None:
        log.info("%s", fixes_note(summary.suggested_fixes, fixes), extra={"file_only": True})
    run.lap("report")


def _record_inputs(run: _Run, loaded: list[LoadedFile], work: _Work) -> list[InputIssue]:
    """A real run the API did not stop records its inputs, so a drop folder skips them next time,
    and with --move-processed moves them (before the report, which names those left in place)."""
    if run.journal is None or work.stopped_by is not None:
        return []
    for lf in loaded:
        run.journal.record_input(lf.content_hash, lf.source_file, run.run_id, len(lf.frame))
    if run.settings.move_processed is None:
        return []
    return move_processed(run.settings.move_processed, loaded)


def _close_journal_run(run: _Run, summary: RunSummary) -> None:
    """The run's end in the journal."""
    if run.journal is not None:
        run.journal.finish_run(run.run_id, int(summary.exit_code))


def _tell_outcome(run: _Run, summary: RunSummary) -> None:
    line = _outcome_line(summary, run.run_dir / "report.xlsx")
    log.info("%s", line, extra={"file_only": True})
    if not run.settings.quiet:
        run.env.stderr.write(line + "\n")


def _email(
    run: _Run, summary: RunSummary, rows: pd.DataFrame, carried: pd.DataFrame | None
) -> RunSummary:
    """Send the report when --email-to asks; a failed send is exit 5 unless a more urgent code
    applies, and then summary.json is rewritten with it. Returns the summary as it stands."""
    if not run.settings.email_to:
        return summary
    try:
        _send_email(run.settings, run.env, summary, rows, carried, run.run_dir)
    except EmailError as exc:
        log.error("%s", exc, extra={"file_only": True})
        exit_code = most_urgent(summary.exit_code, ExitCode.EMAIL_FAILED)
        if exit_code != summary.exit_code:
            summary = replace(summary, exit_code=exit_code, timings_s=dict(run.timings))
            from pipeline.report.write import write_summary

            write_summary(run.run_dir, summary)
        run.env.stderr.write(f"cnam-batch: error: {exc}\n")
    return summary


@contextmanager
def _logged() -> Iterator[None]:
    """An error that stops the run goes to run.log too (the CLI prints it once, on stderr)."""
    try:
        yield
    except CnamBatchError as exc:
        log.error("%s", exc, extra={"file_only": True})
        raise


def _status_line(settings: Settings, env: Environment) -> Callable[[str], None]:
    """On a terminal, what the run is doing now (a big file takes seconds per stage); elsewhere
    nothing: cron mails whatever reaches stderr."""
    if settings.quiet or not env.stderr_isatty:
        return lambda text: None

    def say(text: str) -> None:
        env.stderr.write(f"cnam-batch: {text}...\n")
        env.stderr.flush()

    return say


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
