"""The sandbox's state file: JSON Lines, appended after each write, compacted at start.

Rewriting a whole JSON snapshot after every write costs O(account) per request: with a million
presets that is most of a second per association. So each write appends its changes as one JSON
object a line and flushes (it survives the process being killed mid-run, which is what a journal
crash test does to an in-process sandbox). At start the file is replayed and, when it is missing,
torn or mostly superseded operations, rewritten compacted to a temporary name and renamed over
the old one. A torn last line (killed mid-append) is ignored.

Line 1 is the header `{"flowroute_sandbox_state": 1}`; every other line is one operation:
`{"op": "record", "id", "value", "created", "approved_at", "rejection_reason"}` (create/decision),
`{"op": "delete", "id"}`, `{"op": "preset", "number", "id"}` (id null to clear),
`{"op": "use", "number"}`, `{"op": "next_id", "id"}`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from pipeline.errors import ConfigError

FORMAT_VERSION = 1
_HEADER = {"flowroute_sandbox_state": FORMAT_VERSION}


class StateLog:
    """Reads, compacts and appends to one state file; the account's lock guards it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.needs_rewrite = True  # until read() finds a whole, existing file
        self._file: IO[str] | None = None

    def read(self) -> list[dict[str, Any]]:
        """The operations in the file ([] when it does not exist); ConfigError when unreadable.
        Sets `needs_rewrite` when the file is missing or its last line is torn."""
        self.needs_rewrite = True
        if not self.path.exists():
            return []
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
            if not lines or json.loads(lines[0]) != _HEADER:
                raise ValueError(f"the first line is not {json.dumps(_HEADER)}")
            body = lines[1:]
            try:  # one parse of the whole file is several times faster than one per line
                ops = json.loads("[" + ",".join(body) + "]")
                self.needs_rewrite = False
            except ValueError:
                ops = self._parse_lines(body)
            for number, op in enumerate(ops, start=2):
                if not isinstance(op, dict) or "op" not in op:
                    raise ValueError(f"line {number} is not an operation")
            return ops
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise self.unusable(exc) from exc

    @staticmethod
    def _parse_lines(body: list[str]) -> list[Any]:
        ops = []
        for number, line in enumerate(body, start=2):
            try:
                ops.append(json.loads(line))
            except ValueError:
                if number == len(body) + 1:
                    break  # torn by a kill during the last append
                raise ValueError(f"line {number} is not JSON") from None
        return ops

    def rewrite(self, ops: Iterable[dict[str, Any]]) -> None:
        """Replace the file with these operations, atomically (temporary name, then rename)."""
        self.close()
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as out:
                out.write(json.dumps(_HEADER) + "\n")
                out.writelines(_line(op) for op in ops)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise self.unusable(exc) from exc

    def append(self, ops: list[dict[str, Any]]) -> None:
        """Append and flush to the OS, so a killed process loses nothing it answered."""
        if not ops:
            return
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write("".join(_line(op) for op in ops))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def unusable(self, why: object) -> ConfigError:
        """The error for a state file that cannot be read or written, naming it and the fix."""
        return ConfigError(
            f"{self.path}: not a usable sandbox state file ({why}); "
            "delete it or choose another state file"
        )


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _line(op: dict[str, Any]) -> str:
    return _ENCODER.encode(op) + "\n"
