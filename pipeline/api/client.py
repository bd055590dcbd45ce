"""Flowroute v2 API client: one method per endpoint the pipeline uses (flowroute-api.md).

Every request goes through `_send`: the shared rate limiter, Basic auth, an explicit (connect, read)
timeout, JSON headers, no redirects, and `flowroute_parse.error_from_response`, the one place that
turns an error answer into an exception. Retries follow retry.py. A create whose outcome is
unknown (timeout, reset, 5xx) is resolved by looking the value up, never by blindly sending it
again, because a second POST would either duplicate the record or fail with 422.

No credential ever reaches a message, a log line or a repr: keys travel only in the Authorization
header, only to the configured host (pagination links are re-based onto it), and any text that
comes back from the server is scrubbed of them.

The checked base URL, the re-basing of targets onto it, the list queries and the Session are in
flowroute_urls.py (its public names are re-exported here); reading answers is flowroute_parse.py.
"""

from __future__ import annotations

import base64
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urljoin

import requests

from pipeline import __version__
from pipeline.api.outage import OutageGuard
from pipeline.api.parse import (
    CREDENTIALS_HINT,
    clip,
    cnam_from,
    error_from_response,
    next_link,
    number_from,
    transport_detail,
)
from pipeline.api.ratelimit import RateLimiter
from pipeline.api.retry import build_retrying, should_retry
from pipeline.api.types import (
    AmbiguousWriteError,
    ApiError,
    ApiStats,
    CnamRecord,
    NotFoundError,
    NumberInfo,
    RateLimitedError,
    ServerError,
    TransportError,
    UnprocessableError,
    preferred,
    value_key,
)
from pipeline.api.urls import (
    API_PREFIX,
    ApiHost,
    cnam_params,
    make_session,
    normalize_base_url,
    number_params,
)
from pipeline.errors import ApiUnreachableError, ConfigError
from pipeline.redact import redact

log = logging.getLogger(__name__)

ACCEPT = "application/vnd.api+json, application/json"
USER_AGENT = f"cnam-batch/{__version__}"
CONNECT_TIMEOUT_MAX = 10.0
PROBE_TIMEOUT = (5.0, 15.0)  # the first request: nothing answering must not take minutes to tell
ASSOCIATION_PATHS = ("cnams", "cnam")  # documented plural (default) / the SDKs' singular


