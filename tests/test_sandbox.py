"""The sandbox over real loopback HTTP: every endpoint, error shape and quirk of flowroute-api.md,
the requests Flowroute's Python SDK sends (§6.4), review timing, rate limit, faults, state file."""

from __future__ import annotations

import io
import json
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pipeline.errors import ConfigError, InputError, UsageError
from pipeline.sandbox.account import DEMO_NUMBERS
from pipeline.sandbox.control import FaultConfig, SlidingWindowLimiter
from pipeline.sandbox.review import GENERIC_REASON, review
from pipeline.sandbox.server import SandboxConfig, SandboxServer, load_numbers_file, serve

# 2018-06-01 00:09:52.513092 UTC, the creation time in flowroute-api.md §1.1.
START = 1527811792.513092
ISO_SPACE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$")
RFC1123 = re.compile(r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")
NUMBER = "12065551234"
FICTIONAL = "12065550142"  # NXX 555, line 0100-0199: not on the open account


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """A requests.Session on the sandbox with its credentials; paths are relative to the base."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.auth = (server.access_key, server.secret_key)

    def __call__(self, method: str, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        url = self.server.url + path
        return self.session.request(method, url, **kwargs)  # type: ignore[arg-type]

    def create(self, value: str) -> dict:
        response = self("POST", "/v2/cnams", json={"value": value})
        assert response.status_code == 201, response.text
        return response.json()["data"]

    def associate(self, number: str, cnam_id: str, form: str = "cnams") -> requests.Response:
        return self("PATCH", f"/v2/numbers/{number}/relationships/{form}/{cnam_id}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(approve_after=10), clock=clock) as running:
        yield running


@pytest.fixture
def api(server: SandboxServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.session.close()


def approved_record(api: Api, clock: FakeClock, value: str) -> dict:
    record = api.create(value)
    clock.advance(10)
    return record


def assert_error(
    response: requests.Response, status: int, detail: str | None = None, title: str | None = ""
) -> dict:
    """The JSON:API error shape; title "" = any title present, None = no title key at all."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["status"] == status
    uuid.UUID(error["id"])
    if detail is not None:
        assert error["detail"] == detail
    if title is None:
        assert "title" not in error
    elif title:
        assert error["title"] == title
    else:
        assert error["title"]
    return error


# ---- auth ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth_header",
    [
        None,
        "Basic " + "d3Jvbmc6a2V5",  # wrong:key
        "Bearer abc",
        "Basic !!!notbase64",
        "Basic " + "bm9jb2xvbg==",  # "nocolon"
    ],
)
def test_bad_or_missing_credentials_get_401_json_api_body(
    server: SandboxServer, auth_header: str | None
) -> None:
    headers = {} if auth_header is None else {"Authorization": auth_header}
    response = requests.get(server.url + "/v2/cnams", headers=headers, timeout=5)
    assert_error(response, 401, "Authentication failed.", "Unauthorized")


@pytest.mark.parametrize("wrong", ["key", "secret"])
def test_one_wrong_half_of_the_credentials_is_refused(server: SandboxServer, wrong: str) -> None:
    key = "nope" if wrong == "key" else server.access_key
    secret = "nope" if wrong == "secret" else server.secret_key
    response = requests.get(server.url + "/v2/numbers", auth=(key, secret), timeout=5)
    assert_error(response, 401, "Authentication failed.")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/cnams"),
        ("GET", "/v2/cnams/30001"),
        ("DELETE", "/v2/cnams/30001"),
        ("GET", f"/v2/numbers/{NUMBER}"),
        ("PATCH", f"/v2/numbers/{NUMBER}/relationships/cnam/30001"),
        ("DELETE", f"/v2/numbers/{NUMBER}/relationships/cnams"),
        ("GET", "/nowhere"),
    ],
)
def test_every_endpoint_requires_auth(server: SandboxServer, method: str, path: str) -> None:
    response = requests.request(method, server.url + path, timeout=5)
    assert_error(response, 401, "Authentication failed.")


def test_generated_credentials_differ_per_server_and_configured_ones_are_used() -> None:
    with SandboxServer() as a, SandboxServer() as b:
        assert a.access_key != b.access_key and a.secret_key != b.secret_key
        assert a.access_key.isdigit() and len(a.secret_key) == 32
    with SandboxServer(SandboxConfig(access_key="k1", secret_key="s1")) as fixed:
        assert requests.get(fixed.url + "/v2/cnams", auth=("k1", "s1"), timeout=5).ok


# ---- create -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "application/json"}, b'{"value": "  Bob Law "}'),
        ({"Content-Type": "application/json; charset=utf-8"}, b'{"value": "Bob Law"}'),
        ({"Content-Type": "application/vnd.api+json"}, b'{"value": "bob law"}'),
        ({}, b'{"value": "Bob Law"}'),  # no content type, body is JSON
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"value=Bob+Law"),  # Python SDK
        ({}, b"value=Bob+Law"),
    ],
)
def test_create_accepts_json_and_form_bodies_and_stores_uppercase(
    api: Api, headers: dict, body: bytes
) -> None:
    response = api("POST", "/v2/cnams", data=body, headers=headers)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["type"] == "cnam" and isinstance(data["id"], str) and data["id"].isdigit()
    assert data["attributes"] == {
        "value": "BOB LAW",
        "is_approved": False,
        "rejection_reason": None,
        "approval_datetime": None,
        "creation_datetime": "2018-06-01 00:09:52.513092+00:00",
    }
    assert data["links"] == {"self": f"{api.server.url}/v2/cnams/{data['id']}"}


def test_created_records_get_increasing_string_ids(api: Api) -> None:
    ids = [api.create(v)["id"] for v in ("ACME ONE", "ACME TWO", "ACME THREE")]
    assert [int(i) for i in ids] == sorted(int(i) for i in ids) and len(set(ids)) == 3


@pytest.mark.parametrize(
    ("body", "detail_part"),
    [
        ({}, "required"),
        ({"value": None}, "required"),
        ({"value": ""}, "empty"),
        ({"value": "   "}, "empty"),
        ({"value": "A" * 16}, "at most 15"),
        ({"value": "12345"}, "at least one letter"),
        ({"value": "--"}, "at least one letter"),
        ({"value": "BOB!"}, "'!'"),
        ({"value": "CAFÉ"}, "'É'"),
        ({"value": 123}, "must be a string"),
    ],
)
def test_create_rejects_values_breaking_the_mechanical_rules_with_422(
    api: Api, body: dict, detail_part: str
) -> None:
    error = assert_error(api("POST", "/v2/cnams", json=body), 422, title="Unprocessable Entity")
    assert detail_part in error["detail"]
    assert api("GET", "/v2/cnams").json()["data"] == []


