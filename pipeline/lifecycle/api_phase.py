"""The real run's API phase, seen from the runner: pick the endpoint, build the client, run the
lifecycle, and fold its outcomes back into the row frame.

A fatal API error (credentials refused, API unreachable) does not lose the report: rows without an
outcome are marked `failed` with the cause, the report is written, and the runner then exits 3.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import logging
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.api.client import FlowrouteClient
from pipeline.api.outage import OutageGuard
from pipeline.api.ratelimit import AUTO_CEILING, AUTO_START, Learned, RateLimiter
from pipeline.api.types import ApiCounts, ApiStats, RateSummary
from pipeline.api.urls import make_session, normalize_base_url
from pipeline.config import RATE_AUTO, Settings
from pipeline.environment import Environment
from pipeline.errors import ApiUnreachableError, CnamBatchError, CredentialsError
from pipeline.input.frame import LoadedFile
from pipeline.journal.store import Journal
from pipeline.journal.types import WorkItem
from pipeline.lifecycle.engine import run_lifecycle
from pipeline.lifecycle.outcomes import Outcome
from pipeline.model import REPORT_COLUMNS, Reason, Status, Warn
from pipeline.progress import make_progress

log = logging.getLogger(__name__)

# The built-in sandbox's review decides quickly, so `run --sandbox --wait-approval 15` shows the
# whole lifecycle in one command.
SANDBOX_APPROVE_AFTER = 3.0


@dataclass
class ApiPhaseOutcome:
    carried_over: pd.DataFrame | None
    api: ApiCounts
    fatal: CnamBatchError | None


def _endpoint(
    settings: Settings, stack: ExitStack, state_path: Path, numbers: Iterable[str] = ()
) -> tuple[str, str, str]:
    """(base URL, access key, secret key): the built-in sandbox or the configured API.

    The built-in sandbox's account owns the run's `numbers` (all but the fictional 555-01XX),
    and lists them as a real account lists its numbers."""
    if settings.sandbox:
        from pipeline.sandbox.server import SandboxConfig, SandboxServer

        server = SandboxServer(
            SandboxConfig(
                approve_after=SANDBOX_APPROVE_AFTER,
                state_file=state_path.parent / "sandbox-account.jsonl",
            )
        )
        stack.enter_context(server)
        server.account.use(numbers)
        log.info("sandbox serving at %s", server.url)
        return server.url, server.access_key, server.secret_key
    assert settings.fr_access_key and settings.fr_secret_key
    return settings.api_url, settings.fr_access_key, settings.fr_secret_key


def make_limiter(settings: Settings, env: Environment, learned: Learned | None) -> RateLimiter:
    """`--rate-limit N`: N is the ceiling and the first rate; `auto`: from 5/s up to 50/s. Either
    starts from what an earlier run learned about this API, when it did."""
    if settings.rate_limit == RATE_AUTO:
        ceiling, start = AUTO_CEILING, AUTO_START
    else:
        ceiling, start = float(settings.rate_limit), None
    return RateLimiter(ceiling, start=start, learned=learned, clock=env.monotonic, sleep=env.sleep)


def rate_summary(settings: Settings, limiter: RateLimiter, start: float) -> RateSummary:
    """summary.json's `api.rate_limit`: the setting, the rate the run started from, what it
    learned (and whether from 429s), and how often a 429 made it slow down."""
    learned = limiter.learned()
    return RateSummary(
        setting=settings.rate_limit,
        ceiling=limiter.ceiling,
        start=round(start, 3),
        learned=learned.rate,
        learned_from_429=learned.throttled,
        slowdowns=limiter.cuts,
    )


def build_client(
    settings: Settings,
    base_url: str,
    access_key: str,
    secret_key: str,
    env: Environment,
    guard: OutageGuard | None = None,
    learned: Learned | None = None,
) -> tuple[FlowrouteClient, ApiStats]:
    session = make_session(pool_maxsize=max(settings.concurrency, 4) + 2)
    stats = ApiStats()
    limiter = make_limiter(settings, env, learned)
    client = FlowrouteClient(
        base_url,
        access_key,
        secret_key,
        session=session,
        limiter=limiter,
        timeout=settings.request_timeout,
        association_path=settings.association_path,
        sleep=env.sleep,
        stats=stats,
        guard=guard,
    )
    return client, stats


def build_guard(settings: Settings, base_url: str, env: Environment) -> OutageGuard:
    """The run's outage breaker and --max-runtime deadline (counted from the API phase's start)."""
    deadline = None
    if settings.max_runtime is not None:
        deadline = env.monotonic() + settings.max_runtime
    return OutageGuard(
        normalize_base_url(base_url),
        budget=settings.outage_budget,
        deadline=deadline,
        max_runtime=settings.max_runtime,
        clock=env.monotonic,
    )


def row_keys(rows: pd.DataFrame) -> list[str]:
    """Each row's journal key, stable across runs: the file's content hash and the row number."""
    return [f"{h}:{r}" for h, r in zip(rows["content_hash"], rows["source_row"], strict=True)]


def work_items(rows: pd.DataFrame) -> list[WorkItem]:
    """The open rows (valid, not duplicate or conflict) as the lifecycle's work."""
    open_rows = rows[rows["status"] == ""]
    return [
        WorkItem(
            key=k,
            source_file=f,
            source_row=int(r),
            input_number=inum,
            input_name=iname,
            number=num,
            name=nm,
        )
        for k, f, r, inum, iname, num, nm in zip(
            row_keys(open_rows),
            open_rows["source_file"],
            open_rows["source_row"],
            open_rows["input_number"],
            open_rows["input_name"],
            open_rows["number"],
            open_rows["name"],
            strict=True,
        )
    ]


