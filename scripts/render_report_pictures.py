#!/usr/bin/env python3
"""Render the README's pictures from a real run of the example against the built-in sandbox.

    docs/report-summary.png          the workbook's Summary sheet (LibreOffice -> PDF -> PNG)
    docs/report-needs-attention.png  its Needs attention sheet
    docs/email.png                   the email's HTML body, as the run sent it (headless Chromium)

The run is `run input/example.xlsx --sandbox --wait-approval 15 --email-to ...`, its email caught
by an SMTP server on 127.0.0.1. Needs Debian's libreoffice-calc, poppler-utils and chromium
(`apt-get install -y libreoffice-calc poppler-utils chromium`) and the test extra (aiosmtpd).
Run from the repository root: `.venv/bin/python scripts/render_report_pictures.py`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from crop_picture import crop, read_png, write_png  # noqa: E402

from pipeline.cli.app import main  # noqa: E402
from pipeline.environment import Environment  # noqa: E402


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_example(work: Path) -> tuple[Path, str]:
    """The quick start's run, emailed to a loopback server; (run folder, the email's HTML).

    It runs in `work`, on a copy of input/example.xlsx, so the pictures show the paths a user
    sees (`input/example.xlsx`, `output/<run_id>`), not this machine's."""
    (work / "input").mkdir()
    (work / "input" / "example.xlsx").write_bytes((ROOT / "input" / "example.xlsx").read_bytes())
    os.chdir(work)
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = Environment(environ={**os.environ, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)})
        argv = ["run", "input/example.xlsx", "--sandbox", "--wait-approval", "15"]
        argv += ["--output", "output", "--email-to", "onboarding@example.com", "--quiet"]
        code = main(argv, env)
    finally:
        controller.stop()
        os.chdir(ROOT)
    if code != 0 or len(inbox.messages) != 1:
        raise SystemExit(f"the example run exited {code} with {len(inbox.messages)} email(s)")
    body = inbox.messages[0].get_body(preferencelist=("html",))
    assert body is not None
    (run_dir,) = [p for p in (work / "output").iterdir() if p.name[:1].isdigit()]
    return run_dir, body.get_content()


def save(png: Path, target: Path, most: int | None = None) -> None:
    """Crop to the content, then to at most `most` pixels wide."""
    width, _, rows = read_png(png)
    width, rows = crop(width, rows)
    if most is not None and width > most:
        width, rows = most, [row[: 3 * most] for row in rows]
    write_png(target, rows, width)
    print(f"{target.relative_to(ROOT)}: {target.stat().st_size // 1024} KB")


def main_() -> None:
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run_dir, html = run_example(work)
        book = work / "report.xlsx"
        book.write_bytes((run_dir / "report.xlsx").read_bytes())
        # One page per sheet, each page as large as its sheet: what a person sees on screen.
        single = '{"SinglePageSheets":{"type":"boolean","value":"true"}}'
        subprocess.run(
            [
                "libreoffice",
                "--headless",
                "--convert-to",
                f"pdf:calc_pdf_Export:{single}",
                book.name,
            ],
            cwd=work,
            check=True,
            capture_output=True,
        )
        # Page 1 is the Summary, page 2 Needs attention (cut after its reason column).
        for page, name, width in ((1, "report-summary", None), (2, "report-needs-attention", 1600)):
            prefix = work / name
            subprocess.run(
                ["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page)]
                + ["-singlefile", str(work / "report.pdf"), str(prefix)],
                check=True,
            )
            save(prefix.with_suffix(".png"), ROOT / "docs" / f"{name}.png", width)
        page = work / "email.html"
        page.write_text(html, encoding="utf-8")
        shot = work / "email.png"
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu"]
            + ["--disable-background-networking", "--hide-scrollbars", "--window-size=680,1700"]
            + [f"--screenshot={shot}", page.as_uri()],
            check=True,
            capture_output=True,
        )
        save(shot, ROOT / "docs" / "email.png")


if __name__ == "__main__":
    main_()