def test_create_accepts_every_allowed_special_character_and_15_characters(api: Api) -> None:
    assert api.create("A-_.,@+&'/\" 1")["attributes"]["value"] == "A-_.,@+&'/\" 1"
    assert api.create("x" * 15)["attributes"]["value"] == "X" * 15


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Content-Type": "application/json"}, b'{"value": "X"}}', 400),  # the .NET SDK's brace
        ({"Content-Type": "application/json"}, b"not json", 400),
        ({"Content-Type": "application/json"}, b'["BOB"]', 400),
        ({"Content-Type": "application/json"}, b"\xff\xfe", 400),
        ({}, b"%%%", 400),
        ({"Content-Type": "text/plain"}, b'{"value": "BOB"}', 415),
    ],
)
def test_create_with_unparseable_body_is_400_and_unknown_media_type_415(
    api: Api, headers: dict, body: bytes, status: int
) -> None:
    assert_error(api("POST", "/v2/cnams", data=body, headers=headers), status)


@pytest.mark.parametrize("second", ["bob law", "BOB LAW", " Bob Law  "])
def test_duplicate_value_is_422_case_insensitively(api: Api, second: str) -> None:
    api.create("Bob Law")
    response = api("POST", "/v2/cnams", json={"value": second})
    assert_error(response, 422, "Duplicate CNAM entry found on your account")
    assert len(api("GET", "/v2/cnams").json()["data"]) == 1


def test_duplicate_of_a_rejected_record_is_still_422(api: Api, clock: FakeClock) -> None:
    api.create("Seattle Police")
    clock.advance(10)
    [record] = api("GET", "/v2/cnams").json()["data"]
    assert record["attributes"]["rejection_reason"]
    response = api("POST", "/v2/cnams", json={"value": "seattle police"})
    assert_error(response, 422, "Duplicate CNAM entry found on your account")


def test_a_deleted_value_can_be_created_again_with_a_new_id(api: Api) -> None:
    first = api.create("ACME")
    assert api("DELETE", f"/v2/cnams/{first['id']}").status_code == 204
    assert api.create("acme")["id"] != first["id"]


# ---- list ---------------------------------------------------------------------------------------


def test_list_defaults_to_10_and_next_is_absent_on_the_last_page(api: Api) -> None:
    for i in range(12):
        api.create(f"ACME {i:02d}")
    first = api("GET", "/v2/cnams").json()
    assert len(first["data"]) == 10
    base = api.server.url
    assert first["links"] == {
        "self": f"{base}/v2/cnams?limit=10&offset=0",
        "next": f"{base}/v2/cnams?limit=10&offset=10",
    }
    second = requests.get(first["links"]["next"], auth=api.session.auth, timeout=5).json()
    assert [r["attributes"]["value"] for r in second["data"]] == ["ACME 10", "ACME 11"]
    assert "next" not in second["links"]


def test_next_link_echoes_the_query_like_flowroute(api: Api, clock: FakeClock) -> None:
    for i in range(7):
        api.create(f"ACME {i}")
    clock.advance(10)
    page = api("GET", "/v2/cnams?limit=3&is_approved=True").json()
    base = api.server.url
    assert page["links"]["next"] == f"{base}/v2/cnams?is_approved=True&limit=3&offset=3"
    assert page["links"]["self"] == f"{base}/v2/cnams?is_approved=True&limit=3&offset=0"


def test_following_next_returns_every_record_exactly_once(api: Api) -> None:
    values = {api.create(f"SHOP {i}")["attributes"]["value"] for i in range(23)}
    seen: list[str] = []
    url: str | None = api.server.url + "/v2/cnams?limit=5"
    for _ in range(10):
        if url is None:
            break
        page = requests.get(url, auth=api.session.auth, timeout=5).json()
        seen += [r["attributes"]["value"] for r in page["data"]]
        url = page["links"].get("next")
    assert url is None and sorted(seen) == sorted(values) and len(seen) == 23


def test_list_limit_has_no_maximum(api: Api) -> None:
    for i in range(25):
        api.create(f"STORE {i}")
    page = api("GET", "/v2/cnams?limit=1000").json()
    assert len(page["data"]) == 25 and "next" not in page["links"]


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("true", {"GOOD NAME"}),
        ("True", {"GOOD NAME"}),
        ("TRUE", {"GOOD NAME"}),
        ("1", {"GOOD NAME"}),
        ("false", {"PENDING NAME", "TEST"}),
        ("False", {"PENDING NAME", "TEST"}),
        ("0", {"PENDING NAME", "TEST"}),
    ],
)
def test_is_approved_filter_parses_booleans_case_insensitively(
    api: Api, clock: FakeClock, flag: str, expected: set[str]
) -> None:
    api.create("Good Name")
    api.create("Test")  # rejected as generic
    clock.advance(10)
    api.create("Pending Name")
    page = api("GET", f"/v2/cnams?is_approved={flag}").json()
    assert {r["attributes"]["value"] for r in page["data"]} == expected


@pytest.mark.parametrize(
    "query", ["is_approved=maybe", "limit=abc", "limit=0", "offset=-1", "limit=2.5"]
)
def test_bad_list_parameters_are_400(api: Api, query: str) -> None:
    assert_error(api("GET", f"/v2/cnams?{query}"), 400, title="Bad Request")


def test_value_filter_is_contains_and_case_insensitive(api: Api) -> None:
    for value in ("ACME PLUMBING", "BOB LAW", "ACME"):
        api.create(value)
    page = api("GET", "/v2/cnams", params={"value": "acme"}).json()
    assert [r["attributes"]["value"] for r in page["data"]] == ["ACME PLUMBING", "ACME"]
    assert "value=acme" in page["links"]["self"]


def test_list_items_have_no_relationships(api: Api, clock: FakeClock) -> None:
    record = approved_record(api, clock, "ACME")
    api.associate(NUMBER, record["id"])
    [item] = api("GET", "/v2/cnams").json()["data"]
    assert set(item) == {"type", "id", "attributes", "links"}


# ---- get / delete -------------------------------------------------------------------------------


