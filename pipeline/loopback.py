"""The one loopback test: where plain text (http, SMTP without TLS) is fine because nothing
leaves the machine."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str | None) -> bool:
    """True for localhost (and *.localhost), 127.0.0.0/8 and ::1, bracketed or not."""
    if not host:
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
