"""The end-of-run email: content, attachment, and sending to a real SMTP server on loopback."""

from __future__ import annotations

import base64
import io
import logging
import smtplib
import socket
import ssl
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from smtp_server import (
    Authenticator,
    Handler,
    client_context,
    free_port,
    make_certificate,
    server_context,
    smtp_server,
)
from summaries import make_summary

from pipeline.api.types import ApiCounts
from pipeline.errors import ConfigError, EmailError, ExitCode
from pipeline.input.frame import TAKEN_BEFORE
from pipeline.model import REPORT_COLUMNS
from pipeline.notify.mail import (
    SmtpSettings,
    backoff,
    build_message,
    is_transient,
    send_message,
    smtp_settings_from_env,
    subject_line,
)
from pipeline.redact import MASK

RUN_ID = "20260102T030405Z"
PASSWORD = "Zq7-unlikely-p4ss%word"  # distinctive, so any leak is found by a plain substring search
USER = "mailer@example.com"
SENDER = "cnam-batch@example.com"
TO = ["ops@example.com", "lead@example.org"]
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def report_row(source_row: int, input_name: str, status: str, reason_code: str = "", **extra: str):
    row = dict.fromkeys(REPORT_COLUMNS, "")
    row.update(
        source_file="input/acme.csv",
        source_row=source_row,
        input_number=f"646343{source_row:04d}",
        input_name=input_name,
        number=f"1646343{source_row:04d}",
        name=input_name.upper(),
        status=status,
        reason_code=reason_code,
        **extra,
    )
    return row


ROWS = pd.DataFrame(
    [
        report_row(2, "Acme Plumbing", "associated"),
        report_row(3, "Damn Good Pizza", "rejected", "name_profanity",
                   reason='The name contains a profane word ("DAMN").', suggestion="GOOD PIZZA"),
        report_row(4, "Hell Yeah Bar", "rejected", "name_profanity",
                   reason='The name contains a profane word ("HELL").'),
        report_row(5, "<script>alert(1)</script> & Co", "rejected", "name_bad_characters",
                   reason='Characters "<" and ">" are not accepted.', suggestion="SCRIPTALERT1 CO"),
        report_row(6, "Acme Corporation International", "rejected", "name_too_long",
                   reason="The name has 30 characters; the limit is 15.",
                   suggestion="ACME CORP INTL"),
        report_row(7, "Acme", "failed", "api_error", reason="Flowroute answered 503 three times."),
    ],
    columns=list(REPORT_COLUMNS),
)  # fmt: skip

SUMMARY = make_summary(
    run_id=RUN_ID,
    started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    finished_at=datetime(2026, 1, 2, 3, 10, tzinfo=UTC),
    dry_run=False,
    inputs=("input/acme.csv",),
    rows_total=12480,
    by_status={
        "associated": 11800, "already_set": 120, "pending_approval": 400,
        "rejected": 150, "failed": 3, "duplicate": 7, "planned": 0,
    },
    by_reason={
        "name_profanity": 60, "name_too_long": 45, "number_toll_free": 30,
        "name_bad_characters": 15, "api_error": 3, "name_misleading": 1,
    },
    api=ApiCounts(requests=1234, creates=310, associations=11800, retries=12, rate_limited=2),
    inputs_skipped=("input/old.csv",),
    inputs_skipped_reasons={"input/old.csv": TAKEN_BEFORE},
    carried_over=42,
    exit_code=ExitCode.ROWS_FAILED,
)  # fmt: skip


def stale_frame(n: int) -> pd.DataFrame:
    """n rows waiting for review; days grow with i, so the listing must reverse them."""
    return pd.DataFrame(
        {
            "source_file": ["input/acme.csv"] * n,
            "source_row": [100 + i for i in range(n)],
            "number": [f"1646343{9700 + i}" for i in range(n)],
            "name": ["JOSÉ'S TACOS" if i % 2 else f"WAITING {i}" for i in range(n)],
            "pending_since": [datetime(2025, 12, 20 + i % 8, 9, 30, tzinfo=UTC) for i in range(n)],
            "days_pending": [3.5 + i for i in range(n)],
        }
    )


