"""Progress bars on a terminal, and nothing at all elsewhere (cron mails whatever is on stderr)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.config import Settings
from pipeline.environment import Environment

Progress = Callable[[int, int, str], None]


class TerminalProgress:
    """A tqdm bar for the API phase: rows decided out of rows in the pass, with the phase shown."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._bar: Any = None

    def __call__(self, done: int, total: int, phase: str) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(
                total=total, file=self._stream, unit="row", dynamic_ncols=True, leave=False
            )
        if self._bar.total != total:
            self._bar.total = total
        self._bar.set_description(phase, refresh=False)
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_progress(settings: Settings, env: Environment) -> TerminalProgress | None:
    """A bar only when stderr is a terminal and the user did not ask for quiet."""
    if settings.quiet or not env.stderr_isatty:
        return None
    return TerminalProgress(env.stderr)
