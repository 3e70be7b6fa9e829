"""Bulk activities: the JSON import, the activity life cycle, listing, the cap and faults.

Expected behaviour comes from CC-V3-FACTS §5, §8 and §11 (facts 11 and 12). The helpers at
the top build account data directly in the sandbox state so these tests do not depend on
the contacts, lists, tags or custom-fields endpoints.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.contact_lifecycle import create_contact, new_email_address
from ccbridge.sandbox.state import (
    AccountData,
    App,
    Contact,
    ContactList,
    CustomField,
    Tag,
    new_id,
)
from ccbridge.testing.plugin import ALL_SCOPES

# -- helpers (also used by the other test_bulk_activities_* modules) ------------------------


def make_list(sandbox: Sandbox, data: AccountData, name: str) -> str:
    now = sandbox.clock.now()
    lst = ContactList(list_id=new_id(), name=name, created_at=now, updated_at=now)
    data.lists[lst.list_id] = lst
    return lst.list_id


def make_tag(sandbox: Sandbox, data: AccountData, name: str) -> str:
    now = sandbox.clock.now()
    tag = Tag(tag_id=new_id(), name=name, created_at=now, updated_at=now)
    data.tags[tag.tag_id] = tag
    return tag.tag_id


def make_custom_field(sandbox: Sandbox, data: AccountData, label: str) -> str:
    now = sandbox.clock.now()
    cf = CustomField(
        custom_field_id=new_id(),
        label=label,
        name=label.replace(" ", "_"),
        type="string",
        created_at=now,
        updated_at=now,
    )
    data.custom_fields[cf.custom_field_id] = cf
    return cf.custom_field_id


def make_contact(
    sandbox: Sandbox,
    data: AccountData,
    email: str,
    permission: str = "explicit",
    *,
    lists: tuple[str, ...] = (),
    source: str = "Contact",
    **fields: Any,
) -> Contact:
    now = sandbox.clock.now()
    return create_contact(
        data,
        now,
        create_source=source,
        email=new_email_address(email, permission, source, now),
        list_memberships=lists,
        **fields,
    )


def finish(sandbox: Sandbox, http: httpx.Client, activity_id: str) -> dict[str, Any]:
    """Move the clock far enough for any activity to end, then read it back."""
    sandbox.advance_clock(3600)
    response = http.get(f"/activities/{activity_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert body["state"] in ("completed", "failed", "cancelled", "timed_out")
    return body


def json_import(
    http: httpx.Client, rows: list[dict[str, Any]], list_ids: list[str], **extra: Any
) -> httpx.Response:
    return http.post(
        "/activities/contacts_json_import",
        json={"import_data": rows, "list_ids": list_ids, **extra},
    )


def error_text(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    return str(body[0]["error_message"])


@pytest.fixture
def list_id(cc_sandbox: Sandbox, cc_account: AccountData) -> str:
    return make_list(cc_sandbox, cc_account, "Imported")


# -- the activity life cycle --------------------------------------------------------------------


def test_json_import_answers_201_initialized_with_self_link(
    cc_http: httpx.Client, list_id: str
) -> None:
    response = json_import(cc_http, [{"email": "ann@example.com"}], [list_id])
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "initialized"
    assert body["percent_done"] == 0
    assert body["_links"]["self"]["href"] == f"/v3/activities/{body['activity_id']}"
    assert body["status"]["items_total_count"] == 1
    assert body["activity_errors"] == []


def test_import_moves_processing_then_completed_on_the_clock(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    cc_sandbox.state.settings.activity_items_per_second = 10
    rows = [{"email": f"p{i}@example.com"} for i in range(40)]
    activity_id = json_import(cc_http, rows, [list_id]).json()["activity_id"]

    cc_sandbox.advance_clock(2)  # 20 of 40 rows at 10 rows/s
    halfway = cc_http.get(f"/activities/{activity_id}").json()
    assert halfway["state"] == "processing"
    assert 40 <= halfway["percent_done"] < 100
    assert 20 <= halfway["status"]["items_completed_count"] < 40
    assert "started_at" in halfway and "completed_at" not in halfway
    # The contacts arrive when the activity completes, not row by row.
    assert cc_account.contact_by_email("p0@example.com") is None

    cc_sandbox.advance_clock(3)
    done = cc_http.get(f"/activities/{activity_id}").json()
    assert done["state"] == "completed"
    assert done["percent_done"] == 100
    assert done["status"]["items_completed_count"] == 40
    assert done["status"]["person_count"] == 40
    assert "completed_at" in done
    assert cc_account.contact_by_email("p39@example.com") is not None


def test_new_contacts_are_implicit_from_the_account_and_join_the_lists(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    other = make_list(cc_sandbox, cc_account, "Second")
    activity_id = json_import(
        cc_http, [{"email": "new@example.com", "first_name": "Nia"}], [list_id, other]
    ).json()["activity_id"]
    finish(cc_sandbox, cc_http, activity_id)

    contact = cc_account.contact_by_email("new@example.com")
    assert contact is not None and contact.email_address is not None
    assert contact.email_address.permission_to_send == "implicit"
    assert contact.email_address.opt_in_source == "Account"
    assert contact.create_source == "Account"
    assert contact.first_name == "Nia"
    assert contact.list_memberships == [list_id, other]


def test_existing_contact_keeps_its_permission_and_unsupplied_fields(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    existing = make_contact(
        cc_sandbox, cc_account, "kim@example.com", "explicit", first_name="Kim", last_name="Lee"
    )
    activity_id = json_import(
        cc_http, [{"email": "KIM@example.com", "first_name": "Kimberly"}], [list_id]
    ).json()["activity_id"]
    body = finish(cc_sandbox, cc_http, activity_id)

    assert body["status"]["cannot_add_to_list_count"] == 0
    assert cc_account.contact_by_email("kim@example.com") is existing
    assert existing.email_address is not None
    assert existing.email_address.permission_to_send == "explicit"
    assert existing.email_address.opt_in_source == "Contact"
    assert existing.first_name == "Kimberly"
    assert existing.last_name == "Lee"  # not in the row, so untouched
    assert existing.update_source == "Account"
    assert list_id in existing.list_memberships


def test_unsubscribed_contact_is_updated_but_not_added_to_lists(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    gone = make_contact(cc_sandbox, cc_account, "gone@example.com", "unsubscribed")
    rows = [{"email": "gone@example.com", "job_title": "Chef"}, {"email": "fresh@example.com"}]
    body = finish(cc_sandbox, cc_http, json_import(cc_http, rows, [list_id]).json()["activity_id"])

    assert body["status"]["cannot_add_to_list_count"] == 1
    assert body["status"]["error_count"] == 0
    assert gone.list_memberships == []
    assert gone.job_title == "Chef"
    assert gone.email_address is not None
    assert gone.email_address.permission_to_send == "unsubscribed"
    fresh = cc_account.contact_by_email("fresh@example.com")
    assert fresh is not None and fresh.list_memberships == [list_id]


def test_importing_a_deleted_contact_revives_it(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    ghost = make_contact(cc_sandbox, cc_account, "ghost@example.com", "implicit")
    ghost.deleted_at = cc_sandbox.clock.now()
    body = finish(
        cc_sandbox,
        cc_http,
        json_import(cc_http, [{"email": "ghost@example.com"}], [list_id]).json()["activity_id"],
    )
    assert body["state"] == "completed"
    assert ghost.deleted_at is None
    assert ghost.list_memberships == [list_id]
    assert (
        len(
            [
                c
                for c in cc_account.contacts.values()
                if c.email_address and c.email_address.address == "ghost@example.com"
            ]
        )
        == 1
    )


# -- what a row can carry -----------------------------------------------------------------------


def test_phones_addresses_dates_and_custom_fields_are_mapped(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    field_id = make_custom_field(cc_sandbox, cc_account, "Car Model")
    row = {
        "email": "map@example.com",
        "phone": "555-555-0001",
        "work_phone": "555-555-0002",
        "street": "1 Main St",
        "street2": "Apt 4",
        "city": "Springfield",
        "zip": "01101",
        "work_city": "Boston",
        "birthday_month": 11,
        "birthday_day": 24,
        "anniversary": "3/7/2015",
        "cf:Car_Model": "Tesla S",
    }
    body = finish(cc_sandbox, cc_http, json_import(cc_http, [row], [list_id]).json()["activity_id"])
    assert body["activity_errors"] == []

    contact = cc_account.contact_by_email("map@example.com")
    assert contact is not None
    phones = {p["kind"]: p["phone_number"] for p in contact.phone_numbers}
    assert phones == {"other": "555-555-0001", "work": "555-555-0002"}
    addresses = {a["kind"]: a for a in contact.street_addresses}
    assert addresses["home"]["street"] == "1 Main St Apt 4"
    assert addresses["home"]["city"] == "Springfield"
    assert addresses["home"]["postal_code"] == "01101"
    assert addresses["work"]["city"] == "Boston"
    assert (contact.birthday_month, contact.birthday_day) == (11, 24)
    assert contact.anniversary == "2015-03-07"
    assert contact.custom_fields == [{"custom_field_id": field_id, "value": "Tesla S"}]


def test_row_problems_become_activity_errors_with_row_number_and_email(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    rows = [
        {"email": "ok1@example.com"},
        {"email": "not-an-email"},  # correctable
        {"email": "cf@example.com", "cf:nope": "x"},  # unknown custom field
        {"email": "long@example.com", "first_name": "x" * 51},  # too long
        {"email": "bday@example.com", "birthday_month": 2},  # day missing: correctable
        {"first_name": "Nobody"},  # neither email nor sms_number: correctable
        {"email": "ok2@example.com"},
    ]
    body = finish(cc_sandbox, cc_http, json_import(cc_http, rows, [list_id]).json()["activity_id"])

    assert body["state"] == "completed"
    status = body["status"]
    assert status["person_count"] == 7
    assert status["correctable_count"] == 3
    assert status["error_count"] == 2
    errors = body["activity_errors"]
    assert len(errors) == 5
    assert errors[0].startswith("Row 2 (not-an-email): ")
    assert errors[1].startswith("Row 3 (cf@example.com): ") and "cf:nope" in errors[1]
    assert errors[2].startswith("Row 4 (long@example.com): ") and "first_name" in errors[2]
    assert errors[3].startswith("Row 5 (bday@example.com): ")
    assert errors[4].startswith("Row 6 (no email): ")
    assert cc_account.contact_by_email("ok1@example.com") is not None
    assert cc_account.contact_by_email("ok2@example.com") is not None
    assert cc_account.contact_by_email("cf@example.com") is None  # a bad row is skipped whole
    assert cc_account.contact_by_email("long@example.com") is None


def test_a_contact_never_passes_50_lists(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    full = tuple(make_list(cc_sandbox, cc_account, f"L{i}") for i in range(50))
    busy = make_contact(cc_sandbox, cc_account, "busy@example.com", lists=full)
    rows = [{"email": "busy@example.com", "first_name": "Bo"}]
    body = finish(cc_sandbox, cc_http, json_import(cc_http, rows, [list_id]).json()["activity_id"])
    assert body["status"]["error_count"] == 1
    assert body["activity_errors"][0].startswith("Row 1 (busy@example.com): ")
    assert "50" in body["activity_errors"][0]
    assert len(busy.list_memberships) == 50 and list_id not in busy.list_memberships


def test_sms_numbers_need_a_consent_date_when_permission_is_explicit(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    rows = [
        {"sms_number": "617-555-0101", "sms_consent_date": "2024-07-03", "first_name": "Sam"},
        {"sms_number": "6175550102"},  # no consent date
    ]
    response = json_import(cc_http, rows, [list_id], sms_permission_to_send="explicit")
    body = finish(cc_sandbox, cc_http, response.json()["activity_id"])
    assert body["status"]["error_count"] == 1
    assert "sms_consent_date" in body["activity_errors"][0]
    sam = next(c for c in cc_account.contacts.values() if c.first_name == "Sam")
    assert sam.email_address is None
    assert sam.sms_channel is not None and sam.sms_channel["sms_address"] == "6175550101"
    consent = sam.sms_channel["sms_channel_consents"][0]
    assert consent["sms_consent_permission"] == "explicit"


# -- request validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"list_ids": ["LIST"]}, "import_data"),
        ({"import_data": {"email": "a@example.com"}, "list_ids": ["LIST"]}, "import_data"),
        ({"import_data": [], "list_ids": ["LIST"]}, "import_data"),
        ({"import_data": ["a@example.com"], "list_ids": ["LIST"]}, "import_data[0]"),
        ({"import_data": [{"email": "a@example.com"}]}, "list_ids"),
        ({"import_data": [{"email": "a@example.com"}], "list_ids": []}, "list_ids"),
        ({"import_data": [{"email": "a@example.com"}], "list_ids": ["nope"]}, "list_ids"),
        (
            {"import_data": [{"email": "a@example.com"}], "list_ids": [new_id()]},
            "list_ids",
        ),
        (
            {
                "import_data": [{"email": "a@example.com"}],
                "list_ids": ["LIST"],
                "sms_permission_to_send": "implicit",
            },
            "sms_permission_to_send",
        ),
        (
            {"import_data": [{"email": "a@example.com"}], "list_ids": ["LIST"], "lists": []},
            "lists",
        ),
    ],
)
def test_malformed_import_requests_are_400_naming_the_field(
    cc_http: httpx.Client, list_id: str, body: dict[str, Any], named: str
) -> None:
    text = json.dumps(body).replace('"LIST"', f'"{list_id}"')
    response = cc_http.post(
        "/activities/contacts_json_import",
        content=text,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()[0]["error_key"] == "activities.api.validation.error"
    assert named in error_text(response)


def test_more_than_50_target_lists_is_400(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client
) -> None:
    lists = [make_list(cc_sandbox, cc_account, f"T{i}") for i in range(51)]
    response = json_import(cc_http, [{"email": "a@example.com"}], lists)
    assert response.status_code == 400
    assert "list_ids" in error_text(response)


def test_more_than_40000_contacts_is_400(cc_http: httpx.Client, list_id: str) -> None:
    rows = [{"email": f"x{i}@e.co"} for i in range(40_001)]
    response = json_import(cc_http, rows, [list_id])
    assert response.status_code == 400
    assert "import_data" in error_text(response) and "40,000" in error_text(response)


def test_json_body_over_4_mb_imports_only_the_contacts_in_the_first_4_mb(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    pad = "y" * 50
    rows = [
        {
            "email": f"big{i}@example.com",
            "first_name": pad,
            "last_name": pad,
            "job_title": pad,
            "company_name": pad,
        }
        for i in range(20_000)
    ]
    response = json_import(cc_http, rows, [list_id])
    assert len(response.request.content) > 4 * 1024 * 1024
    assert response.status_code == 201
    kept = response.json()["status"]["items_total_count"]
    assert 0 < kept < 20_000
    body = finish(cc_sandbox, cc_http, response.json()["activity_id"])
    assert body["status"]["person_count"] == kept
    assert cc_account.contact_by_email("big0@example.com") is not None
    assert cc_account.contact_by_email(f"big{kept - 1}@example.com") is not None
    assert cc_account.contact_by_email(f"big{kept}@example.com") is None
    assert cc_account.contact_by_email("big19999@example.com") is None


def test_a_40000_contact_import_completes(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    rows = [{"email": f"bulk{i}@example.com", "first_name": "Bulk"} for i in range(40_000)]
    response = json_import(cc_http, rows, [list_id])
    assert response.status_code == 201
    body = finish(cc_sandbox, cc_http, response.json()["activity_id"])
    assert body["state"] == "completed"
    assert body["status"]["person_count"] == 40_000
    assert body["status"]["error_count"] == 0
    members = sum(1 for c in cc_account.contacts.values() if list_id in c.list_memberships)
    assert members == 40_000


# -- reading activities -------------------------------------------------------------------------


def test_unknown_or_malformed_activity_id_is_404(cc_http: httpx.Client) -> None:
    assert cc_http.get(f"/activities/{new_id()}").status_code == 404
    response = cc_http.get("/activities/not-an-id")
    assert response.status_code == 404
    assert "activity_id" in error_text(response)


def test_activities_list_filters_by_state_and_covers_ten_days(
    cc_sandbox: Sandbox,
    cc_app: App,
    cc_account: AccountData,
    cc_http: httpx.Client,
    list_id: str,
) -> None:
    old = json_import(cc_http, [{"email": "old@example.com"}], [list_id]).json()["activity_id"]
    cc_sandbox.advance_clock(11 * 86_400)  # the first activity is now 11 days old
    fresh = cc_sandbox.issuer.issue(  # the 24-hour access token died meanwhile
        cc_sandbox.state, cc_sandbox.clock, cc_app, cc_account.account.account_id, ALL_SCOPES
    )
    cc_http.headers["Authorization"] = f"Bearer {fresh['access_token']}"
    cc_sandbox.state.settings.activity_items_per_second = 1
    done = json_import(cc_http, [{"email": "d@example.com"}], [list_id]).json()["activity_id"]
    cc_sandbox.advance_clock(5)
    rows = [{"email": f"r{i}@example.com"} for i in range(100)]
    running = json_import(cc_http, rows, [list_id]).json()["activity_id"]
    cc_sandbox.advance_clock(2)

    listed = cc_http.get("/activities").json()["activities"]
    assert [a["activity_id"] for a in listed] == [running, done]  # newest first, no old one
    assert old not in {a["activity_id"] for a in listed}

    completed = cc_http.get("/activities", params={"state": "completed"}).json()["activities"]
    assert [a["activity_id"] for a in completed] == [done]
    processing = cc_http.get("/activities", params={"state": "processing"}).json()["activities"]
    assert [a["activity_id"] for a in processing] == [running]


def test_activities_state_filter_rejects_initialized_and_bad_limits(cc_http: httpx.Client) -> None:
    response = cc_http.get("/activities", params={"state": "initialized"})
    assert response.status_code == 400 and "state" in error_text(response)
    for limit in ("0", "501", "ten"):
        response = cc_http.get("/activities", params={"limit": limit})
        assert response.status_code == 400 and "limit" in error_text(response)


def test_activities_are_cursor_paged(
    cc_sandbox: Sandbox, cc_http: httpx.Client, list_id: str
) -> None:
    created = []
    for i in range(5):
        created.append(
            json_import(cc_http, [{"email": f"c{i}@example.com"}], [list_id]).json()["activity_id"]
        )
        cc_sandbox.advance_clock(1)
    seen: list[str] = []
    page = cc_http.get("/activities", params={"limit": 2}).json()
    while True:
        assert len(page["activities"]) <= 2
        seen.extend(a["activity_id"] for a in page["activities"])
        href = page.get("_links", {}).get("next", {}).get("href")
        if not href:
            break
        assert href.startswith("/v3/activities?cursor=")
        page = cc_http.get(href.removeprefix("/v3")).json()
    assert seen == list(reversed(created))


# -- the queue cap and injected failures -------------------------------------------------------


def test_more_than_1000_queued_activities_is_429(
    cc_sandbox: Sandbox, cc_http: httpx.Client, list_id: str
) -> None:
    cc_sandbox.state.settings.activity_items_per_second = 0.001  # nothing finishes meanwhile
    for _ in range(1000):
        assert cc_http.post("/activities/contact_exports", json={}).status_code == 201
    refused = json_import(cc_http, [{"email": "late@example.com"}], [list_id])
    assert refused.status_code == 429
    assert "1000 queued activities" in error_text(refused)

    cc_sandbox.advance_clock(10_000)  # the queue drains
    assert json_import(cc_http, [{"email": "late@example.com"}], [list_id]).status_code == 201


def test_an_injected_fault_ends_the_import_failed_without_importing(
    cc_sandbox: Sandbox,
    cc_account: AccountData,
    cc_http: httpx.Client,
    cc_raw: httpx.Client,
    list_id: str,
) -> None:
    rule = {
        "match": {"path": "/v3/activities/contacts_json_import"},
        "action": {"activity": "failed"},
    }
    assert cc_raw.post("/_sandbox/faults", json=rule).status_code == 201
    response = json_import(cc_http, [{"email": "doomed@example.com"}], [list_id])
    assert response.status_code == 201
    body = finish(cc_sandbox, cc_http, response.json()["activity_id"])
    assert body["state"] == "failed"
    assert body["activity_errors"]
    assert cc_account.contact_by_email("doomed@example.com") is None


def test_activity_timestamps_follow_the_sandbox_clock(
    cc_sandbox: Sandbox, cc_http: httpx.Client, list_id: str
) -> None:
    created = json_import(cc_http, [{"email": "t@example.com"}], [list_id]).json()
    body = finish(cc_sandbox, cc_http, created["activity_id"])
    start = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(body["completed_at"].replace("Z", "+00:00"))
    assert (end - start).total_seconds() >= 3600


def test_imported_contacts_read_back_through_the_contacts_api(
    cc_sandbox: Sandbox, cc_http: httpx.Client, list_id: str
) -> None:
    row = {
        "email": "round@example.com",
        "first_name": "Ro",
        "home_phone": "555-0199",
        "work_city": "Austin",
        "sms_number": "512-555-0100",
    }
    finish(cc_sandbox, cc_http, json_import(cc_http, [row], [list_id]).json()["activity_id"])
    response = cc_http.get(
        "/contacts",
        params={
            "email": "round@example.com",
            "include": "phone_numbers,street_addresses,list_memberships",
        },
    )
    assert response.status_code == 200
    (contact,) = response.json()["contacts"]
    assert contact["first_name"] == "Ro"
    assert contact["create_source"] == "Account"
    assert contact["email_address"]["permission_to_send"] == "implicit"
    assert contact["email_address"]["opt_in_source"] == "Account"
    assert contact["list_memberships"] == [list_id]
    assert [(p["kind"], p["phone_number"]) for p in contact["phone_numbers"]] == [
        ("home", "555-0199")
    ]
    assert [(a["kind"], a["city"]) for a in contact["street_addresses"]] == [("work", "Austin")]
