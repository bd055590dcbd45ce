"""Settings: every option, where it came from, and how secrets are kept out of sight.

Precedence, highest first: command line > environment > TOML file (`--config`) > defaults.
Every option can be set in the TOML file under its option name with `_` (`rate_limit = 10`). In the
environment, every option can be set as `CNAM_BATCH_<NAME>` (`CNAM_BATCH_RATE_LIMIT=10`), and a few
have the names Flowroute's and SMTP's own tools use: `FLOWROUTE_API_URL`, `FR_ACCESS_KEY`,
`FR_SECRET_KEY`, `SMTP_HOST`, `SMTP_PORT`, `SMTP_USER`, `SMTP_PASSWORD`, `SMTP_STARTTLS`, `SMTP_SSL`.
Secrets never come from the command line.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import ConfigError
from pipeline.redact import MASK

# `--rate-limit auto`: learn the server's limit (pipeline/api/ratelimit.py)
RATE_AUTO: Literal["auto"] = "auto"
RateLimit = float | Literal["auto"]

DEFAULT_API_URL = "https://api.flowroute.com"
SECRET_FIELDS = frozenset({"fr_access_key", "fr_secret_key", "smtp_password"})


@dataclass(frozen=True)
class Settings:
    """The effective settings of one invocation. Build with `resolve_settings`."""

    inputs: tuple[str, ...] = ()
    output: Path = Path("output")
    state: Path = Path("output/state.sqlite")
    dry_run: bool = False
    sandbox: bool = False
    api_url: str = DEFAULT_API_URL
    rate_limit: RateLimit = RATE_AUTO
    concurrency: int = 4
    wait_approval: float = 0.0
    request_timeout: float = 30.0
    max_runtime: float | None = None  # seconds (--max-runtime DURATION: 90s, 30m, 2h)
    outage_budget: float = 120.0  # seconds of failure on every call before a run gives up
    association_path: str = "cnams"
    sheet: str | None = None
    number_column: str | None = None
    name_column: str | None = None
    blocklist: Path | None = None
    allowlist: Path | None = None
    accept_suggestions: bool = False
    email_to: tuple[str, ...] = ()
    email_from: str | None = None
    reprocess: bool = False
    move_processed: Path | None = None
    stale_after: float = 3.0
    give_up_after: int = 5
    retry_failed: bool = False
    email_max_mb: float = 10.0
    quiet: bool = False
    verbose: bool = False
    fr_access_key: str | None = field(default=None, repr=False)
    fr_secret_key: str | None = field(default=None, repr=False)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    # where each value came from: "default", "file", "env" or "cli" (for `config`)
    sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def secrets(self) -> tuple[str | None, ...]:
        """The secret settings' values (None when unset), for `redact`."""
        return tuple(getattr(self, name) for name in sorted(SECRET_FIELDS))

    def masked(self) -> dict[str, Any]:
        """Every setting as plain values, secrets replaced by a mask (or None when unset)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS:
                value = MASK if value else None
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


# Options a user may set (TOML keys / CNAM_BATCH_ names); `sources` is internal.
OPTION_NAMES: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Settings) if f.name != "sources"
)
_FIELD_TYPES: dict[str, Any] = {f.name: f.type for f in dataclasses.fields(Settings)}
# The environment names with a meaning of their own elsewhere (Flowroute's examples, SMTP tools).
NAMED_ENV: dict[str, str] = {
    "FLOWROUTE_API_URL": "api_url",
    "FR_ACCESS_KEY": "fr_access_key",
    "FR_SECRET_KEY": "fr_secret_key",
    "SMTP_HOST": "smtp_host",
    "SMTP_PORT": "smtp_port",
    "SMTP_USER": "smtp_user",
    "SMTP_PASSWORD": "smtp_password",
    "SMTP_STARTTLS": "smtp_starttls",
    "SMTP_SSL": "smtp_ssl",
}
ENV_PREFIX = "CNAM_BATCH_"
# Options that only make sense per invocation, not from a file or the environment (none: a cron
# job may well want `verbose = true` in its file).
_CLI_ONLY: frozenset[str] = frozenset()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d)?\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "mins": 60, "h": 3600, "hr": 3600,
                 "hrs": 3600, "d": 86400}  # fmt: skip


def parse_duration(text: object) -> float:
    """Seconds from `90s`, `30m`, `2h`, `1d` or a plain number of seconds; ValueError otherwise."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 90s, 30m or 2h")
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration; write e.g. 90s, 30m or 2h")
    seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise ValueError("a duration must be above 0")
    return seconds


