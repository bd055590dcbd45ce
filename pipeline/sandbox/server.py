"""A Flowroute v2 compatible HTTP server for demos, tests and trials (SPEC "The sandbox").

It behaves like the real API as flowroute-api.md describes it, quirks included: form and JSON
creates, values stored uppercased, 422 on a duplicate (rejected records included), ids as strings
except the integer in the associate answer, both relationship path forms, a number 404 without a
title, `links.next` absent on the last page. Records are decided `approve_after` seconds after
creation by a small reviewer of its own (`sandbox_review`), lazily, when next read. Optional: a rate
limit (a strict sliding one-second window; 429 with or without Retry-After), seeded faults (errors and dropped connections before or after the write
commits) and a JSON state file.

Only the standard library: it starts in-process in a few milliseconds and binds 127.0.0.1 only.

    with SandboxServer(SandboxConfig(approve_after=0)) as sandbox:
        client = FlowrouteClient(sandbox.url, sandbox.access_key, sandbox.secret_key)

Module map: `sandbox_account` (records, numbers, rules, state file), `sandbox_review` (the
reviewer), `sandbox_http` (routing, auth, rendering), `sandbox_wire` (handler and server),
`sandbox_control` (log, rate limit, faults), `sandbox_state` (the state file).
"""

from __future__ import annotations

import math
import re
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TextIO

from pipeline.errors import InputError, UsageError
from pipeline.redact import MASK
from pipeline.sandbox.account import DEMO_NUMBERS, Account
from pipeline.sandbox.control import (
    FaultConfig,
    FaultInjector,
    OutageConfig,
    OutageSwitch,
    RequestLogEntry,
    SlidingWindowLimiter,
)
from pipeline.sandbox.http import SandboxApp
from pipeline.sandbox.wire import SandboxHTTPServer

HOST = "127.0.0.1"


@dataclass
class SandboxConfig:
    """The sandbox account and its behaviour. Keys are generated when None; `numbers=None` owns
    every valid US long-code number except NXX 555 lines 0100-0199; `approve_after=math.inf` keeps
    every record pending."""

    access_key: str | None = None
    secret_key: str | None = None
    numbers: set[str] | None = None  # 11-digit numbers
    approve_after: float = 2.0  # seconds until review decides
    rate_limit: float | None = None  # requests per second, all endpoints; 429 + Retry-After beyond
    retry_after: bool = True  # False: the 429s carry no Retry-After (as production may answer)
    faults: FaultConfig | None = None
    outage: OutageConfig | None = None  # every request fails from a moment on (see OutageSwitch)
    state_file: Path | None = None
    log_limit: int | None = 100_000  # `log` keeps at least the last this many requests; None: all

    def __post_init__(self) -> None:
        # Callers may pass a str path or any iterable of numbers (argparse, TOML).
        if self.state_file is not None:
            self.state_file = Path(self.state_file)
        if self.numbers is not None:
            self.numbers = set(self.numbers)


