"""The fifteen facts an emulator of Constant Contact must get exactly right.

Each test is written from ``CC-V3-FACTS.md`` §11 (fact N is named in the test), not from
the sandbox's code, and drives the sandbox only through HTTP as a CC client would. The
other test modules go deeper per resource; this one is the checklist.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from ccbridge.sandbox import Sandbox, SandboxTransport
from ccbridge.sandbox.state import AccountData, App
from ccbridge.testing.oauth_flow import (
    TOKEN,
    basic,
    exchange,
    get_code,
    pkce_pair,
    tokens_via_code_flow,
)
from ccbridge.testing.plugin import REDIRECT_URI

HTML = "<html><body><p>Hello</p>[[trackingImage]]</body></html>"


def _control(cc_raw: httpx.Client, path: str, body: dict[str, Any]) -> Any:
    response = cc_raw.post(f"/_sandbox/{path}", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _api(sandbox: Sandbox, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.base_url + "/v3",
        transport=SandboxTransport(sandbox),
        headers={"Authorization": f"Bearer {token}"},
    )


def _settle(sandbox: Sandbox, http: httpx.Client, activity: dict[str, Any]) -> dict[str, Any]:
    """Advance the sandbox clock until a bulk activity reaches a final state."""
    href = activity["_links"]["self"]["href"]
    assert href.startswith("/v3/activities/")
    for _ in range(100):
        sandbox.advance_clock(5)
        current: dict[str, Any] = http.get(href.removeprefix("/v3")).json()
        if current["state"] in ("completed", "failed", "cancelled", "timed_out"):
            return current
    raise AssertionError(f"activity never finished: {current}")


def _new_list(http: httpx.Client, name: str) -> str:
    response = http.post("/contact_lists", json={"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["list_id"])


# -- fact 1: OAuth endpoints and how the token endpoint takes its parameters ---------------
def test_fact_01_token_endpoint_takes_basic_auth_with_body_or_query_parameters(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    code = get_code(cc_raw, cc_app)
    as_body = exchange(cc_raw, cc_app, code)
    assert as_body.status_code == 200, as_body.text

    code = get_code(cc_raw, cc_app)
    as_query = cc_raw.post(
        TOKEN,
        params={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=basic(cc_app),
    )
    assert as_query.status_code == 200, as_query.text

    # PKCE: no client secret, the verifier instead.
    verifier, challenge = pkce_pair()
    code = get_code(cc_raw, cc_app, code_challenge=challenge, code_challenge_method="S256")
    public = cc_raw.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": cc_app.client_id,
            "code_verifier": verifier,
        },
    )
    assert public.status_code == 200, public.text

    unsupported = cc_raw.post(TOKEN, data={"grant_type": "password"}, auth=basic(cc_app))
    assert unsupported.status_code == 400
    assert unsupported.json()["error"] == "unsupported_grant_type"


# -- fact 2: the token response and the JWT's claims -----------------------------------------
def test_fact_02_token_response_and_access_token_claims(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    tokens = tokens_via_code_flow(cc_raw, cc_app)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 86400
    assert {"access_token", "scope", "refresh_token", "id_token"} <= set(tokens)

    keys = KeySet.import_key_set(cc_raw.get("/oauth2/default/v1/keys").json())
    header = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[0] + "=="))
    assert header["alg"] == "RS256"
    claims = jwt.decode(tokens["access_token"], keys, algorithms=["RS256"]).claims
    assert claims["cid"] == cc_app.client_id
    assert claims["aud"] == "https://api.cc.email/v3"
    assert claims["platform_user_id"] and claims["sub"] and claims["iss"]
    assert claims["exp"] - claims["iat"] == 86400

    without_offline = tokens_via_code_flow(cc_raw, cc_app, scope="contact_data")
    assert "refresh_token" not in without_offline


# -- fact 3: refresh modes, idle expiry, single-use codes ------------------------------------
def test_fact_03_rotating_refresh_tokens_are_single_use(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    first = tokens_via_code_flow(cc_raw, cc_app)["refresh_token"]
    refreshed = cc_raw.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first}, auth=basic(cc_app)
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != first
    again = cc_raw.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first}, auth=basic(cc_app)
    )
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "The refresh token is invalid or expired.",
    }


def test_fact_03_long_lived_refresh_tokens_come_back_unchanged_and_die_after_180_idle_days(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_account: AccountData
) -> None:
    app = _control(
        cc_raw,
        "apps",
        {"name": "Long", "redirect_uris": [REDIRECT_URI], "refresh_token_mode": "long_lived"},
    )
    granted = _control(
        cc_raw,
        "grants",
        {
            "client_id": app["client_id"],
            "account_id": cc_account.account.account_id,
            "scope": "contact_data offline_access",
        },
    )
    auth = (app["client_id"], app["client_secret"])
    body = {"grant_type": "refresh_token", "refresh_token": granted["refresh_token"]}
    same = cc_raw.post(TOKEN, data=body, auth=auth)
    assert same.status_code == 200
    assert same.json()["refresh_token"] == granted["refresh_token"]

    cc_sandbox.advance_clock(181 * 86400)
    dead = cc_raw.post(TOKEN, data=body, auth=auth)
    assert dead.status_code == 400
    assert dead.json()["error"] == "invalid_grant"


def test_fact_03_authorization_codes_are_single_use_and_live_five_minutes(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    code = get_code(cc_raw, cc_app)
    assert exchange(cc_raw, cc_app, code).status_code == 200
    assert exchange(cc_raw, cc_app, code).json()["error"] == "invalid_grant"

    late = get_code(cc_raw, cc_app)
    cc_sandbox.advance_clock(301)
    assert exchange(cc_raw, cc_app, late).json()["error"] == "invalid_grant"


# -- fact 4: rate limits and the 401/429 bodies -------------------------------------------------
def test_fact_04_four_requests_per_second_per_client_then_throttled(
    cc_sandbox: Sandbox, cc_http: httpx.Client
) -> None:
    cc_sandbox.state.settings.rate_limits = True
    offset = cc_sandbox.clock.offset_seconds
    # Freeze the sandbox clock so the five calls fall in one second whatever the machine does.
    frozen = cc_sandbox.clock.time()
    cc_sandbox.clock.time = lambda: frozen  # type: ignore[method-assign]
    statuses = [cc_http.get("/contact_lists").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    throttled = cc_http.get("/contact_lists")
    assert throttled.json() == {"error_key": "throttled", "error_message": "Too Many Requests"}
    cc_sandbox.clock.time = lambda: frozen + 1.01  # type: ignore[method-assign]
    assert cc_http.get("/contact_lists").status_code == 200
    assert cc_sandbox.clock.offset_seconds == offset


def test_fact_04_daily_quota_is_per_client_and_distinct_from_throttling(
    cc_sandbox: Sandbox, cc_http: httpx.Client
) -> None:
    cc_sandbox.state.settings.rate_limits = True
    cc_sandbox.state.settings.per_day = 3
    cc_sandbox._reset_limiters()
    seen = []
    for _ in range(4):
        cc_sandbox.advance_clock(1)
        seen.append(cc_http.get("/contact_lists"))
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert seen[-1].json()["error_key"] != "throttled"


def test_fact_04_invalid_token_is_401_single_object(cc_raw: httpx.Client) -> None:
    response = cc_raw.get("/v3/contacts", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.json() == {"error_key": "unauthorized", "error_message": "Unauthorized"}


def test_fact_04_token_endpoint_allows_one_request_per_second(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    grant = cc_sandbox.issuer.issue(
        cc_sandbox.state,
        cc_sandbox.clock,
        cc_app,
        cc_account.account.account_id,
        "contact_data offline_access",
    )
    cc_sandbox.state.settings.rate_limits = True
    frozen = cc_sandbox.clock.time()
    cc_sandbox.clock.time = lambda: frozen  # type: ignore[method-assign]
    body = {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]}
    first = cc_raw.post(TOKEN, data=body, auth=basic(cc_app))
    second = cc_raw.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        auth=basic(cc_app),
    )
    assert first.status_code == 200
    assert second.status_code == 429


# -- fact 5: error arrays, 415 ----------------------------------------------------------------
def test_fact_05_errors_are_arrays_and_wrong_media_type_is_415(cc_http: httpx.Client) -> None:
    bad = cc_http.post(
        "/contacts", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400
    assert isinstance(bad.json(), list) and {"error_key", "error_message"} <= set(bad.json()[0])

    wrong_type = cc_http.post(
        "/contacts", content=b"email=a@b.com", headers={"Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert isinstance(wrong_type.json(), list)

    missing = cc_http.get("/contacts/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and isinstance(missing.json(), list)


def test_fact_05_multipart_import_with_a_hand_set_content_type_is_415(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    list_id = next(iter(cc_account.lists))
    response = cc_http.post(
        "/activities/contacts_file_import",
        content=b"email\na@example.com\n",
        headers={"Content-Type": "application/json"},
        params={"list_ids": list_id},
    )
    assert response.status_code == 415


# -- fact 6: pagination -----------------------------------------------------------------------
def test_fact_06_contacts_page_by_relative_next_links_default_50_max_500(
    cc_http: httpx.Client,
) -> None:
    for i in range(120):
        created = cc_http.post(
            "/contacts",
            json={"email_address": {"address": f"p{i}@example.com"}, "create_source": "Account"},
        )
        assert created.status_code == 201, created.text
    first = cc_http.get("/contacts").json()
    assert len(first["contacts"]) == 50
    href = first["_links"]["next"]["href"]
    assert href.startswith("/v3/contacts?") and "cursor=" in href

    seen = {c["contact_id"] for c in first["contacts"]}
    while "next" in (page_links := first.get("_links") or {}):
        first = cc_http.get(page_links["next"]["href"].removeprefix("/v3")).json()
        seen.update(c["contact_id"] for c in first["contacts"])
    assert len(seen) == 121  # the account owner plus 120

    assert cc_http.get("/contacts", params={"limit": 500}).status_code == 200
    assert cc_http.get("/contacts", params={"limit": 501}).status_code == 400


# -- fact 7: GET /contacts semantics -------------------------------------------------------------
def test_fact_07_listing_hides_deleted_and_includes_on_request(cc_http: httpx.Client) -> None:
    created = cc_http.post(
        "/contacts",
        json={
            "email_address": {"address": "gone@example.com"},
            "create_source": "Account",
            "phone_numbers": [{"phone_number": "555-0100", "kind": "home"}],
        },
    ).json()
    assert cc_http.delete(f"/contacts/{created['contact_id']}").status_code == 204

    default = cc_http.get("/contacts", params={"email": "gone@example.com"}).json()
    assert default["contacts"] == []
    everything = cc_http.get(
        "/contacts", params={"email": "gone@example.com", "status": "all"}
    ).json()
    assert [c["contact_id"] for c in everything["contacts"]] == [created["contact_id"]]

    nobody = cc_http.get("/contacts", params={"email": "nobody@example.com"})
    assert nobody.status_code == 200 and nobody.json()["contacts"] == []

    plain = cc_http.get("/contacts", params={"status": "all"}).json()
    assert all("phone_numbers" not in c for c in plain["contacts"])
    assert "contacts_count" not in plain
    rich = cc_http.get(
        "/contacts", params={"status": "all", "include": "phone_numbers", "include_count": "true"}
    ).json()
    assert any(c.get("phone_numbers") for c in rich["contacts"])
    assert rich["contacts_count"] == 2


# -- fact 8: POST /contacts ------------------------------------------------------------------------
def test_fact_08_create_conflicts_and_opt_in_source(cc_http: httpx.Client) -> None:
    no_source = cc_http.post("/contacts", json={"email_address": {"address": "x@example.com"}})
    assert no_source.status_code == 400

    body = {
        "email_address": {"address": "x@example.com", "permission_to_send": "explicit"},
        "create_source": "Contact",
    }
    created = cc_http.post("/contacts", json=body)
    assert created.status_code == 201
    contact = created.json()
    assert contact["email_address"]["opt_in_source"] == "Contact"
    assert cc_http.post("/contacts", json=body).status_code == 409

    # A deleted contact's email still conflicts.
    cc_http.delete(f"/contacts/{contact['contact_id']}")
    assert cc_http.post("/contacts", json=body).status_code == 409

    # opt_in_source never changes afterwards, even when an update names the Account.
    revived = cc_http.put(
        f"/contacts/{contact['contact_id']}",
        json={
            "email_address": {"address": "x@example.com", "permission_to_send": "explicit"},
            "update_source": "Account",
        },
    ).json()
    assert revived["email_address"]["opt_in_source"] == "Contact"


# -- fact 9: PUT /contacts/{id} ------------------------------------------------------------------
def test_fact_09_put_nulls_omitted_fields_keeps_sub_resources_and_revives(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    list_id = next(iter(cc_account.lists))
    contact = cc_http.post(
        "/contacts",
        json={
            "email_address": {"address": "put@example.com"},
            "first_name": "Pat",
            "job_title": "Baker",
            "create_source": "Account",
            "list_memberships": [list_id],
        },
    ).json()
    cid = contact["contact_id"]
    missing_source = cc_http.put(
        f"/contacts/{cid}", json={"email_address": {"address": "put@example.com"}}
    )
    assert missing_source.status_code == 400

    put_body = {
        "email_address": {"address": "put@example.com"},
        "first_name": "Pat",
        "update_source": "Account",
    }
    updated = cc_http.put(f"/contacts/{cid}", json=put_body)
    assert updated.status_code == 200
    after = cc_http.get(f"/contacts/{cid}", params={"include": "list_memberships"}).json()
    assert "job_title" not in after  # omitted top-level field overwritten with null
    assert after["list_memberships"] == [list_id]  # omitted sub-resource kept

    cc_http.delete(f"/contacts/{cid}")
    assert cc_http.get("/contacts", params={"email": "put@example.com"}).json()["contacts"] == []
    assert cc_http.put(f"/contacts/{cid}", json=put_body).status_code == 200
    revived = cc_http.get(f"/contacts/{cid}").json()
    assert "deleted_at" not in revived
    listed = cc_http.get("/contacts", params={"email": "put@example.com"}).json()["contacts"]
    assert [c["contact_id"] for c in listed] == [cid]


# -- fact 10: sign_up_form ---------------------------------------------------------------------------
def test_fact_10_sign_up_form_creates_updates_and_reopts_in(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    first_list = next(iter(cc_account.lists))
    second_list = _new_list(cc_http, "Second")
    assert (
        cc_http.post("/contacts/sign_up_form", json={"email_address": "s@example.com"}).status_code
        == 400
    )  # list_memberships is required

    created = cc_http.post(
        "/contacts/sign_up_form",
        json={"email_address": "s@example.com", "list_memberships": [first_list]},
    )
    assert created.status_code == 201
    assert created.json()["action"] == "created"
    cid = created.json()["contact_id"]

    unsubscribe = cc_http.put(
        f"/contacts/{cid}",
        json={
            "email_address": {"address": "s@example.com", "permission_to_send": "unsubscribed"},
            "update_source": "Contact",
        },
    )
    assert unsubscribe.status_code == 200
    cc_http.delete(f"/contacts/{cid}")

    updated = cc_http.post(
        "/contacts/sign_up_form",
        json={"email_address": "s@example.com", "list_memberships": [second_list]},
    )
    assert updated.status_code == 200
    assert updated.json() == {"contact_id": cid, "action": "updated"}
    after = cc_http.get(f"/contacts/{cid}", params={"include": "list_memberships"}).json()
    assert after["email_address"]["permission_to_send"] == "explicit"
    assert set(after["list_memberships"]) >= {second_list}
    assert "deleted_at" not in after


# -- fact 11: bulk activities ---------------------------------------------------------------------------
def test_fact_11_bulk_activities_start_initialized_and_list_delete_is_202(
    cc_sandbox: Sandbox, cc_http: httpx.Client
) -> None:
    list_id = _new_list(cc_http, "Import target")
    started = cc_http.post(
        "/activities/contacts_json_import",
        json={"import_data": [{"email": "bulk@example.com"}], "list_ids": [list_id]},
    )
    assert started.status_code == 201
    activity = started.json()
    assert activity["state"] == "initialized"
    assert activity["_links"]["self"]["href"] == f"/v3/activities/{activity['activity_id']}"
    done = _settle(cc_sandbox, cc_http, activity)
    assert done["state"] == "completed" and done["percent_done"] == 100

    deleted = cc_http.delete(f"/contact_lists/{list_id}")
    assert deleted.status_code == 202
    assert deleted.json()["activity_id"]

    # Slow activities down so they stay queued, then cap the queue at one.
    cc_sandbox.state.settings.activity_items_per_second = 0.001
    cc_sandbox.state.settings.max_queued_activities = 1
    cc_http.post("/activities/list_delete", json={"list_ids": [_new_list(cc_http, "A")]})
    refused = cc_http.post("/activities/list_delete", json={"list_ids": [_new_list(cc_http, "B")]})
    assert refused.status_code == 429


# -- fact 12: import semantics -------------------------------------------------------------------------
def test_fact_12_import_permissions_and_unsubscribed_contacts(
    cc_sandbox: Sandbox, cc_http: httpx.Client
) -> None:
    list_id = _new_list(cc_http, "Imports")
    cc_http.post(
        "/contacts",
        json={
            "email_address": {"address": "kept@example.com", "permission_to_send": "explicit"},
            "create_source": "Contact",
        },
    ).json()
    gone = cc_http.post(
        "/contacts",
        json={"email_address": {"address": "out@example.com"}, "create_source": "Account"},
    ).json()
    cc_http.put(
        f"/contacts/{gone['contact_id']}",
        json={
            "email_address": {"address": "out@example.com", "permission_to_send": "unsubscribed"},
            "update_source": "Contact",
        },
    )
    activity = cc_http.post(
        "/activities/contacts_json_import",
        json={
            "import_data": [
                {"email": "new@example.com", "first_name": "New"},
                {"email": "kept@example.com", "first_name": "Kept"},
                {"email": "out@example.com"},
            ],
            "list_ids": [list_id],
        },
    ).json()
    done = _settle(cc_sandbox, cc_http, activity)
    assert done["status"]["cannot_add_to_list_count"] == 1

    def find(email: str) -> dict[str, Any]:
        found = cc_http.get(
            "/contacts", params={"email": email, "include": "list_memberships"}
        ).json()["contacts"]
        return dict(found[0])

    new = find("new@example.com")
    assert new["email_address"]["permission_to_send"] == "implicit"
    assert new["email_address"]["opt_in_source"] == "Account"
    again = find("kept@example.com")
    assert again["email_address"]["permission_to_send"] == "explicit"
    assert again["first_name"] == "Kept"
    out = cc_http.get(
        "/contacts",
        params={"email": "out@example.com", "status": "all", "include": "list_memberships"},
    ).json()["contacts"][0]
    assert list_id not in out.get("list_memberships", [])


def test_fact_12_csv_import_drops_lines_past_40000_silently(
    cc_sandbox: Sandbox, cc_http: httpx.Client
) -> None:
    list_id = _new_list(cc_http, "Big CSV")
    rows = "".join(f"r{i}@example.com\n" for i in range(40_010))
    started = cc_http.post(
        "/activities/contacts_file_import",
        files={"file": ("big.csv", ("email\n" + rows).encode(), "text/csv")},
        data={"list_ids": list_id},
    )
    assert started.status_code == 201, started.text
    done = _settle(cc_sandbox, cc_http, started.json())
    assert done["state"] == "completed"
    counted = cc_http.get("/contacts/counts").json()
    assert counted["total"] == 1 + 39_999  # the owner, plus 40,000 lines less the header


# -- fact 13: exports --------------------------------------------------------------------------------
def test_fact_13_exports_link_results_as_csv(cc_sandbox: Sandbox, cc_http: httpx.Client) -> None:
    activity = cc_http.post("/activities/contact_exports", json={}).json()
    href = activity["_links"]["results"]["href"]
    assert href == f"/v3/contact_exports/{activity['activity_id']}"
    _settle(cc_sandbox, cc_http, activity)
    download = cc_http.get(href.removeprefix("/v3"))
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "owner@example.com" in download.text


# -- fact 14: POST /emails ------------------------------------------------------------------------------
def _campaign(name: str, **activity: Any) -> dict[str, Any]:
    base = {
        "format_type": 5,
        "from_name": "Olive",
        "from_email": "owner@example.com",
        "reply_to_email": "owner@example.com",
        "subject": "Hello",
        "html_content": HTML,
    }
    return {"name": name, "email_campaign_activities": [{**base, **activity}]}


def test_fact_14_creating_a_campaign(cc_http: httpx.Client) -> None:
    created = cc_http.post("/emails", json=_campaign("Spring"))
    assert created.status_code == 200
    body = created.json()
    assert body["current_status"].upper() == "DRAFT"
    assert sorted(a["role"] for a in body["campaign_activities"]) == ["permalink", "primary_email"]
    assert cc_http.post("/emails", json=_campaign("Spring")).status_code == 409
    for bad in (
        _campaign("F1", format_type=1),
        _campaign("F2", from_email="stranger@example.com"),
        _campaign("F3", html_content="<html><body>no tracking</body></html>"),
        _campaign("F4", html_content=HTML.replace("Hello", "${name}")),
        _campaign("F5", html_content=HTML.replace("Hello", "[#if]")),
        _campaign("F6", html_content=HTML.replace("Hello", "<@macro>")),
    ):
        assert cc_http.post("/emails", json=bad).status_code == 400, bad


# -- fact 15: sending ---------------------------------------------------------------------------------
def test_fact_15_schedules_tests_and_activity_rules(
    cc_sandbox: Sandbox, cc_http: httpx.Client, cc_account: AccountData
) -> None:
    list_id = next(iter(cc_account.lists))
    body = cc_http.post("/emails", json=_campaign("Send me")).json()
    primary = next(a for a in body["campaign_activities"] if a["role"] == "primary_email")
    aid = primary["campaign_activity_id"]
    activity = cc_http.get(f"/emails/activities/{aid}").json()

    no_recipients = cc_http.post(
        f"/emails/activities/{aid}/schedules", json={"scheduled_date": "0"}
    )
    assert no_recipients.status_code == 400
    assert cc_http.delete(f"/emails/activities/{aid}/schedules").status_code != 204

    put_body = {
        key: activity[key]
        for key in ("format_type", "from_name", "from_email", "reply_to_email", "subject")
    }
    put_body["html_content"] = HTML
    put_body["contact_list_ids"] = [list_id]
    assert cc_http.put(f"/emails/activities/{aid}", json=put_body).status_code == 200

    future = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(cc_sandbox.clock.time() + 86400))
    scheduled = cc_http.post(f"/emails/activities/{aid}/schedules", json={"scheduled_date": future})
    assert scheduled.status_code == 201
    assert len(scheduled.json()) == 1 and "scheduled_date" in scheduled.json()[0]
    assert cc_http.put(f"/emails/activities/{aid}", json=put_body).status_code != 200
    assert cc_http.delete(f"/emails/activities/{aid}/schedules").status_code == 204

    now = cc_http.post(f"/emails/activities/{aid}/schedules", json={"scheduled_date": "0"})
    assert now.status_code == 201 and now.json() == []

    tests = cc_http.post(
        f"/emails/activities/{aid}/tests",
        json={"email_addresses": [f"t{i}@example.com" for i in range(5)]},
    )
    assert tests.status_code == 204
    too_many = cc_http.post(
        f"/emails/activities/{aid}/tests",
        json={"email_addresses": [f"u{i}@example.com" for i in range(6)]},
    )
    assert too_many.status_code == 400
    for _ in range(9):  # 5 + 9 * 5 = 50 recipients today
        cc_http.post(
            f"/emails/activities/{aid}/tests", json={"email_addresses": ["v@example.com"] * 5}
        )
    over = cc_http.post(
        f"/emails/activities/{aid}/tests", json={"email_addresses": ["w@example.com"]}
    )
    assert over.status_code != 204


@pytest.mark.parametrize("limit_kind", ["lists_per_account", "lists_per_contact"])
def test_fact_15_account_and_contact_limits(
    cc_http: httpx.Client, cc_account: AccountData, limit_kind: str
) -> None:
    if limit_kind == "lists_per_account":
        from ccbridge.sandbox.state import ContactList

        now = cc_account.account.created_at
        while len(cc_account.lists) < 1000:
            n = len(cc_account.lists)
            item = ContactList(
                list_id=f"00000000-0000-4000-8000-{n:012d}",
                name=f"L{n}",
                created_at=now,
                updated_at=now,
            )
            cc_account.lists[item.list_id] = item
        assert cc_http.post("/contact_lists", json={"name": "one too many"}).status_code == 400
    else:
        lists = [_new_list(cc_http, f"M{i}") for i in range(51)]
        too_many = cc_http.post(
            "/contacts",
            json={
                "email_address": {"address": "many@example.com"},
                "create_source": "Account",
                "list_memberships": lists,
            },
        )
        assert too_many.status_code == 400