class FlowrouteClient:
    """Flowroute's CNAM and numbers endpoints, shared by all worker threads of a run."""

    def __init__(
        self,
        base_url: str,
        access_key: str,
        secret_key: str,
        *,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
        timeout: float = 30.0,
        association_path: str = "cnams",
        max_attempts: int = 6,
        sleep: Callable[[float], object] = time.sleep,
        stats: ApiStats | None = None,
        jitter: Callable[[], float] | None = None,
        guard: OutageGuard | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        if not access_key or not secret_key:
            raise ConfigError(f"Flowroute API credentials are missing; {CREDENTIALS_HINT}")
        if association_path not in ASSOCIATION_PATHS:
            raise ConfigError(
                f'association path "{association_path}" must be "cnams" (documented) or "cnam"'
            )
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}")
        if not timeout > 0:
            raise ConfigError(f"timeout must be positive, got {timeout}")
        self._host = ApiHost(self.base_url)
        self._auth = (access_key, secret_key)
        token = base64.b64encode(f"{access_key}:{secret_key}".encode()).decode()
        self._secrets = (secret_key, access_key, token)
        self.session = session if session is not None else make_session()
        self.limiter = limiter
        self.timeout = (min(timeout, CONNECT_TIMEOUT_MAX), timeout)
        self.association_path = association_path
        self.max_attempts = max_attempts
        self.stats = stats if stats is not None else ApiStats()
        self._sleep = sleep
        self._jitter = jitter if jitter is not None else random.Random().random
        self.guard = guard

    def __repr__(self) -> str:
        return f"FlowrouteClient(base_url={self.base_url!r}, credentials=***)"

    # --- CNAM records --------------------------------------------------------------------

    def list_cnams(
        self,
        *,
        limit: int = 200,
        offset: int = 0,
        is_approved: bool | None = None,
        value: str | None = None,
    ) -> tuple[list[CnamRecord], str | None]:
        """One page of the account's CNAM records and the next page's URL (None on the last)."""
        params = cnam_params(limit, offset, is_approved, value)
        return self._page(f"{API_PREFIX}/cnams", params, cnam_from)

    def iter_cnams(
        self, *, is_approved: bool | None = None, value: str | None = None, page_size: int = 200
    ) -> Iterator[CnamRecord]:
        """Every matching record, following links.next (see `_paginate`)."""
        params = cnam_params(page_size, 0, is_approved, value)
        return self._paginate(f"{API_PREFIX}/cnams", params, cnam_from)

    def find_cnam(self, value: str) -> CnamRecord | None:
        """The record whose value equals `value` (case and spacing ignored), or None.

        The server's `value=` filter matches substrings, so every page is checked for an exact
        match. Should the account hold several, `preferred` picks (approved, pending, then oldest).
        """
        wanted = value_key(value)
        if not wanted:
            return None
        best: CnamRecord | None = None
        for record in self.iter_cnams(value=wanted):
            if value_key(record.value) == wanted:
                best = preferred(best, record)
        return best

    def get_cnam(self, cnam_id: str) -> CnamRecord:
        """One record by id; NotFoundError when the account has no such record."""
        return self.get_cnam_numbers(cnam_id)[0]

    def get_cnam_numbers(self, cnam_id: str) -> tuple[CnamRecord, list[str]]:
        """One record by id and the numbers that carry it (`relationships.numbers`, §1.3; absent
        when it is on none). NotFoundError when the account has no such record."""
        path = f"{API_PREFIX}/cnams/{quote(str(cnam_id), safe='')}"
        response = self._call("GET", path)

        def extract(body: Mapping[str, Any]) -> tuple[CnamRecord, list[str]]:
            data = body.get("data")
            record = cnam_from(data)  # raises unless `data` is an object with an id
            assert isinstance(data, Mapping)
            related = ((data.get("relationships") or {}).get("numbers") or {}).get("data") or []
            if not isinstance(related, list):
                raise ValueError("`relationships.numbers.data` is not a list")
            return record, [str(n["id"]) for n in related if isinstance(n, Mapping) and n.get("id")]

        return self._parse(response, "GET", path, extract)  # type: ignore[no-any-return]

    def create_cnam(self, value: str) -> CnamRecord:
        """Create a record for `value`; never sends the same create twice blindly.

        - 201: the new record (stats.creates).
        - 422 (duplicate): the existing record found by value is returned; UnprocessableError
          when there is none (the value itself was refused).
        - Timeout, reset or 5xx: the outcome is unknown, so the value is looked up. Found: it
          was created (stats.creates). Not found: it did not happen, so the POST is sent again,
          within `max_attempts`; after that AmbiguousWriteError. A failed lookup also raises
          AmbiguousWriteError (the next run looks again).
        - 429: the server did not process it; sent again once the rate limiter allows, on a
          budget of its own (a 429 is not one of the `max_attempts`).
        """
        path = f"{API_PREFIX}/cnams"

        def attempt() -> CnamRecord:
            try:
                response = self._send("POST", path, json_body={"value": value}, ok=(200, 201))
            except UnprocessableError as exc:
                found = self._lookup_after_duplicate(value, exc)
                if found is None:
                    raise
                log.info('CNAM "%s" already exists as record %s; reusing it', value, found.id)
                return found
            except (ServerError, TransportError) as exc:
                found = self._lookup_after_unknown(value, exc)
                if found is None:
                    raise  # it did not happen: safe to send again
                log.info('CNAM "%s" was created (record %s) despite: %s', value, found.id, exc)
                self.stats.bump("creates")
                return found
            record = self._parse(response, "POST", path, lambda body: cnam_from(body.get("data")))
            self.stats.bump("creates")
            return record

        try:
            return self._retrying()(attempt)
        except (ServerError, TransportError) as exc:
            raise self._ambiguous(value, exc, "not found by value after every attempt") from exc

    def delete_cnam(self, cnam_id: str) -> None:
        """Delete a record (which also unassigns it everywhere). Already gone counts as done."""
        path = f"{API_PREFIX}/cnams/{quote(str(cnam_id), safe='')}"
        try:
            self._call("DELETE", path, ok=(200, 202, 204))
        except NotFoundError:
            log.info("CNAM record %s was already gone", cnam_id)

    # --- numbers ---------------------------------------------------------------------------

    def list_numbers(
        self,
        *,
        limit: int = 200,
        offset: int = 0,
        starts_with: str | None = None,
        contains: str | None = None,
        ends_with: str | None = None,
    ) -> tuple[list[NumberInfo], str | None]:
        """One page of the account's numbers (limit capped at 200) and the next page's URL."""
        params = number_params(limit, offset, starts_with, contains, ends_with)
        return self._page(f"{API_PREFIX}/numbers", params, number_from)

    def iter_numbers(self, page_size: int = 200) -> Iterator[NumberInfo]:
        """Every number on the account, following links.next."""
        params = number_params(page_size, 0, None, None, None)
        return self._paginate(f"{API_PREFIX}/numbers", params, number_from)

    def list_number_ids(self, page_size: int = 200) -> tuple[set[str], bool]:
        """Every number on the account, and whether the listing was read whole (False when
        pagination broke off at a page already read: numbers missing from it may be owned)."""
        params = number_params(page_size, 0, None, None, None)
        whole: list[bool] = []
        ids = {n.id for n in self._paginate(f"{API_PREFIX}/numbers", params, number_from, whole)}
        return ids, not whole

    def get_number(self, number: str) -> NumberInfo | None:
        """A number's details incl. its current CNAM id; None when it is not on the account."""
        path = f"{API_PREFIX}/numbers/{quote(str(number), safe='')}"
        try:
            response = self._call("GET", path)
        except NotFoundError:
            return None
        return self._parse(response, "GET", path, lambda body: number_from(body.get("data")))

    def associate(self, number: str, cnam_id: str) -> None:
        """Give `number` the CNAM record `cnam_id` (202). Idempotent, so retried like a read."""
        path = (
            f"{API_PREFIX}/numbers/{quote(str(number), safe='')}/relationships/"
            f"{self.association_path}/{quote(str(cnam_id), safe='')}"
        )
        self._call("PATCH", path, ok=(200, 202, 204))
        self.stats.bump("associations")

    def unassociate(self, number: str) -> None:
        """Remove `number`'s CNAM (the record itself stays)."""
        path = (
            f"{API_PREFIX}/numbers/{quote(str(number), safe='')}/relationships/"
            f"{self.association_path}"
        )
        self._call("DELETE", path, ok=(200, 202, 204))

    def check_credentials(self) -> None:
        """One cheap request before a run: CredentialsError on 401/403 (never retried),
        ApiUnreachableError when the API cannot be reached or keeps failing."""
        path = f"{API_PREFIX}/cnams"
        url = f"{self.base_url}{path}"
        probe = (min(self.timeout[0], PROBE_TIMEOUT[0]), min(self.timeout[1], PROBE_TIMEOUT[1]))
        try:
            self._call("GET", path, params={"limit": "1"}, timeout=probe)
        except TransportError as exc:
            raise ApiUnreachableError(
                f"cannot reach the Flowroute API at {url} ({exc.detail or exc.title}) after "
                f"{self.max_attempts} attempts; check the API URL (--api-url / FLOWROUTE_API_URL) "
                "and the network"
            ) from exc
        except (ServerError, RateLimitedError) as exc:
            raise ApiUnreachableError(
                f"the Flowroute API at {url} kept failing after {self.max_attempts} attempts "
                f"({exc.status} {exc.title or exc.detail}); try again later"
            ) from exc

    # --- plumbing --------------------------------------------------------------------------

    def _page(
        self, target: str, params: Mapping[str, str] | None, parse: Callable[[object], Any]
    ) -> tuple[list[Any], str | None]:
        """GET one list page; return (items, absolute next URL or None)."""
        response = self._call("GET", target, params=params)
        shown = self._host.display(target, params)

        def extract(body: Mapping[str, Any]) -> tuple[list[Any], str | None]:
            data = body.get("data")
            if not isinstance(data, list):
                raise ValueError("`data` is not a list")
            return [parse(obj) for obj in data], next_link(body)

        items, nxt = self._parse(response, "GET", shown, extract)
        return items, (urljoin(response.url or self._host.url(shown), nxt) if nxt else None)

    def _paginate(
        self,
        target: str,
        params: Mapping[str, str],
        parse: Callable[[object], Any],
        broken: list[bool] | None = None,
    ) -> Iterator[Any]:
        """Follow links.next on our own host; stop at the last page, an empty page or a repeat
        (then `broken`, when given, gets a True: the listing was not read whole)."""
        seen = {self._host.canonical(self._host.display(target, params))}
        items, nxt = self._page(target, params, parse)
        yield from items
        while nxt and items:
            key = self._host.canonical(nxt)
            if key in seen:
                log.warning("pagination stopped: next link %s repeats a page already read", key)
                if broken is not None:
                    broken.append(True)
                return
            seen.add(key)
            items, nxt = self._page(nxt, None, parse)
            yield from items

    def _scrub(self, text: str) -> str:
        return redact(text, self._secrets)

    def _retrying(self) -> Any:
        """A fresh retry policy per call (tenacity objects keep per-call state)."""
        return build_retrying(
            self._wait,
            self.max_attempts,
            stats=self.stats,
            jitter=self._jitter,
            paced=self.limiter is not None,
        )

    def _wait(self, seconds: float) -> None:
        """A retry's wait, cut short when the outage budget or the deadline runs out first."""
        self._sleep(self.guard.cap_wait(seconds) if self.guard is not None else seconds)

    def _call(
        self,
        method: str,
        target: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        ok: tuple[int, ...] = (200,),
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        """`_send` under the retry policy (only for requests that are safe to repeat)."""
        return self._retrying()(
            self._send, method, target, params=params, json_body=json_body, ok=ok, timeout=timeout
        )

    def _send(
        self,
        method: str,
        target: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        ok: tuple[int, ...] = (200,),
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        """Exactly one HTTP request: limiter slot, auth, timeout, headers, error mapping.

        The outage guard, when there is one, may refuse to send (outage, deadline) or turn a
        failure into the end of the run (see outage.py)."""
        shown = self._host.display(target, params)
        timeout = timeout or self.timeout
        headers = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        granted = self.limiter.acquire() if self.limiter is not None else None
        sent_at = None
        if self.guard is not None:
            self.guard.before_send()
            sent_at = self.guard.now()
        self.stats.bump("requests")
        try:
            response = self.session.request(
                method,
                self._host.url(target),
                params=params,
                json=json_body,
                headers=headers,
                auth=self._auth,
                timeout=timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            detail = self._scrub(transport_detail(exc, timeout))
            if self.guard is not None:
                self.guard.failure(
                    detail, transport=True, retryable=should_retry(exc), sent_at=sent_at
                )
            raise TransportError(
                0, title=type(exc).__name__, detail=detail, method=method, path=shown
            ) from exc
        if self.guard is not None:
            self.guard.answer(response.status_code, sent_at)
        if response.status_code in ok:
            return response
        err = error_from_response(
            response, method, shown, base_url=self.base_url, scrub=self._scrub
        )
        if response.status_code == 429:
            self.stats.bump("rate_limited")
            if self.limiter is not None:
                self.limiter.penalize(getattr(err, "retry_after", None), sent_at=granted)
        raise err

    def _parse(
        self,
        response: requests.Response,
        method: str,
        path: str,
        extract: Callable[[Mapping[str, Any]], Any],
    ) -> Any:
        """Apply `extract` to a success body; an ApiError naming the call when it is malformed."""
        try:
            body = response.json()
            if not isinstance(body, Mapping):
                raise ValueError("the body is not a JSON object")
            return extract(body)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise ApiError(
                response.status_code,
                title="unexpected answer",
                detail=self._scrub(clip(str(exc), 160)),
                method=method,
                path=path,
            ) from exc

    def _lookup_after_duplicate(self, value: str, cause: UnprocessableError) -> CnamRecord | None:
        """find_cnam after a 422; a failed lookup keeps the 422 (not retried: resending is moot)."""
        try:
            return self.find_cnam(value)
        except ApiError as lookup_exc:
            raise UnprocessableError(
                cause.status,
                title=cause.title,
                detail=clip(f"{cause.detail}; looking the value up failed: {lookup_exc}"),
                error_id=cause.error_id,
                method=cause.method,
                path=cause.path,
            ) from lookup_exc

    def _lookup_after_unknown(self, value: str, cause: ApiError) -> CnamRecord | None:
        try:
            return self.find_cnam(value)
        except ApiError as lookup_exc:
            raise self._ambiguous(value, cause, f"the lookup failed too: {lookup_exc}") from cause

    def _ambiguous(self, value: str, cause: ApiError, why: str) -> AmbiguousWriteError:
        return AmbiguousWriteError(
            cause.status,
            title="outcome unknown",
            detail=self._scrub(
                f'creating CNAM "{value}" got {cause.title or "an error"}'
                f"{': ' + cause.detail if cause.detail else ''}; {why}; the next run looks it up"
            ),
            method="POST",
            path=f"{API_PREFIX}/cnams",
        )