def _stale(outcome: Outcome, now: datetime, stale_after_days: float) -> bool:
    return (
        outcome.status is Status.PENDING_APPROVAL
        and outcome.pending_since is not None
        and now - outcome.pending_since > timedelta(days=stale_after_days)
    )


def _add_warning(existing: str, code: str) -> str:
    return code if not existing else f"{existing};{code}"


def apply_outcomes(
    rows: pd.DataFrame, outcomes: dict[str, Outcome], now: datetime, stale_after_days: float
) -> None:
    """Write each open row's outcome into the frame, in place."""
    idx = rows.index[rows["status"] == ""]
    if not len(idx):
        return
    keys = row_keys(rows.loc[idx])
    got = [outcomes.get(k) for k in keys]
    status = np.array([o.status.value if o else Status.FAILED.value for o in got], dtype=object)
    code = np.array(
        [
            (o.reason_code.value if o.reason_code else "") if o else Reason.API_ERROR.value
            for o in got
        ],
        dtype=object,
    )
    reason = np.array(
        [
            o.reason if o else "no outcome was recorded for this row; the next run retries it"
            for o in got
        ],
        dtype=object,
    )
    cnam = np.array([o.cnam_id if o else "" for o in got], dtype=object)
    since = np.array(
        [o.pending_since.isoformat() if o and o.pending_since else "" for o in got], dtype=object
    )
    rows.loc[idx, "status"] = status
    rows.loc[idx, "reason_code"] = code
    rows.loc[idx, "reason"] = reason
    rows.loc[idx, "cnam_id"] = cnam
    rows.loc[idx, "pending_since"] = since
    stale = [i for i, o in zip(idx, got, strict=True) if o and _stale(o, now, stale_after_days)]
    for i in stale:
        rows.at[i, "warnings"] = _add_warning(str(rows.at[i, "warnings"]), Warn.PENDING_STALE.value)


def fail_open_rows(rows: pd.DataFrame, cause: CnamBatchError) -> None:
    """After a fatal error: every row without an outcome is `failed` and says why."""
    idx = rows.index[rows["status"] == ""]
    rows.loc[idx, "status"] = Status.FAILED.value
    rows.loc[idx, "reason_code"] = Reason.API_ERROR.value
    rows.loc[idx, "reason"] = (
        f"the run stopped before this row was done ({cause}); the next run resumes it"
    )


