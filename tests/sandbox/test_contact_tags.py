"""Contact tags in the sandbox, checked against CC's documented behaviour (CC-V3-FACTS §4)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox, activities
from ccbridge.sandbox.state import AccountData, Contact, EmailAddress, new_id


def add_contact(
    sandbox: Sandbox, account: AccountData, tags: list[str], *, deleted: bool = False
) -> Contact:
    now = sandbox.clock.now()
    contact_id = new_id()
    contact = Contact(
        contact_id=contact_id,
        sequence_id=account.take_sequence(),
        created_at=now,
        updated_at=now,
        create_source="Account",
        email_address=EmailAddress(
            address=f"{contact_id}@example.com",
            permission_to_send="implicit",
            created_at=now,
            updated_at=now,
        ),
        taggings=list(tags),
        deleted_at=now if deleted else None,
    )
    account.add_contact(contact)
    return contact


def create(cc_http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = cc_http.post("/contact_tags", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def error_message(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    return str(body[0]["error_message"])


def walk_pages(cc_http: httpx.Client, first_url: str) -> list[dict[str, Any]]:
    pages = []
    url: str | None = first_url
    while url is not None:
        response = cc_http.get(url)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        href = page.get("_links", {}).get("next", {}).get("href")
        if href is not None:
            assert href.startswith("/v3/contact_tags?cursor=")
        url = href.removeprefix("/v3") if href else None
    return pages


def test_create_tag_is_201_and_readable(cc_http: httpx.Client) -> None:
    created = create(cc_http, name="Gold card member", tag_source="ETSY")
    assert created["name"] == "Gold card member"
    assert created["tag_source"] == "ETSY"
    assert "contacts_count" not in created
    fetched = cc_http.get(f"/contact_tags/{created['tag_id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_most_keyboard_symbols_are_allowed_in_names(cc_http: httpx.Client) -> None:
    name = "VIP #1 (2024) & co. / 50% off! @home"
    assert create(cc_http, name=name)["name"] == name


def test_duplicate_name_is_409_whatever_the_case(cc_http: httpx.Client) -> None:
    create(cc_http, name="Donor")
    for name in ("Donor", "DONOR"):
        response = cc_http.post("/contact_tags", json={"name": name})
        assert response.status_code == 409
        assert response.json()[0]["error_key"] == "tags.api.conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "t" * 256}, "name"),
        ({"name": ["a"]}, "name"),
        ({"name": "ok", "tag_source": 7}, "tag_source"),
        ({"name": "ok", "colour": "red"}, "colour"),
    ],
)
def test_bad_tag_input_is_400_naming_the_field(
    cc_http: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = cc_http.post("/contact_tags", json=body)
    assert response.status_code == 400
    assert response.json()[0]["error_key"] == "tags.api.validation.error"
    assert field in error_message(response)


def test_wrong_media_type_is_415(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contact_tags", content=b"<tag/>", headers={"content-type": "application/xml"}
    )
    assert response.status_code == 415


def test_put_renames_and_keeps_tag_source(cc_http: httpx.Client) -> None:
    tag = create(cc_http, name="Old", tag_source="Shopify")
    response = cc_http.put(f"/contact_tags/{tag['tag_id']}", json={"name": "New"})
    assert response.status_code == 200
    assert response.json()["name"] == "New"
    assert response.json()["tag_source"] == "Shopify"


def test_put_cannot_change_tag_source(cc_http: httpx.Client) -> None:
    tag = create(cc_http, name="Sourced", tag_source="Shopify")
    response = cc_http.put(
        f"/contact_tags/{tag['tag_id']}", json={"name": "Sourced", "tag_source": "Etsy"}
    )
    assert response.status_code == 400
    assert "tag_source" in error_message(response)
    # Sending the unchanged value back (a fetched tag, edited) is fine.
    fetched = cc_http.get(f"/contact_tags/{tag['tag_id']}").json()
    fetched["name"] = "Renamed"
    assert cc_http.put(f"/contact_tags/{tag['tag_id']}", json=fetched).status_code == 200


def test_put_to_an_existing_name_is_409(cc_http: httpx.Client) -> None:
    create(cc_http, name="Taken")
    mine = create(cc_http, name="Mine")
    response = cc_http.put(f"/contact_tags/{mine['tag_id']}", json={"name": "taken"})
    assert response.status_code == 409
    assert cc_http.put(f"/contact_tags/{mine['tag_id']}", json={"name": "MINE"}).status_code == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_malformed_or_unknown_tag_id_is_404(cc_http: httpx.Client, method: str) -> None:
    for tag_id in ("123", new_id()):
        response = cc_http.request(method, f"/contact_tags/{tag_id}", json={"name": "x"})
        assert response.status_code == 404
        assert response.json()[0]["error_key"] == "tags.api.not_found"


def test_contacts_count_only_with_include_count(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    busy = create(cc_http, name="Busy")["tag_id"]
    idle = create(cc_http, name="Idle")["tag_id"]
    add_contact(cc_sandbox, cc_account, [busy])
    add_contact(cc_sandbox, cc_account, [busy, idle])
    add_contact(cc_sandbox, cc_account, [busy], deleted=True)

    listed = cc_http.get("/contact_tags", params={"include_count": "true"}).json()["tags"]
    assert {t["tag_id"]: t["contacts_count"] for t in listed} == {busy: 2, idle: 1}
    one = cc_http.get(f"/contact_tags/{busy}", params={"include_count": "true"}).json()
    assert one["contacts_count"] == 2
    assert all("contacts_count" not in t for t in cc_http.get("/contact_tags").json()["tags"])


def test_collection_pages_with_a_cursor(cc_http: httpx.Client) -> None:
    made = [create(cc_http, name=f"tag {i}")["tag_id"] for i in range(5)]
    pages = walk_pages(cc_http, "/contact_tags?limit=2&include_count=true")
    assert [len(p["tags"]) for p in pages] == [2, 2, 1]
    assert [t["tag_id"] for p in pages for t in p["tags"]] == made
    # The cursor carries the original query, so later pages still include counts.
    assert all("contacts_count" in t for p in pages for t in p["tags"])
    assert "_links" not in pages[-1]


def test_a_tag_deleted_between_pages_does_not_make_the_next_page_skip(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    made = [create(cc_http, name=f"t{i}")["tag_id"] for i in range(4)]
    first = cc_http.get("/contact_tags", params={"limit": 2}).json()
    del cc_account.tags[made[0]]  # as the contacts_tags_delete worker would
    href = first["_links"]["next"]["href"].removeprefix("/v3")
    second = cc_http.get(href).json()
    assert [t["tag_id"] for t in second["tags"]] == made[2:]


@pytest.mark.parametrize("limit", ["0", "501", "many"])
def test_limit_outside_1_to_500_is_400(cc_http: httpx.Client, limit: str) -> None:
    response = cc_http.get("/contact_tags", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in error_message(response)


def test_default_page_is_50_and_500_is_allowed(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    from ccbridge.sandbox.state import Tag

    for i in range(55):
        now = cc_sandbox.clock.now()
        tag = Tag(tag_id=new_id(), name=f"bulk {i}", created_at=now, updated_at=now)
        cc_account.tags[tag.tag_id] = tag
    assert len(cc_http.get("/contact_tags").json()["tags"]) == 50
    assert len(cc_http.get("/contact_tags", params={"limit": 500}).json()["tags"]) == 55


def test_delete_is_202_with_a_generic_activity_then_untags_contacts(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    tag = create(cc_http, name="Temporary")["tag_id"]
    keep = create(cc_http, name="Keep")["tag_id"]
    contact = add_contact(cc_sandbox, cc_account, [tag, keep])

    response = cc_http.delete(f"/contact_tags/{tag}")
    assert response.status_code == 202
    body = response.json()
    assert body["state"] == "initialized"
    assert body["activity_errors"] == []
    assert body["status"] == {"items_total_count": 1, "items_completed_count": 0}
    assert body["_links"]["self"]["href"] == f"/v3/activities/{body['activity_id']}"
    assert tag in cc_account.tags  # not yet: the deletion is asynchronous

    cc_sandbox.advance_clock(5)
    cc_http.get("/contact_tags")  # any call moves activities on
    activity = cc_account.activities[body["activity_id"]]
    assert activity.state == "completed"
    assert activity.status == {"items_total_count": 1, "items_completed_count": 1}
    assert contact.taggings == [keep]
    assert cc_http.get(f"/contact_tags/{tag}").status_code == 404
    # Its name can be used again.
    create(cc_http, name="Temporary")


def test_tags_delete_worker_reports_missing_tags(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    # The worker is shared with POST /activities/contacts_tags_delete (up to 500 tag ids).
    tags = [create(cc_http, name=f"bulk {i}")["tag_id"] for i in range(3)]
    missing = new_id()
    contact = add_contact(cc_sandbox, cc_account, tags)
    activity = activities.start_activity(
        cc_account,
        cc_sandbox.state.settings,
        cc_sandbox.clock.now(),
        "contacts_tags_delete",
        items_total=4,
        payload={"tag_ids": [*tags[:2], missing]},
    )
    cc_sandbox.advance_clock(5)
    cc_http.get("/contact_tags")
    assert activity.state == "completed"
    assert activity.status == {"items_total_count": 3, "items_completed_count": 2}
    assert len(activity.activity_errors) == 1 and missing in activity.activity_errors[0]
    assert contact.taggings == [tags[2]]
    assert set(cc_account.tags) == {tags[2]}
