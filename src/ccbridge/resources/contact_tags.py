"""``client.contact_tags``: contact tags (``/contact_tags``), typed.

A tag's ``tag_source`` is set when it is created and never changes, so updating a tag is
renaming it. Deleting one is asynchronous (202 with an activity), like deleting a list.
"""

from __future__ import annotations

from typing import Any

from ccbridge._pagination import AsyncPaginator, Paginator
from ccbridge.models.bulk_activities import Activity
from ccbridge.models.contact_tags import Tag
from ccbridge.resources._checks import check_bool, check_id, check_int_range, check_text
from ccbridge.resources._generated import AsyncContactTagsOperations, ContactTagsOperations

NAME_MAX = 255
MAX_PAGE = 500


def _parse_tag(data: Any) -> Tag:
    return Tag.parse(data, source="GET /contact_tags")


def _name(name: str) -> str:
    return check_text("name", name, NAME_MAX, min_length=1)


def _create_body(name: str, tag_source: str | None) -> dict[str, Any]:
    body = {"name": _name(name)}
    if tag_source is not None:
        body["tag_source"] = check_text("tag_source", tag_source, 255, min_length=1)
    return body


def _flag(include_count: bool | None) -> bool | None:
    return check_bool("include_count", include_count) if include_count is not None else None


def _limit(limit: int | None) -> int | None:
    return check_int_range("limit", limit, 1, MAX_PAGE) if limit is not None else None


class ContactTags(ContactTagsOperations):
    """Sync operations on contact tags."""

    def iter(
        self, *, include_count: bool | None = None, limit: int | None = None
    ) -> Paginator[Tag]:
        """Every tag; ``include_count=True`` adds each tag's ``contacts_count``."""
        return self._client._paginate_operation(
            "getTags",
            items_key="tags",
            query={"include_count": _flag(include_count), "limit": _limit(limit)},
            parse_item=_parse_tag,
        )

    def get(self, tag_id: str, *, include_count: bool | None = None) -> Tag:
        data = self.get_tag(check_id("tag_id", tag_id), include_count=_flag(include_count))
        return Tag.parse(data, source="GET /contact_tags/{tag_id}")

    def create(self, name: str, *, tag_source: str | None = None) -> Tag:
        """Create a tag; ``ConflictError`` if the name is taken."""
        return Tag.parse(
            self.post_tag(body=_create_body(name, tag_source)), source="POST /contact_tags"
        )

    def rename(self, tag_id: str, name: str) -> Tag:
        """Give the tag a new (unique) name."""
        data = self.put_tag(check_id("tag_id", tag_id), body={"name": _name(name)})
        return Tag.parse(data, source="PUT /contact_tags/{tag_id}")

    def delete(self, tag_id: str) -> Activity:
        """Start deleting the tag (and un-tagging its contacts); returns the activity."""
        data = self.delete_tag(check_id("tag_id", tag_id))
        return Activity.parse(data, source="DELETE /contact_tags/{tag_id}")


class AsyncContactTags(AsyncContactTagsOperations):
    """Async operations on contact tags (the twins of ``ContactTags``)."""

    def iter(
        self, *, include_count: bool | None = None, limit: int | None = None
    ) -> AsyncPaginator[Tag]:
        """Every tag, page after page."""
        return self._client._paginate_operation(
            "getTags",
            items_key="tags",
            query={"include_count": _flag(include_count), "limit": _limit(limit)},
            parse_item=_parse_tag,
        )

    async def get(self, tag_id: str, *, include_count: bool | None = None) -> Tag:
        data = await self.get_tag(check_id("tag_id", tag_id), include_count=_flag(include_count))
        return Tag.parse(data, source="GET /contact_tags/{tag_id}")

    async def create(self, name: str, *, tag_source: str | None = None) -> Tag:
        """Create a tag; ``ConflictError`` if the name is taken."""
        return Tag.parse(
            await self.post_tag(body=_create_body(name, tag_source)), source="POST /contact_tags"
        )

    async def rename(self, tag_id: str, name: str) -> Tag:
        """Give the tag a new (unique) name."""
        data = await self.put_tag(check_id("tag_id", tag_id), body={"name": _name(name)})
        return Tag.parse(data, source="PUT /contact_tags/{tag_id}")

    async def delete(self, tag_id: str) -> Activity:
        """Start deleting the tag; returns the activity."""
        data = await self.delete_tag(check_id("tag_id", tag_id))
        return Activity.parse(data, source="DELETE /contact_tags/{tag_id}")