def test_get_shows_associated_numbers_and_includes_them(api: Api, clock: FakeClock) -> None:
    record = approved_record(api, clock, "ACME")
    assert api.associate(NUMBER, record["id"]).status_code == 202
    body = api("GET", f"/v2/cnams/{record['id']}").json()
    assert body["data"]["relationships"] == {
        "numbers": {"data": [{"id": NUMBER, "type": "number"}]}
    }
    assert [n["id"] for n in body["included"]] == [NUMBER]
    assert body["included"][0]["type"] == "number"
    assert body["data"]["attributes"]["is_approved"] is True


def test_get_unassociated_record_has_empty_relationship(api: Api) -> None:
    record = api.create("ACME")
    body = api("GET", f"/v2/cnams/{record['id']}").json()
    assert body["data"]["relationships"] == {"numbers": {"data": []}}
    assert body["included"] == []


@pytest.mark.parametrize("cnam_id", ["99999", "abc", "0"])
def test_get_unknown_record_is_404(api: Api, cnam_id: str) -> None:
    response = api("GET", f"/v2/cnams/{cnam_id}")
    assert_error(response, 404, "CNAM record not found.", "Resource not found")


def test_delete_is_204_empty_and_disassociates_every_number(api: Api, clock: FakeClock) -> None:
    record = approved_record(api, clock, "ACME")
    other = "13125557890"
    api.associate(NUMBER, record["id"])
    api.associate(other, record["id"], form="cnam")
    response = api("DELETE", f"/v2/cnams/{record['id']}")
    assert response.status_code == 204 and response.content == b""
    for number in (NUMBER, other):
        detail = api("GET", f"/v2/numbers/{number}").json()
        assert detail["data"]["relationships"]["cnam_preset"] == {"data": None}
        assert detail["included"] == []
    assert_error(api("GET", f"/v2/cnams/{record['id']}"), 404)


def test_delete_unknown_record_has_flowroutes_404_body(api: Api) -> None:
    response = api("DELETE", "/v2/cnams/424242")
    assert_error(response, 404, "CNAM record not found. Nothing to delete.", "Resource not found")


# ---- numbers ------------------------------------------------------------------------------------

NUMBER_ATTRIBUTES = {
    "alias",
    "cnam_lookups_enabled",
    "number_type",
    "rate_center",
    "state",
    "value",
}


def test_open_account_plain_list_shows_the_demo_block_then_numbers_used(api: Api) -> None:
    demo = [f"1512555{line:04d}" for line in range(200, 210)]  # the block the README documents
    assert [n["id"] for n in api("GET", "/v2/numbers").json()["data"]] == demo
    found = api("GET", f"/v2/numbers?contains={NUMBER}").json()["data"]
    assert [n["id"] for n in found] == [NUMBER]
    assert api("GET", "/v2/numbers/13125557890").status_code == 200
    listed = api("GET", "/v2/numbers?limit=20").json()["data"]
    assert [n["id"] for n in listed] == [NUMBER, "13125557890", *demo]
    item = listed[0]
    assert set(item) == {"type", "id", "attributes", "links"}  # no relationships in lists
    assert item["type"] == "number" and set(item["attributes"]) == NUMBER_ATTRIBUTES
    assert item["attributes"]["value"] == NUMBER and item["attributes"]["number_type"] == "standard"
    assert item["links"]["self"] == f"{api.server.url}/v2/numbers/{NUMBER}"


def test_open_account_pages_through_every_number_looked_up(api: Api) -> None:
    looked_up = [f"1312555{i:04d}" for i in range(1000, 1250)]
    for number in reversed(looked_up):
        assert len(api("GET", f"/v2/numbers?contains={number}").json()["data"]) == 1
    first = api("GET", "/v2/numbers?limit=200").json()
    rest = requests.get(first["links"]["next"], auth=api.session.auth, timeout=5).json()
    listed = [n["id"] for n in first["data"] + rest["data"]]
    assert listed == sorted(looked_up + list(DEMO_NUMBERS))
    assert "next" not in rest["links"]
    partial = api("GET", "/v2/numbers?contains=55511&limit=200").json()["data"]
    assert [n["id"] for n in partial] == [n for n in looked_up if "55511" in n]


@pytest.mark.parametrize(
    "query",
    [
        f"contains={NUMBER}",
        f"contains={NUMBER[1:]}",
        f"starts_with={NUMBER}",
        f"starts_with={NUMBER[1:]}",
        f"ends_with={NUMBER}",
        f"ends_with={NUMBER[1:]}",
        f"starts_with=%2B{NUMBER}",
    ],
)
def test_open_account_query_naming_a_whole_number_finds_it(api: Api, query: str) -> None:
    assert [n["id"] for n in api("GET", f"/v2/numbers?{query}").json()["data"]] == [NUMBER]


@pytest.mark.parametrize(
    "number",
    [FICTIONAL, "12065550100", "12065550199", "18005551234", "18885550000", "11065551234",
     "12061551234"],
)  # fmt: skip
def test_open_account_does_not_own_fictional_toll_free_or_invalid_numbers(
    api: Api, number: str
) -> None:
    assert api("GET", f"/v2/numbers?contains={number}").json()["data"] == []
    response = api("GET", f"/v2/numbers/{number}")
    assert_error(response, 404, "Could not find that resource on your account.", title=None)


@pytest.mark.parametrize("number", ["12065550099", "12065550200", "12065560142"])
def test_numbers_just_outside_the_fictional_range_are_owned(api: Api, number: str) -> None:
    assert api("GET", f"/v2/numbers/{number}").status_code == 200


def test_starts_with_without_country_code_gets_1_and_is_echoed(api: Api) -> None:
    api("GET", f"/v2/numbers/{NUMBER}")
    api("GET", "/v2/numbers/13125557890")
    page = api("GET", "/v2/numbers?starts_with=206").json()
    assert [n["id"] for n in page["data"]] == [NUMBER]
    assert (
        page["links"]["self"] == f"{api.server.url}/v2/numbers?starts_with=1206&limit=10&offset=0"
    )
    assert api("GET", "/v2/numbers?starts_with=1206").json()["data"] == page["data"]
    assert api("GET", "/v2/numbers?starts_with=%2B44").json()["data"] == []


@pytest.mark.parametrize("query", ["contains=abc", "starts_with=12a", "limit=x", "offset=-2"])
def test_bad_number_query_parameters_are_400(api: Api, query: str) -> None:
    assert_error(api("GET", f"/v2/numbers?{query}"), 400)


