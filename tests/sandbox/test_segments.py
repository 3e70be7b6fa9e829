"""Segments in the sandbox: CRUD as CC's API documents it (criteria are stored, not evaluated)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData

CRITERIA = json.dumps(
    {
        "version": "1.0.0",
        "criteria": {
            "type": "and",
            "group": [
                {
                    "source": "tracking",
                    "field": "not_opened",
                    "op": "contains-any",
                    "const_value": "last-n-campaigns",
                    "param": "5",
                }
            ],
        },
    }
)


def create(cc_http: httpx.Client, name: str, criteria: str = CRITERIA) -> dict[str, Any]:
    response = cc_http.post("/segments", json={"name": name, "segment_criteria": criteria})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def error_message(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    return str(body[0]["error_message"])


def names(cc_http: httpx.Client, **params: str) -> list[str]:
    return [s["name"] for s in cc_http.get("/segments", params=params).json()["segments"]]


def test_create_is_201_with_an_integer_id_and_the_criteria_string(cc_http: httpx.Client) -> None:
    created = create(cc_http, "Did not open")
    assert isinstance(created["segment_id"], int)
    assert created["segment_criteria"] == CRITERIA
    fetched = cc_http.get(f"/segments/{created['segment_id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert create(cc_http, "Another")["segment_id"] != created["segment_id"]


def test_duplicate_name_is_409(cc_http: httpx.Client) -> None:
    create(cc_http, "Engaged")
    response = cc_http.post("/segments", json={"name": "Engaged", "segment_criteria": CRITERIA})
    assert response.status_code == 409
    assert response.json()[0]["error_key"] == "segments.api.conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"segment_criteria": CRITERIA}, "name"),
        ({"name": "", "segment_criteria": CRITERIA}, "name"),
        ({"name": "n"}, "segment_criteria"),
        ({"name": "n", "segment_criteria": "{not json"}, "segment_criteria"),
        ({"name": "n", "segment_criteria": "[1, 2]"}, "segment_criteria"),
        ({"name": "n", "segment_criteria": {"criteria": {}}}, "segment_criteria"),
        ({"name": "n", "segment_criteria": json.dumps({"x": "y" * 20_000})}, "segment_criteria"),
        ({"name": "n", "segment_criteria": CRITERIA, "owner": "me"}, "owner"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    cc_http: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = cc_http.post("/segments", json=body)
    assert response.status_code == 400
    assert response.json()[0]["error_key"] == "segments.api.validation.error"
    assert field in error_message(response)


def test_wrong_media_type_is_415(cc_http: httpx.Client) -> None:
    response = cc_http.post("/segments", content=b"name=x", headers={"content-type": "text/csv"})
    assert response.status_code == 415


@pytest.mark.parametrize("segment_id", ["abc", "1.5", "-3", "99999999999"])
def test_malformed_segment_id_is_404(cc_http: httpx.Client, segment_id: str) -> None:
    response = cc_http.get(f"/segments/{segment_id}")
    assert response.status_code == 404
    assert response.json()[0]["error_key"] == "segments.api.not_found"


def test_unknown_segment_id_is_404(cc_http: httpx.Client) -> None:
    assert cc_http.get("/segments/424242").status_code == 404
    assert cc_http.delete("/segments/424242").status_code == 404
    renamed = cc_http.patch("/segments/424242/name", json={"name": "x"})
    assert renamed.status_code == 404


def test_collection_sorts_by_date_newest_first_or_by_name(
    cc_http: httpx.Client, cc_sandbox: Sandbox
) -> None:
    for name in ("beta", "Alpha", "gamma"):
        create(cc_http, name)
        cc_sandbox.advance_clock(60)
    assert names(cc_http) == ["gamma", "Alpha", "beta"]
    assert names(cc_http, sort_by="date") == ["gamma", "Alpha", "beta"]
    assert names(cc_http, sort_by="name") == ["Alpha", "beta", "gamma"]
    listed = cc_http.get("/segments").json()["segments"][0]
    assert "segment_criteria" not in listed  # the collection shows summaries


def test_collection_pages_when_limited(cc_http: httpx.Client) -> None:
    for index in range(5):
        create(cc_http, f"S{index}")
    seen: list[str] = []
    url: str | None = "/segments?limit=2&sort_by=name"
    while url:
        page = cc_http.get(url).json()
        assert len(page["segments"]) <= 2
        seen += [s["name"] for s in page["segments"]]
        href = page.get("_links", {}).get("next", {}).get("href")
        url = href.removeprefix("/v3") if href else None
    assert seen == [f"S{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("param", "value"), [("limit", "0"), ("limit", "lots"), ("sort_by", "size")]
)
def test_bad_collection_parameters_are_400(cc_http: httpx.Client, param: str, value: str) -> None:
    response = cc_http.get("/segments", params={param: value})
    assert response.status_code == 400
    assert param in error_message(response)


def test_put_needs_name_and_criteria_and_updates_edited_at(
    cc_http: httpx.Client, cc_sandbox: Sandbox
) -> None:
    created = create(cc_http, "Original")
    path = f"/segments/{created['segment_id']}"
    assert cc_http.put(path, json={"name": "Only name"}).status_code == 400
    cc_sandbox.advance_clock(30)
    new_criteria = json.dumps({"version": "1.0.0", "criteria": {"type": "and", "group": []}})
    response = cc_http.put(path, json={"name": "Updated", "segment_criteria": new_criteria})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Updated" and body["segment_criteria"] == new_criteria
    assert body["edited_at"] > created["edited_at"]
    assert body["created_at"] == created["created_at"]


def test_put_and_patch_to_an_existing_name_are_409(cc_http: httpx.Client) -> None:
    create(cc_http, "Taken")
    mine = create(cc_http, "Mine")
    path = f"/segments/{mine['segment_id']}"
    assert (
        cc_http.put(path, json={"name": "Taken", "segment_criteria": CRITERIA}).status_code == 409
    )
    assert cc_http.patch(f"{path}/name", json={"name": "Taken"}).status_code == 409


def test_patch_renames(cc_http: httpx.Client) -> None:
    created = create(cc_http, "Before")
    response = cc_http.patch(f"/segments/{created['segment_id']}/name", json={"name": "After"})
    assert response.status_code == 200
    assert response.json()["name"] == "After"
    assert response.json()["segment_criteria"] == CRITERIA
    bad = cc_http.patch(f"/segments/{created['segment_id']}/name", json={"title": "x"})
    assert bad.status_code == 400


def test_deleted_segment_leaves_the_collection_but_stays_readable(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    created = create(cc_http, "Old campaign audience")
    path = f"/segments/{created['segment_id']}"
    response = cc_http.delete(path)
    assert response.status_code == 204
    assert "Old campaign audience" not in names(cc_http)
    detail = cc_http.get(path)
    assert detail.status_code == 200 and detail.json()["name"] == "Old campaign audience"
    assert cc_http.delete(path).status_code == 404
    assert cc_http.put(path, json={"name": "x", "segment_criteria": CRITERIA}).status_code == 404
    # Its name is free again, and its id is not reused.
    again = create(cc_http, "Old campaign audience")
    assert again["segment_id"] != created["segment_id"]
    assert cc_account.segments[created["segment_id"]].deleted_at is not None
