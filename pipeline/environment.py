"""Environment: what the outside world gives a run (streams, environment variables, clock, sleep).

Built once by the CLI and passed down, so tests substitute every part of it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO


@dataclass
class Environment:
    """What the outside world gives a run: streams, environment variables, clock and sleep."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    stderr_isatty: bool | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.stderr_isatty is None:
            isatty = getattr(self.stderr, "isatty", None)
            self.stderr_isatty = bool(isatty and isatty())