@pytest.fixture
def owned() -> set[str]:
    return {f"1206555{i:04d}" for i in range(1000, 1250)} | {"13125557890", "18005550100"}


def test_configured_numbers_are_listed_sorted_and_filtered(owned: set[str]) -> None:
    with SandboxServer(SandboxConfig(numbers=owned)) as server:
        api = Api(server)
        page = api("GET", "/v2/numbers?limit=5").json()
        assert [n["id"] for n in page["data"]] == sorted(owned)[:5]
        assert api("GET", "/v2/numbers?ends_with=7890").json()["data"][0]["id"] == "13125557890"
        assert len(api("GET", "/v2/numbers?contains=5551&limit=200").json()["data"]) == 200
        assert_error(api("GET", "/v2/numbers/12065559999"), 404, title=None)  # valid, not owned
        toll_free = api("GET", "/v2/numbers/18005550100").json()["data"]
        assert toll_free["attributes"]["number_type"] == "toll-free"


def test_numbers_limit_above_200_is_clamped_and_next_shows_it(owned: set[str]) -> None:
    with SandboxServer(SandboxConfig(numbers=owned)) as server:
        api = Api(server)
        page = api("GET", "/v2/numbers?limit=500").json()
        assert len(page["data"]) == 200
        assert page["links"]["next"] == f"{server.url}/v2/numbers?limit=200&offset=200"
        rest = api("GET", "/v2/numbers?limit=500&offset=200").json()
        assert len(rest["data"]) == len(owned) - 200 and "next" not in rest["links"]


def test_alias_filter_matches_nothing_since_no_number_has_an_alias(owned: set[str]) -> None:
    with SandboxServer(SandboxConfig(numbers=owned)) as server:
        assert Api(server)("GET", "/v2/numbers?alias=main").json()["data"] == []


def test_number_detail_shows_cnam_preset_and_included_record(api: Api, clock: FakeClock) -> None:
    before = api("GET", f"/v2/numbers/{NUMBER}").json()
    assert before["data"]["relationships"] == {
        "cnam_preset": {"data": None},
        "e911_address": {"data": None},
        "failover_route": {"data": None},
        "primary_route": {"data": None},
    }
    assert before["included"] == [] and before["data"]["id"] == NUMBER
    record = approved_record(api, clock, "ACME")
    api.associate(NUMBER, record["id"])
    after = api("GET", f"/v2/numbers/{NUMBER}").json()
    assert after["data"]["relationships"]["cnam_preset"] == {
        "data": {"id": record["id"], "type": "cnam"}
    }
    [included] = after["included"]
    assert included["type"] == "cnam" and included["attributes"]["value"] == "ACME"


@pytest.mark.parametrize("path_number", ["2065551234", "1206555123x", "+12065551234", "x"])
def test_number_paths_that_are_not_11_digits_are_the_number_404(api: Api, path_number: str) -> None:
    response = api("GET", f"/v2/numbers/{path_number}")
    assert_error(response, 404, "Could not find that resource on your account.", title=None)


# ---- association --------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["cnams", "cnam"])
def test_associate_by_either_path_form_answers_202_with_integer_id(
    api: Api, clock: FakeClock, form: str
) -> None:
    record = approved_record(api, clock, "ACME")
    response = api.associate(NUMBER, record["id"], form)
    assert response.status_code == 202
    body = response.json()
    assert body == {
        "data": {
            "attributes": {"date_created": body["data"]["attributes"]["date_created"]},
            "id": int(record["id"]),
            "type": "cnam",
        }
    }
    assert body["data"]["attributes"]["date_created"] == "Fri, 01 Jun 2018 00:10:02 GMT"
    assert RFC1123.match(body["data"]["attributes"]["date_created"])


@pytest.mark.parametrize(
    ("value", "wait", "detail_part"),
    [("ACME", 5, "not been approved"), ("SEATTLE POLICE", 10, "was rejected")],
)
def test_associate_an_unapproved_record_is_422(
    api: Api, clock: FakeClock, value: str, wait: float, detail_part: str
) -> None:
    record = api.create(value)
    clock.advance(wait)
    error = assert_error(api.associate(NUMBER, record["id"]), 422)
    assert detail_part in error["detail"]
    preset = api("GET", f"/v2/numbers/{NUMBER}").json()["data"]["relationships"]["cnam_preset"]
    assert preset == {"data": None}


def test_associate_unknown_record_or_foreign_number_is_404(api: Api, clock: FakeClock) -> None:
    record = approved_record(api, clock, "ACME")
    assert_error(api.associate(NUMBER, "99999"), 404, "CNAM record not found.")
    response = api.associate(FICTIONAL, record["id"], form="cnam")
    assert_error(response, 404, "Could not find that resource on your account.", title=None)


def test_associate_a_toll_free_number_on_the_account_is_422() -> None:
    clock = FakeClock()
    config = SandboxConfig(numbers={"18005550100"}, approve_after=0)
    with SandboxServer(config, clock=clock) as server:
        api = Api(server)
        record = api.create("ACME")
        error = assert_error(api.associate("18005550100", record["id"]), 422)
        assert "toll-free" in error["detail"]


def test_reassociating_replaces_the_preset(api: Api, clock: FakeClock) -> None:
    first = api.create("ACME")
    second = api.create("BOB LAW")
    clock.advance(10)
    api.associate(NUMBER, first["id"])
    api.associate(NUMBER, second["id"], form="cnam")
    preset = api("GET", f"/v2/numbers/{NUMBER}").json()["data"]["relationships"]["cnam_preset"]
    assert preset["data"]["id"] == second["id"]
    assert api("GET", f"/v2/cnams/{first['id']}").json()["included"] == []


@pytest.mark.parametrize("form", ["cnams", "cnam"])
def test_unassociate_by_either_form_is_202_with_null_id(
    api: Api, clock: FakeClock, form: str
) -> None:
    record = approved_record(api, clock, "ACME")
    api.associate(NUMBER, record["id"])
    response = api("DELETE", f"/v2/numbers/{NUMBER}/relationships/{form}")
    assert response.status_code == 202
    data = response.json()["data"]
    assert data["id"] is None and data["type"] == "cnam"
    assert RFC1123.match(data["attributes"]["date_created"])
    preset = api("GET", f"/v2/numbers/{NUMBER}").json()["data"]["relationships"]["cnam_preset"]
    assert preset == {"data": None}
    assert api("GET", f"/v2/cnams/{record['id']}").status_code == 200  # the record stays


