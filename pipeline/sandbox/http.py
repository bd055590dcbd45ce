"""The sandbox's HTTP face: routing, Basic auth, JSON:API rendering, rate limit and faults.

`SandboxApp.dispatch` turns one parsed request into a `Response` without touching sockets, so
the Flowroute behaviour (status codes, bodies, quirks; flowroute-api.md) lives here and in the
account, while `sandbox_wire.SandboxHandler` only moves bytes. Requests are handled in the order:
rate limit (429s are not counted), auth (401), route (404/405), fault draw, operation,
after-commit fault.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import sys
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from pipeline.sandbox.account import (
    NOT_FOUND_TITLE,
    NUMBER_NOT_FOUND,
    UNPROCESSABLE_TITLE,
    Account,
    Record,
    SandboxApiError,
    number_attributes,
)
from pipeline.sandbox.control import (
    DROP_AFTER,
    DROP_BEFORE,
    ERROR_AFTER,
    ERROR_BEFORE,
    OUTAGE,
    FaultInjector,
    OutageSwitch,
    RequestLogEntry,
    SlidingWindowLimiter,
)

JSON_API = "application/vnd.api+json"
MAX_BODY_BYTES = 1 << 20
NUMBERS_MAX_LIMIT = 200  # flowroute-api.md §2.1: larger limits are clamped (links.next shows it)
DEFAULT_LIMIT = 10
# A value production keeps refusing (FaultConfig.refuse_values): the SDKs' fixed 422 text.
REFUSED_DETAIL = "Unprocessable Entity - You tried to enter an incorrect value."

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: NOT_FOUND_TITLE,
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

_ROUTES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = (
    (re.compile(r"/v2/cnams"), {"GET": "list_cnams", "POST": "create_cnam"}),
    (re.compile(r"/v2/cnams/(?P<cnam_id>[^/]+)"), {"GET": "get_cnam", "DELETE": "delete_cnam"}),
    (re.compile(r"/v2/numbers"), {"GET": "list_numbers"}),
    (re.compile(r"/v2/numbers/(?P<number>[^/]+)"), {"GET": "get_number"}),
    # Both path forms (flowroute-api.md §1.7): the docs' plural and the SDKs' singular.
    (
        re.compile(r"/v2/numbers/(?P<number>[^/]+)/relationships/cnams?/(?P<cnam_id>[^/]+)"),
        {"PATCH": "associate"},
    ),
    (re.compile(r"/v2/numbers/(?P<number>[^/]+)/relationships/cnams?"), {"DELETE": "unassociate"}),
)


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query as sent
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    body_error: tuple[int, str] | None = None  # set by the handler when the body could not be read


@dataclass
class Response:
    status: int
    payload: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering

    def body(self) -> bytes:
        if self.payload is None:
            return b""
        return json.dumps(self.payload, separators=(",", ":")).encode("utf-8")


def error_payload(status: int, detail: str, title: str | None = "") -> dict[str, Any]:
    """A JSON:API error body; title "" means the usual title for the status, None leaves it out."""
    error: dict[str, Any] = {"detail": detail, "id": str(uuid.uuid4()), "status": status}
    if title is not None:
        error["title"] = title or _TITLES.get(status, "Error")
    return {"errors": [error]}


def _error(status: int, detail: str, title: str | None = "", **headers: str) -> Response:
    return Response(status, error_payload(status, detail, title), dict(headers))


def _bad(detail: str) -> SandboxApiError:
    return SandboxApiError(400, detail, _TITLES[400])


def _int_param(params: dict[str, str], name: str, default: int, minimum: int) -> int:
    text = params.get(name, "")
    if text == "":
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < minimum:
        raise _bad(
            f"Query parameter {name} must be an integer of at least {minimum}, got {text!r}."
        )
    return int(text)


def _bool_param(params: dict[str, str], name: str) -> bool | None:
    text = params.get(name, "").strip().lower()
    if text == "":
        return None
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise _bad(f"Query parameter {name} must be true or false, got {params[name]!r}.")


def _digits_param(params: dict[str, str], name: str) -> str | None:
    text = params.get(name, "").strip().lstrip("+")
    if text == "":
        return None
    if not (text.isascii() and text.isdigit()):
        raise _bad(f"Query parameter {name} must be an integer, got {params[name]!r}.")
    return text


def _created_value(headers: dict[str, str], body: bytes) -> object:
    """The `value` of a create body: flat JSON (any JSON media type, or none at all) or a form
    (what Flowroute's Python SDK sends). 400 when unparseable, 415 for another media type."""
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    data: object
    if media in ("application/json", JSON_API) or media.endswith("+json"):
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _bad(f"The request body is not valid JSON ({exc}).") from exc
    elif media == "application/x-www-form-urlencoded":
        data = _parse_form(body)
    elif media == "":
        if not body.strip():
            return None
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = _parse_form(body)
    else:
        raise SandboxApiError(
            415, f"Unsupported content type {media!r}; send application/json.", _TITLES[415]
        )
    if not isinstance(data, dict):
        raise _bad('The request body must be an object such as {"value": "BOB LAW"}.')
    return data.get("value")


def _parse_form(body: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad("The request body is neither JSON nor a form.") from exc


def _iso(epoch: float | None) -> str | None:
    """Flowroute's datetime format: space-separated, microseconds, offset."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(sep=" ", timespec="microseconds")


class SandboxApp:
    """Flowroute v2 behaviour over an `Account`: auth, rate limit, faults and the request log."""

    def __init__(
        self,
        account: Account,
        *,
        access_key: str,
        secret_key: str,
        base_url: str,
        log: list[RequestLogEntry],
        log_limit: int | None = None,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
        limiter: SlidingWindowLimiter | None = None,
        faults: FaultInjector | None = None,
        outage: OutageSwitch | None = None,
    ) -> None:
        self.account = account
        self.base_url = base_url
        self.log = log
        self._log_limit = log_limit
        self._credentials = (access_key.encode(), secret_key.encode())
        self._clock = clock
        self._monotonic = monotonic
        self._limiter = limiter
        self._faults = faults
        self._outage = outage

    def dispatch(self, req: Request) -> Response:
        """Answer one request and log it with its arrival time (the one the rate limit counted)."""
        down = self._outage.check() if self._outage is not None else None
        if down is not None:  # the whole API is down: nothing behind the load balancer runs
            response = _outage_response(down)
            split = urlsplit(req.target)
            status = 0 if response.drop else response.status
            entry = RequestLogEntry(
                req.method, split.path, split.query, status, self._monotonic(), OUTAGE
            )
            self.log.append(entry)
            return response
        retry_after: int | None = None
        if self._limiter is not None:
            arrival, retry_after = self._limiter.admit()
        else:
            arrival = self._monotonic()
        split = urlsplit(req.target)
        fault: str | None = None
        if self._limiter is not None and retry_after is not None:
            detail = f"Too many requests: at most {self._limiter.limit} requests per second."
            header = {"Retry-After": str(retry_after)} if self._limiter.retry_after else {}
            response = _error(429, detail, **header)
        elif not self._authorized(req.headers.get("authorization", "")):
            response = _error(401, "Authentication failed.")
        elif req.body_error is not None:
            response = _error(*req.body_error)
        else:
            response, fault = self._route(req.method, split.path, split.query, req)
        status = 0 if response.drop else response.status
        self.log.append(
            RequestLogEntry(req.method, split.path, split.query, status, arrival, fault)
        )
        if self._log_limit is not None and len(self.log) > 2 * self._log_limit:
            # ~250 bytes an entry: a long in-process run keeps the recent ones (amortized O(1)).
            del self.log[: -self._log_limit]
        return response

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = decoded.partition(b":")
        key, secret = self._credentials
        # Compare both halves every time so timing says nothing about which one was wrong.
        ok_user = hmac.compare_digest(user, key)
        ok_password = hmac.compare_digest(password, secret)
        return bool(sep) and ok_user and ok_password

    def _route(
        self, method: str, path: str, query: str, req: Request
    ) -> tuple[Response, str | None]:
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        for pattern, methods in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            operation = methods.get(method)
            if operation is None:
                allowed = ", ".join(sorted(methods))
                detail = f"Method {method} is not allowed on {path}; use {allowed}."
                return _error(405, detail, Allow=allowed), None
            return self._run(operation, match.groupdict(), query, req)
        return _error(404, f"No such endpoint: {method} {path}."), None

    def _run(
        self, operation: str, args: dict[str, str], query: str, req: Request
    ) -> tuple[Response, str | None]:
        fault, fault_status = self._faults.draw(operation) if self._faults else (None, 0)
        if fault == ERROR_BEFORE:
            detail = "Service temporarily unavailable." if fault_status == 503 else "Server error."
            extra = {"Retry-After": "1"} if fault_status == 503 else {}
            return _error(fault_status, detail, **extra), fault
        if fault == DROP_BEFORE:
            return Response(0, drop=True), fault
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            response = getattr(self, f"_op_{operation}")(args, params, query, req)
        except SandboxApiError as exc:
            return _error(exc.status, exc.detail, exc.title), None
        except Exception as exc:  # a sandbox bug: answer like a server would, and show it
            traceback.print_exc(file=sys.stderr)
            return _error(500, f"Sandbox internal error ({type(exc).__name__})."), None
        if fault == ERROR_AFTER:
            return _error(500, "Server error."), fault
        if fault == DROP_AFTER:
            return Response(0, drop=True), fault
        return response, None

    # ---- rendering -----------------------------------------------------------------------------

    def _cnam(self, record: Record) -> dict[str, Any]:
        return {
            "type": "cnam",
            "id": str(record.id),
            "attributes": {
                "value": record.value,
                "is_approved": record.is_approved,
                "rejection_reason": record.rejection_reason,
                "approval_datetime": _iso(record.approved_at),
                "creation_datetime": _iso(record.created),
            },
            "links": {"self": f"{self.base_url}/v2/cnams/{record.id}"},
        }

    def _number(self, number: str) -> dict[str, Any]:
        return {
            "type": "number",
            "id": number,
            "attributes": number_attributes(number),
            "links": {"self": f"{self.base_url}/v2/numbers/{number}"},
        }

    def _links(
        self, path: str, query: str, limit: int, offset: int, more: bool, **echo: str
    ) -> dict[str, str]:
        """self/next URLs that echo the query as sent (filters first, then limit and offset)."""
        kept = [
            (k, echo.get(k, v))
            for k, v in parse_qsl(query, keep_blank_values=True)
            if k not in ("limit", "offset")
        ]

        def url(at: int) -> str:
            return f"{self.base_url}{path}?{urlencode([*kept, ('limit', limit), ('offset', at)])}"

        links = {"self": url(offset)}
        if more:
            links["next"] = url(offset + limit)
        return links

    def _date_created(self) -> str:
        return formatdate(self._clock(), usegmt=True)

    # ---- operations ----------------------------------------------------------------------------

    def _op_list_cnams(self, args: dict, params: dict, query: str, req: Request) -> Response:
        limit = _int_param(params, "limit", DEFAULT_LIMIT, 1)
        offset = _int_param(params, "offset", 0, 0)
        is_approved = _bool_param(params, "is_approved")
        records, more = self.account.page(
            offset=offset, limit=limit, is_approved=is_approved, value=params.get("value") or None
        )
        links = self._links("/v2/cnams", query, limit, offset, more)
        return Response(200, {"data": [self._cnam(r) for r in records], "links": links})

    def _op_create_cnam(self, args: dict, params: dict, query: str, req: Request) -> Response:
        value = _created_value(req.headers, req.body)
        if self._faults is not None and self._faults.refuses(value):
            raise SandboxApiError(422, REFUSED_DETAIL, UNPROCESSABLE_TITLE)
        record = self.account.create(value)
        return Response(201, {"data": self._cnam(record)})

    def _op_get_cnam(self, args: dict, params: dict, query: str, req: Request) -> Response:
        record, numbers = self.account.get(args["cnam_id"])
        data = self._cnam(record)
        data["relationships"] = {
            "numbers": {"data": [{"id": n, "type": "number"} for n in numbers]}
        }
        return Response(200, {"data": data, "included": [self._number(n) for n in numbers]})

    def _op_delete_cnam(self, args: dict, params: dict, query: str, req: Request) -> Response:
        self.account.delete(args["cnam_id"])
        return Response(204)

    def _op_list_numbers(self, args: dict, params: dict, query: str, req: Request) -> Response:
        limit = min(_int_param(params, "limit", DEFAULT_LIMIT, 1), NUMBERS_MAX_LIMIT)
        offset = _int_param(params, "offset", 0, 0)
        starts_with = _digits_param(params, "starts_with")
        echo: dict[str, str] = {}
        if starts_with is not None and not params["starts_with"].strip().startswith("+"):
            # No country code given: Flowroute prefixes "1" (and echoes it, e.g. 201 -> 1201).
            if not starts_with.startswith("1"):
                starts_with = "1" + starts_with
            echo["starts_with"] = starts_with
        page, more = self.account.numbers_page(
            offset=offset,
            limit=limit,
            starts_with=starts_with,
            contains=_digits_param(params, "contains"),
            ends_with=_digits_param(params, "ends_with"),
            alias=params.get("alias") or None,
        )
        links = self._links("/v2/numbers", query, limit, offset, more, **echo)
        return Response(200, {"data": [self._number(n) for n in page], "links": links})

    def _op_get_number(self, args: dict, params: dict, query: str, req: Request) -> Response:
        number = _path_number(args["number"])
        record = self.account.number_preset(number)
        data = self._number(number)
        preset = None if record is None else {"id": str(record.id), "type": "cnam"}
        data["relationships"] = {
            "cnam_preset": {"data": preset},
            "e911_address": {"data": None},
            "failover_route": {"data": None},
            "primary_route": {"data": None},
        }
        included = [] if record is None else [self._cnam(record)]
        return Response(200, {"data": data, "included": included})

    def _op_associate(self, args: dict, params: dict, query: str, req: Request) -> Response:
        self.account.associate(_path_number(args["number"]), args["cnam_id"])
        # The one place Flowroute answers the cnam id as an integer (flowroute-api.md §1.7).
        data = {"attributes": {"date_created": self._date_created()}, "id": int(args["cnam_id"])}
        return Response(202, {"data": {**data, "type": "cnam"}})

    def _op_unassociate(self, args: dict, params: dict, query: str, req: Request) -> Response:
        self.account.unassociate(_path_number(args["number"]))
        attributes = {"date_created": self._date_created()}
        return Response(202, {"data": {"id": None, "type": "cnam", "attributes": attributes}})


def _outage_response(mode: str) -> Response:
    if mode == "drop":
        return Response(0, drop=True)
    status = int(mode)
    if status == 401:
        return _error(401, "Authentication failed.")
    if status == 503:
        return _error(503, "Service temporarily unavailable.", **{"Retry-After": "1"})
    return _error(status, "Server error.")


def _path_number(text: str) -> str:
    """A number id from a path: exactly 11 digits, else the number 404 (which has no title)."""
    if len(text) != 11 or not (text.isascii() and text.isdigit()):
        raise SandboxApiError(404, NUMBER_NOT_FOUND, None)
    return text
