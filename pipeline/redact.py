"""The one secret scrubber: API keys and the SMTP password never reach output, logs or reports.

Every place that shows text it did not write itself (a server's error body, an exception, a
traceback, a setting) passes it through `redact` with the secrets it knows, or shows MASK in place
of a secret setting.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "********"
# Shorter values are not looked for: masking every "ab" in a message would hide the message, and
# no real key or password is that short.
MIN_SECRET_LENGTH = 4


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every occurrence of each secret replaced by MASK. Longer secrets go first, so
    a secret that holds another (a base64 token of both keys) is masked whole."""
    found = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
    for secret in sorted(found, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