class SandboxServer:
    """The sandbox on a loopback port. A context manager: `with SandboxServer(cfg) as s: s.url`.

    `clock` (epoch seconds) dates records and times their review; `monotonic` times requests for the
    rate limit and the log. Both are injectable so tests control review without waiting.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        port: int = 0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or SandboxConfig()
        self.port = port
        self.access_key = self.config.access_key or "".join(
            secrets.choice(string.digits) for _ in range(8)
        )
        self.secret_key = self.config.secret_key or secrets.token_hex(16)
        self.log: list[RequestLogEntry] = []
        self.url = ""
        self._clock = clock
        self._monotonic = monotonic
        self.account = Account(
            numbers=self.config.numbers,
            approve_after=self.config.approve_after,
            clock=clock,
            state_file=self.config.state_file,
        )
        # The outage switch: `server.outage.begin()` / `.end()`, or the config's triggers.
        self.outage = OutageSwitch(self.config.outage, clock=monotonic)
        self._httpd: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _app(self, base_url: str) -> SandboxApp:
        cfg = self.config
        limiter = None
        if cfg.rate_limit is not None:
            limiter = SlidingWindowLimiter(
                cfg.rate_limit, clock=self._monotonic, retry_after=cfg.retry_after
            )
        return SandboxApp(
            self.account,
            access_key=self.access_key,
            secret_key=self.secret_key,
            base_url=base_url,
            log=self.log,
            log_limit=cfg.log_limit,
            clock=self._clock,
            monotonic=self._monotonic,
            limiter=limiter,
            faults=None if cfg.faults is None else FaultInjector(cfg.faults),
            outage=self.outage,
        )

    def start(self) -> str:
        """Bind 127.0.0.1 (port 0 = a free one), serve in a daemon thread, return the base URL."""
        if self._httpd is not None:
            raise RuntimeError("the sandbox is already running")
        self._httpd = SandboxHTTPServer((HOST, self.port), self._app)
        self.url = self._httpd.app.base_url
        self._thread = threading.Thread(
            target=self._httpd.serve,
            name=f"flowroute-sandbox-{self.url.rsplit(':', 1)[1]}",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and close every open connection; safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stop_serving()
        if self._thread is not None:
            self._thread.join(timeout=5)
        httpd.close()
        self.account.close()

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    config: SandboxConfig,
    port: int,
    *,
    out: TextIO,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """The `sandbox` command: serve on 127.0.0.1:port until Ctrl-C (or until `stop` is set).

    Prints the URL, this local test account's keys (generated ones are meant to be shown) and how to
    point cnam-batch at it. A port in use is a UsageError.
    """
    server = SandboxServer(config, port=port, clock=clock)
    try:
        server.start()
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {HOST}:{port} ({exc.strerror or exc}); choose another --port, or 0"
        ) from exc
    try:
        for line in _banner(server):
            print(line, file=out)
        out.flush()
        waiter = stop or threading.Event()
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        print("Sandbox stopped.", file=out)
    finally:
        server.stop()


def _banner(server: SandboxServer) -> list[str]:
    cfg = server.config
    if cfg.numbers is None:
        numbers = "every valid US long-code number except NXX 555 lines 0100-0199 (not on account)"
        listed = f"demo numbers {DEMO_NUMBERS[0]}-{DEMO_NUMBERS[-1]} and the numbers used so far"
    else:
        numbers = f"{len(cfg.numbers)} numbers"
        listed = "those numbers"
    if math.isinf(cfg.approve_after):
        review = "never (records stay pending)"
    else:
        review = f"{cfg.approve_after:g} s after creation"
    rate = "none"
    if cfg.rate_limit:
        header = "with Retry-After" if cfg.retry_after else "without Retry-After"
        rate = f"{cfg.rate_limit:g} requests/s in any sliding second (429 {header} beyond)"
    state = str(cfg.state_file) if cfg.state_file else "in memory"
    # A generated secret is printed: nobody knows it otherwise. One given to the sandbox (from
    # FR_SECRET_KEY) is the user's own and may be a real one: never echoed.
    if cfg.secret_key is None:
        secret, secret_env = server.secret_key, server.secret_key
    else:
        secret, secret_env = f"{MASK} (from FR_SECRET_KEY)", '"$FR_SECRET_KEY"'
    outage = "none"
    if cfg.outage is not None and cfg.outage.after_requests is not None:
        outage = (
            f"every request after the first {cfg.outage.after_requests} fails ({cfg.outage.mode})"
        )
    return [
        f"Flowroute sandbox listening on {server.url}",
        f"  access key: {server.access_key}",
        f"  secret key: {secret}",
        f"  numbers:    {numbers}",
        f"  listed:     {listed}",
        f"  review:     {review}",
        f"  rate limit: {rate}",
        f"  state:      {state}",
        f"  outage:     {outage}",
        "Point cnam-batch at it:",
        f"  FLOWROUTE_API_URL={server.url} FR_ACCESS_KEY={server.access_key} "
        f"FR_SECRET_KEY={secret_env} python run_batch.py run input/",
        *(
            [
                "  (cnam-batch reads the account's number listing, which on this open account shows"
                " only numbers in use: start the sandbox with --numbers FILE holding your input's"
                " numbers)"
            ]
            if cfg.numbers is None
            else []
        ),
        "Press Ctrl-C to stop.",
    ]


_SEPARATORS = re.compile(r"[\s().-]")
_NANP = re.compile(r"^1[2-9]\d{2}[2-9]\d{6}$")


def load_numbers_file(path: Path | str) -> set[str]:
    """The account's numbers from a text file: one a line, `#` starts a comment, blank lines
    skipped; 10 digits, 11 starting with 1 or +1 and 10 digits, separators allowed. Returns the
    11-digit forms; InputError naming the file and line for anything else."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read the numbers file ({exc.strerror}); check the path"
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text; save it as plain text, one number a line"
        ) from exc
    numbers: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        raw = line.split("#", 1)[0].strip()
        if not raw:
            continue
        digits = _SEPARATORS.sub("", raw)
        if digits.startswith("+1"):
            digits = digits[1:]
        elif len(digits) == 10:
            digits = "1" + digits
        if not _NANP.match(digits):
            raise InputError(
                f'{path} line {lineno}: "{raw}" is not a US number; write 10 digits, or 11 '
                "starting with 1 (area code and exchange 2-9), e.g. 12065550123"
            )
        numbers.add(digits)
    return numbers
