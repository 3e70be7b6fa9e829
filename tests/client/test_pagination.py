"""Lazy iteration over ``_links.next.href`` (CC-V3-FACTS §2 pagination)."""

from __future__ import annotations

from itertools import islice
from typing import Any

import httpx
import pytest

from ccbridge import Client, InvalidArgumentError, PaginationError
from ccbridge.sandbox import Sandbox
from ccbridge.testing.plugin import async_sandbox_client, sandbox_client


def _api_gets(sandbox: Sandbox) -> list[str]:
    return [e["path"] for e in sandbox.requests.entries() if e["path"].startswith("/v3/")]


@pytest.fixture
def seven_lists(cc_sandbox: Sandbox, cc_token: dict[str, Any]) -> list[str]:
    """The default list plus six more, created through the API."""
    with sandbox_client(cc_sandbox, cc_token) as client:
        for n in range(6):
            client.contact_lists.create_list(body={"name": f"List {n}", "favorite": False})
        names = [item["name"] for item in client.contact_lists.get_lists(limit=50)["lists"]]
    cc_sandbox.requests.clear()
    assert len(names) == 7
    return names


def test_iterates_every_item_over_several_pages(
    cc_sandbox: Sandbox, cc_token: dict[str, Any], seven_lists: list[str]
) -> None:
    with sandbox_client(cc_sandbox, cc_token) as client:
        names = [item["name"] for item in client.contact_lists.iter_lists(limit=3)]
    assert names == seven_lists
    assert len(_api_gets(cc_sandbox)) == 3  # pages of 3, 3 and 1


def test_pages_are_fetched_lazily(
    cc_sandbox: Sandbox, cc_token: dict[str, Any], seven_lists: list[str]
) -> None:
    with sandbox_client(cc_sandbox, cc_token) as client:
        paginator = client.contact_lists.iter_lists(limit=3)
        assert _api_gets(cc_sandbox) == []
        first_four = list(islice(paginator, 4))
        assert [i["name"] for i in first_four] == seven_lists[:4]
        assert len(_api_gets(cc_sandbox)) == 2


def test_pages_view_gives_whole_pages_and_their_links(
    cc_sandbox: Sandbox, cc_token: dict[str, Any], seven_lists: list[str]
) -> None:
    with sandbox_client(cc_sandbox, cc_token) as client:
        pages = list(client.contact_lists.iter_lists(limit=3).pages())
    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert pages[0].next_href is not None and pages[0].next_href.startswith("/v3/contact_lists")
    assert pages[-1].next_href is None


async def test_async_iteration_over_several_pages(
    cc_sandbox: Sandbox, cc_token: dict[str, Any], seven_lists: list[str]
) -> None:
    async with async_sandbox_client(cc_sandbox, cc_token) as client:
        names = [item["name"] async for item in client.contact_lists.iter_lists(limit=2)]
        pages = [page async for page in client.contact_lists.iter_lists(limit=5).pages()]
    assert names == seven_lists
    assert [len(p.items) for p in pages] == [5, 2]


def test_generic_paginate_with_parse_item(
    cc_sandbox: Sandbox, cc_token: dict[str, Any], seven_lists: list[str]
) -> None:
    with sandbox_client(cc_sandbox, cc_token) as client:
        names = list(
            client.paginate(
                "/contact_lists",
                params={"limit": 4},
                items_key="lists",
                parse_item=lambda item: item["name"].upper(),
            )
        )
    assert names == [n.upper() for n in seven_lists]


def test_bad_page_size_fails_before_any_request(
    cc_sandbox: Sandbox, cc_token: dict[str, Any]
) -> None:
    with (
        sandbox_client(cc_sandbox, cc_token) as client,
        pytest.raises(InvalidArgumentError, match="limit"),
    ):
        client.contact_lists.iter_lists(limit="ten")  # type: ignore[arg-type]
    assert _api_gets(cc_sandbox) == []


# -- misbehaving servers (fake transport) ------------------------------------------------------
def _looping_api(pages: dict[str, dict[str, Any]]) -> tuple[httpx.MockTransport, list[str]]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor", "first")
        seen.append(cursor)
        return httpx.Response(200, json=pages[cursor])

    return httpx.MockTransport(handler), seen


def test_a_repeating_cursor_raises_instead_of_looping() -> None:
    transport, seen = _looping_api(
        {
            "first": {
                "tags": [{"n": 1}],
                "_links": {"next": {"href": "/v3/contact_tags?cursor=A"}},
            },
            "A": {"tags": [{"n": 2}], "_links": {"next": {"href": "/v3/contact_tags?cursor=B"}}},
            "B": {"tags": [{"n": 3}], "_links": {"next": {"href": "/v3/contact_tags?cursor=A"}}},
        }
    )
    got: list[int] = []
    client = Client("t", transport=transport, rate_limit=None)
    with client, pytest.raises(PaginationError, match="already returned"):
        for item in client.contact_tags.iter_tags():
            got.append(item["n"])
    assert got == [1, 2, 3]
    assert seen == ["first", "A", "B"]


def test_next_links_resolve_against_the_base_origin() -> None:
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        if "cursor" in request.url.params:
            return httpx.Response(200, json={"contacts": [{"id": 2}]})
        return httpx.Response(
            200,
            json={"contacts": [{"id": 1}], "_links": {"next": {"href": "/v3/contacts?cursor=xyz"}}},
        )

    with Client(
        "t",
        base_url="https://cc.example.test/v3",
        transport=httpx.MockTransport(handler),
        rate_limit=None,
    ) as client:
        ids = [c["id"] for c in client.contacts.iter_contacts(limit=1)]
    assert ids == [1, 2]
    assert requested == [
        "https://cc.example.test/v3/contacts?limit=1",
        "https://cc.example.test/v3/contacts?cursor=xyz",
    ]


def test_a_next_link_to_another_host_is_not_followed() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            200,
            json={"tags": [], "_links": {"next": {"href": "https://evil.example/v3/x?cursor=1"}}},
        )

    client = Client("secret-token", transport=httpx.MockTransport(handler), rate_limit=None)
    with client, pytest.raises(PaginationError, match="outside"):
        list(client.contact_tags.iter_tags())
    assert len(calls) == 1