def test_unassociate_a_number_without_preset_is_202_and_foreign_number_404(api: Api) -> None:
    assert api("DELETE", f"/v2/numbers/{NUMBER}/relationships/cnams").status_code == 202
    response = api("DELETE", f"/v2/numbers/{FICTIONAL}/relationships/cnam", timeout=5)
    assert_error(response, 404, "Could not find that resource on your account.", title=None)


# ---- routing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/v2/unknown", 404, None),
        ("GET", "/v3/cnams", 404, None),
        ("GET", "/", 404, None),
        ("PUT", "/v2/cnams", 405, "GET, POST"),
        ("DELETE", "/v2/cnams", 405, "GET, POST"),
        ("PATCH", "/v2/cnams/30001", 405, "DELETE, GET"),
        ("POST", "/v2/numbers", 405, "GET"),
        ("GET", f"/v2/numbers/{NUMBER}/relationships/cnams/1", 405, "PATCH"),
        ("PATCH", f"/v2/numbers/{NUMBER}/relationships/cnams", 405, "DELETE"),
        ("OPTIONS", "/v2/cnams", 405, "GET, POST"),
    ],
)
def test_unknown_paths_are_404_and_wrong_methods_405(
    api: Api, method: str, path: str, status: int, allow: str | None
) -> None:
    response = api(method, path)
    assert_error(response, status)
    assert response.headers.get("Allow") == allow


def test_head_gets_headers_only_and_keeps_the_connection_usable(api: Api) -> None:
    response = api("HEAD", "/v2/cnams")
    assert response.status_code == 405 and response.content == b""
    assert api("GET", "/v2/cnams").status_code == 200


def test_trailing_slash_is_the_same_endpoint(api: Api) -> None:
    assert api("GET", "/v2/cnams/").status_code == 200