def parse_rate_limit(value: object) -> RateLimit:
    """`auto` (any case) or a number of requests per second; ValueError otherwise. The number's
    range is checked with the other settings."""
    if isinstance(value, str) and value.strip().lower() == RATE_AUTO:
        return RATE_AUTO
    if isinstance(value, bool):
        raise ValueError('expected a number or "auto"')
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError('expected a number of requests per second, or "auto"') from None


def _coerce(name: str, value: Any, where: str) -> Any:
    """Turn a raw value from TOML or the environment into the field's type, or say what is wrong."""
    kind = _FIELD_TYPES[name]
    try:
        if kind == "RateLimit":
            return parse_rate_limit(value)
        if name == "max_runtime":
            return None if value in (None, "") else parse_duration(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError("expected true or false")
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("expected a whole number")
            return int(str(value).strip())
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError("expected a number")
            return float(str(value).strip())
        if kind == "tuple[str, ...]":
            if isinstance(value, str):
                return tuple(p.strip() for p in value.split(",") if p.strip())
            if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                return tuple(value)
            raise ValueError("expected a list of strings")
        if kind in ("Path", "Path | None"):
            if value is None or value == "":
                return None if "None" in kind else Path(".")
            return Path(str(value)).expanduser()
        if kind in ("str", "str | None"):
            if not isinstance(value, str):
                raise ValueError("expected text")
            return value
    except ValueError as exc:
        shown = MASK if name in SECRET_FIELDS else repr(value)
        raise ConfigError(f"{where}: {name} = {shown} is not valid ({exc})") from None
    raise AssertionError(f"unhandled settings type {kind} for {name}")  # pragma: no cover


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML settings file; unknown keys are errors (a typo must not pass silently)."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML ({exc}); fix that line (text values need quotes: "
            'api_url = "https://..."; lists use brackets: email_to = ["a@example.com"])'
        ) from None
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.replace("-", "_").lower()
        if name in ("access_key", "secret_key"):  # a natural spelling; same meaning
            name = "fr_" + name
        if name not in OPTION_NAMES or name in _CLI_ONLY:
            known = ", ".join(n for n in OPTION_NAMES if n not in _CLI_ONLY)
            raise ConfigError(f"{path}: unknown setting {key!r}; known settings: {known}")
        out[name] = _coerce(name, value, str(path))
    return out


def read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings from the environment: CNAM_BATCH_<NAME> for every option, plus the named ones."""
    out: dict[str, Any] = {}
    for var, value in environ.items():
        if var.startswith(ENV_PREFIX):
            name = var[len(ENV_PREFIX) :].lower()
            if name not in OPTION_NAMES or name in _CLI_ONLY:
                raise ConfigError(f"environment: unknown setting {var}")
            out[name] = _coerce(name, value, f"environment {var}")
    for var, name in NAMED_ENV.items():
        named = environ.get(var)
        if named is not None and named != "":
            out[name] = _coerce(name, named, f"environment {var}")
    return out


def resolve_settings(
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    config_file: Path | None = None,
) -> Settings:
    """Merge defaults < file < environment < command line (only options the user actually gave)."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {name: "default" for name in OPTION_NAMES}
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if config_file is not None:
        layers.append(("file", read_config_file(config_file)))
    layers.append(("env", read_environment(environ)))
    layers.append(("cli", {k: v for k, v in cli.items() if v is not None}))
    for origin, layer in layers:
        for name, value in layer.items():
            values[name] = value
            sources[name] = origin
    if values.get("sandbox") and sources["state"] == "default":
        # --sandbox keeps its own journal unless --state is given: sandbox work must never be
        # mistaken for work done on the real account.
        values["state"] = Path(values.get("output", Settings.output)) / "sandbox" / "state.sqlite"
    settings = Settings(**values, sources=sources)
    _check(settings)
    return settings


