"""The one secret scrubber and the one loopback test."""

from __future__ import annotations

import pytest

from pipeline.loopback import is_loopback
from pipeline.redact import MASK, redact


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("key s3cr3t-key in a message", ["s3cr3t-key"], f"key {MASK} in a message"),
        ("twice: abcd abcd", ["abcd"], f"twice: {MASK} {MASK}"),
        ("nothing here", ["s3cr3t-key"], "nothing here"),
        ("unset secrets are skipped", [None, ""], "unset secrets are skipped"),
        ("a short one: abc", ["abc"], "a short one: abc"),  # under 4 characters: not looked for
        # the longer secret first: a token that holds a key is masked whole, not around the key
        ("token QUJDRGtleQ==", ["QUJD", "QUJDRGtleQ=="], f"token {MASK}"),
        ("token QUJDRGtleQ==", ["QUJDRGtleQ==", "QUJD"], f"token {MASK}"),
    ],
)
def test_redact_masks_every_known_secret(text: str, secrets: list, expected: str) -> None:
    assert redact(text, secrets) == expected


def test_redact_output_holds_no_secret_even_when_secrets_overlap() -> None:
    secrets = ["abcdef", "cdefgh"]
    out = redact("xxabcdefghxx", secrets)
    assert not any(s in out for s in secrets)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("api.localhost", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("api.flowroute.com", False),
        ("localhost.example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback
