"""Contact custom fields in the sandbox, checked against CC-V3-FACTS §4."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox, activities
from ccbridge.sandbox.state import AccountData, Contact, CustomField, new_id


def add_contact(sandbox: Sandbox, account: AccountData, values: list[dict[str, Any]]) -> Contact:
    now = sandbox.clock.now()
    contact = Contact(
        contact_id=new_id(),
        sequence_id=account.take_sequence(),
        created_at=now,
        updated_at=now,
        create_source="Account",
        first_name="Field",
        custom_fields=[dict(v) for v in values],
    )
    account.add_contact(contact)
    return contact


def add_field(sandbox: Sandbox, account: AccountData, label: str) -> CustomField:
    now = sandbox.clock.now()
    field = CustomField(
        custom_field_id=new_id(),
        label=label,
        name=label.replace(" ", "_"),
        type="string",
        created_at=now,
        updated_at=now,
    )
    account.custom_fields[field.custom_field_id] = field
    return field


def create(cc_http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = cc_http.post("/contact_custom_fields", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def error_message(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    return str(body[0]["error_message"])


def choices(labels: list[str]) -> list[dict[str, Any]]:
    return [{"choice_label": label} for label in labels]


# -- create and read -------------------------------------------------------------------------------
def test_create_builds_name_from_label(cc_http: httpx.Client) -> None:
    created = create(cc_http, label="Vehicle make and model year", type="string")
    assert created["name"] == "Vehicle_make_and_model_year"
    assert created["label"] == "Vehicle make and model year"
    assert created["type"] == "string"
    fetched = cc_http.get(f"/contact_custom_fields/{created['custom_field_id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_select_field_gets_integer_choice_ids(cc_http: httpx.Client) -> None:
    created = create(
        cc_http,
        label="Level",
        type="single_select",
        metadata={"display_type": "radio"},
        choices=choices(["Gold", "Silver", "Bronze"]),
    )
    got = created["choices"]
    assert [c["choice_label"] for c in got] == ["Gold", "Silver", "Bronze"]
    assert all(isinstance(c["choice_id"], int) for c in got)
    assert len({c["choice_id"] for c in got}) == 3
    assert created["metadata"] == {"display_type": "radio"}


def test_date_field_keeps_its_version(cc_http: httpx.Client) -> None:
    created = create(cc_http, label="Renewal", type="date", version=2)
    assert created["version"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "string"}, "label"),
        ({"label": "", "type": "string"}, "label"),
        ({"label": "x" * 51, "type": "string"}, "label"),
        ({"label": "Colour"}, "type"),
        ({"label": "Colour", "type": "colour"}, "type"),
        ({"label": "Colour", "type": "s" * 21}, "type"),
        ({"label": "Colour", "type": "single_select"}, "choices"),
        ({"label": "Colour", "type": "multi_select", "choices": []}, "choices"),
        ({"label": "Colour", "type": "string", "choices": choices(["a"])}, "choices"),
        (
            {"label": "Colour", "type": "single_select", "choices": [{"choice_label": "c" * 256}]},
            "choice_label",
        ),
        (
            {"label": "Colour", "type": "single_select", "choices": choices(["a", "a"])},
            "choice_label",
        ),
        (
            {"label": "Colour", "type": "string", "metadata": {"display_type": "radio"}},
            "display_type",
        ),
        ({"label": "Colour", "type": "string", "metadata": {"shape": "round"}}, "shape"),
        ({"label": "Colour", "type": "string", "version": 2}, "version"),
        ({"label": "Colour", "type": "string", "custom": 1}, "custom"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    cc_http: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = cc_http.post("/contact_custom_fields", json=body)
    assert response.status_code == 400
    assert response.json()[0]["error_key"] == "custom_fields.api.validation.error"
    assert field in error_message(response)


def test_radio_and_checkbox_allow_20_choices_dropdown_100(cc_http: httpx.Client) -> None:
    labels21 = [f"c{i}" for i in range(21)]
    for display in ("radio", "checkbox"):
        response = cc_http.post(
            "/contact_custom_fields",
            json={
                "label": f"Too many {display}",
                "type": "multi_select",
                "metadata": {"display_type": display},
                "choices": choices(labels21),
            },
        )
        assert response.status_code == 400
        assert "20" in error_message(response)
    create(
        cc_http,
        label="Twenty radios",
        type="single_select",
        metadata={"display_type": "radio"},
        choices=choices(labels21[:20]),
    )
    hundred = [f"d{i}" for i in range(100)]
    create(
        cc_http,
        label="Big dropdown",
        type="single_select",
        metadata={"display_type": "dropdown"},
        choices=choices(hundred),
    )
    response = cc_http.post(
        "/contact_custom_fields",
        json={
            "label": "Huge dropdown",
            "type": "single_select",
            "metadata": {"display_type": "dropdown"},
            "choices": choices([*hundred, "one more"]),
        },
    )
    assert response.status_code == 400
    assert "100" in error_message(response)


def test_duplicate_label_or_name_is_409(cc_http: httpx.Client) -> None:
    create(cc_http, label="Favorite Fruit", type="string")
    for label in ("Favorite Fruit", "Favorite_Fruit"):
        response = cc_http.post("/contact_custom_fields", json={"label": label, "type": "string"})
        assert response.status_code == 409
        assert response.json()[0]["error_key"] == "custom_fields.api.conflict"


def test_at_most_100_custom_fields(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    for index in range(99):
        add_field(cc_sandbox, cc_account, f"Field {index}")
    create(cc_http, label="Hundredth", type="string")
    response = cc_http.post("/contact_custom_fields", json={"label": "Extra", "type": "string"})
    assert response.status_code == 400
    assert "100" in error_message(response)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_malformed_or_unknown_id_is_404(cc_http: httpx.Client, method: str) -> None:
    for field_id in ("04fe9a-a579", new_id()):
        response = cc_http.request(
            method, f"/contact_custom_fields/{field_id}", json={"label": "x"}
        )
        assert response.status_code == 404
        assert response.json()[0]["error_key"] == "custom_fields.api.not_found"


# -- collection ---------------------------------------------------------------------------------------
def test_collection_pages_with_a_cursor(cc_http: httpx.Client) -> None:
    made = [create(cc_http, label=f"F {i}", type="string")["custom_field_id"] for i in range(5)]
    seen: list[str] = []
    url: str | None = "/contact_custom_fields?limit=2"
    pages = 0
    while url:
        page = cc_http.get(url).json()
        pages += 1
        seen += [f["custom_field_id"] for f in page["custom_fields"]]
        href = page.get("_links", {}).get("next", {}).get("href")
        url = href.removeprefix("/v3") if href else None
    assert seen == made
    assert pages == 3


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_limit_outside_1_to_100_is_400(cc_http: httpx.Client, limit: str) -> None:
    response = cc_http.get("/contact_custom_fields", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in error_message(response)


def test_default_page_size_is_50(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    for index in range(60):
        add_field(cc_sandbox, cc_account, f"Bulk {index}")
    assert len(cc_http.get("/contact_custom_fields").json()["custom_fields"]) == 50
    everything = cc_http.get("/contact_custom_fields", params={"limit": 100}).json()
    assert len(everything["custom_fields"]) == 60
    assert "_links" not in everything


# -- update ---------------------------------------------------------------------------------------------
def test_put_replaces_label_and_choices(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    created = create(cc_http, label="Size", type="multi_select", choices=choices(["S", "M", "L"]))
    small, medium, large = (c["choice_id"] for c in created["choices"])
    contact = add_contact(
        cc_sandbox,
        cc_account,
        [{"custom_field_id": created["custom_field_id"], "choice_ids": [small, large]}],
    )

    response = cc_http.put(
        f"/contact_custom_fields/{created['custom_field_id']}",
        json={
            "label": "Shirt size",
            "choices": [
                {"choice_id": small, "choice_label": "Small"},
                {"choice_id": medium, "choice_label": "Medium"},
                {"choice_label": "Extra large"},
            ],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["label"] == "Shirt size" and body["name"] == "Shirt_size"
    by_label = {c["choice_label"]: c["choice_id"] for c in body["choices"]}
    assert by_label["Small"] == small and by_label["Medium"] == medium
    assert by_label["Extra large"] not in (small, medium, large)
    # The dropped choice is no longer picked by anyone.
    assert contact.custom_fields[0]["choice_ids"] == [small]


def test_put_without_label_or_with_other_type_is_400(cc_http: httpx.Client) -> None:
    created = create(cc_http, label="Notes", type="string")
    path = f"/contact_custom_fields/{created['custom_field_id']}"
    missing = cc_http.put(path, json={})
    assert missing.status_code == 400 and "label" in error_message(missing)
    retyped = cc_http.put(path, json={"label": "Notes", "type": "number"})
    assert retyped.status_code == 400 and "type" in error_message(retyped)
    unknown_choice = create(cc_http, label="Pick", type="single_select", choices=choices(["a"]))
    bad = cc_http.put(
        f"/contact_custom_fields/{unknown_choice['custom_field_id']}",
        json={"label": "Pick", "choices": [{"choice_id": 987654, "choice_label": "a"}]},
    )
    assert bad.status_code == 400 and "choice_id" in error_message(bad)


def test_put_accepts_a_fetched_field_sent_back(cc_http: httpx.Client) -> None:
    created = create(cc_http, label="Round", type="single_select", choices=choices(["x", "y"]))
    fetched = cc_http.get(f"/contact_custom_fields/{created['custom_field_id']}").json()
    fetched["label"] = "Round trip"
    response = cc_http.put(f"/contact_custom_fields/{created['custom_field_id']}", json=fetched)
    assert response.status_code == 200
    assert response.json()["choices"] == created["choices"]


def test_put_to_another_fields_label_is_409(cc_http: httpx.Client) -> None:
    create(cc_http, label="Taken", type="string")
    mine = create(cc_http, label="Mine", type="string")
    response = cc_http.put(
        f"/contact_custom_fields/{mine['custom_field_id']}", json={"label": "Taken"}
    )
    assert response.status_code == 409


# -- delete ------------------------------------------------------------------------------------------------
def test_delete_is_204_and_removes_values_from_contacts(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    doomed = create(cc_http, label="Doomed", type="string")["custom_field_id"]
    kept = create(cc_http, label="Kept", type="string")["custom_field_id"]
    contact = add_contact(
        cc_sandbox,
        cc_account,
        [{"custom_field_id": doomed, "value": "a"}, {"custom_field_id": kept, "value": "b"}],
    )
    response = cc_http.delete(f"/contact_custom_fields/{doomed}")
    assert response.status_code == 204
    assert response.content == b""
    assert cc_http.get(f"/contact_custom_fields/{doomed}").status_code == 404
    assert contact.custom_fields == [{"custom_field_id": kept, "value": "b"}]
    # The label is free again.
    create(cc_http, label="Doomed", type="string")


def test_custom_fields_delete_worker(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    # Shared with POST /activities/custom_fields_delete.
    first = create(cc_http, label="One", type="string")["custom_field_id"]
    second = create(cc_http, label="Two", type="string")["custom_field_id"]
    missing = new_id()
    contact = add_contact(
        cc_sandbox,
        cc_account,
        [{"custom_field_id": first, "value": "1"}, {"custom_field_id": second, "value": "2"}],
    )
    activity = activities.start_activity(
        cc_account,
        cc_sandbox.state.settings,
        cc_sandbox.clock.now(),
        "custom_fields_delete",
        items_total=3,
        payload={"custom_field_ids": [first, missing]},
    )
    cc_sandbox.advance_clock(5)
    cc_http.get("/contact_custom_fields")
    assert activity.state == "completed"
    assert set(cc_account.custom_fields) == {second}
    assert contact.custom_fields == [{"custom_field_id": second, "value": "2"}]
    assert len(activity.activity_errors) == 1 and missing in activity.activity_errors[0]
