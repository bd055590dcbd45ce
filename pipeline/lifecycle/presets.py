"""Which numbers already carry a record: read from the account with as few calls as possible.

Split from lifecycle.py because it is one question with its own fallbacks. One GET /v2/cnams/{id}
lists the numbers that carry that record (flowroute-api.md §1.3): one call per record, however many
numbers it is on. Only when that read fails is each number's detail read instead (a GET per
number, its `cnam_preset`). A failed read is no error: the caller then sends the PATCH, which is
harmless to repeat.
"""

from __future__ import annotations

from typing import Any

from pipeline.lifecycle.fanout import Fail, FanOut


def read_presets(
    client: Any, fan_out: FanOut, checks: dict[str, set[str]], known: set[str]
) -> tuple[dict[str, str], set[str]]:
    """For `checks` (record id -> numbers to check against it): (number -> the record id it is
    known to carry, numbers whose preset is now known). `known`: numbers read before."""
    presets: dict[str, str] = {}
    looked_up: set[str] = set()
    listed: dict[str, Any] = {}
    fan_out(client.get_cnam_numbers, sorted(checks), listed.__setitem__, "reconcile")
    per_number: set[str] = set()
    for cnam_id, got in listed.items():
        numbers = checks[cnam_id]
        if isinstance(got, Fail):
            per_number |= numbers
            continue
        for number in numbers & set(got[1]):
            presets[number] = cnam_id
        looked_up |= numbers
    unknown = sorted(per_number - known - looked_up)
    if unknown:
        details: dict[str, Any] = {}
        fan_out(client.get_number, unknown, details.__setitem__, "reconcile")
        for number, info in details.items():
            if info is not None and not isinstance(info, Fail):
                looked_up.add(number)
                if info.cnam_preset_id:
                    presets[number] = info.cnam_preset_id
    return presets, looked_up
