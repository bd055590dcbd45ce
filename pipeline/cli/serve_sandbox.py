"""`cnam-batch sandbox`: serve the sandbox API on 127.0.0.1 until interrupted."""

from __future__ import annotations

import argparse

from pipeline.environment import Environment
from pipeline.errors import ExitCode, UsageError


def serve_command(args: argparse.Namespace, env: Environment) -> int:
    from pipeline.sandbox.server import SandboxConfig, load_numbers_file, serve

    if not 0 <= args.port < 65536:
        raise UsageError(f"--port must be 0-65535 (got {args.port})")
    if args.approve_after < 0:
        raise UsageError(f"--approve-after cannot be negative (got {args.approve_after:g})")
    if args.rate_limit is not None and args.rate_limit <= 0:
        raise UsageError(f"--rate-limit must be above 0 (got {args.rate_limit:g})")
    config = SandboxConfig(
        access_key=env.environ.get("FR_ACCESS_KEY") or None,
        secret_key=env.environ.get("FR_SECRET_KEY") or None,
        numbers=load_numbers_file(args.numbers) if args.numbers else None,
        approve_after=args.approve_after,
        rate_limit=args.rate_limit,
        state_file=args.state_file,
    )
    serve(config, args.port, out=env.stdout)  # returns on Ctrl-C
    return int(ExitCode.OK)
