"""The end-of-run email: build it from the run's summary and report files, send it over SMTP.

The message is what a busy person reads on a phone: counts by status, the most frequent reasons with
one example row each, rows stuck in Flowroute's review, and the report attached. Sending retries
transient failures a few times; a send that still fails raises EmailError (exit code 5) while the
report stays on disk. The SMTP password never appears in a message, a log line or a repr.
"""

from __future__ import annotations

import base64
import email.policy
import io
import logging
import smtplib
import socket
import ssl
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path

import pandas as pd

from pipeline.errors import ConfigError, EmailError
from pipeline.loopback import is_loopback
from pipeline.model import Status
from pipeline.notify import render
from pipeline.redact import MASK, redact
from pipeline.summary import RunSummary

log = logging.getLogger(__name__)

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
ZIP_TYPE = ("application", "zip")
RUN_HEADER = "X-Cnam-Batch-Run"  # lets send_message name the run folder, and lets mail rules filter
_SEE_FOLDER = "The report files are in the folder named below."
_MIB = 1024 * 1024  # --email-max-mb counts mebibytes, as mail providers' size limits do
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. Validated on creation: a bad value fails before the run starts."""

    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.host:
            raise ConfigError("SMTP host is empty; set SMTP_HOST to your mail relay")
        if not 0 < self.port < 65536:
            raise ConfigError(f"SMTP port {self.port} is not 1-65535; use 25, 587 or 465")
        if self.ssl and self.starttls:
            raise ConfigError(
                "SMTP_SSL and SMTP_STARTTLS are both on; choose SSL (implicit TLS, usually "
                "port 465) or STARTTLS (usually port 587)"
            )
        if bool(self.user) != bool(self.password):
            raise ConfigError("set both SMTP_USER and SMTP_PASSWORD to log in, or neither")
        if self.timeout <= 0:
            raise ConfigError(f"SMTP timeout must be above 0 seconds (got {self.timeout:g})")

    def __repr__(self) -> str:  # the password is masked: settings get logged and printed
        password = repr(MASK) if self.password else "None"
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"password={password}, starttls={self.starttls}, ssl={self.ssl}, "
            f"timeout={self.timeout:g})"
        )


def _env_bool(env: Mapping[str, str], key: str) -> bool:
    raw = env.get(key, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f'{key}="{raw}" is not a boolean; use true or false (or 1/0, yes/no)')


def smtp_settings_from_env(env: Mapping[str, str]) -> SmtpSettings | None:
    """SMTP_* variables -> settings; None when SMTP_HOST is unset or empty (no email)."""
    host = env.get("SMTP_HOST", "").strip()
    if not host:
        return None
    raw_port = env.get("SMTP_PORT", "").strip() or "25"
    try:
        port = int(raw_port)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(
            f'SMTP_PORT="{raw_port}" is not a port number; use 1-65535 '
            "(25 for a local relay, 587 with STARTTLS, 465 with SSL)"
        )
    return SmtpSettings(
        host=host,
        port=port,
        user=env.get("SMTP_USER") or None,
        password=env.get("SMTP_PASSWORD") or None,
        starttls=_env_bool(env, "SMTP_STARTTLS"),
        ssl=_env_bool(env, "SMTP_SSL"),
    )


# ---------------------------------------------------------------------------------------- building


def _with_carried(summary: RunSummary) -> dict[str, int]:
    """This run's rows and the earlier rows it advanced: a night that only finished earlier work
    must not read "0 associated"."""
    total = {k: int(v) for k, v in summary.by_status.items()}
    for k, v in summary.carried_over_by_status.items():
        total[k] = total.get(k, 0) + int(v)
    return total


def subject_line(run_id: str, by_status: Mapping[str, int]) -> str:
    """`cnam-batch <run_id>: <n> associated, <n> pending, <n> rejected, <n> failed`.

    The counts are exactly those statuses (pending = pending_approval); already_set, duplicate and
    planned rows are in the body only.
    """
    n = {s: int(by_status.get(s.value, 0) or 0) for s in Status}
    return (
        f"cnam-batch {run_id}: {n[Status.ASSOCIATED]:,} associated, "
        f"{n[Status.PENDING_APPROVAL]:,} pending, {n[Status.REJECTED]:,} rejected, "
        f"{n[Status.FAILED]:,} failed"
    )


def build_message(
    *,
    summary: RunSummary,
    rows: pd.DataFrame,
    run_dir: Path,
    to: Sequence[str],
    sender: str,
    stale: pd.DataFrame,
    max_mb: float,
) -> EmailMessage:
    """One multipart/mixed message: (plain text | HTML) alternative, then the report attachment."""
    if not to:
        raise ValueError("build_message needs at least one recipient")
    run_id = summary.run_id
    attachment = _pick_attachment(Path(run_dir), max_mb)
    facts = render.facts_from(
        summary, rows, stale, run_id=run_id, run_dir=run_dir, attachment_note=attachment.note
    )
    # A long subject stays on one header line (default folding starts it with a space in some clients).
    msg = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=998))
    msg["Subject"] = subject_line(run_id, _with_carried(summary))
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(summary.finished_at)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "cnam-batch.invalid")
    msg[RUN_HEADER] = run_id
    # quoted-printable keeps customer names with accents 7-bit safe for relays without 8BITMIME.
    msg.set_content(render.plain(facts), cte="quoted-printable")
    msg.add_alternative(render.html_body(facts), subtype="html", cte="quoted-printable")
    msg.make_mixed()
    if attachment.data is not None:
        maintype, subtype = attachment.mime
        msg.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return msg


@dataclass(frozen=True)
class _Attachment:
    filename: str
    data: bytes | None
    mime: tuple[str, str]
    note: str


def _size(n: int) -> str:
    return f"{n / _MIB:.1f} MB" if n >= _MIB // 10 else f"{max(1, round(n / 1024))} KB"


def _pick_attachment(run_dir: Path, max_mb: float) -> _Attachment:
    """report.xlsx if it fits, else report.csv zipped in memory if that fits, else nothing.

    The limit applies to the file as stored; base64 makes the message about a third larger.
    """
    limit = max_mb * _MIB
    xlsx, csv = run_dir / "report.xlsx", run_dir / "report.csv"
    if xlsx.is_file():
        size = xlsx.stat().st_size
        if size <= limit:
            note = f"Attached: report.xlsx ({_size(size)})."
            return _Attachment("report.xlsx", xlsx.read_bytes(), XLSX_TYPE, note)
        why = f"report.xlsx is {_size(size)}, over the {max_mb:g} MB limit (--email-max-mb)"
    else:
        why = "report.xlsx is missing"
    if not csv.is_file():
        note = f"Nothing is attached: {why}, and report.csv is missing. {_SEE_FOLDER}"
        return _Attachment("", None, ZIP_TYPE, note)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(csv, arcname="report.csv")
    data = buffer.getvalue()
    if len(data) > limit:
        zipped = _size(len(data))
        note = f"Nothing is attached: {why}, and report.csv zipped is {zipped}. {_SEE_FOLDER}"
        return _Attachment("", None, ZIP_TYPE, note)
    note = f"Attached: report.csv zipped (report.csv.zip, {_size(len(data))}), because {why}."
    return _Attachment("report.csv.zip", data, ZIP_TYPE, note)


# ----------------------------------------------------------------------------------------- sending


def send_message(
    msg: EmailMessage,
    smtp: SmtpSettings,
    *,
    attempts: int = 3,
    sleep: Callable[[float], object] = time.sleep,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Send `msg`, retrying transient failures `attempts` times in all; EmailError when it fails.

    ssl_context defaults to the system trust store (which honours SSL_CERT_FILE for a private CA).
    Recipients refused while others were accepted are logged, not raised: the mail went out.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    where = f"{smtp.host}:{smtp.port}"
    if smtp.user and not (smtp.starttls or smtp.ssl) and not is_loopback(smtp.host):
        log.warning("SMTP login to %s without TLS; set SMTP_STARTTLS or SMTP_SSL", where)
    for attempt in range(1, attempts + 1):
        try:
            refused = _send_once(msg, smtp, ssl_context)
        except (OSError, smtplib.SMTPException) as exc:
            cause = scrub(describe(exc, smtp), smtp)
            transient = is_transient(exc)
            if transient and attempt < attempts:
                delay = backoff(attempt)
                log.warning(
                    "email via %s: attempt %d of %d failed (%s); retrying in %g s",
                    where, attempt, attempts, cause, delay,
                )  # fmt: skip
                sleep(delay)
                continue
            if transient or attempt > 1:
                tried = f"after {attempt} attempt{'s' if attempt > 1 else ''}"
            else:
                tried = "(permanent failure, not retried)"
            run = msg.get(RUN_HEADER)
            folder = f"in the run folder {run}" if run else "in the run folder"
            # from None: the original exception may carry a server reply that echoes credentials.
            raise EmailError(
                f"could not email the report via {where} {tried}: {cause}; "
                f"the report is on disk {folder}"
            ) from None
        if refused:
            log.warning(
                "email via %s: some recipients refused: %s", where, scrub(str(refused), smtp)
            )
        count = len(getaddresses(msg.get_all("To", [])))
        log.info("emailed the report via %s to %d recipient(s)", where, count)
        return


def _send_once(msg: EmailMessage, smtp: SmtpSettings, context: ssl.SSLContext | None) -> dict:
    context = context or ssl.create_default_context()
    conn: smtplib.SMTP
    if smtp.ssl:
        conn = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        conn = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        conn.ehlo_or_helo_if_needed()
        if smtp.starttls:
            conn.starttls(context=context)
            conn.ehlo()
        if smtp.user and smtp.password:
            conn.login(smtp.user, smtp.password)
        refused = conn.send_message(msg)
    except BaseException:
        conn.close()  # no polite QUIT to a server that may not answer: that would wait again
        raise
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):  # the mail went out: a failed goodbye must not resend
        conn.close()
    return refused


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): 2, 4, 8 ... at most 30."""
    return min(2.0 * 2 ** (attempt - 1), 30.0)