def write_reports(run_dir: Path, rows: pd.DataFrame = ROWS, *, xlsx=True, csv=True) -> Path:
    """Small hand-made report files (not pipeline.report.write: this tests the email alone)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if xlsx:
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "Report"
        sheet.append(list(REPORT_COLUMNS))
        for record in rows.itertuples(index=False):
            sheet.append(list(record))
        book.save(run_dir / "report.xlsx")
    if csv:
        rows.to_csv(run_dir / "report.csv", index=False)
    return run_dir


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_reports(tmp_path / "output" / RUN_ID)


def build(run_dir: Path, **overrides) -> EmailMessage:
    args = dict(summary=SUMMARY, rows=ROWS, run_dir=run_dir, to=TO, sender=SENDER,
                stale=stale_frame(3), max_mb=10.0)  # fmt: skip
    args.update(overrides)
    return build_message(**args)


def bodies(msg: EmailMessage) -> tuple[str, str]:
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def attachments(msg: EmailMessage) -> list[EmailMessage]:
    return list(msg.iter_attachments())


# ------------------------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"SMTP_HOST": "  "}, None),
        ({"SMTP_HOST": "relay.local"}, SmtpSettings("relay.local")),
        (
            {"SMTP_HOST": "smtp.example.com", "SMTP_PORT": "587", "SMTP_USER": USER,
             "SMTP_PASSWORD": PASSWORD, "SMTP_STARTTLS": "Yes", "SMTP_SSL": "no"},
            SmtpSettings("smtp.example.com", 587, USER, PASSWORD, starttls=True),
        ),
        (
            {"SMTP_HOST": "smtp.example.com", "SMTP_PORT": "465", "SMTP_SSL": "1",
             "SMTP_STARTTLS": "FALSE"},
            SmtpSettings("smtp.example.com", 465, ssl=True),
        ),
        ({"SMTP_HOST": "h", "SMTP_PORT": "", "SMTP_STARTTLS": "0", "SMTP_SSL": ""},
         SmtpSettings("h", 25)),
    ],
)  # fmt: skip
def test_settings_from_env_reads_smtp_variables(env, expected):
    assert smtp_settings_from_env(env) == expected


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"SMTP_PORT": "abc"}, 'SMTP_PORT="abc" is not a port number'),
        ({"SMTP_PORT": "0"}, 'SMTP_PORT="0"'),
        ({"SMTP_PORT": "65536"}, 'SMTP_PORT="65536"'),
        ({"SMTP_STARTTLS": "maybe"}, 'SMTP_STARTTLS="maybe" is not a boolean'),
        ({"SMTP_SSL": "enabled"}, 'SMTP_SSL="enabled" is not a boolean'),
        ({"SMTP_SSL": "true", "SMTP_STARTTLS": "true"}, "both on; choose"),
        ({"SMTP_USER": USER}, "set both SMTP_USER and SMTP_PASSWORD"),
        ({"SMTP_PASSWORD": PASSWORD}, "set both SMTP_USER and SMTP_PASSWORD"),
    ],
)
def test_settings_from_env_rejects_bad_values_with_the_variable_named(env, fragment):
    with pytest.raises(ConfigError) as info:
        smtp_settings_from_env({"SMTP_HOST": "smtp.example.com", **env})
    assert fragment in str(info.value)
    assert PASSWORD not in str(info.value)


def test_settings_repr_masks_the_password():
    settings = SmtpSettings("smtp.example.com", 587, USER, PASSWORD, starttls=True)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert f"password='{MASK}'" in repr(settings)
    assert "password=None" in repr(SmtpSettings("relay"))


# ------------------------------------------------------------------------------------- content


@pytest.mark.parametrize(
    ("by_status", "expected"),
    [
        (SUMMARY.by_status, f"cnam-batch {RUN_ID}: 11,800 associated, 400 pending, 150 rejected, 3 failed"),
        ({}, f"cnam-batch {RUN_ID}: 0 associated, 0 pending, 0 rejected, 0 failed"),
        ({"already_set": 9, "duplicate": 2, "planned": 4},
         f"cnam-batch {RUN_ID}: 0 associated, 0 pending, 0 rejected, 0 failed"),
    ],
)  # fmt: skip
def test_subject_counts_exactly_associated_pending_rejected_failed(by_status, expected):
    assert subject_line(RUN_ID, by_status) == expected


def test_message_is_mixed_with_text_and_html_alternatives_and_the_workbook(run_dir):
    msg = build(run_dir)
    assert msg.get_content_type() == "multipart/mixed"
    first, *rest = msg.iter_parts()
    assert first.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in first.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Subject"] == subject_line(RUN_ID, SUMMARY.by_status)
    assert msg["From"] == SENDER and msg["To"] == ", ".join(TO)
    assert msg["Message-ID"].endswith("@example.com>")
    (attached,) = attachments(msg)
    assert (attached.get_content_type(), attached.get_filename()) == (XLSX_MIME, "report.xlsx")
    assert attached.get_content() == (run_dir / "report.xlsx").read_bytes()


def test_both_bodies_show_counts_reasons_with_examples_and_stale_rows(run_dir):
    plain, html = bodies(build(run_dir, stale=stale_frame(2)))
    for body in (plain, html):
        for text in ("11,800", "pending_approval", "already_set", "12,480", "42 rows",
                     "1,234 requests", "input/old.csv", str(run_dir)):  # fmt: skip
            assert text in body, text
        assert "planned" not in body.split("Most frequent")[0]  # zero counts are left out
        # top reason, its count and the first row carrying it (row 3, not row 4)
        assert "name_profanity" in body and "60 rows" in body
        assert "input/acme.csv row 3" in body and "Damn Good Pizza" in body
        assert "GOOD PIZZA" in body and "input/acme.csv row 4" not in body
        assert "name_misleading" not in body  # sixth most frequent: only the top 5 are shown
        # stale rows, the longest waiting first
        assert "WAITING 0" in body and "16463439701" in body
        assert body.index("4.5") < body.index("3.5")
        assert "2025-12-21 09:30 UTC" in body
    assert "3 rows failed" in plain and "400 rows wait" in plain


def test_html_escapes_customer_values(run_dir):
    plain, html = bodies(build(run_dir))
    assert "<script>alert(1)</script> &amp; Co" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "<script" not in html.lower()
    assert "<script>alert(1)</script> & Co" in plain  # plain text shows the name as typed


def test_html_is_self_contained_with_inline_styles(run_dir):
    _, html = bodies(build(run_dir))
    lowered = html.lower()
    for forbidden in (
        "<style",
        "<script",
        "<link",
        "src=",
        "http://",
        "https://",
        "@import",
        "url(",
    ):
        assert forbidden not in lowered, forbidden
    assert 'style="' in html and "max-width:640px" in html


def test_stale_list_stops_at_twenty_and_counts_the_rest(run_dir):
    stale = stale_frame(23)
    stale["pending_since"] = [ts.isoformat() for ts in stale["pending_since"]]  # ISO strings too
    plain, html = bodies(build(run_dir, stale=stale))
    for body in (plain, html):
        assert "23 rows" in body and "3 more in the report" in body
        assert "WAITING 22" in body and "input/acme.csv row 122" in body  # oldest listed
        assert "input/acme.csv row 102" not in body  # among the 3 freshest: counted only
        assert "2025-12-20 09:30 UTC" in body


def test_date_header_is_the_runs_finish_time(run_dir):
    assert build(run_dir)["Date"] == "Fri, 02 Jan 2026 03:10:00 +0000"


def test_names_with_accents_travel_as_seven_bit_quoted_printable(run_dir):
    msg = build(run_dir, stale=stale_frame(2))
    msg.as_bytes().decode("ascii")  # raises if any 8-bit byte would go on the wire
    plain, html = bodies(msg)
    assert "JOSÉ'S TACOS" in plain and "JOSÉ&#x27;S TACOS" in html


def test_minimal_summary_and_empty_frames_still_build(tmp_path):
    run_dir = write_reports(tmp_path / RUN_ID, ROWS.iloc[:0])
    empty = make_summary(run_id=RUN_ID, rows_total=0, by_status={}, by_reason={}, inputs=())
    msg = build(run_dir, summary=empty, rows=ROWS.iloc[:0], stale=stale_frame(0))
    plain, html = bodies(msg)
    assert msg["Subject"] == subject_line(RUN_ID, {})
    assert "Most frequent" not in plain and "Pending approval" not in html


def test_oversized_workbook_is_replaced_by_zipped_csv(run_dir):
    xlsx_size = (run_dir / "report.xlsx").stat().st_size
    msg = build(run_dir, max_mb=(xlsx_size - 1) / 2**20)
    (attached,) = attachments(msg)
    assert (attached.get_content_type(), attached.get_filename()) == (
        "application/zip",
        "report.csv.zip",
    )
    with zipfile.ZipFile(io.BytesIO(attached.get_content())) as archive:
        assert archive.namelist() == ["report.csv"]
        assert archive.getinfo("report.csv").compress_type == zipfile.ZIP_DEFLATED
        assert archive.read("report.csv") == (run_dir / "report.csv").read_bytes()
    for body in bodies(msg):
        assert "report.csv.zip" in body and "report.xlsx is" in body and "over the" in body


def test_missing_workbook_sends_zipped_csv_and_says_why(run_dir):
    (run_dir / "report.xlsx").unlink()
    msg = build(run_dir)
    assert [a.get_filename() for a in attachments(msg)] == ["report.csv.zip"]
    assert "report.xlsx is missing" in bodies(msg)[0]


@pytest.mark.parametrize("csv_exists", [True, False])
def test_nothing_attached_when_even_the_zip_is_too_large_and_body_says_where(run_dir, csv_exists):
    if not csv_exists:
        (run_dir / "report.csv").unlink()
    msg = build(run_dir, max_mb=100 / 2**20)  # 100 bytes: smaller than any zip
    assert attachments(msg) == []
    for body in bodies(msg):
        assert "Nothing is attached" in body and str(run_dir) in body


def test_workbook_attachment_opens_in_openpyxl(run_dir):
    (attached,) = attachments(build(run_dir))
    book = openpyxl.load_workbook(io.BytesIO(attached.get_content()))
    sheet = book["Report"]
    assert [c.value for c in sheet[1]] == list(REPORT_COLUMNS)
    assert sheet.max_row == len(ROWS) + 1


# ------------------------------------------------------------------------------------- sending


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def no_password_anywhere(err: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    forms = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
             base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()]  # fmt: skip
    for secret in forms:
        assert secret not in str(err) and secret not in repr(err)
        assert secret not in caplog.text
        assert all(secret not in r.getMessage() for r in caplog.records)


def test_sends_to_a_loopback_server_with_recipients_subject_bodies_and_attachment(run_dir):
    msg = build(run_dir)
    with smtp_server() as (port, handler):
        send_message(msg, SmtpSettings("127.0.0.1", port, timeout=5), sleep=pytest.fail)
    (got,) = handler.received
    assert got.mail_from == SENDER and got.rcpt_tos == TO
    assert got.message["Subject"] == subject_line(RUN_ID, SUMMARY.by_status)
    plain, html = bodies(got.message)
    assert "name_profanity" in plain and "Damn Good Pizza" in plain
    assert "&lt;script&gt;" in html and "<script" not in html
    (attached,) = attachments(got.message)
    assert attached.get_content_type() == XLSX_MIME
    sheet = openpyxl.load_workbook(io.BytesIO(attached.get_content()))["Report"]
    assert sheet.cell(row=3, column=4).value == "Damn Good Pizza"


def test_starttls_then_login_delivers(run_dir, certificate, caplog):
    caplog.set_level(logging.DEBUG, logger="pipeline")
    auth = Authenticator(USER, PASSWORD)
    tls = server_context(*certificate)
    with smtp_server(tls_context=tls, require_starttls=True, authenticator=auth) as (port, handler):
        settings = SmtpSettings("127.0.0.1", port, USER, PASSWORD, starttls=True, timeout=5)
        send_message(build(run_dir), settings, ssl_context=client_context(certificate[0]))
    assert auth.attempts == [(USER, PASSWORD)]
    assert len(handler.received) == 1
    assert PASSWORD not in caplog.text


def test_implicit_tls_then_login_delivers(run_dir, certificate):
    auth = Authenticator(USER, PASSWORD)
    # aiosmtpd only offers AUTH on an implicit-TLS socket when told TLS is not required separately
    with smtp_server(implicit_tls=server_context(*certificate), authenticator=auth,
                     auth_require_tls=False) as (port, handler):  # fmt: skip
        settings = SmtpSettings("127.0.0.1", port, USER, PASSWORD, ssl=True, timeout=5)
        send_message(build(run_dir), settings, ssl_context=client_context(certificate[0]))
    assert auth.attempts == [(USER, PASSWORD)]
    assert len(handler.received) == 1


def test_untrusted_certificate_fails_at_once(run_dir, certificate):
    sleeps: list[float] = []
    with smtp_server(tls_context=server_context(*certificate)) as (port, handler):
        settings = SmtpSettings("127.0.0.1", port, starttls=True, timeout=5)
        with pytest.raises(EmailError) as info:
            send_message(build(run_dir), settings, sleep=sleeps.append,
                         ssl_context=ssl.create_default_context())  # fmt: skip
    assert "TLS certificate not trusted" in str(info.value)
    assert sleeps == [] and handler.received == []


def test_closed_port_is_retried_then_raises_email_error_without_the_password(run_dir, caplog):
    caplog.set_level(logging.DEBUG, logger="pipeline")
    sleeps: list[float] = []
    port = free_port()  # nothing listens there
    settings = SmtpSettings("127.0.0.1", port, USER, PASSWORD, starttls=True, timeout=2)
    with pytest.raises(EmailError) as info:
        send_message(build(run_dir), settings, attempts=3, sleep=sleeps.append)
    message = str(info.value)
    assert sleeps == [2.0, 4.0]
    assert f"127.0.0.1:{port} after 3 attempts: connection refused" in message
    assert f"the report is on disk in the run folder {RUN_ID}" in message
    assert "\n" not in message and info.value.exit_code == 5
    retries = [
        r for r in caplog.records if r.name == "pipeline.notify.mail" and "retrying" in r.message
    ]
    assert len(retries) == 2
    no_password_anywhere(info.value, caplog)
    assert PASSWORD not in repr(settings)


def test_permanent_550_is_not_retried(run_dir):
    sleeps: list[float] = []
    refusing = Handler(replies=["550 5.7.1 Message refused by policy"])
    with smtp_server(refusing) as (port, handler), pytest.raises(EmailError) as info:
        send_message(build(run_dir), SmtpSettings("127.0.0.1", port, timeout=5),
                     attempts=3, sleep=sleeps.append)  # fmt: skip
    assert handler.data_attempts == 1 and sleeps == []
    assert "not retried" in str(info.value) and "550 5.7.1 Message refused by policy" in str(
        info.value
    )


def test_transient_451_is_retried_and_delivered_once(run_dir, caplog):
    sleeps: list[float] = []
    with smtp_server(Handler(replies=["451 4.3.0 Try again later"])) as (port, handler):
        send_message(build(run_dir), SmtpSettings("127.0.0.1", port, timeout=5),
                     attempts=3, sleep=sleeps.append)  # fmt: skip
    assert sleeps == [2.0] and handler.data_attempts == 2 and len(handler.received) == 1
    assert "451 4.3.0 Try again later" in caplog.text


def test_refused_login_stops_at_once_without_leaking_the_password(run_dir, certificate, caplog):
    caplog.set_level(logging.DEBUG, logger="pipeline")
    sleeps: list[float] = []
    auth = Authenticator(USER, "the-right-password")
    with smtp_server(tls_context=server_context(*certificate), authenticator=auth) as (port, _):
        settings = SmtpSettings("127.0.0.1", port, USER, PASSWORD, starttls=True, timeout=5)
        with pytest.raises(EmailError) as info:
            send_message(build(run_dir), settings, attempts=3, sleep=sleeps.append,
                         ssl_context=client_context(certificate[0]))  # fmt: skip
    assert auth.attempts[0] == (USER, PASSWORD)  # it was tried: the check below is not vacuous
    assert sleeps == [] and "login refused (535" in str(info.value)
    assert "check SMTP_USER and SMTP_PASSWORD" in str(info.value)
    no_password_anywhere(info.value, caplog)


def test_server_reply_echoing_the_password_is_scrubbed(run_dir, caplog):
    caplog.set_level(logging.DEBUG, logger="pipeline")
    b64 = base64.b64encode(PASSWORD.encode()).decode()
    echo = [f"451 4.7.0 bad {PASSWORD} {b64}", f"550 5.7.0 still bad {PASSWORD} {b64}"]
    auth = Authenticator(USER, PASSWORD)
    with smtp_server(Handler(replies=echo), authenticator=auth, auth_require_tls=False) as (
        port,
        _,
    ):
        settings = SmtpSettings("127.0.0.1", port, USER, PASSWORD, timeout=5)
        with pytest.raises(EmailError) as info:
            send_message(build(run_dir), settings, attempts=3, sleep=lambda s: None)
    masked = f"bad {MASK} {MASK}"
    assert f"still {masked}" in str(info.value) and masked in caplog.text
    no_password_anywhere(info.value, caplog)


def test_silent_server_times_out_and_is_retried(run_dir):
    sleeps: list[float] = []
    with socket.socket() as listener:  # accepts connections (backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        with pytest.raises(EmailError) as info:
            send_message(build(run_dir), SmtpSettings("127.0.0.1", port, timeout=0.2),
                         attempts=2, sleep=sleeps.append)  # fmt: skip
    assert sleeps == [2.0] and "no answer within 0.2 s" in str(info.value)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (smtplib.SMTPResponseException(421, b"too busy"), True),
        (smtplib.SMTPDataError(451, b"try later"), True),
        (smtplib.SMTPDataError(550, b"refused"), False),
        (smtplib.SMTPSenderRefused(553, b"bad sender", SENDER), False),
        (smtplib.SMTPAuthenticationError(535, b"credentials invalid"), False),
        (smtplib.SMTPAuthenticationError(454, b"temporary auth failure"), True),
        (smtplib.SMTPRecipientsRefused({"a@x": (450, b"busy"), "b@x": (451, b"later")}), True),
        (smtplib.SMTPRecipientsRefused({"a@x": (450, b"busy"), "b@x": (550, b"no user")}), False),
        (smtplib.SMTPServerDisconnected("closed"), True),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."), False),
        (smtplib.SMTPException("No suitable authentication method found."), False),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (TimeoutError("timed out"), True),
        (OSError(113, "No route to host"), True),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), False),
        (ssl.SSLError(1, "wrong version number"), False),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), True),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), False),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), True),
    ],
)
def test_is_transient_retries_4xx_and_network_trouble_only(exc, transient):
    assert is_transient(exc) is transient


def test_backoff_doubles_from_two_seconds_up_to_thirty():
    assert [backoff(n) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, '1 row needs attention: report.xlsx, sheet "Needs attention"'),
        (1_234, '1,234 rows need attention: report.xlsx, sheet "Needs attention"'),
        (0, 'Nothing needs attention (report.xlsx, sheet "Needs attention")'),
    ],
)
def test_both_bodies_name_the_needs_attention_sheet_and_its_count(run_dir, count, expected):
    plain, html = bodies(build(run_dir, summary=replace(SUMMARY, needs_attention=count)))
    assert expected in plain
    assert expected.replace('"', "&quot;") in html
    # it is the first thing a reader sees, before the counts
    assert plain.index(expected) < plain.index("Rows by status")
    assert html.index("Needs attention") < html.index("Rows by status")