@dataclass(frozen=True)
class NumberRule:
    """What a numeric option may hold: a finite number from `low` to `high` (`low` itself excluded
    when `above`), a whole one when `whole`, or one of `words` (such as "auto")."""

    low: float
    high: float
    unit: str = ""
    above: bool = False
    whole: bool = False
    words: tuple[str, ...] = ()
    optional: bool = False  # None (unset) is allowed

    def allows(self, value: object) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, str):
            return value in self.words
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if not math.isfinite(value) or (self.whole and value != int(value)):
            return False
        return (value > self.low if self.above else value >= self.low) and value <= self.high

    def describe(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        span = (
            f"above {self.low:g} and at most {self.high:g}"
            if self.above
            else f"from {self.low:g} to {self.high:g}"
        )
        unit = f" {self.unit}" if self.unit else ""
        words = "".join(f" or {w!r}" for w in self.words)
        return f"{kind} {span}{unit}{words}"


# Every numeric option and what it may hold: checked in one place (`check_number`) before anything
# is read or sent. A new numeric option adds its rule here. Limits are generous; beyond them a value
# is a typo (or inf/nan), not a wish.
NUMBER_RULES: dict[str, NumberRule] = {
    "rate_limit": NumberRule(0.01, 1000, "requests per second", words=(RATE_AUTO,)),
    "concurrency": NumberRule(1, 64, "requests in flight", whole=True),
    "wait_approval": NumberRule(0, 7 * 86400, "seconds"),
    "request_timeout": NumberRule(0, 3600, "seconds", above=True),
    "max_runtime": NumberRule(0, 30 * 86400, "seconds", above=True, optional=True),
    "outage_budget": NumberRule(0, 86400, "seconds", above=True),
    "stale_after": NumberRule(0, 3650, "days"),
    "give_up_after": NumberRule(0, 1000, "runs (0: never give up)", whole=True),
    "email_max_mb": NumberRule(0, 10_000, "MB", above=True),
    "smtp_port": NumberRule(1, 65535, whole=True),
}
_SOURCE_NAMES = {"env": "the environment", "file": "the config file"}


def check_number(name: str, value: object, rule: NumberRule, origin: str = "") -> None:
    """ConfigError in one line when `value` is not what `rule` allows (inf, nan, out of range)."""
    if rule.allows(value):
        return
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    where = f" from {origin}" if origin else ""
    raise ConfigError(f"{name} must be {rule.describe()} (got {shown}{where})")


def _check(s: Settings) -> None:
    for name, rule in NUMBER_RULES.items():
        option = f"--{name.replace('_', '-')}" if s.sources.get(name) == "cli" else name
        check_number(option, getattr(s, name), rule, _SOURCE_NAMES.get(s.sources.get(name, ""), ""))
    if s.association_path not in ("cnams", "cnam"):
        raise ConfigError(
            f"association_path must be 'cnams' (documented) or 'cnam' (Flowroute's SDKs), "
            f"not {s.association_path!r}"
        )
    if s.smtp_ssl and s.smtp_starttls:
        raise ConfigError("smtp_ssl and smtp_starttls are exclusive: choose one")
    if s.quiet and s.verbose:
        raise ConfigError("--quiet and --verbose cannot be used together")
    if s.dry_run and s.sandbox:
        raise ConfigError(
            "--dry-run and --sandbox cannot be used together: a dry run sends nothing"
        )


def check_for_run(s: Settings) -> None:
    """What `run` needs beyond well-formed settings (`config` must still print these)."""
    if s.email_to and not s.smtp_host:
        raise ConfigError(
            "--email-to needs an SMTP server: set SMTP_HOST (and SMTP_PORT etc.) in the "
            "environment or smtp_host in the config file"
        )
    if not s.dry_run and not s.sandbox and not (s.fr_access_key and s.fr_secret_key):
        raise ConfigError(
            "FR_ACCESS_KEY and FR_SECRET_KEY are not set: export them (Flowroute Manage portal > "
            "Preferences > API Control), or use --dry-run to validate only, or --sandbox to try it"
        )
    if s.move_processed is not None and s.dry_run:
        raise ConfigError(
            "--move-processed moves files once their rows are in the journal; a dry run "
            "journals nothing, so the two cannot be used together"
        )
