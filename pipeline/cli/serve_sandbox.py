"""`cnam-batch sandbox`: serve the sandbox API on 127.0.0.1 until interrupted."""

from __future__ import annotations

import argparse

from pipeline.config import NumberRule, check_number
from pipeline.environment import Environment
from pipeline.errors import ExitCode, UsageError

# The sandbox's own numeric options, checked like `run`'s (pipeline/config.py NUMBER_RULES).
SANDBOX_RULES: dict[str, NumberRule] = {
    "--port": NumberRule(0, 65535, whole=True),
    "--approve-after": NumberRule(0, 7 * 86400, "seconds"),
    "--rate-limit": NumberRule(0.01, 1000, "requests per second"),
    "--outage-after": NumberRule(0, 10**9, "requests", whole=True),
    "--outage-for": NumberRule(0, 7 * 86400, "seconds", above=True),
}


def serve_command(args: argparse.Namespace, env: Environment) -> int:
    from pipeline.sandbox.control import OutageConfig
    from pipeline.sandbox.server import SandboxConfig, load_numbers_file, serve

    for option, value in (
        ("--port", args.port),
        ("--approve-after", args.approve_after),
        ("--rate-limit", args.rate_limit),
        ("--outage-after", args.outage_after),
        ("--outage-for", args.outage_for),
    ):
        if value is not None:
            check_number(option, value, SANDBOX_RULES[option])
    if args.no_retry_after and args.rate_limit is None:
        raise UsageError("--no-retry-after shapes the 429s of --rate-limit: give --rate-limit N")
    outage = None
    if args.outage_after is not None or args.outage_for is not None:
        outage = OutageConfig(
            after_requests=args.outage_after if args.outage_after is not None else 0,
            mode=args.outage_mode,
            duration=args.outage_for,
        )
    config = SandboxConfig(
        access_key=env.environ.get("FR_ACCESS_KEY") or None,
        secret_key=env.environ.get("FR_SECRET_KEY") or None,
        numbers=load_numbers_file(args.numbers) if args.numbers else None,
        approve_after=args.approve_after,
        rate_limit=args.rate_limit,
        retry_after=not args.no_retry_after,
        state_file=args.state_file,
        outage=outage,
    )
    serve(config, args.port, out=env.stdout)  # returns on Ctrl-C
    return int(ExitCode.OK)
