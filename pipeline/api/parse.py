"""Reading Flowroute's answers: records, numbers, datetimes, and error bodies -> exceptions.

Split from the client (flowroute.py) so the tolerant parsing of what the real API sends (space- or
T-separated datetimes, RFC 1123 dates, int or string ids, JSON:API errors with a missing title or
id, `detail` as an object, HTML error pages) can be read and tested on its own.
`error_from_response` is the one mapping from an error answer to the exception callers see.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from pipeline.api.retry import parse_retry_after
from pipeline.api.types import (
    ApiError,
    CnamRecord,
    NotFoundError,
    NumberInfo,
    RateLimitedError,
    ServerError,
    UnprocessableError,
)
from pipeline.errors import CredentialsError

CREDENTIALS_HINT = (
    "check FR_ACCESS_KEY and FR_SECRET_KEY (Flowroute Manage portal > Preferences > API Control)"
)
_DETAIL_MAX = 300
_WRAPPER_KEYS = frozenset({"data", "attributes", "errors", "detail", "meta"})
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def parse_datetime(value: object) -> datetime | None:
    """An aware UTC datetime from the API's forms, or None for null or garbage.

    Seen: `2018-06-01 00:09:52.513092+00:00` (space separator), ISO 8601 with `T`/`Z`, and
    RFC 1123 (`Fri, 01 Jun 2018 00:17:52 GMT`) in association answers. Naive values are UTC.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _flatten(value: object, key: str | None = None) -> list[str]:
    """Readable pieces of a JSON:API `detail` that may be a string, list or nested object.

    `{"data":{"attributes":{"zip":["ZIP code must be ..."]}}}` -> `["zip: ZIP code must be ..."]`.
    """
    if value is None:
        return []
    if isinstance(value, Mapping):
        pieces: list[str] = []
        for k, sub in value.items():
            label = key if str(k) in _WRAPPER_KEYS else str(k)
            pieces.extend(_flatten(sub, label))
        return pieces
    if isinstance(value, list | tuple):
        return [p for item in value for p in _flatten(item, key)]
    text = " ".join(str(value).split())
    if not text:
        return []
    return [f"{key}: {text}" if key else text]


