"""``client.contact_lists``: contact lists (``/contact_lists``), typed.

List names are unique per account (409 on a duplicate) and an account holds at most 1,000
lists. Deleting a list is asynchronous at CC: it answers 202 with an activity, which
``delete`` returns so the caller can wait for it.
"""

from __future__ import annotations

from typing import Any

from ccbridge._pagination import AsyncPaginator, Paginator
from ccbridge.models.bulk_activities import Activity
from ccbridge.models.contact_lists import ContactList
from ccbridge.resources._checks import check_bool, check_id, check_int_range, check_text, one_of
from ccbridge.resources._generated import AsyncContactListsOperations, ContactListsOperations

NAME_MAX = 255
DESCRIPTION_MAX = 255
MAX_PAGE = 1000
MEMBERSHIP_COUNTS = ("all", "active")
STATUSES = ("all", "active", "deleted")


def _list_body(name: str, description: str | None, favorite: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": check_text("name", name, NAME_MAX, min_length=1),
        "favorite": check_bool("favorite", favorite),
    }
    if description is not None:
        body["description"] = check_text("description", description, DESCRIPTION_MAX)
    return body


def _query(
    include_membership_count: str | None, name: str | None, status: str | None, limit: int | None
) -> dict[str, Any]:
    return {
        "include_membership_count": (
            one_of("include_membership_count", include_membership_count, MEMBERSHIP_COUNTS)
            if include_membership_count is not None
            else None
        ),
        "name": check_text("name", name, NAME_MAX, min_length=1) if name is not None else None,
        "status": one_of("status", status, STATUSES) if status is not None else None,
        "limit": check_int_range("limit", limit, 1, MAX_PAGE) if limit is not None else None,
    }


def _parse_list(data: Any) -> ContactList:
    return ContactList.parse(data, source="GET /contact_lists")


def _first(data: Any) -> ContactList | None:
    lists = data.get("lists") if isinstance(data, dict) else None
    items = [_parse_list(item) for item in lists] if isinstance(lists, list) else []
    return items[0] if items else None


class ContactLists(ContactListsOperations):
    """Sync operations on contact lists."""

    def iter(
        self,
        *,
        include_membership_count: str | None = None,
        name: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> Paginator[ContactList]:
        """Every list, page after page; ``include_membership_count`` is ``all`` or ``active``."""
        return self._client._paginate_operation(
            "getLists",
            items_key="lists",
            query=_query(include_membership_count, name, status, limit),
            parse_item=_parse_list,
        )

    def get(self, list_id: str, *, include_membership_count: str | None = None) -> ContactList:
        data = self.get_list(
            check_id("list_id", list_id),
            include_membership_count=_query(include_membership_count, None, None, None)[
                "include_membership_count"
            ],
        )
        return ContactList.parse(data, source="GET /contact_lists/{list_id}")

    def find_by_name(self, name: str) -> ContactList | None:
        """The list with exactly this name, or None."""
        return _first(self._client._operation("getLists", query=_query(None, name, None, None)))

    def create(
        self, name: str, *, description: str | None = None, favorite: bool = False
    ) -> ContactList:
        """Create a list; ``ConflictError`` if the name is taken."""
        data = self.create_list(body=_list_body(name, description, favorite))
        return ContactList.parse(data, source="POST /contact_lists")

    def update(
        self, list_id: str, *, name: str, description: str | None = None, favorite: bool = False
    ) -> ContactList:
        """Replace the list's name, description and favorite flag (a PUT: a description
        left out is cleared)."""
        data = self.put_list(
            check_id("list_id", list_id), body=_list_body(name, description, favorite)
        )
        return ContactList.parse(data, source="PUT /contact_lists/{list_id}")

    def delete(self, list_id: str) -> Activity:
        """Start deleting the list; the activity ends when it is gone."""
        data = self.delete_list_activity(check_id("list_id", list_id))
        return Activity.parse(data, source="DELETE /contact_lists/{list_id}")


class AsyncContactLists(AsyncContactListsOperations):
    """Async operations on contact lists (the twins of ``ContactLists``)."""

    def iter(
        self,
        *,
        include_membership_count: str | None = None,
        name: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> AsyncPaginator[ContactList]:
        """Every list, page after page."""
        return self._client._paginate_operation(
            "getLists",
            items_key="lists",
            query=_query(include_membership_count, name, status, limit),
            parse_item=_parse_list,
        )

    async def get(
        self, list_id: str, *, include_membership_count: str | None = None
    ) -> ContactList:
        data = await self.get_list(
            check_id("list_id", list_id),
            include_membership_count=_query(include_membership_count, None, None, None)[
                "include_membership_count"
            ],
        )
        return ContactList.parse(data, source="GET /contact_lists/{list_id}")

    async def find_by_name(self, name: str) -> ContactList | None:
        """The list with exactly this name, or None."""
        return _first(
            await self._client._operation("getLists", query=_query(None, name, None, None))
        )

    async def create(
        self, name: str, *, description: str | None = None, favorite: bool = False
    ) -> ContactList:
        """Create a list; ``ConflictError`` if the name is taken."""
        data = await self.create_list(body=_list_body(name, description, favorite))
        return ContactList.parse(data, source="POST /contact_lists")

    async def update(
        self, list_id: str, *, name: str, description: str | None = None, favorite: bool = False
    ) -> ContactList:
        """Replace the list's name, description and favorite flag."""
        data = await self.put_list(
            check_id("list_id", list_id), body=_list_body(name, description, favorite)
        )
        return ContactList.parse(data, source="PUT /contact_lists/{list_id}")

    async def delete(self, list_id: str) -> Activity:
        """Start deleting the list; the activity ends when it is gone."""
        data = await self.delete_list_activity(check_id("list_id", list_id))
        return Activity.parse(data, source="DELETE /contact_lists/{list_id}")