def test_malformed_request_gets_a_json_api_error(server: SandboxServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        headers = b"".join(b"X-%d: 1\r\n" % i for i in range(150))  # over the stdlib's 100
        sock.sendall(b"GET /v2/cnams HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        raw = b""
        while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431")
    assert json.loads(body)["errors"][0]["status"] == 431


def test_chunked_create_body_is_read(api: Api) -> None:
    chunks = iter([b'{"value": ', b'"Chunky"}'])
    response = api("POST", "/v2/cnams", data=chunks, headers={"Content-Type": "application/json"})
    assert (
        response.status_code == 201 and response.json()["data"]["attributes"]["value"] == "CHUNKY"
    )
    assert api("GET", "/v2/cnams").status_code == 200


def test_server_binds_loopback_and_starts_and_stops_fast() -> None:
    started = time.perf_counter()
    server = SandboxServer()
    url = server.start()
    elapsed = time.perf_counter() - started
    assert url.startswith("http://127.0.0.1:") and server.url == url
    session = requests.Session()  # an idle keep-alive connection must not hold up stop()
    session.get(url + "/v2/cnams", auth=(server.access_key, server.secret_key), timeout=5)
    stopping = time.perf_counter()
    server.stop()
    server.stop()
    assert elapsed < 0.5 and time.perf_counter() - stopping < 1.0
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/v2/cnams", timeout=2)


# ---- the Python SDK's requests (flowroute-api.md §6.4) ------------------------------------------


def test_python_sdk_requests_work_as_against_the_real_api(
    server: SandboxServer, clock: FakeClock
) -> None:
    """Replays the exact requests the SDK sends, with its headers, as seen on the wire."""
    session = requests.Session()
    session.auth = (server.access_key, server.secret_key)
    session.headers.update({"User-Agent": "Flowroute SDK v3.0", "Accept": "*/*"})
    base = server.url

    created = session.post(
        f"{base}/v2/cnams",
        data={"value": "Bob Law"},  # form-encoded, as the SDK's requests call makes it
        headers={"Accept": "application/json"},
        timeout=5,
    )
    assert created.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert created.request.body == "value=Bob+Law"
    assert created.status_code == 201
    cnam_id = created.json()["data"]["id"]
    clock.advance(10)

    listed = session.get(f"{base}/v2/cnams?limit=10&is_approved=True", timeout=5)
    assert [r["id"] for r in listed.json()["data"]] == [cnam_id]
    assert session.get(f"{base}/v2/cnams/{cnam_id}", timeout=5).json()["data"]["id"] == cnam_id

    # associate_cnam: look the number up, take data[0].id, PATCH the singular path with no body.
    lookup = session.get(f"{base}/v2/numbers?contains={NUMBER}", timeout=5).json()
    did = lookup["data"][0]["id"]
    patched = session.patch(f"{base}/v2/numbers/{did}/relationships/cnam/{cnam_id}", timeout=5)
    assert patched.status_code == 202 and patched.json()["data"]["id"] == int(cnam_id)

    detail = session.get(f"{base}/v2/numbers/{did}", timeout=5).json()
    assert detail["data"]["relationships"]["cnam_preset"]["data"]["id"] == cnam_id
    numbers = session.get(f"{base}/v2/numbers?starts_with=1206&limit=200", timeout=5).json()
    assert [n["id"] for n in numbers["data"]] == [NUMBER]

    # unassociate_cnam: the same lookup, then DELETE the singular path.
    lookup = session.get(f"{base}/v2/numbers?contains={NUMBER}", timeout=5).json()
    unassociated = session.delete(
        f"{base}/v2/numbers/{lookup['data'][0]['id']}/relationships/cnam", timeout=5
    )
    assert unassociated.status_code == 202 and unassociated.json()["data"]["id"] is None

    removed = session.delete(f"{base}/v2/cnams/{cnam_id}", timeout=5)
    assert removed.status_code == 204 and removed.text == ""

    detail = session.get(f"{base}/v2/numbers/{NUMBER}", timeout=5).json()
    assert detail["data"]["relationships"]["cnam_preset"]["data"] is None
    # The SDK's not-owned case: an empty data list (it then crashes with IndexError).
    assert session.get(f"{base}/v2/numbers?contains={FICTIONAL}", timeout=5).json()["data"] == []


def test_python_sdk_example_flow_lists_numbers_and_associates_the_first(
    server: SandboxServer, clock: FakeClock
) -> None:
    """Flowroute's SDK examples: list_account_phone_numbers(), take data[0], create a record and
    associate_cnam it (a contains= lookup of that number, then the singular PATCH)."""
    session = requests.Session()
    session.auth = (server.access_key, server.secret_key)
    session.headers.update({"User-Agent": "Flowroute SDK v3.0", "Accept": "*/*"})
    base = server.url
    numbers = session.get(f"{base}/v2/numbers?limit=10", timeout=5).json()["data"]
    assert numbers, "an open sandbox must list numbers before any was used"
    first = numbers[0]["id"]
    assert first == DEMO_NUMBERS[0]
    cnam_id = session.post(f"{base}/v2/cnams", data={"value": "Demo Co"}, timeout=5).json()
    cnam_id = cnam_id["data"]["id"]
    clock.advance(10)  # reviewed and approved
    did = session.get(f"{base}/v2/numbers?contains={first}", timeout=5).json()["data"][0]["id"]
    patched = session.patch(f"{base}/v2/numbers/{did}/relationships/cnam/{cnam_id}", timeout=5)
    assert patched.status_code == 202
    detail = session.get(f"{base}/v2/numbers/{first}", timeout=5).json()
    assert detail["data"]["relationships"]["cnam_preset"]["data"]["id"] == cnam_id


# ---- review -------------------------------------------------------------------------------------


def test_record_is_pending_until_approve_after_then_approved(api: Api, clock: FakeClock) -> None:
    record = api.create("Acme Plumbing")
    clock.advance(9.9)
    pending = api("GET", f"/v2/cnams/{record['id']}").json()["data"]["attributes"]
    assert (pending["is_approved"], pending["rejection_reason"]) == (False, None)
    clock.advance(0.1)
    approved = api("GET", f"/v2/cnams/{record['id']}").json()["data"]["attributes"]
    assert approved["is_approved"] is True and approved["rejection_reason"] is None
    assert approved["approval_datetime"] == "2018-06-01 00:10:02.513092+00:00"
    assert ISO_SPACE.match(approved["creation_datetime"])


@pytest.mark.parametrize(
    ("value", "reason_part"),
    [
        ("Seattle Police", "POLICE"),
        ("County Sheriff", "SHERIFF"),
        ("FBI", "FBI"),
        ("IRS Office", "IRS"),
        ("Government", "GOVERNMENT"),
        ("Call 911 Now", "911"),
        ("Test", "Generic"),
        ("Unknown", "Generic"),
        ("Caller", "Generic"),
        ("Customer Svc", "Generic"),
        ("Wireless Caller", "Generic"),
        ("Private", "Generic"),
        ("Anonymous", "Generic"),
        ("Name", "Generic"),
    ],
)
def test_review_rejects_misleading_and_generic_values_with_a_reason(
    api: Api, clock: FakeClock, value: str, reason_part: str
) -> None:
    record = api.create(value)
    clock.advance(10)
    attributes = api("GET", f"/v2/cnams/{record['id']}").json()["data"]["attributes"]
    assert attributes["is_approved"] is False and attributes["approval_datetime"] is None
    assert reason_part in attributes["rejection_reason"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ACME PLUMBING", None),
        ("TEST, MARIA", None),  # approved on the real API (flowroute-api.md §1.1)
        ("POLICE", "Misleading"),
        ("F.B.I. AGENT", "FBI"),
        ("SOCIAL SECURITY", "SOCIAL SECURITY"),
        ("WHITE HOUSE", "Political"),
        ("OBAMA, BARACK", "Political"),
        ("CALLER 1", GENERIC_REASON),
        ("NO NAME", GENERIC_REASON),
        ("CUSTOMER SERVICE", GENERIC_REASON),
        ("2065551234 A", "phone number"),
        ("A 1", "more than one letter"),
        ("SHIT HAPPENS", "Profanity"),
        ("ESSEX DINER", None),
    ],
)
def test_reviewer_table(value: str, expected: str | None) -> None:
    reason = review(value)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


def test_approve_after_infinity_keeps_records_pending() -> None:
    clock = FakeClock()
    with SandboxServer(SandboxConfig(approve_after=math.inf), clock=clock) as server:
        api = Api(server)
        record = api.create("ACME")
        clock.advance(10**9)
        assert api("GET", f"/v2/cnams/{record['id']}").json()["data"]["attributes"][
            "is_approved"
        ] is False  # fmt: skip


# ---- rate limit ---------------------------------------------------------------------------------


def test_limiter_counts_accepted_requests_in_a_sliding_second() -> None:
    clock = FakeClock(100.0)
    limiter = SlidingWindowLimiter(3, clock=clock)
    results = []
    for step in (0.0, 0.1, 0.2, 0.3, 0.3, 0.2, 0.1):  # arrivals at 100.0 .. 101.2
        clock.advance(step)
        results.append(limiter.admit()[1])
    # 3 pass; 100.6 and 100.9 are refused and not counted, so at 101.1 and 101.2 (the first two
    # having left the window) there is room again.
    assert results == [None, None, None, 1, 1, None, None]


def test_burst_from_8_threads_gets_429_with_retry_after_and_never_exceeds_the_limit() -> None:
    limit = 10
    with SandboxServer(SandboxConfig(rate_limit=limit)) as server:
        statuses: list[int] = []
        retry_afters: list[str] = []
        lock = threading.Lock()

        def worker() -> None:
            with requests.Session() as session:
                session.auth = (server.access_key, server.secret_key)
                for _ in range(8):
                    response = session.get(server.url + "/v2/cnams", timeout=5)
                    with lock:
                        statuses.append(response.status_code)
                        if response.status_code == 429:
                            retry_afters.append(response.headers["Retry-After"])
                            assert_error(response, 429, title="Too Many Requests")

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(statuses) == 64 and statuses.count(429) > 0
        assert statuses.count(200) >= limit
        assert all(r.isdigit() and int(r) >= 1 for r in retry_afters)
        accepted = sorted(e.time for e in server.log if e.status != 429)
        assert len(server.log) == 64
        for i, start in enumerate(accepted):
            in_window = sum(1 for t in accepted[i:] if t < start + 1.0)
            assert in_window <= limit


def test_rate_limited_client_that_waits_gets_through(clock: FakeClock) -> None:
    with SandboxServer(SandboxConfig(rate_limit=2)) as server:
        api = Api(server)
        statuses = [api("GET", "/v2/cnams").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        time.sleep(1.05)
        assert api("GET", "/v2/cnams").status_code == 200


# ---- faults -------------------------------------------------------------------------------------


def _run_writes(server: SandboxServer, n: int) -> list[str]:
    """n creates; each outcome as the client saw it."""
    outcomes = []
    api = Api(server)
    for i in range(n):
        try:
            outcomes.append(str(api("POST", "/v2/cnams", json={"value": f"SHOP {i}"}).status_code))
        except requests.ConnectionError:
            outcomes.append("dropped")
    return outcomes


def test_faults_are_reproducible_by_seed() -> None:
    faults = FaultConfig(
        seed=7, error_rate=0.2, after_commit_rate=0.2, drop_rate=0.1, drop_after_commit_rate=0.1
    )
    runs = []
    for _ in range(2):
        with SandboxServer(SandboxConfig(faults=faults)) as server:
            runs.append((_run_writes(server, 40), [e.fault for e in server.log]))
    assert runs[0] == runs[1] and len(runs[0][1]) == 40  # one request each: nothing resent
    outcomes, kinds = runs[0]
    assert {"201", "500", "dropped"} <= set(outcomes)
    assert {"error_before", "error_after", "drop_before", "drop_after", None} == set(kinds)
    with SandboxServer(SandboxConfig(faults=FaultConfig(seed=8, error_rate=0.5))) as other:
        assert _run_writes(other, 40) != outcomes


@pytest.mark.parametrize(
    ("faults", "client_sees", "record_exists"),
    [
        (FaultConfig(error_rate=1.0), {500, 503}, False),
        (FaultConfig(after_commit_rate=1.0), {500}, True),
        (FaultConfig(drop_rate=1.0), {"dropped"}, False),
        (FaultConfig(drop_after_commit_rate=1.0), {"dropped"}, True),
    ],
)
def test_fault_before_or_after_commit_decides_whether_the_record_exists(
    faults: FaultConfig, client_sees: set, record_exists: bool
) -> None:
    with SandboxServer(SandboxConfig(faults=faults)) as server:
        api = Api(server)
        try:
            seen: object = api("POST", "/v2/cnams", json={"value": "Acme"}).status_code
        except requests.ConnectionError:
            seen = "dropped"
        assert seen in client_sees
        # Reads are not faulted by default, so the client can find out what happened.
        found = api("GET", "/v2/cnams?value=ACME").json()["data"]
        assert bool(found) == record_exists
        if record_exists:  # a blind resend is a duplicate
            assert_error(api("POST", "/v2/cnams", json={"value": "acme"}), 422)
        assert [e.status for e in server.log][0] == (0 if seen == "dropped" else seen)


def test_error_after_commit_on_association_leaves_the_preset(clock: FakeClock) -> None:
    config = SandboxConfig(approve_after=0, faults=FaultConfig(after_commit_rate=1.0))
    with SandboxServer(config, clock=clock) as server:
        api = Api(server)
        response = api("POST", "/v2/cnams", json={"value": "Acme"})
        assert response.status_code == 500
        [record] = api("GET", "/v2/cnams").json()["data"]
        assert api.associate(NUMBER, record["id"]).status_code == 500
        detail = api("GET", f"/v2/numbers/{NUMBER}").json()["data"]
        assert detail["relationships"]["cnam_preset"]["data"]["id"] == record["id"]


def test_faults_can_target_reads() -> None:
    faults = FaultConfig(error_rate=1.0, operations=frozenset({"list_numbers"}))
    with SandboxServer(SandboxConfig(faults=faults)) as server:
        api = Api(server)
        assert api("GET", "/v2/numbers").status_code in (500, 503)
        assert api("GET", "/v2/cnams").status_code == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"error_rate": 1.5},
        {"error_rate": 0.6, "drop_rate": 0.6},
        {"drop_rate": -0.1},
        {"operations": frozenset({"create"})},
    ],
)
def test_bad_fault_config_is_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        FaultConfig(**kwargs)


