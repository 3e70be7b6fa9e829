"""The sandbox's shared machinery: auth, errors, routing, 501s, rate limits, faults, log."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from ccbridge._spec.operations import OPERATIONS
from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.app import oauth_client_id
from ccbridge.sandbox.errors import CCError, OAuthError
from ccbridge.sandbox.http import MAX_BODY_BYTES, SandboxRequest
from ccbridge.sandbox.pagination import (
    decode_cursor,
    effective_query,
    encode_cursor,
    next_links,
    take_page,
)
from ccbridge.sandbox.routing import Context, Route, Router
from ccbridge.sandbox.seed import create_account, create_app
from ccbridge.sandbox.state import AccountData, App


def test_missing_token_is_401_single_object(cc_sandbox: Sandbox, cc_raw: httpx.Client) -> None:
    response = cc_raw.get("/v3/contacts")
    assert response.status_code == 401
    assert response.json() == {"error_key": "unauthorized", "error_message": "Unauthorized"}


def test_unknown_v3_path_is_404(cc_http: httpx.Client) -> None:
    response = cc_http.get("/no_such_thing")
    assert response.status_code == 404
    assert isinstance(response.json(), list)


def test_known_but_unemulated_operation_is_501_naming_it(cc_http: httpx.Client) -> None:
    response = cc_http.get("/partner/accounts")
    assert response.status_code == 501
    assert "getPartnerSiteOwners" in response.json()[0]["error_message"]


def test_jwks_published(cc_raw: httpx.Client) -> None:
    keys = cc_raw.get("/oauth2/default/v1/keys").json()["keys"]
    assert keys and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256"


# -- authentication and dispatch ---------------------------------------------------------------
UNAUTHORIZED = {"error_key": "unauthorized", "error_message": "Unauthorized"}
PROBE = "/partner/accounts"  # a known CC operation the sandbox answers 501 once authorized


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer    ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        "Bearer eyJhbGciOiJub25lIn0.e30.",
    ],
)
def test_bad_credentials_are_401_single_object(cc_raw: httpx.Client, header: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = cc_raw.get("/v3" + PROBE, headers=headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_token_expires_after_24_hours_on_the_sandbox_clock(
    cc_sandbox: Sandbox, cc_http: httpx.Client
) -> None:
    assert cc_http.get(PROBE).status_code == 501
    cc_sandbox.advance_clock(86_400 - 1)
    assert cc_http.get(PROBE).status_code == 501
    cc_sandbox.advance_clock(1)
    response = cc_http.get(PROBE)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_token_of_another_sandbox_is_401(cc_http: httpx.Client) -> None:
    other = Sandbox(rate_limits=False)
    app = create_app(other.state, other.clock.now(), name="x", redirect_uris=[])
    account = create_account(
        other.state,
        other.clock.now(),
        email="x@example.com",
        password="pw",
        organization_name="X",
        first_name="X",
        last_name="Y",
    )
    foreign = other.issuer.issue(
        other.state, other.clock, app, account.account.account_id, "contact_data"
    )
    response = cc_http.get(PROBE, headers={"Authorization": f"Bearer {foreign['access_token']}"})
    assert response.status_code == 401


def test_token_of_a_deleted_app_is_401(
    cc_sandbox: Sandbox, cc_app: App, cc_http: httpx.Client
) -> None:
    del cc_sandbox.state.apps[cc_app.client_id]
    assert cc_http.get(PROBE).status_code == 401


def test_missing_scope_is_403_in_ccs_array(
    cc_sandbox: Sandbox, cc_app: App, cc_account: AccountData, cc_raw: httpx.Client
) -> None:
    token = cc_sandbox.issuer.issue(
        cc_sandbox.state, cc_sandbox.clock, cc_app, cc_account.account.account_id, "account_read"
    )
    response = cc_raw.get(
        "/v3/contacts", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert response.status_code == 403
    body = response.json()
    assert isinstance(body, list) and body[0]["error_key"] == "forbidden"
    assert "contact_data" in body[0]["error_message"]


def test_wrong_method_on_a_known_path_is_405(cc_http: httpx.Client) -> None:
    response = cc_http.request("PATCH", "/partner/accounts")
    assert response.status_code == 405
    assert response.json()[0]["error_key"] == "method_not_allowed"


def test_unknown_path_outside_the_api_is_404(cc_raw: httpx.Client) -> None:
    response = cc_raw.get("/nothing/here")
    assert response.status_code == 404
    assert response.json()[0]["error_key"] == "not_found"


def test_unknown_v3_path_needs_no_token(cc_raw: httpx.Client) -> None:
    assert cc_raw.get("/v3/no_such_thing").status_code == 404


def test_trailing_slash_matches_the_same_route(cc_http: httpx.Client) -> None:
    assert cc_http.get(PROBE + "/").status_code == 501


def test_head_answers_like_get_without_a_body(cc_raw: httpx.Client) -> None:
    response = cc_raw.head("/oauth2/default/v1/keys")
    assert response.status_code == 200
    assert response.content == b""


def test_oversize_body_is_413_in_process(cc_http: httpx.Client, cc_sandbox: Sandbox) -> None:
    response = cc_http.post(
        "/contacts",
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()[0]["error_key"] == "request.too_large"
    assert cc_sandbox.requests.entries()[-1]["status"] == 413


def test_a_handler_bug_is_a_cc_shaped_500(cc_sandbox: Sandbox, cc_http: httpx.Client) -> None:
    def broken(ctx: Context) -> Any:
        raise ZeroDivisionError("sandbox bug")

    cc_sandbox.router.routes.insert(0, Route("GET", "/v3/_test/broken", broken, "api"))
    response = cc_http.get("/_test/broken")
    assert response.status_code == 500
    assert response.json() == [
        {"error_key": "server_error", "error_message": "Internal Server Error"}
    ]


def test_every_known_operation_has_a_route(cc_sandbox: Sandbox) -> None:
    routed = {r.operation_id for r in cc_sandbox.router.routes if r.operation_id}
    assert routed == {op["operation_id"] for op in OPERATIONS}


def test_router_prefers_literal_segments_over_placeholders() -> None:
    def handler(ctx: Context) -> Any:
        return None

    router = Router(
        [
            Route("GET", "/v3/things/{thing_id}", handler, "api"),
            Route("GET", "/v3/things/counts", handler, "api"),
            Route("DELETE", "/v3/things/{thing_id}", handler, "api"),
        ]
    )
    route, params, _ = router.match("GET", "/v3/things/counts")
    assert route is not None and route.path == "/v3/things/counts" and params == {}
    route, params, _ = router.match("GET", "/v3/things/abc")
    assert route is not None and params == {"thing_id": "abc"}
    assert router.match("PUT", "/v3/things/abc") == (None, {}, True)
    assert router.match("GET", "/v3/things/abc/more") == (None, {}, False)


def test_reset_keeps_the_signing_key(cc_sandbox: Sandbox, cc_raw: httpx.Client) -> None:
    before = cc_raw.get("/oauth2/default/v1/keys").json()
    cc_sandbox.reset()
    assert cc_raw.get("/oauth2/default/v1/keys").json() == before


# -- errors and requests ------------------------------------------------------------------------
def test_error_bodies() -> None:
    assert json.loads(CCError.bad_request("contacts", "limit is bad.").body()) == [
        {"error_key": "contacts.api.validation.error", "error_message": "limit is bad."}
    ]
    assert json.loads(CCError.unauthorized().body()) == UNAUTHORIZED
    assert json.loads(CCError.throttled().body()) == {
        "error_key": "throttled",
        "error_message": "Too Many Requests",
    }
    quota = json.loads(CCError.quota_exceeded().body())
    assert isinstance(quota, dict) and quota["error_key"] == "quota_exceeded"
    assert json.loads(OAuthError("invalid_grant", "gone").body()) == {
        "error": "invalid_grant",
        "error_description": "gone",
    }


def test_json_body_media_type_and_malformed_json() -> None:
    wrong = SandboxRequest.build(
        "POST", "/v3/x", headers={"content-type": "text/plain"}, body=b"{}"
    )
    with pytest.raises(CCError) as caught:
        wrong.json(area="contacts")
    assert caught.value.status == 415 and "text/plain" in caught.value.error_message
    broken = SandboxRequest.build(
        "POST", "/v3/x", headers={"content-type": "application/json"}, body=b'{"a":\n  }'
    )
    with pytest.raises(CCError) as caught:
        broken.json(area="contacts")
    assert caught.value.status == 400 and "line 2" in caught.value.error_message
    empty = SandboxRequest.build("POST", "/v3/x", headers={"content-type": "application/json"})
    with pytest.raises(CCError) as caught:
        empty.json(area="contacts")
    assert caught.value.status == 400
    ok = SandboxRequest.build(
        "POST", "/v3/x", headers={"content-type": "application/json; charset=utf-8"}, body=b"[1]"
    )
    assert ok.json() == [1]


def test_request_helpers() -> None:
    request = SandboxRequest.build(
        "get",
        "/v3/x",
        "a=1&a=2&b=&c=%20x",
        headers=[("X-Thing", "one"), ("x-thing", "two")],
        body=b"f=1&f=2&g=%C3%A9",
    )
    assert request.method == "GET"
    assert (request.q("a"), request.q_all("a"), request.q("b"), request.q("c")) == (
        "1",
        ["1", "2"],
        "",
        " x",
    )
    assert request.query_dict() == {"a": "1", "b": "", "c": " x"}
    assert request.headers == {"x-thing": "one, two"}
    assert request.form() == {"f": "1", "g": "é"}


@pytest.mark.parametrize(
    ("headers", "query", "body", "expected"),
    [
        (
            {"authorization": "Basic " + base64.b64encode(b"my%20app:secret").decode()},
            "",
            b"",
            "my app",
        ),
        ({}, "client_id=from-query", b"", "from-query"),
        (
            {"content-type": "application/x-www-form-urlencoded"},
            "",
            b"client_id=from-form&client_secret=s",
            "from-form",
        ),
        ({"authorization": "Basic !!!"}, "", b"", None),
        ({}, "", b"", None),
    ],
)
def test_oauth_client_id(
    headers: dict[str, str], query: str, body: bytes, expected: str | None
) -> None:
    request = SandboxRequest.build("POST", "/oauth2/default/v1/token", query, headers, body)
    assert oauth_client_id(request) == expected


# -- pagination ----------------------------------------------------------------------------------
def test_cursor_round_trip_keeps_filters_and_repeated_parameters() -> None:
    query = [("status", "all"), ("tracking", "em_opens"), ("tracking", "em_clicks"), ("limit", "2")]
    links = next_links("/v3/things", query, 4)
    assert links is not None
    href = links["next"]["href"]
    assert href.startswith("/v3/things?cursor=") and "&" not in href  # relative, cursor only
    cursor = href.split("cursor=", 1)[1]
    request = SandboxRequest.build("GET", "/v3/things", f"cursor={cursor}")
    replay, start = effective_query(request, "things")
    assert start == 4
    assert replay.q_all("tracking") == ["em_opens", "em_clicks"]
    assert replay.q("status") == "all" and replay.q("limit") == "2"
    assert decode_cursor("things", cursor) == (
        {"status": "all", "tracking": "em_opens", "limit": "2"},
        4,
    )


def test_explicit_limit_next_to_a_cursor_wins() -> None:
    cursor = encode_cursor({"limit": "2", "status": "all"}, 6)
    request = SandboxRequest.build("GET", "/v3/things", f"cursor={cursor}&limit=10")
    replay, start = effective_query(request, "things")
    assert (replay.q("limit"), replay.q("status"), start) == ("10", "all", 6)


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        base64.urlsafe_b64encode(b"limit=2").decode(),
        base64.urlsafe_b64encode(b"next=-3").decode(),
        base64.urlsafe_b64encode(b"next=abc").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_cursor_is_400(cursor: str) -> None:
    request = SandboxRequest.build("GET", "/v3/things", f"cursor={cursor}")
    with pytest.raises(CCError) as caught:
        effective_query(request, "things")
    assert caught.value.status == 400
    assert caught.value.error_key == "things.api.validation.error"
    assert "cursor" in caught.value.error_message


def test_take_page_promises_a_next_page_only_when_one_exists() -> None:
    items = list(range(10))
    assert take_page(items, 0, 4) == ([0, 1, 2, 3], 4)
    assert take_page(items, 8, 4) == ([8, 9], None)
    assert take_page(items, 6, 4) == ([6, 7, 8, 9], None)  # exactly full: no empty last page
    even = take_page(items, 0, 2, keep=lambda n: n % 2 == 0)
    assert even == ([0, 2], 3)
    assert take_page(items, 7, 2, keep=lambda n: n % 2 == 0) == ([8], None)
    assert take_page(items, 5, 2, keep=lambda n: n % 2 == 0) == ([6, 8], None)
    assert next_links("/v3/things", {}, None) is None
