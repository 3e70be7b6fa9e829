"""Contact lists in the sandbox, checked against CC's documented behaviour (CC-V3-FACTS §4)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox, activities
from ccbridge.sandbox.state import AccountData, Contact, ContactList, EmailAddress, new_id


# -- helpers ---------------------------------------------------------------------------------
def add_list(sandbox: Sandbox, account: AccountData, name: str) -> ContactList:
    now = sandbox.clock.now()
    lst = ContactList(
        list_id=new_id(),
        name=name,
        created_at=now,
        updated_at=now,
        sequence_id=account.take_sequence(),
    )
    account.lists[lst.list_id] = lst
    return lst


def add_contact(
    sandbox: Sandbox,
    account: AccountData,
    lists: list[str],
    *,
    permission: str = "implicit",
    deleted: bool = False,
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
            permission_to_send=permission,
            created_at=now,
            updated_at=now,
        ),
        list_memberships=list(lists),
        deleted_at=now if deleted else None,
    )
    account.add_contact(contact)
    return contact


def create(cc_http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = cc_http.post("/contact_lists", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def error_message(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    return str(body[0]["error_message"])


def walk_pages(cc_http: httpx.Client, first_url: str) -> list[dict[str, Any]]:
    """Follow _links.next like a CC client: the href is relative to https://api.cc.email."""
    pages = []
    url: str | None = first_url
    while url is not None:
        response = cc_http.get(url)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        href = page.get("_links", {}).get("next", {}).get("href")
        if href is not None:
            assert href.startswith("/v3/contact_lists?cursor=")
            url = href.removeprefix("/v3")
        else:
            url = None
    return pages


# -- create, read, update ------------------------------------------------------------------------
def test_create_list_is_201_and_readable(cc_http: httpx.Client, cc_account: AccountData) -> None:
    created = create(cc_http, name="Newsletter", description="Monthly news", favorite=True)
    assert created["name"] == "Newsletter"
    assert created["description"] == "Monthly news"
    assert created["favorite"] is True
    assert "deleted_at" not in created

    fetched = cc_http.get(f"/contact_lists/{created['list_id']}").json()
    assert fetched == created
    assert cc_account.lists[created["list_id"]].sequence_id > 0


def test_favorite_defaults_to_false(cc_http: httpx.Client) -> None:
    assert create(cc_http, name="Plain")["favorite"] is False


def test_duplicate_name_is_409(cc_http: httpx.Client) -> None:
    create(cc_http, name="VIP")
    response = cc_http.post("/contact_lists", json={"name": "VIP"})
    assert response.status_code == 409
    assert response.json()[0]["error_key"] == "lists.api.conflict"
    assert "VIP" in error_message(response)


