"""Email campaigns in the sandbox, built to CC-V3-FACTS §6 and §11 fact 14."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.clock import iso
from ccbridge.sandbox.state import AccountData, Segment
from tests.sandbox.campaign_support import (
    HTML,
    OWNER,
    activity_id,
    activity_input,
    campaign_body,
    create_campaign,
    new_list,
    send_now,
    target_lists,
)


def _error(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    return str(body[0]["error_message"])


# -- create ---------------------------------------------------------------------------------
def test_create_answers_200_with_primary_and_permalink_activities(cc_http: httpx.Client) -> None:
    response = cc_http.post("/emails", json=campaign_body("Welcome"))
    assert response.status_code == 200
    campaign = response.json()
    assert campaign["name"] == "Welcome"
    assert campaign["current_status"] == "Draft"
    assert campaign["type"] == "CUSTOM_CODE_EMAIL" and campaign["type_code"] == 26
    assert sorted(a["role"] for a in campaign["campaign_activities"]) == [
        "permalink",
        "primary_email",
    ]
    fetched = cc_http.get(f"/emails/{campaign['campaign_id']}").json()
    assert fetched == campaign


def test_created_activity_holds_the_content_and_the_accounts_footer(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    campaign = create_campaign(cc_http, "Footer", preheader="A short summary")
    primary = activity_id(campaign)
    plain = cc_http.get(f"/emails/activities/{primary}").json()
    assert plain["current_status"] == "DRAFT"
    assert plain["format_type"] == 5
    assert plain["from_email"] == OWNER and plain["subject"] == "Our news"
    assert plain["preheader"] == "A short summary"
    assert "html_content" not in plain and "physical_address_in_footer" not in plain
    full = cc_http.get(
        f"/emails/activities/{primary}",
        params={"include": "html_content,physical_address_in_footer,permalink_url"},
    ).json()
    assert full["html_content"] == HTML
    footer = full["physical_address_in_footer"]
    address = cc_account.account.physical_address
    assert footer["organization_name"] == cc_account.account.organization_name
    assert footer["address_line1"] == address["address_line1"]
    assert footer["state_code"] == address["state_code"]
    assert full["permalink_url"].startswith("http")


def test_an_explicit_footer_is_kept(cc_http: httpx.Client) -> None:
    footer = {
        "address_line1": "1 Rue de Rivoli",
        "city": "Paris",
        "country_code": "FR",
        "organization_name": "Exemple SARL",
        "state_non_us_name": "Ile-de-France",
    }
    campaign = create_campaign(cc_http, "Paris", physical_address_in_footer=footer)
    shown = cc_http.get(
        f"/emails/activities/{activity_id(campaign)}",
        params={"include": "physical_address_in_footer"},
    ).json()["physical_address_in_footer"]
    assert shown == footer


def test_duplicate_name_is_409(cc_http: httpx.Client) -> None:
    create_campaign(cc_http, "Same name")
    response = cc_http.post("/emails", json=campaign_body("Same name"))
    assert response.status_code == 409
    assert "Same name" in _error(response)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"format_type": 1}, "format_type"),
        ({"format_type": "5"}, "format_type"),
        ({"format_type": None}, "format_type"),
        ({"from_name": None}, "from_name"),
        ({"from_name": "x" * 101}, "from_name"),
        ({"subject": None}, "subject"),
        ({"subject": ""}, "subject"),
        ({"from_email": None}, "from_email"),
        ({"from_email": "a" * 70 + "@example.com"}, "from_email"),
        ({"reply_to_email": "not-an-email"}, "reply_to_email"),
        ({"preheader": "p" * 201}, "preheader"),
        ({"html_content": None}, "html_content"),
        (
            {"physical_address_in_footer": {"address_line1": "1 Main", "country_code": "US"}},
            "organization_name",
        ),
        ({"text_content": "plain"}, "text_content"),
    ],
)
def test_invalid_activity_fields_are_400_naming_the_field(
    cc_http: httpx.Client, overrides: dict[str, object], named: str
) -> None:
    body = campaign_body("Invalid")
    activity = activity_input()
    for key, value in overrides.items():
        if value is None:
            activity.pop(key, None)
        else:
            activity[key] = value
    body["email_campaign_activities"] = [activity]
    response = cc_http.post("/emails", json=body)
    assert response.status_code == 400
    assert named in _error(response)


def test_us_footer_needs_a_state(cc_http: httpx.Client) -> None:
    footer = {"address_line1": "1 Main St", "country_code": "US", "organization_name": "Org"}
    response = cc_http.post(
        "/emails", json=campaign_body("No state", physical_address_in_footer=footer)
    )
    assert response.status_code == 400
    assert "state_code" in _error(response)


def test_unconfirmed_account_email_cannot_be_the_sender(cc_http: httpx.Client) -> None:
    added = cc_http.post("/account/emails", json={"email_address": "new@example.com"})
    assert added.status_code == 201 and added.json()["confirm_status"] == "UNCONFIRMED"
    for field in ("from_email", "reply_to_email"):
        response = cc_http.post(
            "/emails", json=campaign_body("Unconfirmed", **{field: "new@example.com"})
        )
        assert response.status_code == 400
        message = _error(response)
        assert field in message and "confirmed" in message


def test_html_without_tracking_image_is_400(cc_http: httpx.Client) -> None:
    html = "<html><body><p>No tracker</p></body></html>"
    response = cc_http.post("/emails", json=campaign_body("No tracker", html_content=html))
    assert response.status_code == 400
    assert "[[trackingImage]]" in _error(response)


def test_tracking_image_outside_body_is_400(cc_http: httpx.Client) -> None:
    html = "<html><head>[[trackingImage]]</head><body><p>Hi</p></body></html>"
    response = cc_http.post("/emails", json=campaign_body("Head tracker", html_content=html))
    assert response.status_code == 400
    message = _error(response)
    assert "[[trackingImage]]" in message and "body" in message


@pytest.mark.parametrize("sequence", ["[#", "${", "<@"])
def test_template_language_sequences_are_400_naming_them(
    cc_http: httpx.Client, sequence: str
) -> None:
    html = f"<html><body><p>Price {sequence}price</p>[[trackingImage]]</body></html>"
    response = cc_http.post("/emails", json=campaign_body("Forbidden", html_content=html))
    assert response.status_code == 400
    assert sequence in _error(response)


def test_html_over_150000_characters_is_400(cc_http: httpx.Client) -> None:
    filler = "x" * 150_000
    html = f"<html><body><p>{filler}</p>[[trackingImage]]</body></html>"
    response = cc_http.post("/emails", json=campaign_body("Huge", html_content=html))
    assert response.status_code == 400
    message = _error(response)
    assert "html_content" in message and "150000" in message


def test_html_of_exactly_150000_characters_is_accepted(cc_http: httpx.Client) -> None:
    shell = "<html><body><p></p>[[trackingImage]]</body></html>"
    html = shell.replace("<p></p>", "<p>" + "y" * (150_000 - len(shell)) + "</p>")
    assert len(html) == 150_000
    response = cc_http.post("/emails", json=campaign_body("Just fits", html_content=html))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"email_campaign_activities": [activity_input()]}, "name"),
        ({"name": "x" * 81, "email_campaign_activities": [activity_input()]}, "name"),
        ({"name": "   ", "email_campaign_activities": [activity_input()]}, "name"),
        ({"name": "No activities"}, "email_campaign_activities"),
        ({"name": "Empty", "email_campaign_activities": []}, "email_campaign_activities"),
        (
            {"name": "Two", "email_campaign_activities": [activity_input(), activity_input()]},
            "email_campaign_activities",
        ),
        ({"name": "Bad", "email_campaign_activities": ["text"]}, "email_campaign_activities"),
        ({"name": "Extra", "email_campaign_activities": [activity_input()], "x": 1}, "x"),
    ],
)
def test_invalid_campaign_bodies_are_400(
    cc_http: httpx.Client, body: dict[str, object], named: str
) -> None:
    response = cc_http.post("/emails", json=body)
    assert response.status_code == 400
    assert named in _error(response)


def test_malformed_json_is_400_and_wrong_media_type_415(cc_http: httpx.Client) -> None:
    bad = cc_http.post(
        "/emails", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400
    wrong = cc_http.post("/emails", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert wrong.status_code == 415
    not_object = cc_http.post("/emails", json=[1, 2])
    assert not_object.status_code == 400


# -- list, get, rename, delete ------------------------------------------------------------
def test_list_pages_with_cursor_and_omits_activities(cc_http: httpx.Client) -> None:
    names = [f"Campaign {n}" for n in range(5)]
    for name in names:
        create_campaign(cc_http, name)
    first = cc_http.get("/emails", params={"limit": 2}).json()
    assert len(first["campaigns"]) == 2
    assert all("campaign_activities" not in c for c in first["campaigns"])
    seen = [c["name"] for c in first["campaigns"]]
    href = first["_links"]["next"]["href"]
    while href:
        assert href.startswith("/v3/emails?cursor=")
        page = cc_http.get(href.removeprefix("/v3")).json()
        seen += [c["name"] for c in page["campaigns"]]
        href = page.get("_links", {}).get("next", {}).get("href")
    assert sorted(seen) == sorted(names)


@pytest.mark.parametrize("limit", ["0", "501", "ten"])
def test_list_rejects_bad_limit(cc_http: httpx.Client, limit: str) -> None:
    response = cc_http.get("/emails", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in _error(response)


def test_list_filters_on_updated_at(cc_http: httpx.Client, cc_sandbox: Sandbox) -> None:
    old = create_campaign(cc_http, "Old one")
    cc_sandbox.advance_clock(3600)
    middle = cc_sandbox.clock.now()
    cc_sandbox.advance_clock(3600)
    new = create_campaign(cc_http, "New one")
    after = cc_http.get("/emails", params={"after_date": iso(middle)}).json()["campaigns"]
    assert [c["campaign_id"] for c in after] == [new["campaign_id"]]
    before = cc_http.get("/emails", params={"before_date": iso(middle)}).json()["campaigns"]
    assert [c["campaign_id"] for c in before] == [old["campaign_id"]]
    bad = cc_http.get("/emails", params={"after_date": "yesterday"})
    assert bad.status_code == 400 and "after_date" in _error(bad)


def test_rename(cc_http: httpx.Client) -> None:
    campaign = create_campaign(cc_http, "Before")
    create_campaign(cc_http, "Taken")
    path = f"/emails/{campaign['campaign_id']}"
    renamed = cc_http.patch(path, json={"name": "After"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "After"
    assert cc_http.get(path).json()["name"] == "After"
    assert cc_http.patch(path, json={"name": "Taken"}).status_code == 409
    assert cc_http.patch(path, json={"name": "n" * 81}).status_code == 400
    assert cc_http.patch(path, json={}).status_code == 400
    assert cc_http.patch(path, json={"name": "After", "type": "X"}).status_code == 400


def test_delete_marks_removed_and_list_still_shows_it(cc_http: httpx.Client) -> None:
    campaign = create_campaign(cc_http, "Doomed")
    primary = activity_id(campaign)
    path = f"/emails/{campaign['campaign_id']}"
    response = cc_http.delete(path)
    assert response.status_code == 204 and response.content == b""
    assert cc_http.get(path).json()["current_status"] == "Removed"
    listed = {c["campaign_id"]: c for c in cc_http.get("/emails").json()["campaigns"]}
    assert listed[campaign["campaign_id"]]["current_status"] == "Removed"
    assert cc_http.get(f"/emails/activities/{primary}").status_code == 404
    assert cc_http.patch(path, json={"name": "Revived"}).status_code == 400
    assert cc_http.delete(path).status_code == 404
    # The name of a removed campaign is free again.
    assert cc_http.post("/emails", json=campaign_body("Doomed")).status_code == 200


def test_a_scheduled_campaign_cannot_be_deleted(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    campaign = create_campaign(cc_http, "Scheduled")
    primary = activity_id(campaign)
    target_lists(cc_http, primary, [new_list(cc_sandbox, cc_account, "L")])
    later = iso(cc_sandbox.clock.now() + timedelta(days=2))
    assert (
        cc_http.post(
            f"/emails/activities/{primary}/schedules", json={"scheduled_date": later}
        ).status_code
        == 201
    )
    response = cc_http.delete(f"/emails/{campaign['campaign_id']}")
    assert response.status_code == 400
    assert "Scheduled" in _error(response)


@pytest.mark.parametrize("raw", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_or_malformed_ids_are_404(cc_http: httpx.Client, raw: str) -> None:
    assert cc_http.get(f"/emails/{raw}").status_code == 404
    assert cc_http.patch(f"/emails/{raw}", json={"name": "x"}).status_code == 404
    assert cc_http.delete(f"/emails/{raw}").status_code == 404
    assert cc_http.get(f"/emails/activities/{raw}").status_code == 404
    assert cc_http.put(f"/emails/activities/{raw}", json={}).status_code == 404


def test_campaign_id_xrefs(cc_http: httpx.Client, cc_account: AccountData) -> None:
    campaign = create_campaign(cc_http, "Migrated")
    v2_id = str(cc_account.campaigns[campaign["campaign_id"]].sequence_id)
    found = cc_http.get("/emails/campaign_id_xrefs", params={"v2_email_campaign_ids": v2_id})
    assert found.status_code == 200
    assert found.json()["xrefs"] == [
        {
            "v2_email_campaign_id": v2_id,
            "campaign_id": campaign["campaign_id"],
            "campaign_activity_id": activity_id(campaign),
        }
    ]
    unknown = cc_http.get("/emails/campaign_id_xrefs", params={"v2_email_campaign_ids": "999999"})
    assert unknown.json() == {"xrefs": []}
    too_many = ",".join(str(n) for n in range(1, 52))
    over = cc_http.get("/emails/campaign_id_xrefs", params={"v2_email_campaign_ids": too_many})
    assert over.status_code == 400
    assert cc_http.get("/emails/campaign_id_xrefs").status_code == 400
    bad = cc_http.get("/emails/campaign_id_xrefs", params={"v2_email_campaign_ids": "abc"})
    assert bad.status_code == 400


# -- activities: GET and PUT ----------------------------------------------------------------
def test_get_activity_rejects_unknown_include(cc_http: httpx.Client) -> None:
    campaign = create_campaign(cc_http, "Include")
    response = cc_http.get(
        f"/emails/activities/{activity_id(campaign)}", params={"include": "contacts"}
    )
    assert response.status_code == 400
    assert "include" in _error(response)


def _put_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "from_name": "Example Org",
        "from_email": OWNER,
        "reply_to_email": OWNER,
        "subject": "Updated subject",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_put_replaces_top_level_and_keeps_omitted_subresources(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    campaign = create_campaign(cc_http, "Put", preheader="Old preheader")
    primary = activity_id(campaign)
    list_id = new_list(cc_sandbox, cc_account, "Readers")
    response = cc_http.put(
        f"/emails/activities/{primary}", json=_put_body(contact_list_ids=[list_id])
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["subject"] == "Updated subject"
    assert updated["contact_list_ids"] == [list_id]
    assert "preheader" not in updated  # a top-level property left out is cleared
    assert updated["html_content"] == HTML  # a sub-resource left out is kept
    again = cc_http.get(f"/emails/activities/{primary}").json()
    assert again["subject"] == "Updated subject" and "preheader" not in again


def test_put_can_replace_the_html_and_checks_it(cc_http: httpx.Client) -> None:
    campaign = create_campaign(cc_http, "New html")
    path = f"/emails/activities/{activity_id(campaign)}"
    new_html = "<html><body><p>Second draft</p>[[trackingImage]]</body></html>"
    assert cc_http.put(path, json=_put_body(html_content=new_html)).status_code == 200
    shown = cc_http.get(path, params={"include": "html_content"}).json()
    assert shown["html_content"] == new_html
    bad = cc_http.put(path, json=_put_body(html_content="<html><body>${x}</body></html>"))
    assert bad.status_code == 400 and "${" in _error(bad)


@pytest.mark.parametrize("missing", ["from_name", "from_email", "reply_to_email", "subject"])
def test_put_requires_the_sender_fields(cc_http: httpx.Client, missing: str) -> None:
    campaign = create_campaign(cc_http, f"Requires {missing}")
    body = _put_body()
    body.pop(missing)
    response = cc_http.put(f"/emails/activities/{activity_id(campaign)}", json=body)
    assert response.status_code == 400
    assert missing in _error(response)


def test_put_recipients_rules(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    campaign = create_campaign(cc_http, "Recipients")
    path = f"/emails/activities/{activity_id(campaign)}"
    list_id = new_list(cc_sandbox, cc_account, "Real list")
    now = cc_sandbox.clock.now()
    cc_account.segments[7] = Segment(
        segment_id=7, name="Fans", segment_criteria="{}", created_at=now, edited_at=now
    )
    both = cc_http.put(path, json=_put_body(contact_list_ids=[list_id], segment_ids=[7]))
    assert both.status_code == 400
    assert "contact_list_ids" in _error(both) and "segment_ids" in _error(both)
    missing_list = "11111111-2222-3333-4444-555555555555"
    unknown = cc_http.put(path, json=_put_body(contact_list_ids=[missing_list]))
    assert unknown.status_code == 400 and missing_list in _error(unknown)
    assert cc_http.put(path, json=_put_body(contact_list_ids=["nope"])).status_code == 400
    assert cc_http.put(path, json=_put_body(segment_ids=[8])).status_code == 400
    assert cc_http.put(path, json=_put_body(segment_ids=["7"])).status_code == 400
    segment = cc_http.put(path, json=_put_body(segment_ids=[7]))
    assert segment.status_code == 200 and segment.json()["segment_ids"] == [7]


def test_put_is_refused_on_the_permalink_and_while_scheduled(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    campaign = create_campaign(cc_http, "Refusals")
    permalink = cc_http.put(
        f"/emails/activities/{activity_id(campaign, 'permalink')}", json=_put_body()
    )
    assert permalink.status_code == 400 and "primary_email" in _error(permalink)
    primary = activity_id(campaign)
    target_lists(cc_http, primary, [new_list(cc_sandbox, cc_account, "Scheduled list")])
    later = iso(cc_sandbox.clock.now() + timedelta(days=1))
    cc_http.post(f"/emails/activities/{primary}/schedules", json={"scheduled_date": later})
    scheduled = cc_http.put(f"/emails/activities/{primary}", json=_put_body())
    assert scheduled.status_code == 400 and "SCHEDULED" in _error(scheduled)


def test_put_is_allowed_again_once_the_activity_is_done(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    campaign = create_campaign(cc_http, "Done then edit")
    primary = activity_id(campaign)
    target_lists(cc_http, primary, [new_list(cc_sandbox, cc_account, "Done list")])
    send_now(cc_http, cc_sandbox, primary)
    assert cc_http.get(f"/emails/activities/{primary}").json()["current_status"] == "DONE"
    response = cc_http.put(f"/emails/activities/{primary}", json=_put_body(subject="Again"))
    assert response.status_code == 200 and response.json()["subject"] == "Again"


def test_the_permalink_page_appears_once_sent(
    cc_http: httpx.Client, cc_raw: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    campaign = create_campaign(cc_http, "Permalink")
    primary = activity_id(campaign)
    url = cc_http.get(f"/emails/activities/{primary}", params={"include": "permalink_url"}).json()[
        "permalink_url"
    ]
    path = httpx.URL(url).path
    assert cc_raw.get(path).status_code == 404
    target_lists(cc_http, primary, [new_list(cc_sandbox, cc_account, "Permalink list")])
    send_now(cc_http, cc_sandbox, primary)
    page = cc_raw.get(path)
    assert page.status_code == 200
    assert "Hello Friend" in page.text  # personal details never appear on the web copy
    assert "[[trackingImage]]" not in page.text


@pytest.mark.parametrize(
    "payload",
    [b"null", b"[]", b'"text"', b"12", b'{"name": 5}', b'{"name": ["x"]}', b"\xff\xfe"],
)
def test_junk_bodies_never_cause_500(cc_http: httpx.Client, payload: bytes) -> None:
    campaign = create_campaign(cc_http, "Junk target")
    headers = {"Content-Type": "application/json"}
    targets = [
        ("POST", "/emails"),
        ("PATCH", f"/emails/{campaign['campaign_id']}"),
        ("PUT", f"/emails/activities/{activity_id(campaign)}"),
    ]
    for method, path in targets:
        response = cc_http.request(method, path, content=payload, headers=headers)
        assert response.status_code == 400, (method, path, response.text)
