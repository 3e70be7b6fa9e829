"""Request building, argument checks and response parsing, through a fake transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ccbridge import (
    DEFAULT_BASE_URL,
    AsyncClient,
    Client,
    InvalidArgumentError,
    NotFoundError,
    ResponseParseError,
)

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        item = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(item, Exception):
            raise item
        return item


def _client(recorder: Recorder, **kwargs: Any) -> Client:
    options: dict[str, Any] = {
        "transport": httpx.MockTransport(recorder),
        "rate_limit": None,
        "sleep": lambda s: None,
    }
    options.update(kwargs)
    return Client("tok-123", **options)


def _ok(body: Any = None, status: int = 200, **kw: Any) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {}, **kw)


def test_requests_go_to_cc_with_cc_headers() -> None:
    rec = Recorder(_ok({"contacts": []}))
    with _client(rec) as client:
        client.contacts.get_contacts(status="all", include_count=True, limit=10)
    request = rec.requests[0]
    assert str(request.url) == f"{DEFAULT_BASE_URL}/contacts?status=all&include_count=true&limit=10"
    assert request.headers["authorization"] == "Bearer tok-123"
    assert request.headers["accept"] == "application/json"
    assert "content-type" not in request.headers


def test_json_body_and_path_params() -> None:
    rec = Recorder(_ok({"contact_id": "c/1"}))
    with _client(rec) as client:
        client.contacts.put_contact("c/1 x", body={"update_source": "Account"})
    request = rec.requests[0]
    assert request.url.raw_path == b"/v3/contacts/c%2F1%20x"
    assert request.method == "PUT"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"update_source": "Account"}


def test_array_query_params_repeat_and_integers_pass_through() -> None:
    rec = Recorder(_ok({}))
    with _client(rec) as client:
        client.reporting.get_contact_tracking(
            "c1", tracking_activity_type=["em_sends", "em_opens"], limit=5
        )
        client.contacts.get_contact("abc", include="custom_fields,taggings")
        client.segments.get_segment_detail(42)
    tracking = rec.requests[0].url
    assert tracking.params.get_list("tracking_activity_type") == ["em_sends", "em_opens"]
    assert tracking.params["limit"] == "5"
    assert rec.requests[1].url.params["include"] == "custom_fields,taggings"
    assert rec.requests[2].url.path == "/v3/segments/42"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.contacts.get_contacts(limit="50"), "limit must be an integer"),
        (
            lambda c: c.contacts.get_contacts(include_count="yes"),
            "include_count must be True or False",
        ),
        (lambda c: c.contacts.get_contact(""), "contact_id must not be empty"),
        (lambda c: c.contacts.get_contact(None), "contact_id must be a string"),
        (lambda c: c.segments.get_segment_detail("42"), "segment_id must be an integer"),
        (lambda c: c.contacts.create_contact(body=["not", "a", "dict"]), "body must be a mapping"),
        (
            lambda c: c.reporting.get_contact_tracking("a", tracking_activity_type="em_sends"),
            "tracking_activity_type must be a list",
        ),
        (lambda c: c.request("GET", "contacts"), "path must be a string starting with '/'"),
    ],
)
def test_invalid_arguments_fail_before_any_request(
    call: Callable[[Client], Any], message: str
) -> None:
    rec = Recorder(_ok({}))
    with _client(rec) as client, pytest.raises(InvalidArgumentError, match=message):
        call(client)
    assert rec.requests == []


def test_bad_construction_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="base_url"):
        Client("t", base_url="api.cc.email/v3")
    with pytest.raises(InvalidArgumentError, match="token"):
        Client(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="rate_limit"):
        Client("t", rate_limit="mongodb://x")
    with pytest.raises(InvalidArgumentError, match="max_retries"):
        Client("t", max_retries=-1)


def test_unparseable_success_body_raises_with_the_body() -> None:
    rec = Recorder(
        httpx.Response(200, content=b"{not json", headers={"content-type": "application/json"})
    )
    with _client(rec) as client, pytest.raises(ResponseParseError) as caught:
        client.account.get_account_by_id()
    assert caught.value.body == b"{not json"
    assert caught.value.status == 200
    assert caught.value.path == "/account/summary"


def test_no_content_text_and_json_bodies() -> None:
    rec = Recorder(
        httpx.Response(204),
        httpx.Response(
            200, content=b"email\nx@example.com\n", headers={"content-type": "text/csv"}
        ),
    )
    with _client(rec) as client:
        assert client.contacts.delete_contact("abc") is None
        assert client.bulk_activities.get_contacts_export("f1") == "email\nx@example.com\n"


def test_errors_carry_status_keys_and_path() -> None:
    body = [{"error_key": "contacts.api.not_found", "error_message": "Contact not found"}]
    rec = Recorder(httpx.Response(404, json=body, headers={"x-request-id": "r-1"}))
    with _client(rec) as client, pytest.raises(NotFoundError) as caught:
        client.contacts.get_contact("abc", include="taggings")
    error = caught.value
    assert (error.status, error.error_keys, error.messages) == (
        404,
        ["contacts.api.not_found"],
        ["Contact not found"],
    )
    assert (error.method, error.path, error.request_id) == ("GET", "/contacts/abc", "r-1")
    assert "tok-123" not in str(error) and "tok-123" not in repr(error)


def test_post_is_retried_when_the_connection_never_opened() -> None:
    request = httpx.Request("POST", DEFAULT_BASE_URL)
    rec = Recorder(httpx.ConnectError("refused", request=request), _ok({"tag_id": "t1"}, 201))
    with _client(rec) as client:
        assert client.contact_tags.post_tag(body={"name": "vip"}) == {"tag_id": "t1"}
    assert len(rec.requests) == 2


def test_multipart_upload_lets_httpx_set_the_content_type() -> None:
    rec = Recorder(_ok({"activity_id": "a1"}, 201))
    with _client(rec) as client:
        client.bulk_activities.contacts_csv_import(
            file=("contacts.csv", b"email\na@example.com\n", "text/csv"), list_ids="l1,l2"
        )
    request = rec.requests[0]
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="list_ids"' in request.content and b"l1,l2" in request.content
    assert b"a@example.com" in request.content


def test_csv_import_requires_the_file() -> None:
    rec = Recorder(_ok({}))
    with _client(rec) as client, pytest.raises(InvalidArgumentError, match="file is required"):
        client.bulk_activities.contacts_csv_import(file=None, list_ids="l1")  # type: ignore[arg-type]


def test_partner_calls_carry_the_api_key_and_others_do_not() -> None:
    rec = Recorder(_ok({}))
    with _client(rec, partner_api_key="partner-key") as client:
        client.partner.get_partner_site_owners()
        client.account.get_account_by_id()
    assert rec.requests[0].headers["x-api-key"] == "partner-key"
    assert "x-api-key" not in rec.requests[1].headers


def test_stream_gives_the_body_unread() -> None:
    rec = Recorder(httpx.Response(200, content=b"a,b\n1,2\n", headers={"content-type": "text/csv"}))
    with _client(rec) as client, client.stream("GET", "/contact_exports/x") as response:
        assert b"".join(response.iter_bytes()) == b"a,b\n1,2\n"


def test_rate_limit_key_comes_from_the_token_cid_claim() -> None:
    import base64

    payload = (
        base64.urlsafe_b64encode(json.dumps({"cid": "client-77"}).encode()).decode().rstrip("=")
    )
    token = f"eyJhbGciOiJub25lIn0.{payload}.sig"
    with Client(token, rate_limit=None) as client:
        assert client._core.rate_limit_key(token) == "client-77"
    with Client(token, client_id="explicit", rate_limit=None) as client:
        assert client._core.rate_limit_key(token) == "explicit"


async def test_async_client_builds_the_same_requests() -> None:
    rec = Recorder(_ok({"contacts": []}))

    async def no_sleep(_: float) -> None:
        return None

    async with AsyncClient(
        "tok-123", transport=httpx.MockTransport(rec), rate_limit=None, sleep=no_sleep
    ) as client:
        await client.contacts.get_contacts(status="all", include_count=True, limit=10)
        async with client.stream("GET", "/contacts") as response:
            await response.aread()
    assert (
        str(rec.requests[0].url)
        == f"{DEFAULT_BASE_URL}/contacts?status=all&include_count=true&limit=10"
    )
    assert rec.requests[0].headers["authorization"] == "Bearer tok-123"


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_rate_limit_urls_pace_the_client(
    kind: str, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    import uuid

    from tests.client.conftest import FakeClock

    clock = FakeClock()
    client_id = f"url-test-{uuid.uuid4().hex}"
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path}/limits.db"
    else:
        url = request.getfixturevalue("cc_redis_url")
    rec = Recorder(_ok({}))
    client = _client(rec, rate_limit=url, client_id=client_id, clock=clock, sleep=clock.sleep)
    try:
        if kind == "redis":
            client.rate_limiter.backend.server_time = False  # type: ignore[union-attr]
        for _ in range(6):
            client.request("GET", "/contacts")
    finally:
        if kind == "redis":
            redis_client = client.rate_limiter.backend.redis  # type: ignore[union-attr]
            for key in redis_client.scan_iter(match=f"*{client_id}*"):
                redis_client.delete(key)
        client.close()
    assert len(rec.requests) == 6
    assert len(clock.sleeps) >= 1  # the fifth request had to wait for the window to move
    assert sum(clock.sleeps) >= 1.0