def clip(text: str, limit: int = _DETAIL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _non_json_detail(response: requests.Response) -> str:
    """A short description of a non-JSON error body, e.g. a proxy's HTML 502 page."""
    text = response.text or ""
    if not text.strip():
        return ""
    match = _HTML_TITLE.search(text)
    snippet = match.group(1) if match else _TAGS.sub(" ", text)
    snippet = " ".join(snippet.split())
    return clip(f"non-JSON answer: {snippet}", 160) if snippet else "non-JSON answer"


def parse_error_body(response: requests.Response) -> tuple[str, str, str | None]:
    """(title, detail, error id) from a JSON:API error answer, surviving the real variants.

    Handles a missing title (falls back to the HTTP reason) or id, `detail` as an object, an empty
    detail, several errors (details joined with "; "), and non-JSON bodies.
    """
    reason = response.reason or ""
    try:
        body = response.json()
    except ValueError:
        return reason, _non_json_detail(response), None
    errors: Any = body.get("errors") if isinstance(body, Mapping) else body
    if isinstance(errors, Mapping):
        errors = [errors]
    if not isinstance(errors, list) or not errors:
        if isinstance(body, Mapping):
            for k in ("detail", "message", "error", "title"):
                if body.get(k):
                    return reason, clip("; ".join(_flatten(body[k]))), None
        return reason, clip("; ".join(_flatten(errors))), None
    pairs: list[tuple[str, str]] = []
    error_id: str | None = None
    for err in errors:
        if not isinstance(err, Mapping):
            pairs.append(("", "; ".join(_flatten(err))))
            continue
        title = " ".join(str(err.get("title") or "").split())
        pairs.append((title, "; ".join(_flatten(err.get("detail")))))
        if error_id is None and err.get("id") not in (None, ""):
            error_id = str(err["id"])
    title = next((t for t, _ in pairs if t), reason)
    parts: list[str] = []
    for t, d in pairs:
        piece = f"{t}: {d}" if t and d and t != title else (d or (t if t != title else ""))
        if piece and piece not in parts:
            parts.append(piece)
    return title, clip("; ".join(parts)), error_id


def _retry_after_of(response: requests.Response) -> float | None:
    """Retry-After in seconds, measured against the server's own Date header when present."""
    header = response.headers.get("Retry-After")
    if header is None:
        return None
    now = parse_datetime(response.headers.get("Date")) or datetime.now(UTC)
    return parse_retry_after(header, now)


def error_from_response(
    response: requests.Response,
    method: str,
    path: str,
    *,
    base_url: str = "",
    scrub: Callable[[str], str] = lambda s: s,
) -> Exception:
    """The one mapping from an error answer to the exception the caller sees.

    401/403 -> CredentialsError (ends the run, exit 3), 404 NotFoundError, 422 UnprocessableError,
    429 RateLimitedError (with retry_after), 5xx ServerError (with retry_after when given), a
    redirect or any other status -> ApiError.
    """
    status = response.status_code
    title, detail, error_id = parse_error_body(response)
    title, detail = scrub(title), scrub(detail)
    kwargs: dict[str, Any] = {
        "title": title,
        "detail": detail,
        "error_id": error_id,
        "method": method,
        "path": path,
    }
    what = ": ".join(p for p in (title, detail) if p) or "no detail"
    if status == 401:
        return CredentialsError(
            f"Flowroute refused the API credentials at {base_url} ({status} {what}); "
            + CREDENTIALS_HINT
        )
    if status == 403:
        return CredentialsError(
            f"Flowroute refused {method} {path} at {base_url} ({status} {what}): the credentials "
            f"lack permission or the account cannot do this; {CREDENTIALS_HINT}"
        )
    if status == 404:
        return NotFoundError(status, **kwargs)
    if status == 422:
        return UnprocessableError(status, **kwargs)
    if status == 429:
        return RateLimitedError(status, retry_after=_retry_after_of(response), **kwargs)
    if status >= 500:
        err = ServerError(status, **kwargs)
        err.retry_after = _retry_after_of(response)  # type: ignore[attr-defined]
        return err
    if 300 <= status < 400:
        where = scrub(response.headers.get("Location", "elsewhere"))
        kwargs["title"] = "unexpected redirect"
        kwargs["detail"] = f"to {where}; set the API URL to the final address"
    return ApiError(status, **kwargs)


def transport_detail(exc: requests.RequestException, timeout: tuple[float, float]) -> str:
    """A short cause for a failed request, without urllib3's object reprs."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"could not connect within {timeout[0]:g} s"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout[1]:g} s"
    text = str(exc)
    match = _ERRNO.search(text)
    if match:
        return match.group(0).strip()
    if "RemoteDisconnected" in text or "aborted" in text.lower():
        return "the connection was closed before an answer"
    return clip(" ".join(text.split()), 160) or type(exc).__name__


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return value is True or value == 1


def cnam_from(obj: object) -> CnamRecord:
    if not isinstance(obj, Mapping) or obj.get("id") in (None, ""):
        raise ValueError("a cnam object without an id")
    attrs = obj.get("attributes") or {}
    reason = attrs.get("rejection_reason")
    return CnamRecord(
        id=str(obj["id"]),
        value=str(attrs.get("value") or ""),
        is_approved=_as_bool(attrs.get("is_approved")),
        rejection_reason=None if reason is None else str(reason),
        creation_datetime=parse_datetime(attrs.get("creation_datetime")),
        approval_datetime=parse_datetime(attrs.get("approval_datetime")),
    )


def number_from(obj: object) -> NumberInfo:
    if not isinstance(obj, Mapping):
        raise ValueError("a number object that is not an object")
    attrs = obj.get("attributes") or {}
    number_id = obj.get("id") or attrs.get("value")
    if number_id in (None, ""):
        raise ValueError("a number object without an id")
    preset = ((obj.get("relationships") or {}).get("cnam_preset") or {}).get("data")
    preset_id = preset.get("id") if isinstance(preset, Mapping) else None
    return NumberInfo(
        id=str(number_id),
        number_type=None if attrs.get("number_type") is None else str(attrs["number_type"]),
        cnam_preset_id=None if preset_id in (None, "") else str(preset_id),
    )


def next_link(body: Mapping[str, Any]) -> str | None:
    links = body.get("links")
    nxt = links.get("next") if isinstance(links, Mapping) else None
    return nxt if isinstance(nxt, str) and nxt.strip() else None
