"""FlowrouteClient against `responses`: every endpoint's URL, method, query and body; pagination;
error shapes; retries; the never-resend rule for creates; credentials; secrets kept out of text."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from pipeline import __version__
from pipeline.api.client import FlowrouteClient
from pipeline.api.parse import error_from_response, parse_datetime
from pipeline.api.types import (
    AmbiguousWriteError,
    ApiCounts,
    ApiError,
    ApiStats,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnprocessableError,
)
from pipeline.api.urls import make_session, normalize_base_url
from pipeline.errors import ApiUnreachableError, ConfigError, CredentialsError, ExitCode
from pipeline.redact import MASK

BASE = "https://api.flowroute.com"
ACCESS = "AK7731234"
SECRET = "sEcReT-9f8e7d6c5b4a"
TOKEN = base64.b64encode(f"{ACCESS}:{SECRET}".encode()).decode()
SECRETS = (ACCESS, SECRET, TOKEN)


class RecordingLimiter:
    """Stands in for RateLimiter: counts slots (granted at 1.0, 2.0...) and remembers penalties
    as (retry_after, sent_at)."""

    def __init__(self) -> None:
        self.acquired = 0
        self.penalties: list[tuple[float | None, float | None]] = []

    def acquire(self) -> float:
        self.acquired += 1
        return float(self.acquired)

    def penalize(self, retry_after: float | None = None, sent_at: float | None = None) -> None:
        self.penalties.append((retry_after, sent_at))


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client(sleeps: list[float], **kwargs: Any) -> FlowrouteClient:
    kwargs.setdefault("jitter", lambda: 0.5)
    kwargs.setdefault("base_url", BASE)
    return FlowrouteClient(access_key=ACCESS, secret_key=SECRET, sleep=sleeps.append, **kwargs)


def cnam(
    cid: Any,
    value: str,
    approved: bool = False,
    reason: str | None = None,
    created: str | None = "2018-06-01 00:09:52.513092+00:00",
) -> dict[str, Any]:
    return {
        "type": "cnam",
        "id": cid,
        "attributes": {
            "value": value,
            "is_approved": approved,
            "rejection_reason": reason,
            "approval_datetime": None,
            "creation_datetime": created,
        },
        "links": {"self": f"{BASE}/v2/cnams/{cid}"},
    }


def number(nid: str, preset: Any = None, number_type: str = "standard") -> dict[str, Any]:
    return {
        "type": "number",
        "id": nid,
        "attributes": {"value": nid, "number_type": number_type, "alias": None},
        "relationships": {"cnam_preset": {"data": preset}},
    }


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# --- request basics ----------------------------------------------------------------------------


def test_every_request_carries_basic_auth_accept_user_agent_and_a_timeout(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{BASE}/v2/cnams/23454", json={"data": cnam("23454", "FR H5K8")})
    client(sleeps, timeout=20.0).get_cnam("23454")
    request = rsps.calls[0].request
    assert request.headers["Authorization"] == f"Basic {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.api+json, application/json"
    assert request.headers["User-Agent"] == f"cnam-batch/{__version__}"
    assert "Content-Type" not in request.headers  # no body, no content type
    assert request.req_kwargs["timeout"] == (10.0, 20.0)


def test_requests_are_counted_and_each_takes_a_limiter_slot(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{BASE}/v2/cnams/1", status=503)
    rsps.get(f"{BASE}/v2/cnams/1", json={"data": cnam("1", "A")})
    limiter = RecordingLimiter()
    c = client(sleeps, limiter=limiter)
    c.get_cnam("1")
    assert limiter.acquired == 2
    assert c.stats.snapshot() == ApiCounts(
        requests=2, creates=0, associations=0, retries=1, rate_limited=0
    )


def test_make_session_pool_holds_as_many_connections_as_workers() -> None:
    session = make_session(12)
    assert session.get_adapter("https://api.flowroute.com")._pool_maxsize == 12  # type: ignore[attr-defined]


# --- base URL ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://api.flowroute.com", "https://api.flowroute.com"),
        ("https://api.flowroute.com///", "https://api.flowroute.com"),
        ("https://api.flowroute.com/v2/", "https://api.flowroute.com"),
        (" https://proxy.example.com/flowroute/ ", "https://proxy.example.com/flowroute"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://127.9.9.9:1", "http://127.9.9.9:1"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
    ],
)
def test_base_url_is_normalized(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("http://api.flowroute.com", "plain http"),
        ("http://10.0.0.5:8080", "plain http"),
        ("http://128.0.0.1", "plain http"),
        ("http://localhost.evil.com", "plain http"),
        ("ftp://api.flowroute.com", "not an http"),
        ("api.flowroute.com", "not an http"),
        ("", "not an http"),
        (f"https://{ACCESS}:{SECRET}@api.flowroute.com", "must not contain credentials"),
        ("https://api.flowroute.com/?x=1", "must not have"),
    ],
)
def test_unsafe_or_malformed_base_url_is_refused(given: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        FlowrouteClient(given, ACCESS, SECRET)
    assert_no_secret(str(info.value))


def test_paths_are_appended_to_a_base_url_with_a_prefix(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    base = "http://127.0.0.1:8080/proxy/"
    rsps.get(
        "http://127.0.0.1:8080/proxy/v2/cnams",
        json={
            "data": [cnam("1", "A")],
            "links": {"next": "http://127.0.0.1:8080/proxy/v2/cnams?limit=1&offset=1"},
        },
    )
    rsps.get("http://127.0.0.1:8080/proxy/v2/cnams", json={"data": [cnam("2", "B")]})
    ids = [r.id for r in client(sleeps, base_url=base).iter_cnams(page_size=1)]
    assert ids == ["1", "2"]
    assert urlsplit(rsps.calls[1].request.url).path == "/proxy/v2/cnams"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"access_key": "", "secret_key": SECRET}, "FR_ACCESS_KEY"),
        ({"access_key": ACCESS, "secret_key": ""}, "FR_SECRET_KEY"),
        ({"access_key": ACCESS, "secret_key": SECRET, "association_path": "cnam_s"}, "cnams"),
        ({"access_key": ACCESS, "secret_key": SECRET, "max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FlowrouteClient(BASE, **kwargs)


# --- CNAM records ------------------------------------------------------------------------------


def test_list_cnams_sends_filters_and_parses_records(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    nxt = f"{BASE}/v2/cnams?is_approved=True&limit=3&offset=3"
    rsps.get(
        f"{BASE}/v2/cnams",
        match=[
            matchers.query_param_matcher(
                {"limit": "3", "offset": "0", "is_approved": "true", "value": "ACME"}
            )
        ],
        json={
            "data": [
                cnam(23454, "ACME", approved=True),
                cnam("23455", "ACME TWO", reason="Misleading"),
                cnam("23456", "ACME 3", created=None),
            ],
            "links": {"self": f"{BASE}/v2/cnams?limit=3", "next": nxt},
        },
    )
    records, next_url = client(sleeps).list_cnams(limit=3, is_approved=True, value="ACME")
    assert next_url == nxt
    assert [r.id for r in records] == ["23454", "23455", "23456"]  # ids are strings
    assert [r.state for r in records] == ["approved", "rejected", "pending"]
    assert records[0].creation_datetime == datetime(2018, 6, 1, 0, 9, 52, 513092, tzinfo=UTC)
    assert records[2].creation_datetime is None


def test_iter_cnams_follows_links_next_over_three_pages(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    pages = [
        ({"limit": "2", "offset": "0"}, ["1", "2"], f"{BASE}/v2/cnams?limit=2&offset=2"),
        ({"limit": "2", "offset": "2"}, ["3", "4"], f"{BASE}/v2/cnams?limit=2&offset=4"),
        ({"limit": "2", "offset": "4"}, ["5"], None),
    ]
    for params, ids, nxt in pages:
        body: dict[str, Any] = {"data": [cnam(i, f"N{i}") for i in ids], "links": {}}
        if nxt:
            body["links"]["next"] = nxt
        rsps.get(f"{BASE}/v2/cnams", match=[matchers.query_param_matcher(params)], json=body)
    assert [r.id for r in client(sleeps).iter_cnams(page_size=2)] == ["1", "2", "3", "4", "5"]
    assert len(rsps.calls) == 3


def test_pagination_never_sends_credentials_to_another_host(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(
        f"{BASE}/v2/cnams",
        match=[matchers.query_param_matcher({"limit": "1", "offset": "0"})],
        json={
            "data": [cnam("1", "A")],
            "links": {"next": "https://evil.example.com/v2/cnams?limit=1&offset=1"},
        },
    )
    rsps.get(
        f"{BASE}/v2/cnams",
        match=[matchers.query_param_matcher({"limit": "1", "offset": "1"})],
        json={"data": [cnam("2", "B")], "links": {"next": "/v2/cnams?limit=1&offset=2"}},
    )
    rsps.get(
        f"{BASE}/v2/cnams",
        match=[matchers.query_param_matcher({"limit": "1", "offset": "2"})],
        json={"data": [cnam("3", "C")]},
    )
    assert [r.id for r in client(sleeps).iter_cnams(page_size=1)] == ["1", "2", "3"]
    assert {urlsplit(c.request.url).netloc for c in rsps.calls} == {"api.flowroute.com"}


def test_pagination_stops_when_a_next_link_repeats(
    rsps: responses.RequestsMock, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    rsps.get(
        f"{BASE}/v2/cnams",
        match=[matchers.query_param_matcher({"limit": "1", "offset": "0"})],
        json={"data": [cnam("1", "A")], "links": {"next": f"{BASE}/v2/cnams?offset=1&limit=1"}},
    )
    rsps.get(
        f"{BASE}/v2/cnams",
        match=[matchers.query_param_matcher({"limit": "1", "offset": "1"})],
        json={"data": [cnam("2", "B")], "links": {"next": f"{BASE}/v2/cnams?limit=1&offset=0"}},
    )
    with caplog.at_level(logging.WARNING):
        ids = [r.id for r in client(sleeps).iter_cnams(page_size=1)]
    assert ids == ["1", "2"]
    assert len(rsps.calls) == 2
    assert "repeats" in caplog.text


def test_pagination_stops_at_an_empty_page_even_with_a_next_link(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{BASE}/v2/cnams", json={"data": [], "links": {"next": f"{BASE}/v2/cnams?offset=9"}})
    assert list(client(sleeps).iter_cnams()) == []
    assert len(rsps.calls) == 1


def test_find_cnam_matches_exactly_ignoring_case_and_spacing_across_pages(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(
        f"{BASE}/v2/cnams",
        match=[matchers.query_param_matcher({"limit": "200", "offset": "0", "value": "ACME CORP"})],
        json={
            "data": [cnam("7", "ACME CORPORATE"), cnam("8", "NEW ACME CORP")],
            "links": {"next": f"{BASE}/v2/cnams?limit=200&offset=200&value=ACME+CORP"},
        },
    )
    rsps.get(
        f"{BASE}/v2/cnams",
        match=[
            matchers.query_param_matcher({"limit": "200", "offset": "200", "value": "ACME CORP"})
        ],
        json={"data": [cnam("9", "acme corp")]},
    )
    found = client(sleeps).find_cnam("  Acme   corp ")
    assert found is not None and found.id == "9"


def test_find_cnam_returns_none_when_only_substrings_match(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{BASE}/v2/cnams", json={"data": [cnam("7", "ACME CORPORATE")]})
    assert client(sleeps).find_cnam("ACME CORP") is None


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([cnam("1", "ACME", reason="Misleading"), cnam("2", "ACME")], "2"),
        ([cnam("1", "ACME"), cnam("2", "ACME", approved=True), cnam("3", "ACME")], "2"),
        ([cnam("1", "ACME", reason="Misleading")], "1"),
        # the oldest of two approved ones, as the run's reconciling listing picks (api.types.preferred)
        ([cnam("10", "ACME", approved=True), cnam("9", "ACME", approved=True)], "9"),
    ],
)
def test_find_cnam_prefers_an_approved_then_a_pending_record(
    rsps: responses.RequestsMock, sleeps: list[float], records: list[Any], expected: str
) -> None:
    rsps.get(f"{BASE}/v2/cnams", json={"data": records})
    found = client(sleeps).find_cnam("acme")
    assert found is not None and found.id == expected


def test_get_cnam_parses_the_detail_and_404_is_not_found(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    detail = cnam("17604", "TEST, MARIA", approved=True, reason="", created=None)
    detail["attributes"]["approval_datetime"] = "2018-04-16T16:20:32Z"
    detail["relationships"] = {"numbers": {"data": [{"id": "12061231234", "type": "number"}]}}
    rsps.get(f"{BASE}/v2/cnams/17604", json={"data": detail, "included": []})
    rsps.get(
        f"{BASE}/v2/cnams/999",
        status=404,
        json={"errors": [{"detail": "Not here", "id": "abc", "status": 404}]},
    )
    c = client(sleeps)
    record = c.get_cnam("17604")
    assert (record.value, record.state, record.rejection_reason) == ("TEST, MARIA", "approved", "")
    assert record.approval_datetime == datetime(2018, 4, 16, 16, 20, 32, tzinfo=UTC)
    with pytest.raises(NotFoundError, match="GET /v2/cnams/999 answered 404: Not Found: Not here"):
        c.get_cnam("999")
    assert len(rsps.calls) == 2  # a 404 is not retried


def test_create_cnam_posts_a_json_body_and_counts_the_creation(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(
        f"{BASE}/v2/cnams",
        match=[matchers.json_params_matcher({"value": "HEARTWOOD"})],
        status=201,
        json={"data": cnam("24141", "HEARTWOOD")},
    )
    c = client(sleeps)
    record = c.create_cnam("HEARTWOOD")
    assert (record.id, record.state) == ("24141", "pending")
    assert rsps.calls[0].request.headers["Content-Type"] == "application/json"
    assert (c.stats.creates, c.stats.requests) == (1, 1)


def test_a_422_duplicate_on_create_reuses_the_existing_record(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(
        f"{BASE}/v2/cnams",
        status=422,
        json={"errors": [{"status": 422, "detail": "Duplicate CNAM entry found on your account"}]},
    )
    rsps.get(
        f"{BASE}/v2/cnams",
        match=[matchers.query_param_matcher({"limit": "200", "offset": "0", "value": "ACME"})],
        json={"data": [cnam("42", "ACME", approved=True)]},
    )
    c = client(sleeps)
    assert c.create_cnam("Acme").id == "42"
    assert [call.request.method for call in rsps.calls] == ["POST", "GET"]
    assert (c.stats.creates, c.stats.requests, sleeps) == (0, 2, [])


def test_a_422_on_create_with_nothing_to_reuse_is_unprocessable(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(
        f"{BASE}/v2/cnams",
        status=422,
        json={"errors": [{"status": 422, "title": "Unprocessable Entity", "detail": "bad value"}]},
    )
    rsps.get(f"{BASE}/v2/cnams", json={"data": []})
    with pytest.raises(UnprocessableError, match="bad value"):
        client(sleeps).create_cnam("!!!")
    assert [call.request.method for call in rsps.calls] == ["POST", "GET"]


AMBIGUOUS = [
    pytest.param({"body": requests.ConnectionError("Connection reset by peer")}, id="reset"),
    pytest.param({"body": requests.ReadTimeout("read timed out")}, id="read-timeout"),
    pytest.param({"status": 500}, id="500"),
    pytest.param({"status": 502, "body": "<html><title>502 Bad Gateway</title></html>"}, id="502"),
    pytest.param({"status": 503}, id="503"),
]


@pytest.mark.parametrize("failure", AMBIGUOUS)
def test_no_resend_of_an_ambiguous_create_when_the_lookup_finds_it(
    rsps: responses.RequestsMock, sleeps: list[float], failure: dict[str, Any]
) -> None:
    rsps.post(f"{BASE}/v2/cnams", **failure)
    rsps.get(
        f"{BASE}/v2/cnams",
        match=[matchers.query_param_matcher({"limit": "200", "offset": "0", "value": "ACME"})],
        json={"data": [cnam("42", "ACME")]},
    )
    c = client(sleeps)
    assert c.create_cnam("ACME").id == "42"
    methods = [call.request.method for call in rsps.calls]
    assert methods.count("POST") == 1
    assert methods == ["POST", "GET"]
    assert (c.stats.creates, c.stats.requests, sleeps) == (1, 2, [])


def test_an_ambiguous_create_not_found_by_lookup_is_sent_again(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(f"{BASE}/v2/cnams", body=requests.ReadTimeout("read timed out"))
    rsps.post(f"{BASE}/v2/cnams", status=201, json={"data": cnam("43", "ACME")})
    rsps.get(f"{BASE}/v2/cnams", json={"data": []})
    c = client(sleeps)
    assert c.create_cnam("ACME").id == "43"
    assert [call.request.method for call in rsps.calls] == ["POST", "GET", "POST"]
    assert sleeps == [0.375]
    assert (c.stats.creates, c.stats.retries, c.stats.requests) == (1, 1, 3)


def test_an_ambiguous_create_gives_up_with_ambiguous_write_error(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(f"{BASE}/v2/cnams", status=503)
    rsps.get(f"{BASE}/v2/cnams", json={"data": []})
    c = client(sleeps, max_attempts=3)
    with pytest.raises(AmbiguousWriteError) as info:
        c.create_cnam("ACME")
    methods = [call.request.method for call in rsps.calls]
    assert methods == ["POST", "GET"] * 3
    assert 'creating CNAM "ACME"' in str(info.value)
    assert c.stats.creates == 0


def test_an_ambiguous_create_whose_lookup_fails_is_ambiguous_at_once(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(f"{BASE}/v2/cnams", body=requests.ConnectionError("Connection reset by peer"))
    rsps.get(f"{BASE}/v2/cnams", body=requests.ConnectionError("[Errno 111] Connection refused"))
    with pytest.raises(AmbiguousWriteError, match="the lookup failed too"):
        client(sleeps, max_attempts=2).create_cnam("ACME")
    methods = [call.request.method for call in rsps.calls]
    assert methods == ["POST", "GET", "GET"]  # the lookup retries; the POST is never resent


def test_a_429_on_create_is_resent_after_retry_after_and_the_limiter_is_told(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(f"{BASE}/v2/cnams", status=429, headers={"Retry-After": "3"})
    rsps.post(f"{BASE}/v2/cnams", status=201, json={"data": cnam("44", "ACME")})
    limiter = RecordingLimiter()
    c = client(sleeps, limiter=limiter)
    assert c.create_cnam("ACME").id == "44"
    assert [call.request.method for call in rsps.calls] == ["POST", "POST"]
    assert sleeps == [0.0]  # the limiter holds the resend back, not the retry policy
    assert limiter.penalties == [(3.0, 1.0)]  # Retry-After, and when the refused POST was sent
    assert c.stats.snapshot() == ApiCounts(
        requests=2, creates=1, associations=0, retries=1, rate_limited=1
    )


def test_delete_cnam_sends_delete_and_an_absent_record_counts_as_deleted(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.delete(f"{BASE}/v2/cnams/23454", status=204)
    rsps.delete(
        f"{BASE}/v2/cnams/23455",
        status=404,
        json={"errors": [{"detail": "CNAM record not found. Nothing to delete.", "status": 404}]},
    )
    c = client(sleeps)
    c.delete_cnam("23454")
    c.delete_cnam("23455")
    assert [call.request.method for call in rsps.calls] == ["DELETE", "DELETE"]


# --- numbers -----------------------------------------------------------------------------------


def test_list_numbers_sends_filters_caps_limit_at_200_and_parses(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(
        f"{BASE}/v2/numbers",
        match=[
            matchers.query_param_matcher(
                {"limit": "200", "offset": "400", "starts_with": "1206", "ends_with": "34"}
            )
        ],
        json={"data": [number("12061231234", number_type="longcode")], "links": {}},
    )
    numbers, nxt = client(sleeps).list_numbers(
        limit=500, offset=400, starts_with="1206", ends_with="34"
    )
    assert nxt is None
    assert [(n.id, n.number_type, n.cnam_preset_id) for n in numbers] == [
        ("12061231234", "longcode", None)
    ]


def test_iter_numbers_follows_three_pages(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    for offset, ids, nxt in [
        (0, ["12065550001", "12065550002"], 2),
        (2, ["12065550003", "12065550004"], 4),
        (4, ["12065550005"], None),
    ]:
        links = {"next": f"{BASE}/v2/numbers?limit=2&offset={nxt}"} if nxt is not None else {}
        rsps.get(
            f"{BASE}/v2/numbers",
            match=[matchers.query_param_matcher({"limit": "2", "offset": str(offset)})],
            json={"data": [number(i) for i in ids], "links": links},
        )
    ids = [n.id for n in client(sleeps).iter_numbers(page_size=2)]
    assert ids == [f"1206555000{i}" for i in range(1, 6)]


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ({"id": "6272", "type": "cnam"}, "6272"),
        ({"id": 6272, "type": "cnam"}, "6272"),
        (None, None),
    ],
)
def test_get_number_reads_the_current_cnam_from_cnam_preset(
    rsps: responses.RequestsMock, sleeps: list[float], preset: Any, expected: str | None
) -> None:
    rsps.get(
        f"{BASE}/v2/numbers/12061231234",
        json={"data": number("12061231234", preset), "included": []},
    )
    info = client(sleeps).get_number("12061231234")
    assert info is not None and (info.id, info.cnam_preset_id) == ("12061231234", expected)


def test_get_number_is_none_when_the_number_is_not_on_the_account(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(
        f"{BASE}/v2/numbers/12069999999",
        status=404,
        json={"errors": [{"detail": "Could not find that resource on your account.", "id": "x"}]},
    )
    assert client(sleeps).get_number("12069999999") is None
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("path", ["cnams", "cnam"])
def test_associate_uses_the_configured_relationship_path(
    rsps: responses.RequestsMock, sleeps: list[float], path: str
) -> None:
    rsps.patch(
        f"{BASE}/v2/numbers/12066417659/relationships/{path}/22671",
        status=202,
        json={
            "data": {
                "attributes": {"date_created": "Fri, 01 Jun 2018 00:17:52 GMT"},
                "id": 22671,
                "type": "cnam",
            }
        },
    )
    c = client(sleeps, association_path=path)
    c.associate("12066417659", "22671")
    assert rsps.calls[0].request.body is None
    assert c.stats.associations == 1


def test_associate_is_retried_after_a_server_error(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    url = f"{BASE}/v2/numbers/12066417659/relationships/cnams/22671"
    rsps.patch(url, status=503)
    rsps.patch(url, status=202)
    c = client(sleeps)
    c.associate("12066417659", "22671")
    assert (len(rsps.calls), c.stats.associations, c.stats.retries) == (2, 1, 1)


def test_associating_an_unapproved_record_is_unprocessable_and_not_counted(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.patch(
        f"{BASE}/v2/numbers/12066417659/relationships/cnams/22671",
        status=422,
        json={"errors": [{"title": "Unprocessable Entity", "detail": "CNAM is not approved"}]},
    )
    c = client(sleeps)
    with pytest.raises(UnprocessableError, match="not approved"):
        c.associate("12066417659", "22671")
    assert c.stats.associations == 0


@pytest.mark.parametrize("path", ["cnams", "cnam"])
def test_unassociate_uses_the_configured_relationship_path(
    rsps: responses.RequestsMock, sleeps: list[float], path: str
) -> None:
    rsps.delete(
        f"{BASE}/v2/numbers/12066417659/relationships/{path}",
        status=202,
        json={"data": {"id": None, "type": "cnam", "attributes": {}}},
    )
    client(sleeps, association_path=path).unassociate("12066417659")
    assert len(rsps.calls) == 1


# --- credentials and reachability --------------------------------------------------------------


def test_check_credentials_makes_one_small_request(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(
        f"{BASE}/v2/cnams",
        match=[matchers.query_param_matcher({"limit": "1"})],
        json={"data": []},
    )
    client(sleeps).check_credentials()
    assert len(rsps.calls) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            401,
            {
                "errors": [
                    {"detail": "Authentication failed.", "status": 401, "title": "Unauthorized"}
                ]
            },
        ),
        (403, {"errors": [{"status": 403, "detail": "", "title": "ActionNotAuthorizedError"}]}),
    ],
)
def test_refused_credentials_stop_after_exactly_one_request(
    rsps: responses.RequestsMock, sleeps: list[float], status: int, body: dict[str, Any]
) -> None:
    rsps.get(f"{BASE}/v2/cnams", status=status, json=body)
    c = client(sleeps)
    with pytest.raises(CredentialsError) as info:
        c.check_credentials()
    message = str(info.value)
    assert len(rsps.calls) == 1 and sleeps == []
    assert info.value.exit_code == ExitCode.API_FATAL
    for needle in ("FR_ACCESS_KEY", "FR_SECRET_KEY", "Preferences > API Control", str(status)):
        assert needle in message
    assert "\n" not in message
    assert_no_secret(message)


def test_an_unreachable_api_is_reported_naming_the_url_after_retries(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(
        f"{BASE}/v2/cnams",
        body=requests.ConnectionError(
            "HTTPSConnectionPool(host='api.flowroute.com', port=443): Max retries exceeded "
            "(Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f>:"
            " Failed to establish a new connection: [Errno 111] Connection refused'))"
        ),
    )
    with pytest.raises(ApiUnreachableError) as info:
        client(sleeps, max_attempts=4).check_credentials()
    message = str(info.value)
    assert f"{BASE}/v2/cnams" in message
    assert "[Errno 111] Connection refused" in message
    assert "0x7f" not in message
    assert len(rsps.calls) == 4 and len(sleeps) == 3
    assert info.value.exit_code == ExitCode.API_FATAL


def test_an_api_that_keeps_failing_is_reported_as_unreachable(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{BASE}/v2/cnams", status=503)
    with pytest.raises(ApiUnreachableError, match="kept failing"):
        client(sleeps, max_attempts=2).check_credentials()
    assert len(rsps.calls) == 2


# --- errors ------------------------------------------------------------------------------------

HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>"

ERROR_SHAPES = [
    pytest.param(
        404,
        {
            "errors": [
                {
                    "detail": "Could not find that resource on your account.",
                    "id": "u-1",
                    "status": 404,
                }
            ]
        },
        NotFoundError,
        "answered 404: Not Found: Could not find that resource on your account. (error id u-1)",
        id="404-no-title",
    ),
    pytest.param(
        422,
        {
            "errors": [
                {
                    "detail": {"data": {"attributes": {"zip": ["ZIP code must be 5 digits"]}}},
                    "id": "u-2",
                    "status": 422,
                }
            ]
        },
        UnprocessableError,
        "answered 422: Unprocessable Entity: zip: ZIP code must be 5 digits (error id u-2)",
        id="422-detail-object",
    ),
    pytest.param(
        422,
        {
            "errors": [
                {"title": "Invalid value", "detail": "too long", "status": 422},
                {"title": "Invalid value", "detail": "no letter", "status": 422},
                {"title": "Other", "detail": "third", "status": 422},
            ]
        },
        UnprocessableError,
        "answered 422: Invalid value: too long; no letter; Other: third",
        id="422-several-errors",
    ),
    pytest.param(
        502,
        HTML_502,
        ServerError,
        "answered 502: Bad Gateway: non-JSON answer: 502 Bad Gateway",
        id="502-html-page",
    ),
    pytest.param(
        422,
        {"errors": [{"title": "Invalid", "detail": {"errors": ["must be unique"], "meta": None}}]},
        UnprocessableError,
        "answered 422: Invalid: must be unique",
        id="422-detail-wrapper-keys-dropped",
    ),
    pytest.param(400, "", ApiError, "answered 400: Bad Request", id="400-empty-body"),
    pytest.param(
        405,
        {"message": "Method not allowed here"},
        ApiError,
        "answered 405: Method Not Allowed: Method not allowed here",
        id="405-other-json",
    ),
    pytest.param(
        415,
        {"errors": [{"title": "Unsupported Media Type", "detail": ""}]},
        ApiError,
        "answered 415: Unsupported Media Type",
        id="415-empty-detail",
    ),
    pytest.param(
        500, {"errors": []}, ServerError, "answered 500: Internal Server Error", id="500-empty-list"
    ),
]


@pytest.mark.parametrize(("status", "body", "cls", "text"), ERROR_SHAPES)
def test_error_answers_become_one_readable_exception(
    rsps: responses.RequestsMock,
    sleeps: list[float],
    status: int,
    body: Any,
    cls: type[Exception],
    text: str,
) -> None:
    kwargs: dict[str, Any] = {"json": body} if isinstance(body, dict) else {"body": body}
    rsps.get(f"{BASE}/v2/cnams/5", status=status, **kwargs)
    with pytest.raises(cls) as info:
        client(sleeps, max_attempts=1).get_cnam("5")
    assert type(info.value) is cls
    assert str(info.value) == f"GET /v2/cnams/5 {text}"


def _response(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, CredentialsError),
        (403, CredentialsError),
        (404, NotFoundError),
        (422, UnprocessableError),
        (429, RateLimitedError),
        (500, ServerError),
        (503, ServerError),
        (504, ServerError),
        (400, ApiError),
        (409, ApiError),
        (301, ApiError),
    ],
)
def test_error_from_response_maps_status_to_exception_class(
    status: int, cls: type[Exception]
) -> None:
    err = error_from_response(_response(status), "GET", "/v2/cnams")
    assert type(err) is cls


def test_a_redirect_is_not_followed(rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    rsps.get(
        f"{BASE}/v2/cnams/5",
        status=301,
        headers={"Location": "https://elsewhere.example.com/v2/cnams/5"},
    )
    with pytest.raises(ApiError, match="unexpected redirect: to https://elsewhere.example.com"):
        client(sleeps).get_cnam("5")
    assert len(rsps.calls) == 1


def test_a_malformed_success_body_is_an_api_error_naming_the_call(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{BASE}/v2/cnams/5", body="<html>maintenance</html>")
    rsps.get(f"{BASE}/v2/cnams/6", json={"data": {"attributes": {}}})
    c = client(sleeps)
    with pytest.raises(ApiError, match="GET /v2/cnams/5 answered 200: unexpected answer"):
        c.get_cnam("5")
    with pytest.raises(ApiError, match="without an id"):
        c.get_cnam("6")


# --- retries through the client ----------------------------------------------------------------


def test_server_errors_are_retried_with_the_backoff_schedule(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{BASE}/v2/cnams/5", status=503)
    rsps.get(f"{BASE}/v2/cnams/5", body=requests.ReadTimeout("slow"))
    rsps.get(f"{BASE}/v2/cnams/5", status=502, body=HTML_502)
    rsps.get(f"{BASE}/v2/cnams/5", json={"data": cnam("5", "A")})
    c = client(sleeps)
    assert c.get_cnam("5").id == "5"
    assert sleeps == [0.375, 0.75, 1.5]
    assert (c.stats.requests, c.stats.retries) == (4, 3)


@pytest.mark.parametrize("status", [400, 404, 405, 415, 422])
def test_client_errors_are_not_retried(
    rsps: responses.RequestsMock, sleeps: list[float], status: int
) -> None:
    rsps.get(f"{BASE}/v2/cnams/5", status=status)
    with pytest.raises(ApiError):
        client(sleeps).get_cnam("5")
    assert len(rsps.calls) == 1 and sleeps == []


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        (
            {
                "Retry-After": "Fri, 01 Mar 2024 12:00:05 GMT",
                "Date": "Fri, 01 Mar 2024 12:00:00 GMT",
            },
            5.0,
        ),
        ({"Retry-After": "86400"}, 120.0),
    ],
)
def test_retry_after_is_honored_in_seconds_and_as_an_http_date(
    rsps: responses.RequestsMock, sleeps: list[float], headers: dict[str, str], expected: float
) -> None:
    rsps.get(f"{BASE}/v2/cnams/5", status=429, headers=headers)
    rsps.get(f"{BASE}/v2/cnams/5", json={"data": cnam("5", "A")})
    limiter = RecordingLimiter()
    c = client(sleeps, limiter=limiter)
    c.get_cnam("5")
    assert sleeps == [0.0]
    assert limiter.penalties == [(expected, 1.0)]
    assert (c.stats.rate_limited, c.stats.retries) == (1, 1)


@pytest.mark.parametrize("headers", [{"Retry-After": "2"}, {}])
def test_without_a_limiter_a_429_waits_retry_after_or_backs_off(
    rsps: responses.RequestsMock, sleeps: list[float], headers: dict[str, str]
) -> None:
    rsps.get(f"{BASE}/v2/cnams/5", status=429, headers=headers)
    rsps.get(f"{BASE}/v2/cnams/5", json={"data": cnam("5", "A")})
    client(sleeps).get_cnam("5")
    assert sleeps == ([2.0] if headers else [0.375])


def test_429s_without_retry_after_do_not_use_up_the_attempts(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    for _ in range(3):
        rsps.get(f"{BASE}/v2/cnams/5", status=429)
    rsps.get(f"{BASE}/v2/cnams/5", json={"data": cnam("5", "A")})
    limiter = RecordingLimiter()
    c = client(sleeps, limiter=limiter, max_attempts=1)
    assert c.get_cnam("5").id == "5"  # three 429s, yet one attempt allowed: 429s are not failures
    assert sleeps == [0.0, 0.0, 0.0]
    assert limiter.penalties == [(None, 1.0), (None, 2.0), (None, 3.0)]
    assert (c.stats.rate_limited, c.stats.retries, c.stats.requests) == (3, 3, 4)


def test_transport_failure_after_every_attempt_is_a_transport_error(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{BASE}/v2/numbers/12061231234", body=requests.ConnectTimeout("x"))
    with pytest.raises(TransportError, match="could not connect within 10 s"):
        client(sleeps, max_attempts=2).get_number("12061231234")
    assert len(rsps.calls) == 2


# --- secrets -----------------------------------------------------------------------------------


def test_secrets_never_appear_in_messages_logs_or_repr(
    rsps: responses.RequestsMock, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    echo = f"key {ACCESS} secret {SECRET} header Basic {TOKEN}"
    rsps.get(f"{BASE}/v2/cnams/5", status=503, json={"errors": [{"title": echo, "detail": echo}]})
    rsps.get(f"{BASE}/v2/cnams/5", body=requests.ConnectionError(echo))
    rsps.get(f"{BASE}/v2/cnams/5", status=422, json={"errors": [{"detail": {SECRET: [echo]}}]})
    rsps.get(f"{BASE}/v2/cnams", status=401, json={"errors": [{"detail": echo}]})
    rsps.post(f"{BASE}/v2/cnams", body=requests.ReadTimeout(echo))
    rsps.get(f"{BASE}/v2/cnams", status=401, json={"errors": [{"detail": echo}]})
    c = client(sleeps, max_attempts=3)
    texts: list[str] = [repr(c), str(vars(c).get("stats"))]
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(UnprocessableError) as unprocessable:
            c.get_cnam("5")
        texts.append(str(unprocessable.value))
        with pytest.raises(CredentialsError) as refused:
            c.check_credentials()
        texts.append(str(refused.value))
        with pytest.raises(CredentialsError) as refused_lookup:
            c.create_cnam("ACME")  # timeout, then the lookup is refused
        texts.append(str(refused_lookup.value))
    texts.append(caplog.text)
    assert MASK in caplog.text  # the server's echo was logged, scrubbed
    for text in texts:
        assert_no_secret(text)


def test_stats_default_to_a_fresh_counter_per_client() -> None:
    a = FlowrouteClient(BASE, ACCESS, SECRET)
    b = FlowrouteClient(BASE, ACCESS, SECRET)
    a.stats.bump("requests")
    assert b.stats.requests == 0
    shared = ApiStats()
    assert FlowrouteClient(BASE, ACCESS, SECRET, stats=shared).stats is shared


# --- datetimes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2018-06-01 00:09:52.513092+00:00", datetime(2018, 6, 1, 0, 9, 52, 513092, tzinfo=UTC)),
        ("2018-06-01T00:09:52Z", datetime(2018, 6, 1, 0, 9, 52, tzinfo=UTC)),
        ("2018-06-01T02:09:52+02:00", datetime(2018, 6, 1, 0, 9, 52, tzinfo=UTC)),
        ("2018-06-01 00:09:52", datetime(2018, 6, 1, 0, 9, 52, tzinfo=UTC)),
        ("Fri, 01 Jun 2018 00:17:52 GMT", datetime(2018, 6, 1, 0, 17, 52, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("yesterday", None),
        (1527811792, None),
    ],
)
def test_parse_datetime_accepts_the_forms_the_api_sends(
    raw: Any, expected: datetime | None
) -> None:
    assert parse_datetime(raw) == expected


def test_json_bodies_are_plain_json_not_form_encoded(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(f"{BASE}/v2/cnams", status=201, json={"data": cnam("1", "O'BRIEN & CO")})
    client(sleeps).create_cnam("O'BRIEN & CO")
    assert json.loads(rsps.calls[0].request.body) == {"value": "O'BRIEN & CO"}