def carried_frame(
    carried: list[tuple[WorkItem, Outcome]], now: datetime, stale_after_days: float
) -> pd.DataFrame:
    records = []
    for item, o in carried:
        records.append(
            {
                "source_file": item.source_file,
                "source_row": item.source_row,
                "input_number": item.input_number,
                "input_name": item.input_name,
                "number": item.number,
                "name": item.name,
                "status": o.status.value,
                "reason_code": o.reason_code.value if o.reason_code else "",
                "reason": o.reason,
                "cnam_id": o.cnam_id,
                "suggestion": "",
                "warnings": Warn.PENDING_STALE.value if _stale(o, now, stale_after_days) else "",
                "content_hash": item.key.rsplit(":", 1)[0],
                "pending_since": o.pending_since.isoformat() if o.pending_since else "",
            }
        )
    frame = pd.DataFrame.from_records(
        records, columns=[*REPORT_COLUMNS, "content_hash", "pending_since"]
    )
    frame["source_row"] = frame["source_row"].astype("int64")
    return frame


def run_api_phase(
    settings: Settings,
    env: Environment,
    journal: Journal,
    run_id: str,
    rows: pd.DataFrame,
    loaded: list[LoadedFile],
    stack: ExitStack,
    state_path: Path,
) -> ApiPhaseOutcome:
    base_url, access_key, secret_key = _endpoint(
        settings, stack, state_path, rows["number"].unique()
    )
    guard = build_guard(settings, base_url, env)
    # What an earlier run learned about this API's rate limit (a read: the journal is bound below)
    learned = journal.learned_rate("sandbox" if settings.sandbox else normalize_base_url(base_url))
    client, stats = build_client(settings, base_url, access_key, secret_key, env, guard, learned)
    limiter = client.limiter
    assert limiter is not None
    start = limiter.current_rate()
    try:
        # One small request first: a wrong URL, a dead network or refused keys end the run here,
        # within seconds, and before the journal is bound to this API.
        client.check_credentials()
    except (CredentialsError, ApiUnreachableError) as exc:
        log.error("%s", exc, extra={"file_only": True})
        fail_open_rows(rows, exc)
        return ApiPhaseOutcome(carried_over=None, api=stats.snapshot(), fatal=exc)
    api = "sandbox" if settings.sandbox else client.base_url
    fingerprint = hashlib.sha256(f"cnam-batch:{access_key}".encode()).hexdigest()[:16]
    if journal.bind_api(api, "sandbox" if settings.sandbox else fingerprint):
        log.warning(
            "FR_ACCESS_KEY differs from the one %s was last used with; if this is another "
            "Flowroute account, give it its own --state",
            state_path,
        )
    items = work_items(rows)
    log.info(
        "API phase: %d rows to work on at %s (rate limit %s, starting at %.3g/s%s; concurrency %d)",
        len(items),
        base_url,
        settings.rate_limit,
        start,
        " as learned before" if learned else "",
        settings.concurrency,
    )
    fatal: CnamBatchError | None = None
    carried: pd.DataFrame | None = None
    progress = make_progress(settings, env)
    # A full garbage collection over a big row frame pauses every thread for 30-50 ms; a request
    # held that long between its rate-limit slot and the wire lands in the next one-second window
    # and a strict server answers 429. Frozen objects are never scanned again.
    gc.collect()
    gc.freeze()
    try:
        result = run_lifecycle(
            client,
            journal,
            run_id,
            items,
            wait_approval=settings.wait_approval,
            concurrency=settings.concurrency,
            clock=lambda: env.now().timestamp(),
            sleep=env.sleep,
            progress=progress,
            give_up_after=settings.give_up_after,
            retry_failed=settings.retry_failed,
            time_left=guard.time_left,
        )
        now = env.now().astimezone(UTC)
        apply_outcomes(rows, result.outcomes, now, settings.stale_after)
        carried = carried_frame(result.carried_over, now, settings.stale_after)
        if result.fatal is not None:
            log.error("%s", result.fatal, extra={"file_only": True})
            fatal = result.fatal
    finally:
        gc.unfreeze()
        if progress is not None:  # before the outcome line, so that starts on a clean line
            progress.close()
        if stats.requests:
            setting = settings.rate_limit
            shown = setting if setting == RATE_AUTO else f"{setting:g}"
            journal.save_learned_rate(api, limiter.learned(), shown, run_id)
    counts = dataclasses.replace(
        stats.snapshot(), rate_limit=rate_summary(settings, limiter, start)
    )
    if limiter.cuts:
        log.info(
            "rate limit: %d slowdown(s) after 429s; learned %.3g requests/s for the next run",
            limiter.cuts,
            limiter.learned().rate,
        )
    return ApiPhaseOutcome(carried_over=carried, api=counts, fatal=fatal)