# ---- state file ---------------------------------------------------------------------------------


def test_state_file_round_trips_records_presets_and_used_numbers(
    tmp_path: Path, clock: FakeClock
) -> None:
    state = tmp_path / "sandbox.json"
    config = SandboxConfig(approve_after=10, state_file=state)
    with SandboxServer(config, clock=clock) as server:
        api = Api(server)
        kept = approved_record(api, clock, "ACME")
        api.associate(NUMBER, kept["id"])
        api.create("TEST")  # rejected once due
        pending = api.create("BOB LAW")
        doomed = api.create("DOOMED")
        api("DELETE", f"/v2/cnams/{doomed['id']}")
    lines = [json.loads(line) for line in state.read_text().splitlines()]
    assert lines[0] == {"flowroute_sandbox_state": 1} and all("op" in op for op in lines[1:])

    clock.advance(10)
    with SandboxServer(
        SandboxConfig(approve_after=10, state_file=str(state)), clock=clock
    ) as again:
        api = Api(again)
        records = {r["attributes"]["value"]: r for r in api("GET", "/v2/cnams").json()["data"]}
        assert set(records) == {"ACME", "TEST", "BOB LAW"}
        assert records["ACME"]["id"] == kept["id"]
        assert records["BOB LAW"]["attributes"]["is_approved"] is True  # decided after restart
        assert records["TEST"]["attributes"]["rejection_reason"] == GENERIC_REASON
        assert api("GET", "/v2/numbers").json()["data"][0]["id"] == NUMBER
        preset = api("GET", f"/v2/numbers/{NUMBER}").json()["data"]["relationships"]
        assert preset["cnam_preset"]["data"]["id"] == kept["id"]
        assert_error(api("POST", "/v2/cnams", json={"value": "acme"}), 422)
        new_id = int(api.create("NEW ONE")["id"])
        assert new_id > int(doomed["id"]) and new_id > int(pending["id"])
    assert [p.name for p in tmp_path.iterdir()] == ["sandbox.json"]  # no temporary left


