"""Where the client's requests go: the checked base URL, every target re-based onto its host, the
list endpoints' query strings, and the pooled Session the requests travel on.

Split from the client (flowroute.py) because this is the part that keeps the keys safe on the way
out, and it is pure enough to read and test on its own: plain http only to a loopback host, no
credentials or query in the base URL, and pagination links (which the server writes) followed only
on the configured host, so the Authorization header never goes anywhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter

from pipeline.errors import ConfigError
from pipeline.loopback import is_loopback

log = logging.getLogger(__name__)

API_PREFIX = "/v2"
NUMBERS_PAGE_MAX = 200  # the numbers endpoint's documented maximum `limit`


def normalize_base_url(url: str) -> str:
    """`scheme://host[:port][/prefix]` without a trailing slash; ConfigError when unsafe or bad.

    One spelling per address (scheme and host lowercased, a default port dropped), so the journal,
    which is bound to the URL, compares like with like.

    Plain http would send the keys in clear text, so it is allowed only for a loopback host (the
    sandbox). A trailing `/v2` is dropped because the client appends `/v2/...` itself.
    """
    text = (url or "").strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f'API URL "{text}" is not an http(s) address; use e.g. https://api.flowroute.com'
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "API URL must not contain credentials; set FR_ACCESS_KEY and FR_SECRET_KEY instead"
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f'API URL "{parts.scheme}://{parts.netloc}{parts.path}" must not have a ?query '
            "or #fragment"
        )
    if parts.scheme.lower() == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f'API URL "{text}" uses plain http, which would send the API keys unencrypted; '
            "use https:// (http is allowed only for 127.0.0.1, localhost or ::1)"
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(
            f'API URL "{text}" has an invalid port; use e.g. https://host:8443'
        ) from None
    scheme = parts.scheme.lower()
    host = parts.hostname  # lowercased by urlsplit
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)].rstrip("/")
    return f"{scheme}://{host}{path}"


def make_session(pool_maxsize: int = 16) -> requests.Session:
    """A Session whose connection pool holds `pool_maxsize` connections (>= worker threads).

    Retries are ours (retry.py), so the adapter's own are off.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_maxsize, 1), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class ApiHost:
    """Targets (a path, or a URL such as a pagination link) turned into URLs on one base URL."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path

    def rebase(self, target: str) -> str:
        """Path and query of `target` (a path or a URL) on our host, so keys never go elsewhere."""
        if target.startswith("/") and not target.startswith("//"):
            return target
        parts = urlsplit(target)
        if parts.netloc and f"{parts.scheme}://{parts.netloc}" != self.origin:
            log.debug("next link points at %s; following it on %s", parts.netloc, self.origin)
        path = parts.path or "/"
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            path = path[len(self.prefix) :] or "/"
        return f"{path}?{parts.query}" if parts.query else path

    def url(self, target: str) -> str:
        return f"{self.origin}{self.prefix}{self.rebase(target)}"

    def display(self, target: str, params: Mapping[str, str] | None) -> str:
        """The target as messages name it: rebased path and its query, never the host."""
        shown = self.rebase(target)
        if params:
            shown += ("&" if "?" in shown else "?") + urlencode(params)
        return shown

    def canonical(self, target: str) -> str:
        """One spelling per page (query keys sorted), to notice a pagination link that repeats."""
        parts = urlsplit(self.rebase(target))
        return parts.path + "?" + urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))


def cnam_params(
    limit: int, offset: int, is_approved: bool | None, value: str | None
) -> dict[str, str]:
    """Query of GET /v2/cnams."""
    params = {"limit": str(max(int(limit), 1)), "offset": str(max(int(offset), 0))}
    if is_approved is not None:
        params["is_approved"] = "true" if is_approved else "false"
    if value is not None:
        params["value"] = value
    return params


def number_params(
    limit: int,
    offset: int,
    starts_with: str | None,
    contains: str | None,
    ends_with: str | None,
) -> dict[str, str]:
    """Query of GET /v2/numbers (limit capped at the documented maximum)."""
    params = {
        "limit": str(min(max(int(limit), 1), NUMBERS_PAGE_MAX)),
        "offset": str(max(int(offset), 0)),
    }
    for key, val in (("starts_with", starts_with), ("contains", contains)):
        if val is not None:
            params[key] = str(val)
    if ends_with is not None:
        params["ends_with"] = str(ends_with)
    return params