def test_name_of_the_seeded_default_list_is_taken(cc_http: httpx.Client) -> None:
    response = cc_http.post("/contact_lists", json={"name": "General Interest"})
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 5}, "name"),
        ({"name": "ok", "description": "d" * 256}, "description"),
        ({"name": "ok", "favorite": "maybe"}, "favorite"),
        ({"name": "ok", "colour": "red"}, "colour"),
    ],
)
def test_bad_list_input_is_400_naming_the_field(
    cc_http: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = cc_http.post("/contact_lists", json=body)
    assert response.status_code == 400
    assert response.json()[0]["error_key"] == "lists.api.validation.error"
    assert field in error_message(response)


def test_name_of_255_characters_is_accepted(cc_http: httpx.Client) -> None:
    assert create(cc_http, name="n" * 255)["name"] == "n" * 255


def test_malformed_json_is_400_and_wrong_media_type_is_415(cc_http: httpx.Client) -> None:
    bad_json = cc_http.post(
        "/contact_lists", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    wrong_type = cc_http.post(
        "/contact_lists", content=b"name=x", headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    not_object = cc_http.post("/contact_lists", json=["name"])
    assert not_object.status_code == 400


def test_at_most_1000_lists_per_account(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    # The seeded account already has its default list; fill up to 999 directly.
    for index in range(999 - len(cc_account.lists)):
        add_list(cc_sandbox, cc_account, f"bulk {index}")
    assert len(cc_account.lists) == 999
    create(cc_http, name="the thousandth")

    refused = cc_http.post("/contact_lists", json={"name": "one too many"})
    assert refused.status_code == 400
    assert "1000" in error_message(refused)

    # A deleted list no longer counts towards the limit.
    next(iter(cc_account.lists.values())).deleted_at = cc_sandbox.clock.now()
    create(cc_http, name="one too many")


def test_put_renames_and_returns_200(cc_http: httpx.Client) -> None:
    created = create(cc_http, name="Old name")
    response = cc_http.put(
        f"/contact_lists/{created['list_id']}",
        json={"name": "New name", "description": "renamed", "favorite": True},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["favorite"]) == ("New name", "renamed", True)
    assert cc_http.get(f"/contact_lists/{created['list_id']}").json()["name"] == "New name"


def test_put_to_another_lists_name_is_409(cc_http: httpx.Client) -> None:
    create(cc_http, name="Taken")
    other = create(cc_http, name="Mine")
    response = cc_http.put(f"/contact_lists/{other['list_id']}", json={"name": "Taken"})
    assert response.status_code == 409
    # Keeping its own name is not a conflict.
    same = cc_http.put(f"/contact_lists/{other['list_id']}", json={"name": "Mine"})
    assert same.status_code == 200


def test_put_accepts_a_fetched_list_sent_back(cc_http: httpx.Client) -> None:
    created = create(cc_http, name="Round trip")
    fetched = cc_http.get(f"/contact_lists/{created['list_id']}").json()
    fetched["favorite"] = True
    response = cc_http.put(f"/contact_lists/{created['list_id']}", json=fetched)
    assert response.status_code == 200
    assert response.json()["favorite"] is True


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_malformed_or_unknown_list_id_is_404(cc_http: httpx.Client, method: str) -> None:
    for list_id in ("not-a-uuid", new_id()):
        response = cc_http.request(method, f"/contact_lists/{list_id}", json={"name": "x"})
        assert response.status_code == 404
        assert response.json()[0]["error_key"] == "lists.api.not_found"


# -- the collection ---------------------------------------------------------------------------------
def test_collection_pages_with_relative_next_links_and_counts(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    for index in range(6):
        create(cc_http, name=f"List {index}")
    total = len(cc_account.lists)  # the 6 above plus the default list

    pages = walk_pages(cc_http, "/contact_lists?limit=3&include_count=true")
    assert [len(p["lists"]) for p in pages] == [3, 3, 1]
    assert all(p["lists_count"] == total for p in pages)
    assert "_links" not in pages[-1]
    seen = [lst["list_id"] for page in pages for lst in page["lists"]]
    assert sorted(seen) == sorted(cc_account.lists)


def test_lists_count_only_when_asked(cc_http: httpx.Client) -> None:
    assert "lists_count" not in cc_http.get("/contact_lists").json()


def test_default_page_size_is_50(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    for index in range(60):
        add_list(cc_sandbox, cc_account, f"L{index}")
    page = cc_http.get("/contact_lists").json()
    assert len(page["lists"]) == 50
    assert "next" in page["_links"]


@pytest.mark.parametrize("limit", ["0", "1001", "ten", "-1"])
def test_limit_outside_1_to_1000_is_400(cc_http: httpx.Client, limit: str) -> None:
    response = cc_http.get("/contact_lists", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in error_message(response)


def test_limit_1000_is_accepted(cc_http: httpx.Client) -> None:
    # CC's schema allows 1000 although its description says 500 (CC-V3-FACTS §10).
    assert cc_http.get("/contact_lists", params={"limit": 1000}).status_code == 200


def test_name_filter_matches_the_exact_name(cc_http: httpx.Client) -> None:
    wanted = create(cc_http, name="Top Tier")
    create(cc_http, name="Top Tier Plus")
    body = cc_http.get("/contact_lists", params={"name": "Top Tier"}).json()
    assert [lst["list_id"] for lst in body["lists"]] == [wanted["list_id"]]


def test_status_filter_and_deleted_lists(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    kept = create(cc_http, name="Kept")
    gone = create(cc_http, name="Gone")
    cc_account.lists[gone["list_id"]].deleted_at = cc_sandbox.clock.now()

    def ids(params: dict[str, str]) -> set[str]:
        body = cc_http.get("/contact_lists", params=params).json()
        return {lst["list_id"] for lst in body["lists"]}

    assert kept["list_id"] in ids({}) and gone["list_id"] not in ids({})
    assert ids({"status": "deleted"}) == {gone["list_id"]}
    assert {kept["list_id"], gone["list_id"]} <= ids({"status": "all"})
    assert gone["list_id"] in ids({"status": "active,deleted"})
    deleted = cc_http.get("/contact_lists", params={"status": "deleted"}).json()["lists"][0]
    assert "deleted_at" in deleted


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("status", "archived"),
        ("include_membership_count", "some"),
        ("include_count", "yes please"),
        ("channel_type", "fax"),
        ("cursor", "%%%not-a-cursor"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(
    cc_http: httpx.Client, param: str, value: str
) -> None:
    response = cc_http.get("/contact_lists", params={param: value})
    assert response.status_code == 400
    assert param in error_message(response)


def test_membership_counts_all_and_active(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    target = create(cc_http, name="Counted")["list_id"]
    other = create(cc_http, name="Other")["list_id"]
    add_contact(cc_sandbox, cc_account, [target])
    add_contact(cc_sandbox, cc_account, [target, other])
    add_contact(cc_sandbox, cc_account, [target], permission="unsubscribed")
    add_contact(cc_sandbox, cc_account, [target], deleted=True)

    def counts(mode: str) -> dict[str, int]:
        body = cc_http.get("/contact_lists", params={"include_membership_count": mode}).json()
        return {lst["list_id"]: lst["membership_count"] for lst in body["lists"]}

    assert counts("all")[target] == 4
    assert counts("active")[target] == 2
    assert counts("all")[other] == counts("active")[other] == 1

    one = cc_http.get(f"/contact_lists/{target}", params={"include_membership_count": "active"})
    assert one.json()["membership_count"] == 2
    assert "membership_count" not in cc_http.get(f"/contact_lists/{target}").json()
    assert "membership_count" not in cc_http.get("/contact_lists").json()["lists"][0]


# -- asynchronous delete -------------------------------------------------------------------------------
def test_delete_is_202_with_location_and_an_activity(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    lst = create(cc_http, name="Doomed")
    member = add_contact(cc_sandbox, cc_account, [lst["list_id"]])

    response = cc_http.delete(f"/contact_lists/{lst['list_id']}")
    assert response.status_code == 202
    body = response.json()
    href = f"/v3/activities/{body['activity_id']}"
    assert body["_links"]["self"]["href"] == href
    assert response.headers["location"] == href
    assert body["state"] == "initialized"
    assert body["activity_errors"] == []
    assert set(body) == {
        "activity_id",
        "state",
        "created_at",
        "updated_at",
        "percent_done",
        "activity_errors",
        "_links",
    }
    # Deletion is asynchronous: until the activity runs, the list is still there.
    assert cc_account.lists[lst["list_id"]].deleted_at is None

    cc_sandbox.advance_clock(5)
    after = cc_http.get("/contact_lists", params={"status": "all"})  # any call moves activities on
    activity = cc_account.activities[body["activity_id"]]
    assert activity.state == "completed"
    assert activity.percent_done == 100
    assert activity.status["list_count"] == 1

    fetched = cc_http.get(f"/contact_lists/{lst['list_id']}").json()
    assert "deleted_at" in fetched
    assert lst["list_id"] not in member.list_memberships
    default_ids = {x["list_id"] for x in cc_http.get("/contact_lists").json()["lists"]}
    assert lst["list_id"] not in default_ids
    assert lst["list_id"] in {x["list_id"] for x in after.json()["lists"]}

    # A deleted list cannot be deleted or updated again, and its name is free.
    assert cc_http.delete(f"/contact_lists/{lst['list_id']}").status_code == 404
    assert cc_http.put(f"/contact_lists/{lst['list_id']}", json={"name": "x"}).status_code == 404
    create(cc_http, name="Doomed")


def test_list_delete_worker_reports_what_it_could_not_delete(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    # The worker is shared with POST /activities/list_delete, which may name several lists.
    first = create(cc_http, name="A")["list_id"]
    second = create(cc_http, name="B")["list_id"]
    missing = new_id()
    member = add_contact(cc_sandbox, cc_account, [first, second])
    activity = activities.start_activity(
        cc_account,
        cc_sandbox.state.settings,
        cc_sandbox.clock.now(),
        "list_delete",
        items_total=3,
        payload={"list_ids": [first, second, missing]},
    )
    cc_sandbox.advance_clock(5)
    cc_http.get("/contact_lists")
    assert activity.state == "completed"
    assert activity.status["list_count"] == 2
    assert len(activity.activity_errors) == 1 and missing in activity.activity_errors[0]
    assert member.list_memberships == []
    assert cc_account.lists[first].deleted_at is not None


# -- V2 id cross-reference ---------------------------------------------------------------------------------
def test_list_id_xrefs_map_v2_ids_sorted_ascending(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    made = [create(cc_http, name=f"X{i}")["list_id"] for i in range(3)]
    seq = {lid: cc_account.lists[lid].sequence_id for lid in made}
    wanted = [seq[made[2]], seq[made[0]], 999_999]  # unordered, one unknown
    response = cc_http.get(
        "/contact_lists/list_id_xrefs", params={"sequence_ids": ",".join(map(str, wanted))}
    )
    assert response.status_code == 200
    assert response.json()["xrefs"] == [
        {"sequence_id": str(seq[made[0]]), "list_id": made[0]},
        {"sequence_id": str(seq[made[2]]), "list_id": made[2]},
    ]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sequence_ids": ""},
        {"sequence_ids": "12,abc"},
        {"sequence_ids": ",".join(map(str, range(1, 502)))},
    ],
)
def test_list_id_xrefs_bad_input_is_400(cc_http: httpx.Client, params: dict[str, str]) -> None:
    response = cc_http.get("/contact_lists/list_id_xrefs", params=params)
    assert response.status_code == 400
    assert "sequence_ids" in error_message(response)


def test_list_id_xrefs_accepts_500_ids(cc_http: httpx.Client) -> None:
    params = {"sequence_ids": ",".join(map(str, range(1, 501)))}
    assert cc_http.get("/contact_lists/list_id_xrefs", params=params).status_code == 200