def is_transient(exc: BaseException) -> bool:
    """Whether trying again may help: 4xx answers and network trouble yes; 5xx, TLS setup, no."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPException):  # extension not supported, no auth mechanism
        return False
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return True
    if isinstance(exc, ssl.SSLError):  # untrusted certificate, TLS spoken to a plain port
        return False
    if isinstance(exc, socket.gaierror):
        return exc.errno != socket.EAI_NONAME
    return isinstance(exc, OSError)


def describe(exc: BaseException, smtp: SmtpSettings) -> str:
    """What went wrong, in one line, with the hint a person needs."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = "every recipient was refused: " + "; ".join(
            f"{addr} ({code} {_reply(reply)})" for addr, (code, reply) in exc.recipients.items()
        )
    elif isinstance(exc, smtplib.SMTPAuthenticationError):
        reply = _reply(exc.smtp_error)
        text = f"login refused ({exc.smtp_code} {reply}); check SMTP_USER and SMTP_PASSWORD"
    elif isinstance(exc, smtplib.SMTPSenderRefused):
        text = f"sender {exc.sender} refused ({exc.smtp_code} {_reply(exc.smtp_error)})"
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"server answered {exc.smtp_code} {_reply(exc.smtp_error)}"
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        text = f"{exc}; check SMTP_STARTTLS and SMTP_SSL"
    elif isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        # smtplib turns a read timeout into SMTPServerDisconnected("...: timed out")
        text = f"no answer within {smtp.timeout:g} s"
    elif isinstance(exc, ConnectionRefusedError):
        text = "connection refused (is an SMTP server listening there?)"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        text = f"TLS certificate not trusted ({exc.verify_message})"
    elif isinstance(exc, ssl.SSLError):
        text = (
            f"TLS failed ({exc.reason or exc}); check SMTP_SSL (implicit TLS, usually port 465) "
            "and SMTP_STARTTLS (usually port 587)"
        )
    elif isinstance(exc, socket.gaierror):
        text = f"host name not resolved ({exc.strerror})"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())


def _reply(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def scrub(text: str, smtp: SmtpSettings) -> str:
    """Remove the password, and the base64 forms AUTH PLAIN/LOGIN send, from text a server wrote."""
    if not smtp.password:
        return text
    user, password = smtp.user or "", smtp.password
    forms = [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
    ]
    return redact(text, forms)
