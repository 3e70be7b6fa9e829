"""Bulk activities that move files: the CSV import (multipart) and the contact export.

Expected behaviour: CC-V3-FACTS §2 (415 on a hand-set Content-Type), §5 (CSV columns,
40,000 lines and 4 MB silently truncated, export fields and results link) and §11 facts
12–13.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData, new_id
from tests.sandbox.test_bulk_activities import (
    error_text,
    finish,
    make_contact,
    make_custom_field,
    make_list,
)


@pytest.fixture
def list_id(cc_sandbox: Sandbox, cc_account: AccountData) -> str:
    return make_list(cc_sandbox, cc_account, "From file")


def upload(
    http: httpx.Client,
    content: bytes | str,
    list_ids: str,
    *,
    filename: str = "contacts.csv",
    extra: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    raw = content.encode("utf-8") if isinstance(content, str) else content
    return http.post(
        "/activities/contacts_file_import",
        files={"file": (filename, raw, "text/csv")},
        data={"list_ids": list_ids, **(extra or {})},
        headers=headers,
    )


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# -- CSV import ------------------------------------------------------------------------------------


def test_csv_import_creates_contacts_with_custom_field_columns(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    field_id = make_custom_field(cc_sandbox, cc_account, "Shoe Size")
    text = (
        "Email,first_name,last_name,phone,city,cf:Shoe_Size\r\n"
        "ann@example.com,Ann,Ash,555-0100,Salem,9\r\n"
        "bob@example.com,Bob,,,,\r\n"
    )
    response = upload(cc_http, text, list_id)
    assert response.status_code == 201
    created = response.json()
    assert created["state"] == "initialized"
    assert created["source_file_name"] == "contacts.csv"
    assert created["status"]["items_total_count"] == 3  # lines, the header included
    assert created["status"]["person_count"] == 2

    body = finish(cc_sandbox, cc_http, created["activity_id"])
    assert body["state"] == "completed" and body["activity_errors"] == []
    ann = cc_account.contact_by_email("ann@example.com")
    assert ann is not None and ann.email_address is not None
    assert (ann.first_name, ann.last_name) == ("Ann", "Ash")
    assert ann.email_address.permission_to_send == "implicit"
    assert ann.email_address.opt_in_source == "Account"
    assert ann.custom_fields == [{"custom_field_id": field_id, "value": "9"}]
    assert ann.phone_numbers[0]["phone_number"] == "555-0100"
    assert ann.street_addresses[0]["city"] == "Salem"
    bob = cc_account.contact_by_email("bob@example.com")
    assert bob is not None and bob.last_name is None  # empty cells supply nothing
    assert bob.list_memberships == [list_id]


def test_csv_import_takes_several_lists_and_keeps_existing_permission(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    second = make_list(cc_sandbox, cc_account, "Second")
    existing = make_contact(cc_sandbox, cc_account, "eve@example.com", "explicit")
    response = upload(cc_http, "email,company_name\neve@example.com,Acme\n", f"{list_id}, {second}")
    finish(cc_sandbox, cc_http, response.json()["activity_id"])
    assert existing.company_name == "Acme"
    assert existing.email_address is not None
    assert existing.email_address.permission_to_send == "explicit"
    assert existing.list_memberships == [list_id, second]


def test_csv_row_errors_count_the_header_as_row_1(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    text = "email,birthday_month,birthday_day\ngood@example.com,1,2\nbad-address,,\nx@example.com,13,1\n"
    body = finish(cc_sandbox, cc_http, upload(cc_http, text, list_id).json()["activity_id"])
    assert body["status"]["correctable_count"] == 2
    assert body["activity_errors"][0].startswith("Row 3 (bad-address): ")
    assert body["activity_errors"][1].startswith("Row 4 (x@example.com): ")
    assert "birthday_month" in body["activity_errors"][1]
    assert cc_account.contact_by_email("good@example.com") is not None


def test_csv_over_40000_lines_is_cut_silently(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    lines = ["email"] + [f"n{i}@example.com" for i in range(40_005)]
    response = upload(cc_http, "\n".join(lines) + "\n", list_id)
    assert response.status_code == 201
    assert response.json()["status"]["items_total_count"] == 40_000
    body = finish(cc_sandbox, cc_http, response.json()["activity_id"])
    assert body["state"] == "completed"
    assert body["status"]["person_count"] == 39_999
    assert body["activity_errors"] == []
    assert cc_account.contact_by_email("n39998@example.com") is not None
    assert cc_account.contact_by_email("n39999@example.com") is None


def test_csv_over_4_mb_keeps_only_the_contacts_in_the_first_4_mb(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, list_id: str
) -> None:
    pad = "z" * 50
    lines = ["email,first_name,last_name,job_title"]
    lines += [f"m{i}@example.com,{pad},{pad},{pad}" for i in range(30_000)]
    content = ("\n".join(lines) + "\n").encode()
    assert len(content) > 4 * 1024 * 1024
    response = upload(cc_http, content, list_id)
    assert response.status_code == 201
    people = response.json()["status"]["person_count"]
    assert 0 < people < 30_000
    body = finish(cc_sandbox, cc_http, response.json()["activity_id"])
    assert body["activity_errors"] == []  # a cut line is dropped, not reported broken
    assert cc_account.contact_by_email(f"m{people - 1}@example.com") is not None
    assert cc_account.contact_by_email(f"m{people}@example.com") is None
    kept = len(("\n".join(lines[: people + 1]) + "\n").encode())
    assert kept <= 4 * 1024 * 1024


def test_a_hand_set_content_type_is_415(cc_http: httpx.Client, list_id: str) -> None:
    # The classic mistake: setting the header by hand drops the multipart boundary.
    response = upload(
        cc_http, "email\na@example.com\n", list_id, headers={"Content-Type": "multipart/form-data"}
    )
    assert response.status_code == 415
    assert "boundary" in error_text(response)
    response = cc_http.post(
        "/activities/contacts_file_import",
        json={"file": "email\na@example.com", "list_ids": list_id},
    )
    assert response.status_code == 415
    assert response.json()[0]["error_key"] == "activities.api.unsupported_media_type"


def test_a_file_that_is_not_csv_is_415(cc_http: httpx.Client, list_id: str) -> None:
    response = upload(cc_http, "email\na@example.com\n", list_id, filename="contacts.xlsx")
    assert response.status_code == 415
    assert "csv" in error_text(response).lower()


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"email,first_name\na@example.com,J\xe9r\xf4me\n", "UTF-8"),
        (b"first_name,last_name\nAnn,Ash\n", "email"),
        (b"email,cf:unknown_field\na@example.com,1\n", "cf:unknown_field"),
        (b"email,favourite_colour\na@example.com,red\n", "favourite_colour"),
        (b"email,email\na@example.com,b@example.com\n", "email"),
        (b"email\n", "no contact rows"),
        (b"", "header"),
    ],
)
def test_unreadable_files_are_400_saying_why(
    cc_http: httpx.Client, list_id: str, content: bytes, named: str
) -> None:
    response = upload(cc_http, content, list_id)
    assert response.status_code == 400
    assert named in error_text(response)


def test_form_fields_are_checked(cc_http: httpx.Client, list_id: str) -> None:
    no_lists = cc_http.post(
        "/activities/contacts_file_import",
        files={"file": ("c.csv", b"email\na@example.com\n", "text/csv")},
    )
    assert no_lists.status_code == 400 and "list_ids" in error_text(no_lists)
    no_file = cc_http.post(
        "/activities/contacts_file_import",
        files={"other": ("c.csv", b"email\n", "text/csv")},
        data={"list_ids": list_id},
    )
    assert no_file.status_code == 400
    unknown_list = upload(cc_http, "email\na@example.com\n", new_id())
    assert unknown_list.status_code == 400 and "list_ids" in error_text(unknown_list)
    bad_permission = upload(
        cc_http, "email\na@example.com\n", list_id, extra={"sms_permission_to_send": "maybe"}
    )
    assert bad_permission.status_code == 400
    assert "sms_permission_to_send" in error_text(bad_permission)
    needs_date = upload(
        cc_http, "sms_number\n6175550100\n", list_id, extra={"sms_permission_to_send": "explicit"}
    )
    assert needs_date.status_code == 400 and "sms_consent_date" in error_text(needs_date)


def test_more_than_50_lists_in_the_form_is_400(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client
) -> None:
    lists = ",".join(make_list(cc_sandbox, cc_account, f"F{i}") for i in range(51))
    response = upload(cc_http, "email\na@example.com\n", lists)
    assert response.status_code == 400 and "list_ids" in error_text(response)


# -- exports ----------------------------------------------------------------------------------------


def export(http: httpx.Client, body: dict[str, object]) -> httpx.Response:
    return http.post("/activities/contact_exports", json=body)


@pytest.fixture
def files(cc_raw: httpx.Client, cc_token: dict[str, Any]) -> httpx.Client:
    """A client for the CSV download.

    The swagger types that 200 as a string schema behind a ``$ref``, which the conformance
    hook of ``cc_http`` does not follow, so it would reject any non-JSON body; this client
    is the same caller without the hook.
    """
    cc_raw.headers["Authorization"] = f"Bearer {cc_token['access_token']}"
    return cc_raw


def test_export_links_its_file_which_is_csv_once_completed(
    cc_sandbox: Sandbox,
    cc_account: AccountData,
    cc_http: httpx.Client,
    files: httpx.Client,
    list_id: str,
) -> None:
    make_contact(cc_sandbox, cc_account, "x1@example.com", first_name="Xia", lists=(list_id,))
    cc_sandbox.state.settings.activity_items_per_second = 0.1  # slow enough to look early
    created = export(cc_http, {})
    assert created.status_code == 201
    body = created.json()
    activity_id = body["activity_id"]
    assert body["state"] == "initialized"
    assert body["_links"]["self"]["href"] == f"/v3/activities/{activity_id}"
    assert body["_links"]["results"]["href"] == f"/v3/contact_exports/{activity_id}"

    early = cc_http.get(f"/contact_exports/{activity_id}")
    assert early.status_code == 404
    assert "initialized" in error_text(early) or "processing" in error_text(early)

    done = finish(cc_sandbox, cc_http, activity_id)
    assert done["state"] == "completed"
    assert done["_links"]["results"]["href"] == f"/v3/contact_exports/{activity_id}"
    assert done["status"]["items_total_count"] == 2  # the owner and Xia
    response = files.get(done["_links"]["results"]["href"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = read_csv(response.text)
    assert {r["email_address"] for r in rows} == {"owner@example.com", "x1@example.com"}
    xia = next(r for r in rows if r["email_address"] == "x1@example.com")
    assert xia["first_name"] == "Xia"
    assert xia["email_lists"] == "From file"
    assert xia["email_optin_source"] == "Contact"


def test_export_with_fields_and_list_filter(
    cc_sandbox: Sandbox,
    cc_account: AccountData,
    cc_http: httpx.Client,
    files: httpx.Client,
    list_id: str,
) -> None:
    field_id = make_custom_field(cc_sandbox, cc_account, "Tier")
    member = make_contact(cc_sandbox, cc_account, "in@example.com", lists=(list_id,))
    member.custom_fields.append({"custom_field_id": field_id, "value": "Gold"})
    make_contact(cc_sandbox, cc_account, "out@example.com")
    body = {"list_ids": [list_id], "fields": ["email_address", "cf:Tier", "first_name"]}
    activity_id = export(cc_http, body).json()["activity_id"]
    finish(cc_sandbox, cc_http, activity_id)
    text = files.get(f"/v3/contact_exports/{activity_id}").text
    assert text.splitlines()[0] == "email_address,cf:Tier,first_name"
    assert read_csv(text) == [
        {"email_address": "in@example.com", "cf:Tier": "Gold", "first_name": ""}
    ]


def test_export_by_status_and_excluding_contacts(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, files: httpx.Client
) -> None:
    make_contact(cc_sandbox, cc_account, "u1@example.com", "unsubscribed")
    make_contact(cc_sandbox, cc_account, "u2@example.com", "unsubscribed")
    gone = make_contact(cc_sandbox, cc_account, "del@example.com")
    gone.deleted_at = cc_sandbox.clock.now()
    keep_out = cc_account.contact_by_email("u2@example.com")
    assert keep_out is not None

    unsub = export(cc_http, {"status": "unsubscribed", "fields": ["email_address"]})
    finish(cc_sandbox, cc_http, unsub.json()["activity_id"])
    text = files.get(f"/v3/contact_exports/{unsub.json()['activity_id']}").text
    assert {r["email_address"] for r in read_csv(text)} == {"u1@example.com", "u2@example.com"}

    removed = export(cc_http, {"status": "removed", "fields": ["email_address"]})
    finish(cc_sandbox, cc_http, removed.json()["activity_id"])
    text = files.get(f"/v3/contact_exports/{removed.json()['activity_id']}").text
    assert [r["email_address"] for r in read_csv(text)] == ["del@example.com"]

    everyone = export(
        cc_http, {"fields": ["email_address"], "exclude": {"contact_ids": [keep_out.contact_id]}}
    )
    finish(cc_sandbox, cc_http, everyone.json()["activity_id"])
    text = files.get(f"/v3/contact_exports/{everyone.json()['activity_id']}").text
    assert {r["email_address"] for r in read_csv(text)} == {"owner@example.com", "u1@example.com"}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"fields": ["email_optin_date"]}, "email_address"),
        ({"fields": ["shoe_size"]}, "shoe_size"),
        ({"fields": []}, "fields"),
        ({"status": "bounced"}, "status"),
        ({"contact_ids": [new_id()], "list_ids": ["LIST"]}, "contact_ids"),
        ({"tag_ids": [new_id()]}, "tag_ids"),
        ({"contact_ids": [new_id()], "exclude": {"contact_ids": [new_id()]}}, "exclude"),
        ({"segment_id": 999}, "segment_id"),
        ({"contact_ids": ["x"]}, "contact_ids"),
        ({"format": "csv"}, "format"),
    ],
)
def test_bad_export_requests_are_400_naming_the_field(
    cc_http: httpx.Client, list_id: str, body: dict[str, object], named: str
) -> None:
    if body.get("list_ids") == ["LIST"]:
        body = {**body, "list_ids": [list_id]}
    response = export(cc_http, body)
    assert response.status_code == 400
    assert named in error_text(response)


def test_export_file_ids_that_are_unknown_or_not_exports_are_404(
    cc_http: httpx.Client, list_id: str
) -> None:
    assert cc_http.get(f"/contact_exports/{new_id()}").status_code == 404
    assert cc_http.get("/contact_exports/nonsense").status_code == 404
    other = cc_http.post(
        "/activities/contacts_json_import",
        json={"import_data": [{"email": "a@example.com"}], "list_ids": [list_id]},
    ).json()["activity_id"]
    assert cc_http.get(f"/contact_exports/{other}").status_code == 404