def test_state_survives_a_process_that_never_stopped_and_a_torn_last_line(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Each write is appended and flushed as it is answered, as a kill -9 of the run would need."""
    state = tmp_path / "sandbox.json"
    config = SandboxConfig(approve_after=0, state_file=state)
    server = SandboxServer(config, clock=clock)
    server.start()
    api = Api(server)
    record = api.create("ACME")
    api.associate(NUMBER, record["id"])
    with state.open("a") as torn:  # a kill in the middle of the next append
        torn.write('{"op":"record","id":')
    with SandboxServer(SandboxConfig(approve_after=0, state_file=state), clock=clock) as again:
        detail = Api(again)("GET", f"/v2/numbers/{NUMBER}").json()
        assert detail["data"]["relationships"]["cnam_preset"]["data"]["id"] == record["id"]
    server.stop()
    compacted = state.read_text().splitlines()
    assert all(json.loads(line) for line in compacted)  # rewritten whole at start


def test_state_file_stays_small_per_write_on_a_big_account(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    with SandboxServer(SandboxConfig(approve_after=0, state_file=state)) as server:
        api = Api(server)
        record = api.create("ACME")
        for i in range(300):
            api.associate(f"1206555{2000 + i:04d}", record["id"])
        size = state.stat().st_size
        api.associate("12065553000", record["id"])
        assert state.stat().st_size - size < 200  # one write appends a line or two, not a copy


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"flowroute_sandbox_state": 99}\n',
        '{"version": 1}',
        '{"flowroute_sandbox_state": 1}\nnot json\n{"op": "use", "number": "12065551234"}\n',
        '{"flowroute_sandbox_state": 1}\n{"op": "teleport"}\n',
        '{"flowroute_sandbox_state": 1}\n{"op": "record", "id": 1}\n',
        '{"flowroute_sandbox_state": 1}\n[]\n',
    ],
)
def test_unreadable_state_file_is_a_config_error_naming_it(tmp_path: Path, content: str) -> None:
    state = tmp_path / "broken.json"
    state.write_text(content)
    with pytest.raises(ConfigError, match="broken.json"):
        SandboxServer(SandboxConfig(state_file=state))


# ---- log and speed ------------------------------------------------------------------------------


def test_log_records_method_path_query_status_and_monotonic_time(api: Api) -> None:
    before = time.monotonic()
    api("GET", "/v2/cnams?limit=2")
    api("POST", "/v2/cnams", json={"value": "ACME"})
    api("GET", "/nowhere")
    log = api.server.log
    assert [(e.method, e.path, e.query, e.status) for e in log] == [
        ("GET", "/v2/cnams", "limit=2", 200),
        ("POST", "/v2/cnams", "", 201),
        ("GET", "/nowhere", "", 404),
    ]
    assert before <= log[0].time <= log[1].time <= log[2].time <= time.monotonic()


def test_log_keeps_the_most_recent_requests_up_to_its_limit() -> None:
    with SandboxServer(SandboxConfig(log_limit=5)) as server:
        api = Api(server)
        for i in range(23):
            api("GET", f"/v2/cnams?offset={i}")
        assert 5 <= len(server.log) <= 10
        assert server.log[-1].query == "offset=22"
        queries = [e.query for e in server.log]
        assert queries == [f"offset={i}" for i in range(23 - len(queries), 23)]


def test_keep_alive_requests_are_fast(api: Api) -> None:
    api("GET", "/v2/cnams")  # open the connection
    started = time.perf_counter()
    for _ in range(200):
        assert api("GET", "/v2/cnams").status_code == 200
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"200 keep-alive requests took {elapsed:.2f} s"


# ---- serve and the numbers file -----------------------------------------------------------------


def _serve_banner(config: SandboxConfig) -> tuple[str, str]:
    """Serve `config` until its banner is out; (banner text, URL). Checks the server answers."""
    out = io.StringIO()
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(config, 0), kwargs={"out": out, "stop": stop})
    thread.start()
    try:
        for _ in range(200):
            if "Ctrl-C" in out.getvalue():
                break
            time.sleep(0.01)
        text = out.getvalue()
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
        assert found is not None, text
        access = re.search(r"access key: (\S+)", text)
        assert access is not None
        secret = config.secret_key or re.findall(r"secret key: (\S+)", text)[0]
        assert requests.get(found.group(1) + "/v2/cnams", auth=(access[1], secret), timeout=5).ok
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    return text, found.group(1)


def test_serve_prints_url_generated_credentials_and_how_to_point_cnam_batch_at_it() -> None:
    text, url = _serve_banner(SandboxConfig(approve_after=5))
    access, secret = re.findall(r"access key: (\S+)", text)[0], re.findall(r"key: (\S+)", text)[1]
    assert re.fullmatch(r"[0-9a-f]{32}", secret)
    assert f"FLOWROUTE_API_URL={url} FR_ACCESS_KEY={access} FR_SECRET_KEY={secret} " in text


def test_serve_masks_a_secret_it_was_given_instead_of_generating() -> None:
    text, url = _serve_banner(SandboxConfig(access_key="demo", secret_key="s3cret-from-env"))
    assert "s3cret" not in text
    assert "secret key: ******** (from FR_SECRET_KEY)" in text
    assert f'FLOWROUTE_API_URL={url} FR_ACCESS_KEY=demo FR_SECRET_KEY="$FR_SECRET_KEY" ' in text


def test_serve_lists_the_open_accounts_demo_numbers() -> None:
    text, _ = _serve_banner(SandboxConfig())
    assert f"listed:     demo numbers {DEMO_NUMBERS[0]}-{DEMO_NUMBERS[-1]}" in text


def test_serve_on_a_busy_port_is_a_usage_error() -> None:
    with SandboxServer() as busy:
        port = int(busy.url.rsplit(":", 1)[1])
        with pytest.raises(UsageError, match=str(port)):
            serve(SandboxConfig(), port, out=io.StringIO())


def test_load_numbers_file_normalizes_and_skips_comments(tmp_path: Path) -> None:
    path = tmp_path / "numbers.txt"
    path.write_text(
        "\ufeff# our DIDs\n2065551234\n\n1 (312) 555-7890  # main line\n+1 646.555.0100\n"
        "12065551234\n18005550100\n"
    )
    assert load_numbers_file(path) == {NUMBER, "13125557890", "16465550100", "18005550100"}


@pytest.mark.parametrize(
    ("line", "lineno"), [("555-1234", 3), ("22065551234", 3), ("1065551234", 3), ("abc", 3)]
)
def test_load_numbers_file_names_file_and_line_of_a_bad_number(
    tmp_path: Path, line: str, lineno: int
) -> None:
    path = tmp_path / "numbers.txt"
    path.write_text(f"# header\n2065551234\n{line}\n")
    with pytest.raises(InputError) as info:
        load_numbers_file(path)
    message = str(info.value)
    assert f"numbers.txt line {lineno}" in message and line in message and "\n" not in message


def test_load_numbers_file_missing_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.txt"):
        load_numbers_file(tmp_path / "missing.txt")
